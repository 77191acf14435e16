//! Tasks and names as read.
//!
//! A hunter thinks in tasks (the persistence object), not in events: one malicious task is its
//! 4698, 4699, 106, 141, 129, 200 and 201 rows. [`Tasks`] groups the unique events of a
//! dataset by the profile's name field (the task path for scheduled tasks, the service name
//! for services), normalised as the features compare it, so that per-host spellings of one
//! task (`GoogleUpdateTaskMachineUA{GUID}`) are one task.
//!
//! The features normalise names and commands to compare them (GUIDs and digit runs masked,
//! paths lower-cased); an analyst reads and copies the original. [`Display`] keeps, per
//! unique event, the name as read (the most common spelling among its occurrences, and how
//! many others normalisation merged) and the command line of its first occurrence.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::frame::{Dataset, Display, NONE, Task, Tasks};
use crate::timeline::ENRICHED;

/// Every task of `ds`: its unique events grouped by the name field; `display` gives each event's
/// spellings ([`display`]). Tasks come in order of their first unique event.
pub fn build(ds: &Dataset, display: &[Display]) -> Tasks {
    let name_field = ds.fields.iter().position(|f| *f == ds.headline[0]);
    let mut by_key: HashMap<Arc<str>, u32> = HashMap::new();
    let mut tasks: Vec<Task> = Vec::new();
    let mut of_unique = vec![NONE; ds.uniques.len()];
    // Spellings per task, weighted by occurrences.
    let mut spellings: Vec<HashMap<Arc<str>, u64>> = Vec::new();
    let mut hosts: Vec<BTreeSet<&str>> = Vec::new();
    for (u, e) in ds.uniques.iter().enumerate() {
        let Some(key) = name_field.map(|i| e.values[i].clone()) else {
            break;
        };
        if key.is_empty() {
            continue;
        }
        let t = *by_key.entry(key.clone()).or_insert_with(|| {
            tasks.push(Task {
                key: key.clone(),
                name: Arc::from(""),
                variants: 0,
                uniques: Vec::new(),
                hosts: Vec::new(),
                count: 0,
                first_seen: None,
                last_seen: None,
                flags: Vec::new(),
                event_ids: Vec::new(),
                spread: Vec::new(),
            });
            spellings.push(HashMap::new());
            hosts.push(BTreeSet::new());
            (tasks.len() - 1) as u32
        });
        of_unique[u] = t;
        let task = &mut tasks[t as usize];
        task.uniques.push(u as u32);
        task.count = task.count.saturating_add(e.count());
        task.first_seen = min_time(task.first_seen, e.first_seen);
        task.last_seen = task.last_seen.max(e.last_seen);
        task.flags.extend_from_slice(ds.flags(u));
        task.event_ids.push(e.event_id);
        hosts[t as usize].extend(e.hosts.iter().map(String::as_str));
        if let Some(d) = display.get(u).filter(|d| !d.name.is_empty()) {
            let n = spellings[t as usize].entry(d.name.clone()).or_default();
            *n = n.saturating_add(e.count().max(1));
        }
    }
    for ((task, sp), h) in tasks.iter_mut().zip(spellings).zip(hosts) {
        task.flags.sort_unstable();
        task.flags.dedup();
        task.event_ids.sort_unstable();
        task.event_ids.dedup();
        task.hosts = h.into_iter().map(str::to_string).collect();
        task.variants = sp.len().saturating_sub(1) as u32;
        task.name = most_common(sp).unwrap_or_else(|| task.key.clone());
        task.spread = spread(ds, task.uniques.iter().map(|&u| u as usize));
    }
    Tasks::new(tasks, of_unique)
}

fn min_time(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The most frequent spelling; ties go to the lexically first, so that the choice does not
/// depend on hashing.
fn most_common(counts: HashMap<Arc<str>, u64>) -> Option<Arc<str>> {
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(s, _)| s)
}

/// Every unique event's name and command as read: the name from its occurrences' lifecycle
/// steps (every spelling counted) or, for profiles without lifecycles and for events from
/// summaries, from its first occurrence; the command from its first occurrence.
pub fn display(ds: &Dataset) -> Vec<Display> {
    let profile = crate::profile::by_name(ds.profile);
    // Occurrences per (unique event, interned step): a task's runs repeat a few steps.
    let mut per_step: FxHashMap<(u32, u32), u64> = FxHashMap::default();
    for occ in &ds.occurrences {
        if occ.step != NONE {
            *per_step.entry((occ.unique, occ.step)).or_default() += 1;
        }
    }
    let mut names: Vec<HashMap<Arc<str>, u64>> = vec![HashMap::new(); ds.uniques.len()];
    for ((u, step), n) in per_step {
        if let (Some(slot), Some(s)) = (names.get_mut(u as usize), ds.steps.get(step as usize))
            && !s.task.is_empty()
        {
            *slot.entry(s.task.clone()).or_default() += n;
        }
    }
    names
        .into_iter()
        .enumerate()
        .map(|(u, spellings)| {
            let [first_name, command] = profile
                .as_ref()
                .map(|p| p.display(ds.first_raw(u)))
                .unwrap_or_default();
            let variants = spellings.len().saturating_sub(1) as u32;
            let name = most_common(spellings).unwrap_or_else(|| Arc::from(first_name.as_str()));
            Display {
                name,
                name_variants: variants,
                command: Arc::from(command.as_str()),
            }
        })
        .collect()
}

/// Whether unique event `u` carries a task definition (Security 4698 / 4702 with its XML, or
/// a definition found on the host).
fn is_definition(ds: &Dataset, u: usize) -> bool {
    let e = &ds.uniques[u];
    e.kind() == crate::frame::RowKind::Definition
        || e.channel == crate::event::CH_SECURITY
            && matches!(e.event_id, 4698 | 4702)
            && ["command", "principal"]
                .iter()
                .filter_map(|f| ds.fields[..ds.profile_fields].iter().position(|x| x == f))
                .any(|i| !e.values[i].is_empty())
}

/// A definition's [`ENRICHED`] values: what it lends.
fn lends(ds: &Dataset, def: usize, from: &[Option<usize>]) -> Vec<Arc<str>> {
    from.iter()
        .map(|i| match i {
            Some(i) => ds.uniques[def].values[*i].clone(),
            None => Arc::from(""),
        })
        .collect()
}

/// Per unique event that carries no definition: the definitions its occurrences ran under, and
/// how many occurrences each. An occurrence runs under the definition in force on its host
/// when it happened: the last registration or update before it in its lifecycle, else the
/// first after. Counts from summaries (their lifecycles stayed on the endpoint) are added.
pub fn lent_counts(ds: &Dataset) -> Vec<crate::frame::LentCounts> {
    let mut out: Vec<crate::frame::LentCounts> = vec![HashMap::new(); ds.uniques.len()];
    let Some(_) = ds.fields.iter().position(|f| *f == "task_name") else {
        return out;
    };
    let from: Vec<Option<usize>> = ENRICHED
        .iter()
        .map(|(_, f)| ds.fields[..ds.profile_fields].iter().position(|x| x == f))
        .collect();
    let is_def: Vec<bool> = (0..ds.uniques.len())
        .map(|u| is_definition(ds, u))
        .collect();
    // The definitions found on each host, by task: what a task runs when its logs recorded
    // no registration (TaskScheduler/Operational on, task auditing off).
    let name = ds.fields.iter().position(|f| *f == "task_name");
    let mut on_disk: HashMap<(&str, String), u32> = HashMap::new();
    if let Some(name) = name {
        for (u, e) in ds.uniques.iter().enumerate() {
            if e.kind() == crate::frame::RowKind::Definition {
                for h in &e.hosts {
                    on_disk
                        .entry((h.as_str(), e.values[name].to_lowercase()))
                        .or_insert(u as u32);
                }
            }
        }
    }
    let mut counts: FxHashMap<(u32, u32), u64> = FxHashMap::default();
    for life in &ds.lifecycles.tasks {
        let unique = |o: &u32| ds.occurrences[*o as usize].unique;
        let first = life
            .occurrences
            .iter()
            .map(unique)
            .find(|&u| is_def[u as usize])
            .or_else(|| {
                let u = unique(life.occurrences.first()?) as usize;
                let key = ds.uniques[u].values[name?].to_lowercase();
                on_disk.get(&(life.host.as_str(), key)).copied()
            });
        let Some(mut current) = first else { continue };
        for u in life.occurrences.iter().map(unique) {
            if is_def[u as usize] {
                current = u;
            } else {
                let n = counts.entry((u, current)).or_default();
                *n = n.saturating_add(1);
            }
        }
    }
    let mut lent_by: HashMap<u32, Vec<Arc<str>>> = HashMap::new();
    for ((u, def), n) in counts {
        let values = lent_by
            .entry(def)
            .or_insert_with(|| lends(ds, def as usize, &from))
            .clone();
        let slot = out[u as usize].entry(values).or_default();
        *slot = slot.saturating_add(n);
    }
    for (u, slot) in out.iter_mut().enumerate() {
        if let Some(theirs) = ds.summary_lent(u) {
            for (values, n) in theirs {
                let c = slot.entry(values.clone()).or_default();
                *c = c.saturating_add(*n);
            }
        }
    }
    out
}

/// Per unique event: the [`ENRICHED`] values it takes, or `None`. A definition takes its own,
/// so that every event of a task reads the same (leaving definitions' own empty pushed them
/// down the ranking, below the events they lend to: docs/benchmarks.md); any other event takes the
/// definition most of its occurrences ran under ([`lent_counts`]; ties: the lexically first,
/// so that logs and their summaries give the same).
pub fn lent(ds: &Dataset) -> Vec<Option<Vec<Arc<str>>>> {
    if !ds.fields.contains(&"task_name") {
        return vec![None; ds.uniques.len()];
    }
    let from: Vec<Option<usize>> = ENRICHED
        .iter()
        .map(|(_, f)| ds.fields[..ds.profile_fields].iter().position(|x| x == f))
        .collect();
    lent_counts(ds)
        .into_iter()
        .enumerate()
        .map(|(u, counts)| {
            if is_definition(ds, u) {
                return Some(lends(ds, u, &from));
            }
            counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(v, _)| v)
        })
        .collect()
}

/// The most occurrences a one-event spread is read from where it is drawn on demand (a
/// frame of the drill-down, a row of the report); a task's is built once, at load.
pub const SPREAD_OCCURRENCES: usize = 100_000;

/// When `uniques` spread: each host and its first time ([`first_seen_per_host`]), earliest
/// first (ties by host).
pub fn spread(ds: &Dataset, uniques: impl IntoIterator<Item = usize>) -> Vec<(String, i64)> {
    let mut s: Vec<(String, i64)> = first_seen_per_host(ds, uniques).into_iter().collect();
    s.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    s
}

/// When each host first had any of `uniques` (a task's events and definitions, or one unique
/// event): the earliest occurrence per host. An event merged from summaries carries no
/// occurrences: its first time stands for its host when it was seen on one host only (on
/// several, which host saw it first is not known, and none is said).
pub fn first_seen_per_host(
    ds: &Dataset,
    uniques: impl IntoIterator<Item = usize>,
) -> std::collections::BTreeMap<String, i64> {
    // By host index while walking occurrences (no name copied per occurrence).
    let mut by_index: FxHashMap<u32, i64> = FxHashMap::default();
    let mut first: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    let note = |first: &mut std::collections::BTreeMap<String, i64>, host: &str, t: i64| {
        first
            .entry(host.to_string())
            .and_modify(|f| *f = (*f).min(t))
            .or_insert(t);
    };
    for u in uniques {
        let Some(e) = ds.uniques.get(u) else { continue };
        if e.occurrences.is_empty() {
            if let ([host], Some(t)) = (e.hosts.as_slice(), e.first_seen) {
                note(&mut first, host, t);
            }
            continue;
        }
        for &o in &e.occurrences {
            let occ = &ds.occurrences[o as usize];
            if let Some(t) = occ.time() {
                by_index
                    .entry(occ.host)
                    .and_modify(|f| *f = (*f).min(t))
                    .or_insert(t);
            }
        }
    }
    for (host, t) in by_index {
        let name = ds.hosts.get(host as usize).map_or("", String::as_str);
        note(&mut first, name, t);
    }
    first
}
