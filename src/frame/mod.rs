//! Unique events: occurrences that share every feature collapse into one row with its count,
//! hosts, first and last seen and source files. Exposed as a polars [`DataFrame`] for export.
//!
//! Memory grows with unique events, not with records: each file is reduced while it is read,
//! on its reading thread, into a [`Part`] (its unique events, and per record a 32-byte
//! [`Occurrence`]: time, record id, host, source, lifecycle step); parts are folded into the
//! [`Dataset`] in file order by a [`Builder`] as soon as they are done. Raw data is kept only
//! for the first occurrence of each unique event ([`Dataset::first_raw`]) and, interned, for
//! what lifecycles read ([`StepFacts`]: a task's name as read, its definition, its runs'
//! commands and results).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::*;
use rustc_hash::FxHashMap;

use crate::event::{RawEvent, rfc3339};
use crate::ingest::Sink;
use crate::profile::Profile;
use crate::timeline::{Flag, Life, StepFacts};

mod builder;
mod derived;
mod part;
pub use builder::{Builder, Merged, Options, SameHost};
pub use derived::{
    Batch, Batches, Display, HostCoverage, Lifecycles, Task, TaskLife, Tasks, Visibility,
};
pub use part::{Claimed, Part};

/// No index (no lifecycle step, say).
pub const NONE: u32 = u32::MAX;
const NO_TIME: i64 = i64::MIN;
const NO_RECORD: u64 = u64::MAX;

/// One distinct feature tuple and where it was seen.
#[derive(Debug, Clone)]
pub struct UniqueEvent {
    /// Canonical channel name when the profile knows it, else the raw one.
    pub channel: String,
    pub event_id: u32,
    /// One value per profile field.
    pub values: Vec<Arc<str>>,
    /// Indices into [`Dataset::occurrences`], in reading order.
    pub occurrences: Vec<u32>,
    /// Distinct host names (lower-case), sorted.
    pub hosts: Vec<String>,
    /// Occurrences per host, in the order of `hosts`.
    pub host_counts: Vec<u64>,
    /// Occurrences whose record names no host.
    pub unnamed: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// Distinct source files, sorted.
    pub sources: Vec<Arc<str>>,
    /// Occurrences (duplicates removed). Equal to `occurrences.len()` for events read from
    /// logs; events merged from summaries ([`crate::summary`]) carry counts, not occurrences.
    count: u64,
}

impl UniqueEvent {
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Which list the row belongs to: a logged event, or a definition found on a host.
    pub fn kind(&self) -> RowKind {
        if self.channel == crate::event::CH_TASK_DEFINITION {
            RowKind::Definition
        } else {
            RowKind::Event
        }
    }
}

/// The two lists of unique rows: what the logs recorded, and the task definitions found on
/// the hosts. One model scores both (a definition reads like a 4698's); each list is ranked
/// on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    Event,
    Definition,
}

/// Every kept occurrence, in pages of [`Occurrences::PAGE`]: growing never copies what is
/// there (a `Vec` doubling holds its old and its new buffer at once), and memory follows
/// the records read.
#[derive(Debug, Default, Clone)]
pub struct Occurrences {
    pages: Vec<Vec<Occurrence>>,
    len: usize,
}

impl Occurrences {
    /// Occurrences per page (2 MiB).
    pub const PAGE: usize = 1 << 16;

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, o: Occurrence) {
        match self.pages.last_mut() {
            Some(p) if p.len() < Self::PAGE => p.push(o),
            _ => {
                let mut p = Vec::with_capacity(Self::PAGE);
                p.push(o);
                self.pages.push(p);
            }
        }
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Occurrence> + '_ {
        self.pages.iter().flatten()
    }

    /// Point every occurrence at its unique event's new index.
    fn renumber(&mut self, new_of: impl Fn(u32) -> u32) {
        for o in self.pages.iter_mut().flatten() {
            o.unique = new_of(o.unique);
        }
    }
}

impl std::ops::Index<usize> for Occurrences {
    type Output = Occurrence;

    fn index(&self, i: usize) -> &Occurrence {
        &self.pages[i / Self::PAGE][i % Self::PAGE]
    }
}

impl<'a> IntoIterator for &'a Occurrences {
    type Item = &'a Occurrence;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Occurrence>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.pages.iter().flatten()
    }
}

/// Record keys already kept ([`record_key`]) and their first occurrence, in shards: each
/// shard grows on its own, so that growing never holds a whole old table beside its new one
/// (one table would hold its old buffer beside its new one).
#[derive(Debug)]
struct Seen {
    shards: Vec<FxHashMap<u64, u32>>,
}

impl Seen {
    const SHARDS: usize = 64;

    fn new() -> Seen {
        Seen {
            shards: (0..Self::SHARDS).map(|_| FxHashMap::default()).collect(),
        }
    }

    fn shard(key: u64) -> usize {
        // The key is a SipHash: its top bits are as good as any.
        (key >> 58) as usize % Self::SHARDS
    }

    fn get(&self, key: u64) -> Option<u32> {
        self.shards[Self::shard(key)].get(&key).copied()
    }

    fn insert_first(&mut self, key: u64, o: u32) {
        self.shards[Self::shard(key)].entry(key).or_insert(o);
    }
}

/// One kept record, reduced to what later steps read (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    time: i64,
    record_id: u64,
    /// Its unique event.
    pub unique: u32,
    /// Its host, an index into [`Dataset::hosts`].
    pub host: u32,
    /// The file it was read from, an index into [`Dataset::sources`].
    pub source: u32,
    /// What its lifecycle reads off it, an index into [`Dataset::steps`], or [`NONE`].
    pub step: u32,
}

impl Occurrence {
    /// Microseconds since the Unix epoch, UTC.
    pub fn time(&self) -> Option<i64> {
        (self.time != NO_TIME).then_some(self.time)
    }

    pub fn record_id(&self) -> Option<u64> {
        (self.record_id != NO_RECORD).then_some(self.record_id)
    }
}

/// The profile's view of everything read.
#[derive(Debug, Default)]
pub struct Dataset {
    pub profile: &'static str,
    /// The profile's fields, then (after [`crate::context::add`]) the context fields.
    pub fields: Vec<&'static str>,
    /// How many of `fields` (and of every unique event's values) are the profile's own; the
    /// rest are context fields, derived from the whole dataset.
    pub profile_fields: usize,
    /// The fields the list shows as name, user, command and arguments ([`Profile::headline`]).
    pub headline: [&'static str; 4],
    /// Every kept occurrence (duplicates removed), in reading order.
    pub occurrences: Occurrences,
    pub uniques: Vec<UniqueEvent>,
    /// Host names (lower-case; empty for records that name none), by [`Occurrence::host`].
    pub hosts: Vec<String>,
    /// Source files (`archive.zip!member` for zip members), by [`Occurrence::source`].
    pub sources: Vec<Arc<str>>,
    /// Lifecycle facts, by [`Occurrence::step`].
    pub steps: Vec<StepFacts>,
    /// Per unique event: its earliest occurrence as read (earliest time, then host, record
    /// id and file: the same whatever the order of the inputs).
    first_raw: Vec<RawEvent>,
    /// Per unique event: lifecycle flags merged from summaries (empty when none came).
    summary_flags: Vec<Vec<Flag>>,
    /// Per unique event: lifecycles (host, task, folded steps) its summaries brought, and
    /// whether they knew of more (empty when none came).
    summary_lives: Vec<(Vec<Life>, bool)>,
    /// Per unique event: the task definitions its summaries lent it, with counts (empty
    /// when none came; [`tasks::lent_counts`]).
    summary_lent: Vec<LentCounts>,
    /// Per unique event: per host, its occurrences summaries say came in servicing batches
    /// (empty when none came).
    summary_batches: Vec<Vec<crate::ingest::summary::BatchOut>>,
    /// What each host's logs could say about tasks ([`crate::ingest::evidence`]): its logs'
    /// records, or a summary's account of them (the larger where several describe a host:
    /// the same evidence counts once).
    pub evidence: std::collections::BTreeMap<String, crate::ingest::evidence::Evidence>,
    /// Host -> the summaries that describe it.
    pub summary_inputs: std::collections::BTreeMap<String, usize>,
    /// Per host: what evidence about tasks the inputs hold ([`crate::context::coverage`]).
    pub coverage: Vec<HostCoverage>,
    /// Changes Windows' own accounts made to many tasks at once ([`crate::context::batches`]).
    pub batches: Batches,
    /// Records seen more than once (same host, channel, record id and time), dropped.
    pub duplicates_dropped: u64,
    /// Events the profile's prefilter kept but its extractor rejected.
    pub rejected: u64,
    /// Distinct hosts over all unique events.
    pub fleet: usize,
    /// Task lifecycles and each unique event's lifecycle flags.
    pub lifecycles: Lifecycles,
    /// Unique events left out of training (marked benign in the triage session); empty when
    /// none is. Atomic so that the UI can change it on a shared dataset between two trainings
    /// ([`Dataset::set_excluded`]).
    excluded: Vec<AtomicBool>,
    /// Per unique event: its name and command as read ([`crate::context::add`]).
    display: Vec<Display>,
    /// The unique events grouped by task ([`crate::context::add`]).
    pub tasks: Tasks,
}

/// Definitions lent to a unique event ([`tasks::ENRICHED`] values) and how many of its
/// occurrences each.
pub type LentCounts = HashMap<Vec<Arc<str>>, u64>;

impl Dataset {
    /// Run the profile over the events, drop duplicate records, and group the rest (the
    /// events in memory as one part; [`crate::pipeline::load`] reads files into parts).
    pub fn build(profile: &dyn Profile, events: Vec<RawEvent>) -> Dataset {
        let mut part = Part::new(profile);
        for ev in events {
            part.take(ev);
        }
        let mut b = Builder::new(profile);
        b.add(part);
        b.finish()
    }

    /// The first occurrence of unique event `u`, as it was read (every data field, names
    /// unmasked, the task XML whole).
    pub fn first_raw(&self, u: usize) -> &RawEvent {
        &self.first_raw[u]
    }

    /// The name of unique event `u` as read and how many other spellings it merged (the
    /// normalised value when [`crate::context::add`] has not run or the record holds none).
    pub fn name_as_read(&self, u: usize) -> (&str, u32) {
        match self.display.get(u).filter(|d| !d.name.is_empty()) {
            Some(d) => (&d.name, d.name_variants),
            None => (self.value(u, self.headline[0]), 0),
        }
    }

    /// The command line of unique event `u` as read (else the normalised command and
    /// arguments).
    pub fn command_as_read(&self, u: usize) -> std::borrow::Cow<'_, str> {
        if let Some(d) = self.display.get(u).filter(|d| !d.command.is_empty()) {
            return std::borrow::Cow::Borrowed(&d.command);
        }
        let (c, a) = (
            self.value(u, self.headline[2]),
            self.value(u, self.headline[3]),
        );
        if a.is_empty() {
            c.into()
        } else {
            format!("{c} {a}").into()
        }
    }

    /// What the lifecycle reads off an occurrence (`None` for profiles without lifecycles).
    pub fn step(&self, occ: &Occurrence) -> Option<&StepFacts> {
        self.steps.get(occ.step as usize)
    }

    /// The lower-case host name of an occurrence.
    pub fn host_of(&self, occ: &Occurrence) -> &str {
        self.hosts.get(occ.host as usize).map_or("", String::as_str)
    }

    /// The file an occurrence was read from.
    pub fn source_of(&self, occ: &Occurrence) -> &str {
        self.sources.get(occ.source as usize).map_or("", |s| &**s)
    }

    /// The lifecycles summaries brought for unique event `u`, and whether they knew of more.
    pub fn summary_lives(&self, u: usize) -> (&[Life], bool) {
        self.summary_lives
            .get(u)
            .map_or((&[][..], false), |(l, m)| (l.as_slice(), *m))
    }

    /// Per host, unique event `u`'s occurrences summaries say came in servicing batches.
    pub fn summary_batches(&self, u: usize) -> &[crate::ingest::summary::BatchOut] {
        self.summary_batches.get(u).map_or(&[], Vec::as_slice)
    }

    /// The task definitions summaries lent unique event `u`, with counts.
    pub fn summary_lent(&self, u: usize) -> Option<&LentCounts> {
        self.summary_lent.get(u)
    }

    /// What the context layer derived ([`crate::context::add`]): lifecycles and flags,
    /// names and commands as read, tasks.
    pub fn set_derived(&mut self, lifecycles: Lifecycles, display: Vec<Display>, tasks: Tasks) {
        self.lifecycles = lifecycles;
        self.display = display;
        self.tasks = tasks;
    }

    /// The lifecycle flags summaries brought for unique event `u` (their lifecycles stayed on
    /// the endpoint).
    pub fn summary_flags(&self, u: usize) -> &[Flag] {
        self.summary_flags.get(u).map_or(&[], Vec::as_slice)
    }

    /// The lifecycle flags of unique event `u` (empty before [`crate::context::add`]).
    pub fn flags(&self, u: usize) -> &[Flag] {
        self.lifecycles.flags.get(u).map_or(&[], |f| f.as_slice())
    }

    /// Whether field `i`'s empty value counts as a value: true for the context fields, where
    /// empty is the normal case (no lifecycle flag) and a value is what is rare; for the
    /// profile's fields empty means "no such thing here" and weighs nothing.
    pub fn empty_is_value(&self, i: usize) -> bool {
        i >= self.profile_fields && i < self.fields.len()
    }

    /// Leave the unique events where `exclude` is true out of the next training (the mask is
    /// sized by [`Dataset::build`]). Set it between trainings: a training reads it as it goes.
    pub fn set_excluded(&self, exclude: &[bool]) {
        for (b, &x) in self.excluded.iter().zip(exclude) {
            b.store(x, Ordering::Relaxed);
        }
    }

    /// How many unique events are left out of training.
    pub fn n_excluded(&self) -> usize {
        self.excluded
            .iter()
            .filter(|b| b.load(Ordering::Relaxed))
            .count()
    }

    /// Whether unique event `u` takes part in training.
    pub fn trains_on(&self, u: usize) -> bool {
        !self
            .excluded
            .get(u)
            .is_some_and(|b| b.load(Ordering::Relaxed))
    }

    /// The value of `field` for unique event `u` (empty when the field is unknown).
    pub fn value(&self, u: usize, field: &str) -> &str {
        self.fields
            .iter()
            .position(|f| *f == field)
            .map(|i| &*self.uniques[u].values[i])
            .unwrap_or("")
    }

    /// All distinct hosts in the dataset: the fleet that prevalence is counted against.
    pub fn fleet_size(&self) -> usize {
        self.fleet
    }

    /// The unique events as a DataFrame, one row each in dataset order: `channel`,
    /// `event_id`, `count`, `n_hosts`, `hosts` (`; `-joined), `first_seen`, `last_seen`
    /// (RFC 3339), `sources`, then one string column per profile field.
    pub fn to_dataframe(&self) -> PolarsResult<DataFrame> {
        let u = &self.uniques;
        let mut cols: Vec<Column> = vec![
            Column::new(
                "channel".into(),
                u.iter().map(|e| e.channel.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "event_id".into(),
                u.iter().map(|e| e.event_id).collect::<Vec<_>>(),
            ),
            Column::new(
                "count".into(),
                u.iter().map(|e| e.count()).collect::<Vec<_>>(),
            ),
            Column::new(
                "n_hosts".into(),
                u.iter().map(|e| e.hosts.len() as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "hosts".into(),
                u.iter().map(|e| e.hosts.join("; ")).collect::<Vec<_>>(),
            ),
            Column::new(
                "first_seen".into(),
                u.iter().map(|e| rfc3339(e.first_seen)).collect::<Vec<_>>(),
            ),
            Column::new(
                "last_seen".into(),
                u.iter().map(|e| rfc3339(e.last_seen)).collect::<Vec<_>>(),
            ),
            Column::new(
                "sources".into(),
                u.iter()
                    .map(|e| {
                        e.sources
                            .iter()
                            .map(|s| &**s)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .collect::<Vec<_>>(),
            ),
        ];
        for (i, f) in self.fields.iter().enumerate() {
            cols.push(Column::new(
                (*f).into(),
                u.iter().map(|e| &*e.values[i]).collect::<Vec<_>>(),
            ));
        }
        DataFrame::new_infer_height(cols)
    }
}

#[cfg(test)]
mod storage_tests {
    use super::*;

    fn occ(k: u32) -> Occurrence {
        Occurrence {
            time: i64::from(k),
            record_id: u64::from(k),
            unique: k,
            host: 0,
            source: 0,
            step: NONE,
        }
    }

    #[test]
    fn occurrences_page_without_losing_order() {
        let mut o = Occurrences::default();
        assert!(o.is_empty());
        let n = Occurrences::PAGE * 2 + 17;
        for k in 0..n {
            o.push(occ(k as u32));
        }
        assert_eq!(o.len(), n);
        for k in [0, 1, Occurrences::PAGE - 1, Occurrences::PAGE, n - 1] {
            assert_eq!(o[k].unique as usize, k);
        }
        assert!(o.iter().enumerate().all(|(k, x)| x.unique as usize == k));
        assert_eq!((&o).into_iter().count(), n);
        assert_eq!(o.pages.len(), 3, "full pages, then one more");
    }

    #[test]
    fn seen_keeps_the_first_occurrence_of_a_key() {
        let mut s = Seen::new();
        for k in 0..10_000u64 {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            assert_eq!(s.get(key), None);
            s.insert_first(key, k as u32);
            s.insert_first(key, u32::MAX);
            assert_eq!(s.get(key), Some(k as u32));
        }
        assert!(s.shards.iter().filter(|m| !m.is_empty()).count() > Seen::SHARDS / 2);
    }
}
