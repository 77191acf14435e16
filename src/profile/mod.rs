//! Profiles: which events a hunt looks at and which features it reads off them.
//!
//! A profile is a list of feature names and two functions: a cheap `wants` test used while
//! reading (so that a million unrelated records are dropped at once) and `extract`, which
//! turns a kept event into one value per feature. Values that differ on every occurrence
//! (times, record ids, process ids, instance GUIDs) are never features: they stay on the
//! occurrence for drill-down.

pub mod features;
pub mod processes;
pub mod scheduled_tasks;
pub mod services;
pub mod spec;
pub mod task_xml;

use crate::event::RawEvent;

pub trait Profile: Sync + Send {
    /// The name given to `--profile`.
    fn name(&self) -> &'static str;
    /// Feature names, in output order.
    fn fields(&self) -> &'static [&'static str];
    /// The (canonical channel, event ids) this profile may want, empty ids meaning every id
    /// of the channel and `*` any channel: a record outside them is counted but never rendered
    /// ([`crate::ingest::Prefilter`]). [`Profile::wants`] must refuse every record outside.
    fn sources(&self) -> &'static [(&'static str, &'static [u32])];
    /// Records of these sources [`Profile::wants`] keeps only when one of their values
    /// passes a test: read before a record is rendered, on every text of the record
    /// ([`crate::ingest::Prefilter::gate`]), so that `wants` must refuse a record none of
    /// whose values passes.
    fn gates(&self) -> &'static [Gate] {
        &[]
    }
    /// Whether ingest should keep this record (channel / event id / image tests only).
    fn wants(&self, ev: &RawEvent) -> bool;
    /// One value per field (empty where the event has none), or `None` to drop the event.
    /// It must depend only on the channel, the event id and the [`Profile::inputs`] fields:
    /// extraction is memoised on those.
    fn extract(&self, ev: &RawEvent) -> Option<Vec<String>>;
    /// The raw event fields `extract` reads.
    fn inputs(&self) -> &'static [&'static str];
    /// The fields the list shows as name, user, command and arguments.
    fn headline(&self) -> [&'static str; 4] {
        ["task_name", "user", "command", "arguments"]
    }
    /// The name and the command line as the record spells them (case, GUIDs, SIDs and
    /// digits kept), for display: the features normalise them to compare, an analyst reads
    /// and copies the original. Empty where the record has none.
    fn display(&self, ev: &RawEvent) -> [String; 2] {
        let _ = ev;
        [String::new(), String::new()]
    }
}

/// Records of a (canonical channel, event ids) a profile wants only when some value of
/// theirs passes `test` ([`Profile::gates`]).
#[derive(Debug)]
pub struct Gate {
    pub channel: &'static str,
    pub ids: &'static [u32],
    pub test: fn(&str) -> bool,
}

/// The profiles `--profile` accepts.
pub const PROFILES: &[&str] = &["scheduled-tasks", "services", "processes"];

pub fn by_name(name: &str) -> Option<Box<dyn Profile>> {
    match name {
        "scheduled-tasks" | "tasks" => Some(Box::new(scheduled_tasks::ScheduledTasks)),
        "services" => Some(Box::new(spec::SpecProfile(&services::SPEC))),
        "processes" => Some(Box::new(spec::SpecProfile(&processes::SPEC))),
        _ => None,
    }
}
