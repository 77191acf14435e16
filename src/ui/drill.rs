//! The drill-down of the selected event (or task): what it is, why it ranks where it does,
//! where and when it was seen, its lifecycles, its raw fields.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::{Action, App, Focus, Keymap, View};
use crate::event::rfc3339;
use crate::frame::{Dataset, RowKind};
use crate::model::Ranking;
use crate::timeline::{Change, Step};

use super::{safe, style, verdict_style, wrap_indented};
use crate::util::cut::end_ellipsis;

/// Lines of the drill-down, and where each section (what `]` and `[` jump to) starts.
#[derive(Default)]
struct Doc {
    lines: Vec<Line<'static>>,
    sections: Vec<usize>,
}

impl Doc {
    fn blank(&mut self) {
        self.lines.push(Line::raw(""));
    }

    /// A section's heading; `]` and `[` jump here.
    fn heading(&mut self, text: &str) {
        self.sections.push(self.lines.len());
        self.lines.push(Line::from(Span::styled(
            text.to_string(),
            Style::default().add_modifier(Modifier::UNDERLINED),
        )));
    }
}

pub(super) fn detail(app: &App, f: &mut Frame, area: Rect) {
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
    let width = area.width.saturating_sub(4) as usize;
    let mut doc = Doc::default();
    if app.view() == View::Tasks
        && let Some(t) = app.current()
    {
        task_lines(app, t, &mut doc.lines);
    }
    what_it_is(app, ds, r, u, &mut doc);
    doc.blank();
    why(app, ds, r, u, width, &mut doc);
    doc.blank();
    where_and_when(app, ds, u, &mut doc);
    let before = doc.lines.len();
    lifecycle_lines(app, u, &mut doc.lines);
    if doc.lines.len() > before {
        // After its blank line.
        doc.sections.push(before + 1);
    }
    doc.blank();
    raw_fields(ds, u, &mut doc);
    show(app, f, area, block, doc);
}

/// The event's rank, score and kind, its name and command as read, prevalence, flags,
/// verdict and note.
fn what_it_is(app: &App, ds: &Dataset, r: &Ranking, u: usize, doc: &mut Doc) {
    let e = &ds.uniques[u];
    let lines = &mut doc.lines;
    let what = match e.kind() {
        RowKind::Definition if e.event_id == crate::event::DEF_JOB => {
            "definition on disk (.job)".to_string()
        }
        RowKind::Definition if e.event_id == crate::event::DEF_REG => {
            "definition in the registry (TaskCache: what runs)".to_string()
        }
        RowKind::Definition => "definition on disk (task XML)".to_string(),
        RowKind::Event => format!("{} / {}", safe(&e.channel, 60), e.event_id),
    };
    lines.push(Line::from(Span::styled(
        format!(
            "#{} score {:.2} ({})  {what}  count {}",
            app.rank_of(u) + 1,
            r.scores[u],
            r.model.name(),
            e.count()
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )));
    if e.kind() == RowKind::Definition {
        let raw = ds.first_raw(u);
        if let Some(file) = raw.get("File") {
            lines.push(Line::raw(format!("file {}", safe(file, 300))));
        }
        if let Some(from) = raw.get("HostFrom") {
            lines.push(Line::raw(format!(
                "host {} (from {})",
                safe(&raw.computer, 100),
                safe(from, 200)
            )));
        }
    }
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
        // PowerShell's encoded command, decoded beside it (bounded, escaped).
        if let Some(script) = crate::profile::features::encoded_powershell(&command, 2000) {
            lines.push(Line::styled(
                format!("  -enc decoded: {}", safe(&script, 2000)),
                style(app, Color::Yellow),
            ));
        }
    }
    if ds.flags(u).contains(&crate::timeline::Flag::ActionsDiffer) {
        registry_and_file(app, ds, u, lines);
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
}

/// Where the registry's Actions and the task file disagree: both, and which one runs (the
/// registry's). The other side is looked up among the task's own rows (bounded by the task).
fn registry_and_file(app: &App, ds: &Dataset, u: usize, lines: &mut Vec<Line<'static>>) {
    let Some(t) = ds.tasks.of(u) else { return };
    let e = &ds.uniques[u];
    let is_reg = |x: usize| ds.uniques[x].event_id == crate::event::DEF_REG;
    let other = ds.tasks.tasks[t]
        .uniques
        .iter()
        .map(|&x| x as usize)
        .find(|&x| {
            let o = &ds.uniques[x];
            x != u
                && o.kind() == RowKind::Definition
                && is_reg(x) != is_reg(u)
                && o.hosts.iter().any(|h| e.hosts.contains(h))
        });
    let Some(other) = other else { return };
    let (reg, file) = if is_reg(u) { (u, other) } else { (other, u) };
    let warn = style(app, Color::Yellow);
    lines.push(Line::styled(
        format!(
            "registry runs   {}   (what the Task Scheduler executes)",
            safe(&ds.command_as_read(reg), 300)
        ),
        warn.add_modifier(Modifier::BOLD),
    ));
    lines.push(Line::styled(
        format!(
            "task file says  {}   (not what runs)",
            safe(&ds.command_as_read(file), 300)
        ),
        warn,
    ));
}

/// Width of a field row's loss bar.
const BAR: usize = 12;
/// The fields that explain the score most: what their rows cut is shown whole below them.
const EXPLAINED: usize = 5;

/// Why it is unusual: a row per field with a value or a real loss, the largest share first.
fn why(app: &App, ds: &Dataset, r: &Ranking, u: usize, width: usize, doc: &mut Doc) {
    doc.heading("why it is unusual");
    // The strongest evidence in words first, then every field's share.
    for reason in crate::model::evidence::reasons(ds, r, u, crate::model::evidence::SAID) {
        doc.lines.push(Line::styled(
            format!("  {}", safe(&reason, 600)),
            style(app, Color::Yellow),
        ));
    }
    doc.lines.push(Line::styled(
        if r.history.is_some() {
            "per field: evidence (z-score; c: what the model adds + r: the value's rarity given its task's other events), value, what the other fields predict"
        } else {
            "per field: loss (z-score; c: the model's surprise + r: the value's rarity), value, what the other fields predict"
        },
        style(app, Color::DarkGray),
    ));
    let e = &ds.uniques[u];
    let mut fields: Vec<(usize, f32)> = r.field_scores[u]
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, s)| *s >= 0.5 || !e.values[*i].is_empty())
        .collect();
    fields.sort_by(|a, b| b.1.total_cmp(&a.1));
    let max = fields.first().map_or(1.0, |x| x.1).max(1e-6);
    let name_w = fields
        .iter()
        .map(|(i, _)| ds.fields[*i].chars().count())
        .max()
        .unwrap_or(8);
    for (k, (i, s)) in fields.into_iter().enumerate() {
        let row = FieldRow::of(ds, r, u, i, s, max);
        let (line, whole) = row.lines(app, name_w, width, k < EXPLAINED);
        doc.lines.push(line);
        doc.lines.extend(whole);
    }
}

/// A value the model reads lower-cased, in the case the command was read in where the
/// command holds it (a base64 blob means nothing lower-cased); else as it is.
fn as_read_case<'a>(value: &'a str, command: &'a str) -> &'a str {
    if value.len() < 4 || !value.bytes().any(|b| b.is_ascii_alphabetic()) {
        return value;
    }
    // ASCII lower-casing keeps every byte offset, so a match's place is the same in both.
    match command
        .to_ascii_lowercase()
        .find(&value.to_ascii_lowercase())
    {
        Some(at) => command.get(at..at + value.len()).unwrap_or(value),
        None => value,
    }
}

/// One field of the "why" section: its share of the score, as the row shows it.
struct FieldRow {
    name: &'static str,
    /// The bar's length, of [`BAR`].
    bar: usize,
    /// A large share that is well above the field's usual (drawn red).
    hot: bool,
    numbers: String,
    actual: String,
    expected: Option<String>,
}

impl FieldRow {
    fn of(ds: &Dataset, r: &Ranking, u: usize, i: usize, share: f32, max: f32) -> FieldRow {
        let e = &ds.uniques[u];
        let z = r
            .field_z
            .get(u)
            .map(|z| format!("{:+.1}", z[i]))
            .unwrap_or_default();
        let numbers = format!(
            " {share:5.2} {z:>5}{}  ",
            r.field_parts
                .get(u)
                .and_then(|p| p.get(i))
                .map(|(c, rr)| format!(" c{c:4.1} r{rr:4.1}"))
                .unwrap_or_default()
        );
        let shown = |v: &str| {
            if v.is_empty() {
                "(empty)".to_string()
            } else {
                safe(v, 2000)
            }
        };
        let expected = r
            .expected
            .get(u)
            .map(|x| &x[i])
            .filter(|(v, _)| **v != *e.values[i])
            .map(|(v, p)| format!("expected {} ({:.0}%)", shown(v), p * 100.0));
        FieldRow {
            name: ds.fields[i],
            bar: (((share / max) * BAR as f32).round() as usize).min(BAR),
            hot: z.starts_with('+') && share > max * 0.5,
            numbers,
            actual: shown(as_read_case(&e.values[i], &ds.command_as_read(u))),
            expected,
        }
    }

    /// The row (one line: the value and the expectation share what is left of the width),
    /// and, for the fields that explain most (`explain`), what the row cut, whole, on
    /// indented lines below it.
    fn lines(
        &self,
        app: &App,
        name_w: usize,
        width: usize,
        explain: bool,
    ) -> (Line<'static>, Vec<Line<'static>>) {
        let room = width.saturating_sub(name_w + 1 + BAR + self.numbers.chars().count());
        let a_len = self.actual.chars().count();
        let x_len = self.expected.as_ref().map(|x| x.chars().count() + 2);
        let (a_room, x_room) = share_row(room, a_len, x_len);
        let mut spans = vec![
            Span::raw(format!("{:>name_w$} ", self.name)),
            Span::styled(
                format!("{}{}", "█".repeat(self.bar), " ".repeat(BAR - self.bar)),
                style(app, if self.hot { Color::Red } else { Color::Yellow }),
            ),
            Span::raw(self.numbers.clone()),
            Span::styled(
                end_ellipsis(&self.actual, a_room),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ];
        if let Some(x) = &self.expected
            && x_room > 2
        {
            spans.push(Span::raw(format!("  {}", end_ellipsis(x, x_room - 2))));
        }
        let mut whole = Vec::new();
        if explain {
            let indent = name_w + 1;
            let mut cut_off = Vec::new();
            if a_room < a_len {
                cut_off.push(format!("value {}", self.actual));
            }
            if let (Some(x), Some(x_len)) = (&self.expected, x_len)
                && x_room < x_len
            {
                cut_off.push(x.clone());
            }
            for w in cut_off {
                for l in wrap_indented(&w, width.saturating_sub(indent), 2) {
                    whole.push(Line::styled(
                        format!("{}{l}", " ".repeat(indent)),
                        Style::default().add_modifier(Modifier::DIM),
                    ));
                }
            }
        }
        (Line::from(spans), whole)
    }
}

/// How a field row shares `room` cells between the value (`value` characters) and what the
/// model expected (`expected`: its characters with the two-space gap before it; `None`
/// when it expected the value itself): both whole when they fit; else a short value stays
/// whole and the expectation takes what is left, a long one gives the expectation at least
/// about half.
pub(super) fn share_row(room: usize, value: usize, expected: Option<usize>) -> (usize, usize) {
    let x_len = expected.unwrap_or(0);
    if value + x_len <= room {
        (value, x_len)
    } else if expected.is_none() {
        (room, 0)
    } else {
        let a = value
            .min(24.max(room.saturating_sub(x_len)))
            .min(room / 2 + 12)
            .min(room);
        (a, room - a)
    }
}

/// The spread line's width in cells.
const SPREAD_CELLS: usize = 32;

/// When it spread: how many hosts had it by when, as a cumulative sparkline from the first
/// host to the last (`spread ▁▁▂▂▅▇██ 1 host on 2026-10-05 .. 8 by 2026-10-06`). Nothing
/// for fewer than two hosts with a time.
pub(super) fn spread_line(app: &App, spread: &[(String, i64)]) -> Option<Line<'static>> {
    let (first, last) = (spread.first()?.1, spread.last()?.1);
    if spread.len() < 2 {
        return None;
    }
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let span = (last - first).max(1) as f64;
    let n = spread.len() as f64;
    let cells: String = (0..SPREAD_CELLS)
        .map(|k| {
            let until = first as f64 + span * (k + 1) as f64 / SPREAD_CELLS as f64;
            let had = spread.iter().filter(|(_, t)| *t as f64 <= until).count() as f64;
            BARS[(((had / n) * (BARS.len() - 1) as f64).round() as usize).min(BARS.len() - 1)]
        })
        .collect();
    let day = |t: i64| {
        rfc3339(Some(t))
            .get(..16)
            .unwrap_or_default()
            .replace('T', " ")
    };
    Some(Line::from(vec![
        Span::raw("spread "),
        Span::styled(cells, style(app, Color::Cyan)),
        Span::raw(format!(
            " 1 host on {} .. {} hosts by {}",
            day(first),
            spread.len(),
            day(last)
        )),
    ]))
}

/// Where and when: first and last seen, the hosts, the files.
fn where_and_when(app: &App, ds: &Dataset, u: usize, doc: &mut Doc) {
    let e = &ds.uniques[u];
    doc.heading("where and when");
    let lines = &mut doc.lines;
    lines.push(Line::raw(format!(
        "first seen {}   last seen {}",
        rfc3339(e.first_seen),
        rfc3339(e.last_seen)
    )));
    // When it spread, from its occurrences (bounded: a frame reads at most this many).
    if e.hosts.len() > 1 && e.occurrences.len() <= crate::context::tasks::SPREAD_OCCURRENCES {
        let spread = crate::context::tasks::spread(ds, [u]);
        lines.extend(spread_line(app, &spread));
    }
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
}

/// The raw fields of the event's first occurrence, the task XML pretty-printed (kept for
/// every unique event, those merged from summaries too).
fn raw_fields(ds: &Dataset, u: usize, doc: &mut Doc) {
    doc.heading("raw fields of the first occurrence");
    let ev = ds.first_raw(u);
    let lines = &mut doc.lines;
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

/// Draw the drill-down, scrolled (stopping at its end), and tell the app where its sections
/// start as the pane wraps them.
fn show(app: &App, f: &mut Frame, area: Rect, block: Block<'_>, doc: Doc) {
    let Doc { lines, sections } = doc;
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
    let inner_h = area.height.saturating_sub(2);
    let total =
        u16::try_from(paragraph.line_count(area.width.saturating_sub(2))).unwrap_or(u16::MAX);
    let last = total.saturating_sub(inner_h);
    app.drill().set_max_scroll(last);
    f.render_widget(paragraph.scroll((app.drill().scroll().min(last), 0)), area);
}

/// A task's header in the drill-down: what it is, where, and its events with their ranks
/// (the drill-down below is its best-ranked event's).
pub(super) fn task_lines(app: &App, t: usize, lines: &mut Vec<Line<'static>>) {
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
    // When it spread: the cumulative line, then each host's first time (scroll for all).
    if let Some(line) = spread_line(app, &task.spread) {
        lines.push(line);
        const SHOWN_HOSTS: usize = 500;
        for (host, t) in task.spread.iter().take(SHOWN_HOSTS) {
            lines.push(Line::raw(format!(
                "  {}  {}",
                rfc3339(Some(*t)),
                safe(host, 80)
            )));
        }
        if task.spread.len() > SHOWN_HOSTS {
            lines.push(Line::raw(format!(
                "  ... and {} more hosts (rank --by task -f jsonl: first_seen_per_host)",
                task.spread.len() - SHOWN_HOSTS
            )));
        }
    }
    definitions_by_host(app, task, lines);
    let mut events: Vec<usize> = task
        .uniques
        .iter()
        .map(|&u| u as usize)
        .filter(|&u| ds.uniques[u].kind() == RowKind::Event)
        .collect();
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
        let open = Keymap::List
            .key_for(&Action::Submit)
            .unwrap_or_else(|| "Enter".into());
        lines.push(Line::raw(format!(
            "  ... and {} more events ({open}: every event of the task)",
            events.len() - SHOWN
        )));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "its best-ranked event:",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
}

/// Per host, the task's definition found on disk beside the registrations its logs recorded
/// (Security 4698 / 4702), so that what is there and what was logged can be read together.
fn definitions_by_host(app: &App, task: &crate::frame::Task, lines: &mut Vec<Line<'static>>) {
    let (Some(ds), Some(data)) = (app.dataset(), app.data()) else {
        return;
    };
    let mut per_host: std::collections::BTreeMap<&str, (Vec<usize>, Vec<usize>)> =
        std::collections::BTreeMap::new();
    for &u in &task.uniques {
        let u = u as usize;
        let e = &ds.uniques[u];
        let registration =
            e.channel == crate::event::CH_SECURITY && matches!(e.event_id, 4698 | 4702);
        for h in &e.hosts {
            let slot = per_host.entry(h.as_str()).or_default();
            match e.kind() {
                RowKind::Definition => slot.0.push(u),
                RowKind::Event if registration => slot.1.push(u),
                RowKind::Event => {}
            }
        }
    }
    if per_host.values().all(|(d, _)| d.is_empty()) {
        return;
    }
    lines.push(Line::from(Span::styled(
        "on disk and logged, per host:",
        Style::default().add_modifier(Modifier::UNDERLINED),
    )));
    const HOSTS: usize = 8;
    for (host, (defs, regs)) in per_host.iter().take(HOSTS) {
        lines.push(Line::raw(format!("  {}", safe(host, 80))));
        for &u in defs {
            let flags: Vec<&str> = ds.flags(u).iter().map(|f| f.name()).collect();
            lines.push(Line::raw(format!(
                "    {} #{:<4} {}{}",
                if ds.uniques[u].event_id == crate::event::DEF_REG {
                    "registry  "
                } else {
                    "definition"
                },
                data.event_rank(u).saturating_add(1),
                safe(&ds.command_as_read(u), 100),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", flags.join(" "))
                }
            )));
        }
        if defs.is_empty() {
            lines.push(Line::raw("    no definition on disk read"));
        }
        for &u in regs {
            lines.push(Line::raw(format!(
                "    logged {} #{:<4} {}",
                ds.uniques[u].event_id,
                data.event_rank(u).saturating_add(1),
                safe(&ds.command_as_read(u), 100)
            )));
        }
        if regs.is_empty() {
            lines.push(Line::raw("    no registration logged"));
        }
    }
    if per_host.len() > HOSTS {
        lines.push(Line::raw(format!(
            "  ... and {} more hosts",
            per_host.len() - HOSTS
        )));
    }
}

/// The task lifecycles of unique event `u`: a timeline per task and host, runs folded, the
/// XML diff under each update; the selected event's own steps are marked with `>`.
pub(super) fn lifecycle_lines(app: &App, u: usize, lines: &mut Vec<Line<'static>>) {
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

pub(super) fn step_line(app: &App, s: &Step, own: bool) -> Line<'static> {
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

#[cfg(test)]
mod tests {
    use super::{as_read_case, share_row};

    #[test]
    fn field_rows_keep_the_case_the_command_was_read_in() {
        let cmd = "powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAo";
        assert_eq!(as_read_case("-enc sqbfafgaiaao", cmd), "-Enc SQBFAFgAIAAo");
        assert_eq!(as_read_case("powershell.exe", cmd), "powershell.exe");
        assert_eq!(
            as_read_case("cmd.exe", cmd),
            "cmd.exe",
            "not in the command"
        );
        assert_eq!(as_read_case("é-x", "É-X"), "é-x", "no ASCII-only match");
    }

    #[test]
    fn a_field_row_shares_its_width_between_value_and_expectation() {
        // Both fit: both whole.
        assert_eq!(share_row(60, 20, Some(30)), (20, 30));
        assert_eq!(share_row(60, 20, None), (20, 0));
        // No expectation: the value takes the row, cut.
        assert_eq!(share_row(60, 200, None), (60, 0));
        // A short value stays whole; the expectation takes what is left.
        assert_eq!(share_row(60, 10, Some(80)), (10, 50));
        // A long value gives the expectation about half, and keeps at least 24.
        assert_eq!(share_row(60, 200, Some(80)), (24, 36));
        assert_eq!(share_row(100, 200, Some(30)), (62, 38));
        // Never more than the room, whatever is asked.
        for room in [0, 1, 5, 30] {
            let (a, x) = share_row(room, 500, Some(500));
            assert!(a + x <= room.max(a), "{room}: {a} {x}");
            assert!(a <= room);
        }
    }
}
