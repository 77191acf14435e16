//! Drawing: a pure function of [`App`]. Every string that came from a log passes through
//! [`for_terminal`] first, so escape sequences, control and bidirectional characters are shown
//! escaped and can never move the cursor or change the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Sparkline, Table, Wrap,
};

use crate::app::{
    Action, App, BINDINGS, COLUMNS, Column, Feedback, Focus, Keymap, Mode, PROMPT_BINDINGS, Prompt,
    Training, VERDICT_BINDINGS, View, Width,
};
use crate::event::rfc3339;
use crate::output::Format;
use crate::session::Verdict;
use crate::timeline::{Change, Step};
use crate::util::sanitize::for_terminal;

/// Strings from logs, made safe and cut to `max` characters.
fn safe(s: &str, max: usize) -> String {
    for_terminal(s, max)
}

fn style(app: &App, color: Color) -> Style {
    if app.monochrome() {
        Style::default()
    } else {
        Style::default().fg(color)
    }
}

/// From this width the list and the drill-down are side by side (the list then keeps its
/// name, user and command columns readable next to ten narrow ones).
pub const SIDE_BY_SIDE: u16 = 160;

/// From this width the header gives training a gauge and a loss curve of its own.
const WIDE_HEADER: u16 = 120;

/// The screen's parts: header, body, footer; the body split into list and drill-down (side by
/// side from [`SIDE_BY_SIDE`] columns, else stacked; the list alone when `z` hid the
/// drill-down). Rendering, paging and mouse clicks share it.
fn areas(app: &App, area: Rect) -> (Rect, [Rect; 2], Rect) {
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
        Mode::Verdict { rows, hidden } => verdict_chooser(app, f, area, *rows, *hidden),
        Mode::Normal => {}
    }
}

/// `v`: the verdicts and their keys, and what they will judge.
fn verdict_chooser(app: &App, f: &mut Frame, area: Rect, rows: usize, hidden: usize) {
    let r = centered(area, 72, 4);
    f.render_widget(Clear, r);
    let key = style(app, Color::Cyan).add_modifier(Modifier::BOLD);
    let mut keys = Vec::new();
    for v in [Verdict::Benign, Verdict::Suspicious, Verdict::Malicious] {
        keys.push(Span::styled(format!(" {} ", v.key()), key));
        keys.push(Span::styled(v.name(), verdict_style(app, v)));
    }
    keys.push(Span::styled(" n ", key));
    keys.push(Span::raw("none"));
    keys.push(Span::styled(" Esc ", key));
    keys.push(Span::raw("cancels"));
    let scope = match (rows, hidden) {
        (1, 0) => "this row".to_string(),
        (n, 0) => format!("the {n} marked rows"),
        (n, h) => format!("the {n} marked rows in view ({h} hidden marks left alone)"),
    };
    f.render_widget(
        Paragraph::new(vec![Line::from(keys), Line::raw(format!(" for {scope}"))])
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" verdict (u undoes) "),
            ),
        r,
    );
}

fn fmt_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "CSV",
        Format::Jsonl => "JSON Lines",
        Format::Parquet => "Parquet",
        Format::Json => "JSON",
        Format::Table => "table",
    }
}

/// The list's rows per screen, for paging (the table's height less its header and borders).
pub fn list_height(app: &App, area: Rect) -> usize {
    let (_, [list, _], _) = areas(app, area);
    list.height.saturating_sub(3) as usize
}

/// Training in a few words, for a narrow header.
fn training_words(app: &App) -> String {
    match app.training() {
        Training::Running { last: Some(r), .. } => format!(
            "training {}/{} {:.0}s left (c cancels)",
            r.epoch, r.epochs, r.eta
        ),
        Training::Running { last: None, .. } => "training ... (c cancels)".into(),
        Training::Done {
            model,
            epochs,
            models,
            seconds,
        } if *models > 1 => format!(
            "{model}: {models} models x {} epochs in {seconds:.1} s",
            epochs / models
        ),
        Training::Done {
            model,
            epochs,
            seconds,
            ..
        } => format!("{model}: {epochs} epochs in {seconds:.1} s"),
        Training::Cancelled => "training cancelled".into(),
        Training::Failed(e) => format!("training failed: {}", safe(e, 60)),
        Training::NotStarted => String::new(),
    }
}

/// Two lines: what was read (numbers only, so that they are never cut) and what the list
/// shows; from [`WIDE_HEADER`] columns a training gauge and loss curve on the right, else
/// training in words at the end of the first line.
fn header(app: &App, f: &mut Frame, area: Rect) {
    let wide = area.width >= WIDE_HEADER;
    let parts = Layout::default()
        .direction(Direction::Horizontal)
        .constraints(if wide {
            [
                Constraint::Min(30),
                Constraint::Length(1),
                Constraint::Length(46),
            ]
        } else {
            [
                Constraint::Min(0),
                Constraint::Length(0),
                Constraint::Length(0),
            ]
        })
        .split(area);
    let mut first = vec![
        Span::styled(
            " anomalog ",
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(" "),
        Span::raw(if app.headline().is_empty() {
            "reading logs ...".to_string()
        } else {
            safe(app.headline(), 200)
        }),
    ];
    if !wide && !matches!(app.training(), Training::NotStarted) {
        first.push(Span::styled(
            format!("  {}", training_words(app)),
            style(app, Color::Cyan),
        ));
    }
    let model = app.ranking().map_or("-", |r| r.model.name());
    let arrow = if app.list().sort().largest_first() != app.list().descending() {
        "↓"
    } else {
        "↑"
    };
    let mut second = vec![
        Span::raw(format!(" {} {}", app.rows().len(), app.view().name())),
        Span::raw(format!(
            "  by {model}  sort {}{arrow}",
            app.list().sort().title_in(app.view())
        )),
    ];
    if !app.marks().is_empty() {
        second.push(Span::raw(format!("  {} marked", app.marks().len())));
    }
    if !app.warnings().is_empty() {
        second.push(Span::styled(
            format!("  {} warnings (W)", app.warnings().len()),
            style(app, Color::Yellow),
        ));
    }
    second.push(Span::raw(match &app.list().filter() {
        Some(crate::app::Filter::Task { name, .. }) => {
            format!("  task {} (t: back to tasks)", safe(name, 60))
        }
        Some(f) => format!("  filter {}", safe(&f.text(), 60)),
        None => String::new(),
    }));
    f.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        parts[0],
    );
    if !wide {
        return;
    }
    // Training: a gauge and a loss sparkline.
    let t = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(1), Constraint::Length(1)])
        .split(parts[2]);
    match &app.training() {
        Training::Running { last, losses } => {
            let (ratio, label) = match last {
                Some(r) => (
                    r.epoch as f64 / r.epochs.max(1) as f64,
                    format!(
                        "training {}/{} loss {:.2} {:.0}s left (c cancels)",
                        r.epoch, r.epochs, r.loss, r.eta
                    ),
                ),
                None => (0.0, "training ... (c cancels)".into()),
            };
            f.render_widget(
                Gauge::default()
                    .ratio(ratio.clamp(0.0, 1.0))
                    .label(label)
                    .gauge_style(style(app, Color::Cyan)),
                t[0],
            );
            let max = losses.iter().cloned().fold(f64::MIN, f64::max).max(1e-9);
            let data: Vec<u64> = losses.iter().map(|l| (l / max * 100.0) as u64).collect();
            f.render_widget(
                Sparkline::default()
                    .data(&data)
                    .style(style(app, Color::Cyan)),
                t[1],
            );
        }
        _ => f.render_widget(Paragraph::new(training_words(app)), t[0]),
    }
}

fn loading(app: &App, f: &mut Frame, area: Rect) {
    let l = app.loading().cloned().unwrap_or_default();
    let ratio = if l.files_total > 0 {
        l.files_done as f64 / l.files_total as f64
    } else {
        0.0
    };
    let block = Block::default().borders(Borders::ALL).title(" loading ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .split(inner);
    f.render_widget(
        Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label(format!(
                "{}/{} files, {} records",
                l.files_done, l.files_total, l.records
            ))
            .gauge_style(style(app, Color::Green)),
        rows[0],
    );
}

/// Severity colour of a row: by its rank among all items of the view.
fn severity(app: &App, rank: usize, n: usize) -> Style {
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

fn list(app: &App, f: &mut Frame, area: Rect) {
    let Some(table) = app.table() else { return };
    let focus = app.focus() == Focus::List;
    let what = match app.view() {
        View::Events => "unique events",
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
                Column::Verdict => match table.verdict(i) {
                    Some(v) => Cell::from(v.short()).style(verdict_style(app, v)),
                    None => Cell::from(if table.note(i).is_empty() { "" } else { "note" }),
                },
                // Paths cut in the middle: where they start and what they are called.
                Column::Task => Cell::from(text(middle_ellipsis(
                    &safe(&table.cell(i, c), 400),
                    usize::from(r.width),
                ))),
                Column::User => Cell::from(text(safe(&table.cell(i, c), 60))),
                Column::Command => Cell::from(text(safe(&table.cell(i, c), 300))),
                Column::Count | Column::Hosts | Column::Event => Cell::from(table.cell(i, c)),
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
const MIN_TEXT: u16 = 40;

/// The list's columns on a table `width` cells wide and their widths, from the column
/// table: fixed and fitted columns first, the rest shared by name, user and command. On a
/// narrow screen event, user and count give way, in that order; an empty fitted
/// column (no flags, no verdict yet) takes no room.
fn visible_columns(app: &App, width: u16) -> Vec<(Column, Constraint)> {
    let has_triage = app.triage().session().is_some_and(|s| s.has_triage());
    let mut len: Vec<(Column, Option<u16>)> = COLUMNS
        .iter()
        .map(|spec| {
            let w = match spec.width {
                Width::Fixed(w) => Some(w),
                // The verdict column, once the session holds a verdict or a note.
                Width::Fit(_) if spec.column == Column::Verdict => {
                    Some(if has_triage { 7 } else { 0 })
                }
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
    len.into_iter()
        .map(|(c, w)| {
            let constraint = match (w, c.spec().width) {
                (Some(w), _) => Constraint::Length(w),
                (None, Width::Share(p)) => Constraint::Fill(p),
                (None, _) => Constraint::Length(0),
            };
            (c, constraint)
        })
        .collect()
}

/// Where each visible column sits in a table `width` cells wide (x relative to the table).
fn column_rects(app: &App, width: u16) -> Vec<(Column, Rect)> {
    let cols = visible_columns(app, width);
    let rects = Layout::horizontal(cols.iter().map(|(_, c)| *c))
        .spacing(1)
        .split(Rect::new(0, 0, width, 1));
    cols.into_iter()
        .map(|(c, _)| c)
        .zip(rects.iter().copied())
        .collect()
}

/// A path cut in the middle to `width` characters: `\Microsoft\…\Consolidator` keeps
/// where it starts and what it is called; a text without separators keeps both ends.
pub fn middle_ellipsis(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width < 5 {
        return s.chars().take(width).collect();
    }
    let parts: Vec<&str> = s.split('\\').collect();
    if parts.len() > 2 {
        // The first component (after a leading separator) and as many last ones as fit.
        let head = if parts[0].is_empty() {
            format!("\\{}", parts[1])
        } else {
            parts[0].to_string()
        };
        let first_tail = if parts[0].is_empty() { 2 } else { 1 };
        let mut tail = String::new();
        for p in parts[first_tail..].iter().rev() {
            let next = format!("\\{p}{tail}");
            if head.chars().count() + 2 + next.chars().count() > width {
                break;
            }
            tail = next;
        }
        if !tail.is_empty() {
            return format!("{head}\\…{tail}");
        }
    }
    if parts.len() > 1 {
        // No room for where it starts: what it is called.
        let last = format!("\\{}", parts[parts.len() - 1]);
        if last.chars().count() < width {
            return format!("…{last}");
        }
    }
    let keep = width - 1;
    let front = keep / 2;
    let back = keep - front;
    let head: String = s.chars().take(front).collect();
    let tail: String = s.chars().skip(n - back).collect();
    format!("{head}…{tail}")
}

/// `t` with the search's matches in `hit` style.
fn highlighted(t: String, needle: Option<&regex::Regex>, hit: Style) -> Line<'static> {
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

/// `s` cut to `n` characters, an ellipsis marking the cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

fn verdict_style(app: &App, v: Verdict) -> Style {
    match v {
        Verdict::Malicious => style(app, Color::Red).add_modifier(Modifier::BOLD),
        Verdict::Suspicious => style(app, Color::Yellow),
        Verdict::Benign => style(app, Color::Green),
    }
}

fn detail(app: &App, f: &mut Frame, area: Rect) {
    let focus = app.focus() == Focus::Detail;
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" drill-down ")
        .border_style(if focus {
            style(app, Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        });
    let (Some(ds), Some(r), Some(u)) = (&app.dataset(), &app.ranking(), app.current_event()) else {
        f.render_widget(Paragraph::new("no event selected").block(block), area);
        return;
    };
    let e = &ds.uniques[u];
    let width = area.width.saturating_sub(4) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if app.view() == View::Tasks
        && let Some(t) = app.current()
    {
        task_lines(app, t, &mut lines);
    }
    lines.push(Line::from(Span::styled(
        format!(
            "#{} score {:.2} ({})  {} / {}  count {}",
            app.rank_of(u) + 1,
            r.scores[u],
            r.model.name(),
            safe(&e.channel, 60),
            e.event_id,
            e.count()
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )));
    let (name, variants) = ds.name_as_read(u);
    lines.push(Line::raw(format!(
        "{}{}",
        safe(name, 300),
        if variants > 0 {
            format!("  (+{variants} other spellings)")
        } else {
            String::new()
        }
    )));
    let command = ds.command_as_read(u);
    if !command.is_empty() {
        lines.push(Line::raw(format!("runs {}", safe(&command, 400))));
    }
    let flags = ds.flags(u);
    let prevalence = format!("seen on {} of {} hosts", e.hosts.len(), ds.fleet_size());
    lines.push(Line::from(vec![
        Span::raw(prevalence),
        Span::styled(
            if flags.is_empty() {
                String::new()
            } else {
                format!(
                    "   lifecycle: {}",
                    crate::timeline::joined(flags).replace(',', ", ")
                )
            },
            style(app, Color::Magenta).add_modifier(Modifier::BOLD),
        ),
    ]));
    if let Some(v) = app.verdict(u) {
        lines.push(Line::from(vec![
            Span::raw("verdict: "),
            Span::styled(v.name(), verdict_style(app, v)),
        ]));
    }
    if !app.note(u).is_empty() {
        lines.push(Line::raw(format!("note: {}", safe(app.note(u), 500))));
    }
    lines.push(Line::raw(""));
    // Where `]` and `[` jump: the sections' headings.
    let mut sections = vec![lines.len()];
    lines.push(Line::from(Span::styled(
        "why it is unusual: per-field loss (z-score; c: the model's surprise + r: the value's rarity), value, what the other fields predict",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
    let mut fields: Vec<(usize, f32)> = r.field_scores[u]
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, s)| *s >= 0.5 || !e.values[*i].is_empty())
        .collect();
    fields.sort_by(|a, b| b.1.total_cmp(&a.1));
    let max = fields.first().map_or(1.0, |x| x.1).max(1e-6);
    let bar_w = 12usize;
    let name_w = fields
        .iter()
        .map(|(i, _)| ds.fields[*i].chars().count())
        .max()
        .unwrap_or(8);
    for (k, (i, s)) in fields.into_iter().enumerate() {
        let name = ds.fields[i];
        let n = ((s / max) * bar_w as f32).round() as usize;
        let z = r
            .field_z
            .get(u)
            .map(|z| format!("{:+.1}", z[i]))
            .unwrap_or_default();
        let bar = format!(
            "{}{}",
            "█".repeat(n.min(bar_w)),
            " ".repeat(bar_w - n.min(bar_w))
        );
        let numbers = format!(
            " {s:5.2} {z:>5}{}  ",
            r.field_parts
                .get(u)
                .and_then(|p| p.get(i))
                .map(|(c, rr)| format!(" c{c:4.1} r{rr:4.1}"))
                .unwrap_or_default()
        );
        let actual = if e.values[i].is_empty() {
            "(empty)".to_string()
        } else {
            safe(&e.values[i], 2000)
        };
        let expected = r
            .expected
            .get(u)
            .map(|x| &x[i])
            .filter(|(v, _)| **v != *e.values[i])
            .map(|(v, p)| {
                format!(
                    "expected {} ({:.0}%)",
                    if v.is_empty() {
                        "(empty)".to_string()
                    } else {
                        safe(v, 2000)
                    },
                    p * 100.0
                )
            });
        // The row stays one line: the value and the expectation share what is left of the
        // width; what they lose is shown whole on indented lines below.
        let room = width.saturating_sub(name_w + 1 + bar_w + numbers.chars().count());
        let a_len = actual.chars().count();
        let x_len = expected.as_ref().map_or(0, |x| x.chars().count() + 2);
        // A short value stays whole; the expectation takes what is left (at least half).
        let (a_room, x_room) = if a_len + x_len <= room {
            (a_len, x_len)
        } else if expected.is_none() {
            (room, 0)
        } else {
            let a = a_len
                .min(24.max(room.saturating_sub(x_len)))
                .min(room / 2 + 12);
            let a = a.min(room);
            (a, room - a)
        };
        let mut spans = vec![
            Span::raw(format!("{name:>name_w$} ")),
            Span::styled(
                bar,
                style(
                    app,
                    if z.starts_with('+') && s > max * 0.5 {
                        Color::Red
                    } else {
                        Color::Yellow
                    },
                ),
            ),
            Span::raw(numbers),
            Span::styled(
                cut(&actual, a_room),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ];
        if let Some(x) = &expected
            && x_room > 2
        {
            spans.push(Span::raw(format!("  {}", cut(x, x_room - 2))));
        }
        lines.push(Line::from(spans));
        // The fields that explain the score most: what the row cut, whole, below it.
        const EXPLAINED: usize = 5;
        if k >= EXPLAINED {
            continue;
        }
        let indent = name_w + 1;
        let mut whole = Vec::new();
        if a_room < a_len {
            whole.push(format!("value {actual}"));
        }
        if let Some(x) = expected
            && x_room < x_len
        {
            whole.push(x);
        }
        for w in whole {
            for l in wrap_indented(&w, width.saturating_sub(indent), 2) {
                lines.push(Line::styled(
                    format!("{}{l}", " ".repeat(indent)),
                    Style::default().add_modifier(Modifier::DIM),
                ));
            }
        }
    }
    lines.push(Line::raw(""));
    sections.push(lines.len());
    lines.push(Line::from(Span::styled(
        "where and when",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
    lines.push(Line::raw(format!(
        "first seen {}   last seen {}",
        rfc3339(e.first_seen),
        rfc3339(e.last_seen)
    )));
    for (h, c) in app.host_counts(u).iter().take(12) {
        lines.push(Line::raw(format!("  {:>6} x {}", c, safe(h, 80))));
    }
    if e.hosts.len() > 12 {
        lines.push(Line::raw(format!(
            "  ... and {} more hosts",
            e.hosts.len() - 12
        )));
    }
    for s in e.sources.iter().take(4) {
        lines.push(Line::raw(format!("  from {}", safe(s, 120))));
    }
    let before = lines.len();
    lifecycle_lines(app, u, &mut lines);
    if lines.len() > before {
        // After its blank line.
        sections.push(before + 1);
    }
    lines.push(Line::raw(""));
    sections.push(lines.len());
    lines.push(Line::from(Span::styled(
        "raw fields of the first occurrence",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
    {
        // Kept for every unique event, also those merged from summaries.
        let ev = ds.first_raw(u);
        lines.push(Line::raw(format!(
            "  record {} at {} on {}",
            ev.record_id.map(|r| r.to_string()).unwrap_or("-".into()),
            rfc3339(ev.time),
            safe(&ev.computer, 80)
        )));
        for (k, v) in &ev.data {
            if k.starts_with("TaskContent") {
                lines.push(Line::raw(format!("  {}:", safe(k, 40))));
                for l in crate::profile::task_xml::pretty(v) {
                    lines.push(Line::raw(format!("    {}", safe(&l, 300))));
                }
            } else if k != "Message" {
                lines.push(Line::raw(format!("  {} = {}", safe(k, 40), safe(v, 300))));
            }
        }
    }
    // The sections' starts in wrapped lines, as the pane draws them.
    let text_width = area.width.saturating_sub(2);
    let mut starts = Vec::with_capacity(sections.len());
    let mut wrapped = 0usize;
    let mut next = sections.iter().peekable();
    for (k, line) in lines.iter().enumerate() {
        while next.peek().is_some_and(|&&s| s == k) {
            starts.push(u16::try_from(wrapped).unwrap_or(u16::MAX));
            next.next();
        }
        if next.peek().is_none() {
            break;
        }
        wrapped += Paragraph::new(line.clone())
            .wrap(Wrap { trim: false })
            .line_count(text_width);
    }
    app.drill().set_sections(starts);
    let paragraph = Paragraph::new(Text::from(lines))
        .block(block)
        .wrap(Wrap { trim: false });
    // Scrolling stops at the end: the last line at the bottom of the pane.
    let inner_h = area.height.saturating_sub(2);
    let total =
        u16::try_from(paragraph.line_count(area.width.saturating_sub(2))).unwrap_or(u16::MAX);
    let last = total.saturating_sub(inner_h);
    app.drill().set_max_scroll(last);
    f.render_widget(paragraph.scroll((app.drill().scroll().min(last), 0)), area);
}

/// A task's header in the drill-down: what it is, where, and its events with their ranks
/// (the drill-down below is its best-ranked event's).
fn task_lines(app: &App, t: usize, lines: &mut Vec<Line<'static>>) {
    let (Some(ds), Some(data)) = (app.dataset(), app.data()) else {
        return;
    };
    let Some(task) = ds.tasks.tasks.get(t) else {
        return;
    };
    lines.push(Line::from(Span::styled(
        format!(
            "task #{} {}{}",
            data.task_rank(t).saturating_add(1),
            safe(&task.name, 300),
            if task.variants > 0 {
                format!(" (+{} variants)", task.variants)
            } else {
                String::new()
            }
        ),
        Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
    )));
    lines.push(Line::raw(format!(
        "{} occurrences on {} of {} hosts, {} unique events, first {} last {}",
        task.count,
        task.hosts.len(),
        ds.fleet_size(),
        task.uniques.len(),
        rfc3339(task.first_seen),
        rfc3339(task.last_seen)
    )));
    if let Some(table) = app.table()
        && let Some(e) = table.entry(t)
    {
        if let Some(v) = e.verdict {
            lines.push(Line::from(vec![
                Span::raw("task verdict: "),
                Span::styled(v.name(), verdict_style(app, v)),
            ]));
        }
        if !e.note.is_empty() {
            lines.push(Line::raw(format!("task note: {}", safe(&e.note, 500))));
        }
    }
    let mut events: Vec<usize> = task.uniques.iter().map(|&u| u as usize).collect();
    events.sort_by_key(|&u| data.event_rank(u));
    const SHOWN: usize = 12;
    for &u in events.iter().take(SHOWN) {
        let e = &ds.uniques[u];
        lines.push(Line::raw(format!(
            "  #{:<5} {:>6.2} {:>5} x{:<6} {}",
            data.event_rank(u).saturating_add(1),
            data.ranking.scores.get(u).copied().unwrap_or(0.0),
            e.event_id,
            e.count(),
            safe(&ds.command_as_read(u), 120)
        )));
    }
    if events.len() > SHOWN {
        lines.push(Line::raw(format!(
            "  ... and {} more events (t: event view, filter name=...)",
            events.len() - SHOWN
        )));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "its best-ranked event:",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
}

/// The task lifecycles of unique event `u`: a timeline per task and host, runs folded, the
/// XML diff under each update; the selected event's own steps are marked with `>`.
fn lifecycle_lines(app: &App, u: usize, lines: &mut Vec<Line<'static>>) {
    let Some(view) = app.lifecycle_view(u) else {
        return;
    };
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "lifecycle (> this event; runs folded; XML diff under each update)",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
    for (host, task, steps) in &view.lives {
        lines.push(Line::from(Span::styled(
            format!(
                "{} on {} ({} events)",
                safe(task, 80),
                safe(host, 60),
                steps.iter().map(|s| s.folded.max(1)).sum::<usize>()
            ),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        // Folded already ([`crate::timeline::fold`]): long runs keep their first and last two.
        for s in steps {
            if s.folded > 0 {
                let own = if s.folded_own > 0 {
                    format!(" ({} of them this event's)", s.folded_own)
                } else {
                    String::new()
                };
                lines.push(Line::from(Span::styled(
                    format!("      ... {} run events{own} ...", s.folded),
                    Style::default().add_modifier(Modifier::DIM),
                )));
                continue;
            }
            lines.push(step_line(app, s, s.own));
            for d in &s.diff {
                let (sign, st) = match d.change {
                    Change::Same => (' ', Style::default().add_modifier(Modifier::DIM)),
                    Change::Removed => ('-', style(app, Color::Red)),
                    Change::Added => ('+', style(app, Color::Green)),
                    Change::Note => (
                        ' ',
                        Style::default().add_modifier(Modifier::ITALIC | Modifier::DIM),
                    ),
                };
                lines.push(Line::from(Span::styled(
                    format!("      {sign} {}", safe(&d.text, 300)),
                    st,
                )));
            }
        }
    }
    if view.more {
        lines.push(Line::raw("  ... and on more hosts"));
    }
}

fn step_line(app: &App, s: &Step, own: bool) -> Line<'static> {
    let what = match s.what {
        crate::timeline::What::Other => format!("event {}", s.event_id),
        w => w.name().to_string(),
    };
    let change = s.is_change();
    let st = if own {
        style(app, Color::Cyan).add_modifier(Modifier::BOLD)
    } else if change {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    // To the second: the lifecycle is read in minutes and hours.
    let time: String = rfc3339(s.time)
        .replacen('T', " ", 1)
        .chars()
        .take(19)
        .collect();
    Line::from(Span::styled(
        format!(
            "{} {time} {:>4} {what}  {}",
            if own { '>' } else { ' ' },
            s.event_id,
            safe(&s.detail, 120)
        ),
        st,
    ))
}

/// The hint bar for `width` columns: the key table's hints in its order, the first-priority
/// ones first and the others as room allows, and always `? help` and `q quit` at the end.
pub fn hint_bar(keymap: Keymap, width: usize) -> String {
    // The list's bar always ends with help and quit; a prompt's and the chooser's list their
    // keys in the table's order, as many as fit.
    let last: &[&str] = match keymap {
        Keymap::List => &["? help", "q quit"],
        _ => &[],
    };
    let tail = last.join("  ");
    let hints: Vec<(&str, u8)> = keymap
        .bindings()
        .iter()
        .map(|b| b.hint)
        .filter(|(h, _)| !h.is_empty() && !last.contains(h))
        .collect();
    let mut shown = vec![false; hints.len()];
    let mut used = tail.chars().count();
    for priority in [1, 2] {
        for (k, (h, p)) in hints.iter().enumerate() {
            let len = h.chars().count() + 2;
            if *p == priority && used + len <= width {
                shown[k] = true;
                used += len;
            }
        }
    }
    let mut out = String::new();
    for (k, (h, _)) in hints.iter().enumerate() {
        if shown[k] {
            out.push_str(h);
            out.push_str("  ");
        }
    }
    out.push_str(&tail);
    out.trim_end().to_string()
}

fn footer(app: &App, f: &mut Frame, area: Rect) {
    let status = if app.status().is_empty() {
        app.warnings()
            .first()
            .map(|w| format!("warning: {} (W: all warnings)", safe(w, 200)))
            .unwrap_or_default()
    } else {
        safe(app.status(), 300)
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(Span::styled(status, style(app, Color::Yellow))),
            Line::from(Span::styled(
                hint_bar(app.keymap(), usize::from(area.width)),
                Style::default().add_modifier(Modifier::DIM),
            )),
        ]),
        area,
    );
}

/// `text` broken at spaces into lines of at most `width` characters, the lines after the
/// first indented by `indent` (a word longer than a line is cut).
fn wrap_indented(text: &str, width: usize, indent: usize) -> Vec<String> {
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

/// A scrolled overlay: the lines, the overlay's scroll clamped to its end.
fn overlay(app: &App, f: &mut Frame, r: Rect, title: &str, lines: Vec<Line<'static>>) {
    f.render_widget(Clear, r);
    let inner_h = r.height.saturating_sub(2);
    let total = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let last = total.saturating_sub(inner_h);
    app.overlay().set_max(last);
    let pos = app.overlay().pos();
    let more = if last > 0 {
        format!(
            " {}-{} of {total}, ↑↓ PgUp PgDn scroll ",
            pos + 1,
            (pos + inner_h).min(total)
        )
    } else {
        String::new()
    };
    f.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {title} "))
                    .title_bottom(more),
            )
            .scroll((pos, 0)),
        r,
    );
}

/// The warnings pane: what loading could not read, file by file.
fn warnings(app: &App, f: &mut Frame, area: Rect) {
    let r = centered(
        area,
        area.width.saturating_sub(4).min(120),
        area.height.saturating_sub(2),
    );
    let width = usize::from(r.width.saturating_sub(2));
    let mut lines: Vec<Line<'static>> = Vec::new();
    for l in wrap_indented(&safe(app.summary(), 2000), width, 2) {
        lines.push(Line::raw(l));
    }
    lines.push(Line::raw(""));
    if app.warnings().is_empty() {
        lines.push(Line::raw("no warnings: every file was read in full"));
    }
    for w in app.warnings() {
        for (k, l) in wrap_indented(&format!("- {}", safe(w, 2000)), width, 2)
            .into_iter()
            .enumerate()
        {
            lines.push(if k == 0 {
                Line::styled(l, style(app, Color::Yellow))
            } else {
                Line::raw(l)
            });
        }
    }
    let title = format!("warnings ({}; W or Esc closes)", app.warnings().len());
    overlay(app, f, r, &title, lines);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The help: every key of the key table, wrapped to the screen, scrolled when it is taller.
fn help(app: &App, f: &mut Frame, area: Rect) {
    let r = centered(area, 100, area.height.saturating_sub(2));
    let width = usize::from(r.width.saturating_sub(2));
    let key_style = style(app, Color::Cyan).add_modifier(Modifier::BOLD);
    const KEYS: usize = 12;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut entry = |keys: String, what: &str| {
        let wrapped = wrap_indented(what, width.saturating_sub(KEYS + 2), 0);
        for (k, l) in wrapped.into_iter().enumerate() {
            let keys = if k == 0 { keys.clone() } else { String::new() };
            lines.push(Line::from(vec![
                Span::styled(format!("{keys:>KEYS$}  "), key_style),
                Span::raw(l),
            ]));
        }
    };
    for b in BINDINGS {
        let keys: Vec<String> = b.keys.iter().map(|k| k.label()).collect();
        entry(keys.join(" "), b.what);
    }
    entry(
        "mouse".into(),
        "wheel scrolls, click selects a row, click a header sorts by it",
    );
    for (section, table) in [
        (
            "in a prompt (filter, search, note, export path)",
            PROMPT_BINDINGS,
        ),
        (
            "the verdict chooser (v; any other key gives none)",
            VERDICT_BINDINGS,
        ),
    ] {
        entry(String::new(), " ");
        entry(String::new(), section);
        for b in table {
            let keys: Vec<String> = b.keys.iter().map(|k| k.label()).collect();
            entry(keys.join(" "), b.what);
        }
    }
    overlay(app, f, r, "keys (? or Esc closes)", lines);
}

/// A prompt box: its text scrolled to keep the cursor in view, the terminal's cursor on it,
/// and under the filter bar how many rows the query keeps or where it does not read.
fn prompt(app: &App, f: &mut Frame, area: Rect, title: &str, p: &Prompt) {
    let feedback = p.feedback();
    let w = area.width.saturating_sub(4).min(110);
    // An error's message wraps under its caret (an unknown field lists every known one).
    let message: Vec<String> = match feedback {
        Some(Feedback::Error { at, message }) => wrap_indented(
            &format!("at {}: {}", at + 1, safe(message, 2000)),
            usize::from(w.saturating_sub(2)),
            2,
        ),
        _ => Vec::new(),
    };
    let h = match feedback {
        None => 3,
        Some(Feedback::Matches(_) | Feedback::AtLeast { .. }) => 4,
        Some(Feedback::Error { .. }) => {
            (4 + u16::try_from(message.len()).unwrap_or(u16::MAX)).min(area.height)
        }
    };
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", safe(title, 300)));
    let inner = block.inner(r);
    f.render_widget(block, r);
    let width = usize::from(inner.width);
    let (scroll, cursor) = p.window(width);
    // The prompt's text is printable already (`Prompt` takes no control characters).
    let shown: String = p.text().chars().skip(scroll).take(width).collect();
    f.render_widget(Paragraph::new(shown), Rect { height: 1, ..inner });
    f.set_cursor_position(ratatui::layout::Position {
        x: inner.x
            + u16::try_from(cursor)
                .unwrap_or(0)
                .min(inner.width.saturating_sub(1)),
        y: inner.y,
    });
    let below = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    match feedback {
        Some(Feedback::Matches(n)) => f.render_widget(
            Paragraph::new(format!(
                "{n} row{} match (Enter applies)",
                if *n == 1 { "" } else { "s" }
            ))
            .style(style(app, Color::Green)),
            below,
        ),
        Some(Feedback::AtLeast { matches, checked }) => f.render_widget(
            Paragraph::new(format!(
                "at least {matches} row{} match (counted in the first {checked}; Enter applies)",
                if *matches == 1 { "" } else { "s" }
            ))
            .style(style(app, Color::Green)),
            below,
        ),
        Some(Feedback::Error { at, .. }) => {
            let col = at.saturating_sub(scroll).min(width.saturating_sub(1));
            let mut lines = vec![Line::raw(format!("{}^", " ".repeat(col)))];
            lines.extend(message.into_iter().map(Line::raw));
            f.render_widget(Paragraph::new(lines).style(style(app, Color::Red)), below);
        }
        None => {}
    }
}
