//! Drawing: a pure function of [`App`]. Every string that came from a log passes through
//! [`for_terminal`] first, so escape sequences, control and bidirectional characters are shown
//! escaped and can never move the cursor or change the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};

use crate::app::{Action, App, Mode, Prompt};
use crate::output::Format;
use crate::session::Verdict;
use crate::util::sanitize::for_terminal;

mod drill;
mod footer;
mod header;
mod list;
mod overlay;

pub use crate::util::cut::{end_ellipsis, middle_ellipsis, name_cell};
use drill::detail;
use footer::footer;
pub use footer::hint_bar;
use header::{header, loading};
use list::{column_rects, list};
use overlay::{help, hosts, prompt, values, verdict_chooser, warnings};

/// Strings from logs, made safe and cut to `max` characters.
pub(super) fn safe(s: &str, max: usize) -> String {
    for_terminal(s, max)
}

pub(super) fn style(app: &App, color: Color) -> Style {
    if app.monochrome() {
        Style::default()
    } else {
        Style::default().fg(color)
    }
}

/// From this width the list and the drill-down are side by side (the list then keeps its
/// name, user and command columns readable next to ten narrow ones).
pub const SIDE_BY_SIDE: u16 = 160;

/// The screen's parts: header, body, footer; the body split into list and drill-down (side by
/// side from [`SIDE_BY_SIDE`] columns, else stacked; the list alone when `z` hid the
/// drill-down). Rendering, paging and mouse clicks share it.
pub(super) fn areas(app: &App, area: Rect) -> (Rect, [Rect; 2], Rect) {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(2),
        ])
        .split(area);
    if app.drill().hidden() {
        let empty = Rect {
            height: 0,
            ..rows[1]
        };
        return (rows[0], [rows[1], empty], rows[2]);
    }
    let body = if area.width >= SIDE_BY_SIDE {
        Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(58), Constraint::Percentage(42)])
            .split(rows[1])
    } else {
        Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
            .split(rows[1])
    };
    (rows[0], [body[0], body[1]], rows[2])
}

/// What a left click at (`x`, `y`) on a screen of `area` means: a list row selects it, a
/// column header sorts by that column.
pub fn click(app: &App, area: Rect, x: u16, y: u16) -> Option<Action> {
    app.dataset().as_ref()?;
    let (_, [list, _], _) = areas(app, area);
    let inner = list.inner(ratatui::layout::Margin::new(1, 1));
    if !inner.contains(ratatui::layout::Position { x, y }) {
        return None;
    }
    if y == inner.y {
        return column_rects(app, inner.width)
            .into_iter()
            .find(|(_, r)| r.width > 0 && x >= inner.x + r.x && x <= inner.x + r.x + r.width)
            .map(|(c, _)| Action::Sort(Some(c)));
    }
    Some(Action::ClickRow((y - inner.y - 1) as usize))
}

/// A drawn buffer as text, one line per row, trailing blanks dropped (render tests, the
/// `screens` example's captures).
pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let line: String = (area.left()..area.right())
            .map(|x| buf[(x, y)].symbol())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Draw the whole screen.
pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let (top, body, bottom) = areas(app, area);
    header(app, f, top);
    if app.dataset().is_some() {
        list(app, f, body[0]);
        if body[1].height > 0 {
            detail(app, f, body[1]);
        }
    } else {
        loading(app, f, body[0].union(body[1]));
    }
    footer(app, f, bottom);
    match &app.mode() {
        Mode::Help => help(app, f, area),
        Mode::Warnings => warnings(app, f, area),
        Mode::Hosts => hosts(app, f, area),
        Mode::Filter(t) => prompt(
            app,
            f,
            area,
            "filter: field=v != ~regex !~ < <= > >=, AND OR NOT ( ); a bare word searches every field",
            t,
        ),
        Mode::Search(t) => prompt(
            app,
            f,
            area,
            "search (Enter keeps it; n / N move between matches)",
            t,
        ),
        Mode::Note(t) => prompt(
            app,
            f,
            area,
            "note on this event (Enter saves it in the session, Esc cancels)",
            t,
        ),
        Mode::Export { format, path } => {
            let n = app.export_rows().len();
            let what = if app.marks().is_empty() {
                "the filtered view"
            } else {
                "the marked rows"
            };
            let title = format!(
                "export {n} rows ({what}) as {} to (Tab: format, Enter: write, Esc: cancel)",
                fmt_name(*format)
            );
            prompt(app, f, area, &title, path);
        }
        Mode::ConfirmOverwrite { path, .. } => prompt(
            app,
            f,
            area,
            "this file exists: y writes over it, any other key goes back to the path",
            &Prompt::new(path),
        ),
        Mode::Verdict {
            rows,
            hidden,
            marked,
        } => verdict_chooser(app, f, area, *rows, *hidden, *marked),
        Mode::Values {
            title,
            items,
            cursor,
        } => values(app, f, area, title, items, *cursor),
        Mode::Normal => {}
    }
}

pub(super) fn fmt_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "CSV",
        Format::Jsonl => "JSON Lines",
        Format::Parquet => "Parquet",
        Format::Json => "JSON",
        Format::Table => "table",
        Format::Html => "HTML report",
    }
}

/// The list's rows per screen, for paging (the table's height less its header and borders).
pub fn list_height(app: &App, area: Rect) -> usize {
    let (_, [list, _], _) = areas(app, area);
    list.height.saturating_sub(3) as usize
}

pub(super) fn verdict_style(app: &App, v: Verdict) -> Style {
    match v {
        Verdict::Malicious => style(app, Color::Red).add_modifier(Modifier::BOLD),
        Verdict::Suspicious => style(app, Color::Yellow),
        Verdict::Benign => style(app, Color::Green),
    }
}

/// `text` broken at spaces into lines of at most `width` characters, the lines after the
/// first indented by `indent` (a word longer than a line is cut).
pub(super) fn wrap_indented(text: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(indent + 8);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let room = width - if out.is_empty() { 0 } else { indent };
            let sep = usize::from(len > 0);
            if len + sep + word.len() <= room {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                len += sep + word.len();
                break;
            }
            if len == 0 {
                // A word longer than a whole line: cut it.
                let rest = word.split_off(room.min(word.len()));
                line.extend(word.iter());
                word = rest;
            }
            out.push(std::mem::take(&mut line));
            len = 0;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out.iter()
        .enumerate()
        .map(|(k, l)| {
            if k == 0 {
                l.clone()
            } else {
                format!("{}{l}", " ".repeat(indent))
            }
        })
        .collect()
}
