//! `.evtx` through the evtx crate. Bad chunks and records arrive as `Err` items: they are
//! counted and reading goes on.

use std::path::Path;
use std::sync::Arc;

use evtx::{EvtxParser, ParserSettings};

use super::{FileReport, Reading, Sink, layout};
use crate::event::RawEvent;

/// Parser settings: `threads` workers over chunks (0: one per core; 1: inline, on the
/// calling thread). Checksums are not enforced: a damaged CRC loses nothing an analyst wants,
/// and the records that really are broken fail on their own.
fn settings(threads: usize) -> ParserSettings {
    ParserSettings::new()
        .num_threads(threads)
        .validate_checksums(false)
}

pub fn read_evtx_path(
    path: &Path,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    read(EvtxParser::from_path(path), name, rd, sink)
}

/// An open file (an unnamed temporary file holding a zip member).
pub fn read_evtx_file(
    file: std::fs::File,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    read(
        EvtxParser::from_read_seek(std::io::BufReader::new(file)),
        name,
        rd,
        sink,
    )
}

fn read<T: std::io::Read + std::io::Seek>(
    parser: evtx::err::Result<EvtxParser<T>>,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    match parser {
        Ok(p) => drain(
            p.with_configuration(settings(rd.evtx_threads)),
            name,
            rd,
            sink,
        ),
        Err(e) => failed(name, e),
    }
}

fn failed(name: String, e: impl std::fmt::Display) -> FileReport {
    let mut r = FileReport::new(name, "evtx");
    r.problem(format!(
        "not a readable EVTX file: {}",
        one_line(&e.to_string())
    ));
    r
}

fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    crate::util::sanitize::for_terminal(first, 200)
}

/// A rendered record as an event: straight from its JSON text ([`super::evtx_json`]), or
/// through a `serde_json::Value` when the text has a shape that path does not expect.
fn to_event(json: &[u8], src: &Arc<str>) -> evtx::err::Result<RawEvent> {
    if let Some(ev) = super::evtx_json::read(json, src) {
        return Ok(ev);
    }
    let data: serde_json::Value =
        serde_json::from_slice(json).map_err(evtx::err::SerializationError::from)?;
    Ok(match data.get("Event") {
        Some(e) => layout::from_evtx_dump(e, src),
        None => layout::from_evtx_dump(&data, src),
    })
}

/// What a parser worker makes of one record.
enum Item {
    /// Rendered and normalised.
    Event(RawEvent),
    /// Not rendered: no profile wants its channel and event id.
    Passed {
        channel: Arc<str>,
        canonical: &'static str,
        event_id: u32,
        computer: Arc<str>,
        time: i64,
    },
}

/// The channel of the last record peeked in a chunk (its UTF-16 bytes, the text, and its
/// canonical name): records of a chunk nearly always share one, so it is decoded once.
#[derive(Clone, Default)]
struct LastChannel {
    utf16: Vec<u8>,
    text: Arc<str>,
    canonical: &'static str,
}

fn drain<T: std::io::Read + std::io::Seek>(
    mut parser: EvtxParser<T>,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let source: Arc<str> = Arc::from(name.as_str());
    let mut report = FileReport::new(name, "evtx");
    // Peeking, rendering to JSON and normalising run inside the evtx crate's workers (in
    // parallel over chunks); this thread only counts and hands events to the sink.
    let src = source.clone();
    let pre = rd.prefilter.clone();
    let progress = rd.progress;
    let mut last: Option<LastChannel> = None;
    let mut last_computer: Option<(Vec<u8>, Arc<str>)> = None;
    let records = parser.serialized_records(move |r| {
        let r = r?;
        if let Some(p) = super::peek::channel_and_id(&r) {
            let known = match &last {
                Some(l) if l.utf16 == p.channel_utf16 => l,
                _ => {
                    let text = p.channel();
                    last.insert(LastChannel {
                        utf16: p.channel_utf16.to_vec(),
                        canonical: crate::event::canonical_channel(&text),
                        text: Arc::from(text),
                    })
                }
            };
            if !pre.wants_canonical(known.canonical, p.event_id) {
                let computer = match &last_computer {
                    Some((utf16, text)) if utf16 == p.computer_utf16 => text.clone(),
                    _ => {
                        let text: Arc<str> = Arc::from(p.computer());
                        last_computer = Some((p.computer_utf16.to_vec(), text.clone()));
                        text
                    }
                };
                return Ok(Item::Passed {
                    channel: known.text.clone(),
                    canonical: known.canonical,
                    event_id: p.event_id,
                    computer,
                    time: r.timestamp.as_microsecond(),
                });
            }
        }
        r.into_json_bytes().and_then(|rec| {
            let mut ev = to_event(&rec.data, &src)?;
            ev.record_id = Some(rec.event_record_id);
            ev.time = ev.time.or(Some(rec.timestamp.as_microsecond()));
            Ok(Item::Event(ev))
        })
    });
    for (i, item) in records.enumerate() {
        if i % 4096 == 0 && progress.cancelled() {
            report.problem("cancelled");
            break;
        }
        match item {
            Ok(Item::Event(ev)) => report.record(ev, sink, progress),
            Ok(Item::Passed {
                channel,
                canonical,
                event_id,
                computer,
                time,
            }) => {
                report.count(&channel, event_id, progress);
                report
                    .witnessed
                    .count(&computer, canonical, event_id, Some(time));
            }
            Err(e) => {
                report.skipped += 1;
                report.problem(one_line(&e.to_string()));
            }
        }
    }
    report
}

/// A channel and event id.
pub type ChannelId = (String, u32);

/// How the pre-render peek ([`super::peek`]) agrees with the rendered records of a file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PeekCheck {
    pub records: u64,
    /// Peeked and equal to the rendered channel and event id.
    pub agreed: u64,
    /// Not peeked (rendered instead).
    pub unpeeked: u64,
    /// Peeked and different: a bug. (record id, peeked, rendered) of the first few.
    pub disagreed: Vec<(u64, ChannelId, ChannelId)>,
    /// Records the direct JSON reading ([`super::evtx_json`]) left to the `Value` path.
    pub json_fallbacks: u64,
    /// Records it read differently from the `Value` path: a bug (record ids of the first few).
    pub json_disagreed: Vec<u64>,
    /// Peeked with a computer other than the rendered one: a bug (record ids of the first few).
    pub computer_disagreed: Vec<u64>,
}

/// Peek and render every record of an `.evtx` file and compare (for tests and the bench).
pub fn peek_check(path: &Path) -> PeekCheck {
    let mut out = PeekCheck::default();
    let Ok(parser) = EvtxParser::from_path(path) else {
        return out;
    };
    let mut parser = parser.with_configuration(settings(0));
    let src: Arc<str> = Arc::from("check");
    let items = parser.serialized_records(move |r| {
        let r = r?;
        let peeked =
            super::peek::channel_and_id(&r).map(|p| (p.channel(), p.event_id, p.computer()));
        let id = r.event_record_id;
        r.into_json_bytes().map(|rec| {
            let fast = super::evtx_json::read(&rec.data, &src);
            let ev = to_event(&rec.data, &src).unwrap_or_default();
            let slow = serde_json::from_slice::<serde_json::Value>(&rec.data)
                .ok()
                .map(|data| match data.get("Event") {
                    Some(e) => layout::from_evtx_dump(e, &src),
                    None => layout::from_evtx_dump(&data, &src),
                });
            let json = fast.map(|f| Some(f) == slow);
            (id, peeked, (ev.channel, ev.event_id), ev.computer, json)
        })
    });
    for (id, peeked, rendered, computer, json) in items.flatten() {
        out.records += 1;
        match json {
            None => out.json_fallbacks += 1,
            Some(false) if out.json_disagreed.len() < 5 => out.json_disagreed.push(id),
            _ => {}
        }
        if let Some((_, _, c)) = &peeked
            && *c != computer
            && out.computer_disagreed.len() < 5
        {
            out.computer_disagreed.push(id);
        }
        match peeked.map(|(c, i, _)| (c, i)) {
            None => out.unpeeked += 1,
            Some(p) if p == rendered => out.agreed += 1,
            Some(p) => {
                if out.disagreed.len() < 5 {
                    out.disagreed.push((id, p, rendered));
                }
            }
        }
    }
    out
}
