//! What a task lifecycle is made of, whoever builds it: the flags an analyst reads off a
//! lifecycle, the steps of its timeline (what each event did), the XML diff of an update,
//! how long runs are folded for the drill-down, and what a lifecycle reads off one record.
//! The lifecycles themselves are built from a dataset by [`crate::context::lifecycle`]; a
//! summary carries them already built ([`crate::ingest::summary`]).

use std::sync::Arc;

use similar::{ChangeTag, TextDiff};

use crate::event::{CH_SECURITY, CH_TASKSCHEDULER, RawEvent};
use crate::profile::task_xml;

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
    /// A definition on disk that differs from the last registration the host's logs
    /// recorded for the task (or whose task the logs last saw deleted): changed outside the
    /// Task Scheduler's logging, or while it was off.
    ChangedUnlogged,
    /// A definition written while the host's Security log recorded task registrations
    /// (4698), with no registration of its task logged: made around the Task Scheduler
    /// (the registry, a copied file).
    Unlogged,
    /// A run that launched a program none of the task's known definitions on the host runs
    /// (pointed elsewhere and back, unlogged).
    RanOtherAction,
    /// A task whose TaskCache `Tree` key has no `SD` value: hidden from `schtasks /query`
    /// and the Task Scheduler's UI, still running (Tarrask).
    Hidden,
    /// A task whose `Tree` key's `Index` is 0: hidden the same way.
    IndexZero,
    /// A task the registry's TaskCache holds with no file in the same collection's Tasks
    /// folder (GhostTask: made by writing the registry alone).
    RegistryOnly,
    /// A file of the Tasks folder the TaskCache does not register (it does not run; copied
    /// in, or left behind).
    FileOnly,
    /// A task file whose SHA-256 differs from the `Hash` the TaskCache keeps of it: the file
    /// was changed after registration (or the registry's copy was).
    XmlChanged,
    /// The registry's `Actions` differ from the task file's: what runs is the registry's.
    ActionsDiffer,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 14] = [
        Flag::ForeignHost,
        Flag::NeverRan,
        Flag::RanOnce,
        Flag::ShortLived,
        Flag::TemporaryModification,
        Flag::ChangedUnlogged,
        Flag::Unlogged,
        Flag::RanOtherAction,
        Flag::Hidden,
        Flag::IndexZero,
        Flag::RegistryOnly,
        Flag::FileOnly,
        Flag::XmlChanged,
        Flag::ActionsDiffer,
    ];

    /// The flag's name in outputs, filters and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Flag::ForeignHost => "foreign-host",
            Flag::NeverRan => "never-ran",
            Flag::RanOnce => "ran-once",
            Flag::ShortLived => "short-lived",
            Flag::TemporaryModification => "temporary-modification",
            Flag::ChangedUnlogged => "changed-unlogged",
            Flag::Unlogged => "unlogged",
            Flag::RanOtherAction => "ran-other-action",
            Flag::Hidden => "hidden",
            Flag::IndexZero => "index-zero",
            Flag::RegistryOnly => "registry-only",
            Flag::FileOnly => "file-only",
            Flag::XmlChanged => "xml-changed",
            Flag::ActionsDiffer => "actions-differ",
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
            Flag::ChangedUnlogged => "chg-unlog",
            Flag::Unlogged => "unlogged",
            Flag::RanOtherAction => "other-run",
            Flag::Hidden => "no-sd",
            Flag::IndexZero => "index-0",
            Flag::RegistryOnly => "reg-only",
            Flag::FileOnly => "file-only",
            Flag::XmlChanged => "xml-chg",
            Flag::ActionsDiffer => "act-diff",
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

/// A lifecycle as a summary brings it (and as the drill-down shows one): host, task, and its
/// steps, folded ([`fold`]).
pub type Life = (String, String, Vec<Step>);

/// What a task lifecycle reads off a record besides its time, host and event: interned, since
/// a task's runs repeat the same few values ([`crate::timeline::step_facts`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct StepFacts {
    /// The task's name as read (`TaskName`).
    pub task: Arc<str>,
    /// What the timeline shows beside the step: the command launched, a result code or a user.
    pub detail: Arc<str>,
    /// The task XML a Security event carries (`TaskContentNew`, `TaskContent`).
    pub definition: Option<Arc<str>>,
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

/// Lifecycles shown (and carried in a summary) per unique event.
pub const MAX_LIVES: usize = 3;

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
pub fn whole_definition(def: &str) -> Vec<DiffLine> {
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

/// What a task's definition lends the events of its lifecycle that carry none (106, 140,
/// 141, 129, 200, 201, ...): context field, and the profile field it is read from on the
/// definition (Security 4698 / 4702 with its TaskContent).
pub const ENRICHED: &[(&str, &str)] = &[
    ("task_command", "command"),
    ("task_arguments", "arguments"),
    ("task_principal", "principal"),
    ("task_run_level", "run_level"),
    ("task_hidden", "hidden"),
    ("task_triggers", "triggers"),
    ("task_author", "author"),
    ("task_lolbin", "lolbin"),
    ("task_dir_class", "dir_class"),
    ("task_cmd_flags", "cmd_flags"),
];

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
