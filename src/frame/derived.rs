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
