//! The list's columns: one table (title, width, sort kind) read by the list, its header
//! clicks and the sort keys, in both views.

use super::View;

/// The list's columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Rank,
    Score,
    Count,
    Hosts,
    /// The event id (a task: its events' ids).
    Event,
    /// Lifecycle flags, abbreviated.
    Flags,
    /// The triage verdict.
    Verdict,
    Task,
    User,
    Command,
}

/// How a column takes its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Exactly this many cells.
    Fixed(u16),
    /// As wide as its widest text over the whole data set (never the rows on screen, so that
    /// columns do not jump while scrolling), at most this many cells; none when empty.
    Fit(u16),
    /// A share (percent) of the width left by the others.
    Share(u16),
}

/// How a column sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Number,
    /// Case-insensitive text order.
    Text,
}

/// One column of the list.
#[derive(Debug)]
pub struct ColumnSpec {
    pub column: Column,
    /// The header in the event view.
    pub title: &'static str,
    /// The header in the task view.
    pub task_title: &'static str,
    pub width: Width,
    pub sort: SortKey,
}

/// Every column, in display order.
pub const COLUMNS: [ColumnSpec; 10] = [
    ColumnSpec {
        column: Column::Rank,
        title: "rank",
        task_title: "rank",
        width: Width::Fixed(6),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Score,
        title: "score",
        task_title: "score",
        width: Width::Fixed(7),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Count,
        title: "count",
        task_title: "count",
        width: Width::Fixed(6),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Hosts,
        title: "hosts",
        task_title: "hosts",
        width: Width::Fixed(7),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Event,
        title: "event",
        task_title: "events",
        width: Width::Fit(28),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Flags,
        title: "flags",
        task_title: "flags",
        width: Width::Fit(24),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Verdict,
        title: "verdict",
        task_title: "verdict",
        width: Width::Fit(7),
        sort: SortKey::Number,
    },
    ColumnSpec {
        column: Column::Task,
        title: "name",
        task_title: "task",
        width: Width::Share(32),
        sort: SortKey::Text,
    },
    ColumnSpec {
        column: Column::User,
        title: "user",
        task_title: "user",
        width: Width::Share(18),
        sort: SortKey::Text,
    },
    ColumnSpec {
        column: Column::Command,
        title: "command",
        task_title: "command",
        width: Width::Share(50),
        sort: SortKey::Text,
    },
];

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Rank,
        Column::Score,
        Column::Count,
        Column::Hosts,
        Column::Event,
        Column::Flags,
        Column::Verdict,
        Column::Task,
        Column::User,
        Column::Command,
    ];

    pub fn spec(self) -> &'static ColumnSpec {
        // COLUMNS is in `ALL` order (a unit test checks it).
        &COLUMNS[self as usize]
    }

    /// The event view's header.
    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// Whether the column's natural order lists the largest values first (score: most unusual
    /// first; flags: most flags first). The header's arrow shows how the values run down the
    /// list: `↓` largest first, `↑` smallest (or A) first.
    pub fn largest_first(self) -> bool {
        matches!(self, Column::Score | Column::Flags)
    }

    /// The header in `view`.
    pub fn title_in(self, view: View) -> &'static str {
        match view {
            View::Events | View::Definitions => self.spec().title,
            View::Tasks => self.spec().task_title,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_display_order() {
        for (i, c) in Column::ALL.iter().enumerate() {
            assert_eq!(COLUMNS[i].column, *c);
            assert_eq!(c.spec().column, *c);
        }
    }
}
