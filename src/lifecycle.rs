//! Task lifecycles: the events of one task on one host, in time order, and the flags an
//! analyst reads off them.
//!
//! - `short-lived`: registered (4698 / 106) and deleted (4699 / 141) within ten minutes, the
//!   ATexec / SMBexec pattern;
//! - `temporary-modification`: updated (4702) to a new definition and, within a day, updated
//!   back to the definition it had before (the SolarWinds / Sunburst technique), found by
//!   comparing the task XML of consecutive updates; when the logs hold no earlier definition,
//!   the command its earlier runs launched (TaskScheduler 129 / 200) stands for it;
//! - `never-ran`: registered in the logs and never run afterwards, although the host logged
//!   runs of other tasks later (so its TaskScheduler log covers the time);
//! - `ran-once`: registered in the logs and run exactly once.
//!
//! A unique event carries the flags of the lifecycles its occurrences belong to; only events
//! that say what the task is or runs (definitions, launches with their command) take a flag,
//! not the task-name-only ones (started, triggered, finished) that every host shares. The
//! drill-down shows a lifecycle as a [`Step`] timeline with the XML diff of each update.

use std::collections::{BTreeSet, HashMap, HashSet};

use rayon::prelude::*;
use similar::{ChangeTag, TextDiff};

use std::sync::Arc;

use crate::event::{CH_SECURITY, CH_TASKSCHEDULER, RawEvent};
use crate::frame::{Dataset, NONE, Occurrence, StepFacts};
use crate::profile::features::normalize_path;
use crate::profile::task_xml;

const US_PER_MIN: i64 = 60_000_000;
/// Created and deleted within this: short-lived.
const SHORT_LIVED: i64 = 10 * US_PER_MIN;
/// Restored within this after a change: a temporary modification.
const RESTORED_WITHIN: i64 = 24 * 60 * US_PER_MIN;

/// Whether a task definition is the one a task had before an update.
type IsBefore<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// A lifecycle flag. Variants in the order of their names, so that sorted flags read the same
/// as sorted names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// A hunt client's summary described this event on a host other than the client's own: a
    /// forged or misattributed input (kept, and flagged).
    ForeignHost,
    /// Registered in the logs and never run afterwards, while the host ran other tasks later.
    NeverRan,
    /// Registered in the logs and run exactly once.
    RanOnce,
    /// Registered and deleted within ten minutes (ATexec / SMBexec).
    ShortLived,
    /// Updated and, within a day, updated back to the definition before (Sunburst).
    TemporaryModification,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 5] = [
        Flag::ForeignHost,
        Flag::NeverRan,
        Flag::RanOnce,
        Flag::ShortLived,
        Flag::TemporaryModification,
    ];

    /// The flag's name in outputs, filters and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Flag::ForeignHost => "foreign-host",
            Flag::NeverRan => "never-ran",
            Flag::RanOnce => "ran-once",
            Flag::ShortLived => "short-lived",
            Flag::TemporaryModification => "temporary-modification",
        }
    }

    /// The list's abbreviation.
    pub fn short(self) -> &'static str {
        match self {
            Flag::ForeignHost => "foreign",
            Flag::NeverRan => "never",
            Flag::RanOnce => "once",
            Flag::ShortLived => "short",
            Flag::TemporaryModification => "tmp-mod",
        }
    }

    /// The flag of that name (as a summary file spells it).
    pub fn named(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Flag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

pub const SHORT_LIVED_FLAG: Flag = Flag::ShortLived;
pub const TEMPORARY_MODIFICATION_FLAG: Flag = Flag::TemporaryModification;
pub const NEVER_RAN_FLAG: Flag = Flag::NeverRan;
pub const RAN_ONCE_FLAG: Flag = Flag::RanOnce;

/// Flags as names, comma-separated (the `flags` context field).
pub fn joined(flags: &[Flag]) -> String {
    flags.iter().map(|f| f.name()).collect::<Vec<_>>().join(",")
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

/// Flags per unique event (dataset order), sorted.
pub fn flags(ds: &Dataset) -> Vec<Vec<Flag>> {
    Lifecycles::build(ds).flags
}

/// What a step of a lifecycle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum What {
    Registered,
    Deleted,
    Enabled,
    Disabled,
    Updated,
    Started,
    FailedToStart,
    Finished,
    TriggeredOnSchedule,
    TriggeredByEvent,
    TriggeredByRegistration,
    RunOnDemand,
    Terminated,
    TriggeredAtBoot,
    TriggeredAtLogon,
    ProcessLaunched,
    ActionStarted,
    ActionCompleted,
    ActionFailed,
    AlreadyRunning,
    StoppedByUser,
    UserNotLoggedOn,
    /// An event id the timeline has no name for.
    Other,
}

impl What {
    /// Every named step.
    pub const ALL: [What; 22] = [
        What::Registered,
        What::Deleted,
        What::Enabled,
        What::Disabled,
        What::Updated,
        What::Started,
        What::FailedToStart,
        What::Finished,
        What::TriggeredOnSchedule,
        What::TriggeredByEvent,
        What::TriggeredByRegistration,
        What::RunOnDemand,
        What::Terminated,
        What::TriggeredAtBoot,
        What::TriggeredAtLogon,
        What::ProcessLaunched,
        What::ActionStarted,
        What::ActionCompleted,
        What::ActionFailed,
        What::AlreadyRunning,
        What::StoppedByUser,
        What::UserNotLoggedOn,
    ];

    /// As the timeline (and a summary) spells it; empty for [`What::Other`].
    pub fn name(self) -> &'static str {
        match self {
            What::Registered => "registered",
            What::Deleted => "deleted",
            What::Enabled => "enabled",
            What::Disabled => "disabled",
            What::Updated => "updated",
            What::Started => "started",
            What::FailedToStart => "failed to start",
            What::Finished => "finished",
            What::TriggeredOnSchedule => "triggered on schedule",
            What::TriggeredByEvent => "triggered by an event",
            What::TriggeredByRegistration => "triggered by registration",
            What::RunOnDemand => "run on demand",
            What::Terminated => "terminated",
            What::TriggeredAtBoot => "triggered at boot",
            What::TriggeredAtLogon => "triggered at logon",
            What::ProcessLaunched => "process launched",
            What::ActionStarted => "action started",
            What::ActionCompleted => "action completed",
            What::ActionFailed => "action failed",
            What::AlreadyRunning => "not started: already running",
            What::StoppedByUser => "stopped by a user",
            What::UserNotLoggedOn => "not started: user not logged on",
            What::Other => "",
        }
    }

    /// The step of that name (a summary's text); [`What::Other`] when unknown.
    pub fn named(name: &str) -> What {
        What::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .unwrap_or(What::Other)
    }

    /// Whether the step changed the task rather than ran it.
    pub fn is_change(self) -> bool {
        matches!(
            self,
            What::Registered | What::Updated | What::Deleted | What::Enabled | What::Disabled
        )
    }
}

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a step of a lifecycle did.
pub fn what(channel: &str, event_id: u32) -> What {
    match (channel, event_id) {
        (CH_SECURITY, 4698) | (CH_TASKSCHEDULER, 106) => What::Registered,
        (CH_SECURITY, 4699) | (CH_TASKSCHEDULER, 141) => What::Deleted,
        (CH_SECURITY, 4700) => What::Enabled,
        (CH_SECURITY, 4701) | (CH_TASKSCHEDULER, 142) => What::Disabled,
        (CH_SECURITY, 4702) | (CH_TASKSCHEDULER, 140) => What::Updated,
        (CH_TASKSCHEDULER, 100) => What::Started,
        (CH_TASKSCHEDULER, 101 | 103) => What::FailedToStart,
        (CH_TASKSCHEDULER, 102) => What::Finished,
        (CH_TASKSCHEDULER, 107) => What::TriggeredOnSchedule,
        (CH_TASKSCHEDULER, 108) => What::TriggeredByEvent,
        (CH_TASKSCHEDULER, 109) => What::TriggeredByRegistration,
        (CH_TASKSCHEDULER, 110) => What::RunOnDemand,
        (CH_TASKSCHEDULER, 111) => What::Terminated,
        (CH_TASKSCHEDULER, 118) => What::TriggeredAtBoot,
        (CH_TASKSCHEDULER, 119) => What::TriggeredAtLogon,
        (CH_TASKSCHEDULER, 129) => What::ProcessLaunched,
        (CH_TASKSCHEDULER, 200) => What::ActionStarted,
        (CH_TASKSCHEDULER, 201) => What::ActionCompleted,
        (CH_TASKSCHEDULER, 202 | 203) => What::ActionFailed,
        (CH_TASKSCHEDULER, 322) => What::AlreadyRunning,
        (CH_TASKSCHEDULER, 330) => What::StoppedByUser,
        (CH_TASKSCHEDULER, 332) => What::UserNotLoggedOn,
        _ => What::Other,
    }
}

/// How a line of a definition changed from the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
    /// Not a line of the definition: a word about the lines that follow.
    Note,
}

/// One line of the XML diff of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub change: Change,
    pub text: String,
}

/// One event of a lifecycle, as the drill-down shows it.
#[derive(Debug, Clone)]
pub struct Step {
    pub occurrence: u32,
    pub time: Option<i64>,
    pub event_id: u32,
    /// What it did (registered, updated, process launched, ...).
    pub what: What,
    /// The command launched, the result code or the user, when the event has one.
    pub detail: String,
    /// For a definition that differs from the one before: the changed lines with one line
    /// of context.
    pub diff: Vec<DiffLine>,
    /// One of the unique event's own occurrences (marked `>` in the drill-down); set by
    /// [`fold`].
    pub own: bool,
    /// Not an event: stands for this many run events folded away ([`fold`]).
    pub folded: usize,
    /// Of the folded run events, how many are the unique event's own.
    pub folded_own: usize,
}

impl Step {
    /// Whether the step changed the task (registered, updated, deleted, enabled, disabled)
    /// rather than ran it.
    pub fn is_change(&self) -> bool {
        self.what.is_change()
    }
}

/// Consecutive run events of a lifecycle, beyond this many, are folded.
const FOLD_OVER: usize = 6;

/// A timeline as the drill-down shows it: `own` marks the unique event's own steps; a run of
/// more than six run events keeps its first two and last two, with a marker step (`folded`,
/// and how many of those were the event's own) for those between. A busy task's lifecycle of
/// thousands of runs becomes a few dozen steps whichever event it is shown for, and folding
/// again changes nothing.
pub fn fold(steps: Vec<Step>, own: impl Fn(u32) -> bool) -> Vec<Step> {
    /// A run of run events being read: its first two, its last two, how many.
    #[derive(Default)]
    struct Run {
        head: Vec<Step>,
        tail: std::collections::VecDeque<Step>,
        n: usize,
        /// Own steps among those dropped from the tail.
        own_dropped: usize,
    }
    fn flush(run: &mut Run, out: &mut Vec<Step>) {
        let Run {
            head,
            tail,
            n,
            own_dropped,
        } = std::mem::take(run);
        out.extend(head);
        if n > FOLD_OVER {
            out.push(Step {
                occurrence: u32::MAX,
                time: None,
                event_id: 0,
                what: What::Other,
                detail: String::new(),
                diff: Vec::new(),
                own: false,
                folded: n - 4,
                folded_own: own_dropped,
            });
        }
        out.extend(tail);
    }
    let mut out = Vec::new();
    let mut run = Run::default();
    for mut s in steps {
        s.own = s.folded == 0 && own(s.occurrence);
        if s.is_change() || s.folded > 0 {
            flush(&mut run, &mut out);
            out.push(s);
            continue;
        }
        run.n += 1;
        if run.head.len() < 2 {
            run.head.push(s);
        } else {
            run.tail.push_back(s);
            // Up to FOLD_OVER the run is shown whole; past it, only its last two.
            if run.n > FOLD_OVER {
                while run.tail.len() > 2 {
                    if run.tail.pop_front().is_some_and(|d| d.own) {
                        run.own_dropped += 1;
                    }
                }
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// What a lifecycle reads off a record (interned by the caller through `intern`): the task
/// name as read, the timeline's detail (the command a run launched, a result code, or the
/// user), and the task XML of a Security event.
pub fn step_facts(ev: &RawEvent, mut intern: impl FnMut(&str) -> Arc<str>) -> StepFacts {
    let ch = ev.canonical_channel();
    let detail = match (ch, ev.event_id) {
        (CH_TASKSCHEDULER, 129 | 200) => ev.first(&["Path", "ActionName"]),
        (CH_TASKSCHEDULER, 101 | 103 | 201 | 202 | 203) => ev.first(&["ResultCode", "ErrorValue"]),
        _ => ev.first(&["SubjectUserName", "UserContext", "UserName"]),
    }
    .unwrap_or("");
    StepFacts {
        task: intern(ev.first(&["TaskName"]).unwrap_or("")),
        detail: intern(detail),
        definition: (ch == CH_SECURITY)
            .then(|| ev.first(&["TaskContentNew", "TaskContent"]))
            .flatten()
            .map(&mut intern),
    }
}

fn is_run(channel: &str, id: u32) -> bool {
    channel == CH_TASKSCHEDULER && matches!(id, 100 | 129 | 200)
}

impl Lifecycles {
    pub fn build(ds: &Dataset) -> Lifecycles {
        let n = ds.occurrences.len();
        let mut out: Vec<BTreeSet<Flag>> = vec![BTreeSet::new(); ds.uniques.len()];
        let mut of_occurrence = vec![NONE; n];
        let mut tasks: Vec<TaskLife> = Vec::new();
        // Only profiles with task names have task lifecycles.
        let Some(name_field) = ds.fields.iter().position(|f| *f == "task_name") else {
            return Lifecycles {
                tasks,
                of_occurrence,
                flags: vec![Vec::new(); ds.uniques.len()],
            };
        };
        // Task keys per unique event: its (normalised) task name, lower-cased once. The
        // events of a task's lifecycle are TaskScheduler's and Security 4698-4702; process
        // creations name a task in a command line, not as the task's own record.
        let mut task_of_name: HashMap<String, u32> = HashMap::new();
        let mut index: HashMap<(u32, u32), u32> = HashMap::new();
        let mut last_run: HashMap<u32, i64> = HashMap::new();
        // Per unique event: its task (if its events belong to a lifecycle) and whether it is
        // a run.
        let mut task_of: Vec<Option<u32>> = Vec::with_capacity(ds.uniques.len());
        let mut run_of: Vec<bool> = Vec::with_capacity(ds.uniques.len());
        for e in &ds.uniques {
            let ch = e.channel.as_str();
            let name = &*e.values[name_field];
            let in_lifecycle = !name.is_empty()
                && (ch == CH_SECURITY && (4698..=4702).contains(&e.event_id)
                    || ch == CH_TASKSCHEDULER);
            let next = task_of_name.len() as u32;
            task_of.push(
                in_lifecycle.then(|| *task_of_name.entry(name.to_lowercase()).or_insert(next)),
            );
            run_of.push(is_run(ch, e.event_id));
        }
        // Occurrences in reading order; hosts are already ids of lower-cased names.
        for (o, occ) in ds.occurrences.iter().enumerate() {
            let u = occ.unique as usize;
            let h = occ.host;
            if run_of[u]
                && let Some(t) = occ.time()
            {
                let l = last_run.entry(h).or_insert(t);
                *l = (*l).max(t);
            }
            let Some(task) = task_of[u] else { continue };
            let l = *index.entry((h, task)).or_insert_with(|| {
                let read = ds.step(occ).map_or("", |f| &*f.task);
                tasks.push(TaskLife {
                    host: ds.hosts[h as usize].clone(),
                    task: if read.is_empty() {
                        ds.uniques[u].values[name_field].to_string()
                    } else {
                        read.to_string()
                    },
                    occurrences: Vec::new(),
                });
                tasks.len() as u32 - 1
            });
            tasks[l as usize].occurrences.push(o as u32);
            of_occurrence[o] = l;
        }
        let host_of_life: Vec<u32> = {
            let mut v = vec![0u32; tasks.len()];
            for (&(h, _), &l) in &index {
                v[l as usize] = h;
            }
            v
        };
        // Lifecycles are independent: sorted and flagged in parallel.
        let flagged: Vec<Vec<(usize, Flag)>> = tasks
            .par_iter_mut()
            .enumerate()
            .map(|(l, life)| {
                let occ = &mut life.occurrences;
                occ.sort_unstable_by_key(|&o| (ds.occurrences[o as usize].time(), o));
                let last = last_run.get(&host_of_life[l]).copied();
                life_flags(ds, occ, last)
            })
            .collect();
        for (o, f) in flagged.into_iter().flatten() {
            out[ds.occurrences[o].unique as usize].insert(f);
        }
        Lifecycles {
            tasks,
            of_occurrence,
            flags: out.into_iter().map(|s| s.into_iter().collect()).collect(),
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

    /// A lifecycle as steps, with the XML diff of every definition that changed.
    pub fn timeline(ds: &Dataset, life: &TaskLife) -> Vec<Step> {
        let mut prev_def: Option<&str> = None;
        life.occurrences
            .iter()
            .map(|&o| {
                let occ = &ds.occurrences[o as usize];
                let e = &ds.uniques[occ.unique as usize];
                let facts = ds.step(occ);
                let mut diff = Vec::new();
                if e.channel == CH_SECURITY
                    && let Some(def) = facts.and_then(|f| f.definition.as_deref())
                {
                    match prev_def {
                        Some(prev) if prev.trim() != def.trim() => diff = xml_diff(prev, def),
                        // An update with nothing before it in these logs (the task was
                        // registered before they start): what it set, whole.
                        None if what(&e.channel, e.event_id) == What::Updated => {
                            diff = whole_definition(def);
                        }
                        _ => {}
                    }
                    prev_def = Some(def);
                }
                Step {
                    occurrence: o,
                    time: occ.time(),
                    event_id: e.event_id,
                    what: what(&e.channel, e.event_id),
                    detail: facts.map_or(String::new(), |f| f.detail.to_string()),
                    diff,
                    own: false,
                    folded: 0,
                    folded_own: 0,
                }
            })
            .collect()
    }
}

/// The task lifecycles of one unique event, as the drill-down shows them.
#[derive(Debug)]
pub struct LifecycleView {
    /// (host, task, steps) of up to three lifecycles, folded ([`crate::lifecycle::fold`]:
    /// the event's own steps marked, long runs folded).
    pub lives: Vec<(String, String, Vec<Step>)>,
    /// Whether the event takes part in more lifecycles than shown.
    pub more: bool,
}

/// Lifecycles shown per unique event.
pub const MAX_LIVES: usize = 3;

/// The lifecycles of unique event `u` as the drill-down shows them: those its occurrences
/// belong to, then those its summaries brought; `None` when it has none.
pub fn view(ds: &Dataset, u: usize) -> Option<LifecycleView> {
    let found = ds.lifecycles.of_unique(ds, u, MAX_LIVES + 1);
    let own: HashSet<u32> = ds.uniques[u].occurrences.iter().copied().collect();
    let mut lives: Vec<(String, String, Vec<Step>)> = found
        .iter()
        .take(MAX_LIVES)
        .map(|l| {
            let steps = fold(Lifecycles::timeline(ds, l), |o| own.contains(&o));
            (l.host.clone(), l.task.clone(), steps)
        })
        .collect();
    let mut more = found.len() > MAX_LIVES;
    let (theirs, theirs_more) = ds.summary_lives(u);
    for l in theirs {
        if lives.len() == MAX_LIVES {
            more = true;
            break;
        }
        lives.push(l.clone());
    }
    more |= theirs_more;
    (!lives.is_empty()).then_some(LifecycleView { lives, more })
}

/// Lines of a definition compared at most (a real task definition has a few dozen).
const MAX_DIFF_LINES: usize = 2_000;
/// Time a diff may take before it settles for a coarser answer.
const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);

/// The lines of two task definitions that differ, with one line of context around each
/// change (the first [`MAX_DIFF_LINES`] lines of each).
pub fn xml_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let (a, b) = (task_xml::pretty(old), task_xml::pretty(new));
    let (a, b): (Vec<&str>, Vec<&str>) = (
        a.iter().map(|s| s.trim_end()).collect(),
        b.iter().map(|s| s.trim_end()).collect(),
    );
    // Task XML comes from the logs, so from an attacker: a huge definition must not stall the
    // drill-down. Past the deadline `similar` gives a coarser (still correct) diff.
    let diff = TextDiff::configure().timeout(DIFF_TIMEOUT).diff_slices(
        &a[..a.len().min(MAX_DIFF_LINES)],
        &b[..b.len().min(MAX_DIFF_LINES)],
    );
    let mut out = Vec::new();
    for group in diff.grouped_ops(1) {
        for op in group {
            for c in diff.iter_changes(&op) {
                out.push(DiffLine {
                    change: match c.tag() {
                        ChangeTag::Equal => Change::Same,
                        ChangeTag::Delete => Change::Removed,
                        ChangeTag::Insert => Change::Added,
                    },
                    text: c.value().to_string(),
                });
            }
        }
    }
    out
}

/// Lines of an update's definition shown when nothing before it can be compared.
const MAX_WHOLE_LINES: usize = 200;

/// An update's whole definition, for when the logs hold none before it to diff against.
fn whole_definition(def: &str) -> Vec<DiffLine> {
    let lines = task_xml::pretty(def);
    let mut out = vec![DiffLine {
        change: Change::Note,
        text: "no earlier definition in these logs; the definition as updated:".into(),
    }];
    out.extend(lines.iter().take(MAX_WHOLE_LINES).map(|l| DiffLine {
        change: Change::Same,
        text: l.trim_end().to_string(),
    }));
    if lines.len() > MAX_WHOLE_LINES {
        out.push(DiffLine {
            change: Change::Note,
            text: format!("... and {} more lines", lines.len() - MAX_WHOLE_LINES),
        });
    }
    out
}

/// The flags of one lifecycle (occurrences in time order), as (occurrence, flag) pairs.
/// `last_run` is the host's latest run of any task.
fn life_flags(ds: &Dataset, occ: &[u32], last_run: Option<i64>) -> Vec<(usize, Flag)> {
    let ev = |o: u32| -> &Occurrence { &ds.occurrences[o as usize] };
    let unique = |o: u32| &ds.uniques[ev(o).unique as usize];
    let facts = |o: u32| ds.step(ev(o));
    let at = |o: u32| ev(o).time().unwrap_or(i64::MIN);
    // Whether `b` happened at most `span` after `a`; never for events without a time (an
    // export that dropped them), whatever their order.
    let within = |a: u32, b: u32, span: i64| match (ev(a).time(), ev(b).time()) {
        (Some(x), Some(y)) => y.checked_sub(x).is_some_and(|d| (0..=span).contains(&d)),
        _ => false,
    };
    let id = |o: u32| unique(o).event_id;
    let channel = |o: u32| unique(o).channel.as_str();
    // The command a run launched (129 / 200), as read.
    let launched = |o: u32| facts(o).map(|f| &*f.detail).filter(|d| !d.is_empty());
    let definition = |o: u32| facts(o).and_then(|f| f.definition.as_deref());
    let mut flagged: Vec<(usize, Flag)> = Vec::new();
    // Events that name only the task (started, triggered, finished) look the same in every
    // lifecycle of the task, on every host: flagging them would flag the task everywhere.
    let specific = |o: u32| {
        channel(o) != CH_TASKSCHEDULER || matches!(id(o), 106 | 140 | 141 | 142 | 129 | 200..=203)
    };
    // The occurrences between two times, found by binary search (the lifecycle is in time
    // order, undated ones first).
    let mut flag_span = |from: i64, to: i64, f: Flag| {
        let start = occ.partition_point(|&o| at(o) < from);
        for &o in occ[start..]
            .iter()
            .take_while(|&&o| at(o) <= to)
            .filter(|&&o| specific(o))
        {
            flagged.push((o as usize, f));
        }
    };
    // Short-lived: a creation followed by a deletion soon after.
    for (i, &c) in occ.iter().enumerate() {
        if !matches!(id(c), 4698 | 106) {
            continue;
        }
        let Some(t) = ev(c).time() else { continue };
        let limit = t.saturating_add(SHORT_LIVED);
        // The last deletion record (4699, then TaskScheduler's 141) within the window; the
        // lifecycle is in time order, so the scan stops at the window's end (a task
        // registered 100 000 times stays linear).
        let end = occ[i + 1..]
            .iter()
            .take_while(|&&d| at(d) <= limit)
            .filter(|&&d| matches!(id(d), 4699 | 141) && within(c, d, SHORT_LIVED))
            .map(|&d| at(d))
            .max();
        if let Some(end) = end {
            flag_span(at(c), end, SHORT_LIVED_FLAG);
        }
    }
    // Never ran / ran once: counted from the first registration in the logs. A run leaves a
    // 100, a 129 and a 200; the most numerous of them counts the runs.
    if let Some(reg) = occ
        .iter()
        .copied()
        .find(|&o| matches!(id(o), 4698 | 106) && ev(o).time().is_some())
    {
        let mut n = [0usize; 3];
        for &o in occ.iter().filter(|&&o| at(o) >= at(reg)) {
            if is_run(channel(o), id(o)) {
                n[match id(o) {
                    100 => 0,
                    129 => 1,
                    _ => 2,
                }] += 1;
            }
        }
        let runs = n.into_iter().max().unwrap_or(0);
        if runs == 0 && last_run.is_some_and(|t| t > at(reg)) {
            flag_span(at(reg), i64::MAX, NEVER_RAN_FLAG);
        } else if runs == 1 {
            flag_span(at(reg), i64::MAX, RAN_ONCE_FLAG);
        }
    }
    // Temporary modification: the definitions set by Security 4698 / 4702, in order; an
    // update that changes it and a later one that restores the one before.
    let defs: Vec<(u32, &str)> = occ
        .iter()
        .filter(|&&o| channel(o) == CH_SECURITY && matches!(id(o), 4698 | 4702))
        .filter_map(|&o| definition(o).map(|x| (o, x.trim())))
        .collect();
    // The command a definition runs, normalised as the runs' events are (`%windir%`
    // expanded), so that the two compare.
    let command_of = |xml: &str| -> Option<String> {
        let t = task_xml::parse(xml)?;
        Some(normalize_path(&t.exec.first()?.command))
    };
    for w in 0..defs.len() {
        let (o_changed, changed) = defs[w];
        // What the task was before this update: the previous definition in the logs, or,
        // when the logs start later, the command its earlier runs launched (129 / 200).
        let before: Option<IsBefore> = if w > 0 {
            let prev = defs[w - 1].1;
            (prev != changed).then(|| Box::new(move |x: &str| x == prev) as IsBefore)
        } else {
            let ran: BTreeSet<String> = occ
                .iter()
                .filter(|&&o| at(o) < at(o_changed) && matches!(id(o), 129 | 200))
                .filter_map(|&o| launched(o))
                .map(normalize_path)
                .collect();
            let now = command_of(changed);
            (!ran.is_empty() && now.as_ref().is_some_and(|c| !ran.contains(c))).then(|| {
                Box::new(move |x: &str| command_of(x).is_some_and(|c| ran.contains(&c))) as IsBefore
            })
        };
        let Some(before) = before else { continue };
        let limit = at(o_changed).saturating_add(RESTORED_WITHIN);
        if let Some(&(r, _)) = defs[w + 1..]
            .iter()
            .take_while(|(r, _)| at(*r) <= limit)
            .find(|(r, x)| before(x) && within(o_changed, *r, RESTORED_WITHIN))
        {
            flag_span(at(o_changed), at(r), TEMPORARY_MODIFICATION_FLAG);
        }
    }
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_keeps_only_changed_lines_and_context() {
        let old = "<Task><Actions><Exec><Command>a.exe</Command></Exec></Actions><Settings><Hidden>false</Hidden></Settings></Task>";
        let new = "<Task><Actions><Exec><Command>b.exe</Command></Exec></Actions><Settings><Hidden>false</Hidden></Settings></Task>";
        let d = xml_diff(old, new);
        let changed: Vec<(Change, &str)> = d
            .iter()
            .filter(|l| l.change != Change::Same)
            .map(|l| (l.change, l.text.trim()))
            .collect();
        assert_eq!(
            changed,
            [
                (Change::Removed, "<Command>a.exe</Command>"),
                (Change::Added, "<Command>b.exe</Command>")
            ]
        );
        // One line of context each side, not the whole definition.
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(xml_diff(old, old).is_empty());
    }

    fn run(o: u32) -> Step {
        Step {
            occurrence: o,
            time: Some(i64::from(o)),
            event_id: 100,
            what: What::Started,
            detail: String::new(),
            diff: Vec::new(),
            own: false,
            folded: 0,
            folded_own: 0,
        }
    }

    #[test]
    fn long_runs_fold_to_their_ends_and_folding_again_changes_nothing() {
        let mut steps: Vec<Step> = (0..20).map(run).collect();
        steps[10].what = What::Updated; // a change splits the runs: 10 and 9
        steps.push(run(20));
        let own = |o: u32| o == 20;
        let once = fold(steps, own);
        let shown = |v: &[Step]| -> Vec<(u32, usize, usize, bool)> {
            v.iter()
                .map(|s| (s.occurrence, s.folded, s.folded_own, s.own))
                .collect()
        };
        // Own steps fold like the others (a marker counts them): run 11..=20 is ten runs,
        // the last one the event's own.
        assert_eq!(
            shown(&once),
            [
                (0, 0, 0, false),
                (1, 0, 0, false),
                (u32::MAX, 6, 0, false),
                (8, 0, 0, false),
                (9, 0, 0, false),
                (10, 0, 0, false),
                (11, 0, 0, false),
                (12, 0, 0, false),
                (u32::MAX, 6, 0, false),
                (19, 0, 0, false),
                (20, 0, 0, true),
            ]
        );
        let own_middle = fold((0..10).map(run).collect(), |o| o == 5);
        assert_eq!(own_middle[2].folded, 6);
        assert_eq!(own_middle[2].folded_own, 1);
        let total: usize = once.iter().map(|s| s.folded.max(1)).sum();
        assert_eq!(total, 21);
        let twice = fold(once.clone(), own);
        assert_eq!(shown(&twice), shown(&once));
        // Six runs in a row are shown whole.
        assert_eq!(fold((0..6).map(run).collect(), |_| false).len(), 6);
    }

    #[test]
    fn a_hostile_definition_is_capped() {
        // Two 100 000-element definitions that differ everywhere: only the first lines of each
        // are compared.
        let a: String = (0..100_000).map(|i| format!("<A>{i}</A>")).collect();
        let b: String = (0..100_000).map(|i| format!("<B>{}</B>", i * 7)).collect();
        let d = xml_diff(&format!("<Task>{a}</Task>"), &format!("<Task>{b}</Task>"));
        assert!(d.iter().any(|l| l.change == Change::Removed));
        assert!(d.iter().any(|l| l.change == Change::Added));
        assert!(d.len() <= 2 * MAX_DIFF_LINES, "{}", d.len());
    }
}
