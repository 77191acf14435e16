//! A text prompt: the filter bar, the search, a note, an export path. The text and its
//! cursor are a [`tui_input::Input`] (cursor movement, words, horizontal scroll); the
//! prompt adds what the app tells the analyst while typing.

use tui_input::{Input, InputRequest};

use crate::util::sanitize::for_terminal;

/// An edit of a prompt's text: the loop maps keys onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Insert(char),
    Backspace,
    Delete,
    Left,
    Right,
    WordLeft,
    WordRight,
    Home,
    End,
    /// `^w`: the word before the cursor.
    DeleteWord,
    /// `^u`: everything before the cursor.
    DeleteToStart,
    /// `^k`: everything after the cursor.
    DeleteToEnd,
}

/// What the app says under the prompt while the analyst types (the filter bar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// The query reads, and this many rows pass it.
    Matches(usize),
    /// The query reads; counting stopped (it took too long) after `checked` rows, of which
    /// `matches` pass.
    AtLeast { matches: usize, checked: usize },
    /// The query does not read: where (a character position) and why.
    Error { at: usize, message: String },
}

/// The longest text a prompt holds, in bytes: a path, a query or a note, not a document.
/// Checked on the byte length, so that a paste of a megabyte costs a comparison per key.
pub const MAX_CHARS: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct Prompt {
    input: Input,
    feedback: Option<Feedback>,
}

impl PartialEq for Prompt {
    fn eq(&self, other: &Prompt) -> bool {
        self.text() == other.text() && self.cursor() == other.cursor()
    }
}

impl Eq for Prompt {}

/// A character the prompt takes: no controls or invisible formatting (a paste of a log
/// line must not smuggle an escape sequence onto the screen).
fn printable(c: char) -> bool {
    let s = c.to_string();
    for_terminal(&s, 1) == s
}

impl Prompt {
    /// A prompt holding `text` (made printable: it may come from a session file), the cursor
    /// at its end.
    pub fn new(text: &str) -> Prompt {
        let mut text = text.to_string();
        let mut cut = text.len().min(MAX_CHARS);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        Prompt {
            input: Input::new(for_terminal(&text, usize::MAX)),
            feedback: None,
        }
    }

    pub fn text(&self) -> &str {
        self.input.value()
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.input.cursor()
    }

    pub fn feedback(&self) -> Option<&Feedback> {
        self.feedback.as_ref()
    }

    pub fn set_feedback(&mut self, f: Option<Feedback>) {
        self.feedback = f;
    }

    /// Replace the text, the cursor at its end.
    pub fn set_text(&mut self, text: &str) {
        *self = Prompt::new(text);
    }

    /// Apply an edit; whether the text changed.
    pub fn edit(&mut self, e: Edit) -> bool {
        let req = match e {
            Edit::Insert(c) if !printable(c) || self.text().len() + c.len_utf8() > MAX_CHARS => {
                return false;
            }
            Edit::Insert(c) => InputRequest::InsertChar(c),
            Edit::Backspace => InputRequest::DeletePrevChar,
            Edit::Delete => InputRequest::DeleteNextChar,
            Edit::Left => InputRequest::GoToPrevChar,
            Edit::Right => InputRequest::GoToNextChar,
            Edit::WordLeft => InputRequest::GoToPrevWord,
            Edit::WordRight => InputRequest::GoToNextWord,
            Edit::Home => InputRequest::GoToStart,
            Edit::End => InputRequest::GoToEnd,
            Edit::DeleteWord => InputRequest::DeletePrevWord,
            Edit::DeleteToStart => InputRequest::DeleteFromStart,
            Edit::DeleteToEnd => InputRequest::DeleteTillEnd,
        };
        self.input.handle(req).is_some_and(|s| s.value)
    }

    /// What a box `width` cells wide shows: the first column of text shown (the text
    /// scrolls so that the cursor stays in view) and the cursor's column in the box.
    pub fn window(&self, width: usize) -> (usize, usize) {
        let scroll = self.input.visual_scroll(width.saturating_sub(1));
        (scroll, self.input.visual_cursor().saturating_sub(scroll))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_move_the_cursor_and_change_the_text() {
        let mut p = Prompt::new("user=jdoe");
        assert_eq!(p.cursor(), 9);
        p.edit(Edit::Home);
        p.edit(Edit::Insert('('));
        p.edit(Edit::End);
        p.edit(Edit::Insert(')'));
        assert_eq!(p.text(), "(user=jdoe)");
        p.edit(Edit::Left);
        p.edit(Edit::Backspace);
        assert_eq!(p.text(), "(user=jdo)");
        p.edit(Edit::Delete);
        assert_eq!(p.text(), "(user=jdo");
        p.edit(Edit::DeleteToStart);
        assert_eq!(p.text(), "");
        assert!(!p.edit(Edit::Insert('\u{1b}')), "an escape is not text");
        assert!(!p.edit(Edit::Insert('\u{202e}')), "nor a bidi override");
    }

    #[test]
    fn a_long_text_scrolls_to_keep_the_cursor_in_view() {
        let long = "x".repeat(100);
        let mut p = Prompt::new(&long);
        let (scroll, cursor) = p.window(20);
        assert_eq!(scroll + cursor, 100);
        assert!(cursor < 20);
        p.edit(Edit::Home);
        assert_eq!(p.window(20), (0, 0));
    }

    #[test]
    fn a_hostile_text_is_shown_escaped() {
        let p = Prompt::new("a\u{1b}[2Jb");
        assert_eq!(p.text(), "a\\x1b[2Jb");
    }
}
