//! Checking a Parquet file's metadata and a row group's page headers before polars reads them.
//!
//! polars trusts what a file says of itself: the lengths of the lists in its footer (a
//! forged one made it ask for tens of gigabytes, and a failed allocation aborts the process) and the
//! sizes in its page headers. So the footer is parsed here first, with a bound on what it may
//! allocate ([`check_footer`]), and so is every page header of a row group before it is
//! decoded ([`check_chunk`]).
//!
//! polars' decoder sizes its buffers from what each page header says (how many values it
//! holds, how large it inflates to): a forged header claiming 2^61 values made it ask for an
//! allocation that aborts the process, which no `catch_unwind` can stop. So every page header
//! of a row group is read here first (the Thrift compact protocol, with a bound on what a
//! header may allocate) and checked against what the row group's metadata says: a page holds
//! no more values than the group has rows, inflates to no more than
//! [`super::summary::MAX_ROW_GROUP_BYTES`], and lies within its column chunk.

use std::io::Cursor;

use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
use polars_parquet_format::{FileMetaData, PageHeader, PageType};

/// Bytes a file's metadata may allocate when parsed: a few times what a summary's takes
/// (its key-value header, a few hundred row groups of fourteen columns).
const MAX_FOOTER_ALLOC: usize = 64 << 20;

/// Whether `bytes` end in a Parquet footer whose metadata parses within
/// [`MAX_FOOTER_ALLOC`]: only then may polars read it.
pub fn check_footer(bytes: &[u8]) -> Result<(), String> {
    let n = bytes.len();
    if n < 12 || &bytes[n - 4..] != b"PAR1" {
        return Err("no Parquet footer (a truncated file?)".into());
    }
    let len = u32::from_le_bytes([bytes[n - 8], bytes[n - 7], bytes[n - 6], bytes[n - 5]]);
    let len = usize::try_from(len).map_err(|e| e.to_string())?;
    if len > n - 12 {
        return Err(format!("a footer of {len} bytes in a file of {n}"));
    }
    let footer = &bytes[n - 8 - len..n - 8];
    FileMetaData::read_from_in_protocol(&mut TCompactInputProtocol::new(
        footer,
        MAX_FOOTER_ALLOC.min(len.saturating_mul(64).max(1 << 20)),
    ))
    .map(|_| ())
    .map_err(|e| format!("metadata that cannot be read ({e})"))
}

/// Bytes a page header may take (a real one takes a few dozen; statistics can add a few
/// hundred).
const MAX_HEADER: usize = 64 << 10;

/// What a column chunk's pages claim, checked. `bytes`: the whole file; `range`: the chunk's
/// bytes in it (as its metadata says); `rows`: the row group's rows; `cap`: the most a page
/// may inflate to.
pub fn check_chunk(
    bytes: &[u8],
    range: std::ops::Range<u64>,
    values: i64,
    rows: usize,
    cap: usize,
) -> Result<(), String> {
    let (start, end) = (to_usize(range.start)?, to_usize(range.end)?);
    if start > end || end > bytes.len() {
        return Err(format!(
            "a column chunk at bytes {start}..{end} of a {}-byte file",
            bytes.len()
        ));
    }
    if values < 0 || to_usize(values as u64)? > rows {
        return Err(format!(
            "a column chunk of {values} values in a row group of {rows} rows"
        ));
    }
    let mut at = start;
    let mut seen = 0usize;
    while at < end && seen < values as usize {
        let mut cursor = Cursor::new(&bytes[at..end]);
        let header = PageHeader::read_from_in_protocol(&mut TCompactInputProtocol::new(
            &mut cursor,
            MAX_HEADER,
        ))
        .map_err(|e| format!("a page header that cannot be read ({e})"))?;
        let header_len = usize::try_from(cursor.position()).map_err(|e| e.to_string())?;
        let size = |v: i32, what: &str| {
            usize::try_from(v).map_err(|_| format!("a page claiming {v} bytes {what}"))
        };
        let compressed = size(header.compressed_page_size, "compressed")?;
        let inflated = size(header.uncompressed_page_size, "inflated")?;
        if inflated > cap {
            return Err(format!(
                "a page that inflates to {} MiB (at most {} MiB)",
                inflated >> 20,
                cap >> 20
            ));
        }
        let n = match header.type_ {
            PageType::DATA_PAGE => header.data_page_header.map(|h| h.num_values),
            PageType::DATA_PAGE_V2 => header.data_page_header_v2.map(|h| h.num_values),
            PageType::DICTIONARY_PAGE => header.dictionary_page_header.map(|h| h.num_values),
            _ => Some(0),
        }
        .ok_or("a page header without the header of its type")?;
        let n = usize::try_from(n).map_err(|_| format!("a page of {n} values"))?;
        if n > rows {
            return Err(format!(
                "a page of {n} values in a row group of {rows} rows"
            ));
        }
        if header.type_ != PageType::DICTIONARY_PAGE {
            seen = seen.saturating_add(n);
        }
        at = at
            .checked_add(header_len)
            .and_then(|a| a.checked_add(compressed))
            .filter(|&a| a <= end)
            .ok_or("a page that runs past its column chunk")?;
    }
    Ok(())
}

fn to_usize(v: u64) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("an offset of {v}"))
}
