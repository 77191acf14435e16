//! What the context layer ([`crate::context`]) derives from a dataset and keeps with it: the
//! task lifecycles and each unique event's flags, the tasks, the names and commands as read.
//! Data only: how they are made is the context layer's.

use std::sync::Arc;

use super::{Dataset, NONE};
use crate::timeline::Flag;

/// A unique event's name and command as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Display {
    /// The most common spelling of the name among the occurrences (ties: the first seen).
    pub name: Arc<str>,
    /// Other spellings of the name that normalisation merged into this unique event.
    pub name_variants: u32,
    /// The command line (executable and arguments) of the first occurrence, as read.
    pub command: Arc<str>,
}

/// One task: the unique events that name it, on every host.
#[derive(Debug, Clone)]
pub struct Task {
    /// The normalised name (the profile's name field): what groups the events.
    pub key: Arc<str>,
    /// The most common spelling among the task's occurrences.
    pub name: Arc<str>,
    /// Other spellings merged into this task.
    pub variants: u32,
    /// Its unique events, in dataset order.
    pub uniques: Vec<u32>,
    /// Distinct hosts it was seen on, sorted.
    pub hosts: Vec<String>,
    /// Occurrences over all its events.
    pub count: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// Lifecycle flags of any of its events, sorted.
    pub flags: Vec<Flag>,
    /// Distinct event ids of its events, ascending.
    pub event_ids: Vec<u32>,
    /// When it spread: each host and the first time it had any of the task's events or
    /// definitions, earliest first.
    pub spread: Vec<(String, i64)>,
}

/// Every task of a dataset.
#[derive(Debug, Default)]
pub struct Tasks {
    pub tasks: Vec<Task>,
    /// Per unique event: its task, or [`NONE`] when it names none.
    of_unique: Vec<u32>,
}

impl Tasks {
    /// The task of unique event `u`, if it names one.
    pub fn of(&self, u: usize) -> Option<usize> {
        self.of_unique
            .get(u)
            .filter(|&&t| t != NONE)
            .map(|&t| t as usize)
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tasks and, per unique event, the index of its task ([`NONE`]: none).
    pub fn new(tasks: Vec<Task>, of_unique: Vec<u32>) -> Tasks {
        Tasks { tasks, of_unique }
    }
}

/// One task on one host.
#[derive(Debug, Clone)]
pub struct TaskLife {
    /// Host name, lower-case.
    pub host: String,
    /// The task's path as first seen.
    pub task: String,
    /// Occurrences (indices into [`Dataset::occurrences`]) in time order.
    pub occurrences: Vec<u32>,
}

/// Every task lifecycle of a dataset, and the flags of each unique event.
#[derive(Debug, Default)]
pub struct Lifecycles {
    pub tasks: Vec<TaskLife>,
    /// Per occurrence: its lifecycle in `tasks`, or `NONE`.
    of_occurrence: Vec<u32>,
    /// Per unique event (dataset order): its flags, sorted.
    pub flags: Vec<Vec<Flag>>,
}

impl Lifecycles {
    /// The lifecycles, each occurrence's lifecycle ([`NONE`]: none), each unique event's flags.
    pub fn new(tasks: Vec<TaskLife>, of_occurrence: Vec<u32>, flags: Vec<Vec<Flag>>) -> Lifecycles {
        Lifecycles {
            tasks,
            of_occurrence,
            flags,
        }
    }

    /// The lifecycles unique event `u` takes part in (at most `max`, in the order its
    /// occurrences were read).
    pub fn of_unique(&self, ds: &Dataset, u: usize, max: usize) -> Vec<&TaskLife> {
        let mut seen: Vec<u32> = Vec::new();
        for &o in &ds.uniques[u].occurrences {
            match self.of_occurrence.get(o as usize) {
                Some(&l) if l != NONE && !seen.contains(&l) => {
                    seen.push(l);
                    if seen.len() == max {
                        break;
                    }
                }
                _ => {}
            }
        }
        seen.iter().map(|&l| &self.tasks[l as usize]).collect()
    }
}

/// What could be seen of tasks on a host, in words: the verdict of its coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// Registrations (Security 4698-4702) and runs (TaskScheduler/Operational) are logged.
    Everything,
    /// Registrations are logged (4698), runs are not (TaskScheduler/Operational absent).
    Registrations,
    /// TaskScheduler/Operational is logged; Security task auditing is off or not read.
    Operational,
    /// No task is logged; the definitions on disk were read.
    DefinitionsOnly,
    /// No task is logged and no definition was read; process creations could show
    /// `schtasks.exe`.
    ProcessCreationsOnly,
    /// No evidence about tasks at all.
    Nothing,
}

impl Visibility {
    /// Every verdict, best coverage first.
    pub const ALL: [Visibility; 6] = [
        Visibility::Everything,
        Visibility::Registrations,
        Visibility::Operational,
        Visibility::DefinitionsOnly,
        Visibility::ProcessCreationsOnly,
        Visibility::Nothing,
    ];

    /// A short name (filters, the summary line).
    pub fn key(self) -> &'static str {
        match self {
            Visibility::Everything => "logged",
            Visibility::Registrations => "registrations-only",
            Visibility::Operational => "operational-only",
            Visibility::DefinitionsOnly => "definitions-only",
            Visibility::ProcessCreationsOnly => "process-creations-only",
            Visibility::Nothing => "nothing",
        }
    }

    /// What could and could not be seen, for an analyst.
    pub fn text(self) -> &'static str {
        match self {
            Visibility::Everything => {
                "task registrations (Security 4698-4702) and runs (TaskScheduler/Operational) are logged"
            }
            Visibility::Registrations => {
                "task registrations are logged (Security 4698-4702); runs are not (TaskScheduler/Operational absent or disabled)"
            }
            Visibility::Operational => {
                "TaskScheduler/Operational is logged; Security task auditing is off (no 4698-4702): a task written to the registry alone leaves no record"
            }
            Visibility::DefinitionsOnly => {
                "task registrations are not logged on this host: only its definitions can be hunted"
            }
            Visibility::ProcessCreationsOnly => {
                "task registrations are not logged and no definitions were collected: only process creations of schtasks.exe can show tasks"
            }
            Visibility::Nothing => {
                "no evidence about tasks at all: no task is logged and no definition was collected"
            }
        }
    }
}

/// One host: what evidence about tasks the inputs hold for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCoverage {
    /// The host's name, lower-case, as the dataset keeps it.
    pub host: String,
    /// Other names the same evidence gives it (a renamed machine, an endpoint collected
    /// under two names).
    pub aliases: Vec<String>,
    /// Task definitions read (files, `.job`, collector rows).
    pub definitions: u64,
    /// Its records, by what they could say about tasks (logs read, and summaries' accounts).
    pub evidence: crate::ingest::evidence::Evidence,
    /// Inputs that were summaries describing it.
    pub summaries: usize,
    pub seen: Visibility,
}

impl HostCoverage {
    /// What could and could not be seen on the host, in words: its verdict, and what its
    /// SOFTWARE hive says of the TaskScheduler/Operational channel where one was read.
    pub fn verdict(&self) -> String {
        let e = &self.evidence;
        let mut verdict = self.seen.text().to_string();
        match e.operational_enabled {
            Some(false) => verdict.push_str(
                "; its SOFTWARE hive says TaskScheduler/Operational is disabled: no run is logged",
            ),
            Some(true) if e.operational == 0 => verdict.push_str(
                "; its SOFTWARE hive says TaskScheduler/Operational is enabled, yet no record of it was read: collect that log",
            ),
            _ => {}
        }
        verdict
    }
}

/// A servicing batch: one of Windows' own accounts changing several tasks on one host at
/// once (a cumulative update re-registering its tasks), found by
/// [`crate::context::batches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Its host, an index into [`Dataset::hosts`].
    pub host: u32,
    /// The account that made the changes (normalised).
    pub account: Arc<str>,
    /// Distinct tasks it changed.
    pub tasks: u32,
    /// From its first change to its last, microseconds.
    pub span: i64,
}

/// Per unique event, how much of it came in servicing batches: the weight its rare values
/// keep (an occurrence in a batch of `n` tasks weighs `1/n`, any other 1, averaged over its
/// occurrences) and the largest batch it came in; and for the events a batched definition
/// lends its fields to (a run of a task the batch re-registered), the weight of those lent
/// fields. Rows in no batch are not kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batches {
    /// Sorted by unique event.
    rows: Vec<(u32, f32, Batch)>,
    /// Sorted by unique event: the weight of the fields a batched definition lent.
    lent: Vec<(u32, f32)>,
}

impl Batches {
    /// From per-row entries in any order (the first entry of a row counts).
    pub fn new(mut rows: Vec<(u32, f32, Batch)>, mut lent: Vec<(u32, f32)>) -> Batches {
        rows.sort_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        lent.sort_by_key(|r| r.0);
        lent.dedup_by_key(|r| r.0);
        Batches { rows, lent }
    }

    /// The weight of the fields unique event `u`'s task definition lent it, where that
    /// definition came in a servicing batch: 1 otherwise.
    pub fn lent_weight(&self, u: usize) -> f32 {
        let Ok(u) = u32::try_from(u) else { return 1.0 };
        self.lent
            .binary_search_by_key(&u, |r| r.0)
            .map_or(1.0, |i| self.lent[i].1)
    }

    fn find(&self, u: usize) -> Option<&(u32, f32, Batch)> {
        let u = u32::try_from(u).ok()?;
        self.rows
            .binary_search_by_key(&u, |r| r.0)
            .ok()
            .map(|i| &self.rows[i])
    }

    /// The weight unique event `u`'s rare values keep: 1 outside any batch.
    pub fn weight(&self, u: usize) -> f32 {
        self.find(u).map_or(1.0, |r| r.1)
    }

    /// The largest servicing batch unique event `u` came in.
    pub fn of(&self, u: usize) -> Option<&Batch> {
        self.find(u).map(|r| &r.2)
    }

    /// Unique events that came in a batch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
