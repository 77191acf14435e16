//! The columns of CSV and Parquet, as one table per kind of row ([`EVENT_COLUMNS`],
//! [`TASK_COLUMNS`]): each column's name, type, and where it is read off the row's JSON object
//! (the JSON Lines contract, [`super::Rows::json_row`]). A value is computed once, for the
//! JSON row; the flat formats take it from there.

use polars::prelude::*;
use serde_json::Value;

use crate::util::sanitize::csv_cell;

/// Where a column's value lies in the JSON row, and how a flat cell is made of it.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// The value at this path of keys, as an unsigned 32-bit number (0 when absent).
    U32(&'static [&'static str]),
    U64(&'static [&'static str]),
    F64(&'static [&'static str]),
    /// `true` where the value is `true`.
    Bool(&'static [&'static str]),
    /// A time (RFC 3339 in the JSON row): text in CSV, microseconds since the epoch in
    /// Parquet, annotated as a UTC timestamp ([`super::parquet_plain`]).
    Time(&'static [&'static str]),
    /// Text; a list is joined with the separator (its objects by [`Source::Pairs`]).
    Text(&'static [&'static str], &'static str),
    /// A list of objects, each as `a:b` of two of its keys, joined by a space.
    Pairs(&'static [&'static str], &'static str, &'static str),
    /// The value as JSON text (empty when absent).
    Json(&'static [&'static str]),
    /// One text column per field of the dataset, from the row's `fields` (empty when the
    /// event has no value there).
    Fields,
    /// A column the JSON row does not carry, made by the caller (`top_fields`).
    Extra(&'static str),
}

/// A column of the flat formats.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub source: Source,
}

const fn col(name: &'static str, source: Source) -> Col {
    Col { name, source }
}

/// The columns that hold times (annotated as timestamps in Parquet).
pub const TIME_COLUMNS: &[&str] = &[
    "first_seen",
    "last_seen",
    "operational_first_seen",
    "operational_last_seen",
];

/// The unique-event rows' columns, in their order.
pub const EVENT_COLUMNS: &[Col] = &[
    col("rank", Source::U32(&["rank"])),
    col("score", Source::F64(&["score"])),
    col("count", Source::U64(&["count"])),
    col("fleet", Source::U32(&["prevalence", "fleet"])),
    col("n_hosts", Source::U32(&["prevalence", "hosts"])),
    col("hosts", Source::Text(&["hosts"], "; ")),
    col("first_seen", Source::Time(&["first_seen"])),
    col("last_seen", Source::Time(&["last_seen"])),
    col("channel", Source::Text(&["channel"], "")),
    col("event_id", Source::U32(&["event_id"])),
    col("model", Source::Text(&["model"], "")),
    col("top_fields", Source::Extra("top_fields")),
    col("", Source::Fields),
    col("flags", Source::Text(&["flags"], ",")),
    col("marked", Source::Bool(&["marked"])),
    col("verdict", Source::Text(&["verdict"], "")),
    col("note", Source::Text(&["note"], "")),
    col("field_errors", Source::Json(&["field_errors"])),
    col("raw", Source::Json(&["raw"])),
    col("expected", Source::Json(&["expected"])),
    col("sources", Source::Text(&["sources"], "; ")),
    // Added last: earlier columns keep their places.
    col("display_name", Source::Text(&["display", "name"], "")),
    col("display_command", Source::Text(&["display", "command"], "")),
    // Definitions' own (empty for logged events).
    col("task", Source::Text(&["task"], "")),
    col("format", Source::Text(&["format"], "")),
    col("file", Source::Text(&["file"], "")),
    col("host_from", Source::Text(&["host_from"], "")),
    // The strongest evidence in words (the autoencoder's rankings).
    col("reasons", Source::Text(&["reasons"], "; ")),
];

/// The host rows' columns (`rank --by host`), in their order.
pub const HOST_COLUMNS: &[Col] = &[
    col("host", Source::Text(&["host"], "")),
    col("aliases", Source::Text(&["aliases"], "; ")),
    col("definitions", Source::U64(&["definitions"])),
    col("operational_records", Source::U64(&["operational_records"])),
    col("task_audit_records", Source::U64(&["task_audit_records"])),
    col(
        "process_creation_records",
        Source::U64(&["process_creation_records"]),
    ),
    col("sysmon_records", Source::U64(&["sysmon_records"])),
    col("security_records", Source::U64(&["security_records"])),
    col("records", Source::U64(&["records"])),
    col("summaries", Source::U64(&["summaries"])),
    col("first_seen", Source::Time(&["first_seen"])),
    col("last_seen", Source::Time(&["last_seen"])),
    col(
        "operational_first_seen",
        Source::Time(&["operational_first_seen"]),
    ),
    col(
        "operational_last_seen",
        Source::Time(&["operational_last_seen"]),
    ),
    // `true`, `false`, or empty where no SOFTWARE hive of the host was read.
    col(
        "operational_enabled",
        Source::Json(&["operational_enabled"]),
    ),
    col("sysmon_enabled", Source::Json(&["sysmon_enabled"])),
    col("visibility", Source::Text(&["visibility"], "")),
    col("verdict", Source::Text(&["verdict"], "")),
];

/// The task rows' columns, in their order.
pub const TASK_COLUMNS: &[Col] = &[
    col("rank", Source::U32(&["rank"])),
    col("score", Source::F64(&["score"])),
    col("task", Source::Text(&["task"], "")),
    col("name_variants", Source::U32(&["name_variants"])),
    col("task_key", Source::Text(&["task_key"], "")),
    col("count", Source::U64(&["count"])),
    col("fleet", Source::U32(&["prevalence", "fleet"])),
    col("n_hosts", Source::U32(&["prevalence", "hosts"])),
    col("hosts", Source::Text(&["hosts"], "; ")),
    col("first_seen", Source::Time(&["first_seen"])),
    col("last_seen", Source::Time(&["last_seen"])),
    col("flags", Source::Text(&["flags"], ",")),
    col("event_ids", Source::Text(&["event_ids"], " ")),
    col("events", Source::Pairs(&["events"], "key", "rank")),
    col("model", Source::Text(&["model"], "")),
    col("marked", Source::Bool(&["marked"])),
    col("verdict", Source::Text(&["verdict"], "")),
    col("note", Source::Text(&["note"], "")),
];

/// What a table leaves out for these rows: the field columns other than the dataset's
/// (`fields`), a `flags` column when the fields hold one already, `raw` unless asked for.
pub struct Shape<'a> {
    pub fields: &'a [&'a str],
    pub raw: bool,
}

fn at<'v>(row: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(row, |v, k| v.get(*k))
}

fn text(v: Option<&Value>, sep: &str) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| text(Some(i), sep))
            .collect::<Vec<_>>()
            .join(sep),
        Some(other) => other.to_string(),
    }
}

/// The rows (their JSON objects, in order) as a DataFrame of `columns`; `defuse` applies
/// CSV formula defusing to text cells; `extra` makes the [`Source::Extra`] columns (by row).
pub fn dataframe(
    rows: &[Value],
    columns: &[Col],
    shape: &Shape<'_>,
    defuse: bool,
    extra: &dyn Fn(&str, usize) -> String,
) -> PolarsResult<DataFrame> {
    let cell = |s: String| if defuse { csv_cell(&s) } else { s };
    let mut out: Vec<Column> = Vec::new();
    for c in columns {
        let name = c.name.into();
        match c.source {
            Source::U32(p) => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| {
                        at(r, p)
                            .and_then(Value::as_u64)
                            .and_then(|v| u32::try_from(v).ok())
                            .unwrap_or(0)
                    })
                    .collect::<Vec<_>>(),
            )),
            Source::U64(p) => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| at(r, p).and_then(Value::as_u64).unwrap_or(0))
                    .collect::<Vec<_>>(),
            )),
            Source::F64(p) => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| at(r, p).and_then(Value::as_f64).unwrap_or(0.0))
                    .collect::<Vec<_>>(),
            )),
            Source::Bool(p) => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| at(r, p).and_then(Value::as_bool).unwrap_or(false))
                    .collect::<Vec<_>>(),
            )),
            Source::Time(p) if defuse => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| cell(text(at(r, p), "")))
                    .collect::<Vec<_>>(),
            )),
            Source::Time(p) => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| {
                        at(r, p)
                            .and_then(Value::as_str)
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                            .map(|t| t.as_microsecond())
                    })
                    .collect::<Vec<Option<i64>>>(),
            )),
            Source::Text(p, sep) => {
                // A `flags` column only where the fields hold none of that name.
                if c.name == "flags" && shape.fields.contains(&"flags") && p == ["flags"] {
                    continue;
                }
                out.push(Column::new(
                    name,
                    rows.iter()
                        .map(|r| cell(text(at(r, p), sep)))
                        .collect::<Vec<_>>(),
                ));
            }
            Source::Pairs(p, a, b) => out.push(Column::new(
                name,
                rows.iter()
                    .map(|r| {
                        let items = at(r, p).and_then(Value::as_array);
                        cell(
                            items
                                .into_iter()
                                .flatten()
                                .map(|i| format!("{}:{}", text(i.get(a), ""), text(i.get(b), "")))
                                .collect::<Vec<_>>()
                                .join(" "),
                        )
                    })
                    .collect::<Vec<_>>(),
            )),
            Source::Json(p) => {
                if c.name == "raw" && !shape.raw {
                    continue;
                }
                out.push(Column::new(
                    name,
                    rows.iter()
                        .map(|r| at(r, p).map(|v| cell(v.to_string())).unwrap_or_default())
                        .collect::<Vec<_>>(),
                ));
            }
            Source::Fields => {
                for f in shape.fields {
                    out.push(Column::new(
                        (*f).into(),
                        rows.iter()
                            .map(|r| cell(text(at(r, &["fields", f]), "")))
                            .collect::<Vec<_>>(),
                    ));
                }
            }
            Source::Extra(what) => out.push(Column::new(
                name,
                (0..rows.len()).map(|k| extra(what, k)).collect::<Vec<_>>(),
            )),
        }
    }
    DataFrame::new_infer_height(out)
}
