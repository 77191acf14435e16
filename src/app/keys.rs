//! Actions and the key table: the one list both the key handling (`tui::key_action`) and the
//! help overlay are drawn from.

use super::columns::Column;

/// What the user can do. Keys map onto these through [`BINDINGS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Sort by the next column (or, with `Some`, by that column; again reverses).
    Sort(Option<Column>),
    ReverseSort,
    StartFilter,
    ClearFilter,
    /// Cycle the prevalence filter: seen on at most 1, 2, 5 hosts, then off.
    CyclePrevalence,
    StartSearch,
    NextMatch,
    PrevMatch,
    /// A character typed into the open prompt.
    Input(char),
    Backspace,
    /// Any other edit of the open prompt (cursor movement, deletion).
    Edit(super::prompt::Edit),
    Submit,
    /// Close the open prompt or overlay; quit when none is open.
    Back,
    ToggleMark,
    /// Open the verdict chooser for the row (or the marked rows in view).
    StartVerdict,
    /// Give the row (or the marked rows in view) this verdict; `None` clears it.
    SetVerdict(Option<crate::session::Verdict>),
    /// Take back the last triage change (verdict, mark, note).
    Undo,
    /// Write a note on the row.
    StartNote,
    MarkAllFiltered,
    ClearMarks,
    StartExport,
    /// Switch the export format in the export prompt.
    NextFormat,
    ToggleFocus,
    /// Hide or show the drill-down.
    ToggleDrill,
    /// Scroll the drill-down to its next (`true`) or previous section.
    Section(bool),
    /// Open or close the warnings pane.
    ToggleWarnings,
    ToggleHelp,
    /// Switch between the event list and the task list.
    ToggleView,
    /// Rows judged benign: at the bottom of the list, or in place.
    ToggleBenignLast,
    CancelTraining,
    /// Train the model again, leaving out the events marked benign.
    Retrain,
    Quit,
    /// Select the row shown at this position of the list (a mouse click).
    ClickRow(usize),
    /// The list's height changed (rows visible), for paging.
    Resize(usize),
}

/// A key, independent of the terminal library (the loop maps its events onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Tab,
    Esc,
}

impl Key {
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("^{c}"),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::PageUp => "PgUp".into(),
            Key::PageDown => "PgDn".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::Enter => "Enter".into(),
            Key::Tab => "Tab".into(),
            Key::Esc => "Esc".into(),
        }
    }
}

/// One key binding: the keys, what the help overlay says, the hint bar's words for it and
/// their priority (1: always, 2: when there is room; empty: not in the bar), the action.
pub struct Binding {
    pub keys: &'static [Key],
    pub what: &'static str,
    pub hint: (&'static str, u8),
    pub action: Action,
}

/// Every key binding of the list view, in the order the help overlay shows them: the one
/// table both the key handling (`tui::key_action`) and the help are drawn from.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('j'), Key::Down],
        what: "down",
        hint: ("j/k move", 1),
        action: Action::Down,
    },
    Binding {
        keys: &[Key::Char('k'), Key::Up],
        what: "up",
        hint: ("", 0),
        action: Action::Up,
    },
    Binding {
        keys: &[Key::PageDown, Key::Ctrl('d')],
        what: "page down",
        hint: ("", 0),
        action: Action::PageDown,
    },
    Binding {
        keys: &[Key::PageUp, Key::Ctrl('u')],
        what: "page up",
        hint: ("", 0),
        action: Action::PageUp,
    },
    Binding {
        keys: &[Key::Char('g'), Key::Home],
        what: "first row",
        hint: ("", 0),
        action: Action::Top,
    },
    Binding {
        keys: &[Key::Char('G'), Key::End],
        what: "last row",
        hint: ("", 0),
        action: Action::Bottom,
    },
    Binding {
        keys: &[Key::Char('s')],
        what: "sort by the next column (click a header to pick one)",
        hint: ("s sort", 2),
        action: Action::Sort(None),
    },
    Binding {
        keys: &[Key::Char('S')],
        what: "reverse the sort",
        hint: ("", 0),
        action: Action::ReverseSort,
    },
    Binding {
        keys: &[Key::Char('f')],
        what: "filter: a query (user~jdoe AND NOT flags=once, hosts<=2, count>10, ...; README)",
        hint: ("f filter", 1),
        action: Action::StartFilter,
    },
    Binding {
        keys: &[Key::Char('F')],
        what: "clear the filter",
        hint: ("", 0),
        action: Action::ClearFilter,
    },
    Binding {
        keys: &[Key::Char('p')],
        what: "fleet prevalence: seen on at most 1, 2, 5 hosts, then all",
        hint: ("p prevalence", 2),
        action: Action::CyclePrevalence,
    },
    Binding {
        keys: &[Key::Char('/')],
        what: "search (incremental)",
        hint: ("/ search", 1),
        action: Action::StartSearch,
    },
    Binding {
        keys: &[Key::Char('n')],
        what: "next match",
        hint: ("", 0),
        action: Action::NextMatch,
    },
    Binding {
        keys: &[Key::Char('N')],
        what: "previous match",
        hint: ("", 0),
        action: Action::PrevMatch,
    },
    Binding {
        keys: &[Key::Char('t')],
        what: "tasks / events: one row per task (all its events) or per unique event",
        hint: ("t tasks", 2),
        action: Action::ToggleView,
    },
    Binding {
        keys: &[Key::Tab],
        what: "switch focus between the list and the drill-down",
        hint: ("", 0),
        action: Action::ToggleFocus,
    },
    Binding {
        keys: &[Key::Enter],
        what: "focus the drill-down (j k scroll it); on a task: open its events",
        hint: ("", 0),
        action: Action::Submit,
    },
    Binding {
        keys: &[Key::Char(' '), Key::Char('m')],
        what: "mark or unmark the row",
        hint: ("Space mark", 1),
        action: Action::ToggleMark,
    },
    Binding {
        keys: &[Key::Char('v')],
        what: "verdict, then b benign, s suspicious, m malicious, n none (marked: the marks in view; task: its events)",
        hint: ("v verdict", 1),
        action: Action::StartVerdict,
    },
    Binding {
        keys: &[Key::Char('u')],
        what: "undo the last verdict, mark or note",
        hint: ("u undo", 2),
        action: Action::Undo,
    },
    Binding {
        keys: &[Key::Char('B')],
        what: "rows judged benign: at the bottom (the default) or in place",
        hint: ("", 0),
        action: Action::ToggleBenignLast,
    },
    Binding {
        keys: &[Key::Char('a')],
        what: "annotate: a note on the row (saved in the session)",
        hint: ("a note", 2),
        action: Action::StartNote,
    },
    Binding {
        keys: &[Key::Char('A')],
        what: "mark every filtered row",
        hint: ("", 0),
        action: Action::MarkAllFiltered,
    },
    Binding {
        keys: &[Key::Char('C')],
        what: "clear the marks",
        hint: ("", 0),
        action: Action::ClearMarks,
    },
    Binding {
        keys: &[Key::Char('e')],
        what: "export the marked rows (or the filtered view); Tab picks the format",
        hint: ("e export", 1),
        action: Action::StartExport,
    },
    Binding {
        keys: &[Key::Char('c')],
        what: "cancel training (keep the current ranking)",
        hint: ("", 0),
        action: Action::CancelTraining,
    },
    Binding {
        keys: &[Key::Char('R')],
        what: "retrain now, leaving out the events marked benign",
        hint: ("", 0),
        action: Action::Retrain,
    },
    Binding {
        keys: &[Key::Char('z')],
        what: "hide or show the drill-down (the list takes the screen)",
        hint: ("z drill-down", 2),
        action: Action::ToggleDrill,
    },
    Binding {
        keys: &[Key::Char(']')],
        what: "drill-down: next section (why, where, lifecycle, raw fields and XML)",
        hint: ("", 0),
        action: Action::Section(true),
    },
    Binding {
        keys: &[Key::Char('[')],
        what: "drill-down: previous section",
        hint: ("", 0),
        action: Action::Section(false),
    },
    Binding {
        keys: &[Key::Char('W')],
        what: "warnings: files and records that could not be read",
        hint: ("W warnings", 2),
        action: Action::ToggleWarnings,
    },
    Binding {
        keys: &[Key::Char('?')],
        what: "this help",
        hint: ("? help", 1),
        action: Action::ToggleHelp,
    },
    Binding {
        keys: &[Key::Esc],
        what: "close a prompt, the help or the drill-down (never quits)",
        hint: ("", 0),
        action: Action::Back,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Ctrl('c')],
        what: "quit",
        hint: ("q quit", 1),
        action: Action::Quit,
    },
];

/// The action bound to `key` in the list view.
pub fn binding_for(key: Key) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&key))
        .map(|b| b.action.clone())
}
