//! The header: what was read, and training's progress (a gauge and a loss curve when wide).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, LineGauge, Paragraph, Sparkline};

use crate::app::{App, Training};

use super::{safe, style};

/// From this width the header gives training a gauge and a loss curve of its own.
pub(super) const WIDE_HEADER: u16 = 120;

/// `text` in at most `width` characters, cut after a whole word and ending with `…` where
/// it was cut.
pub fn fit_words(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if next.chars().count() + 1 > width {
            break;
        }
        out = next;
    }
    if out.is_empty() {
        return String::new();
    }
    out.push('…');
    out
}

/// Training in a few words, for a narrow header.
pub(super) fn training_words(app: &App) -> String {
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
        } if *models > 1 => format!("{model}: {models} models, {epochs} epochs in {seconds:.1} s"),
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
pub(super) fn header(app: &App, f: &mut Frame, area: Rect) {
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
    // Training in words after the numbers, cut at a word (never `200 epoch`), or on the
    // second line when the first has no room for it.
    let mut training_below = None;
    if !wide && !matches!(app.training(), Training::NotStarted) {
        let used: usize = first.iter().map(|s| s.content.chars().count()).sum();
        let room = usize::from(area.width).saturating_sub(used + 2);
        let words = training_words(app);
        if words.chars().count() <= room || room >= 16 {
            first.push(Span::styled(
                format!("  {}", fit_words(&words, room)),
                style(app, Color::Cyan),
            ));
        } else {
            training_below = Some(words);
        }
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
    if let Some(words) = training_below {
        second.push(Span::styled(format!("  {words}"), style(app, Color::Cyan)));
    }
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
    if wide {
        training_corner(app, f, parts[2]);
    }
}

/// The wide header's corner: training's words and a line gauge, the loss curve below.
fn training_corner(app: &App, f: &mut Frame, area: Rect) {
    let t = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(1), Constraint::Length(1)])
        .split(area);
    match &app.training() {
        Training::Running { last, losses } => {
            let (ratio, label) = match last {
                Some(r) => (
                    r.epoch as f64 / r.epochs.max(1) as f64,
                    format!(
                        "{}/{} loss {:.2} {:.0}s left, c cancels",
                        r.epoch, r.epochs, r.loss, r.eta
                    ),
                ),
                None => (0.0, "training, c cancels".into()),
            };
            // The words first, then the line of progress: no gauge block stands before the
            // text, and the label is cut at a word if at all.
            let label = fit_words(&label, usize::from(t[0].width).saturating_sub(8));
            f.render_widget(
                LineGauge::default()
                    .ratio(ratio.clamp(0.0, 1.0))
                    .label(label)
                    .filled_style(style(app, Color::Cyan)),
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

pub(super) fn loading(app: &App, f: &mut Frame, area: Rect) {
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

#[cfg(test)]
mod tests {
    use super::fit_words;

    /// The header never cuts a word (`ae: 3 models x 200 epoch`).
    #[test]
    fn words_are_cut_whole() {
        let t = "ae: 3 models x 200 epochs in 1.0 s";
        assert_eq!(fit_words(t, 80), t);
        assert_eq!(fit_words(t, 24), "ae: 3 models x 200…");
        assert_eq!(fit_words(t, 26), "ae: 3 models x 200 epochs…");
        assert_eq!(fit_words(t, 4), "ae:…");
        assert_eq!(fit_words(t, 3), "");
        for w in 0..40 {
            let f = fit_words(t, w);
            assert!(f.chars().count() <= w, "{w}: {f}");
            let kept = f.trim_end_matches('…');
            assert!(t.starts_with(kept));
            assert!(
                kept.is_empty() || t[kept.len()..].is_empty() || t[kept.len()..].starts_with(' '),
                "{w}: {f}"
            );
        }
    }
}
