//! JSON, JSON Lines, and concatenated pretty-printed JSON (evtx_dump `-o json`, with its
//! `Record N` separator lines). A malformed record is skipped up to the next line that starts
//! a new object, and counted.

use std::io::BufRead;
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
/// by record (the same result, in bounded memory: a parsed array takes several times its
/// text).
const WHOLE_ARRAY: usize = 4 << 20;

/// Read JSON held in memory (see [`read_json_stream`]).
#[cfg(test)]
pub fn read_json_text(
    text: &str,
    name: String,
    sink: &mut dyn Sink,
    progress: &Progress,
) -> FileReport {
    read_json_stream(
        &mut std::io::Cursor::new(text.as_bytes()),
        name,
        sink,
        progress,
    )
}

/// Read JSON from a stream, a record at a time: at most a window of about twice
/// [`MAX_RECORD`] bytes is held, whatever the size of the input.
pub fn read_json_stream(
    input: &mut dyn BufRead,
    name: String,
    sink: &mut dyn Sink,
    progress: &Progress,
) -> FileReport {
    let source: Arc<str> = Arc::from(name.as_str());
    let mut report = FileReport::new(name, "json");
    let mut non_events = 0u64;
    let mut task_rows = super::task_rows::Rows::default();
    let mut on_value = |v: Value, report: &mut FileReport| {
        // A JSON array holds records (Chainsaw, old Hayabusa, a SIEM export).
        let items = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            let ev = task_rows
                .definition(&item, &source)
                .or_else(|| layout::normalize(&item, &source));
            match ev {
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
    let mut w = Window::new(input);
    let mut pos = 0usize;
    let io_failed = |report: &mut FileReport, e: std::io::Error| {
        report.skipped += 1;
        report.problem(format!("cannot read on: {e}"));
    };
    if let Err(e) = w.fill(&mut pos, WHOLE_ARRAY + 1) {
        io_failed(&mut report, e);
        return report;
    }
    // A byte-order mark and leading blanks are no record.
    if w.text[pos..].starts_with('\u{feff}') {
        pos += '\u{feff}'.len_utf8();
    }
    // A small file that is one array is parsed whole (arrays of arrays, say, read so too).
    let rest = w.text[pos..].trim_start();
    if rest.starts_with('[')
        && w.eof
        && rest.len() <= WHOLE_ARRAY
        && let Ok(v) = serde_json::from_str::<Value>(rest)
    {
        on_value(v, &mut report);
        report.not_a_log = report.records == 0 && non_events == report.skipped;
        return report;
    }
    let mut line_no = 1usize;
    loop {
        if let Err(e) = w.fill(&mut pos, MAX_RECORD + 1) {
            io_failed(&mut report, e);
            break;
        }
        let text = w.text.as_str();
        let bytes = text.as_bytes();
        if pos >= bytes.len() {
            break;
        }
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
        match w.next_object_line(&mut pos) {
            Ok(lines) => line_no += lines,
            Err(e) => {
                io_failed(&mut report, e);
                break;
            }
        }
    }
    report.not_a_log = report.records == 0 && non_events > 0 && non_events == report.skipped;
    report
}

/// Decoded text of a stream from some point on: refilled as it is read, the part already
/// read dropped, so that memory stays at about the largest record read ahead. Bytes that
/// are no UTF-8 become U+FFFD, as `String::from_utf8_lossy` makes them.
struct Window<'a> {
    input: &'a mut dyn BufRead,
    text: String,
    /// Bytes read but not yet decoded (a character cut by the end of a read).
    pending: Vec<u8>,
    eof: bool,
}

impl<'a> Window<'a> {
    fn new(input: &'a mut dyn BufRead) -> Window<'a> {
        Window {
            input,
            text: String::new(),
            pending: Vec::new(),
            eof: false,
        }
    }

    /// Have at least `want` bytes from `pos` on (fewer at the end of the input): drops what
    /// lies before `pos` (and moves `pos`) when it must read more.
    fn fill(&mut self, pos: &mut usize, want: usize) -> std::io::Result<()> {
        while self.text.len() - *pos < want && !self.eof {
            self.more(pos)?;
        }
        Ok(())
    }

    /// Read one more piece of the input (dropping what lies before `pos`); `false` at its end.
    fn more(&mut self, pos: &mut usize) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        // What was read is dropped once it is half the window: each byte moves once or twice.
        if *pos > 0 && *pos >= self.text.len() / 2 {
            self.text.drain(..*pos);
            *pos = 0;
        }
        let chunk = self.input.fill_buf()?;
        if chunk.is_empty() {
            self.eof = true;
            if !self.pending.is_empty() {
                self.text
                    .push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.pending)));
            }
            return Ok(false);
        }
        let n = chunk.len();
        self.pending.extend_from_slice(chunk);
        self.input.consume(n);
        self.decode();
        Ok(true)
    }

    /// Move the complete characters of `pending` into `text`.
    fn decode(&mut self) {
        let mut at = 0;
        loop {
            match std::str::from_utf8(&self.pending[at..]) {
                Ok(s) => {
                    self.text.push_str(s);
                    at = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // The first `valid_up_to` bytes are UTF-8: the error says so.
                    self.text
                        .push_str(std::str::from_utf8(&self.pending[at..at + valid]).unwrap_or(""));
                    at += valid;
                    match e.error_len() {
                        Some(bad) => {
                            self.text.push('\u{fffd}');
                            at += bad;
                        }
                        // A character cut by the end of this read: kept for the next.
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..at);
    }

    /// Move `pos` to the next line after it whose first non-blank byte starts a record
    /// (`{` or evtx_dump's `Record N`), or to the end; returns the newlines passed.
    fn next_object_line(&mut self, pos: &mut usize) -> std::io::Result<usize> {
        let mut lines = 0;
        loop {
            match self.text[*pos..].find('\n') {
                Some(nl) => {
                    *pos += nl + 1;
                    lines += 1;
                    // The next line's start may lie past what is read.
                    self.fill(pos, 64)?;
                    let line = self.text[*pos..].trim_start_matches([' ', '\t']);
                    if line.starts_with('{') || line.starts_with("Record ") {
                        return Ok(lines);
                    }
                }
                None => {
                    *pos = self.text.len();
                    if !self.more(pos)? {
                        return Ok(lines);
                    }
                }
            }
        }
    }
}

/// evtx_dump `-o json` writes `Record 12` between records.
fn is_record_separator(rest: &str) -> bool {
    let line = rest.lines().next().unwrap_or_default().trim();
    line.strip_prefix("Record ")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
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
