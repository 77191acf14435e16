//! Evidence counted once, read against each task's history, the strongest calibrated.
//!
//! A model gives every field a share of an event's score. Many fields are read off one raw
//! value (a command line and its executable, folder class, LOLBin flag; a definition's field
//! and the `task_*` copy lent to its events: [`super::encode::FIELD_GROUPS`]), so summing
//! fields counted one rare value up to ten times, and an event with one strongly broken field
//! could not outrank one with many mildly rare ones (issue 25, measured on real logs).
//! [`rank`] rescores a model's ranking:
//!
//! - **Rarity against the task's history** ([`History`]): a field's share is what the model
//!   adds beyond the value's rarity (at most what a never-seen value weighs) plus how
//!   surprising the value is *for this task*, given its other events of the same kind on
//!   every host (Bayesian: with no history, its rarity among the other tasks of its folder
//!   ([`folder_prior`]), and with none there its plain rarity fleet-wide). A value the task
//!   always has is no evidence however rare; a common value it never had is ("for this task
//!   the user is always SYSTEM, here a person"). Some values count in a class
//!   ([`crate::profile::features::rarity_class`]: a resource-string author as its folder).
//! - **Once per group** ([`Groups`]): a group's surprise is its largest share plus
//!   [`WITHIN`] times the others (what a derived field adds beyond the value it is read
//!   from), and the score is the four largest groups' surprises plus a quarter of the
//!   others' ([`pile`]), less a little for each host beyond the first the row was seen on
//!   ([`spread`], up to four).
//! - **The strongest piece calibrated** ([`Calibration`]): each group's surprise against how
//!   often the rows of the same kind are at least that surprising there (`-ln` of the tail
//!   share); the largest, times [`STRONGEST`], is added, so that one group broken as no other
//!   row's is can reach the top.
//!
//! The words a hunter reads come from the same facts ([`reasons`]). docs/benchmarks.md
//! ("Evidence once") has what was measured and what else was tried.

use super::Ranking;
use super::encode::Encoder;
use crate::frame::{Dataset, RowKind};

/// Training rows kept per group and kind (evenly spaced quantiles of the sorted surprises):
/// enough for a tail share of 1/1024 at a bounded size whatever the rows.
const KEPT: usize = 1024;

/// Pieces of evidence said in words ([`reasons`]) in the drill-down and the exports.
pub const SAID: usize = 3;

/// Weight of a group's shares after its largest ([`Groups::surprises`]).
pub const WITHIN: f32 = 0.5;

/// Weight of the strongest group's calibrated surprise ([`Calibration`]) added to the sum of
/// the groups' surprises: how one strongly broken group reaches the top (measured in
/// docs/benchmarks.md, "Evidence once": 0, 2 and 4 on the real backgrounds and the small
/// simulated fleets; 4 ranked best there).
pub const STRONGEST: f64 = 4.0;

/// The evidence groups of a dataset's fields: per group, the indices of its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    members: Vec<Vec<usize>>,
}

impl Groups {
    /// The groups the masked objective hides together ([`Encoder::groups_of`]: fields named
    /// in one of [`super::encode::FIELD_GROUPS`] share a group, every other field is its own),
    /// in the order of their first field.
    pub fn of(fields: &[&str]) -> Groups {
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut slot: std::collections::HashMap<u32, usize> = Default::default();
        for (f, id) in Encoder::groups_of(fields).into_iter().enumerate() {
            let g = *slot.entry(id).or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            members[g].push(f);
        }
        Groups { members }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The fields of group `g`.
    pub fn members(&self, g: usize) -> &[usize] {
        self.members.get(g).map_or(&[], Vec::as_slice)
    }

    /// The group of field `f`.
    pub fn group_of(&self, f: usize) -> Option<usize> {
        self.members.iter().position(|m| m.contains(&f))
    }

    /// Per group, its surprise in one row's field shares: the largest share of its fields,
    /// and [`WITHIN`] times each other share (what a derived field adds beyond the value it
    /// is read from).
    pub fn surprises(&self, shares: &[f32]) -> Vec<f32> {
        self.surprises_with(shares, WITHIN)
    }

    /// [`Groups::surprises`] with another weight of the shares after the largest.
    pub fn surprises_with(&self, shares: &[f32], within: f32) -> Vec<f32> {
        self.members
            .iter()
            .map(|m| {
                let (max, sum) = m
                    .iter()
                    .filter_map(|&f| shares.get(f))
                    .fold((0f32, 0f32), |(a, s), &b| (a.max(b), s + b.max(0.0)));
                max + within * (sum - max).max(0.0)
            })
            .collect()
    }
}

/// Per row kind and group, the training set's surprises (sorted quantiles): what a group's
/// surprise is compared with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    /// Per kind, per group: sorted surprises (at most [`KEPT`], evenly spaced quantiles).
    sorted: [Vec<Vec<f32>>; 2],
}

fn kind_slot(kind: RowKind) -> usize {
    match kind {
        RowKind::Event => 0,
        RowKind::Definition => 1,
    }
}

impl Calibration {
    /// Fit on the training rows of `ds` (those it [`Dataset::trains_on`]) with their field
    /// shares.
    pub fn fit(ds: &Dataset, groups: &Groups, field_scores: &[Vec<f32>]) -> Calibration {
        Calibration::fit_with(ds, groups, field_scores, WITHIN)
    }

    /// [`Calibration::fit`] with another [`Groups::surprises_with`] weight.
    pub fn fit_with(
        ds: &Dataset,
        groups: &Groups,
        field_scores: &[Vec<f32>],
        within: f32,
    ) -> Calibration {
        let mut all: [Vec<Vec<f32>>; 2] = [
            vec![Vec::new(); groups.len()],
            vec![Vec::new(); groups.len()],
        ];
        for (u, shares) in field_scores.iter().enumerate() {
            if !ds.trains_on(u) {
                continue;
            }
            let k = ds.uniques.get(u).map_or(0, |e| kind_slot(e.kind()));
            for (g, s) in groups
                .surprises_with(shares, within)
                .into_iter()
                .enumerate()
            {
                all[k][g].push(s);
            }
        }
        for per_kind in &mut all {
            for v in per_kind.iter_mut() {
                v.sort_by(f32::total_cmp);
                if v.len() > KEPT {
                    let n = v.len();
                    *v = (0..KEPT).map(|i| v[i * (n - 1) / (KEPT - 1)]).collect();
                }
            }
        }
        Calibration { sorted: all }
    }

    /// `-ln` of the share of training rows of `kind` at least `s` surprising in group `g`
    /// (with one row added either side, so that it is finite and a row beyond every training
    /// row gets the most).
    pub fn surprise(&self, kind: RowKind, g: usize, s: f32) -> f64 {
        let k = kind_slot(kind);
        let Some(sorted) = self.sorted[k].get(g).filter(|v| !v.is_empty()) else {
            return 0.0;
        };
        let n = sorted.len();
        // Rows at least as surprising, allowing for float noise.
        let below = sorted.partition_point(|&x| x < s - 1e-4);
        let share = ((n - below) as f64 + 1.0) / (n as f64 + 1.0);
        -share.ln()
    }
}

/// TaskScheduler/Operational events whose account is the context the task runs in (task
/// started, finished, triggered by a user: their `UserContext`).
const RUN_CONTEXT: &[u32] = &[100, 102, 110];

/// Other occurrences of a row's own kind below which its task's other run-context kinds are
/// read too ([`History::across_kinds`]).
const THIN: u64 = 3;

/// Weight of the fleet-wide frequency against a task's own history: with no history a value
/// is as surprising as it is rare; each row of history weighs as much as this prior.
const PRIOR_ROWS: f64 = 1.0;

/// What a task usually holds in a field: the most common value among its other rows of the
/// same kind, its share of them, and how many rows that history has.
#[derive(Debug, Clone, PartialEq)]
pub struct Usual {
    pub value: std::sync::Arc<str>,
    pub share: f32,
    pub rows: u64,
}

/// Per row and field, how surprising the row's value is given its task's *other* rows of
/// the same kind (channel and event id; for definitions, the task's definitions on other
/// hosts), on every host: `-ln((n(v) + a p(v)) / (n + a))` with `n` the occurrences of that
/// history, `n(v)` those holding the value, `p(v)` the value's share among all rows of the
/// kind and `a` = [`PRIOR_ROWS`]. Without history it is the value's plain rarity; with
/// history a value the task always has is no evidence however rare it is fleet-wide, and a
/// common value the task never had is ("for this task the user is always SYSTEM, here a
/// person"). The task's name itself, and rows naming no task, get the plain rarity. A row
/// that came in a servicing batch ([`crate::context::batches`]) keeps its share of the batch:
/// `1/n` of its surprise for a batch of `n` tasks.
#[derive(Debug, Clone, Default)]
pub struct History {
    fields: usize,
    ceiling: f32,
    /// Per row and field (`u * fields + f`): the surprise.
    surprise: Vec<f32>,
    /// Per row and field: occurrences of the row's value among all rows.
    seen: Vec<u64>,
    /// Occurrences of all rows.
    total: u64,
    /// Where a row's value is not what its task usually holds: `(u, f)` and that usual,
    /// sorted (rows that match their history need nothing kept).
    usual: Vec<((u32, u32), Usual)>,
}

impl History {
    pub fn of(ds: &Dataset) -> History {
        use std::collections::HashMap;
        let nf = ds.fields.len();
        let n = ds.uniques.len();
        let name_field = ds.fields.iter().position(|f| *f == "task_name");
        let kind_of = |u: usize| {
            let e = &ds.uniques[u];
            (e.channel.as_str(), e.event_id)
        };
        let weight = |u: usize| {
            if ds.trains_on(u) {
                ds.uniques[u].count().max(1)
            } else {
                0
            }
        };
        // The kinds, numbered; per kind and field, fleet-wide counts.
        let mut kinds: HashMap<(&str, u32), usize> = HashMap::new();
        let kind: Vec<usize> = (0..n)
            .map(|u| {
                let k = kinds.len();
                *kinds.entry(kind_of(u)).or_insert(k)
            })
            .collect();
        // Fleet-wide counts per field over every kind (as the models' frequency prior
        // counts): a value is as rare as it is among all rows.
        let mut global: Vec<HashMap<std::borrow::Cow<'_, str>, u64>> = vec![HashMap::new(); nf];
        let mut all = 0u64;
        for u in 0..n {
            let w = weight(u);
            all += w;
            for (f, v) in ds.uniques[u].values.iter().enumerate().take(nf) {
                *global[f]
                    .entry(crate::profile::features::rarity_class(ds.fields[f], v))
                    .or_default() += w;
            }
        }
        // Per row and field: how often its value (its class) is seen, and that as the
        // value's plain rarity, the prior the folder and the task's history refine.
        let mut seen = vec![0u64; n * nf];
        let mut prior = vec![1f64; n * nf];
        for u in 0..n {
            for f in 0..nf {
                let v = &*ds.uniques[u].values[f];
                let c = global[f]
                    .get(&crate::profile::features::rarity_class(ds.fields[f], v))
                    .copied()
                    .unwrap_or(0);
                seen[u * nf + f] = c;
                prior[u * nf + f] = ((c as f64 + 1.0) / (all as f64 + 1.0)).min(1.0);
            }
        }
        folder_prior(ds, &kind, &weight, &mut prior);
        let mut surprise = vec![0f32; n * nf];
        for u in 0..n {
            for f in 0..nf {
                if is_value(ds, u, f) {
                    surprise[u * nf + f] = -prior[u * nf + f].ln() as f32;
                }
            }
        }
        let mut history = History {
            fields: nf,
            ceiling: ((all as f64) + 1.0).ln() as f32,
            surprise,
            seen,
            total: all,
            usual: Vec::new(),
        };
        // Per task and kind, its rows (in row order: the same input, the same history).
        let mut groups: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        for (u, &k) in kind.iter().enumerate() {
            if let Some(t) = ds.tasks.of(u) {
                groups.entry((t, k)).or_default().push(u);
            }
        }
        for rows in groups.values().filter(|r| r.len() >= 2) {
            // The profile's own fields: what context adds (prevalence, lifecycle flags, the
            // definition's fields lent to events) depends on what was collected where, not
            // on the task, and keeps its plain rarity.
            for f in (0..nf).filter(|&f| Some(f) != name_field && !ds.empty_is_value(f)) {
                history.learn(ds, rows, f, &weight, &prior);
            }
        }
        history.across_kinds(ds, &kind, &groups, &weight, &prior);
        history.usual.sort_by_key(|(at, _)| *at);
        // A servicing batch is one piece of evidence however many tasks it changed: each of
        // its rows keeps its share of the batch's surprise.
        // The fields a batched definition lends the task's runs count as the batch does.
        let lent: Vec<bool> = ds
            .fields
            .iter()
            .map(|f| crate::timeline::ENRICHED.iter().any(|(name, _)| name == f))
            .collect();
        for u in 0..n {
            let (own, lent_weight) = (ds.batches.weight(u), ds.batches.lent_weight(u));
            if own >= 1.0 && lent_weight >= 1.0 {
                continue;
            }
            for (f, s) in history.surprise[u * nf..(u + 1) * nf]
                .iter_mut()
                .enumerate()
            {
                *s *= if lent[f] { own.min(lent_weight) } else { own };
            }
        }
        history
    }

    /// Rows whose own kind says little of their task (fewer than [`THIN`] other
    /// occurrences) read the task's rows of every kind that names the same account
    /// ([`RUN_CONTEXT`]: the context it runs in when started, finished or triggered by a
    /// user): "this task always runs as c137\administrator, here SYSTEM" holds for a one-off
    /// `110` as for the task's hundred `100`s. What the kind itself said is replaced.
    fn across_kinds(
        &mut self,
        ds: &Dataset,
        kind: &[usize],
        groups: &std::collections::HashMap<(usize, usize), Vec<usize>>,
        weight: &dyn Fn(usize) -> u64,
        prior: &[f64],
    ) {
        use std::collections::{BTreeMap, HashSet};
        let nf = self.fields;
        let name_field = ds.fields.iter().position(|f| *f == "task_name");
        // Per task, its rows of the run-context kinds, in row order.
        let mut families: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for u in 0..ds.uniques.len() {
            let e = &ds.uniques[u];
            if e.channel == crate::event::CH_TASKSCHEDULER
                && RUN_CONTEXT.contains(&e.event_id)
                && let Some(t) = ds.tasks.of(u)
            {
                families.entry(t).or_default().push(u);
            }
        }
        let before = self.usual.len();
        for (t, rows) in families.iter().filter(|(_, r)| r.len() >= 2) {
            let thin = |u: usize| {
                groups.get(&(*t, kind[u])).is_none_or(|g| {
                    g.iter()
                        .filter(|&&o| o != u)
                        .map(|&o| weight(o))
                        .sum::<u64>()
                        < THIN
                })
            };
            for &u in rows.iter().filter(|&&u| thin(u)) {
                for f in (0..nf).filter(|&f| Some(f) != name_field && !ds.empty_is_value(f)) {
                    if !is_value(ds, u, f) {
                        continue;
                    }
                    let with: Vec<usize> = rows
                        .iter()
                        .copied()
                        .filter(|&o| o == u || is_value(ds, o, f))
                        .collect();
                    if with.len() >= 2 {
                        self.learn_rows(ds, &with, Some(u), f, weight, prior);
                    }
                }
            }
        }
        // What a row's own kind said of it gives way to what the task's kinds say.
        let across = self.usual.split_off(before);
        let replaced: HashSet<(u32, u32)> = across.iter().map(|(k, _)| *k).collect();
        self.usual.retain(|(k, _)| !replaced.contains(k));
        self.usual.extend(across);
    }

    /// [`History::learn_rows`] for every row of `rows`.
    fn learn(
        &mut self,
        ds: &Dataset,
        rows: &[usize],
        f: usize,
        weight: &dyn Fn(usize) -> u64,
        prior: &[f64],
    ) {
        self.learn_rows(ds, rows, None, f, weight, prior);
    }

    /// Field `f` of one task's rows of one kind: each row's surprise given the others, and
    /// what they usually hold where the row differs. Linear in the rows.
    fn learn_rows(
        &mut self,
        ds: &Dataset,
        rows: &[usize],
        only: Option<usize>,
        f: usize,
        weight: &dyn Fn(usize) -> u64,
        prior: &[f64],
    ) {
        use std::collections::HashMap;
        let nf = self.fields;
        let total: u64 = rows.iter().map(|&u| weight(u)).sum();
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for &u in rows {
            *counts.entry(&*ds.uniques[u].values[f]).or_default() += weight(u);
        }
        // The two most common values (most first; ties: the smaller value).
        let mut top: Vec<(&str, u64)> = counts.iter().map(|(&v, &c)| (v, c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        top.truncate(2);
        for &u in rows {
            if only.is_some_and(|o| o != u) {
                continue;
            }
            let own = weight(u);
            let history = total - own;
            let v = &*ds.uniques[u].values[f];
            if history == 0 || !is_value(ds, u, f) {
                continue;
            }
            let with = counts.get(v).copied().unwrap_or(0) - own;
            let p = (with as f64 + PRIOR_ROWS * prior[u * nf + f]) / (history as f64 + PRIOR_ROWS);
            self.surprise[u * nf + f] = -p.ln() as f32;
            // The most common other value, this row's own occurrences left out: said only
            // where it outweighs them (a row that is most of its task's history is what the
            // task usually does).
            let best = top
                .iter()
                .map(|&(x, c)| (x, if x == v { c - own } else { c }))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)));
            if let Some((x, c)) = best
                && x != v
                && c > own
            {
                self.usual.push((
                    (u as u32, f as u32),
                    Usual {
                        value: std::sync::Arc::from(x),
                        share: c as f32 / history as f32,
                        rows: history,
                    },
                ));
            }
        }
    }

    /// The surprise of a value seen nowhere: `ln(n + 1)` for `n` occurrences in all.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }

    /// The surprise of row `u`'s value in field `f` given its task's history.
    pub fn surprise(&self, u: usize, f: usize) -> f32 {
        if f >= self.fields {
            return 0.0;
        }
        self.surprise
            .get(u * self.fields + f)
            .copied()
            .unwrap_or(0.0)
    }

    /// Occurrences of row `u`'s value of field `f` among all rows, and of all rows.
    pub fn seen(&self, u: usize, f: usize) -> (u64, u64) {
        if f >= self.fields {
            return (0, 0);
        }
        (
            self.seen.get(u * self.fields + f).copied().unwrap_or(0),
            self.total,
        )
    }

    /// What row `u`'s task usually holds in field `f`, where that is not the row's value.
    pub fn usual(&self, u: usize, f: usize) -> Option<&Usual> {
        let at = (u as u32, f as u32);
        self.usual
            .binary_search_by_key(&at, |(k, _)| *k)
            .ok()
            .map(|i| &self.usual[i].1)
    }
}

/// The folder of a task key (`\microsoft\windows\updateorchestrator` of
/// `\microsoft\windows\updateorchestrator\schedule scan`); `None` at the root.
fn folder_of(key: &str) -> Option<&str> {
    let at = key.rfind('\\')?;
    (at > 0).then(|| &key[..at])
}

/// Each row's prior for its values, read against its task's *siblings* (the other tasks of
/// its folder, rows of the same kind, on every host) before the fleet:
/// `(n(v) + a p(v)) / (n + a)` with `n` the siblings' occurrences, `n(v)` those holding the
/// value, `p(v)` the fleet-wide prior in `prior` and `a` = [`PRIOR_ROWS`]. Windows' own
/// tasks of one folder share an author, a principal, a kind of action: a value one sibling
/// never had but the others do is no news; a value none of them has is.
fn folder_prior(ds: &Dataset, kind: &[usize], weight: &dyn Fn(usize) -> u64, prior: &mut [f64]) {
    use std::collections::HashMap;
    let nf = ds.fields.len();
    let name_field = ds.fields.iter().position(|f| *f == "task_name");
    let mut folders: HashMap<(&str, usize), Vec<(usize, usize)>> = HashMap::new();
    for (u, &k) in kind.iter().enumerate() {
        let Some(t) = ds.tasks.of(u) else { continue };
        if let Some(folder) = folder_of(&ds.tasks.tasks[t].key) {
            folders.entry((folder, k)).or_default().push((t, u));
        }
    }
    let context = |f: usize| crate::context::CONTEXT_FIELDS.contains(&ds.fields[f]);
    for rows in folders.values() {
        if rows.iter().all(|&(t, _)| t == rows[0].0) {
            continue;
        }
        // Occurrences per task of the folder, and in all.
        let mut per_task: HashMap<usize, u64> = HashMap::new();
        for &(t, u) in rows {
            *per_task.entry(t).or_default() += weight(u);
        }
        let total: u64 = per_task.values().sum();
        for f in (0..nf).filter(|&f| Some(f) != name_field && !context(f)) {
            let mut counts: HashMap<&str, u64> = HashMap::new();
            let mut own: HashMap<(usize, &str), u64> = HashMap::new();
            for &(t, u) in rows {
                let v = &*ds.uniques[u].values[f];
                let w = weight(u);
                *counts.entry(v).or_default() += w;
                *own.entry((t, v)).or_default() += w;
            }
            for &(t, u) in rows {
                let v = &*ds.uniques[u].values[f];
                let siblings = total - per_task[&t];
                if siblings == 0 || !is_value(ds, u, f) {
                    continue;
                }
                let with = counts[v] - own[&(t, v)];
                let at = u * nf + f;
                prior[at] = (with as f64 + PRIOR_ROWS * prior[at]) / (siblings as f64 + PRIOR_ROWS);
            }
        }
    }
}

/// Whether row `u` holds a value in field `f`: an empty field that is no value of its own
/// (no author) is no evidence either way.
fn is_value(ds: &Dataset, u: usize, f: usize) -> bool {
    !ds.uniques[u].values[f].is_empty() || ds.empty_is_value(f)
}

/// Per row and field, the evidence a field gives: what the model adds beyond the value's
/// rarity (`field_parts`' first part; the whole share where the ranking has no split), plus
/// the value's surprise given its task's history ([`History`]) in place of its plain rarity.
pub fn with_history(
    field_scores: &[Vec<f32>],
    field_parts: &[Vec<(f32, f32)>],
    history: &History,
    model_part: bool,
) -> Vec<Vec<f32>> {
    field_scores
        .iter()
        .enumerate()
        .map(|(u, shares)| {
            shares
                .iter()
                .enumerate()
                .map(|(f, &s)| {
                    let beyond = match field_parts.get(u).and_then(|p| p.get(f)) {
                        Some(&(c, _)) => c,
                        None => s,
                    };
                    // What the model adds counts at most what a value never seen does: a
                    // combination it was sure of and that did not happen is as strong as a
                    // new value, never ten of them (its confident contradictions weigh up to
                    // five times a surprise otherwise).
                    let beyond = if model_part {
                        beyond.clamp(0.0, history.ceiling())
                    } else {
                        0.0
                    };
                    beyond + history.surprise(u, f)
                })
                .collect()
        })
        .collect()
}

/// `ranking` scored by its evidence: each field's share becomes what the model adds beyond
/// the value's rarity plus the value's surprise given its task's history ([`with_history`]),
/// and the score the sum of the groups' surprises ([`Groups::surprises`]: a value and what is
/// read off it count once, the derived fields at [`WITHIN`]). `field_parts` then split each
/// share into the model's part and the history's; the history is kept for the explanations
/// ([`reasons`]).
pub fn rank(ds: &Dataset, ranking: Ranking) -> Ranking {
    let history = History::of(ds);
    let groups = Groups::of(&ds.fields);
    let shares = with_history(&ranking.field_scores, &ranking.field_parts, &history, true);
    let parts: Vec<Vec<(f32, f32)>> = shares
        .iter()
        .enumerate()
        .map(|(u, row)| {
            row.iter()
                .enumerate()
                .map(|(f, &s)| {
                    let h = history.surprise(u, f);
                    (s - h, h)
                })
                .collect()
        })
        .collect();
    let calibration = Calibration::fit(ds, &groups, &shares);
    let contradictions = contradictions(ds, &history);
    let contradiction = Calibration::fit(ds, &groups, &contradictions);
    let scores = shares
        .iter()
        .zip(&contradictions)
        .enumerate()
        .map(|(u, (row, against))| {
            let kind = ds.uniques.get(u).map_or(RowKind::Event, |e| e.kind());
            let g = groups.surprises(row);
            let strongest = g
                .iter()
                .enumerate()
                .map(|(i, &x)| calibration.surprise(kind, i, x))
                .fold(0f64, f64::max);
            let broken = groups
                .surprises(against)
                .iter()
                .enumerate()
                .map(|(i, &x)| contradiction.surprise(kind, i, x))
                .fold(0f64, f64::max);
            let hosts = ds.uniques.get(u).map_or(1, |e| e.hosts.len());
            pile(&g) - spread(hosts) + STRONGEST * strongest + CONTRADICTION * broken
        })
        .collect();
    let Ranking {
        model,
        field_z,
        expected,
        ..
    } = ranking;
    let mut r = Ranking::from_scores(model, ds, scores, shares);
    r.field_z = field_z;
    r.expected = expected;
    r.field_parts = parts;
    r.history = Some(std::sync::Arc::new(history));
    r
}

/// Groups counted whole in a row's score, the most surprising first ([`pile`]); the
/// others count [`PILE_REST`] of theirs.
pub const PILE_WHOLE: usize = 4;

/// Weight of the groups after the [`PILE_WHOLE`] most surprising ([`pile`]).
pub const PILE_REST: f64 = 0.25;

/// The groups' surprises as one figure: the [`PILE_WHOLE`] largest whole, each other at
/// [`PILE_REST`]. One-off settings, triggers, principal and run level beside a one-off
/// command are each a little rare on any host Windows configured itself; summed whole,
/// such a pile outranked a single broken group (measured in docs/benchmarks.md, "A pile
/// counted to four").
pub fn pile(groups: &[f32]) -> f64 {
    let mut v: Vec<f64> = groups.iter().map(|&x| f64::from(x)).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    v.iter()
        .enumerate()
        .map(|(i, &x)| if i < PILE_WHOLE { x } else { PILE_REST * x })
        .sum()
}

/// Taken off a row's score per natural log of the hosts it was seen on, up to
/// [`SPREAD_HOSTS`]: what Windows does is seen on many hosts, an intrusion on few
/// (hunters' stacking). Capped, so that a task pushed to a whole fleet loses at most
/// `SPREAD * ln(SPREAD_HOSTS)` (22 points, about one strongly calibrated group).
pub const SPREAD: f64 = 16.0;

/// Hosts beyond which being seen on more takes nothing more off ([`SPREAD`]).
pub const SPREAD_HOSTS: usize = 4;

/// What [`SPREAD`] takes off a row seen on `hosts` hosts.
pub fn spread(hosts: usize) -> f64 {
    SPREAD * (hosts.clamp(1, SPREAD_HOSTS) as f64).ln()
}

/// Weight of the strongest *contradiction* (a common value its task's history says it
/// does not hold), calibrated against how often rows contradict their history there, added
/// to the score. Measured on five seeds (docs/benchmarks.md, "Contradictions", "The
/// contradiction weight again"): before the pile ([`pile`]) 0 / 4 / 8 gave real P@20 0.71 /
/// 0.83 / 0.84 and 8 cost the simulated worst ranks 10-25 places; with it, 4 / 5 / 6 / 8 give
/// 0.88 / 0.90 / 0.91 / 0.91, the simulated worst ranks 2-8 places lower at 6, 4-22 at 8.
pub const CONTRADICTION: f64 = 6.0;

/// The fields whose contradiction is evidence: what runs, as whom, how privileged, whether
/// hidden, by whom registered (and what a definition lends of those): every field of the
/// masked objective's groups ([`super::encode::FIELD_GROUPS`]) but the triggers', plus these.
/// A task's result code, trigger, settings or prevalence changing to a value common
/// elsewhere is what updates and failures do every day (a run failing with "file not found"
/// where the task usually succeeds): measured, they crowded the simulated fleets' attacks
/// (worst rank +6 to +11).
const CONTRADICTABLE_ALONE: &[&str] = &["user", "parent"];

/// Whether `field` can contradict its task's history ([`CONTRADICTABLE_ALONE`]).
fn contradictable(field: &str) -> bool {
    CONTRADICTABLE_ALONE.contains(&field)
        || super::encode::FIELD_GROUPS
            .iter()
            .filter(|g| !g.contains(&"triggers"))
            .any(|g| g.contains(&field))
}

/// Per row and field, its surprise where it contradicts its task's history with a value
/// common elsewhere (seen at least three times in all; the task usually holds another), and
/// 0 elsewhere: "for this task the user is always SYSTEM, here a person" apart from "a value
/// never seen", so that a broken combination is compared with the other broken
/// combinations, not with every one-off value.
fn contradictions(ds: &Dataset, history: &History) -> Vec<Vec<f32>> {
    let says_who_or_what: Vec<bool> = ds.fields.iter().map(|f| contradictable(f)).collect();
    (0..ds.uniques.len())
        .map(|u| {
            (0..says_who_or_what.len())
                .map(|f| {
                    let common = history.seen(u, f).0 >= 3;
                    if says_who_or_what[f] && common && history.usual(u, f).is_some() {
                        history.surprise(u, f)
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// The strongest pieces of evidence of row `u`, in words a hunter reads: at most `n`, one
/// per group, each from the field with the largest share in its group (shares under 1 are
/// no evidence worth a sentence). Values are the log's own text: escape them before a
/// terminal.
pub fn reasons(ds: &Dataset, r: &Ranking, u: usize, n: usize) -> Vec<String> {
    // Only a ranking scored by its evidence knows how often values are seen.
    let Some(history) = r.history.as_deref() else {
        return Vec::new();
    };
    let Some(shares) = r.field_scores.get(u) else {
        return Vec::new();
    };
    let Some(e) = ds.uniques.get(u) else {
        return Vec::new();
    };
    let groups = Groups::of(&ds.fields);
    let mut best: Vec<(usize, f32)> = (0..groups.len())
        .filter_map(|g| {
            // An empty field (no definition lent, no author) is said by the fields, not here.
            groups
                .members(g)
                .iter()
                .filter(|&&f| e.values.get(f).is_some_and(|v| !v.is_empty()))
                .map(|&f| (f, shares.get(f).copied().unwrap_or(0.0)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        })
        .filter(|&(_, s)| s >= 1.0)
        .collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let what = if e.kind() == RowKind::Definition {
        "definition"
    } else {
        "event"
    };
    let hosts = format!("on {} of {} hosts", e.hosts.len(), ds.fleet_size());
    // A row of a servicing batch says so (its rarity counts for the batch), in place of its
    // weakest piece.
    let batch = match ds.batches.of(u) {
        Some(b) => Some(batch_reason(ds, b)),
        None => (ds.batches.lent_weight(u) < 1.0).then(|| {
            "its task's definition came in a servicing batch: the task_* fields count once for \
             the batch"
                .to_string()
        }),
    };
    let pieces = n.saturating_sub(usize::from(batch.is_some() && n > 0));
    let mut said: Vec<String> = best
        .into_iter()
        .take(pieces)
        .map(|(f, _)| {
            let field = ds.fields[f];
            let value = &*e.values[f];
            let shown = if value.is_empty() { "(empty)" } else { value };
            let usual = history.usual(u, f);
            let (seen, total) = history.seen(u, f);
            // An expectation of "a rare value" says no more than the rarity does.
            let expected = r
                .expected
                .get(u)
                .and_then(|x| x.get(f))
                .filter(|(v, p)| {
                    **v != *value && *p >= 0.5 && !v.is_empty() && !v.starts_with("(a ")
                });
            if let Some(usual) = usual {
                let was = if usual.value.is_empty() {
                    "(empty)"
                } else {
                    &usual.value
                };
                format!(
                    "for this task {field} is {} {was} ({:.0} % of {} other occurrences), here {shown}",
                    if usual.share >= 0.999 { "always" } else { "usually" },
                    usual.share * 100.0,
                    usual.rows
                )
            } else if seen <= e.count() && total > e.count() {
                format!("{field} {shown} never seen elsewhere ({hosts})")
            } else if let Some((v, p)) = expected {
                format!(
                    "the rest of the {what} predicts {field} {v} ({:.0} %), here {shown}",
                    p * 100.0
                )
            } else {
                format!("{field} {shown} is rare: {seen} of {total} occurrences")
            }
        })
        .collect();
    if n > 0 {
        said.extend(batch);
    }
    said
}

/// A servicing batch in words: who changed how many tasks, where, how fast.
fn batch_reason(ds: &Dataset, b: &crate::frame::Batch) -> String {
    let who = if &*b.account == "<machine>$" {
        "the computer account"
    } else {
        &b.account
    };
    let host = ds.hosts.get(b.host as usize).map_or("", String::as_str);
    format!(
        "one of {} tasks {who} changed within {} s on {host} (a servicing batch): \
         its rare values count once for the batch",
        b.tasks,
        (b.span + 999_999) / 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RawEvent;
    use crate::profile::by_name;
    use std::sync::Arc;

    fn start(task: &str, user: &str, id: u64) -> RawEvent {
        RawEvent {
            source: Arc::from("t"),
            channel: "Microsoft-Windows-TaskScheduler/Operational".into(),
            event_id: 100,
            provider: String::new(),
            computer: format!("pc{}", id % 3),
            time: Some(id as i64),
            record_id: Some(id),
            data: vec![
                ("TaskName".into(), task.into()),
                ("UserContext".into(), user.into()),
                ("InstanceId".into(), format!("{{{id}}}")),
            ],
        }
    }

    /// Ten starts of `\T` as SYSTEM, a common account on other tasks, and one start of `\T`
    /// as that account.
    fn fleet_events() -> Vec<RawEvent> {
        let mut events = Vec::new();
        for i in 0..10 {
            events.push(start("\\T", "NT AUTHORITY\\SYSTEM", i));
            events.push(start(&format!("\\U{}", i % 3), "corp\\jdoe", 100 + i));
        }
        events.push(start("\\T", "corp\\jdoe", 999));
        events
    }

    fn fleet() -> Dataset {
        dataset(fleet_events())
    }

    /// The scheduled-task dataset of `events`, with its context.
    fn dataset(events: Vec<RawEvent>) -> Dataset {
        let mut ds = Dataset::build(by_name("scheduled-tasks").unwrap().as_ref(), events);
        crate::context::add(&mut ds);
        ds
    }

    fn find(ds: &Dataset, task: &str, user: &str) -> usize {
        (0..ds.uniques.len())
            .find(|&u| ds.value(u, "task_name") == task && ds.value(u, "user").contains(user))
            .unwrap()
    }

    #[test]
    fn a_common_value_the_task_never_had_is_evidence_and_its_own_value_is_not() {
        let ds = fleet();
        let user = ds.fields.iter().position(|f| *f == "user").unwrap();
        let h = History::of(&ds);
        let odd = find(&ds, "\\T", "jdoe");
        let usual = find(&ds, "\\T", "system");
        let elsewhere = find(&ds, "\\U0", "jdoe");
        // jdoe is as common as SYSTEM fleet-wide, but never ran \T.
        assert!(h.surprise(odd, user) > h.surprise(elsewhere, user) + 2.0);
        // The usual row's history is the other rows of its task (its own occurrences left
        // out, so that a task that only ever ran one way keeps its plain rarity): the odd
        // start, one against its ten.
        assert!(h.surprise(usual, user) + 1.5 < h.surprise(odd, user));
        let said = h.usual(odd, user).unwrap();
        assert_eq!(&*said.value, "nt authority\\system");
        assert!((said.share - 1.0).abs() < 1e-6);
        assert_eq!(said.rows, 10);
        // Rows that match their history keep nothing.
        assert!(h.usual(usual, user).is_none());
        // The task's name itself is read by its plain rarity: never history.
        let name = ds.fields.iter().position(|f| *f == "task_name").unwrap();
        assert!(h.usual(odd, name).is_none());
    }

    #[test]
    fn a_kind_the_task_rarely_logs_is_read_against_its_other_run_contexts() {
        // \T starts ten times as SYSTEM and once as jdoe (`fleet_events`); its one `110`
        // (triggered by a user) names jdoe, an account common elsewhere; a `110` of \U0
        // names jdoe as its starts do.
        let mut events = fleet_events();
        let triggered = |task: &str, user: &str, id: u64| RawEvent {
            event_id: 110,
            ..start(task, user, id)
        };
        events.push(triggered("\\T", "corp\\jdoe", 500));
        events.push(triggered("\\U0", "corp\\jdoe", 501));
        let ds = dataset(events);
        let user = ds.fields.iter().position(|f| *f == "user").unwrap();
        let of = |task: &str| {
            (0..ds.uniques.len())
                .find(|&u| ds.uniques[u].event_id == 110 && ds.value(u, "task_name") == task)
                .unwrap()
        };
        let (odd, fine) = (of("\\T"), of("\\U0"));
        let h = History::of(&ds);
        // Its only `110`: read against the task's starts, it contradicts them.
        let said = h.usual(odd, user).expect("the starts' account");
        assert_eq!(&*said.value, "nt authority\\system");
        assert_eq!(said.rows, 11);
        assert!(h.surprise(odd, user) > h.surprise(fine, user) + 1.0);
        assert!(contradictions(&ds, &h)[odd][user] > 2.0);
        // The same account as the task's starts: no evidence.
        assert!(h.usual(fine, user).is_none());
        assert_eq!(contradictions(&ds, &h)[fine][user], 0.0);
    }

    #[test]
    fn a_task_is_read_against_its_folder_before_the_fleet() {
        // Three tasks of \\F run as a service account; the fleet's other tasks as SYSTEM.
        let mut events = Vec::new();
        for (i, t) in ["\\F\\A", "\\F\\B", "\\F\\C"].iter().enumerate() {
            for j in 0..2 {
                events.push(start(t, "corp\\svc", (10 * i + j) as u64));
            }
        }
        for i in 0..60 {
            events.push(start(
                &format!("\\U{}", i % 3),
                "NT AUTHORITY\\SYSTEM",
                100 + i,
            ));
        }
        // A new sibling as the service account and as SYSTEM; tasks of a folder of their
        // own (no siblings) alike.
        events.push(start("\\F\\D", "corp\\svc", 900));
        events.push(start("\\F\\E", "NT AUTHORITY\\SYSTEM", 901));
        events.push(start("\\G\\D", "corp\\svc", 902));
        events.push(start("\\H\\E", "NT AUTHORITY\\SYSTEM", 903));
        let ds = dataset(events);
        let user = ds.fields.iter().position(|f| *f == "user").unwrap();
        let h = History::of(&ds);
        let at = |task: &str, who: &str| h.surprise(find(&ds, task, who), user);
        // What the siblings share is no news for a new sibling, though as rare fleet-wide.
        assert!(at("\\F\\D", "svc") + 1.0 < at("\\G\\D", "svc"));
        // What none of them has is news, though common fleet-wide.
        assert!(at("\\F\\E", "system") > at("\\H\\E", "system") + 1.0);
        assert_eq!(folder_of("\\f\\d"), Some("\\f"));
        assert_eq!(folder_of("\\a\\b\\c"), Some("\\a\\b"));
        assert_eq!(folder_of("\\root"), None);
        assert_eq!(folder_of("plain"), None);
    }

    #[test]
    fn groups_count_a_value_and_what_is_read_off_it_once() {
        let g = Groups::of(&["command", "exe", "user", "dir_class", "principal"]);
        // command, exe and dir_class are one group; user alone; principal its own group.
        assert_eq!(g.len(), 3);
        assert_eq!(g.group_of(0), g.group_of(1));
        assert_eq!(g.group_of(0), g.group_of(3));
        assert_ne!(g.group_of(2), g.group_of(4));
        let s = g.surprises(&[4.0, 2.0, 1.0, 2.0, 0.5]);
        let command = g.group_of(0).unwrap();
        assert!((s[command] - (4.0 + WITHIN * 4.0)).abs() < 1e-6, "{s:?}");
        assert!((s[g.group_of(2).unwrap()] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_calibrated_surprise_grows_with_how_few_rows_are_as_surprising() {
        let ds = fleet();
        let groups = Groups::of(&ds.fields);
        let n = ds.fields.len();
        // Every row 1.0 in every field, one row 5.0 in the first.
        let mut shares = vec![vec![1.0f32; n]; ds.uniques.len()];
        shares[0][0] = 5.0;
        let cal = Calibration::fit(&ds, &groups, &shares);
        let g = groups.group_of(0).unwrap();
        let top = cal.surprise(RowKind::Event, g, 5.0 + WITHIN * 0.0);
        let usual = cal.surprise(RowKind::Event, g, 1.0);
        assert!(top > usual + 1.0, "{top} {usual}");
        assert!(
            usual.abs() < 1e-9,
            "every row is at least that surprising: {usual}"
        );
    }

    #[test]
    fn a_pile_counts_its_four_largest_whole_and_spread_is_capped() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // Whatever the order of the groups.
        assert!(close(
            pile(&[1.0, 5.0, 2.0, 4.0, 3.0]),
            5.0 + 4.0 + 3.0 + 2.0 + 0.25
        ));
        assert!(close(pile(&[3.0, 2.0]), 5.0));
        assert!(close(pile(&[]), 0.0));
        // Twelve mildly rare groups weigh half their sum (24).
        assert!(close(pile(&[2.0; 12]), 4.0 * 2.0 + 8.0 * 2.0 * PILE_REST));
        assert!(close(spread(1), 0.0));
        assert!(close(spread(0), 0.0));
        assert!(close(spread(2), SPREAD * 2f64.ln()));
        assert!(close(spread(1000), spread(SPREAD_HOSTS)));
        assert!(spread(3) < spread(4));
    }

    #[test]
    fn only_a_common_value_against_its_tasks_history_is_a_contradiction() {
        // \T once as jdoe (common elsewhere: `fleet_events`), once as an account seen
        // nowhere else.
        let mut events = fleet_events();
        events.push(start("\\T", "corp\\nobody", 998));
        let ds = dataset(events);
        let user = ds.fields.iter().position(|f| *f == "user").unwrap();
        let h = History::of(&ds);
        let c = contradictions(&ds, &h);
        let odd = find(&ds, "\\T", "jdoe");
        let new = find(&ds, "\\T", "nobody");
        let usual = find(&ds, "\\T", "system");
        let elsewhere = find(&ds, "\\U0", "jdoe");
        assert!(c[odd][user] > 2.0, "{}", c[odd][user]);
        assert!((c[odd][user] - h.surprise(odd, user)).abs() < 1e-6);
        // A value never seen is rare, not a contradiction; the task's own value and another
        // task's are neither.
        assert!(h.surprise(new, user) > c[odd][user]);
        assert_eq!(c[new][user], 0.0);
        assert_eq!(c[usual][user], 0.0);
        assert_eq!(c[elsewhere][user], 0.0);
        // Who and what can contradict; triggers, result codes and context cannot.
        for f in [
            "user",
            "parent",
            "command",
            "task_author",
            "task_run_level",
            "principal",
        ] {
            assert!(contradictable(f), "{f}");
        }
        for f in [
            "triggers",
            "task_triggers",
            "result_code",
            "settings",
            "prevalence",
        ] {
            assert!(!contradictable(f), "{f}");
        }
    }

    #[test]
    fn reasons_say_what_the_task_usually_does_and_nothing_without_history() {
        let ds = fleet();
        let n = ds.fields.len();
        let raw = crate::model::rarity::rank(&ds);
        assert!(
            reasons(&ds, &raw, 0, 3).is_empty(),
            "counting keeps no history"
        );
        let r = rank(&ds, raw);
        let odd = find(&ds, "\\T", "jdoe");
        let said = reasons(&ds, &r, odd, 3);
        assert!(
            said.iter().any(|s| s
                == "for this task user is always nt authority\\system (100 % of 10 other occurrences), here corp\\jdoe"),
            "{said:?}"
        );
        assert_eq!(r.field_scores[odd].len(), n);
        // The odd start outranks every usual one.
        let rank_of = |u: usize| r.order.iter().position(|&x| x == u).unwrap();
        assert!(rank_of(odd) < rank_of(find(&ds, "\\T", "system")));
    }
}
