//! The Parquet files `rank` writes, as any reader takes them: polars stores its own Arrow
//! schema in the footer (`ARROW:schema`), which names strings `string_view` (older readers
//! and some versions of pyarrow and Spark refuse it) and knows no times, since this build
//! carries no date-time types. The footer is rewritten: the Arrow schema dropped, so that
//! readers go by the Parquet schema (`BYTE_ARRAY` + `STRING` is a plain string), and the
//! time columns (written as microseconds since the epoch) annotated
//! `TIMESTAMP(MICROS, UTC)`. The data pages are left as they are.

use anyhow::{Result, anyhow, bail};
use polars_parquet_format::thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol};
use polars_parquet_format::{
    ConvertedType, FileMetaData, LogicalType, MicroSeconds, TimeUnit, TimestampType, Type,
};

/// The key under which polars (and arrow) keep their own schema.
const ARROW_SCHEMA: &str = "ARROW:schema";

/// `file` (a whole Parquet file) with its footer rewritten: no Arrow schema, the `times`
/// columns (INT64 microseconds) annotated as UTC timestamps.
pub fn plain(file: Vec<u8>, times: &[&str]) -> Result<Vec<u8>> {
    let n = file.len();
    if n < 12 || &file[n - 4..] != b"PAR1" {
        bail!("no Parquet footer");
    }
    let len = u32::from_le_bytes([file[n - 8], file[n - 7], file[n - 6], file[n - 5]]) as usize;
    if len > n - 12 {
        bail!("a footer of {len} bytes in a file of {n}");
    }
    let start = n - 8 - len;
    let mut meta = FileMetaData::read_from_in_protocol(&mut TCompactInputProtocol::new(
        &file[start..n - 8],
        len.saturating_mul(64).max(1 << 20),
    ))
    .map_err(|e| anyhow!("reading the footer polars wrote: {e}"))?;
    if let Some(kv) = &mut meta.key_value_metadata {
        kv.retain(|k| k.key != ARROW_SCHEMA);
    }
    for el in &mut meta.schema {
        if el.type_ == Some(Type::INT64) && times.contains(&el.name.as_str()) {
            el.logical_type = Some(LogicalType::TIMESTAMP(TimestampType::new(
                true,
                TimeUnit::MICROS(MicroSeconds {}),
            )));
            el.converted_type = Some(ConvertedType::TIMESTAMP_MICROS);
        }
    }
    let mut footer = Vec::with_capacity(len);
    meta.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut footer))
        .map_err(|e| anyhow!("writing the footer: {e}"))?;
    let mut out = file;
    out.truncate(start);
    out.extend_from_slice(&footer);
    out.extend_from_slice(
        &u32::try_from(footer.len())
            .map_err(|_| anyhow!("a footer over 4 GiB"))?
            .to_le_bytes(),
    );
    out.extend_from_slice(b"PAR1");
    Ok(out)
}
