//! The footer: the status line, and the hint bar drawn from the key table of what is open.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Keymap};

use super::{safe, style};

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

pub(super) fn footer(app: &App, f: &mut Frame, area: Rect) {
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
