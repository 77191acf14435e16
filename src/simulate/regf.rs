//! A writer of registry hive files (regf 1.5): base block with its checksum, hive bins,
//! key nodes (`nk`) with hash-leaf subkey lists (`lh`, sorted as Windows keeps them), values
//! (`vk`) with data inline, in a cell or in big data segments (`db`), and one shared
//! security cell (`sk`). What the simulator's hosts carry as their SOFTWARE hive; every file
//! it writes is checked by an independent reader (hivex) in the tests.

/// `REG_SZ`.
pub const REG_SZ: u32 = 1;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD`.
pub const REG_DWORD: u32 = 4;

/// The largest data one cell holds; longer data goes into big data segments.
const SEGMENT: usize = 16344;

/// A key to write: its name, values, subkeys and last written time (microseconds since 1970).
#[derive(Debug, Clone, Default)]
pub struct RegKey {
    pub name: String,
    pub values: Vec<(String, u32, Vec<u8>)>,
    pub subkeys: Vec<RegKey>,
    pub written: i64,
}

impl RegKey {
    pub fn new(name: &str, written: i64) -> RegKey {
        RegKey {
            name: name.to_string(),
            written,
            ..RegKey::default()
        }
    }

    /// The subkey at a `\`-separated path, made where missing (with `written`).
    pub fn at(&mut self, path: &str, written: i64) -> &mut RegKey {
        let mut k = self;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            let i = match k
                .subkeys
                .iter()
                .position(|s| s.name.eq_ignore_ascii_case(part))
            {
                Some(i) => i,
                None => {
                    k.subkeys.push(RegKey::new(part, written));
                    k.subkeys.len() - 1
                }
            };
            k = &mut k.subkeys[i];
        }
        k
    }

    pub fn set(&mut self, name: &str, kind: u32, data: Vec<u8>) -> &mut RegKey {
        self.values
            .retain(|(n, _, _)| !n.eq_ignore_ascii_case(name));
        self.values.push((name.to_string(), kind, data));
        self
    }

    pub fn set_sz(&mut self, name: &str, text: &str) -> &mut RegKey {
        self.set(name, REG_SZ, sz(text))
    }

    pub fn set_dword(&mut self, name: &str, v: u32) -> &mut RegKey {
        self.set(name, REG_DWORD, v.to_le_bytes().to_vec())
    }
}

/// Text as a `REG_SZ` holds it: UTF-16LE with a terminating NUL.
pub fn sz(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A FILETIME (100 ns since 1601) of microseconds since 1970.
pub fn filetime(us: i64) -> u64 {
    u64::try_from(us + 11_644_473_600_000_000).unwrap_or(0) * 10
}

/// A minimal self-relative security descriptor (a present, empty DACL), for the `sk` cell
/// and the TaskCache's `SD` values.
pub fn security_descriptor() -> Vec<u8> {
    let mut d = vec![1, 0, 0x04, 0x80];
    d.extend(0u32.to_le_bytes()); // owner
    d.extend(0u32.to_le_bytes()); // group
    d.extend(0u32.to_le_bytes()); // SACL
    d.extend(20u32.to_le_bytes()); // DACL
    d.extend([2, 0, 8, 0, 0, 0, 0, 0]);
    d
}

/// The cells of the hive bins, laid out as they are allocated.
struct Bins {
    data: Vec<u8>,
    /// The next free byte of the current bin, and where that bin ends.
    cursor: usize,
    end: usize,
}

impl Bins {
    fn new() -> Bins {
        let mut b = Bins {
            data: Vec::new(),
            cursor: 0,
            end: 0,
        };
        b.open_bin(4096);
        b
    }

    fn open_bin(&mut self, size: usize) {
        let start = self.data.len();
        self.data.extend(b"hbin");
        self.data.extend((start as u32).to_le_bytes());
        self.data.extend((size as u32).to_le_bytes());
        self.data.resize(start + size, 0);
        self.cursor = start + 32;
        self.end = start + size;
        self.close_free();
    }

    /// The rest of the current bin as one free cell.
    fn close_free(&mut self) {
        if self.end > self.cursor {
            let n = (self.end - self.cursor) as i32;
            self.data[self.cursor..self.cursor + 4].copy_from_slice(&n.to_le_bytes());
        }
    }

    /// Allocate a cell for `len` bytes of data; returns its offset.
    fn alloc(&mut self, len: usize) -> u32 {
        let size = (len + 4).div_ceil(8) * 8;
        if self.cursor + size > self.end {
            self.open_bin((size + 32).div_ceil(4096) * 4096);
        }
        let at = self.cursor;
        self.data[at..at + 4].copy_from_slice(&(-(size as i32)).to_le_bytes());
        self.cursor += size;
        self.close_free();
        at as u32
    }

    fn put(&mut self, cell: u32, bytes: &[u8]) {
        let at = cell as usize + 4;
        self.data[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn cell(&mut self, bytes: &[u8]) -> u32 {
        let at = self.alloc(bytes.len());
        self.put(at, bytes);
        at
    }
}

/// The hash a hash leaf keeps of a subkey's name.
fn name_hash(name: &str) -> u32 {
    name.to_uppercase()
        .encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(37).wrapping_add(u32::from(c)))
}

/// A name as a key or value node keeps it: Latin-1 (and the flag saying so) where it can be.
fn stored_name(name: &str) -> (Vec<u8>, bool) {
    if name.chars().all(|c| (c as u32) < 0x100) {
        (name.chars().map(|c| c as u8).collect(), true)
    } else {
        (
            name.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            false,
        )
    }
}

fn write_value(b: &mut Bins, name: &str, kind: u32, data: &[u8]) -> u32 {
    let (n, ascii) = stored_name(name);
    let (size, offset) = if data.len() <= 4 {
        let mut inline = [0u8; 4];
        inline[..data.len()].copy_from_slice(data);
        (data.len() as u32 | 0x8000_0000, u32::from_le_bytes(inline))
    } else if data.len() <= SEGMENT {
        (data.len() as u32, b.cell(data))
    } else {
        let segments: Vec<u32> = data.chunks(SEGMENT).map(|c| b.cell(c)).collect();
        let list: Vec<u8> = segments.iter().flat_map(|o| o.to_le_bytes()).collect();
        let list = b.cell(&list);
        let mut db = b"db".to_vec();
        db.extend((segments.len() as u16).to_le_bytes());
        db.extend(list.to_le_bytes());
        db.extend(0u32.to_le_bytes());
        (data.len() as u32, b.cell(&db))
    };
    let mut vk = b"vk".to_vec();
    vk.extend((n.len() as u16).to_le_bytes());
    vk.extend(size.to_le_bytes());
    vk.extend(offset.to_le_bytes());
    vk.extend(kind.to_le_bytes());
    vk.extend(u16::from(ascii).to_le_bytes());
    vk.extend(0u16.to_le_bytes());
    vk.extend(n);
    b.cell(&vk)
}

/// Write `key` and everything below it; returns its node's offset.
fn write_key(b: &mut Bins, key: &RegKey, parent: u32, sk: u32, root: bool) -> u32 {
    let (name, ascii) = stored_name(&key.name);
    let nk = b.alloc(76 + name.len());
    let mut children: Vec<&RegKey> = key.subkeys.iter().collect();
    children.sort_by_key(|k| k.name.to_uppercase());
    let offsets: Vec<(u32, u32)> = children
        .iter()
        .map(|c| (write_key(b, c, nk, sk, false), name_hash(&c.name)))
        .collect();
    let list = if offsets.is_empty() {
        u32::MAX
    } else {
        let mut lh = b"lh".to_vec();
        lh.extend((offsets.len() as u16).to_le_bytes());
        for (o, h) in &offsets {
            lh.extend(o.to_le_bytes());
            lh.extend(h.to_le_bytes());
        }
        b.cell(&lh)
    };
    let values: Vec<u32> = key
        .values
        .iter()
        .map(|(n, k, d)| write_value(b, n, *k, d))
        .collect();
    let value_list = if values.is_empty() {
        u32::MAX
    } else {
        let v: Vec<u8> = values.iter().flat_map(|o| o.to_le_bytes()).collect();
        b.cell(&v)
    };
    let max_name = children
        .iter()
        .map(|c| c.name.encode_utf16().count() * 2)
        .max()
        .unwrap_or(0) as u32;
    let max_value_name = key
        .values
        .iter()
        .map(|(n, _, _)| n.encode_utf16().count() * 2)
        .max()
        .unwrap_or(0) as u32;
    let max_data = key
        .values
        .iter()
        .map(|(_, _, d)| d.len())
        .max()
        .unwrap_or(0) as u32;
    let mut c = b"nk".to_vec();
    let flags: u16 = if root { 0x2c } else { 0 } | if ascii { 0x20 } else { 0 };
    c.extend(flags.to_le_bytes());
    c.extend(filetime(key.written).to_le_bytes());
    c.extend(0u32.to_le_bytes());
    c.extend(parent.to_le_bytes());
    c.extend((offsets.len() as u32).to_le_bytes());
    c.extend(0u32.to_le_bytes());
    c.extend(list.to_le_bytes());
    c.extend(u32::MAX.to_le_bytes());
    c.extend((values.len() as u32).to_le_bytes());
    c.extend(value_list.to_le_bytes());
    c.extend(sk.to_le_bytes());
    c.extend(u32::MAX.to_le_bytes()); // class
    c.extend(max_name.to_le_bytes());
    c.extend(0u32.to_le_bytes());
    c.extend(max_value_name.to_le_bytes());
    c.extend(max_data.to_le_bytes());
    c.extend(0u32.to_le_bytes());
    c.extend((name.len() as u16).to_le_bytes());
    c.extend(0u16.to_le_bytes());
    c.extend(name);
    b.put(nk, &c);
    nk
}

/// Count the keys below and including `key`.
fn keys(key: &RegKey) -> u32 {
    1 + key.subkeys.iter().map(keys).sum::<u32>()
}

/// The hive file of `root`: a base block naming it `file_name` (`\SystemRoot\System32\
/// Config\SOFTWARE`), last written at `written`, then its bins.
pub fn hive(root: &RegKey, file_name: &str, written: i64) -> Vec<u8> {
    let mut b = Bins::new();
    // The one security cell every key shares (its list links it to itself).
    let sd = security_descriptor();
    let sk = b.alloc(20 + sd.len());
    let mut c = b"sk".to_vec();
    c.extend(0u16.to_le_bytes());
    c.extend(sk.to_le_bytes());
    c.extend(sk.to_le_bytes());
    c.extend(keys(root).to_le_bytes());
    c.extend((sd.len() as u32).to_le_bytes());
    c.extend(&sd);
    b.put(sk, &c);
    let root_at = write_key(&mut b, root, u32::MAX, sk, true);
    base_block(root_at, b.data.len() as u32, file_name, written, (1, 1))
        .into_iter()
        .chain(b.data)
        .collect()
}

/// A base block: `seq` the primary and secondary sequence numbers (equal: a clean hive).
fn base_block(root: u32, bins: u32, file_name: &str, written: i64, seq: (u32, u32)) -> Vec<u8> {
    let mut h = vec![0u8; 4096];
    h[..4].copy_from_slice(b"regf");
    h[4..8].copy_from_slice(&seq.0.to_le_bytes());
    h[8..12].copy_from_slice(&seq.1.to_le_bytes());
    h[12..20].copy_from_slice(&filetime(written).to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[24..28].copy_from_slice(&5u32.to_le_bytes());
    h[28..32].copy_from_slice(&0u32.to_le_bytes());
    h[32..36].copy_from_slice(&1u32.to_le_bytes());
    h[36..40].copy_from_slice(&root.to_le_bytes());
    h[40..44].copy_from_slice(&bins.to_le_bytes());
    h[44..48].copy_from_slice(&1u32.to_le_bytes());
    // The last 31 characters of the path, as Windows keeps them.
    let units: Vec<u16> = file_name.encode_utf16().collect();
    let name: Vec<u8> = units[units.len().saturating_sub(31)..]
        .iter()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    h[48..48 + name.len()].copy_from_slice(&name);
    let sum = crate::ingest::hive::checksum(&h[..512]);
    h[508..512].copy_from_slice(&sum.to_le_bytes());
    h
}

/// Make `old` (a hive file) dirty at sequence number `seq` and return the new-format
/// transaction log (`.LOG1`) that brings it to `new`: one log entry of the pages that
/// differ. What a host's hive looks like when it was copied before the system flushed it.
pub fn dirty_with_log(old: &mut [u8], new: &[u8], seq: u32) -> Vec<u8> {
    let bins = |h: &[u8]| u32::from_le_bytes([h[40], h[41], h[42], h[43]]);
    // The primary file: sequence numbers that disagree.
    old[4..8].copy_from_slice(&(seq + 1).to_le_bytes());
    old[8..12].copy_from_slice(&seq.to_le_bytes());
    let sum = crate::ingest::hive::checksum(&old[..512]);
    old[508..512].copy_from_slice(&sum.to_le_bytes());
    let mut pages: Vec<(u32, &[u8])> = Vec::new();
    for (i, page) in new[4096..].chunks(4096).enumerate() {
        let at = 4096 + i * 4096;
        if old.get(at..at + 4096) != Some(page) {
            pages.push(((i * 4096) as u32, page));
        }
    }
    let mut log = new[..512].to_vec();
    log[28..32].copy_from_slice(&6u32.to_le_bytes());
    let sum = crate::ingest::hive::checksum(&log[..512]);
    log[508..512].copy_from_slice(&sum.to_le_bytes());
    let header = 40 + pages.len() * 8;
    let size = (header.div_ceil(512) * 512) + pages.len() * 4096;
    let mut e = Vec::with_capacity(size);
    e.extend(b"HvLE");
    e.extend((size as u32).to_le_bytes());
    e.extend(0u32.to_le_bytes());
    e.extend(seq.to_le_bytes());
    e.extend(bins(new).to_le_bytes());
    e.extend((pages.len() as u32).to_le_bytes());
    e.extend([0u8; 16]);
    for (o, _) in &pages {
        e.extend(o.to_le_bytes());
        e.extend(4096u32.to_le_bytes());
    }
    // Pages follow the references directly.
    for (_, p) in &pages {
        e.extend(*p);
    }
    e.resize(size, 0);
    log.extend(e);
    log
}
