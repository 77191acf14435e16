//! Task lifecycles built from a dataset: the events of one task on one host, in time order,
//! and the flags an analyst reads off them ([`crate::timeline::Flag`]).
//!
//! - `short-lived`: registered (4698 / 106) and deleted (4699 / 141) within ten minutes, the
//!   ATexec / SMBexec pattern;
//! - `temporary-modification`: updated (4702) to a new definition and, within a day, updated
//!   back to the definition it had before (the SolarWinds / Sunburst technique), found by
//!   comparing the task XML of consecutive updates; when the logs hold no earlier definition,
//!   the command its earlier runs launched (TaskScheduler 129 / 200) stands for it;
//! - `never-ran`: registered in the logs and never run afterwards, although the host logged
//!   runs of other tasks later (so its TaskScheduler log covers the time);
//! - `ran-once`: registered in the logs and run exactly once.
//!
//! A unique event carries the flags of the lifecycles its occurrences belong to; only events
//! that say what the task is or runs (definitions, launches with their command) take a flag,
//! not the task-name-only ones (started, triggered, finished) that every host shares. The
//! drill-down shows a lifecycle as a [`Step`] timeline with the XML diff of each update.

use std::collections::{BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

use crate::event::{CH_SECURITY, CH_TASKSCHEDULER};
use crate::frame::{Dataset, Lifecycles, NONE, Occurrence, TaskLife};
use crate::profile::features::normalize_path;
use crate::profile::task_xml;
use crate::timeline::{
    Flag, MAX_LIVES, NEVER_RAN_FLAG, RAN_ONCE_FLAG, SHORT_LIVED_FLAG, Step,
    TEMPORARY_MODIFICATION_FLAG, What, fold, what, whole_definition, xml_diff,
};

const US_PER_MIN: i64 = 60_000_000;
/// Created and deleted within this: short-lived.
const SHORT_LIVED: i64 = 10 * US_PER_MIN;
/// Restored within this after a change: a temporary modification.
const RESTORED_WITHIN: i64 = 24 * 60 * US_PER_MIN;

/// Whether a task definition is the one a task had before an update.
type IsBefore<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// Flags per unique event (dataset order), sorted.
pub fn flags(ds: &Dataset) -> Vec<Vec<Flag>> {
    build(ds).flags
}

fn is_run(channel: &str, id: u32) -> bool {
    channel == CH_TASKSCHEDULER && matches!(id, 100 | 129 | 200)
}

/// Every task lifecycle of `ds` (its occurrences in time order) and the flags of each unique
/// event.
pub fn build(ds: &Dataset) -> Lifecycles {
    let n = ds.occurrences.len();
    let mut out: Vec<BTreeSet<Flag>> = vec![BTreeSet::new(); ds.uniques.len()];
    let mut of_occurrence = vec![NONE; n];
    let mut tasks: Vec<TaskLife> = Vec::new();
    // Only profiles with task names have task lifecycles.
    let Some(name_field) = ds.fields.iter().position(|f| *f == "task_name") else {
        return Lifecycles::new(tasks, of_occurrence, vec![Vec::new(); ds.uniques.len()]);
    };
    // Task keys per unique event: its (normalised) task name, lower-cased once. The
    // events of a task's lifecycle are TaskScheduler's and Security 4698-4702; process
    // creations name a task in a command line, not as the task's own record.
    let mut task_of_name: HashMap<String, u32> = HashMap::new();
    let mut index: HashMap<(u32, u32), u32> = HashMap::new();
    let mut last_run: HashMap<u32, i64> = HashMap::new();
    // Per unique event: its task (if its events belong to a lifecycle) and whether it is
    // a run.
    let mut task_of: Vec<Option<u32>> = Vec::with_capacity(ds.uniques.len());
    let mut run_of: Vec<bool> = Vec::with_capacity(ds.uniques.len());
    for e in &ds.uniques {
        let ch = e.channel.as_str();
        let name = &*e.values[name_field];
        let in_lifecycle = !name.is_empty()
            && (ch == CH_SECURITY && (4698..=4702).contains(&e.event_id) || ch == CH_TASKSCHEDULER);
        let next = task_of_name.len() as u32;
        task_of
            .push(in_lifecycle.then(|| *task_of_name.entry(name.to_lowercase()).or_insert(next)));
        run_of.push(is_run(ch, e.event_id));
    }
    // Occurrences in reading order; hosts are already ids of lower-cased names.
    for (o, occ) in ds.occurrences.iter().enumerate() {
        let u = occ.unique as usize;
        let h = occ.host;
        if run_of[u]
            && let Some(t) = occ.time()
        {
            let l = last_run.entry(h).or_insert(t);
            *l = (*l).max(t);
        }
        let Some(task) = task_of[u] else { continue };
        let l = *index.entry((h, task)).or_insert_with(|| {
            let read = ds.step(occ).map_or("", |f| &*f.task);
            tasks.push(TaskLife {
                host: ds.hosts[h as usize].clone(),
                task: if read.is_empty() {
                    ds.uniques[u].values[name_field].to_string()
                } else {
                    read.to_string()
                },
                occurrences: Vec::new(),
            });
            tasks.len() as u32 - 1
        });
        tasks[l as usize].occurrences.push(o as u32);
        of_occurrence[o] = l;
    }
    let host_of_life: Vec<u32> = {
        let mut v = vec![0u32; tasks.len()];
        for (&(h, _), &l) in &index {
            v[l as usize] = h;
        }
        v
    };
    // Lifecycles are independent: sorted and flagged in parallel.
    let flagged: Vec<Vec<(usize, Flag)>> = tasks
        .par_iter_mut()
        .enumerate()
        .map(|(l, life)| {
            let occ = &mut life.occurrences;
            occ.sort_unstable_by_key(|&o| (ds.occurrences[o as usize].time(), o));
            let last = last_run.get(&host_of_life[l]).copied();
            life_flags(ds, occ, last)
        })
        .collect();
    for (o, f) in flagged.into_iter().flatten() {
        out[ds.occurrences[o].unique as usize].insert(f);
    }
    let flags = out.into_iter().map(|s| s.into_iter().collect()).collect();
    Lifecycles::new(tasks, of_occurrence, flags)
}

/// A lifecycle as steps, with the XML diff of every definition that changed.
pub fn timeline(ds: &Dataset, life: &TaskLife) -> Vec<Step> {
    let mut prev_def: Option<&str> = None;
    life.occurrences
        .iter()
        .map(|&o| {
            let occ = &ds.occurrences[o as usize];
            let e = &ds.uniques[occ.unique as usize];
            let facts = ds.step(occ);
            let mut diff = Vec::new();
            if e.channel == CH_SECURITY
                && let Some(def) = facts.and_then(|f| f.definition.as_deref())
            {
                match prev_def {
                    Some(prev) if prev.trim() != def.trim() => diff = xml_diff(prev, def),
                    // An update with nothing before it in these logs (the task was
                    // registered before they start): what it set, whole.
                    None if what(&e.channel, e.event_id) == What::Updated => {
                        diff = whole_definition(def);
                    }
                    _ => {}
                }
                prev_def = Some(def);
            }
            Step {
                occurrence: o,
                time: occ.time(),
                event_id: e.event_id,
                what: what(&e.channel, e.event_id),
                detail: facts.map_or(String::new(), |f| f.detail.to_string()),
                diff,
                own: false,
                folded: 0,
                folded_own: 0,
            }
        })
        .collect()
}

/// The task lifecycles of one unique event, as the drill-down shows them.
#[derive(Debug)]
pub struct LifecycleView {
    /// (host, task, steps) of up to three lifecycles, folded ([`crate::timeline::fold`]:
    /// the event's own steps marked, long runs folded).
    pub lives: Vec<(String, String, Vec<Step>)>,
    /// Whether the event takes part in more lifecycles than shown.
    pub more: bool,
}

/// The lifecycles of unique event `u` as the drill-down shows them: those its occurrences
/// belong to, then those its summaries brought; `None` when it has none.
pub fn view(ds: &Dataset, u: usize) -> Option<LifecycleView> {
    let found = ds.lifecycles.of_unique(ds, u, MAX_LIVES + 1);
    let own: HashSet<u32> = ds.uniques[u].occurrences.iter().copied().collect();
    let mut lives: Vec<(String, String, Vec<Step>)> = found
        .iter()
        .take(MAX_LIVES)
        .map(|l| {
            let steps = fold(timeline(ds, l), |o| own.contains(&o));
            (l.host.clone(), l.task.clone(), steps)
        })
        .collect();
    let mut more = found.len() > MAX_LIVES;
    let (theirs, theirs_more) = ds.summary_lives(u);
    for l in theirs {
        if lives.len() == MAX_LIVES {
            more = true;
            break;
        }
        lives.push(l.clone());
    }
    more |= theirs_more;
    (!lives.is_empty()).then_some(LifecycleView { lives, more })
}

/// The flags of one lifecycle (occurrences in time order), as (occurrence, flag) pairs.
/// `last_run` is the host's latest run of any task.
fn life_flags(ds: &Dataset, occ: &[u32], last_run: Option<i64>) -> Vec<(usize, Flag)> {
    let life = Life { ds, occ };
    let mut flagged = Vec::new();
    life.short_lived(&mut flagged);
    life.runs(last_run, &mut flagged);
    life.temporary_modifications(&mut flagged);
    flagged
}

/// One lifecycle as its flags' rules read it.
struct Life<'a> {
    ds: &'a Dataset,
    /// Its occurrences in time order, undated ones first.
    occ: &'a [u32],
}

impl Life<'_> {
    fn ev(&self, o: u32) -> &Occurrence {
        &self.ds.occurrences[o as usize]
    }

    fn id(&self, o: u32) -> u32 {
        self.ds.uniques[self.ev(o).unique as usize].event_id
    }

    fn channel(&self, o: u32) -> &str {
        self.ds.uniques[self.ev(o).unique as usize].channel.as_str()
    }

    fn at(&self, o: u32) -> i64 {
        self.ev(o).time().unwrap_or(i64::MIN)
    }

    /// Whether `b` happened at most `span` after `a`; never for events without a time (an
    /// export that dropped them), whatever their order.
    fn within(&self, a: u32, b: u32, span: i64) -> bool {
        match (self.ev(a).time(), self.ev(b).time()) {
            (Some(x), Some(y)) => y.checked_sub(x).is_some_and(|d| (0..=span).contains(&d)),
            _ => false,
        }
    }

    /// The command a run launched (129 / 200), as read.
    fn launched(&self, o: u32) -> Option<&str> {
        self.ds
            .step(self.ev(o))
            .map(|f| &*f.detail)
            .filter(|d| !d.is_empty())
    }

    fn definition(&self, o: u32) -> Option<&str> {
        self.ds
            .step(self.ev(o))
            .and_then(|f| f.definition.as_deref())
    }

    /// Events that name only the task (started, triggered, finished) look the same in every
    /// lifecycle of the task, on every host: flagging them would flag the task everywhere.
    fn specific(&self, o: u32) -> bool {
        self.channel(o) != CH_TASKSCHEDULER
            || matches!(self.id(o), 106 | 140 | 141 | 142 | 129 | 200..=203)
    }

    /// Flag the specific occurrences between two times (found by binary search).
    fn flag_span(&self, from: i64, to: i64, f: Flag, out: &mut Vec<(usize, Flag)>) {
        let start = self.occ.partition_point(|&o| self.at(o) < from);
        for &o in self.occ[start..]
            .iter()
            .take_while(|&&o| self.at(o) <= to)
            .filter(|&&o| self.specific(o))
        {
            out.push((o as usize, f));
        }
    }

    /// Short-lived: a creation followed by a deletion soon after.
    fn short_lived(&self, out: &mut Vec<(usize, Flag)>) {
        for (i, &c) in self.occ.iter().enumerate() {
            if !matches!(self.id(c), 4698 | 106) {
                continue;
            }
            let Some(t) = self.ev(c).time() else { continue };
            let limit = t.saturating_add(SHORT_LIVED);
            // The last deletion record (4699, then TaskScheduler's 141) within the window;
            // the lifecycle is in time order, so the scan stops at the window's end (a task
            // registered 100 000 times stays linear).
            let end = self.occ[i + 1..]
                .iter()
                .take_while(|&&d| self.at(d) <= limit)
                .filter(|&&d| matches!(self.id(d), 4699 | 141) && self.within(c, d, SHORT_LIVED))
                .map(|&d| self.at(d))
                .max();
            if let Some(end) = end {
                self.flag_span(self.at(c), end, SHORT_LIVED_FLAG, out);
            }
        }
    }

    /// Never ran / ran once: counted from the first registration in the logs. A run leaves
    /// a 100, a 129 and a 200; the most numerous of them counts the runs.
    fn runs(&self, last_run: Option<i64>, out: &mut Vec<(usize, Flag)>) {
        let Some(reg) = self
            .occ
            .iter()
            .copied()
            .find(|&o| matches!(self.id(o), 4698 | 106) && self.ev(o).time().is_some())
        else {
            return;
        };
        let mut n = [0usize; 3];
        for &o in self.occ.iter().filter(|&&o| self.at(o) >= self.at(reg)) {
            if is_run(self.channel(o), self.id(o)) {
                n[match self.id(o) {
                    100 => 0,
                    129 => 1,
                    _ => 2,
                }] += 1;
            }
        }
        let runs = n.into_iter().max().unwrap_or(0);
        if runs == 0 && last_run.is_some_and(|t| t > self.at(reg)) {
            self.flag_span(self.at(reg), i64::MAX, NEVER_RAN_FLAG, out);
        } else if runs == 1 {
            self.flag_span(self.at(reg), i64::MAX, RAN_ONCE_FLAG, out);
        }
    }

    /// Temporary modification: the definitions set by Security 4698 / 4702, in order; an
    /// update that changes it and a later one that restores the one before.
    fn temporary_modifications(&self, out: &mut Vec<(usize, Flag)>) {
        let defs: Vec<(u32, &str)> = self
            .occ
            .iter()
            .filter(|&&o| self.channel(o) == CH_SECURITY && matches!(self.id(o), 4698 | 4702))
            .filter_map(|&o| self.definition(o).map(|x| (o, x.trim())))
            .collect();
        for w in 0..defs.len() {
            let (o_changed, _) = defs[w];
            let Some(before) = self.before(&defs, w) else {
                continue;
            };
            let limit = self.at(o_changed).saturating_add(RESTORED_WITHIN);
            if let Some(&(r, _)) = defs[w + 1..]
                .iter()
                .take_while(|(r, _)| self.at(*r) <= limit)
                .find(|(r, x)| before(x) && self.within(o_changed, *r, RESTORED_WITHIN))
            {
                self.flag_span(
                    self.at(o_changed),
                    self.at(r),
                    TEMPORARY_MODIFICATION_FLAG,
                    out,
                );
            }
        }
    }

    /// What the task was before update `w` of `defs`: the previous definition in the logs,
    /// or, when the logs start later, the command its earlier runs launched (129 / 200).
    /// `None` when the update changed nothing, or nothing before it is known.
    fn before<'d>(&'d self, defs: &[(u32, &'d str)], w: usize) -> Option<IsBefore<'d>> {
        let (o_changed, changed) = defs[w];
        if w > 0 {
            let prev = defs[w - 1].1;
            return (prev != changed).then(|| Box::new(move |x: &str| x == prev) as IsBefore);
        }
        let ran: BTreeSet<String> = self
            .occ
            .iter()
            .filter(|&&o| self.at(o) < self.at(o_changed) && matches!(self.id(o), 129 | 200))
            .filter_map(|&o| self.launched(o))
            .map(normalize_path)
            .collect();
        let now = command_of(changed);
        (!ran.is_empty() && now.as_ref().is_some_and(|c| !ran.contains(c))).then(|| {
            Box::new(move |x: &str| command_of(x).is_some_and(|c| ran.contains(&c))) as IsBefore
        })
    }
}

/// The command a definition runs, normalised as the runs' events are (`%windir%`
/// expanded), so that the two compare.
fn command_of(xml: &str) -> Option<String> {
    let t = task_xml::parse(xml)?;
    Some(normalize_path(&t.exec.first()?.command))
}
