//! A reader of Windows registry hive files (regf), offline and bounded: only the cells a
//! lookup needs are read, from the file at their offsets (never the whole hive into
//! memory), and every offset, size, count and depth is checked. A hive's transaction logs
//! (`.LOG1`, `.LOG2`, the format of Windows 8.1 and later) are applied where the hive is
//! dirty. Layout after Maxim Suhanov's "Windows registry file format specification" and
//! libyal's regf notes; the code is ours.
//!
//! Why not a crate: `notatin` (Apache-2.0) reads the whole file into memory (a 100 MB hive
//! costs 100 MB before a key is read) and `nt-hive` is GPL; the TaskCache needs a few hundred
//! keys of a hive that may be hundreds of megabytes.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The base block's size; hive bins follow it, and every cell offset counts from there.
const BASE: u64 = 4096;
/// A page of the hive (the unit a transaction log replaces).
const PAGE: u64 = 4096;
/// The largest cell read (a key's list of 100 000 subkeys takes 800 KB).
const MAX_CELL: usize = 4 << 20;
/// The largest value data read; a value claiming more is refused.
pub const MAX_VALUE: usize = 4 << 20;
/// Subkeys or values of one key at most.
const MAX_ITEMS: usize = 1 << 20;
/// Cells read from one hive at most: bounds the time a hostile hive can take.
const MAX_CELL_READS: u64 = 20_000_000;
/// Dirty data a transaction log may bring at most.
const MAX_DIRTY: u64 = 256 << 20;
/// The two strings a hive's file name field often holds tell its kind (`\SystemRoot\
/// System32\Config\SOFTWARE`).
const NAME_FIELD: std::ops::Range<usize> = 48..112;

/// Random-access bytes: a file on disk or a buffer.
pub trait ReadAt {
    fn size(&self) -> u64;
    /// Fill `buf` from `offset`; an error when the source is shorter.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
        {
            Some(s) => {
                buf.copy_from_slice(s);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.as_slice().read_at(offset, buf)
    }
}

/// A file of at most this many bytes is read whole when opened and served from memory: a
/// hive's cells are read one at a time (thousands of reads for a small hive, each a system
/// call), and the hives of collections are mostly small. Larger ones are read at offsets,
/// so that memory does not follow a hive's size.
pub const HELD_BYTES: u64 = 16 << 20;

/// A file read at offsets (its length taken once, when opened); a small one from memory.
pub struct FileAt {
    file: std::fs::File,
    len: u64,
    held: Option<Vec<u8>>,
}

impl FileAt {
    pub fn open(path: &std::path::Path) -> std::io::Result<FileAt> {
        FileAt::new(std::fs::File::open(path)?)
    }

    pub fn new(file: std::fs::File) -> std::io::Result<FileAt> {
        let len = file.metadata()?.len();
        let mut at = FileAt {
            file,
            len,
            held: None,
        };
        if len <= HELD_BYTES {
            let mut whole = vec![0u8; len as usize];
            // A file that shrank since its length was taken is read at offsets, and fails
            // there where it is short.
            if at.read_file_at(0, &mut whole).is_ok() {
                at.held = Some(whole);
            }
        }
        Ok(at)
    }

    /// Whether the file is served from memory.
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }
}

impl ReadAt for FileAt {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match &self.held {
            Some(whole) => whole.read_at(offset, buf),
            None => self.read_file_at(offset, buf),
        }
    }
}

impl FileAt {
    #[cfg(unix)]
    fn read_file_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }
    #[cfg(windows)]
    fn read_file_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                &self.file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// Why a hive (or a part of it) could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiveError {
    /// Not a primary hive file (no `regf` base block, or a transaction log).
    NotAHive(String),
    /// A structure that cannot be: where (the offset in the file) and what.
    Corrupt { at: u64, what: String },
    /// The file could not be read.
    Io(String),
    /// More cells than [`MAX_CELL_READS`] were asked for.
    Budget,
}

impl fmt::Display for HiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveError::NotAHive(why) => write!(f, "not a registry hive: {why}"),
            HiveError::Corrupt { at, what } => write!(f, "at byte {at}: {what}"),
            HiveError::Io(e) => write!(f, "cannot read: {e}"),
            HiveError::Budget => write!(
                f,
                "more than {MAX_CELL_READS} cells asked for: the rest not read"
            ),
        }
    }
}

impl std::error::Error for HiveError {}

fn corrupt(at: u64, what: impl Into<String>) -> HiveError {
    HiveError::Corrupt {
        at,
        what: what.into(),
    }
}

/// What a base block says.
#[derive(Debug, Clone)]
struct BaseBlock {
    primary_seq: u32,
    secondary_seq: u32,
    root: u32,
    bins: u64,
    /// 0: a primary file; 1, 2: an old-format log; 6: a new-format log.
    file_type: u32,
    checksum_ok: bool,
    /// The file name field (the end of the hive's path on the system that wrote it).
    name: String,
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .unwrap_or(0)
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}

/// The base block's checksum: the XOR of its first 127 double words (0 and -1 avoided).
pub fn checksum(block: &[u8]) -> u32 {
    let x = (0..127).fold(0u32, |acc, i| acc ^ le32(block, i * 4));
    match x {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        x => x,
    }
}

fn utf16_field(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

fn base_block(src: &dyn ReadAt) -> Result<BaseBlock, HiveError> {
    let mut b = [0u8; 512];
    src.read_at(0, &mut b).map_err(|_| {
        HiveError::NotAHive(format!("{} bytes, shorter than a base block", src.size()))
    })?;
    if &b[..4] != b"regf" {
        return Err(HiveError::NotAHive("no `regf` signature".into()));
    }
    Ok(BaseBlock {
        primary_seq: le32(&b, 4),
        secondary_seq: le32(&b, 8),
        root: le32(&b, 36),
        bins: u64::from(le32(&b, 40)),
        file_type: le32(&b, 28),
        checksum_ok: checksum(&b) == le32(&b, 508),
        name: utf16_field(&b[NAME_FIELD]),
    })
}

/// Whether the first bytes of a file are a hive's or a transaction log's base block.
pub fn is_regf(head: &[u8]) -> bool {
    head.starts_with(b"regf")
}

/// A key as its key node (`nk`) cell holds it.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key node's offset (from the first hive bin).
    pub offset: u32,
    pub name: String,
    /// Last written, microseconds since 1970.
    pub written: Option<i64>,
    subkeys: u32,
    subkey_list: u32,
    values: u32,
    value_list: u32,
}

impl Key {
    pub fn subkey_count(&self) -> u32 {
        self.subkeys
    }
}

/// A value as its `vk` cell holds it (the data read on demand: [`Hive::data`]).
#[derive(Debug, Clone)]
pub struct Value {
    /// Empty for the key's default value.
    pub name: String,
    /// `REG_SZ` 1, `REG_EXPAND_SZ` 2, `REG_BINARY` 3, `REG_DWORD` 4, ...
    pub kind: u32,
    size: u32,
    data: u32,
    at: u32,
}

impl Value {
    /// The size the value claims (its data may be refused: [`MAX_VALUE`]).
    pub fn size(&self) -> u32 {
        self.size & 0x7fff_ffff
    }
}

/// An open hive: its base block, its source, and the pages its logs replaced.
pub struct Hive<'a> {
    src: &'a dyn ReadAt,
    base: BaseBlock,
    bins: u64,
    dirty: BTreeMap<u64, Vec<u8>>,
    reads: std::cell::Cell<u64>,
    /// What was noticed while opening: a bad checksum, logs applied or not.
    pub notes: Vec<String>,
}

impl<'a> Hive<'a> {
    /// Open a primary hive file, applying `logs` (its `.LOG1`, `.LOG2`) where it is dirty.
    pub fn open(src: &'a dyn ReadAt, logs: &[&dyn ReadAt]) -> Result<Hive<'a>, HiveError> {
        let base = base_block(src)?;
        if base.file_type != 0 {
            return Err(HiveError::NotAHive(format!(
                "a transaction log (file type {}): read with its hive",
                base.file_type
            )));
        }
        let mut notes = Vec::new();
        if !base.checksum_ok {
            notes.push("the base block's checksum does not match: read as it is".into());
        }
        let mut bins = base.bins;
        let held = src.size().saturating_sub(BASE);
        if bins > held {
            notes.push(format!(
                "truncated: the hive bins claim {bins} bytes, the file holds {held}"
            ));
        }
        let mut hive = Hive {
            src,
            base: base.clone(),
            bins: 0,
            dirty: BTreeMap::new(),
            reads: std::cell::Cell::new(0),
            notes,
        };
        if base.primary_seq != base.secondary_seq {
            if logs.is_empty() {
                hive.notes.push(
                    "the hive is dirty (not flushed) and no transaction log came with it: \
                     recent changes may be missing"
                        .into(),
                );
            } else {
                match hive.apply_logs(logs) {
                    Ok((n, grown)) => {
                        hive.notes
                            .push(format!("{n} transaction log entries applied"));
                        bins = bins.max(grown);
                    }
                    Err(e) => hive
                        .notes
                        .push(format!("transaction logs not applied: {e}")),
                }
            }
        }
        hive.bins = bins;
        Ok(hive)
    }

    /// The file name field of the base block (`\SystemRoot\System32\Config\SOFTWARE`), as
    /// the system that wrote the hive set it.
    pub fn file_name(&self) -> &str {
        &self.base.name
    }

    /// New-format log entries (`HvLE`) from every log, applied in sequence from the
    /// hive's secondary sequence number. Returns the entries applied and the hive bins'
    /// size they give.
    fn apply_logs(&mut self, logs: &[&dyn ReadAt]) -> Result<(usize, u64), HiveError> {
        // (sequence, log, offset of the entry)
        let mut entries: Vec<(u32, usize, u64, u32)> = Vec::new();
        for (li, log) in logs.iter().enumerate() {
            let Ok(b) = base_block(*log) else { continue };
            if b.file_type != 6 {
                self.notes.push(format!(
                    "a transaction log of the old format (file type {}): not applied",
                    b.file_type
                ));
                continue;
            }
            let mut at = 512u64;
            while at + 40 <= log.size() && entries.len() < 1_000_000 {
                let mut h = [0u8; 40];
                if log.read_at(at, &mut h).is_err() || &h[..4] != b"HvLE" {
                    break;
                }
                let size = u64::from(le32(&h, 4));
                if size < 40 || size % 512 != 0 || at + size > log.size() {
                    break;
                }
                entries.push((le32(&h, 12), li, at, le32(&h, 16)));
                at += size;
            }
        }
        entries.sort_by_key(|e| (e.0, e.1));
        let mut next = self.base.secondary_seq;
        let mut applied = 0;
        let mut grown = 0;
        let mut total = 0u64;
        for (seq, li, at, bins) in entries {
            if seq < next {
                continue;
            }
            if seq != next && applied > 0 {
                break;
            }
            let log = logs[li];
            let mut h = [0u8; 40];
            log.read_at(at, &mut h)
                .map_err(|e| HiveError::Io(e.to_string()))?;
            let count = le32(&h, 20) as u64;
            let mut refs = vec![
                0u8;
                usize::try_from(count * 8)
                    .unwrap_or(usize::MAX)
                    .min(1 << 24)
            ];
            if refs.len() as u64 != count * 8 || log.read_at(at + 40, &mut refs).is_err() {
                return Err(corrupt(at, "a log entry's page list runs past the log"));
            }
            let mut data_at = at + 40 + count * 8;
            for r in refs.chunks_exact(8) {
                let (off, size) = (u64::from(le32(r, 0)), u64::from(le32(r, 4)));
                total += size;
                if size % PAGE != 0 || off % PAGE != 0 || total > MAX_DIRTY {
                    return Err(corrupt(data_at, "a dirty page of an impossible size"));
                }
                for p in 0..size / PAGE {
                    let mut page = vec![0u8; PAGE as usize];
                    log.read_at(data_at + p * PAGE, &mut page)
                        .map_err(|_| corrupt(data_at, "a dirty page runs past the log"))?;
                    self.dirty.insert(off + p * PAGE, page);
                }
                data_at += size;
            }
            grown = grown.max(u64::from(bins));
            applied += 1;
            next = seq.wrapping_add(1);
        }
        Ok((applied, grown))
    }

    /// Read `buf.len()` bytes at `offset` from the first hive bin, with the logs' pages.
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), HiveError> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.bins)
            .ok_or_else(|| {
                corrupt(
                    BASE + offset,
                    format!("{} bytes past the hive bins' end", buf.len()),
                )
            })?;
        let mut at = offset;
        while at < end {
            let page = at - at % PAGE;
            let upto = (page + PAGE).min(end);
            let dst = &mut buf[(at - offset) as usize..(upto - offset) as usize];
            match self.dirty.get(&page) {
                Some(p) => dst.copy_from_slice(&p[(at - page) as usize..(upto - page) as usize]),
                None => self.src.read_at(BASE + at, dst).map_err(|_| {
                    corrupt(
                        BASE + at,
                        "the file ends before the hive bins do (truncated)",
                    )
                })?,
            }
            at = upto;
        }
        Ok(())
    }

    /// An allocated cell's data.
    fn cell(&self, offset: u32) -> Result<Vec<u8>, HiveError> {
        let n = self.reads.get() + 1;
        if n > MAX_CELL_READS {
            return Err(HiveError::Budget);
        }
        self.reads.set(n);
        let off = u64::from(offset);
        if offset == u32::MAX || off % 8 != 0 {
            return Err(corrupt(BASE + off, "a cell offset that is not one"));
        }
        let mut s = [0u8; 4];
        self.read(off, &mut s)?;
        let size = i32::from_le_bytes(s);
        if size >= 0 {
            return Err(corrupt(BASE + off, "a reference to a free cell"));
        }
        let size = size.unsigned_abs() as usize;
        if !(8..=MAX_CELL).contains(&size) {
            return Err(corrupt(BASE + off, format!("a cell of {size} bytes")));
        }
        let mut data = vec![0u8; size - 4];
        self.read(off + 4, &mut data)?;
        Ok(data)
    }

    /// The root key.
    pub fn root(&self) -> Result<Key, HiveError> {
        self.key(self.base.root)
    }

    /// The key whose node is at `offset`.
    pub fn key(&self, offset: u32) -> Result<Key, HiveError> {
        let c = self.cell(offset)?;
        let at = BASE + u64::from(offset);
        if c.len() < 76 || &c[..2] != b"nk" {
            return Err(corrupt(at, "not a key node"));
        }
        let flags = le16(&c, 2);
        let len = le16(&c, 72) as usize;
        let raw = c
            .get(76..76 + len)
            .ok_or_else(|| corrupt(at, "a key name past its cell"))?;
        Ok(Key {
            offset,
            name: name_of(raw, flags & 0x20 != 0),
            written: super::taskcache::filetime(le64(&c, 4)),
            subkeys: le32(&c, 20),
            subkey_list: le32(&c, 28),
            values: le32(&c, 36),
            value_list: le32(&c, 40),
        })
    }

    /// The offsets of a key's subkeys (index leaves, fast and hash leaves, one level of
    /// index root), at most the count the key claims.
    pub fn subkeys(&self, key: &Key) -> Result<Vec<u32>, HiveError> {
        let want = key.subkeys as usize;
        if want == 0 {
            return Ok(Vec::new());
        }
        if want > MAX_ITEMS {
            return Err(corrupt(
                BASE + u64::from(key.offset),
                format!("a key claiming {want} subkeys"),
            ));
        }
        let mut out = Vec::with_capacity(want);
        self.list(key.subkey_list, true, want, &mut out)?;
        Ok(out)
    }

    fn list(
        &self,
        offset: u32,
        root_ok: bool,
        want: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), HiveError> {
        let c = self.cell(offset)?;
        let at = BASE + u64::from(offset);
        let sig = c.get(..2).unwrap_or_default();
        let count = le16(&c, 2) as usize;
        let step = match sig {
            b"lf" | b"lh" => 8,
            b"li" | b"ri" => 4,
            _ => return Err(corrupt(at, "not a subkey list")),
        };
        if 4 + count * step > c.len() {
            return Err(corrupt(at, "a subkey list longer than its cell"));
        }
        for i in 0..count {
            if out.len() >= want {
                break;
            }
            let o = le32(&c, 4 + i * step);
            if sig == b"ri" {
                if !root_ok {
                    return Err(corrupt(at, "an index root inside an index root"));
                }
                self.list(o, false, want, out)?;
            } else {
                out.push(o);
            }
        }
        Ok(())
    }

    /// The subkey of `key` named `name` (case-insensitive, as the registry compares).
    pub fn subkey(&self, key: &Key, name: &str) -> Result<Option<Key>, HiveError> {
        for o in self.subkeys(key)? {
            let k = self.key(o)?;
            if k.name.eq_ignore_ascii_case(name) || k.name.to_lowercase() == name.to_lowercase() {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// The key at a `\`-separated path below the root.
    pub fn path(&self, path: &str) -> Result<Option<Key>, HiveError> {
        let mut k = self.root()?;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match self.subkey(&k, part)? {
                Some(s) => k = s,
                None => return Ok(None),
            }
        }
        Ok(Some(k))
    }

    /// A key's values (names and kinds; the data read by [`Hive::data`]).
    pub fn values(&self, key: &Key) -> Result<Vec<Value>, HiveError> {
        let n = key.values as usize;
        if n == 0 {
            return Ok(Vec::new());
        }
        let at = BASE + u64::from(key.value_list);
        if n > MAX_ITEMS {
            return Err(corrupt(at, format!("a key claiming {n} values")));
        }
        let list = self.cell(key.value_list)?;
        if n * 4 > list.len() {
            return Err(corrupt(at, "a value list longer than its cell"));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let o = le32(&list, i * 4);
            let c = self.cell(o)?;
            let vat = BASE + u64::from(o);
            if c.len() < 20 || &c[..2] != b"vk" {
                return Err(corrupt(vat, "not a value"));
            }
            let len = le16(&c, 2) as usize;
            let raw = c
                .get(20..20 + len)
                .ok_or_else(|| corrupt(vat, "a value name past its cell"))?;
            out.push(Value {
                name: name_of(raw, le16(&c, 16) & 1 != 0),
                kind: le32(&c, 12),
                size: le32(&c, 4),
                data: le32(&c, 8),
                at: o,
            });
        }
        Ok(out)
    }

    /// The value of `key` named `name` (case-insensitive) and its data.
    pub fn value(&self, key: &Key, name: &str) -> Result<Option<(Value, Vec<u8>)>, HiveError> {
        for v in self.values(key)? {
            if v.name.eq_ignore_ascii_case(name) {
                let d = self.data(&v)?;
                return Ok(Some((v, d)));
            }
        }
        Ok(None)
    }

    /// A value's data: held in the value itself (4 bytes or fewer), in one cell, or in the
    /// segments of a big data (`db`) cell.
    pub fn data(&self, v: &Value) -> Result<Vec<u8>, HiveError> {
        let at = BASE + u64::from(v.at);
        if v.size & 0x8000_0000 != 0 {
            let n = (v.size & 0x7fff_ffff).min(4) as usize;
            return Ok(v.data.to_le_bytes()[..n].to_vec());
        }
        let size = v.size as usize;
        if size > MAX_VALUE {
            return Err(corrupt(
                at,
                format!(
                    "a value claiming {size} bytes (more than {} MiB)",
                    MAX_VALUE >> 20
                ),
            ));
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        let c = self.cell(v.data)?;
        if size > 16344 && c.starts_with(b"db") {
            let segments = le16(&c, 2) as usize;
            let list = self.cell(le32(&c, 4))?;
            if segments * 4 > list.len() {
                return Err(corrupt(at, "a big data list longer than its cell"));
            }
            let mut out = Vec::with_capacity(size);
            for i in 0..segments {
                let seg = self.cell(le32(&list, i * 4))?;
                let take = (size - out.len()).min(seg.len()).min(16344);
                out.extend_from_slice(&seg[..take]);
                if out.len() == size {
                    break;
                }
            }
            if out.len() < size {
                return Err(corrupt(at, "big data shorter than its value claims"));
            }
            return Ok(out);
        }
        c.get(..size).map(<[u8]>::to_vec).ok_or_else(|| {
            corrupt(
                at,
                format!("a value of {size} bytes in a cell of {}", c.len()),
            )
        })
    }

    /// Every key below `key` (not itself), depth-first, with its path relative to `key`:
    /// at most `max` keys and `depth` levels, each key node once (a loop of cells ends).
    pub fn walk(
        &self,
        key: &Key,
        depth: usize,
        max: usize,
    ) -> Result<Vec<(String, Key)>, HiveError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        seen.insert(key.offset);
        let mut stack: Vec<(String, Key, usize)> = vec![(String::new(), key.clone(), 0)];
        while let Some((path, k, d)) = stack.pop() {
            if d >= depth {
                continue;
            }
            let mut children = Vec::new();
            for o in self.subkeys(&k)? {
                if !seen.insert(o) {
                    return Err(corrupt(
                        BASE + u64::from(o),
                        "a key that is its own ancestor (a loop)",
                    ));
                }
                let c = self.key(o)?;
                let p = format!("{path}\\{}", c.name);
                if out.len() >= max {
                    return Ok(out);
                }
                out.push((p.clone(), c.clone()));
                children.push((p, c, d + 1));
            }
            children.reverse();
            stack.extend(children);
        }
        Ok(out)
    }
}

/// A key or value name: Latin-1 where the flag says so, else UTF-16LE.
fn name_of(raw: &[u8], ascii: bool) -> String {
    if ascii {
        raw.iter().map(|&b| b as char).collect()
    } else {
        utf16_field(raw)
    }
}

/// A value's data as text: `REG_SZ` and `REG_EXPAND_SZ` (UTF-16LE, up to the first NUL).
pub fn text(data: &[u8]) -> String {
    utf16_field(data)
}

/// A value's data as a `REG_DWORD`.
pub fn dword(data: &[u8]) -> Option<u32> {
    (data.len() >= 4).then(|| le32(data, 0))
}

/// A key's values: each name, and its data or why it could not be read.
pub type ValueList = Vec<(String, Result<Vec<u8>, HiveError>)>;

/// A registry as keys, subkeys and values: a hive file ([`Hive`]) or, on Windows, the live
/// registry ([`super::live_registry`]). What the TaskCache reader walks.
pub trait RegistryView {
    type Key: Clone;
    /// The key at a `\`-separated path below the root.
    fn key_at(&self, path: &str) -> Result<Option<Self::Key>, HiveError>;
    /// The subkey named `name` (case-insensitive).
    fn child(&self, key: &Self::Key, name: &str) -> Result<Option<Self::Key>, HiveError>;
    /// Its subkeys and their names, at most `max`.
    fn children(&self, key: &Self::Key, max: usize) -> Result<Vec<(String, Self::Key)>, HiveError>;
    /// Last written, microseconds since 1970.
    fn written(&self, key: &Self::Key) -> Option<i64>;
    /// Its values: each name and its data, or why the data could not be read.
    fn value_list(&self, key: &Self::Key) -> Result<ValueList, HiveError>;
    /// Why this registry has no TaskCache, in words (what kind of hive it is).
    fn without_taskcache(&self) -> String;
}

impl RegistryView for Hive<'_> {
    type Key = Key;

    fn key_at(&self, path: &str) -> Result<Option<Key>, HiveError> {
        self.path(path)
    }

    fn child(&self, key: &Key, name: &str) -> Result<Option<Key>, HiveError> {
        self.subkey(key, name)
    }

    fn children(&self, key: &Key, max: usize) -> Result<Vec<(String, Key)>, HiveError> {
        let mut out = Vec::new();
        for o in self.subkeys(key)?.into_iter().take(max) {
            let k = self.key(o)?;
            out.push((k.name.clone(), k));
        }
        Ok(out)
    }

    fn written(&self, key: &Key) -> Option<i64> {
        key.written
    }

    fn value_list(&self, key: &Key) -> Result<ValueList, HiveError> {
        Ok(self
            .values(key)?
            .into_iter()
            .map(|v| {
                let d = self.data(&v);
                (v.name, d)
            })
            .collect())
    }

    fn without_taskcache(&self) -> String {
        let kind = self.file_name().rsplit(['\\', '/']).next().unwrap_or("");
        if kind.is_empty() {
            "a registry hive without a TaskCache (not a SOFTWARE hive)".into()
        } else {
            format!("a registry hive without a TaskCache (its base block names it {kind})")
        }
    }
}

/// What was noticed while opening a registry (a bad checksum, logs applied or not).
pub trait Notes {
    fn notes(&self) -> &[String];
}

impl Notes for Hive<'_> {
    fn notes(&self) -> &[String] {
        &self.notes
    }
}
