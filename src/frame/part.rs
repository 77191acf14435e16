//! A [`Part`]: one file (a zip: all its members) reduced to its unique events on the thread
//! that reads it. Records become occurrences of the part's unique events; summaries fold into
//! what they claim of each unique event on each host ([`Claimed`]), so that a summary line
//! repeated a million times costs one entry.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{LentCounts, Life, NO_RECORD, NO_TIME, NONE, Occurrence, StepFacts};
use crate::event::RawEvent;
use crate::ingest::Sink;
use crate::ingest::summary::{BatchOut, SummaryEvent, SummaryInfo, SummarySink};
use crate::profile::Profile;
use crate::timeline::Flag;

/// The identity of a record: the same record read from a zip and from its extracted copy,
/// or from overlapping collections, has the same key. A key match is confirmed on the
/// occurrences' host, time, record id and event before a record is dropped.
pub(super) fn record_key(ev: &RawEvent) -> u64 {
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
    // A definition's identity is its host, name and bytes (its record id), not the time
    // stamp of the copy read: a collection and an archive of it hold one definition.
    if ch != crate::event::CH_TASK_DEFINITION {
        ev.time.hash(&mut h);
    }
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
pub(super) type UniqueKey = (String, u32, Vec<Arc<str>>);

/// An occurrence inside a [`Part`]: indices are the part's own.
#[derive(Debug, Clone, Copy)]
pub(super) struct PartOccurrence {
    pub(super) key: u64,
    pub(super) occ: Occurrence,
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
    pub(super) uniques: Vec<UniqueKey>,
    index: HashMap<UniqueKey, u32>,
    /// Per unique event of the part: its earliest occurrence as read ([`earlier`]).
    pub(super) first_raw: Vec<RawEvent>,
    pub(super) occurrences: Vec<PartOccurrence>,
    /// Host names as read.
    pub(super) hosts: Vec<String>,
    host_index: HashMap<String, u32>,
    pub(super) sources: Vec<Arc<str>>,
    pub(super) steps: Vec<StepFacts>,
    step_index: HashMap<StepFacts, u32>,
    pub(super) rejected: u64,
    /// What the summaries read into this part say (after its records, if a zip holds both).
    pub(super) summaries: Option<Box<Summaries>>,
}

/// What the summaries of one input claim of one unique event on one host, folded over every
/// summary that names it: the largest and the smallest count any gives, their sum (each
/// input's largest counted once), how many inputs gave one, and the span of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub max: u64,
    pub min: u64,
    pub sum: u64,
    pub inputs: u32,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// The input that gave the last count, and that count: a line repeated within one
    /// summary is one claim, not two.
    last_input: u32,
    last_n: u64,
}

impl Claimed {
    pub fn new(input: u32, n: u64, first: Option<i64>, last: Option<i64>) -> Claimed {
        Claimed {
            max: n,
            min: n,
            sum: n,
            inputs: 1,
            first,
            last,
            last_input: input,
            last_n: n,
        }
    }

    /// Fold in another claim. Order does not matter: the result depends on the claims alone.
    pub fn fold(&mut self, o: &Claimed) {
        if o.inputs == 1 && o.last_input == self.last_input {
            // The same input again (a repeated line): its largest count stands.
            if o.last_n > self.last_n {
                self.sum = self.sum.saturating_add(o.last_n - self.last_n);
                self.last_n = o.last_n;
            }
        } else {
            self.sum = self.sum.saturating_add(o.sum);
            self.inputs = self.inputs.saturating_add(o.inputs);
            self.min = self.min.min(o.min);
            self.last_input = o.last_input;
            self.last_n = o.last_n;
        }
        self.max = self.max.max(o.max);
        self.first = min_time(self.first, o.first);
        self.last = max_time(self.last, o.last);
    }

    /// The same claim with its inputs numbered from `base` (a part's inputs among all).
    pub fn rebased(mut self, base: u32) -> Claimed {
        self.last_input = self.last_input.saturating_add(base);
        self
    }
}

pub(super) fn min_time(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub(super) fn max_time(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Whether occurrence `a` comes before `b` in the order that picks a unique event's raw
/// record: earliest first (undated last), then host, record id and file, so that the record
/// shown does not depend on the order inputs are given in.
pub(super) fn earlier(a: &RawEvent, b: &RawEvent) -> bool {
    let key = |e: &RawEvent| (e.time.is_none(), e.time, e.record_id);
    match key(a).cmp(&key(b)) {
        std::cmp::Ordering::Equal => {
            let host = |e: &RawEvent| e.computer.to_lowercase();
            (host(a), &*a.source) < (host(b), &*b.source)
        }
        o => o == std::cmp::Ordering::Less,
    }
}

/// What a summary brings for one unique event besides its counts.
#[derive(Debug, Default)]
pub(super) struct Extra {
    pub(super) flags: BTreeSet<Flag>,
    /// At most [`crate::timeline::MAX_LIVES`], one per host and task.
    pub(super) lives: Vec<Life>,
    pub(super) more: bool,
    pub(super) lent: LentCounts,
    pub(super) sources: Vec<Arc<str>>,
    /// Per host (lower-case), its occurrences that came in servicing batches.
    pub(super) batches: Vec<BatchOut>,
}

impl Extra {
    /// Keep a host's batched occurrences; where two summaries describe the host, the larger
    /// (the same evidence counts once).
    pub(super) fn add_batch(batches: &mut Vec<BatchOut>, b: BatchOut) {
        match batches.iter_mut().find(|x| x.host == b.host) {
            Some(x) => {
                if (b.occurrences, b.tasks) > (x.occurrences, x.tasks) {
                    *x = b;
                }
            }
            None => batches.push(b),
        }
    }

    /// Keep a lifecycle (one per host and task; past the cap, the event just has more).
    pub(super) fn add_life(&mut self, life: Life) {
        if self.lives.iter().any(|l| l.0 == life.0 && l.1 == life.1) {
            return;
        }
        if self.lives.len() < crate::timeline::MAX_LIVES {
            self.lives.push(life);
        } else {
            self.more = true;
        }
    }
}

/// The summaries read into a part.
#[derive(Debug, Default)]
pub(super) struct Summaries {
    /// Each summary's name (`file`, `file (client C)`).
    pub(super) inputs: Vec<String>,
    /// The summary being read: its input, and the host its hunt client is (lower-case).
    current: Option<(u32, Option<String>)>,
    /// (part unique, part host) -> what the summaries claim of it.
    pub(super) claimed: FxHashMap<(u32, u32), Claimed>,
    /// Part host -> the inputs that name it.
    pub(super) host_inputs: FxHashMap<u32, BTreeSet<u32>>,
    /// Per part unique: occurrences naming no host, and their span.
    pub(super) unnamed: FxHashMap<u32, Claimed>,
    pub(super) extra: FxHashMap<u32, Extra>,
    /// Per input: the hosts a hunt client's rows describe that are not its own.
    foreign: Vec<(u32, BTreeSet<String>)>,
    /// Lines repeating a unique event already in their summary.
    repeated: u64,
    /// What each host's logs could say about tasks, as the summaries' headers say (a hunt
    /// client's only of its own host).
    pub(super) evidence: Vec<(String, crate::ingest::evidence::Evidence)>,
}

impl Summaries {
    /// Notes for the warnings: hunt clients describing other hosts, repeated lines.
    pub(super) fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (input, hosts) in &self.foreign {
            let shown: Vec<String> = hosts
                .iter()
                .take(5)
                .map(|h| crate::util::sanitize::for_terminal(h, 80))
                .collect();
            out.push(format!(
                "{}: a hunt client's rows describe other hosts ({}{}): kept, and their events flagged `{}`",
                crate::util::sanitize::for_terminal(&self.inputs[*input as usize], 300),
                shown.join(", "),
                if hosts.len() > 5 { ", ..." } else { "" },
                Flag::ForeignHost.name(),
            ));
        }
        if self.repeated > 0 {
            out.push(format!(
                "{} summary line{} repeat a unique event already in {} summary: each counted once",
                self.repeated,
                if self.repeated == 1 { "" } else { "s" },
                if self.repeated == 1 { "its" } else { "their" }
            ));
        }
        out
    }
}

/// Whether a host name a hunt client's rows give is the client's own (`fqdn`): the same
/// name, or the same machine named short or fully (`ws001` and `ws001.corp.example`).
fn same_machine(host: &str, fqdn: &str) -> bool {
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_string();
    host == fqdn || (host.contains('.') != fqdn.contains('.') && short(host) == short(fqdn))
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
            summaries: None,
        }
    }

    pub(super) fn intern(&mut self, v: String) -> Arc<str> {
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
        let facts = crate::timeline::step_facts(ev, |s| self.intern(s.to_string()));
        index_of(&mut self.step_index, &mut self.steps, facts)
    }
}

impl Sink for Part<'_> {
    fn summaries(&mut self) -> Option<&mut dyn SummarySink> {
        Some(self)
    }

    fn take(&mut self, ev: RawEvent) {
        if !self.profile.wants(&ev) {
            return;
        }
        let Some(unique) = self.unique_of(&ev) else {
            self.rejected += 1;
            return;
        };
        if earlier(&ev, &self.first_raw[unique as usize]) {
            self.first_raw[unique as usize] = ev.clone();
        }
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

impl SummarySink for Part<'_> {
    fn expects(&self) -> (&'static str, &'static [&'static str]) {
        (self.profile.name(), self.profile.fields())
    }

    fn summary(&mut self, info: SummaryInfo) {
        let s = self.summaries.get_or_insert_with(Box::default);
        let input = s.inputs.len() as u32;
        s.inputs.push(info.input);
        let fqdn = info.fqdn.map(|f| f.trim().to_lowercase());
        for e in info.evidence {
            let host = e.host.trim().to_lowercase();
            if fqdn.as_ref().is_none_or(|f| *f == host) {
                s.evidence.push((host, e.evidence));
            }
        }
        s.current = Some((input, fqdn));
        let hosts: Vec<u32> = info
            .hosts
            .iter()
            .filter(|h| !h.is_empty())
            .map(|h| self.host_of(&h.to_lowercase()))
            .collect();
        let s = self.summaries.get_or_insert_with(Box::default);
        for h in hosts {
            s.host_inputs.entry(h).or_default().insert(input);
        }
    }

    fn summary_event(&mut self, e: SummaryEvent) {
        let Some((input, fqdn)) = self.summaries.as_ref().and_then(|s| s.current.clone()) else {
            return;
        };
        // Values an older endpoint normalised otherwise are read as this release writes them
        // (`features::upgrade_value`), so that old and new summaries merge.
        let upgrade = crate::profile::features::upgrade_value;
        let values: Vec<Arc<str>> = e
            .values
            .into_iter()
            .map(|v| self.intern(upgrade(v)))
            .collect();
        let key = (e.channel, e.event_id, values);
        let u = match self.index.get(&key) {
            Some(&u) => {
                if earlier(&e.raw, &self.first_raw[u as usize]) {
                    self.first_raw[u as usize] = e.raw;
                }
                u
            }
            None => {
                let u = self.uniques.len() as u32;
                self.uniques.push(key.clone());
                self.index.insert(key, u);
                self.first_raw.push(e.raw);
                u
            }
        };
        let hosts: Vec<(u32, u64, String)> = e
            .hosts
            .into_iter()
            .map(|(h, n)| {
                let h = h.to_lowercase();
                (self.host_of(&h), n, h)
            })
            .collect();
        let sources: Vec<Arc<str>> = e.sources.into_iter().map(|x| self.intern(x)).collect();
        let lent: Vec<(Vec<Arc<str>>, u64)> = e
            .lent
            .into_iter()
            .map(|(v, n)| (v.into_iter().map(|x| self.intern(upgrade(x))).collect(), n))
            .collect();
        let s = self.summaries.get_or_insert_with(Box::default);
        let mut foreign = false;
        for (h, n, name) in hosts {
            if name.is_empty() {
                let c = Claimed::new(input, n, e.first_seen, e.last_seen);
                s.unnamed.entry(u).and_modify(|x| x.fold(&c)).or_insert(c);
                continue;
            }
            if let Some(f) = &fqdn
                && !same_machine(&name, f)
            {
                foreign = true;
                match s.foreign.last_mut() {
                    Some((i, set)) if *i == input => {
                        set.insert(name);
                    }
                    _ => s.foreign.push((input, BTreeSet::from([name]))),
                }
            }
            s.host_inputs.entry(h).or_default().insert(input);
            let c = Claimed::new(input, n, e.first_seen, e.last_seen);
            match s.claimed.get_mut(&(u, h)) {
                Some(x) => {
                    if x.last_input == input {
                        s.repeated += 1;
                    }
                    x.fold(&c);
                }
                None => {
                    s.claimed.insert((u, h), c);
                }
            }
        }
        if e.unnamed > 0 {
            let c = Claimed::new(input, e.unnamed, e.first_seen, e.last_seen);
            s.unnamed.entry(u).and_modify(|x| x.fold(&c)).or_insert(c);
        }
        let x = s.extra.entry(u).or_default();
        x.flags.extend(e.flags);
        if foreign {
            x.flags.insert(Flag::ForeignHost);
        }
        x.more |= e.more_lifecycles;
        for l in e.lifecycles {
            x.add_life(l);
        }
        for (v, n) in lent {
            let slot = x.lent.entry(v).or_default();
            *slot = slot.saturating_add(n);
        }
        for src in sources {
            if !x.sources.contains(&src) {
                x.sources.push(src);
            }
        }
        for mut b in e.batches {
            b.host = b.host.to_lowercase();
            b.account = upgrade(b.account);
            Extra::add_batch(&mut x.batches, b);
        }
    }
}

/// The index of `value` in `table`, appended (and indexed) when new.
pub(super) fn index_of<K: Hash + Eq + Clone>(
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
