//! Triage state: the marks of both views and the session that keeps marks, verdicts and
//! notes. Changes are handed to the session's [`crate::session::Saver`] as effects: no file
//! is read or written here.

use std::collections::{BTreeMap, BTreeSet};

use crate::frame::Dataset;
use crate::session::{Change, Entry, Session};

use super::View;

#[derive(Debug, Default)]
pub struct Triage {
    session: Option<Session>,
    marks: BTreeSet<usize>,
    task_marks: BTreeSet<usize>,
    /// What `u` takes back, latest last (at most [`UNDO_STEPS`]).
    undo: Vec<Step>,
    /// The step being recorded by the current action.
    recording: Option<Step>,
}

/// How many actions `u` can take back.
pub const UNDO_STEPS: usize = 100;

/// One action's triage changes, as they were before it.
#[derive(Debug)]
struct Step {
    /// What the action did, for the status line ("verdict: benign on 3 rows").
    what: String,
    marks: [BTreeSet<usize>; 2],
    /// Per view and item, its entry before the action (`None`: it had none).
    entries: BTreeMap<(u8, usize), Option<Entry>>,
}

fn slot(view: View) -> u8 {
    match view {
        View::Events | View::Definitions => 0,
        View::Tasks => 1,
    }
}

impl Triage {
    /// Take a new dataset's session (its marks restored).
    pub(super) fn new(session: Option<Session>) -> Triage {
        let mut t = Triage {
            session,
            ..Triage::default()
        };
        if let Some(s) = &t.session {
            t.marks
                .extend(s.present().filter(|(_, e)| e.marked).map(|(u, _)| u));
            t.task_marks
                .extend(s.present_tasks().filter(|(_, e)| e.marked).map(|(t, _)| t));
        }
        t
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    pub fn marks(&self, view: View) -> &BTreeSet<usize> {
        match view {
            View::Events | View::Definitions => &self.marks,
            View::Tasks => &self.task_marks,
        }
    }

    pub(super) fn marks_mut(&mut self, view: View) -> &mut BTreeSet<usize> {
        match view {
            View::Events | View::Definitions => &mut self.marks,
            View::Tasks => &mut self.task_marks,
        }
    }

    /// Change the entries of these items and return the changes to save (none without a
    /// session).
    pub(super) fn change(
        &mut self,
        ds: &Dataset,
        view: View,
        items: &[usize],
        f: impl Fn(&mut Entry),
    ) -> Vec<Change> {
        let Some(s) = &mut self.session else {
            return Vec::new();
        };
        if let Some(step) = &mut self.recording {
            for &i in items {
                let before = match view {
                    View::Events | View::Definitions => s.entry(i),
                    View::Tasks => s.task_entry(i),
                };
                step.entries
                    .entry((slot(view), i))
                    .or_insert_with(|| before.cloned());
            }
        }
        for &i in items {
            match view {
                View::Events | View::Definitions => s.update(ds, i, &f),
                View::Tasks => s.update_task(ds, i, &f),
            }
        }
        s.take_changes()
    }

    /// Start recording an action's changes, for undo (its marks as they are now).
    pub(super) fn begin(&mut self) {
        self.recording = Some(Step {
            what: String::new(),
            marks: [self.marks.clone(), self.task_marks.clone()],
            entries: BTreeMap::new(),
        });
    }

    /// Keep the recorded action for undo, if it changed anything; `what` names it.
    pub(super) fn commit(&mut self, what: &str) {
        let Some(mut step) = self.recording.take() else {
            return;
        };
        if step.entries.is_empty() && step.marks == [self.marks.clone(), self.task_marks.clone()] {
            return;
        }
        step.what = what.to_string();
        if self.undo.len() >= UNDO_STEPS {
            self.undo.remove(0);
        }
        self.undo.push(step);
    }

    /// Take back the last recorded action: its marks and entries as they were. Returns what
    /// it was and the changes to save, or `None` when there is nothing to undo.
    pub(super) fn undo(&mut self, ds: &Dataset) -> Option<(String, Vec<Change>)> {
        let step = self.undo.pop()?;
        let [marks, task_marks] = step.marks;
        self.marks = marks;
        self.task_marks = task_marks;
        let Some(s) = &mut self.session else {
            return Some((step.what, Vec::new()));
        };
        for ((view, i), before) in step.entries {
            let restore = |e: &mut Entry| *e = before.clone().unwrap_or_default();
            if view == 0 {
                s.update(ds, i, restore);
            } else {
                s.update_task(ds, i, restore);
            }
        }
        Some((step.what, s.take_changes()))
    }
}
