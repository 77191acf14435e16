//! The drill-down pane's state: focus, scroll, and the lifecycle view of the selected event
//! (a busy task's lifecycle has thousands of steps: built once per selection, not per frame).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::context::lifecycle::LifecycleView;
use crate::frame::Dataset;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
}

/// A scrolled pane's position. How far it can scroll is what the last frame drew (the
/// renderer knows the wrapped height; keys stop scrolling there).
#[derive(Debug)]
pub struct Scroll {
    pos: u16,
    max: Cell<u16>,
}

impl Default for Scroll {
    fn default() -> Self {
        Scroll {
            pos: 0,
            max: Cell::new(u16::MAX),
        }
    }
}

impl Scroll {
    pub fn pos(&self) -> u16 {
        self.pos.min(self.max.get())
    }

    /// Scroll by `n` lines (negative: up), within the pane's content.
    pub(super) fn lines(&mut self, n: i32) {
        let max = i32::from(self.max.get());
        let now = i32::from(self.pos).min(max);
        self.pos = u16::try_from((now + n).clamp(0, max)).unwrap_or(0);
    }

    /// To the top (`false`) or the end (`true`).
    pub(super) fn to(&mut self, end: bool) {
        self.pos = if end { self.max.get() } else { 0 };
    }

    pub(super) fn set(&mut self, pos: u16) {
        self.pos = pos.min(self.max.get());
    }

    /// The renderer says how far the pane can scroll.
    pub fn set_max(&self, max: u16) {
        self.max.set(max);
    }

    pub(super) fn reset(&mut self) {
        self.pos = 0;
    }
}

#[derive(Debug)]
pub struct Drill {
    focus: Focus,
    scroll: Scroll,
    /// Hidden by `z`: the list takes the screen.
    hidden: bool,
    /// Where the pane's sections start (wrapped lines from the top), as the last frame drew
    /// them: `]` and `[` jump between them.
    sections: RefCell<Vec<u16>>,
    lifecycle_cache: RefCell<Option<(usize, Rc<LifecycleView>)>>,
}

impl Default for Drill {
    fn default() -> Self {
        Drill {
            focus: Focus::List,
            scroll: Scroll::default(),
            hidden: false,
            sections: RefCell::new(Vec::new()),
            lifecycle_cache: RefCell::new(None),
        }
    }
}

impl Drill {
    pub fn focus(&self) -> Focus {
        self.focus
    }

    pub fn scroll(&self) -> u16 {
        self.scroll.pos
    }

    pub fn hidden(&self) -> bool {
        self.hidden
    }

    /// `z`: hide the pane (the focus goes back to the list) or show it.
    pub(super) fn toggle_hidden(&mut self) {
        self.hidden = !self.hidden;
        if self.hidden {
            self.focus = Focus::List;
        }
    }

    /// The renderer says where the sections start.
    pub fn set_sections(&self, starts: Vec<u16>) {
        *self.sections.borrow_mut() = starts;
    }

    /// `]` / `[`: to the start of the next or the previous section; whether it moved.
    pub(super) fn jump(&mut self, next: bool) -> bool {
        let now = self.scroll.pos();
        let sections = self.sections.borrow();
        let to = if next {
            sections.iter().copied().find(|&s| s > now)
        } else {
            sections.iter().rev().copied().find(|&s| s < now)
        };
        drop(sections);
        match to {
            Some(to) => {
                self.scroll.set(to);
                true
            }
            None if !next && now > 0 => {
                self.scroll.reset();
                true
            }
            None => false,
        }
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
        self.scroll.lines(if down { 1 } else { -1 });
    }

    /// Scroll by `n` lines (negative: up), within the pane's content.
    pub(super) fn scroll_lines(&mut self, n: i32) {
        self.scroll.lines(n);
    }

    /// To the top (`false`) or the end (`true`).
    pub(super) fn scroll_to(&mut self, end: bool) {
        self.scroll.to(end);
    }

    /// The renderer says how far the pane can scroll.
    pub fn set_max_scroll(&self, max: u16) {
        self.scroll.set_max(max);
    }

    /// A new selection starts at the top.
    pub(super) fn reset_scroll(&mut self) {
        self.scroll.reset();
    }

    pub(super) fn forget(&mut self) {
        self.lifecycle_cache.replace(None);
        self.scroll.reset();
    }

    /// The task lifecycles of unique event `u` (`None` when it belongs to none).
    pub fn lifecycle_view(&self, ds: &Dataset, u: usize) -> Option<Rc<LifecycleView>> {
        if let Some((cu, v)) = &*self.lifecycle_cache.borrow()
            && *cu == u
        {
            return Some(v.clone());
        }
        let view = Rc::new(crate::context::lifecycle::view(ds, u)?);
        *self.lifecycle_cache.borrow_mut() = Some((u, view.clone()));
        Some(view)
    }
}
