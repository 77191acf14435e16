//! The drill-down pane's state: focus, scroll, and the lifecycle view of the selected event
//! (a busy task's lifecycle has thousands of steps: built once per selection, not per frame).

use std::cell::{Cell, RefCell};
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
    /// How far the pane can scroll, as the last frame drew it (the renderer knows the wrapped
    /// height; keys stop scrolling there).
    max_scroll: Cell<u16>,
    lifecycle_cache: RefCell<Option<(usize, Rc<LifecycleView>)>>,
}

impl Default for Drill {
    fn default() -> Self {
        Drill {
            focus: Focus::List,
            scroll: 0,
            max_scroll: Cell::new(u16::MAX),
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
        self.scroll_lines(if down { 1 } else { -1 });
    }

    /// Scroll by `n` lines (negative: up), within the pane's content.
    pub(super) fn scroll_lines(&mut self, n: i32) {
        let max = i32::from(self.max_scroll.get());
        let now = i32::from(self.scroll).min(max);
        self.scroll = u16::try_from((now + n).clamp(0, max)).unwrap_or(0);
    }

    /// To the top (`false`) or the end (`true`).
    pub(super) fn scroll_to(&mut self, end: bool) {
        self.scroll = if end { self.max_scroll.get() } else { 0 };
    }

    /// The renderer says how far the pane can scroll.
    pub fn set_max_scroll(&self, max: u16) {
        self.max_scroll.set(max);
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
