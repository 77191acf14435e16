//! The list of unique events or tasks: virtualised rows, the columns that fit, cells cut
//! where they must be (paths in the middle), search hits highlighted.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use crate::app::{App, COLUMNS, Column, Focus, View, Width};

use super::{safe, style, verdict_style};
use crate::util::cut::{end_ellipsis, name_cell};

/// Severity colour of a row: by its rank among all items of the view.
pub(super) fn severity(app: &App, rank: usize, n: usize) -> Style {
    let c = if rank < (n / 100).max(5) {
        Color::Red
    } else if rank < (n / 20).max(15) {
        Color::Yellow
    } else {
        Color::Reset
    };
    if app.monochrome() {
        // Without colour the tiers stay apart: top 1 % bold and reversed, top 5 % bold.
        match c {
            Color::Red => Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Color::Yellow => Style::default().add_modifier(Modifier::BOLD),
            _ => Style::default(),
        }
    } else {
        Style::default().fg(c)
    }
}

pub(super) fn list(app: &App, f: &mut Frame, area: Rect) {
    let Some(table) = app.table() else { return };
    let focus = app.focus() == Focus::List;
    let what = match app.view() {
        View::Events => "unique events",
        View::Definitions => "task definitions",
        View::Tasks => "tasks",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {what} ({}) ", app.rows().len()))
        .border_style(if focus {
            style(app, Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        });
    let height = area.height.saturating_sub(3) as usize;
    let inner_width = area.width.saturating_sub(2);
    let columns = column_rects(app, inner_width);
    // The search's matches, highlighted in the text columns.
    let needle = app.list().search().filter(|s| !s.is_empty()).and_then(|s| {
        regex::RegexBuilder::new(&regex::escape(s))
            .case_insensitive(true)
            .build()
            .ok()
    });
    let hit = style(app, Color::Yellow).add_modifier(Modifier::REVERSED);
    let text = |t: String| highlighted(t, needle.as_ref(), hit);
    // Virtualised: only the rows on screen are built.
    let rows_all = app.rows();
    let start = app.list().offset().min(rows_all.len());
    let end = (start + height).min(rows_all.len());
    let n = table.ranked().len();
    let rows: Vec<Row> = rows_all[start..end]
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let cells = columns.iter().map(|&(c, r)| match c {
                Column::Rank => {
                    let mark = if app.marks().contains(&i) { "●" } else { " " };
                    Cell::from(format!("{mark}{}", table.cell(i, Column::Rank)))
                }
                Column::Score => {
                    Cell::from(table.cell(i, c)).style(severity(app, table.rank(i), n))
                }
                Column::Flags => Cell::from(table.cell(i, c)).style(style(app, Color::Magenta)),
                Column::Verdict => match table.judged(i).worst {
                    Some(v) => Cell::from(table.judged(i).cell()).style(verdict_style(app, v)),
                    None => Cell::from(if table.note(i).is_empty() { "" } else { "note" }),
                },
                // Paths cut in the middle: where they start and what they are called; the
                // count of variants never eats the name.
                Column::Task => {
                    let (name, variants) = table.name_parts(i);
                    Cell::from(text(name_cell(
                        &safe(&name, 400),
                        variants,
                        usize::from(r.width),
                    )))
                }
                // Cut text ends with an ellipsis: `4700 470…` never reads as event 470.
                Column::User | Column::Command | Column::Event => Cell::from(text(end_ellipsis(
                    &safe(&table.cell(i, c), 400),
                    usize::from(r.width),
                ))),
                Column::Count | Column::Hosts => Cell::from(table.cell(i, c)),
            });
            let mut row = Row::new(cells);
            if start + k == app.selected() {
                row = row.style(if app.monochrome() {
                    Style::default().add_modifier(Modifier::REVERSED)
                } else {
                    Style::default()
                        .bg(Color::DarkGray)
                        .add_modifier(Modifier::BOLD)
                });
            }
            row
        })
        .collect();
    let header = Row::new(columns.iter().map(|&(c, _)| {
        let title = c.title_in(app.view());
        let t = if c == app.list().sort() {
            // One convention: ↓ when the values run largest first down the list.
            let largest_first = c.largest_first() != app.list().descending();
            format!("{title}{}", if largest_first { "↓" } else { "↑" })
        } else {
            title.to_string()
        };
        Cell::from(t)
    }))
    .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let widths = columns.iter().map(|&(_, r)| Constraint::Length(r.width));
    f.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

/// The width the name, user and command columns share at least before narrow columns give
/// way (at 80 columns: event, user and count go, the rest stays readable).
pub(super) const MIN_TEXT: u16 = 40;

/// The list's columns on a table `width` cells wide and their widths, from the column
/// table: fixed and fitted columns first, the rest shared by name, user and command. On a
/// narrow screen event, user and count give way, in that order; an empty fitted
/// column (no flags, no verdict yet) takes no room.
pub(super) fn visible_columns(app: &App, width: u16) -> Vec<(Column, Constraint)> {
    let has_triage = app.triage().session().is_some_and(|s| s.has_triage());
    let mut len: Vec<(Column, Option<u16>)> = COLUMNS
        .iter()
        .map(|spec| {
            let w = match spec.width {
                Width::Fixed(w) => Some(w),
                // The verdict column, once the session holds a verdict or a note.
                // A task's says how many of its events are judged too (`susp 12/34`).
                Width::Fit(_) if spec.column == Column::Verdict => Some(match has_triage {
                    false => 0,
                    true if app.view() == View::Tasks => 11,
                    true => 7,
                }),
                Width::Fit(_) => Some(app.list().fit_width(spec.column)),
                Width::Share(_) => None,
            };
            (spec.column, w)
        })
        .filter(|(_, w)| *w != Some(0))
        .collect();
    let used = |len: &[(Column, Option<u16>)]| -> u16 {
        let cells: u16 = len.iter().map(|(_, w)| w.unwrap_or(0)).sum();
        cells + u16::try_from(len.len().saturating_sub(1)).unwrap_or(0)
    };
    for c in [Column::Event, Column::User, Column::Count] {
        if width.saturating_sub(used(&len)) >= MIN_TEXT {
            break;
        }
        len.retain(|(col, _)| *col != c);
    }
    // With the command beside them, the name and the user are as wide as their widest
    // values, up to 45 % and 22 % of the text's room (the name cut in the middle, keeping
    // its leaf, only beyond that); the command takes the rest.
    let room = width.saturating_sub(used(&len));
    let command = len.iter().any(|(c, _)| *c == Column::Command);
    let (name, user) = if command {
        (
            app.list().fit_width(Column::Task).min(room * 45 / 100),
            app.list().fit_width(Column::User).min(room * 22 / 100),
        )
    } else {
        (0, 0)
    };
    len.into_iter()
        .map(|(c, w)| {
            let constraint = match (w, c.spec().width) {
                (Some(w), _) => Constraint::Length(w),
                (None, Width::Share(_)) if c == Column::Task && name > 0 => Constraint::Min(name),
                (None, Width::Share(_)) if c == Column::User && user > 0 => Constraint::Min(user),
                (None, Width::Share(p)) => Constraint::Fill(p),
                (None, _) => Constraint::Length(0),
            };
            (c, constraint)
        })
        .collect()
}

/// Where each visible column sits in a table `width` cells wide (x relative to the table).
pub(super) fn column_rects(app: &App, width: u16) -> Vec<(Column, Rect)> {
    let cols = visible_columns(app, width);
    let rects = Layout::horizontal(cols.iter().map(|(_, c)| *c))
        .spacing(1)
        .split(Rect::new(0, 0, width, 1));
    cols.into_iter()
        .map(|(c, _)| c)
        .zip(rects.iter().copied())
        .collect()
}

/// `t` with the search's matches in `hit` style.
pub(super) fn highlighted(t: String, needle: Option<&regex::Regex>, hit: Style) -> Line<'static> {
    let Some(re) = needle else {
        return Line::raw(t);
    };
    let mut spans = Vec::new();
    let mut at = 0;
    for m in re.find_iter(&t) {
        if m.start() > at {
            spans.push(Span::raw(t[at..m.start()].to_string()));
        }
        spans.push(Span::styled(m.as_str().to_string(), hit));
        at = m.end();
    }
    if at < t.len() {
        spans.push(Span::raw(t[at..].to_string()));
    }
    Line::from(spans)
}
