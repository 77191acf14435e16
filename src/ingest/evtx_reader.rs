//! `.evtx` through the evtx crate. Bad chunks and records arrive as `Err` items: they are
//! counted and reading goes on.

use std::path::Path;
use std::sync::Arc;

use evtx::{EvtxChunkData, EvtxParser, EvtxRecord, EvtxRecordHeader, ParserSettings};

use super::{FileReport, Prefilter, Reading, Sink, layout};
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

/// What one chunk's records are decoded with: the channel and computer last decoded.
#[derive(Clone, Default)]
struct Decoded {
    channel: Option<LastChannel>,
    computer: Option<(Vec<u8>, Arc<str>)>,
}

impl Decoded {
    /// The channel's text and canonical name.
    fn channel(&mut self, p: &super::peek::Peeked<'_>) -> (Arc<str>, &'static str) {
        let known = match &self.channel {
            Some(l) if l.utf16 == p.channel_utf16 => l,
            _ => {
                let text = p.channel();
                self.channel.insert(LastChannel {
                    utf16: p.channel_utf16.to_vec(),
                    canonical: crate::event::canonical_channel(&text),
                    text: Arc::from(text),
                })
            }
        };
        (known.text.clone(), known.canonical)
    }

    fn computer(&mut self, p: &super::peek::Peeked<'_>) -> Arc<str> {
        match &self.computer {
            Some((utf16, text)) if utf16 == p.computer_utf16 => text.clone(),
            _ => {
                let text: Arc<str> = Arc::from(p.computer());
                self.computer = Some((p.computer_utf16.to_vec(), text.clone()));
                text
            }
        }
    }

    /// The record as a passed item when the peek reads it and no profile wants it.
    fn passed(
        &mut self,
        p: &super::peek::Peeked<'_>,
        pre: &Prefilter,
        time: &evtx::Timestamp,
    ) -> Option<Item> {
        let (channel, canonical) = self.channel(p);
        if pre.wants_canonical(canonical, p.event_id)
            && pre
                .gate(canonical, p.event_id)
                .is_none_or(|test| p.may_hold(test))
        {
            return None;
        }
        Some(Item::Passed {
            channel,
            canonical,
            event_id: p.event_id,
            computer: self.computer(p),
            time: time.as_microsecond(),
        })
    }
}

/// Where a chunk's records start (after its 512-byte header).
const CHUNK_HEADER: usize = 512;
/// A record's header: magic, size, record id, FILETIME.
const RECORD_HEADER: usize = 24;

/// Every record of a chunk as passed items, read from their headers and a peek of their
/// BinXML alone, when no profile wants any of them; `None` as soon as one is wanted or
/// anything is not as expected (the chunk is then parsed and its records rendered by the
/// crate, which reports what is wrong). Building a record's content is most of what reading
/// costs, and on a real host most chunks of the large logs (Security, System, Sysmon) hold
/// nothing a profile reads: those are never built. The walk is the crate's: live records
/// from the chunk header to the free space, ending at the chunk's last record id.
fn skim(data: &EvtxChunkData, pre: &Prefilter, dec: &mut Decoded) -> Option<Vec<Item>> {
    let bytes = data.data.as_slice();
    let live_end = (data.header.free_space_offset as usize).min(bytes.len());
    let mut items = Vec::new();
    let mut at = CHUNK_HEADER;
    while at < live_end {
        let header = EvtxRecordHeader::from_bytes_at(bytes, at).ok()?;
        let size = header.record_data_size().ok()? as usize;
        let start = at.checked_add(RECORD_HEADER)?;
        let end = start.checked_add(size)?;
        if end > bytes.len() {
            return None;
        }
        let p = super::peek::peek(bytes, start, end)?;
        items.push(dec.passed(&p, pre, &header.timestamp)?);
        if header.event_record_id == data.header.last_event_record_id {
            break;
        }
        at = at.checked_add(header.data_size as usize)?;
    }
    Some(items)
}

/// One chunk's items, in record order: skimmed ([`skim`]) or parsed and rendered.
fn chunk_items(
    data: evtx::err::Result<EvtxChunkData>,
    settings: &Arc<ParserSettings>,
    pre: &Prefilter,
    src: &Arc<str>,
) -> Vec<Result<Item, String>> {
    if let Ok(d) = &data
        && let Some(items) = skim(d, pre, &mut Decoded::default())
    {
        return items.into_iter().map(Ok).collect();
    }
    parsed_items(data, settings, pre, src)
}

/// One chunk's items, parsed by the crate: each record passed or rendered ([`render`]).
fn parsed_items(
    data: evtx::err::Result<EvtxChunkData>,
    settings: &Arc<ParserSettings>,
    pre: &Prefilter,
    src: &Arc<str>,
) -> Vec<Result<Item, String>> {
    let mut data = match data {
        Ok(d) => d,
        Err(e) => return vec![Err(e.to_string())],
    };
    let number = data.number;
    let mut chunk = match data.parse(settings.clone()) {
        Ok(c) => c,
        Err(e) => {
            let at = number.map_or(String::new(), |n| format!("chunk {n}: "));
            return vec![Err(format!("{at}{e}"))];
        }
    };
    let mut dec = Decoded::default();
    chunk
        .iter()
        .filter_map(|record| {
            let recovered = record.as_ref().is_ok_and(|r| r.recovered);
            let out = record.and_then(|r| render(r, pre, src, &mut dec));
            // Carved hits that fail to render are noise, as the crate treats them.
            (!recovered || out.is_ok()).then(|| out.map_err(|e| e.to_string()))
        })
        .collect()
}

/// A record of a parsed chunk: passed when the peek reads it and no profile wants it,
/// rendered otherwise.
fn render(
    r: EvtxRecord<'_>,
    pre: &Prefilter,
    src: &Arc<str>,
    dec: &mut Decoded,
) -> evtx::err::Result<Item> {
    if let Some(p) = super::peek::channel_and_id(&r)
        && let Some(item) = dec.passed(&p, pre, &r.timestamp)
    {
        return Ok(item);
    }
    r.into_json_bytes().and_then(|rec| {
        let mut ev = to_event(&rec.data, src)?;
        ev.record_id = Some(rec.event_record_id);
        ev.time = ev.time.or(Some(rec.timestamp.as_microsecond()));
        Ok(Item::Event(ev))
    })
}

/// Chunks read ahead and handed to the workers at once (per worker).
const CHUNKS_PER_WORKER: usize = 4;

/// Chunks of a file's head that decide how it is read ([`drain`]).
const PROBE: usize = 8;

/// A file's first [`PROBE`] chunks decide how it is read. When at least half of them are
/// skimmed ([`skim`]: a default host's large logs), chunk by chunk, skimming whole chunks,
/// the head's skims kept. A log where most chunks hold a record a profile wants (a Security
/// log with process auditing on) is read by the crate's own pipeline instead, which keeps
/// what it compiled of one chunk's templates for the next. Both give the same items
/// (`peek_agrees_with_rendering`).
fn drain<T: std::io::Read + std::io::Seek>(
    mut parser: EvtxParser<T>,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let src: Arc<str> = Arc::from(name.as_str());
    let mut out = Out {
        rd,
        report: FileReport::new(name, "evtx"),
        sink,
        seen: 0,
    };
    let threads = rd.evtx_threads.max(1);
    let settings = Arc::new(settings(threads));
    let pre = rd.prefilter;
    let mut chunks = parser.chunks();
    let head: Vec<_> = chunks
        .by_ref()
        .take(PROBE)
        .map(|d| {
            let items = d
                .as_ref()
                .ok()
                .and_then(|d| skim(d, pre, &mut Decoded::default()));
            (d, items)
        })
        .collect();
    let skimmed = head.iter().filter(|(_, items)| items.is_some()).count();
    if head.is_empty() || skimmed * 2 < head.len() {
        drain_rendering(&mut parser, &src, &mut out);
        return out.report;
    }
    let head = head.into_iter().flat_map(|(d, items)| match items {
        Some(items) => items.into_iter().map(Ok).collect(),
        None => parsed_items(d, &settings, pre, &src),
    });
    if out.take(head) {
        drain_skimming(chunks, threads, &settings, &src, &mut out);
    }
    out.report
}

/// Read the rest chunk by chunk: skimmed where no record is wanted, parsed and rendered
/// elsewhere; on the rayon pool when this file has more than one thread, inline otherwise.
/// Chunks are read here (serial I/O); items come back in record order.
fn drain_skimming(
    mut chunks: impl Iterator<Item = evtx::err::Result<EvtxChunkData>>,
    threads: usize,
    settings: &Arc<ParserSettings>,
    src: &Arc<str>,
    out: &mut Out<'_, '_>,
) {
    let pre = out.rd.prefilter;
    let ahead = if threads > 1 {
        CHUNKS_PER_WORKER * threads
    } else {
        1
    };
    loop {
        let batch: Vec<_> = chunks.by_ref().take(ahead).collect();
        if batch.is_empty() {
            return;
        }
        let items: Vec<Vec<Result<Item, String>>> = if threads > 1 {
            use rayon::prelude::*;
            batch
                .into_par_iter()
                .map(|d| chunk_items(d, settings, pre, src))
                .collect()
        } else {
            batch
                .into_iter()
                .map(|d| chunk_items(d, settings, pre, src))
                .collect()
        };
        if !out.take(items.into_iter().flatten()) {
            return;
        }
    }
}

/// Read through the crate's pipeline (parallel over chunks when the parser has threads):
/// every record built, those no profile wants passed after a peek.
fn drain_rendering<T: std::io::Read + std::io::Seek>(
    parser: &mut EvtxParser<T>,
    src: &Arc<str>,
    out: &mut Out<'_, '_>,
) {
    let pre = out.rd.prefilter.clone();
    let from = src.clone();
    let mut dec = Decoded::default();
    let items = parser
        .serialized_records(move |r| r.and_then(|r| render(r, &pre, &from, &mut dec)))
        .map(|i| i.map_err(|e| e.to_string()));
    out.take(items);
}

/// Where a file's items go: its report and the sink, with the items seen so far (for the
/// cancel check every 4096).
struct Out<'r, 'a> {
    rd: &'r Reading<'a>,
    report: FileReport,
    sink: &'r mut dyn Sink,
    seen: usize,
}

impl Out<'_, '_> {
    /// Count or keep each item; `false` when reading was cancelled.
    fn take(&mut self, items: impl Iterator<Item = Result<Item, String>>) -> bool {
        let progress = self.rd.progress;
        let report = &mut self.report;
        for item in items {
            if self.seen.is_multiple_of(4096) && progress.cancelled() {
                report.problem("cancelled");
                return false;
            }
            self.seen += 1;
            match item {
                Ok(Item::Event(ev)) => report.record(ev, self.sink, progress),
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
                    report.problem(one_line(&e));
                }
            }
        }
        true
    }
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
    /// Chunks read, and those [`skim`] reads whole (when no profile wants a record).
    pub chunks: u64,
    pub skimmed: u64,
    /// Chunks whose skimmed records differ from the rendered ones (channel, event id,
    /// computer, time, in order): a bug (chunk numbers of the first few).
    pub skim_disagreed: Vec<u64>,
    /// Records of a gated source ([`crate::profile::Profile::gates`]), and those the gate
    /// refused before rendering.
    pub gated: u64,
    pub gate_refused: u64,
    /// Refused by the gate yet wanted by the profile once rendered: a bug (record ids of the
    /// first few).
    pub gate_missed: Vec<u64>,
}

/// Peek and render every record of an `.evtx` file and compare (for tests and the bench);
/// `profile`'s gates are checked against what it wants of the rendered records.
pub fn peek_check(path: &Path, profile: &'static dyn crate::profile::Profile) -> PeekCheck {
    let mut out = PeekCheck::default();
    let Ok(parser) = EvtxParser::from_path(path) else {
        return out;
    };
    let mut parser = parser.with_configuration(settings(0));
    skim_check(&mut parser, &mut out);
    let src: Arc<str> = Arc::from("check");
    let pre = Prefilter::of(profile);
    let items = parser.serialized_records(move |r| {
        let r = r?;
        let p = super::peek::channel_and_id(&r);
        let peeked = p.map(|p| (p.channel(), p.event_id, p.computer()));
        // Whether a gate applies, and whether it lets the record through.
        let gate = p.zip(peeked.as_ref()).and_then(|(p, (channel, ..))| {
            let test = pre.gate(crate::event::canonical_channel(channel), p.event_id)?;
            Some(p.may_hold(test))
        });
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
            let gate = gate.map(|through| (through, profile.wants(&ev)));
            (
                id,
                peeked,
                (ev.channel, ev.event_id),
                ev.computer,
                json,
                gate,
            )
        })
    });
    for (id, peeked, rendered, computer, json, gate) in items.flatten() {
        out.records += 1;
        if let Some((through, wanted)) = gate {
            out.gated += 1;
            if !through {
                out.gate_refused += 1;
                if wanted && out.gate_missed.len() < 5 {
                    out.gate_missed.push(id);
                }
            }
        }
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

/// Skim every chunk of `parser` as if no profile wanted a record, and compare with the
/// crate's rendering of the same chunk.
fn skim_check<T: std::io::Read + std::io::Seek>(parser: &mut EvtxParser<T>, out: &mut PeekCheck) {
    let nothing = Prefilter::new(&[]);
    let settings = Arc::new(settings(1));
    let src: Arc<str> = Arc::from("check");
    type Seen = (String, u32, String, i64);
    for (n, data) in parser.chunks().enumerate() {
        let Ok(mut data) = data else {
            continue;
        };
        out.chunks += 1;
        let Some(items) = skim(&data, &nothing, &mut Decoded::default()) else {
            continue;
        };
        out.skimmed += 1;
        let skimmed: Vec<Seen> = items
            .into_iter()
            .filter_map(|i| match i {
                Item::Passed {
                    channel,
                    event_id,
                    computer,
                    time,
                    ..
                } => Some((channel.to_string(), event_id, computer.to_string(), time)),
                Item::Event(_) => None,
            })
            .collect();
        let rendered: Vec<Seen> = match data.parse(settings.clone()) {
            Ok(mut chunk) => chunk
                .iter()
                .filter_map(|r| {
                    let r = r.ok()?;
                    let time = r.timestamp.as_microsecond();
                    let rec = r.into_json_bytes().ok()?;
                    let ev = to_event(&rec.data, &src).ok()?;
                    Some((ev.channel, ev.event_id, ev.computer, time))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if skimmed != rendered && out.skim_disagreed.len() < 5 {
            out.skim_disagreed.push(n as u64);
        }
    }
}
