//! A writer of genuine `.evtx` files, written from the format's public description (libyal's
//! "Windows XML Event Log (EVTX) format").
//!
//! Layout: a 4096-byte file header, then 64 KiB chunks. Each chunk has a 512-byte header
//! (record numbers, the offset of its last record and of its free space, a CRC32 of its
//! records, a CRC32 of the header itself, a 64-bucket table of the names it holds) followed
//! by event records. A record is `**\0\0`, its size, its identifier, a FILETIME, its BinXML
//! and its size again. The BinXML here uses no templates: every element, attribute and value
//! is written inline, with element and attribute names stored once per chunk and referred to
//! by offset after that (the chunk's string table).
//!
//! Used by the fleet simulator, the tests and the benchmarks; every file it writes reads back
//! through the evtx crate with checksum validation on.

use std::collections::HashMap;
use std::io::{self, Seek, SeekFrom, Write};

const FILE_HEADER_SIZE: usize = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;
const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";

/// Microseconds between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
const FILETIME_EPOCH_OFFSET_US: i64 = 11_644_473_600_000_000;

/// FILETIME (100 ns ticks since 1601) of a time in microseconds since the Unix epoch.
pub fn filetime(micros: i64) -> u64 {
    ((micros + FILETIME_EPOCH_OFFSET_US).max(0) as u64) * 10
}

/// One event to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSpec {
    pub provider: String,
    pub provider_guid: String,
    pub event_id: u16,
    pub version: u8,
    pub level: u8,
    pub task: u16,
    pub opcode: u8,
    pub keywords: u64,
    /// Microseconds since the Unix epoch, UTC.
    pub time: i64,
    pub process_id: u32,
    pub thread_id: u32,
    pub channel: String,
    pub computer: String,
    /// `Security/@UserID`, omitted when empty.
    pub user_sid: String,
    /// `EventData/@Name` (TaskScheduler events carry one, e.g. `TaskRegisteredEvent`).
    pub data_name: String,
    /// `EventData/Data` elements: `Name` attribute and text.
    pub data: Vec<(String, String)>,
}

/// A BinXML value as written after a value token.
enum Val<'a> {
    Str(&'a str),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    HexU64(u64),
    FileTime(u64),
}

/// Writes an element's content; the `Vec` collects names first stored by this record.
type Content<'a> = dyn FnMut(&mut Chunk, &mut Vec<String>) + 'a;

/// Builds one chunk in memory.
struct Chunk {
    buf: Vec<u8>,
    /// Name -> chunk offset of its stored name structure.
    names: HashMap<String, u32>,
    /// Heads of the 64 hash chains of the name table.
    buckets: [u32; 64],
    first_id: u64,
    last_id: u64,
    last_record_offset: u32,
    records: u32,
}

impl Chunk {
    fn new() -> Self {
        let mut buf = Vec::with_capacity(CHUNK_SIZE);
        buf.resize(CHUNK_HEADER_SIZE, 0);
        Chunk {
            buf,
            names: HashMap::new(),
            buckets: [0; 64],
            first_id: 0,
            last_id: 0,
            last_record_offset: 0,
            records: 0,
        }
    }

    fn put_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn pos(&self) -> u32 {
        self.buf.len() as u32
    }

    /// A name reference: the offset of the name in this chunk, with the name structure
    /// written inline right after the reference the first time the chunk uses it.
    fn name(&mut self, name: &str, added: &mut Vec<String>) {
        if let Some(&off) = self.names.get(name) {
            self.put_u32(off);
            return;
        }
        let off = self.pos() + 4;
        self.put_u32(off);
        let units: Vec<u16> = name.encode_utf16().collect();
        let hash = units.iter().fold(0u32, |h, &c| {
            h.wrapping_mul(65599).wrapping_add(u32::from(c))
        });
        let bucket = (hash % 64) as usize;
        self.put_u32(self.buckets[bucket]);
        self.buckets[bucket] = off;
        self.put_u16(hash as u16);
        self.put_u16(units.len() as u16);
        for u in units {
            self.put_u16(u);
        }
        self.put_u16(0);
        self.names.insert(name.to_string(), off);
        added.push(name.to_string());
    }

    fn value(&mut self, v: &Val<'_>) {
        self.buf.push(0x05);
        match *v {
            Val::Str(s) => {
                self.buf.push(0x01);
                let units: Vec<u16> = s.encode_utf16().collect();
                self.put_u16(units.len() as u16);
                for u in units {
                    self.put_u16(u);
                }
            }
            Val::U8(x) => {
                self.buf.push(0x04);
                self.buf.push(x);
            }
            Val::U16(x) => {
                self.buf.push(0x06);
                self.put_u16(x);
            }
            Val::U32(x) => {
                self.buf.push(0x08);
                self.put_u32(x);
            }
            Val::U64(x) => {
                self.buf.push(0x0a);
                self.put_u64(x);
            }
            Val::HexU64(x) => {
                self.buf.push(0x15);
                self.put_u64(x);
            }
            Val::FileTime(x) => {
                self.buf.push(0x11);
                self.put_u64(x);
            }
        }
    }

    /// Write an element: start tag with attributes, then `content` (or an empty element when
    /// `content` is `None`). Element and attribute-list sizes are patched in afterwards.
    fn element(
        &mut self,
        name: &str,
        attrs: &[(&str, Val<'_>)],
        added: &mut Vec<String>,
        content: Option<&mut Content<'_>>,
    ) {
        self.buf.push(if attrs.is_empty() { 0x01 } else { 0x41 });
        let size_at = self.buf.len();
        self.put_u32(0);
        self.name(name, added);
        if !attrs.is_empty() {
            let list_at = self.buf.len();
            self.put_u32(0);
            for (i, (an, av)) in attrs.iter().enumerate() {
                self.buf.push(if i + 1 < attrs.len() { 0x46 } else { 0x06 });
                self.name(an, added);
                self.value(av);
            }
            let list_size = self.buf.len() - list_at - 4;
            self.patch_u32(list_at, list_size as u32);
        }
        match content {
            Some(f) => {
                self.buf.push(0x02);
                f(self, added);
                self.buf.push(0x04);
            }
            None => self.buf.push(0x03),
        }
        let size = self.buf.len() - size_at - 4;
        self.patch_u32(size_at, size as u32);
    }

    fn text_element(&mut self, name: &str, v: Val<'_>, added: &mut Vec<String>) {
        let mut f = |c: &mut Chunk, _: &mut Vec<String>| c.value(&v);
        self.element(name, &[], added, Some(&mut f));
    }

    /// Append one record; returns false (leaving the chunk as it was) when it does not fit.
    fn push_record(&mut self, id: u64, ev: &EventSpec) -> bool {
        let start = self.buf.len();
        let mut added = Vec::new();
        let buckets = self.buckets;
        self.buf.extend_from_slice(b"**\0\0");
        self.put_u32(0);
        self.put_u64(id);
        self.put_u64(filetime(ev.time));
        // Fragment header, then <Event xmlns=...>.
        self.buf.extend_from_slice(&[0x0f, 0x01, 0x01, 0x00]);
        let mut event_body = |c: &mut Chunk, added: &mut Vec<String>| {
            let mut system = |c: &mut Chunk, added: &mut Vec<String>| {
                let mut pattrs = vec![("Name", Val::Str(&ev.provider))];
                if !ev.provider_guid.is_empty() {
                    pattrs.push(("Guid", Val::Str(&ev.provider_guid)));
                }
                c.element("Provider", &pattrs, added, None);
                c.text_element("EventID", Val::U16(ev.event_id), added);
                c.text_element("Version", Val::U8(ev.version), added);
                c.text_element("Level", Val::U8(ev.level), added);
                c.text_element("Task", Val::U16(ev.task), added);
                c.text_element("Opcode", Val::U8(ev.opcode), added);
                c.text_element("Keywords", Val::HexU64(ev.keywords), added);
                c.element(
                    "TimeCreated",
                    &[("SystemTime", Val::FileTime(filetime(ev.time)))],
                    added,
                    None,
                );
                c.text_element("EventRecordID", Val::U64(id), added);
                c.element("Correlation", &[], added, None);
                c.element(
                    "Execution",
                    &[
                        ("ProcessID", Val::U32(ev.process_id)),
                        ("ThreadID", Val::U32(ev.thread_id)),
                    ],
                    added,
                    None,
                );
                c.text_element("Channel", Val::Str(&ev.channel), added);
                c.text_element("Computer", Val::Str(&ev.computer), added);
                if ev.user_sid.is_empty() {
                    c.element("Security", &[], added, None);
                } else {
                    c.element(
                        "Security",
                        &[("UserID", Val::Str(&ev.user_sid))],
                        added,
                        None,
                    );
                }
            };
            c.element("System", &[], added, Some(&mut system));
            let mut data = |c: &mut Chunk, added: &mut Vec<String>| {
                for (name, value) in &ev.data {
                    if value.is_empty() {
                        c.element("Data", &[("Name", Val::Str(name))], added, None);
                    } else {
                        let mut text =
                            |c: &mut Chunk, _: &mut Vec<String>| c.value(&Val::Str(value));
                        c.element("Data", &[("Name", Val::Str(name))], added, Some(&mut text));
                    }
                }
            };
            let dattrs: Vec<(&str, Val<'_>)> = if ev.data_name.is_empty() {
                Vec::new()
            } else {
                vec![("Name", Val::Str(&ev.data_name))]
            };
            c.element("EventData", &dattrs, added, Some(&mut data));
        };
        self.element(
            "Event",
            &[("xmlns", Val::Str(EVENT_NS))],
            &mut added,
            Some(&mut event_body),
        );
        self.buf.push(0x00); // end of stream
        let size = self.buf.len() - start + 4;
        self.put_u32(size as u32);
        self.patch_u32(start + 4, size as u32);
        if self.buf.len() > CHUNK_SIZE {
            self.buf.truncate(start);
            for n in added {
                self.names.remove(&n);
            }
            self.buckets = buckets;
            return false;
        }
        if self.records == 0 {
            self.first_id = id;
        }
        self.last_id = id;
        self.last_record_offset = start as u32;
        self.records += 1;
        true
    }

    /// The finished 64 KiB chunk with its header and checksums.
    fn finish(mut self) -> Vec<u8> {
        let free = self.buf.len() as u32;
        self.buf.resize(CHUNK_SIZE, 0);
        let mut h = [0u8; CHUNK_HEADER_SIZE];
        h[0..8].copy_from_slice(b"ElfChnk\0");
        h[8..16].copy_from_slice(&self.first_id.to_le_bytes());
        h[16..24].copy_from_slice(&self.last_id.to_le_bytes());
        h[24..32].copy_from_slice(&self.first_id.to_le_bytes());
        h[32..40].copy_from_slice(&self.last_id.to_le_bytes());
        h[40..44].copy_from_slice(&128u32.to_le_bytes());
        h[44..48].copy_from_slice(&self.last_record_offset.to_le_bytes());
        h[48..52].copy_from_slice(&free.to_le_bytes());
        let records_crc = crc32fast::hash(&self.buf[CHUNK_HEADER_SIZE..free as usize]);
        h[52..56].copy_from_slice(&records_crc.to_le_bytes());
        for (i, b) in self.buckets.iter().enumerate() {
            h[128 + i * 4..132 + i * 4].copy_from_slice(&b.to_le_bytes());
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&h[0..120]);
        hasher.update(&h[128..512]);
        h[124..128].copy_from_slice(&hasher.finalize().to_le_bytes());
        self.buf[..CHUNK_HEADER_SIZE].copy_from_slice(&h);
        self.buf
    }
}

/// Writes events into an `.evtx` file: records are numbered from 1 in the order written.
pub struct EvtxWriter<W: Write + Seek> {
    out: W,
    chunk: Chunk,
    chunks: u64,
    next_id: u64,
}

impl<W: Write + Seek> EvtxWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&[0u8; FILE_HEADER_SIZE])?;
        Ok(EvtxWriter {
            out,
            chunk: Chunk::new(),
            chunks: 0,
            next_id: 1,
        })
    }

    /// Append an event; returns its record identifier.
    pub fn write(&mut self, ev: &EventSpec) -> io::Result<u64> {
        let id = self.next_id;
        if !self.chunk.push_record(id, ev) {
            if self.chunk.records == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "event too large for one 64 KiB chunk",
                ));
            }
            self.flush_chunk()?;
            if !self.chunk.push_record(id, ev) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "event too large for one 64 KiB chunk",
                ));
            }
        }
        self.next_id += 1;
        Ok(id)
    }

    fn flush_chunk(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.chunk, Chunk::new());
        self.out.write_all(&chunk.finish())?;
        self.chunks += 1;
        Ok(())
    }

    /// Write the last chunk and the file header; returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        if self.chunk.records > 0 {
            self.flush_chunk()?;
        }
        let mut h = [0u8; 128];
        h[0..8].copy_from_slice(b"ElfFile\0");
        h[8..16].copy_from_slice(&0u64.to_le_bytes());
        h[16..24].copy_from_slice(&self.chunks.saturating_sub(1).to_le_bytes());
        h[24..32].copy_from_slice(&self.next_id.to_le_bytes());
        h[32..36].copy_from_slice(&128u32.to_le_bytes());
        h[36..38].copy_from_slice(&1u16.to_le_bytes());
        h[38..40].copy_from_slice(&3u16.to_le_bytes());
        h[40..42].copy_from_slice(&(FILE_HEADER_SIZE as u16).to_le_bytes());
        h[42..44].copy_from_slice(&(self.chunks.min(u64::from(u16::MAX)) as u16).to_le_bytes());
        // 44..120 unknown, 120 flags (0: clean)
        let crc = crc32fast::hash(&h[0..120]);
        h[124..128].copy_from_slice(&crc.to_le_bytes());
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&h)?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Write `events` to a new file at `path`.
pub fn write_file(path: &std::path::Path, events: &[EventSpec]) -> io::Result<()> {
    let f = io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = EvtxWriter::new(f)?;
    for e in events {
        w.write(e)?;
    }
    w.finish()?;
    Ok(())
}
