//! What opens over the screen: the help, the warnings, a prompt, the verdict chooser.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::{
    App, BINDINGS, Feedback, PROMPT_BINDINGS, Prompt, VALUES_BINDINGS, VERDICT_BINDINGS,
};
use crate::session::Verdict;

use super::{safe, style, verdict_style, wrap_indented};

/// `v`: the verdicts and their keys, and what they will judge.
pub(super) fn verdict_chooser(
    app: &App,
    f: &mut Frame,
    area: Rect,
    rows: usize,
    hidden: usize,
    marked: bool,
) {
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
    let marks = |n: usize| {
        if n == 1 {
            "the 1 marked row".to_string()
        } else {
            format!("the {n} marked rows")
        }
    };
    let scope = match (marked, hidden) {
        (false, _) => "this row (no row is marked)".to_string(),
        (true, 0) => marks(rows),
        (true, h) => format!(
            "{} in view ({h} hidden mark{} left alone)",
            marks(rows),
            if h == 1 { "" } else { "s" }
        ),
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

/// The list of a row's hosts, files and lifecycles: the selection highlighted and kept in
/// view; only the lines on screen are built.
pub(super) fn values(
    app: &App,
    f: &mut Frame,
    area: Rect,
    title: &str,
    items: &[(String, String)],
    cursor: usize,
) {
    let r = centered(area, 110, area.height.saturating_sub(2));
    f.render_widget(Clear, r);
    let height = usize::from(r.height.saturating_sub(2)).max(1);
    let start = cursor
        .saturating_sub(height / 2)
        .min(items.len().saturating_sub(height));
    let what_width = items
        .iter()
        .map(|(w, _)| w.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let room = usize::from(r.width.saturating_sub(2)).saturating_sub(what_width + 2);
    let selected = if app.monochrome() {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD)
    };
    let lines: Vec<Line<'static>> = items
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(k, (what, value))| {
            let line = Line::from(vec![
                Span::styled(
                    format!("{:>what_width$}  ", safe(what, 40)),
                    style(app, Color::Cyan),
                ),
                // Paths cut in the middle (the whole value is what `y` copies).
                Span::raw(
                    crate::util::cut::middle_ellipsis(&safe(value, 400).replace('/', "\\"), room)
                        .replace('\\', if value.contains('/') { "/" } else { "\\" }),
                ),
            ]);
            if k == cursor {
                line.style(selected)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(format!(
            " {}: {} values, {} of {} (y copies, w writes all, Esc closes) ",
            safe(title, 40),
            items.len(),
            cursor.saturating_add(1).min(items.len()),
            items.len()
        ))),
        r,
    );
}

/// A scrolled overlay: the lines, the overlay's scroll clamped to its end.
pub(super) fn overlay(app: &App, f: &mut Frame, r: Rect, title: &str, lines: Vec<Line<'static>>) {
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
pub(super) fn warnings(app: &App, f: &mut Frame, area: Rect) {
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

/// The hosts pane: per host, what evidence about tasks its inputs hold and what could not be
/// seen; the least covered first.
pub(super) fn hosts(app: &App, f: &mut Frame, area: Rect) {
    let r = centered(
        area,
        area.width.saturating_sub(4).min(140),
        area.height.saturating_sub(2),
    );
    let width = usize::from(r.width.saturating_sub(2));
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut hosts: Vec<&crate::frame::HostCoverage> = app
        .dataset()
        .map(|d| d.coverage.iter().collect())
        .unwrap_or_default();
    hosts.sort_by(|a, b| b.seen.cmp(&a.seen).then(a.host.cmp(&b.host)));
    if hosts.is_empty() {
        lines.push(Line::raw("no hosts read yet"));
    } else {
        lines.push(Line::styled(
            format!(
                "{:<32} {:>6} {:>8} {:>6} {:>7} {:>6}",
                "host", "defs", "operatnl", "4698", "process", "sysmon"
            ),
            style(app, Color::Cyan),
        ));
    }
    for c in &hosts {
        let e = &c.evidence;
        lines.push(Line::raw(format!(
            "{:<32} {:>6} {:>8} {:>6} {:>7} {:>6}",
            safe(&c.host, 32),
            c.definitions,
            e.operational,
            e.task_audit,
            e.process_creation,
            e.sysmon
        )));
        let colour = if c.seen >= crate::frame::Visibility::DefinitionsOnly {
            Color::Yellow
        } else {
            Color::Green
        };
        let mut what = c.verdict();
        if !c.aliases.is_empty() {
            what.push_str(&format!("; also named {}", c.aliases.join(", ")));
        }
        for l in wrap_indented(&safe(&what, 2000), width.saturating_sub(2), 2) {
            lines.push(Line::styled(format!("  {l}"), style(app, colour)));
        }
    }
    let title = format!("hosts ({}; H or Esc closes)", hosts.len());
    overlay(app, f, r, &title, lines);
}

pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
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
/// The help's legend: what the score and the drill-down's terms mean, in a hunter's words.
pub const LEGEND: &[(&str, &str)] = &[
    (
        "score",
        "how unusual the row is next to everything else read: higher is stranger. Only the order means something; a score is not a probability, and scores of two runs do not compare",
    ),
    (
        "r (rarity)",
        "how rare the value is on its own: a value seen once in the whole fleet weighs most",
    ),
    (
        "c (model)",
        "what the model adds: how badly the value fits the rest of the event (a user this task never runs as, a program this task name never starts)",
    ),
    (
        "expected",
        "what the rest of the event predicts for that field, and how sure the model is; `a value seen fewer than 3 times` where it expected one of the rare ones",
    ),
    (
        "z",
        "how far above the field's usual share of a score this one is",
    ),
];

pub(super) fn help(app: &App, f: &mut Frame, area: Rect) {
    let r = centered(area, 100, area.height.saturating_sub(2));
    let width = usize::from(r.width.saturating_sub(2));
    let key_style = style(app, Color::Cyan).add_modifier(Modifier::BOLD);
    const KEYS: usize = 12;
    let mut lines: Vec<Line<'static>> = Vec::new();
    // What the numbers mean, before the keys: one short legend each.
    for (term, what) in LEGEND {
        for (k, l) in wrap_indented(what, width.saturating_sub(KEYS + 2), 0)
            .into_iter()
            .enumerate()
        {
            let term = if k == 0 { *term } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{term:>KEYS$}  "), key_style),
                Span::raw(l),
            ]));
        }
    }
    lines.push(Line::raw(""));
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
        (
            "the list of a row's hosts, files and lifecycles (l)",
            VALUES_BINDINGS,
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
pub(super) fn prompt(app: &App, f: &mut Frame, area: Rect, title: &str, p: &Prompt) {
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
