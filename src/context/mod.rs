//! What is derived from a whole dataset, once it is read: the task lifecycles and their
//! flags ([`lifecycle`]), the tasks and the names and commands as read ([`tasks`]), Windows'
//! servicing batches ([`batches`]), and the
//! context fields every model, filter and export reads like a profile's own ([`add`]):
//! prevalence across the fleet, the lifecycle flags, and what a task's definition lends its
//! other events.

pub mod batches;
pub mod coverage;
pub mod definitions;
pub mod lifecycle;
pub mod tasks;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::frame::Dataset;
use crate::timeline::{ENRICHED, Flag};

/// The context fields [`add`] appends: facts about a unique event that no
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

/// Join task lifecycles and append the [`CONTEXT_FIELDS`] to every unique event: its
/// fleet prevalence and its lifecycle flags (comma-separated), so that models, filters
/// and exports read them like any other field. Idempotent.
pub fn add(ds: &mut Dataset) {
    add_with(ds, true);
}

/// [`add`]; with `enrich` (the default) also the [`ENRICHED`]
/// fields of profiles with task lifecycles: the features of the task definition in force
/// (on the same host) for every event of the task, so that a 106 or a 200 of a malicious
/// task says what the task runs. `false` leaves them out (the detection benchmark's
/// comparison).
pub fn add_with(ds: &mut Dataset, enrich: bool) {
    let mut lifecycles = lifecycle::build(ds);
    // Lifecycles that stayed on an endpoint: their flags came with its summary.
    for (u, mine) in lifecycles.flags.iter_mut().enumerate() {
        let theirs = ds.summary_flags(u);
        if !theirs.is_empty() {
            let all: BTreeSet<Flag> = mine.iter().chain(theirs).copied().collect();
            *mine = all.into_iter().collect();
        }
    }
    // Tasks read the flags, the lent fields the lifecycles: set first.
    ds.set_derived(lifecycles, Vec::new(), crate::frame::Tasks::default());
    // Definitions on disk against the registrations logged.
    let checked = definitions::flags(ds);
    let mut lifecycles = std::mem::take(&mut ds.lifecycles);
    for (mine, found) in lifecycles.flags.iter_mut().zip(checked) {
        if !found.is_empty() {
            let all: BTreeSet<Flag> = mine.iter().copied().chain(found).collect();
            *mine = all.into_iter().collect();
        }
    }
    ds.set_derived(lifecycles, Vec::new(), crate::frame::Tasks::default());
    ds.coverage = coverage::build(ds);
    let display = tasks::display(ds);
    let grouped = tasks::build(ds, &display);
    let lifecycles = std::mem::take(&mut ds.lifecycles);
    ds.set_derived(lifecycles, display, grouped);
    append_fields(ds, enrich);
    ds.batches = batches::build(ds);
}

/// Append the [`CONTEXT_FIELDS`] (and with `enrich` the [`ENRICHED`] ones) to every unique
/// event, once.
fn append_fields(ds: &mut Dataset, enrich: bool) {
    if ds.fields.len() > ds.profile_fields {
        return;
    }
    ds.fields.extend_from_slice(CONTEXT_FIELDS);
    let fleet = ds.fleet;
    let mut interned: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |s: String| -> Arc<str> {
        interned
            .entry(s)
            .or_insert_with_key(|k| Arc::from(k.as_str()))
            .clone()
    };
    for (u, ue) in ds.uniques.iter_mut().enumerate() {
        ue.values
            .push(intern(prevalence_bucket(ue.hosts.len(), fleet).to_string()));
        ue.values
            .push(intern(crate::timeline::joined(&ds.lifecycles.flags[u])));
    }
    if enrich && ds.fields.contains(&"task_name") {
        let lent: Vec<Vec<Arc<str>>> = tasks::lent(ds)
            .into_iter()
            .map(|l| l.unwrap_or_else(|| vec![intern(String::new()); ENRICHED.len()]))
            .collect();
        ds.fields.extend(ENRICHED.iter().map(|(name, _)| *name));
        for (ue, lent) in ds.uniques.iter_mut().zip(lent) {
            ue.values.extend(lent);
        }
    }
}
