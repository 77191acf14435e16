//! Unique events: occurrences that share every feature collapse into one row with its count,
//! hosts, first and last seen and source files. Exposed as a polars [`DataFrame`] for export
//! and, later, encoding; every raw occurrence stays reachable through [`UniqueEvent::occurrences`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::*;

use crate::event::{RawEvent, rfc3339};
use crate::lifecycle::Lifecycles;
use crate::profile::Profile;

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
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// Distinct source files, sorted.
    pub sources: Vec<Arc<str>>,
}

impl UniqueEvent {
    pub fn count(&self) -> u64 {
        self.occurrences.len() as u64
    }
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
    pub occurrences: Vec<RawEvent>,
    pub uniques: Vec<UniqueEvent>,
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
}

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
/// or from overlapping collections, has the same key.
fn record_key(ev: &RawEvent) -> u64 {
    let mut h = DefaultHasher::new();
    ev.computer.to_ascii_lowercase().hash(&mut h);
    let ch = ev.canonical_channel();
    if ch.is_empty() {
        ev.channel.to_ascii_lowercase().hash(&mut h);
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

impl Dataset {
    /// Run the profile over the events, drop duplicate records, and group the rest.
    pub fn build(profile: &dyn Profile, events: Vec<RawEvent>) -> Dataset {
        // record key -> the unique event it went to (a duplicate still names its source file).
        let mut seen: HashMap<u64, usize> = HashMap::with_capacity(events.len());
        let mut interner: HashMap<String, Arc<str>> = HashMap::new();
        let mut index: HashMap<(String, u32, Vec<Arc<str>>), usize> = HashMap::new();
        let mut ds = Dataset {
            profile: profile.name(),
            fields: profile.fields().to_vec(),
            profile_fields: profile.fields().len(),
            headline: profile.headline(),
            ..Dataset::default()
        };
        // Occurrences of one task repeat the same inputs with other times and ids: extract
        // each distinct input once.
        let mut memo: HashMap<u64, Option<Vec<Arc<str>>>> = HashMap::new();
        let inputs = profile.inputs();
        let mut hosts: Vec<BTreeSet<String>> = Vec::new();
        let mut sources: Vec<BTreeSet<Arc<str>>> = Vec::new();
        for ev in events {
            let ikey = {
                let mut h = DefaultHasher::new();
                ev.canonical_channel().hash(&mut h);
                ev.channel.hash(&mut h);
                ev.event_id.hash(&mut h);
                for n in inputs {
                    ev.get(n).hash(&mut h);
                }
                h.finish()
            };
            let extracted = memo.entry(ikey).or_insert_with(|| {
                profile.extract(&ev).map(|values| {
                    values
                        .into_iter()
                        .map(|v| match interner.get(&v) {
                            Some(a) => a.clone(),
                            None => {
                                let a: Arc<str> = Arc::from(v.as_str());
                                interner.insert(v, a.clone());
                                a
                            }
                        })
                        .collect()
                })
            });
            let Some(values) = extracted.clone() else {
                ds.rejected += 1;
                continue;
            };
            let rkey = record_key(&ev);
            if let Some(&u) = seen.get(&rkey) {
                ds.duplicates_dropped += 1;
                sources[u].insert(ev.source.clone());
                continue;
            }
            let channel = match ev.canonical_channel() {
                "" => ev.channel.clone(),
                c => c.to_string(),
            };
            let occ = ds.occurrences.len() as u32;
            let key = (channel, ev.event_id, values);
            let u = match index.get(&key) {
                Some(&u) => u,
                None => {
                    let u = ds.uniques.len();
                    ds.uniques.push(UniqueEvent {
                        channel: key.0.clone(),
                        event_id: key.1,
                        values: key.2.clone(),
                        occurrences: Vec::new(),
                        hosts: Vec::new(),
                        first_seen: None,
                        last_seen: None,
                        sources: Vec::new(),
                    });
                    hosts.push(BTreeSet::new());
                    sources.push(BTreeSet::new());
                    index.insert(key, u);
                    u
                }
            };
            seen.insert(rkey, u);
            let ue = &mut ds.uniques[u];
            ue.occurrences.push(occ);
            if let Some(t) = ev.time {
                ue.first_seen = Some(ue.first_seen.map_or(t, |f| f.min(t)));
                ue.last_seen = Some(ue.last_seen.map_or(t, |l| l.max(t)));
            }
            // Names as read (no allocation for a host already seen); lower-cased once below.
            if !ev.computer.is_empty() && !hosts[u].contains(ev.computer.as_str()) {
                hosts[u].insert(ev.computer.clone());
            }
            sources[u].insert(ev.source.clone());
            ds.occurrences.push(ev);
        }
        for ((ue, h), s) in ds.uniques.iter_mut().zip(hosts).zip(sources) {
            let lower: BTreeSet<String> = h.into_iter().map(|n| n.to_lowercase()).collect();
            ue.hosts = lower.into_iter().collect();
            ue.sources = s.into_iter().collect();
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

    /// Join task lifecycles and append the [`CONTEXT_FIELDS`] to every unique event: its
    /// fleet prevalence and its lifecycle flags (comma-separated), so that models, filters
    /// and exports read them like any other field. Idempotent.
    pub fn add_context(&mut self) {
        self.lifecycles = Lifecycles::build(self);
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
            ue.values.push(intern(self.lifecycles.flags[u].join(",")));
        }
    }

    /// The first occurrence of unique event `u`, as it was read (every data field, names
    /// unmasked, the task XML whole).
    pub fn first_raw(&self, u: usize) -> &RawEvent {
        &self.occurrences[self.uniques[u].occurrences[0] as usize]
    }

    /// The lifecycle flags of unique event `u` (empty before [`Dataset::add_context`]).
    pub fn flags(&self, u: usize) -> &[&'static str] {
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
