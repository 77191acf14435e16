//! `.evtx` through the evtx crate. Bad chunks and records arrive as `Err` items: they are
//! counted and reading goes on.

use std::path::Path;
use std::sync::Arc;

use evtx::{EvtxParser, ParserSettings};

use super::{FileReport, Progress, layout};
use crate::event::RawEvent;

fn settings() -> ParserSettings {
    // 0 = one worker per core. Checksums are not enforced: a damaged CRC loses nothing an
    // analyst wants, and the records that really are broken fail on their own.
    ParserSettings::new()
        .num_threads(0)
        .validate_checksums(false)
}

pub fn read_evtx_path<F>(
    path: &Path,
    name: String,
    keep: &F,
    progress: &Progress,
) -> (Vec<RawEvent>, FileReport)
where
    F: Fn(&RawEvent) -> bool + Sync,
{
    match EvtxParser::from_path(path) {
        Ok(p) => drain(p.with_configuration(settings()), name, keep, progress),
        Err(e) => failed(name, e),
    }
}

pub fn read_evtx_bytes<F>(
    bytes: Vec<u8>,
    name: String,
    keep: &F,
    progress: &Progress,
) -> (Vec<RawEvent>, FileReport)
where
    F: Fn(&RawEvent) -> bool + Sync,
{
    match EvtxParser::from_buffer(bytes) {
        Ok(p) => drain(p.with_configuration(settings()), name, keep, progress),
        Err(e) => failed(name, e),
    }
}

fn failed(name: String, e: impl std::fmt::Display) -> (Vec<RawEvent>, FileReport) {
    let mut r = FileReport::new(name, "evtx");
    r.problem(format!(
        "not a readable EVTX file: {}",
        one_line(&e.to_string())
    ));
    (Vec::new(), r)
}

fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    crate::sanitize::for_terminal(first, 200)
}

fn drain<T: std::io::Read + std::io::Seek, F>(
    mut parser: EvtxParser<T>,
    name: String,
    keep: &F,
    progress: &Progress,
) -> (Vec<RawEvent>, FileReport)
where
    F: Fn(&RawEvent) -> bool + Sync,
{
    let source: Arc<str> = Arc::from(name.as_str());
    let mut report = FileReport::new(name, "evtx");
    let mut events = Vec::new();
    // Rendering to JSON and normalising run inside the evtx crate's workers (in parallel over
    // chunks); this thread only filters and counts.
    let src = source.clone();
    let records = parser.serialized_records(move |r| {
        r.and_then(|r| r.into_json_value()).map(|rec| {
            let mut ev = match rec.data.get("Event") {
                Some(e) => layout::from_evtx_dump(e, &src),
                None => layout::from_evtx_dump(&rec.data, &src),
            };
            ev.record_id = Some(rec.event_record_id);
            ev.time = ev.time.or(Some(rec.timestamp.as_microsecond()));
            ev
        })
    });
    for (i, item) in records.enumerate() {
        if i % 4096 == 0 && progress.cancelled() {
            report.problem("cancelled");
            break;
        }
        match item {
            Ok(ev) => {
                report.record(ev, keep, progress, &mut events);
            }
            Err(e) => {
                report.skipped += 1;
                report.problem(one_line(&e.to_string()));
            }
        }
    }
    (events, report)
}
