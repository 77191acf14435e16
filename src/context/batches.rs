//! Servicing batches: Windows changing many of its tasks at once.
//!
//! A cumulative update, a feature update or a component's servicing re-registers, updates,
//! enables or disables a dozen built-in tasks within seconds, as the computer account or
//! SYSTEM. Each host's build writes them a little differently (a trigger, a setting, an
//! argument), so every one of those changes holds values seen nowhere else: on the real logs
//! of `../shared/evtx` they were most of the top 20 that was not an attack (issue 25). They are
//! one piece of evidence, "Windows serviced this host", not a dozen: an occurrence in a batch
//! of `n` distinct tasks keeps `1/n` of its rarity ([`crate::model::evidence`]).
//!
//! A batch is a run of task changes (registered, updated, deleted, enabled, disabled: Security
//! 4698-4702, TaskScheduler 106/140/141/142) on one host by one of Windows' own accounts,
//! each at most [`GAP`] after the one before, touching at least [`MIN_TASKS`] distinct tasks.
//! Changes by people's accounts never batch: an intruder who plants three tasks in a minute
//! as an administrator is not serviced. Summaries carry counts, not times: their events are
//! in no batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::frame::{Batch, Batches, Dataset};
use crate::timeline::ENRICHED;

/// Consecutive changes at most this far apart (microseconds) are one batch.
pub const GAP: i64 = 60_000_000;

/// A batch changes at least this many distinct tasks.
pub const MIN_TASKS: usize = 3;

/// The accounts Windows changes its own tasks as (normalised, as the `user` field holds
/// them).
pub fn is_windows_account(user: &str) -> bool {
    matches!(
        user,
        "<machine>$"
            | "nt authority\\system"
            | "nt authority\\local service"
            | "nt authority\\network service"
    )
}

/// One change: host, account, time, task, unique event.
type Change<'a> = (u32, &'a str, i64, usize, u32);

/// A unique event's occurrences on one host that came in batches: the weight they keep
/// (the sum of `1/n`, `n` their batch's tasks), how many, the largest batch.
#[derive(Debug, Clone, PartialEq)]
pub struct OnHost {
    pub weight: f64,
    pub occurrences: u64,
    pub batch: Batch,
}

/// Per (unique event, host): its occurrences that came in servicing batches, found in the
/// logs' occurrences, and for hosts whose logs are not here, as their summaries said.
pub fn per_host(ds: &Dataset) -> BTreeMap<(u32, u32), OnHost> {
    let mut out = from_logs(ds);
    for u in 0..ds.uniques.len() {
        for b in ds.summary_batches(u) {
            let Some(host) = ds.hosts.iter().position(|h| *h == b.host) else {
                continue;
            };
            out.entry((u as u32, host as u32))
                .or_insert_with(|| OnHost {
                    weight: b.weight,
                    occurrences: b.occurrences,
                    batch: Batch {
                        host: host as u32,
                        account: Arc::from(b.account.as_str()),
                        tasks: b.tasks,
                        span: b.span,
                    },
                });
        }
    }
    out
}

/// The batches the occurrences of `ds` show.
fn from_logs(ds: &Dataset) -> BTreeMap<(u32, u32), OnHost> {
    let mut out: BTreeMap<(u32, u32), OnHost> = BTreeMap::new();
    let Some(user) = ds.fields.iter().position(|f| *f == "user") else {
        return out;
    };
    let mut changes: Vec<Change<'_>> = Vec::new();
    for (u, e) in ds.uniques.iter().enumerate() {
        if !crate::timeline::what(&e.channel, e.event_id).is_change() {
            continue;
        }
        let account = e.values.get(user).map_or("", |v| &**v);
        let Some(task) = ds.tasks.of(u) else { continue };
        if !is_windows_account(account) {
            continue;
        }
        for &o in &e.occurrences {
            let occ = &ds.occurrences[o as usize];
            if let Some(at) = occ.time() {
                changes.push((occ.host, account, at, task, u as u32));
            }
        }
    }
    // Per (host, account) in time order; the rest of the key only makes the order total.
    changes.sort_unstable();
    let mut i = 0;
    while i < changes.len() {
        let (host, account, start, ..) = changes[i];
        let mut j = i + 1;
        while j < changes.len()
            && changes[j].0 == host
            && changes[j].1 == account
            && changes[j].2 - changes[j - 1].2 <= GAP
        {
            j += 1;
        }
        let run = &changes[i..j];
        let tasks = run.iter().map(|c| c.3).collect::<HashSet<_>>().len();
        if tasks >= MIN_TASKS {
            let batch = Batch {
                host,
                account: Arc::from(account),
                tasks: tasks as u32,
                span: run[run.len() - 1].2 - start,
            };
            for c in run {
                let row = out.entry((c.4, host)).or_insert_with(|| OnHost {
                    weight: 0.0,
                    occurrences: 0,
                    batch: batch.clone(),
                });
                row.weight += 1.0 / tasks as f64;
                row.occurrences += 1;
                // The largest batch (of equal ones the first in time: one host, one order).
                if batch.tasks > row.batch.tasks {
                    row.batch = batch.clone();
                }
            }
        }
        i = j;
    }
    out
}

/// The servicing batches of `ds` (after its tasks are grouped): per unique event, the
/// weight its rare values keep, `(sum of its batched occurrences' weights + its other
/// occurrences) / its occurrences`, and its largest batch.
pub fn build(ds: &Dataset) -> Batches {
    let mut rows: BTreeMap<u32, (f64, u64, Batch)> = BTreeMap::new();
    for ((u, _), on) in per_host(ds) {
        let row = rows.entry(u).or_insert_with(|| (0.0, 0, on.batch.clone()));
        row.0 += on.weight;
        row.1 = row.1.saturating_add(on.occurrences);
        // Of equal batches, the first host by name (not by the order hosts were read in).
        let name = |b: &Batch| ds.hosts.get(b.host as usize).map_or("", String::as_str);
        if (on.batch.tasks, std::cmp::Reverse(name(&on.batch)))
            > (row.2.tasks, std::cmp::Reverse(name(&row.2)))
        {
            row.2 = on.batch;
        }
    }
    let rows: Vec<(u32, f32, Batch)> = rows
        .into_iter()
        .map(|(u, (weight, batched, batch))| {
            let all = ds.uniques[u as usize].count().max(batched).max(1) as f64;
            let rest = all - batched as f64;
            (u, ((weight + rest) / all) as f32, batch)
        })
        .collect();
    let lent = lent_weights(ds, &rows);
    Batches::new(rows, lent)
}

/// The events whose lent definition fields ([`ENRICHED`]) are a batched row's: per event, the
/// smallest weight of a batched row of its task lending the same definition.
fn lent_weights(ds: &Dataset, rows: &[(u32, f32, Batch)]) -> Vec<(u32, f32)> {
    let lent: Vec<usize> = ENRICHED
        .iter()
        .filter_map(|(name, _)| ds.fields.iter().position(|f| f == name))
        .collect();
    if lent.is_empty() {
        return Vec::new();
    }
    let definition = |u: usize| -> Option<Vec<&str>> {
        let values = &ds.uniques[u].values;
        let d: Vec<&str> = lent
            .iter()
            .map(|&f| values.get(f).map_or("", |v| &**v))
            .collect();
        d.iter().any(|v| !v.is_empty()).then_some(d)
    };
    let mut batched: HashMap<(usize, Vec<&str>), f32> = HashMap::new();
    for &(u, w, _) in rows {
        let u = u as usize;
        if let (Some(t), Some(d)) = (ds.tasks.of(u), definition(u)) {
            let slot = batched.entry((t, d)).or_insert(w);
            *slot = slot.min(w);
        }
    }
    if batched.is_empty() {
        return Vec::new();
    }
    (0..ds.uniques.len())
        .filter_map(|u| {
            let key = (ds.tasks.of(u)?, definition(u)?);
            batched.get(&key).map(|&w| (u as u32, w))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RawEvent;
    use crate::profile::by_name;

    const S: i64 = 1_000_000;

    /// Security 4702 of `task` on `host` by `user` (a `HOST$` user is the computer account)
    /// at `t` seconds.
    fn change(host: &str, task: &str, user: &str, t: i64, id: u64) -> RawEvent {
        RawEvent {
            source: Arc::from("t"),
            channel: "Security".into(),
            event_id: 4702,
            provider: String::new(),
            computer: host.into(),
            time: Some(t * S),
            record_id: Some(id),
            data: vec![
                ("SubjectUserName".into(), user.into()),
                ("SubjectDomainName".into(), "CORP".into()),
                ("TaskName".into(), task.into()),
                (
                    "TaskContentNew".into(),
                    format!(
                        "<Task><Actions><Exec><Command>{task}.exe</Command></Exec></Actions></Task>"
                    ),
                ),
            ],
        }
    }

    fn built(events: Vec<RawEvent>) -> Dataset {
        let mut ds = Dataset::build(by_name("scheduled-tasks").unwrap().as_ref(), events);
        crate::context::add(&mut ds);
        ds
    }

    fn row(ds: &Dataset, task: &str) -> usize {
        (0..ds.uniques.len())
            .find(|&u| ds.value(u, "task_name").eq_ignore_ascii_case(task))
            .unwrap()
    }

    #[test]
    fn windows_changing_three_tasks_in_a_minute_is_one_batch() {
        let mut events = vec![
            change("pc1", "\\A", "PC1$", 0, 1),
            change("pc1", "\\B", "PC1$", 30, 2),
            change("pc1", "\\C", "PC1$", 80, 3),
            // Too late for the chain (more than a minute after the last).
            change("pc1", "\\D", "PC1$", 200, 4),
            // Two tasks only: no batch.
            change("pc2", "\\E", "SYSTEM", 0, 5),
            change("pc2", "\\F", "SYSTEM", 5, 6),
            // A person's account never batches.
            change("pc3", "\\G", "admin", 0, 7),
            change("pc3", "\\H", "admin", 1, 8),
            change("pc3", "\\I", "admin", 2, 9),
        ];
        let ds = built(events.clone());
        let b = &ds.batches;
        assert_eq!(b.len(), 3, "{b:?}");
        for t in ["\\A", "\\B", "\\C"] {
            let u = row(&ds, t);
            assert!(
                (b.weight(u) - 1.0 / 3.0).abs() < 1e-6,
                "{t}: {}",
                b.weight(u)
            );
            let batch = b.of(u).unwrap();
            assert_eq!(batch.tasks, 3);
            assert_eq!(batch.span, 80 * S);
            assert_eq!(&*batch.account, "<machine>$");
            assert_eq!(ds.hosts[batch.host as usize], "pc1");
        }
        for t in ["\\D", "\\E", "\\F", "\\G", "\\H", "\\I"] {
            let u = row(&ds, t);
            assert_eq!(b.weight(u), 1.0, "{t}");
            assert!(b.of(u).is_none(), "{t}");
        }
        // The same batches whatever the order the records come in.
        events.reverse();
        let again = built(events);
        for t in ["\\A", "\\B", "\\C", "\\D"] {
            let (u, v) = (row(&ds, t), row(&again, t));
            assert_eq!(ds.batches.weight(u), again.batches.weight(v), "{t}");
            assert_eq!(
                ds.batches.of(u).map(|b| b.tasks),
                again.batches.of(v).map(|b| b.tasks)
            );
        }
    }

    #[test]
    fn a_row_seen_in_and_out_of_batches_keeps_its_share_outside() {
        // \A changed by the computer account in a batch of three on pc1, and alone on pc2:
        // one unique event (the same account, the same definition), half of it batched.
        let events = vec![
            change("pc1", "\\A", "PC1$", 0, 1),
            change("pc1", "\\B", "PC1$", 1, 2),
            change("pc1", "\\C", "PC1$", 2, 3),
            change("pc2", "\\A", "PC2$", 0, 4),
        ];
        let ds = built(events);
        let u = row(&ds, "\\A");
        assert_eq!(ds.uniques[u].occurrences.len(), 2);
        let expected = (1.0 / 3.0 + 1.0) / 2.0;
        assert!((ds.batches.weight(u) - expected).abs() < 1e-6);
    }
}
