//! Definitions on disk against what the logs recorded: flags where they disagree.
//!
//! - [`Flag::ChangedUnlogged`]: the definition on a host differs from the last registration
//!   (Security 4698 / 4702) its logs recorded for the task, or the logs last saw the task
//!   deleted (4699): it was changed outside the Task Scheduler's logging, or while that was
//!   off. Compared on what the task runs, as whom, when and how.
//! - [`Flag::Unlogged`]: no registration of the task is logged on a host whose Security log
//!   recorded 4698 while the definition was written (its file time within the log's span):
//!   made around the Task Scheduler (written to the registry, a file copied in). A definition
//!   of unknown time is not judged.

use std::collections::HashMap;

use crate::event::CH_SECURITY;
use crate::frame::{Dataset, RowKind};
use crate::timeline::Flag;

/// The fields a definition and a registration are compared on.
const COMPARED: &[&str] = &[
    "command",
    "arguments",
    "principal",
    "logon_type",
    "run_level",
    "hidden",
    "triggers",
    "action",
    "working_dir",
    "enabled",
    "settings",
];

/// The flags of each definition (by unique row; empty for other rows).
pub fn flags(ds: &Dataset) -> Vec<Vec<Flag>> {
    let mut out = vec![Vec::new(); ds.uniques.len()];
    let Some(name) = ds.fields.iter().position(|f| *f == "task_name") else {
        return out;
    };
    let compared: Vec<usize> = COMPARED
        .iter()
        .filter_map(|f| ds.fields[..ds.profile_fields].iter().position(|x| x == f))
        .collect();
    // Per (host, task): the last registration, update or deletion the logs recorded, and
    // whether any registration of the task is logged at all.
    let mut last: HashMap<(&str, String), u32> = HashMap::new();
    for life in &ds.lifecycles.tasks {
        let mut found = None;
        for &o in &life.occurrences {
            let u = ds.occurrences[o as usize].unique;
            let e = &ds.uniques[u as usize];
            if e.channel == CH_SECURITY
                && (4698..=4702).contains(&e.event_id)
                && e.event_id != 4700
                && e.event_id != 4701
            {
                found = Some(u);
            }
        }
        let key = life.occurrences.first().map(|&o| {
            ds.uniques[ds.occurrences[o as usize].unique as usize].values[name].to_lowercase()
        });
        if let (Some(u), Some(k)) = (found, key) {
            last.insert((life.host.as_str(), k), u);
        }
    }
    let logged: std::collections::HashSet<(&str, String)> = ds
        .lifecycles
        .tasks
        .iter()
        .filter_map(|life| {
            let o = *life.occurrences.first()?;
            let u = ds.occurrences[o as usize].unique as usize;
            Some((
                life.host.as_str(),
                ds.uniques[u].values[name].to_lowercase(),
            ))
        })
        .collect();
    for (u, e) in ds.uniques.iter().enumerate() {
        if e.kind() != RowKind::Definition {
            continue;
        }
        let key = e.values[name].to_lowercase();
        for &o in &e.occurrences {
            let occ = ds.occurrences[o as usize];
            let host = ds.hosts[occ.host as usize].as_str();
            let k = (host, key.clone());
            if let Some(&r) = last.get(&k) {
                let reg = &ds.uniques[r as usize];
                let differs =
                    reg.event_id == 4699 || compared.iter().any(|&i| reg.values[i] != e.values[i]);
                if differs && !out[u].contains(&Flag::ChangedUnlogged) {
                    out[u].push(Flag::ChangedUnlogged);
                }
            } else if !logged.contains(&k)
                && let Some(t) = occ.time()
                && ds
                    .evidence
                    .get(host)
                    .is_some_and(|ev| ev.task_audit > 0 && ev.security_span.covers(t))
                && !out[u].contains(&Flag::Unlogged)
            {
                out[u].push(Flag::Unlogged);
            }
        }
    }
    out
}
