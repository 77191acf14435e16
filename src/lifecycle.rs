//! Task lifecycles: the events of one task on one host, in time order, and the flags an
//! analyst reads off them.
//!
//! - `short-lived`: registered (4698 / 106) and deleted (4699 / 141) within ten minutes, the
//!   ATexec / SMBexec pattern;
//! - `temporary-modification`: updated (4702) to a new definition and, within a day, updated
//!   back to the definition it had before (the SolarWinds / Sunburst technique), found by
//!   comparing the task XML of consecutive updates; when the logs hold no earlier definition,
//!   the command its earlier runs launched (TaskScheduler 129 / 200) stands for it.
//!
//! A unique event carries the flags of the lifecycles its occurrences belong to.

use std::collections::{BTreeSet, HashMap};

use crate::event::CH_SECURITY;
use crate::frame::Dataset;
use crate::profile::features::{normalize_path, normalize_task_name};
use crate::profile::task_xml;

const US_PER_MIN: i64 = 60_000_000;
/// Created and deleted within this: short-lived.
const SHORT_LIVED: i64 = 10 * US_PER_MIN;
/// Restored within this after a change: a temporary modification.
const RESTORED_WITHIN: i64 = 24 * 60 * US_PER_MIN;

/// Whether a task definition is the one a task had before an update.
type IsBefore<'a> = Box<dyn Fn(&str) -> bool + 'a>;

pub const SHORT_LIVED_FLAG: &str = "short-lived";
pub const TEMPORARY_MODIFICATION_FLAG: &str = "temporary-modification";

/// Flags per unique event (dataset order), sorted.
pub fn flags(ds: &Dataset) -> Vec<Vec<&'static str>> {
    // Occurrence -> unique event.
    let mut unique_of = vec![0usize; ds.occurrences.len()];
    for (u, e) in ds.uniques.iter().enumerate() {
        for &o in &e.occurrences {
            unique_of[o as usize] = u;
        }
    }
    // (host, task) -> occurrences in time order.
    let mut tasks: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (o, ev) in ds.occurrences.iter().enumerate() {
        let Some(name) = ev.first(&["TaskName"]) else {
            continue;
        };
        tasks
            .entry((
                ev.computer.to_lowercase(),
                normalize_task_name(name).to_lowercase(),
            ))
            .or_default()
            .push(o);
    }
    let mut out: Vec<BTreeSet<&'static str>> = vec![BTreeSet::new(); ds.uniques.len()];
    for occ in tasks.values_mut() {
        occ.sort_by_key(|&o| (ds.occurrences[o].time, o));
        let at = |o: usize| ds.occurrences[o].time.unwrap_or(i64::MIN);
        let id = |o: usize| ds.occurrences[o].event_id;
        let mut flagged: Vec<(usize, &'static str)> = Vec::new();
        // Short-lived: a creation followed by a deletion soon after.
        for (i, &c) in occ.iter().enumerate() {
            if !matches!(id(c), 4698 | 106) {
                continue;
            }
            // The last deletion record (4699, then TaskScheduler's 141) within the window.
            let end = occ[i + 1..]
                .iter()
                .filter(|&&d| matches!(id(d), 4699 | 141) && at(d) - at(c) <= SHORT_LIVED)
                .map(|&d| at(d))
                .max();
            if let Some(end) = end {
                for &o in occ.iter().filter(|&&o| at(o) >= at(c) && at(o) <= end) {
                    flagged.push((o, SHORT_LIVED_FLAG));
                }
            }
        }
        // Temporary modification: the definitions set by Security 4698 / 4702, in order; an
        // update that changes it and a later one that restores the one before.
        let defs: Vec<(usize, &str)> = occ
            .iter()
            .filter(|&&o| {
                ds.occurrences[o].canonical_channel() == CH_SECURITY && matches!(id(o), 4698 | 4702)
            })
            .filter_map(|&o| {
                ds.occurrences[o]
                    .first(&["TaskContentNew", "TaskContent"])
                    .map(|x| (o, x.trim()))
            })
            .collect();
        // The command a definition runs, normalised as the runs' events are (`%windir%`
        // expanded), so that the two compare.
        let command_of = |xml: &str| -> Option<String> {
            let t = task_xml::parse(xml)?;
            Some(normalize_path(&t.exec.first()?.command))
        };
        for w in 0..defs.len() {
            let (o_changed, changed) = defs[w];
            // What the task was before this update: the previous definition in the logs, or,
            // when the logs start later, the command its earlier runs launched (129 / 200).
            let before: Option<IsBefore> = if w > 0 {
                let prev = defs[w - 1].1;
                (prev != changed).then(|| Box::new(move |x: &str| x == prev) as IsBefore)
            } else {
                let ran: BTreeSet<String> = occ
                    .iter()
                    .filter(|&&o| at(o) < at(o_changed) && matches!(id(o), 129 | 200))
                    .filter_map(|&o| ds.occurrences[o].first(&["Path", "ActionName"]))
                    .map(normalize_path)
                    .collect();
                let now = command_of(changed);
                (!ran.is_empty() && now.as_ref().is_some_and(|c| !ran.contains(c))).then(|| {
                    Box::new(move |x: &str| command_of(x).is_some_and(|c| ran.contains(&c)))
                        as IsBefore
                })
            };
            let Some(before) = before else { continue };
            if let Some(&(r, _)) = defs[w + 1..]
                .iter()
                .find(|(r, x)| before(x) && at(*r) - at(o_changed) <= RESTORED_WITHIN)
            {
                for &o in occ
                    .iter()
                    .filter(|&&o| at(o) >= at(o_changed) && at(o) <= at(r))
                {
                    flagged.push((o, TEMPORARY_MODIFICATION_FLAG));
                }
            }
        }
        for (o, f) in flagged {
            out[unique_of[o]].insert(f);
        }
    }
    out.into_iter().map(|s| s.into_iter().collect()).collect()
}
