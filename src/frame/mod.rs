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

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::event::{RawEvent, rfc3339};
use crate::ingest::Sink;
use crate::lifecycle::Lifecycles;
use crate::profile::Profile;

pub mod tasks;
pub use tasks::{Display, Task, Tasks};

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
}

/// Every kept occurrence, in pages of [`Occurrences::PAGE`]: growing never copies what is
/// there (a `Vec` of 10 M occurrences doubling would hold its old 320 MB and its new 640 MB
/// at once), and memory follows the records read.
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
/// (10 M keys: 140 MB old beside 280 MB new in one table).
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

/// What a task lifecycle reads off a record besides its time, host and event: interned, since
/// a task's runs repeat the same few values ([`crate::lifecycle::step_facts`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct StepFacts {
    /// The task's name as read (`TaskName`).
    pub task: Arc<str>,
    /// What the timeline shows beside the step: the command launched, a result code or a user.
    pub detail: Arc<str>,
    /// The task XML a Security event carries (`TaskContentNew`, `TaskContent`).
    pub definition: Option<Arc<str>>,
}

/// The profile's view of everything read.
#[derive(Debug, Default)]
pub struct Dataset {
    pub profile: &'static str,
    /// The profile's fields, then (after [`Dataset::add_context`]) the context fields.
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
    /// Per unique event: its first occurrence as read.
    first_raw: Vec<RawEvent>,
    /// Per unique event: lifecycle flags merged from summaries (empty when none came).
    summary_flags: Vec<Vec<crate::lifecycle::Flag>>,
    /// Per unique event: lifecycles (host, task, folded steps) its summaries brought, and
    /// whether they knew of more (empty when none came).
    summary_lives: Vec<(Vec<Life>, bool)>,
    /// Per unique event: the task definitions its summaries lent it, with counts (empty
    /// when none came; [`tasks::lent_counts`]).
    summary_lent: Vec<LentCounts>,
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
    /// Per unique event: its name and command as read ([`Dataset::add_context`]).
    display: Vec<Display>,
    /// The unique events grouped by task ([`Dataset::add_context`]).
    pub tasks: Tasks,
}

/// A lifecycle as a summary brings it: host, task, and its steps as the drill-down shows
/// them ([`crate::lifecycle::fold`]).
pub type Life = (String, String, Vec<crate::lifecycle::Step>);

/// Definitions lent to a unique event ([`tasks::ENRICHED`] values) and how many of its
/// occurrences each.
pub type LentCounts = HashMap<Vec<Arc<str>>, u64>;

/// The context fields [`Dataset::add_context`] appends: facts about a unique event that no
/// single record holds.
pub const CONTEXT_FIELDS: &[&str] = &["prevalence", "flags"];

/// How much of the fleet a unique event was seen on, in words a model can count: `1 host`,
/// `few hosts` (at most a tenth of the fleet, or two), `some hosts` (under half), `most hosts`,
/// `every host`; empty for a single-host dataset, where prevalence says nothing.
pub fn prevalence_bucket(hosts: usize, fleet: usize) -> &'static str {
    if fleet <= 1 {
        ""
    } else if hosts <= 1 {
        "1 host"
    } else if hosts >= fleet {
        "every host"
    } else if hosts <= (fleet / 10).max(2) {
        "few hosts"
    } else if hosts * 2 < fleet {
        "some hosts"
    } else {
        "most hosts"
    }
}

/// The identity of a record: the same record read from a zip and from its extracted copy,
/// or from overlapping collections, has the same key. A key match is confirmed on the
/// occurrences' host, time, record id and event before a record is dropped.
fn record_key(ev: &RawEvent) -> u64 {
    let mut h = DefaultHasher::new();
    // Lower-cased as hashed: no allocation per record.
    let lower = |s: &str, h: &mut DefaultHasher| {
        for b in s.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_u8(0xff);
    };
    lower(&ev.computer, &mut h);
    let ch = ev.canonical_channel();
    if ch.is_empty() {
        lower(&ev.channel, &mut h);
    } else {
        ch.hash(&mut h);
    }
    ev.time.hash(&mut h);
    ev.event_id.hash(&mut h);
    match ev.record_id {
        Some(id) => id.hash(&mut h),
        // No record id (some exports drop it): the content decides.
        None => {
            let mut data: Vec<&(String, String)> = ev.data.iter().collect();
            data.sort();
            data.hash(&mut h);
        }
    }
    h.finish()
}

/// A unique event's identity: channel (canonical when known), event id, feature values.
type UniqueKey = (String, u32, Vec<Arc<str>>);

/// An occurrence inside a [`Part`]: indices are the part's own.
#[derive(Debug, Clone, Copy)]
struct PartOccurrence {
    key: u64,
    occ: Occurrence,
}

/// One memoised extraction: the inputs it was made from, compared in full on a hash hit, and
/// the part's unique event it gave (`None`: the extractor rejected it).
#[derive(Debug)]
struct Memo {
    channel: String,
    event_id: u32,
    inputs: Vec<Option<Box<str>>>,
    unique: Option<u32>,
}

/// The reduction of one file (a zip: all its members), made on the thread that reads it.
pub struct Part<'p> {
    profile: &'p dyn Profile,
    /// Whether records take lifecycle steps (profiles with task names).
    steps_wanted: bool,
    /// Keyed by a SipHash of the inputs (already mixed: the map hashes it cheaply), with keys
    /// drawn at random per part, so that no log can be made to pile its inputs into one
    /// bucket (a hit is confirmed on the inputs themselves either way).
    memo: FxHashMap<u64, Vec<Memo>>,
    memo_keys: std::collections::hash_map::RandomState,
    interner: HashSet<Arc<str>>,
    uniques: Vec<UniqueKey>,
    index: HashMap<UniqueKey, u32>,
    /// Per unique event of the part: its first occurrence as read.
    first_raw: Vec<RawEvent>,
    occurrences: Vec<PartOccurrence>,
    /// Host names as read.
    hosts: Vec<String>,
    host_index: HashMap<String, u32>,
    sources: Vec<Arc<str>>,
    steps: Vec<StepFacts>,
    step_index: HashMap<StepFacts, u32>,
    rejected: u64,
    /// Summary files read into this part (after its records, if a zip holds both).
    summaries: Vec<(String, crate::summary::Summary)>,
}

impl<'p> Part<'p> {
    pub fn new(profile: &'p dyn Profile) -> Part<'p> {
        Part {
            profile,
            steps_wanted: profile.fields().contains(&"task_name"),
            memo: FxHashMap::default(),
            memo_keys: std::collections::hash_map::RandomState::new(),
            interner: HashSet::new(),
            uniques: Vec::new(),
            index: HashMap::new(),
            first_raw: Vec::new(),
            occurrences: Vec::new(),
            hosts: Vec::new(),
            host_index: HashMap::new(),
            sources: Vec::new(),
            steps: Vec::new(),
            step_index: HashMap::new(),
            rejected: 0,
            summaries: Vec::new(),
        }
    }

    fn intern(&mut self, v: String) -> Arc<str> {
        if let Some(a) = self.interner.get(v.as_str()) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(v);
        self.interner.insert(a.clone());
        a
    }

    /// The part's unique event for `ev` (`None`: rejected by the extractor), extracting each
    /// distinct input once: occurrences of one task repeat the same inputs with other times.
    fn unique_of(&mut self, ev: &RawEvent) -> Option<u32> {
        // Each input looked up once (a lookup scans the record's fields).
        let got: Vec<Option<&str>> = self.profile.inputs().iter().map(|n| ev.get(n)).collect();
        let mut h = std::hash::BuildHasher::build_hasher(&self.memo_keys);
        ev.channel.hash(&mut h);
        ev.event_id.hash(&mut h);
        got.hash(&mut h);
        let hash = h.finish();
        if let Some(found) = self.memo.get(&hash).and_then(|memos| {
            memos.iter().find(|m| {
                m.event_id == ev.event_id
                    && m.channel == ev.channel
                    && got.iter().zip(&m.inputs).all(|(g, v)| *g == v.as_deref())
            })
        }) {
            return found.unique;
        }
        let unique = self.profile.extract(ev).map(|values| {
            let values: Vec<Arc<str>> = values.into_iter().map(|v| self.intern(v)).collect();
            let channel = match ev.canonical_channel() {
                "" => ev.channel.clone(),
                c => c.to_string(),
            };
            // Other inputs can still give the same values: one unique event per key.
            let key = (channel, ev.event_id, values);
            if let Some(&u) = self.index.get(&key) {
                return u;
            }
            let u = self.uniques.len() as u32;
            self.uniques.push(key.clone());
            self.index.insert(key, u);
            self.first_raw.push(ev.clone());
            u
        });
        self.memo.entry(hash).or_default().push(Memo {
            channel: ev.channel.clone(),
            event_id: ev.event_id,
            inputs: got.iter().map(|g| g.map(Box::from)).collect(),
            unique,
        });
        unique
    }

    fn host_of(&mut self, computer: &str) -> u32 {
        if let Some(&h) = self.host_index.get(computer) {
            return h;
        }
        self.hosts.push(computer.to_string());
        let h = self.hosts.len() as u32 - 1;
        self.host_index.insert(computer.to_string(), h);
        h
    }

    fn source_of(&mut self, source: &Arc<str>) -> u32 {
        // Records arrive file by file (member by member): the last source is nearly always it.
        match self
            .sources
            .iter()
            .rposition(|s| Arc::ptr_eq(s, source) || s == source)
        {
            Some(i) => i as u32,
            None => {
                self.sources.push(source.clone());
                self.sources.len() as u32 - 1
            }
        }
    }

    fn step_of(&mut self, ev: &RawEvent) -> u32 {
        if !self.steps_wanted {
            return NONE;
        }
        let facts = crate::lifecycle::step_facts(ev, |s| self.intern(s.to_string()));
        index_of(&mut self.step_index, &mut self.steps, facts)
    }
}

impl Sink for Part<'_> {
    fn take_summary(&mut self, text: &str, report: &mut crate::ingest::FileReport) {
        match crate::summary::parse(text, self.profile.name(), self.profile.fields()) {
            Ok(summaries) => {
                report.records = summaries.iter().map(|s| s.records).sum();
                let bad: u64 = summaries.iter().map(|s| s.bad_lines).sum();
                report.skipped += bad;
                if bad > 0 {
                    report.problem(format!(
                        "{bad} summary line{} could not be read (a truncated file?); the rest is used",
                        if bad == 1 { "" } else { "s" }
                    ));
                }
                for s in &summaries {
                    if let Some(e) = &s.refused {
                        report.problem(format!("a summary in it not read: {e}"));
                    }
                    if !s.unknown_flags.is_empty() {
                        report.problem(format!(
                            "lifecycle flags of another anomalog version dropped: {}",
                            s.unknown_flags
                                .iter()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                for s in summaries {
                    let name = match &s.client {
                        Some(c) => format!("{} (client {c})", report.path),
                        None => report.path.clone(),
                    };
                    self.summaries.push((name, s));
                }
            }
            Err(e) => {
                report.skipped += 1;
                report.problem(format!("not read: {e}"));
            }
        }
    }

    fn take(&mut self, ev: RawEvent) {
        if !self.profile.wants(&ev) {
            return;
        }
        let Some(unique) = self.unique_of(&ev) else {
            self.rejected += 1;
            return;
        };
        let occ = Occurrence {
            time: ev.time.unwrap_or(NO_TIME),
            record_id: ev.record_id.unwrap_or(NO_RECORD),
            unique,
            host: self.host_of(&ev.computer),
            source: self.source_of(&ev.source),
            step: self.step_of(&ev),
        };
        self.occurrences.push(PartOccurrence {
            key: record_key(&ev),
            occ,
        });
    }
}

/// The index of `value` in `table`, appended (and indexed) when new.
fn index_of<K: Hash + Eq + Clone>(
    index: &mut HashMap<K, u32>,
    table: &mut Vec<K>,
    value: K,
) -> u32 {
    if let Some(&i) = index.get(&value) {
        return i;
    }
    let i = table.len() as u32;
    table.push(value.clone());
    index.insert(value, i);
    i
}

/// Folds [`Part`]s, in reading order, into a [`Dataset`].
pub struct Builder {
    ds: Dataset,
    /// Record key -> the first occurrence with it.
    seen: Seen,
    index: HashMap<UniqueKey, u32>,
    interner: HashSet<Arc<str>>,
    host_index: HashMap<String, u32>,
    source_index: HashMap<Arc<str>, u32>,
    step_index: HashMap<StepFacts, u32>,
    /// (unique, host) -> its place in `hosts_of[unique]`.
    unique_hosts: FxHashMap<(u32, u32), u32>,
    /// (unique, source) pairs already listed.
    unique_sources: FxHashSet<(u32, u32)>,
    /// Per unique event: (host, occurrences) in first-seen order.
    hosts_of: Vec<Vec<(u32, u64)>>,
    sources_of: Vec<Vec<u32>>,
    /// Per unique event: lifecycle flags that summaries bring (their lifecycles stayed on the
    /// endpoint).
    summary_flags: Vec<BTreeSet<crate::lifecycle::Flag>>,
    /// Per unique event: the lifecycles summaries bring (at most the drill-down's share).
    summary_lives: Vec<(Vec<Life>, bool)>,
    /// Per unique event: the definitions summaries lend it, with counts.
    summary_lent: Vec<LentCounts>,
    /// Hosts already brought, and by what (see [`Builder::add_summary`]).
    claims: FxHashMap<u32, Claim>,
    notes: Vec<String>,
}

/// What brought a host into the dataset first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Logs,
    Summary,
}

impl Builder {
    pub fn new(profile: &dyn Profile) -> Builder {
        Builder {
            ds: Dataset {
                profile: profile.name(),
                fields: profile.fields().to_vec(),
                profile_fields: profile.fields().len(),
                headline: profile.headline(),
                ..Dataset::default()
            },
            seen: Seen::new(),
            index: HashMap::new(),
            interner: HashSet::new(),
            host_index: HashMap::new(),
            source_index: HashMap::new(),
            step_index: HashMap::new(),
            unique_hosts: FxHashMap::default(),
            unique_sources: FxHashSet::default(),
            hosts_of: Vec::new(),
            sources_of: Vec::new(),
            summary_flags: Vec::new(),
            summary_lives: Vec::new(),
            summary_lent: Vec::new(),
            claims: FxHashMap::default(),
            notes: Vec::new(),
        }
    }

    /// Count `n` occurrences of unique event `u` on `host` (a host id, possibly the empty
    /// name), seen between `first` and `last`.
    fn tally(&mut self, u: u32, host: u32, n: u64, first: Option<i64>, last: Option<i64>) {
        let ue = &mut self.ds.uniques[u as usize];
        ue.count += n;
        if let Some(t) = first {
            ue.first_seen = Some(ue.first_seen.map_or(t, |f| f.min(t)));
        }
        if let Some(t) = last {
            ue.last_seen = Some(ue.last_seen.map_or(t, |l| l.max(t)));
        }
        if self.ds.hosts[host as usize].is_empty() {
            ue.unnamed += n;
            return;
        }
        let at = self.hosts_of[u as usize].len() as u32;
        let i = *self.unique_hosts.entry((u, host)).or_insert(at);
        match self.hosts_of[u as usize].get_mut(i as usize) {
            Some(h) => h.1 += n,
            None => self.hosts_of[u as usize].push((host, n)),
        }
    }

    fn list_source(&mut self, u: u32, source: u32) {
        if self.unique_sources.insert((u, source)) {
            self.sources_of[u as usize].push(source);
        }
    }

    fn intern(&mut self, a: &Arc<str>) -> Arc<str> {
        if let Some(g) = self.interner.get(&**a) {
            return g.clone();
        }
        self.interner.insert(a.clone());
        a.clone()
    }

    /// Fold the next part (parts must come in reading order).
    pub fn add(&mut self, part: Part<'_>) {
        let Part {
            uniques,
            first_raw,
            occurrences,
            hosts,
            sources,
            steps,
            rejected,
            summaries,
            ..
        } = part;
        self.ds.rejected += rejected;
        let hosts: Vec<u32> = hosts
            .iter()
            .map(|raw| index_of(&mut self.host_index, &mut self.ds.hosts, raw.to_lowercase()))
            .collect();
        let sources: Vec<u32> = sources
            .into_iter()
            .map(|s| index_of(&mut self.source_index, &mut self.ds.sources, s))
            .collect();
        let steps: Vec<u32> = steps
            .into_iter()
            .map(|f| index_of(&mut self.step_index, &mut self.ds.steps, f))
            .collect();
        // The part's unique events, made global when their first kept occurrence comes.
        let mut global: Vec<u32> = vec![NONE; uniques.len()];
        let mut first_raw: Vec<Option<RawEvent>> = first_raw.into_iter().map(Some).collect();
        // A host that a summary brought is not counted again from its logs.
        for &h in &hosts {
            if !self.ds.hosts[h as usize].is_empty() {
                self.claims.entry(h).or_insert(Claim::Logs);
            }
        }
        for PartOccurrence { key, occ } in occurrences {
            let host = hosts[occ.host as usize];
            let source = sources[occ.source as usize];
            if self.claims.get(&host) == Some(&Claim::Summary) {
                self.ds.duplicates_dropped += 1;
                continue;
            }
            if let Some(first) = self.seen.get(key) {
                let f = self.ds.occurrences[first as usize];
                let fu = &self.ds.uniques[f.unique as usize];
                let (channel, event_id, _) = &uniques[occ.unique as usize];
                let same = f.host == host
                    && f.time == occ.time
                    && f.record_id == occ.record_id
                    && *event_id == fu.event_id
                    && channel.eq_ignore_ascii_case(&fu.channel);
                if same {
                    self.ds.duplicates_dropped += 1;
                    // A duplicate still names its source file.
                    self.list_source(f.unique, source);
                    continue;
                }
            }
            let lu = occ.unique as usize;
            if global[lu] == NONE {
                global[lu] = self.unique_for(&uniques[lu], &mut first_raw[lu]);
            }
            let u = global[lu];
            let o = self.ds.occurrences.len() as u32;
            self.seen.insert_first(key, o);
            self.ds.uniques[u as usize].occurrences.push(o);
            self.tally(u, host, 1, occ.time(), occ.time());
            self.list_source(u, source);
            self.ds.occurrences.push(Occurrence {
                unique: u,
                host,
                source,
                step: if occ.step == NONE {
                    NONE
                } else {
                    steps[occ.step as usize]
                },
                ..occ
            });
        }
        for (name, s) in summaries {
            self.add_summary(&name, s);
        }
    }

    /// Merge a summary: its unique events' counts summed, hosts united, first and last seen
    /// as min and max, flags united. A summary naming a host that an earlier input already
    /// brought (its logs, or another summary of it) is left out whole, with a note: its
    /// counts would be counted twice.
    fn add_summary(&mut self, name: &str, s: crate::summary::Summary) {
        let mut hosts: Vec<u32> = s
            .hosts
            .iter()
            .chain(s.events.iter().flat_map(|e| e.hosts.iter().map(|(h, _)| h)))
            .filter(|h| !h.is_empty())
            .map(|h| index_of(&mut self.host_index, &mut self.ds.hosts, h.to_lowercase()))
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        let already: Vec<&str> = hosts
            .iter()
            .filter(|h| self.claims.contains_key(h))
            .map(|&h| self.ds.hosts[h as usize].as_str())
            .collect();
        if !already.is_empty() {
            let shown: Vec<String> = already
                .iter()
                .take(5)
                .map(|h| crate::sanitize::for_terminal(h, 80))
                .collect();
            self.notes.push(format!(
                "{}: left out: host{} {}{} already read from another input (its logs or another summary); merging it would count them twice",
                crate::sanitize::for_terminal(name, 300),
                if already.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if already.len() > 5 { ", ..." } else { "" },
            ));
            return;
        }
        for &h in &hosts {
            self.claims.insert(h, Claim::Summary);
        }
        let unnamed = index_of(&mut self.host_index, &mut self.ds.hosts, String::new());
        // Values an older endpoint normalised otherwise are read as this release writes them
        // (`features::upgrade_value`), so that old and new summaries merge.
        let upgrade = crate::profile::features::upgrade_value;
        for e in s.events {
            let values: Vec<Arc<str>> = e
                .values
                .into_iter()
                .map(|v| self.intern(&Arc::from(upgrade(v))))
                .collect();
            let key = (e.channel, e.event_id, values);
            let u = self.unique_for(&key, &mut Some(e.raw));
            let (mut first, mut last) = (e.first_seen, e.last_seen);
            for (h, n) in e
                .hosts
                .into_iter()
                .map(|(h, n)| (h.to_lowercase(), n))
                .chain((e.unnamed > 0).then(|| (String::new(), e.unnamed)))
            {
                let h = if h.is_empty() {
                    unnamed
                } else {
                    index_of(&mut self.host_index, &mut self.ds.hosts, h)
                };
                self.tally(u, h, n, first.take(), last.take());
            }
            for src in e.sources {
                let src = index_of(&mut self.source_index, &mut self.ds.sources, Arc::from(src));
                self.list_source(u, src);
            }
            self.summary_flags[u as usize].extend(e.flags);
            for (values, n) in e.lent {
                let values: Vec<Arc<str>> = values
                    .into_iter()
                    .map(|v| self.intern(&Arc::from(upgrade(v))))
                    .collect();
                let slot = self.summary_lent[u as usize].entry(values).or_default();
                *slot = slot.saturating_add(n);
            }
            let (lives, more) = &mut self.summary_lives[u as usize];
            *more |= e.more_lifecycles;
            for l in e.lifecycles {
                if lives.len() < crate::lifecycle::MAX_LIVES {
                    lives.push(l);
                } else {
                    *more = true;
                }
            }
        }
    }

    /// Notes about the merge (summaries left out), for the warnings.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The global unique event for a part's unique event (made on first use).
    fn unique_for(&mut self, key: &UniqueKey, raw: &mut Option<RawEvent>) -> u32 {
        let (channel, event_id, values) = key;
        let values: Vec<Arc<str>> = values.iter().map(|v| self.intern(v)).collect();
        let key = (channel.clone(), *event_id, values);
        if let Some(&u) = self.index.get(&key) {
            return u;
        }
        let u = self.ds.uniques.len() as u32;
        self.ds.uniques.push(UniqueEvent {
            channel: key.0.clone(),
            event_id: *event_id,
            values: key.2.clone(),
            occurrences: Vec::new(),
            hosts: Vec::new(),
            host_counts: Vec::new(),
            unnamed: 0,
            first_seen: None,
            last_seen: None,
            sources: Vec::new(),
            count: 0,
        });
        self.ds.first_raw.push(raw.take().unwrap_or_default());
        self.hosts_of.push(Vec::new());
        self.sources_of.push(Vec::new());
        self.summary_flags.push(BTreeSet::new());
        self.summary_lives.push((Vec::new(), false));
        self.summary_lent.push(HashMap::new());
        self.index.insert(key, u);
        u
    }

    /// The dataset, without context fields (see [`Dataset::add_context`]).
    pub fn finish(self) -> Dataset {
        let mut ds = self.ds;
        if self.summary_lives.iter().any(|(l, m)| !l.is_empty() || *m) {
            ds.summary_lives = self.summary_lives;
        }
        if self.summary_lent.iter().any(|l| !l.is_empty()) {
            ds.summary_lent = self.summary_lent;
        }
        if self.summary_flags.iter().any(|f| !f.is_empty()) {
            ds.summary_flags = self
                .summary_flags
                .into_iter()
                .map(|f| f.into_iter().collect())
                .collect();
        }
        for ((ue, h), s) in ds
            .uniques
            .iter_mut()
            .zip(self.hosts_of)
            .zip(self.sources_of)
        {
            let mut hosts: Vec<(String, u64)> = h
                .iter()
                .map(|&(h, n)| (ds.hosts[h as usize].clone(), n))
                .collect();
            hosts.sort();
            (ue.hosts, ue.host_counts) = hosts.into_iter().unzip();
            let mut sources: Vec<Arc<str>> =
                s.iter().map(|&s| ds.sources[s as usize].clone()).collect();
            sources.sort();
            ue.sources = sources;
        }
        ds.fleet = ds
            .uniques
            .iter()
            .flat_map(|u| u.hosts.iter())
            .collect::<HashSet<_>>()
            .len();
        ds.excluded = ds.uniques.iter().map(|_| AtomicBool::new(false)).collect();
        ds
    }
}

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

    /// Join task lifecycles and append the [`CONTEXT_FIELDS`] to every unique event: its
    /// fleet prevalence and its lifecycle flags (comma-separated), so that models, filters
    /// and exports read them like any other field. Idempotent.
    pub fn add_context(&mut self) {
        self.add_context_with(true);
    }

    /// [`Dataset::add_context`]; with `enrich` (the default) also the [`tasks::ENRICHED`]
    /// fields of profiles with task lifecycles: the features of the task definition in force
    /// (on the same host) for every event of the task, so that a 106 or a 200 of a malicious
    /// task says what the task runs. `false` leaves them out (the detection benchmark's
    /// comparison).
    pub fn add_context_with(&mut self, enrich: bool) {
        self.lifecycles = Lifecycles::build(self);
        // Lifecycles that stayed on an endpoint: their flags came with its summary.
        for (mine, theirs) in self.lifecycles.flags.iter_mut().zip(&self.summary_flags) {
            if !theirs.is_empty() {
                let all: BTreeSet<crate::lifecycle::Flag> =
                    mine.iter().chain(theirs).copied().collect();
                *mine = all.into_iter().collect();
            }
        }
        self.display = tasks::display(self);
        self.tasks = Tasks::build(self, &self.display);
        if self.fields.len() > self.profile_fields {
            return;
        }
        self.fields.extend_from_slice(CONTEXT_FIELDS);
        let fleet = self.fleet;
        let mut interned: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |s: String| -> Arc<str> {
            interned
                .entry(s)
                .or_insert_with_key(|k| Arc::from(k.as_str()))
                .clone()
        };
        for (u, ue) in self.uniques.iter_mut().enumerate() {
            ue.values
                .push(intern(prevalence_bucket(ue.hosts.len(), fleet).to_string()));
            ue.values
                .push(intern(crate::lifecycle::joined(&self.lifecycles.flags[u])));
        }
        if enrich && self.fields.contains(&"task_name") {
            let lent: Vec<Vec<Arc<str>>> = tasks::lent(self)
                .into_iter()
                .map(|l| l.unwrap_or_else(|| vec![intern(String::new()); tasks::ENRICHED.len()]))
                .collect();
            self.fields
                .extend(tasks::ENRICHED.iter().map(|(name, _)| *name));
            for (ue, lent) in self.uniques.iter_mut().zip(lent) {
                ue.values.extend(lent);
            }
        }
    }

    /// The first occurrence of unique event `u`, as it was read (every data field, names
    /// unmasked, the task XML whole).
    pub fn first_raw(&self, u: usize) -> &RawEvent {
        &self.first_raw[u]
    }

    /// The name of unique event `u` as read and how many other spellings it merged (the
    /// normalised value when [`Dataset::add_context`] has not run or the record holds none).
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

    /// The task definitions summaries lent unique event `u`, with counts.
    pub fn summary_lent(&self, u: usize) -> Option<&LentCounts> {
        self.summary_lent.get(u)
    }

    /// The lifecycle flags of unique event `u` (empty before [`Dataset::add_context`]).
    pub fn flags(&self, u: usize) -> &[crate::lifecycle::Flag] {
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
