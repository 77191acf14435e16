//! JSON, JSON Lines, and concatenated pretty-printed JSON (evtx_dump `-o json`, with its
//! `Record N` separator lines). A malformed record is skipped up to the next line that starts
//! a new object, and counted.

use std::sync::Arc;

use serde_json::Value;

use super::{FileReport, Progress, Sink, layout};

/// Largest JSON record read (one object; a real one with its task XML is a few KiB): a larger
/// one is skipped with a warning, so that one record can never cost more than a few times
/// this in memory.
pub const MAX_RECORD: usize = 16 << 20;
/// Most data fields kept of one record; the rest are dropped with a warning.
pub const MAX_FIELDS: usize = 4096;
/// A file that is one JSON array is parsed whole up to this size; a larger one is read record
/// by record (the same result, in bounded memory).
const WHOLE_ARRAY: usize = 64 << 20;

pub fn read_json_text(
    text: &str,
    name: String,
    sink: &mut dyn Sink,
    progress: &Progress,
) -> FileReport {
    let source: Arc<str> = Arc::from(name.as_str());
    let mut report = FileReport::new(name, "json");
    let mut non_events = 0u64;
    let mut on_value = |v: Value, report: &mut FileReport| {
        // A JSON array holds records (Chainsaw, old Hayabusa, a SIEM export).
        let items = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            match layout::normalize(&item, &source) {
                Some(mut ev) => {
                    if ev.data.len() > MAX_FIELDS {
                        ev.data.truncate(MAX_FIELDS);
                        report.problem(format!(
                            "a record with more than {MAX_FIELDS} data fields: the rest were dropped"
                        ));
                    }
                    report.record(ev, sink, progress);
                }
                None => {
                    report.skipped += 1;
                    non_events += 1;
                    report.problem("JSON value that is no event log record");
                }
            }
        }
    };

    // A whole-file array first: the common case for non-line-delimited exports.
    if text.starts_with('[')
        && text.len() <= WHOLE_ARRAY
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        on_value(v, &mut report);
        report.not_a_log = report.records == 0 && non_events == report.skipped;
        return report;
    }

    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut line_no = 1usize;
    while pos < bytes.len() {
        if progress.cancelled() {
            report.problem("cancelled");
            break;
        }
        // Skip separators between records: white space, commas, array brackets.
        match bytes[pos] {
            b'\n' => {
                line_no += 1;
                pos += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b',' | b'[' | b']' => {
                pos += 1;
                continue;
            }
            _ => {}
        }
        let rest = &text[pos..];
        if bytes[pos] == b'{' {
            // At most MAX_RECORD bytes are offered to the parser: a larger record ends in an
            // end-of-input error and is skipped.
            let mut cut = rest.len().min(MAX_RECORD);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let window = &rest[..cut];
            let mut stream = serde_json::Deserializer::from_str(window).into_iter::<Value>();
            match stream.next() {
                Some(Ok(v)) => {
                    let used = stream.byte_offset();
                    line_no += rest[..used].matches('\n').count();
                    pos += used;
                    on_value(v, &mut report);
                    continue;
                }
                Some(Err(e)) if e.is_eof() && cut < rest.len() => {
                    report.skipped += 1;
                    report.problem(format!(
                        "a record at line {line_no} is larger than {} MiB: skipped",
                        MAX_RECORD >> 20
                    ));
                }
                Some(Err(e)) => {
                    report.skipped += 1;
                    report.problem(format!("malformed JSON at line {line_no}: {e}"));
                }
                None => break,
            }
        } else if !is_record_separator(rest) {
            report.skipped += 1;
            report.problem(format!("line {line_no} is not JSON"));
        }
        // Resynchronise: the next line that starts (after indentation) with `{`.
        let (skipped_to, lines) = next_object_line(text, pos);
        pos = skipped_to;
        line_no += lines;
    }
    report.not_a_log = report.records == 0 && non_events > 0 && non_events == report.skipped;
    report
}

/// evtx_dump `-o json` writes `Record 12` between records.
fn is_record_separator(rest: &str) -> bool {
    let line = rest.lines().next().unwrap_or_default().trim();
    line.strip_prefix("Record ")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

/// The byte offset of the next line after `pos` whose first non-blank byte is `{`, and how
/// many newlines lie in between.
fn next_object_line(text: &str, pos: usize) -> (usize, usize) {
    let mut lines = 0;
    let mut at = pos;
    while let Some(nl) = text[at..].find('\n') {
        at += nl + 1;
        lines += 1;
        let line = text[at..].trim_start_matches([' ', '\t']);
        if line.starts_with('{') || line.starts_with("Record ") {
            return (at, lines);
        }
    }
    (text.len(), lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RawEvent;

    fn read(text: &str) -> (Vec<RawEvent>, FileReport) {
        let mut events = Vec::new();
        let r = read_json_text(text, "t".into(), &mut events, &Progress::default());
        (events, r)
    }

    #[test]
    fn jsonl_with_a_bad_line() {
        let (ev, r) = read(
            "{\"EventID\": 1, \"Channel\": \"A\"}\n{broken\n{\"EventID\": 2, \"Channel\": \"A\"}\n",
        );
        assert_eq!(ev.len(), 2);
        assert_eq!((r.records, r.skipped), (2, 1));
        assert!(r.warning().unwrap().contains("line 2"), "{:?}", r.problems);
    }

    #[test]
    fn evtx_dump_json_with_record_lines() {
        let text = "Record 1\n{\n  \"Event\": {\n    \"System\": {\"EventID\": 4698}\n  }\n}\nRecord 2\n{\n  \"Event\": {\n    \"System\": {\"EventID\": 4699}\n  }\n}\n";
        let (ev, r) = read(text);
        assert_eq!(
            ev.iter().map(|e| e.event_id).collect::<Vec<_>>(),
            [4698, 4699]
        );
        assert_eq!(r.skipped, 0);
    }

    #[test]
    fn truncated_array_keeps_complete_records() {
        let (ev, r) = read("[\n {\"EventID\": 1},\n {\"EventID\": 2},\n {\"EventID\": 3, \"Chan");
        assert_eq!(ev.len(), 2);
        assert_eq!(r.skipped, 1);
    }
}
