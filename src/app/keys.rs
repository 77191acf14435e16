//! Actions and the key tables: one table per key map (the list, a prompt, the verdict
//! chooser), the one place the key handling (`tui::key_action`), the help overlay and the
//! hint bar are all drawn from.

use super::columns::Column;
use super::prompt::Edit;
use crate::session::Verdict;

/// What the user can do. Keys map onto these through [`BINDINGS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open the list of every host, file and lifecycle of the row.
    OpenValues,
    /// In that list: copy the selected value to the terminal's clipboard (OSC 52).
    CopyValue,
    /// In that list: write it to a file.
    WriteValues,
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
    /// Close the open prompt, overlay or the drill-down's focus; never quits (one Esc too many
    /// must not lose a filter, a sort and a place).
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
    /// The hosts pane.
    ToggleHosts,
    ToggleHelp,
    /// Switch between the event list and the task list.
    ToggleView,
    /// Definitions / events.
    ToggleDefinitions,
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
    Alt(char),
    Up,
    Down,
    Left,
    Right,
    /// Left or right with Ctrl or Alt: a word at a time.
    WordLeft,
    WordRight,
    Backspace,
    /// Backspace with Ctrl or Alt: the word before the cursor.
    WordBackspace,
    Delete,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Tab,
    Esc,
}

/// Which key table applies: what is open decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keymap {
    /// The list (and the drill-down, the help, the warnings).
    List,
    /// A prompt takes typing: the filter, the search, a note, the export path.
    Prompt,
    /// The verdict chooser: one key, then it closes.
    Verdict,
    /// The list of a row's hosts, files and lifecycles.
    Values,
}

impl Key {
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("^{c}"),
            Key::Alt(c) => format!("alt-{c}"),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::Left => "←".into(),
            Key::Right => "→".into(),
            Key::WordLeft => "^←".into(),
            Key::WordRight => "^→".into(),
            Key::Backspace => "Bksp".into(),
            Key::WordBackspace => "^Bksp".into(),
            Key::Delete => "Del".into(),
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
        keys: &[Key::Char('d')],
        what: "definitions / events: one row per unique task definition found on the hosts (Tasks folder, .job) or per unique event",
        hint: ("d definitions", 2),
        action: Action::ToggleDefinitions,
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
        keys: &[Key::Char('H')],
        what: "hosts: what evidence about tasks each host has, and what could not be seen",
        hint: ("H hosts", 3),
        action: Action::ToggleHosts,
    },
    Binding {
        keys: &[Key::Char('l')],
        what: "list every host, file and lifecycle of the row (y copies one, w writes them all)",
        hint: ("l list", 2),
        action: Action::OpenValues,
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

/// The keys of a prompt (the filter bar, the search, a note, the export path): editing as
/// in a shell line; any other printable key is typed.
pub const PROMPT_BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Enter],
        what: "apply: filter, search, save the note, write the export",
        hint: ("Enter apply", 1),
        action: Action::Submit,
    },
    Binding {
        keys: &[Key::Esc],
        what: "close the prompt, leaving things as they were",
        hint: ("Esc cancel", 1),
        action: Action::Back,
    },
    Binding {
        keys: &[Key::Left],
        what: "cursor left",
        hint: ("← → move", 2),
        action: Action::Edit(Edit::Left),
    },
    Binding {
        keys: &[Key::Right],
        what: "cursor right",
        hint: ("", 0),
        action: Action::Edit(Edit::Right),
    },
    Binding {
        keys: &[Key::WordLeft, Key::Alt('b')],
        what: "a word left",
        hint: ("", 0),
        action: Action::Edit(Edit::WordLeft),
    },
    Binding {
        keys: &[Key::WordRight, Key::Alt('f')],
        what: "a word right",
        hint: ("", 0),
        action: Action::Edit(Edit::WordRight),
    },
    Binding {
        keys: &[Key::Home, Key::Ctrl('a')],
        what: "to the start",
        hint: ("", 0),
        action: Action::Edit(Edit::Home),
    },
    Binding {
        keys: &[Key::End, Key::Ctrl('e')],
        what: "to the end",
        hint: ("", 0),
        action: Action::Edit(Edit::End),
    },
    Binding {
        keys: &[Key::Backspace],
        what: "delete the character before the cursor",
        hint: ("", 0),
        action: Action::Backspace,
    },
    Binding {
        keys: &[Key::Delete],
        what: "delete the character under the cursor",
        hint: ("", 0),
        action: Action::Edit(Edit::Delete),
    },
    Binding {
        keys: &[Key::Ctrl('w'), Key::WordBackspace],
        what: "delete the word before the cursor",
        hint: ("^w word", 2),
        action: Action::Edit(Edit::DeleteWord),
    },
    Binding {
        keys: &[Key::Ctrl('u')],
        what: "delete everything before the cursor",
        hint: ("^u clear", 2),
        action: Action::Edit(Edit::DeleteToStart),
    },
    Binding {
        keys: &[Key::Ctrl('k')],
        what: "delete everything after the cursor",
        hint: ("", 0),
        action: Action::Edit(Edit::DeleteToEnd),
    },
    Binding {
        keys: &[Key::Tab],
        what: "export: the next format (CSV, JSON Lines, Parquet)",
        hint: ("Tab format", 2),
        action: Action::NextFormat,
    },
];

/// The verdict chooser's keys (`v`); any other key closes it with no verdict given.
pub const VERDICT_BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('b')],
        what: "benign",
        hint: ("b benign", 1),
        action: Action::SetVerdict(Some(Verdict::Benign)),
    },
    Binding {
        keys: &[Key::Char('s')],
        what: "suspicious",
        hint: ("s suspicious", 1),
        action: Action::SetVerdict(Some(Verdict::Suspicious)),
    },
    Binding {
        keys: &[Key::Char('m')],
        what: "malicious",
        hint: ("m malicious", 1),
        action: Action::SetVerdict(Some(Verdict::Malicious)),
    },
    Binding {
        keys: &[Key::Char('n'), Key::Char('x')],
        what: "no verdict (clears one)",
        hint: ("n none", 1),
        action: Action::SetVerdict(None),
    },
];

/// The keys of the list of a row's hosts, files and lifecycles (`l`).
pub const VALUES_BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('j'), Key::Down],
        what: "next value",
        hint: ("", 0),
        action: Action::Down,
    },
    Binding {
        keys: &[Key::Char('k'), Key::Up],
        what: "previous value",
        hint: ("", 0),
        action: Action::Up,
    },
    Binding {
        keys: &[Key::PageDown, Key::Ctrl('d')],
        what: "a page down",
        hint: ("", 0),
        action: Action::PageDown,
    },
    Binding {
        keys: &[Key::PageUp, Key::Ctrl('u')],
        what: "a page up",
        hint: ("", 0),
        action: Action::PageUp,
    },
    Binding {
        keys: &[Key::Char('g'), Key::Home],
        what: "the first",
        hint: ("", 0),
        action: Action::Top,
    },
    Binding {
        keys: &[Key::Char('G'), Key::End],
        what: "the last",
        hint: ("", 0),
        action: Action::Bottom,
    },
    Binding {
        keys: &[Key::Char('y'), Key::Char('c')],
        what: "copy the selected value to the terminal's clipboard (OSC 52)",
        hint: ("y copy", 1),
        action: Action::CopyValue,
    },
    Binding {
        keys: &[Key::Char('w')],
        what: "write every value to a file in the current folder (never over one)",
        hint: ("w write", 1),
        action: Action::WriteValues,
    },
    Binding {
        keys: &[Key::Esc, Key::Char('l'), Key::Char('q'), Key::Enter],
        what: "close the list",
        hint: ("Esc close", 1),
        action: Action::Back,
    },
];

impl Keymap {
    /// The key table of this map.
    pub fn bindings(self) -> &'static [Binding] {
        match self {
            Keymap::List => BINDINGS,
            Keymap::Prompt => PROMPT_BINDINGS,
            Keymap::Verdict => VERDICT_BINDINGS,
            Keymap::Values => VALUES_BINDINGS,
        }
    }

    /// The name of the first key bound to `action` here (what a hint tells the user to
    /// press), from the table, so that a hint cannot name a key that does something else.
    pub fn key_for(self, action: &Action) -> Option<String> {
        self.bindings()
            .iter()
            .find(|b| &b.action == action)
            .and_then(|b| b.keys.first())
            .map(|k| k.label())
    }

    /// The action `key` means here: from the table; in a prompt, a printable key not in it
    /// is typed; in the verdict chooser, any other key closes it.
    pub fn action(self, key: Key) -> Option<Action> {
        let found = self
            .bindings()
            .iter()
            .find(|b| b.keys.contains(&key))
            .map(|b| b.action.clone());
        match (self, found, key) {
            (_, Some(a), _) => Some(a),
            (Keymap::Prompt, None, Key::Char(c)) => Some(Action::Input(c)),
            (Keymap::Prompt, None, _) => None,
            (Keymap::Verdict, None, _) => Some(Action::Back),
            // The list reads alt-x as x.
            (Keymap::List, None, Key::Alt(c)) => Keymap::List.action(Key::Char(c)),
            (Keymap::List, None, _) => None,
            (Keymap::Values, None, _) => None,
        }
    }
}

/// The action bound to `key` in the list view.
pub fn binding_for(key: Key) -> Option<Action> {
    Keymap::List.action(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key means one thing in each map: no key is bound twice in one table.
    #[test]
    fn no_key_is_bound_twice_in_a_map() {
        for map in [
            Keymap::List,
            Keymap::Prompt,
            Keymap::Verdict,
            Keymap::Values,
        ] {
            let keys: Vec<Key> = map
                .bindings()
                .iter()
                .flat_map(|b| b.keys.iter().copied())
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{map:?}: {k:?} twice");
            }
            for b in map.bindings() {
                for &k in b.keys {
                    assert_eq!(map.action(k), Some(b.action.clone()), "{map:?} {k:?}");
                }
            }
        }
    }

    #[test]
    fn each_map_reads_what_its_table_does_not_name() {
        // A prompt types printable keys, the list's letters included.
        assert_eq!(
            Keymap::Prompt.action(Key::Char('q')),
            Some(Action::Input('q'))
        );
        assert_eq!(Keymap::Prompt.action(Key::Ctrl('x')), None);
        // The chooser: any other key gives no verdict.
        assert_eq!(Keymap::Verdict.action(Key::Char('q')), Some(Action::Back));
        assert_eq!(Keymap::Verdict.action(Key::Enter), Some(Action::Back));
        assert_eq!(
            Keymap::Verdict.action(Key::Char('x')),
            Some(Action::SetVerdict(None))
        );
        // The list: alt-j moves as j does; a bare arrow sideways means nothing.
        assert_eq!(Keymap::List.action(Key::Alt('j')), Some(Action::Down));
        assert_eq!(Keymap::List.action(Key::Left), None);
    }
}
