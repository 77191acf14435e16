//! One list's state: which items it shows (filtered and sorted), the cursor, the scroll
//! position, the sort, the filter and the search. The event view and the task view each keep
//! their own, so switching views keeps the place in both.

use std::collections::HashMap;

use rayon::prelude::*;

use super::columns::{Column, SortKey, Width};
use super::filter::Filter;
use super::table::Table;

#[derive(Debug)]
pub struct ListView {
    /// Item indices in display order (filtered and sorted).
    rows: Vec<usize>,
    /// Index into `rows`.
    selected: usize,
    /// First row shown (the list is virtualised: only visible rows are drawn).
    offset: usize,
    /// Rows per screen, for paging.
    page: usize,
    sort: Column,
    descending: bool,
    filter: Option<Filter>,
    search: Option<String>,
    /// Positions in `rows` of the rows the search matches, in order (the match count and
    /// `n` / `N`).
    hits: Vec<usize>,
    /// Every item's place in the case-insensitive order of a text column, built on first
    /// use: sorting by text is then an integer sort.
    text_order: HashMap<Column, Vec<u32>>,
    /// Rows judged benign go to the bottom (dismissed, they must not rise to the top once
    /// training leaves them out); `B` shows them in place.
    benign_last: bool,
    /// The widths of the [`Width::Fit`] columns over every item (not the rows on screen, so
    /// that columns stay put while scrolling), in [`Column::ALL`] order; 0 for the others.
    fit: [u16; 10],
    /// Whether `fit` was measured on the current dataset.
    fitted: bool,
}

impl Default for ListView {
    fn default() -> Self {
        ListView {
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            page: 20,
            sort: Column::Rank,
            descending: false,
            filter: None,
            search: None,
            hits: Vec::new(),
            text_order: HashMap::new(),
            benign_last: true,
            fit: [0; 10],
            fitted: false,
        }
    }
}

impl ListView {
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn page(&self) -> usize {
        self.page
    }

    pub fn sort(&self) -> Column {
        self.sort
    }

    pub fn descending(&self) -> bool {
        self.descending
    }

    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// The width of a [`Width::Fit`] column (0: no item has text there).
    pub fn fit_width(&self, col: Column) -> u16 {
        self.fit[col as usize]
    }

    /// Whether rows judged benign are listed last.
    pub fn benign_last(&self) -> bool {
        self.benign_last
    }

    pub(super) fn toggle_benign_last(&mut self) {
        self.benign_last = !self.benign_last;
    }

    pub fn search(&self) -> Option<&str> {
        self.search.as_deref()
    }

    /// The item under the cursor.
    pub fn current(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }

    pub(super) fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.scroll_to_selected();
    }

    /// Set the search and find the rows it matches.
    pub(super) fn set_search(&mut self, table: &Table<'_>, s: Option<String>) {
        self.search = s;
        self.find_hits(table);
    }

    fn find_hits(&mut self, table: &Table<'_>) {
        self.hits.clear();
        let Some(needle) = self.search.as_deref().filter(|s| !s.is_empty()) else {
            return;
        };
        let needle = needle.to_lowercase();
        self.hits = (0..self.rows.len())
            .into_par_iter()
            .filter(|&k| table.matches(self.rows[k], &needle))
            .collect();
    }

    /// The search's matches: which of them the cursor is on (from 1) and how many.
    pub fn hits(&self) -> (Option<usize>, usize) {
        let at = self.hits.binary_search(&self.selected).ok().map(|k| k + 1);
        (at, self.hits.len())
    }

    /// Forget everything derived from the data (a new dataset).
    pub(super) fn reset_data(&mut self) {
        self.text_order.clear();
        self.fitted = false;
        self.rows.clear();
        self.selected = 0;
        self.offset = 0;
    }

    /// Move the cursor to row `i` (clamped) and keep it on screen.
    pub(super) fn move_to(&mut self, i: usize) {
        self.selected = i.min(self.rows.len().saturating_sub(1));
        self.scroll_to_selected();
    }

    /// Put the cursor on item `item` (or the first row when it is not shown).
    pub(super) fn select_item(&mut self, item: Option<usize>) {
        self.selected = item
            .and_then(|u| self.rows.iter().position(|&r| r == u))
            .unwrap_or(0);
        self.scroll_to_selected();
    }

    fn scroll_to_selected(&mut self) {
        let page = self.page.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
    }

    /// Sort by `col` (again: reverse), or by the next column when `None`.
    pub(super) fn sort_by(&mut self, col: Option<Column>) {
        match col {
            Some(c) if c == self.sort => self.descending = !self.descending,
            Some(c) => {
                self.sort = c;
                self.descending = false;
            }
            None => {
                let i = Column::ALL
                    .iter()
                    .position(|&c| c == self.sort)
                    .unwrap_or(0);
                self.sort = Column::ALL[(i + 1) % Column::ALL.len()];
                self.descending = false;
            }
        }
    }

    pub(super) fn reverse(&mut self) {
        self.descending = !self.descending;
    }

    pub(super) fn set_filter(&mut self, f: Option<Filter>) {
        self.filter = f;
    }

    /// Recompute the rows from the filter and the sort, keeping the cursor on its item.
    pub(super) fn refresh(&mut self, table: &Table<'_>) {
        let keep = self.current();
        let col = self.sort;
        if col.spec().sort == SortKey::Text && !self.text_order.contains_key(&col) {
            let order = text_order(table, col);
            self.text_order.insert(col, order);
        }
        // The fitted widths read texts that never change after loading: once per dataset,
        // not on every sort or filter.
        for c in Column::ALL.into_iter().filter(|_| !self.fitted) {
            if let Width::Fit(max) = c.spec().width {
                let widest = table
                    .ranked()
                    .iter()
                    .map(|&i| table.cell(i, c).chars().count())
                    .max()
                    .unwrap_or(0);
                self.fit[c as usize] = if widest == 0 {
                    0
                } else {
                    // Room for the title and its sort arrow.
                    (widest.max(c.title_in(table.view).chars().count() + 1) as u16).min(max)
                };
            }
        }
        // The widest name (with its count of variants), which the name column is given
        // before the user and command columns share what is left.
        if !self.fitted {
            let widest = table
                .ranked()
                .iter()
                .map(|&i| {
                    let (name, variants) = table.name_parts(i);
                    name.chars().count() + if variants > 0 { 6 } else { 0 }
                })
                .max()
                .unwrap_or(0);
            self.fit[Column::Task as usize] = u16::try_from(widest.min(120)).unwrap_or(120);
            let users = table
                .ranked()
                .iter()
                .map(|&i| table.cell(i, Column::User).chars().count())
                .max()
                .unwrap_or(0);
            self.fit[Column::User as usize] = u16::try_from(users.min(40)).unwrap_or(40);
        }
        self.fitted = true;
        let filter = self.filter.as_ref();
        let mut rows: Vec<usize> = table
            .ranked()
            .iter()
            .copied()
            .filter(|&i| table.passes(i, filter))
            .collect();
        match col.spec().sort {
            SortKey::Text => {
                let order = &self.text_order[&col];
                rows.sort_unstable_by_key(|&i| (order.get(i).copied(), table.rank(i)));
            }
            SortKey::Number => rows.sort_by(|&a, &b| {
                table
                    .number(a, col)
                    .total_cmp(&table.number(b, col))
                    .then(table.rank(a).cmp(&table.rank(b)))
            }),
        }
        if self.descending {
            rows.reverse();
        }
        if self.benign_last {
            // Stable: the rest keeps its order.
            rows.sort_by_key(|&i| table.verdict(i) == Some(crate::session::Verdict::Benign));
        }
        self.rows = rows;
        self.select_item(keep);
        self.find_hits(table);
    }

    /// Move to the next (or previous) row matching the search, from row `from` (inclusive),
    /// wrapping around.
    pub(super) fn find(&mut self, from: usize, forward: bool) -> bool {
        if self.hits.is_empty() {
            return false;
        }
        let k = self.hits.partition_point(|&h| h < from);
        let to = if forward {
            self.hits.get(k).or(self.hits.first())
        } else {
            // The last hit at or before `from`.
            match self.hits.get(k) {
                Some(&h) if h == from => Some(&self.hits[k]),
                _ if k > 0 => self.hits.get(k - 1),
                _ => self.hits.last(),
            }
        };
        match to.copied() {
            Some(row) => {
                self.move_to(row);
                true
            }
            None => false,
        }
    }
}

/// Every item's place in the case-insensitive order of a text column (equal texts share a
/// place). The texts never change after loading, so it is computed once per column.
fn text_order(table: &Table<'_>, col: Column) -> Vec<u32> {
    let n = table.ranked().len();
    let mut keyed: Vec<(String, usize)> = (0..n)
        .into_par_iter()
        .map(|i| (table.cell(i, col).to_lowercase(), i))
        .collect();
    keyed.par_sort_unstable();
    let mut order = vec![0u32; n];
    let mut place = 0u32;
    for i in 0..keyed.len() {
        if i > 0 && keyed[i].0 != keyed[i - 1].0 {
            place += 1;
        }
        order[keyed[i].1] = place;
    }
    order
}
