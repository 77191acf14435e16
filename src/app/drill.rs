//! The drill-down pane's state: focus, scroll, and the lifecycle view of the selected event
//! (a busy task's lifecycle has thousands of steps: built once per selection, not per frame).

use std::cell::RefCell;
use std::rc::Rc;

use crate::frame::Dataset;
use crate::lifecycle::LifecycleView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
}

#[derive(Debug)]
pub struct Drill {
    focus: Focus,
    scroll: u16,
    lifecycle_cache: RefCell<Option<(usize, Rc<LifecycleView>)>>,
}

impl Default for Drill {
    fn default() -> Self {
        Drill {
            focus: Focus::List,
            scroll: 0,
            lifecycle_cache: RefCell::new(None),
        }
    }
}

impl Drill {
    pub fn focus(&self) -> Focus {
        self.focus
    }

    pub fn scroll(&self) -> u16 {
        self.scroll
    }

    pub(super) fn set_focus(&mut self, f: Focus) {
        self.focus = f;
    }

    pub(super) fn toggle_focus(&mut self) {
        self.focus = match self.focus {
            Focus::List => Focus::Detail,
            Focus::Detail => Focus::List,
        };
    }

    pub(super) fn scroll_by(&mut self, down: bool) {
        self.scroll = if down {
            self.scroll.saturating_add(1)
        } else {
            self.scroll.saturating_sub(1)
        };
    }

    /// A new selection starts at the top.
    pub(super) fn reset_scroll(&mut self) {
        self.scroll = 0;
    }

    pub(super) fn forget(&mut self) {
        self.lifecycle_cache.replace(None);
        self.scroll = 0;
    }

    /// The task lifecycles of unique event `u` (`None` when it belongs to none).
    pub fn lifecycle_view(&self, ds: &Dataset, u: usize) -> Option<Rc<LifecycleView>> {
        if let Some((cu, v)) = &*self.lifecycle_cache.borrow()
            && *cu == u
        {
            return Some(v.clone());
        }
        let view = Rc::new(crate::lifecycle::view(ds, u)?);
        *self.lifecycle_cache.borrow_mut() = Some((u, view.clone()));
        Some(view)
    }
}
