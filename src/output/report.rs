//! The HTML report (`anomalog report`, `rank -f html`, the UI's export as `.html`): one
//! self-contained page to share: what was read and what each host could show, the top rows
//! with their explanations and when they spread, and every row an analyst marked, judged or
//! noted.
//!
//! Self-contained: no script, no fetch (a Content-Security-Policy forbids any), the charts
//! inline SVG. Every string from a log is attacker-controlled: it is made visible
//! ([`for_terminal`]: control, bidirectional and zero-width characters escaped) and then
//! HTML-escaped.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use super::hosts::HostRows;
use crate::event::rfc3339;
use crate::frame::Dataset;
use crate::util::sanitize::for_terminal;

/// The most hosts the coverage table lists (the rest are counted).
const MAX_HOSTS: usize = 2000;
/// The most fields a row's explanation names.
const EXPLAINED: usize = 5;

/// What a report shows.
pub struct Report<'a> {
    pub ds: &'a Dataset,
    /// What a row is: `unique events`, `task definitions`, `tasks`.
    pub rows_are: &'a str,
    /// The rows listed, best first, as their JSON Lines objects.
    pub top: Vec<Value>,
    /// When each listed row spread: hosts and their first times, earliest first.
    pub spreads: Vec<Vec<(String, i64)>>,
    /// Every row with a mark, a verdict or a note, in rank order.
    pub judged: Vec<Value>,
}

/// Text from the logs, safe in HTML: visible escapes, then entities.
fn esc(s: &str, max: usize) -> String {
    let visible = for_terminal(s, max);
    let mut out = String::with_capacity(visible.len());
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;\
text-align:left;vertical-align:top}th{background:#f4f4f4}.row{border:1px solid #ddd;\
margin:1em 0;padding:.5em 1em}.score{font-weight:bold}.mal{color:#b00}.susp{color:#b60}\
.ben{color:#070}code{background:#f6f6f6;word-break:break-all}.why td{border:none;\
padding:0 8px 0 0}.meta{color:#555}svg{vertical-align:middle}";

/// Write the report as one HTML page.
pub fn write(r: &Report<'_>, out: &mut dyn Write) -> Result<()> {
    let ds = r.ds;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <title>anomalog report</title><style>{STYLE}</style></head><body>\n\
         <h1>anomalog report: the most unusual {}</h1>\n",
        esc(r.rows_are, 40)
    );
    inputs(&mut h, ds);
    coverage(&mut h, ds);
    let _ = writeln!(
        h,
        "<h2 id=\"top\">The {} most unusual {}</h2>",
        r.top.len(),
        esc(r.rows_are, 40)
    );
    for (k, row) in r.top.iter().enumerate() {
        row_html(&mut h, row, r.spreads.get(k).map_or(&[][..], Vec::as_slice));
    }
    let _ = writeln!(
        h,
        "<h2 id=\"judged\">Marked, judged and noted ({})</h2>",
        r.judged.len()
    );
    if r.judged.is_empty() {
        h.push_str("<p class=\"meta\">No row is marked, judged or noted.</p>\n");
    }
    for row in &r.judged {
        row_html(&mut h, row, &[]);
    }
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())?;
    Ok(())
}

/// What was read: the profile, the counts, the folders the files came from.
fn inputs(h: &mut String, ds: &Dataset) {
    let mut folders: Vec<String> = ds
        .sources
        .iter()
        .map(|s| {
            let s = s.split('!').next().unwrap_or(s);
            // A Tasks folder's subfolders are one Tasks folder.
            let lower = s.to_lowercase();
            let tasks = ["/tasks/", "\\tasks\\"]
                .iter()
                .filter_map(|t| lower.find(t).map(|i| i + t.len() - 1))
                .min();
            match tasks {
                Some(end) if s.is_char_boundary(end) => s[..end].to_string(),
                _ => std::path::Path::new(s)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            }
        })
        .collect();
    folders.sort();
    folders.dedup();
    let _ = write!(
        h,
        "<p class=\"meta\">Profile <b>{}</b>: {} unique events and definitions on {} hosts, \
         read from {} files in {} folders. Higher scores are stranger; only the order means \
         something.</p>\n<details><summary>Folders read</summary><ul>",
        esc(ds.profile, 60),
        ds.uniques.len(),
        ds.fleet_size(),
        ds.sources.len(),
        folders.len()
    );
    for f in folders.iter().take(200) {
        let _ = write!(h, "<li><code>{}</code></li>", esc(f, 300));
    }
    if folders.len() > 200 {
        let _ = write!(h, "<li>... and {} more</li>", folders.len() - 200);
    }
    h.push_str("</ul></details>\n");
}

/// What each host could show of tasks, least covered first.
fn coverage(h: &mut String, ds: &Dataset) {
    let hosts = HostRows::new(ds, None);
    let _ = write!(
        h,
        "<h2 id=\"coverage\">What could be seen per host ({})</h2>\n<table><tr><th>host</th>\
         <th>definitions</th><th>Operational</th><th>task audit</th><th>process creation</th>\
         <th>Sysmon</th><th>what could be seen</th></tr>\n",
        hosts.hosts.len()
    );
    for c in hosts.hosts.iter().take(MAX_HOSTS) {
        let r = HostRows::json_row(c);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(text(&r["host"]), 200),
            r["definitions"],
            r["operational_records"],
            r["task_audit_records"],
            r["process_creation_records"],
            r["sysmon_records"],
            esc(text(&r["verdict"]), 300)
        );
    }
    h.push_str("</table>\n");
    if hosts.hosts.len() > MAX_HOSTS {
        let _ = writeln!(
            h,
            "<p class=\"meta\">... and {} more hosts (<code>rank --by host</code> lists all).</p>",
            hosts.hosts.len() - MAX_HOSTS
        );
    }
}

/// One row: rank, score, name and command as read, where and when, flags, the analyst's
/// verdict and note, the fields that weigh most, and when it spread.
fn row_html(h: &mut String, row: &Value, spread: &[(String, i64)]) {
    let name = match row["display"]["name"].as_str() {
        Some(n) if !n.is_empty() => n,
        _ => row["task"].as_str().unwrap_or(""),
    };
    let command = match row["display"]["command"].as_str() {
        Some(c) if !c.is_empty() => c,
        _ => text(&row["fields"]["command"]),
    };
    let verdict = text(&row["verdict"]);
    let class = match verdict {
        "malicious" => "mal",
        "suspicious" => "susp",
        "benign" => "ben",
        _ => "",
    };
    let _ = write!(
        h,
        "<div class=\"row\"><span class=\"score\">#{} score {:.2}</span> {} <b>{}</b>",
        row["rank"],
        row["score"].as_f64().unwrap_or(0.0),
        event_of(row),
        esc(name, 300)
    );
    if !verdict.is_empty() {
        let _ = write!(h, " <span class=\"{class}\">{}</span>", esc(verdict, 20));
    }
    if row["marked"] == Value::Bool(true) {
        h.push_str(" (marked)");
    }
    if !command.is_empty() {
        let _ = write!(h, "<br>runs <code>{}</code>", esc(command, 1000));
    }
    let hosts = row["hosts"].as_array().map_or(0, Vec::len);
    let _ = write!(
        h,
        "<br><span class=\"meta\">{} on {} of {} hosts, first {} last {}</span>",
        crate::util::counted(row["count"].as_u64().unwrap_or(0), "occurrence"),
        hosts,
        row["prevalence"]["fleet"],
        esc(text(&row["first_seen"]), 40),
        esc(text(&row["last_seen"]), 40)
    );
    if let Some(flags) = row["flags"].as_array().filter(|f| !f.is_empty()) {
        let f: Vec<&str> = flags.iter().map(text).collect();
        let _ = write!(h, "<br>lifecycle: <b>{}</b>", esc(&f.join(", "), 300));
    }
    let note = text(&row["note"]);
    if !note.is_empty() {
        let _ = write!(h, "<br>note: {}", esc(note, 2000));
    }
    why(h, row);
    if let Some(svg) = spread_svg(spread) {
        let _ = write!(
            h,
            "<br>spread: {svg} {} hosts from {} to {}",
            spread.len(),
            rfc3339(spread.first().map(|s| s.1)),
            rfc3339(spread.last().map(|s| s.1))
        );
    }
    h.push_str("</div>\n");
}

/// `Security 4698`, or a task's event ids.
fn event_of(row: &Value) -> String {
    match (row["channel"].as_str(), row["event_ids"].as_array()) {
        (Some(ch), _) => esc(&format!("{ch} {}", row["event_id"]), 80),
        (None, Some(ids)) => {
            let ids: Vec<String> = ids.iter().map(Value::to_string).collect();
            format!("events {}", esc(&ids.join(" "), 120))
        }
        _ => String::new(),
    }
}

/// The fields that weigh most: value, share of the score, what the rest of the event
/// predicts there.
fn why(h: &mut String, row: &Value) {
    let Some(errors) = row["field_errors"].as_object() else {
        return;
    };
    let mut fields: Vec<(&String, f64)> = errors
        .iter()
        .map(|(f, e)| (f, e["loss"].as_f64().unwrap_or(0.0)))
        .collect();
    fields.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    h.push_str("<table class=\"why\">");
    for (f, loss) in fields.into_iter().take(EXPLAINED) {
        let value = text(&row["fields"][f.as_str()]);
        let expected = &row["expected"][f.as_str()];
        let guess = match (expected["value"].as_str(), expected["p"].as_f64()) {
            (Some(v), Some(p)) if v != value => format!(
                "the rest of the event predicts {} ({:.0} %)",
                if v.is_empty() {
                    "(empty)".to_string()
                } else {
                    esc(v, 120)
                },
                p * 100.0
            ),
            _ => String::new(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.2}</td><td><code>{}</code></td><td class=\"meta\">{}</td></tr>",
            esc(f, 60),
            loss,
            if value.is_empty() {
                "(empty)".to_string()
            } else {
                esc(value, 200)
            },
            guess
        );
    }
    h.push_str("</table>");
}

/// How many hosts had it by when, as a step line from the first host to the last (nothing
/// for fewer than two hosts).
fn spread_svg(spread: &[(String, i64)]) -> Option<String> {
    if spread.len() < 2 {
        return None;
    }
    const W: f64 = 240.0;
    const H: f64 = 36.0;
    let first = spread.first()?.1 as f64;
    let span = (spread.last()?.1 as f64 - first).max(1.0);
    let n = spread.len() as f64;
    let mut points = String::new();
    let mut y_prev = H;
    for (k, (_, t)) in spread.iter().enumerate() {
        let x = (*t as f64 - first) / span * W;
        let y = H - (k as f64 + 1.0) / n * H;
        let _ = write!(points, "{x:.1},{y_prev:.1} {x:.1},{y:.1} ");
        y_prev = y;
    }
    let _ = write!(points, "{W:.1},{y_prev:.1}");
    Some(format!(
        "<svg class=\"spread\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-label=\"hosts over time\"><rect width=\"{W}\" height=\"{H}\" \
         fill=\"#f4f8fc\"/><polyline fill=\"none\" stroke=\"#1769aa\" stroke-width=\"2\" \
         points=\"{points}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_strings_cannot_become_markup() {
        let e = esc("<script>alert('x')</script>&\u{202e}", 200);
        assert!(
            !e.contains('<') && !e.contains('>') && !e.contains('\''),
            "{e}"
        );
        assert!(e.contains("&lt;script&gt;") && e.contains("&amp;"), "{e}");
        assert!(!e.contains('\u{202e}'), "bidi override made visible: {e}");
    }

    #[test]
    fn a_spread_is_a_rising_step_line() {
        assert!(spread_svg(&[("a".into(), 1)]).is_none());
        let svg = spread_svg(&[("a".into(), 0), ("b".into(), 50), ("c".into(), 100)]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
        // Ends at the top right: every host had it by the last time.
        assert!(svg.contains("240.0,0.0\"/>"), "{svg}");
    }
}
