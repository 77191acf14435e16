//! A bounds-checked little-endian reader for the binary formats read from the outside
//! (legacy `.job` files, the registry TaskCache's values): every length is checked against
//! what is left, and a short input is an error that says where and what was wanted.

use std::fmt;

/// Why bytes could not be read, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    pub at: usize,
    pub what: String,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.at, self.what)
    }
}

impl std::error::Error for BlobError {}

/// For readers whose errors are text: the reader itself only ever fails on a short input.
impl From<BlobError> for String {
    fn from(e: BlobError) -> String {
        format!("truncated {e}")
    }
}

/// Little-endian values read off a byte slice, in order.
pub struct LeReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> LeReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        LeReader { bytes, at: 0 }
    }

    /// Where the next read starts.
    pub fn at(&self) -> usize {
        self.at
    }

    pub fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// An error at the current place.
    pub fn err(&self, what: impl Into<String>) -> BlobError {
        BlobError {
            at: self.at,
            what: what.into(),
        }
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], BlobError> {
        let left = self.bytes.len().saturating_sub(self.at);
        if n > left {
            return Err(self.err(format!("{what} needs {n} bytes, {left} left")));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, BlobError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, BlobError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, BlobError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// `n` bytes of UTF-16LE text (unpaired surrogates replaced, trailing NULs dropped).
    pub fn utf16(&mut self, n: usize, what: &str) -> Result<String, BlobError> {
        let units: Vec<u16> = self
            .take(n, what)?
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect();
        Ok(String::from_utf16_lossy(&units)
            .trim_end_matches('\0')
            .to_string())
    }
}
