//! Triage state: the marks of both views and the session that keeps marks, verdicts and
//! notes. Changes are handed to the session's [`crate::session::Saver`] as effects: no file
//! is read or written here.

use std::collections::BTreeSet;

use crate::frame::Dataset;
use crate::session::{Change, Entry, Session};

use super::View;

#[derive(Debug, Default)]
pub struct Triage {
    session: Option<Session>,
    marks: BTreeSet<usize>,
    task_marks: BTreeSet<usize>,
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
            View::Events => &self.marks,
            View::Tasks => &self.task_marks,
        }
    }

    pub(super) fn marks_mut(&mut self, view: View) -> &mut BTreeSet<usize> {
        match view {
            View::Events => &mut self.marks,
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
        for &i in items {
            match view {
                View::Events => s.update(ds, i, &f),
                View::Tasks => s.update_task(ds, i, &f),
            }
        }
        s.take_changes()
    }
}
