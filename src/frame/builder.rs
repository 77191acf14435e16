//! The [`Builder`]: folds [`Part`]s into a [`Dataset`].
//!
//! Records are deduplicated by their own identity (host, channel, record id, time; content
//! where there is no record id). What summaries claim is kept apart per unique event and host
//! ([`Claimed`]) and reconciled with the logs when the dataset is finished, by the analyst's
//! rule for inputs that describe the same host ([`SameHost`]): no input can remove what
//! another shows, and the answer does not depend on the order inputs come in. Unique events
//! are put in a canonical order at the end (by channel, event id and values), so that the
//! models train on the same rows whatever the order of files and folders.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rustc_hash::{FxHashMap, FxHashSet};

use super::part::{Claimed, PartOccurrence, Summaries, UniqueKey, earlier, index_of};
use super::{Dataset, LentCounts, Life, NONE, Occurrence, Part, Seen, StepFacts, UniqueEvent};
use crate::event::RawEvent;
use crate::profile::Profile;
use crate::timeline::Flag;

/// What to do when several inputs describe the same host (its logs and a summary of them,
/// two summaries of it, a hunt downloaded twice): the analyst's choice, never the order the
/// inputs were given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SameHost {
    /// Overlapping views of one host: each unique event counts as often as the input that
    /// shows it most (the same evidence twice counts once; nothing any input shows is lost).
    #[default]
    Max,
    /// Different periods of one host: their counts are added.
    Sum,
    /// A host's own logs outweigh every summary of it; summaries count only for hosts whose
    /// logs were not given.
    Logs,
}

impl SameHost {
    pub fn name(self) -> &'static str {
        match self {
            SameHost::Max => "max",
            SameHost::Sum => "sum",
            SameHost::Logs => "logs",
        }
    }
}

/// What loading is told besides the profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub same_host: SameHost,
}

/// What merging inputs has to tell the analyst.
#[derive(Debug, Default)]
pub struct Merged {
    /// Warning lines.
    pub notes: Vec<String>,
    /// Hosts described by more than one input (each named in `notes`, up to twenty).
    pub conflicted_hosts: usize,
}

/// The raw logs that named a host: how many of their records were kept, and (the first few
/// of) their files.
#[derive(Debug, Default)]
struct HostLogs {
    files: BTreeSet<u32>,
    more_files: bool,
}

/// Folds [`Part`]s into a [`Dataset`].
pub struct Builder {
    ds: Dataset,
    options: Options,
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
    summary_flags: Vec<BTreeSet<Flag>>,
    /// Per unique event: the lifecycles summaries bring (at most the drill-down's share).
    summary_lives: Vec<(Vec<Life>, bool)>,
    /// Per unique event: the definitions summaries lend it, with counts.
    summary_lent: Vec<LentCounts>,
    summary_batches: Vec<Vec<crate::ingest::summary::BatchOut>>,
    /// (unique, host) -> what the summaries claim of it, reconciled in [`Builder::finish`].
    claimed: FxHashMap<(u32, u32), Claimed>,
    /// Every summary read (`file`, `file (client C)`).
    inputs: Vec<String>,
    /// Host -> the summaries that describe it.
    host_inputs: FxHashMap<u32, BTreeSet<u32>>,
    /// Host -> the log files whose records named it.
    host_logs: FxHashMap<u32, HostLogs>,
    notes: Vec<String>,
}

impl Builder {
    pub fn new(profile: &dyn Profile) -> Builder {
        Builder::with_options(profile, Options::default())
    }

    pub fn with_options(profile: &dyn Profile, options: Options) -> Builder {
        Builder {
            ds: Dataset {
                profile: profile.name(),
                fields: profile.fields().to_vec(),
                profile_fields: profile.fields().len(),
                headline: profile.headline(),
                ..Dataset::default()
            },
            options,
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
            summary_batches: Vec::new(),
            claimed: FxHashMap::default(),
            inputs: Vec::new(),
            host_inputs: FxHashMap::default(),
            host_logs: FxHashMap::default(),
            notes: Vec::new(),
        }
    }

    /// Count `n` occurrences of unique event `u` on `host` (a host id, possibly the empty
    /// name), seen between `first` and `last`. Counts saturate: input can claim anything.
    fn tally(&mut self, u: u32, host: u32, n: u64, first: Option<i64>, last: Option<i64>) {
        let ue = &mut self.ds.uniques[u as usize];
        ue.count = ue.count.saturating_add(n);
        ue.first_seen = super::part::min_time(ue.first_seen, first);
        ue.last_seen = super::part::max_time(ue.last_seen, last);
        if self.ds.hosts[host as usize].is_empty() {
            ue.unnamed = ue.unnamed.saturating_add(n);
            return;
        }
        let at = self.hosts_of[u as usize].len() as u32;
        let i = *self.unique_hosts.entry((u, host)).or_insert(at);
        match self.hosts_of[u as usize].get_mut(i as usize) {
            Some(h) => h.1 = h.1.saturating_add(n),
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

    fn host_id(&mut self, name: &str) -> u32 {
        index_of(
            &mut self.host_index,
            &mut self.ds.hosts,
            name.to_lowercase(),
        )
    }

    /// Fold the next part.
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
        self.ds.rejected = self.ds.rejected.saturating_add(rejected);
        let hosts: Vec<u32> = hosts.iter().map(|raw| self.host_id(raw)).collect();
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
        let mut logs_of: FxHashSet<(u32, u32)> = FxHashSet::default();
        for PartOccurrence { key, occ } in occurrences {
            let host = hosts[occ.host as usize];
            let source = sources[occ.source as usize];
            if !self.ds.hosts[host as usize].is_empty() {
                logs_of.insert((host, source));
            }
            if let Some(first) = self.seen.get(key) {
                let f = self.ds.occurrences[first as usize];
                let fu = &self.ds.uniques[f.unique as usize];
                let (channel, event_id, _) = &uniques[occ.unique as usize];
                let same = f.host == host
                    && (f.time == occ.time || fu.channel == crate::event::CH_TASK_DEFINITION)
                    && f.record_id == occ.record_id
                    && *event_id == fu.event_id
                    && channel.eq_ignore_ascii_case(&fu.channel);
                if same {
                    self.ds.duplicates_dropped = self.ds.duplicates_dropped.saturating_add(1);
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
        for (host, source) in logs_of {
            let l = self.host_logs.entry(host).or_default();
            if l.files.len() < 3 {
                l.files.insert(source);
            } else if !l.files.contains(&source) {
                l.more_files = true;
            }
        }
        if let Some(s) = summaries {
            self.add_summaries(*s, &uniques, &mut first_raw, &mut global, &hosts);
        }
    }

    /// Fold what a part's summaries claim: kept per unique event and host until
    /// [`Builder::finish`] reconciles it with the logs.
    fn add_summaries(
        &mut self,
        s: Summaries,
        uniques: &[UniqueKey],
        first_raw: &mut [Option<RawEvent>],
        global: &mut [u32],
        hosts: &[u32],
    ) {
        self.notes.extend(s.notes());
        for (host, e) in &s.evidence {
            self.ds.evidence.entry(host.clone()).or_default().max(e);
        }
        let base = self.inputs.len() as u32;
        self.inputs.extend(s.inputs);
        let mut global_of = |b: &mut Builder, lu: u32| -> u32 {
            let lu = lu as usize;
            if global[lu] == NONE {
                global[lu] = b.unique_for(&uniques[lu], &mut first_raw[lu]);
            }
            global[lu]
        };
        for (h, inputs) in s.host_inputs {
            self.host_inputs
                .entry(hosts[h as usize])
                .or_default()
                .extend(inputs.into_iter().map(|i| base + i));
        }
        // In a canonical order: which of two equal claims was met first must not matter.
        let mut claimed: Vec<((u32, u32), Claimed)> = s.claimed.into_iter().collect();
        claimed.sort_unstable_by_key(|(k, _)| *k);
        for ((lu, h), c) in claimed {
            let u = global_of(self, lu);
            let c = c.rebased(base);
            self.claimed
                .entry((u, hosts[h as usize]))
                .and_modify(|x| x.fold(&c))
                .or_insert(c);
        }
        let unnamed = self.host_id("");
        let mut rest: Vec<(u32, Claimed)> = s.unnamed.into_iter().collect();
        rest.sort_unstable_by_key(|(k, _)| *k);
        for (lu, c) in rest {
            let u = global_of(self, lu);
            self.tally(u, unnamed, c.sum, c.first, c.last);
        }
        let mut extra: Vec<_> = s.extra.into_iter().collect();
        extra.sort_unstable_by_key(|(k, _)| *k);
        for (lu, x) in extra {
            let u = global_of(self, lu) as usize;
            self.summary_flags[u].extend(x.flags);
            let (lives, more) = &mut self.summary_lives[u];
            *more |= x.more;
            for l in x.lives {
                if lives.iter().any(|m| m.0 == l.0 && m.1 == l.1) {
                    continue;
                }
                if lives.len() < crate::timeline::MAX_LIVES {
                    lives.push(l);
                } else {
                    *more = true;
                }
            }
            for (values, n) in x.lent {
                let values: Vec<Arc<str>> = values.iter().map(|v| self.intern(v)).collect();
                let slot = self.summary_lent[u].entry(values).or_default();
                *slot = slot.saturating_add(n);
            }
            for src in x.sources {
                let src = index_of(&mut self.source_index, &mut self.ds.sources, src);
                self.list_source(u as u32, src);
            }
            for b in x.batches {
                super::part::Extra::add_batch(&mut self.summary_batches[u], b);
            }
        }
    }

    /// The global unique event for a part's unique event (made on first use); its raw
    /// record is the earliest any part offers.
    fn unique_for(&mut self, key: &UniqueKey, raw: &mut Option<RawEvent>) -> u32 {
        let (channel, event_id, values) = key;
        let values: Vec<Arc<str>> = values.iter().map(|v| self.intern(v)).collect();
        let key = (channel.clone(), *event_id, values);
        if let Some(&u) = self.index.get(&key) {
            if let Some(r) = raw.take()
                && earlier(&r, &self.ds.first_raw[u as usize])
            {
                self.ds.first_raw[u as usize] = r;
            }
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
        self.summary_batches.push(Vec::new());
        self.index.insert(key, u);
        u
    }

    /// The occurrences the logs hold of unique event `u` on `host`.
    fn logged(&self, u: u32, host: u32) -> u64 {
        self.unique_hosts
            .get(&(u, host))
            .and_then(|&i| self.hosts_of[u as usize].get(i as usize))
            .map_or(0, |h| h.1)
    }

    /// Reconcile what the summaries claim with what the logs hold, by [`SameHost`], and say
    /// which hosts more than one input described (returns how many).
    fn reconcile(&mut self) -> usize {
        let rule = self.options.same_host;
        let mut claimed: Vec<((u32, u32), Claimed)> = self.claimed.drain().collect();
        claimed.sort_unstable_by_key(|(k, _)| *k);
        // The drill-down shows a host's lifecycle from its logs when it has them.
        for (u, (lives, _)) in self.summary_lives.iter_mut().enumerate() {
            lives.retain(|l| {
                let h = self.host_index.get(&l.0.to_lowercase()).copied();
                h.is_none_or(|h| {
                    self.unique_hosts
                        .get(&(u as u32, h))
                        .and_then(|&i| self.hosts_of[u].get(i as usize))
                        .is_none_or(|x| x.1 == 0)
                })
            });
        }
        // Per host described by more than one input: the events they differ on.
        let mut differ: FxHashMap<u32, u64> = FxHashMap::default();
        let in_conflict = |b: &Builder, h: u32| {
            let k = b.host_inputs.get(&h).map_or(0, BTreeSet::len);
            k >= 2 || (k >= 1 && b.host_logs.contains_key(&h))
        };
        let mut with_claims: FxHashSet<(u32, u32)> = FxHashSet::default();
        for &((u, h), c) in &claimed {
            let logged = self.logged(u, h);
            let has_logs = self.host_logs.contains_key(&h);
            let total = match rule {
                SameHost::Max => logged.max(c.max),
                SameHost::Sum => logged.saturating_add(c.sum),
                SameHost::Logs if has_logs => logged,
                SameHost::Logs => c.max,
            };
            let dropped = logged.saturating_add(c.sum).saturating_sub(total);
            self.ds.duplicates_dropped = self.ds.duplicates_dropped.saturating_add(dropped);
            if in_conflict(self, h) {
                with_claims.insert((u, h));
                let k = self.host_inputs.get(&h).map_or(0, BTreeSet::len) as u32;
                let agree = c.inputs == k && c.min == c.max && (!has_logs || logged == c.max);
                if !agree {
                    *differ.entry(h).or_default() += 1;
                }
            }
            if rule == SameHost::Logs && has_logs {
                continue;
            }
            if total > logged || logged > 0 {
                self.tally(u, h, total - logged, c.first, c.last);
            }
        }
        // Events a host's logs hold that a summary of it does not.
        let conflicted: Vec<u32> = {
            let mut v: Vec<u32> = self
                .host_inputs
                .keys()
                .copied()
                .filter(|&h| in_conflict(self, h))
                .collect();
            v.sort_unstable_by(|a, b| self.ds.hosts[*a as usize].cmp(&self.ds.hosts[*b as usize]));
            v
        };
        if conflicted.is_empty() {
            return 0;
        }
        let set: FxHashSet<u32> = conflicted.iter().copied().collect();
        for (u, hosts) in self.hosts_of.iter().enumerate() {
            for &(h, _) in hosts {
                if set.contains(&h) && !with_claims.contains(&(u as u32, h)) {
                    *differ.entry(h).or_default() += 1;
                }
            }
        }
        const SHOWN: usize = 20;
        for &h in conflicted.iter().take(SHOWN) {
            self.notes
                .push(self.conflict_note(h, differ.get(&h).copied().unwrap_or(0)));
        }
        if conflicted.len() > SHOWN {
            self.notes.push(format!(
                "... and {} more hosts described by more than one input",
                conflicted.len() - SHOWN
            ));
        }
        conflicted.len()
    }

    /// The warning for a host more than one input describes.
    fn conflict_note(&self, h: u32, differ: u64) -> String {
        let t = |s: &str| crate::util::sanitize::for_terminal(s, 200);
        let mut inputs: Vec<String> = self
            .host_inputs
            .get(&h)
            .map(|s| s.iter().map(|&i| t(&self.inputs[i as usize])).collect())
            .unwrap_or_default();
        inputs.sort();
        let n = inputs.len() + usize::from(self.host_logs.contains_key(&h));
        if let Some(l) = self.host_logs.get(&h) {
            let files: Vec<String> = l
                .files
                .iter()
                .map(|&f| t(&self.ds.sources[f as usize]))
                .collect();
            inputs.push(format!(
                "its logs in {}{}",
                files.join(", "),
                if l.more_files { " and more" } else { "" }
            ));
        }
        let what = if differ == 0 {
            "they agree: counted once".to_string()
        } else {
            let rule = match self.options.same_host {
                SameHost::Max => "each counts as often as the input that shows it most",
                SameHost::Sum => "their counts are added",
                SameHost::Logs if self.host_logs.contains_key(&h) => {
                    "the host's logs are counted, its summaries left out"
                }
                SameHost::Logs => "each counts as often as the summary that shows it most",
            };
            format!(
                "they differ on {differ} unique event{}: {rule} (--same-host {}; see --help)",
                if differ == 1 { "" } else { "s" },
                self.options.same_host.name()
            )
        };
        format!(
            "host {} is described by {n} inputs ({}); {what}",
            t(&self.ds.hosts[h as usize]),
            inputs.join("; ")
        )
    }

    /// The dataset, without context fields (see [`crate::context::add`]).
    pub fn finish(self) -> Dataset {
        self.finish_with_notes().0
    }

    /// The dataset (without context fields), and what the merge has to say: which hosts more
    /// than one input described, hunt clients describing other hosts.
    pub fn finish_with_notes(mut self) -> (Dataset, Merged) {
        let conflicted_hosts = self.reconcile();
        let notes = Merged {
            notes: std::mem::take(&mut self.notes),
            conflicted_hosts,
        };
        let mut ds = self.ds;
        ds.summary_inputs = self
            .host_inputs
            .iter()
            .map(|(&h, inputs)| (ds.hosts[h as usize].clone(), inputs.len()))
            .filter(|(h, _)| !h.is_empty())
            .collect();
        ds.summary_lives = self.summary_lives;
        ds.summary_lent = self.summary_lent;
        ds.summary_batches = self.summary_batches;
        ds.summary_flags = self
            .summary_flags
            .into_iter()
            .map(|f| f.into_iter().collect())
            .collect();
        for ((ue, h), s) in ds
            .uniques
            .iter_mut()
            .zip(self.hosts_of)
            .zip(self.sources_of)
        {
            let mut hosts: Vec<(String, u64)> = h
                .iter()
                .filter(|&&(_, n)| n > 0)
                .map(|&(h, n)| (ds.hosts[h as usize].clone(), n))
                .collect();
            hosts.sort();
            (ue.hosts, ue.host_counts) = hosts.into_iter().unzip();
            let mut sources: Vec<Arc<str>> =
                s.iter().map(|&s| ds.sources[s as usize].clone()).collect();
            sources.sort();
            ue.sources = sources;
        }
        // Unique events claimed by no input after all (a summary's only host given as logs
        // under `--same-host logs`) hold nothing.
        canonical_order(&mut ds);
        if ds.summary_lives.iter().all(|(l, m)| l.is_empty() && !*m) {
            ds.summary_lives = Vec::new();
        }
        if ds.summary_lent.iter().all(HashMap::is_empty) {
            ds.summary_lent = Vec::new();
        }
        if ds.summary_batches.iter().all(Vec::is_empty) {
            ds.summary_batches = Vec::new();
        }
        if ds.summary_flags.iter().all(Vec::is_empty) {
            ds.summary_flags = Vec::new();
        }
        ds.fleet = ds
            .uniques
            .iter()
            .flat_map(|u| u.hosts.iter())
            .collect::<HashSet<_>>()
            .len();
        ds.excluded = ds.uniques.iter().map(|_| AtomicBool::new(false)).collect();
        (ds, notes)
    }
}

/// Put the unique events in a canonical order (channel, event id, values), dropping those
/// no input counted, and renumber everything that points at them: the same inputs in any
/// order give the same dataset.
fn canonical_order(ds: &mut Dataset) {
    let n = ds.uniques.len();
    let mut order: Vec<usize> = (0..n)
        .filter(|&u| ds.uniques[u].count > 0 || !ds.uniques[u].occurrences.is_empty())
        .collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&ds.uniques[a], &ds.uniques[b]);
        (&x.channel, x.event_id, &x.values).cmp(&(&y.channel, y.event_id, &y.values))
    });
    if order.len() == n && order.iter().enumerate().all(|(i, &u)| i == u) {
        return;
    }
    let mut new_of = vec![NONE; n];
    for (i, &u) in order.iter().enumerate() {
        new_of[u] = i as u32;
    }
    fn permute<T: Default>(v: &mut Vec<T>, order: &[usize]) {
        if v.is_empty() {
            return;
        }
        let mut old: Vec<Option<T>> = std::mem::take(v).into_iter().map(Some).collect();
        *v = order
            .iter()
            .map(|&u| old.get_mut(u).and_then(Option::take).unwrap_or_default())
            .collect();
    }
    let mut uniques: Vec<Option<UniqueEvent>> = std::mem::take(&mut ds.uniques)
        .into_iter()
        .map(Some)
        .collect();
    ds.uniques = order.iter().filter_map(|&u| uniques[u].take()).collect();
    permute(&mut ds.first_raw, &order);
    permute(&mut ds.summary_flags, &order);
    permute(&mut ds.summary_lives, &order);
    permute(&mut ds.summary_lent, &order);
    permute(&mut ds.summary_batches, &order);
    ds.occurrences.renumber(|u| new_of[u as usize]);
}
