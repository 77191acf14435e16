//! Summaries: a collection's unique events with their counts, written where the logs are
//! (`anomalog summarize`, a Velociraptor hunt on each endpoint, a KAPE collection on the
//! analyst's share) and merged centrally by `rank` and the UI as if the logs had been read
//! there.
//!
//! A summary is JSON Lines. The first line is the header:
//!
//! ```json
//! {"anomalog_summary":1,"profile":"scheduled-tasks","fields":[...],"records":4211,"skipped":0,"files":3,"duplicates_dropped":0,"rejected":0,"hosts":["ws001.corp.example"]}
//! ```
//!
//! then one line per unique event, in the order the collection first showed it:
//!
//! ```json
//! {"channel":"Security","event_id":4698,"values":["\\Evil",...],"count":2,"hosts":[["ws001.corp.example",2]],"unnamed":0,"first_seen":1791187200000000,"last_seen":1791190800000000,"sources":["C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"],"flags":["short-lived"],"raw":{...}}
//! ```
//!
//! `values` are the profile's own fields (`fields` in the header): prevalence is computed
//! over the merged fleet, not per endpoint. `flags` are the event's lifecycle flags, complete
//! on the endpoint since a lifecycle is one task on one host. Times are microseconds since
//! the Unix epoch (UTC). `raw` is the first occurrence as read (what the drill-down and
//! `--raw` show). A summary of another format version or profile is refused with an error
//! naming the file; a line that cannot be read (a truncated file) is skipped and counted.
//! Values an older release normalised otherwise are merged as this release writes them
//! (`profile::features::upgrade_value`: an endpoint need not run the newest anomalog).

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::RawEvent;
use crate::pipeline::Loaded;

/// The format version written in the header; other versions are refused.
pub const FORMAT_VERSION: u32 = 1;

/// The key that opens a summary's first line (what tells a summary from a JSON log).
pub const MAGIC: &str = "{\"anomalog_summary\"";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    anomalog_summary: u32,
    profile: String,
    fields: Vec<String>,
    records: u64,
    skipped: u64,
    files: usize,
    duplicates_dropped: u64,
    rejected: u64,
    hosts: Vec<String>,
    /// Columns a Velociraptor hunt adds to every row.
    #[serde(default, rename = "Fqdn", skip_serializing_if = "Option::is_none")]
    fqdn: Option<String>,
    #[serde(default, rename = "ClientId", skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Raw {
    source: String,
    channel: String,
    event_id: u32,
    provider: String,
    computer: String,
    time: Option<i64>,
    record_id: Option<u64>,
    data: Vec<(String, String)>,
}

impl Raw {
    fn of(ev: &RawEvent) -> Raw {
        Raw {
            source: ev.source.to_string(),
            channel: ev.channel.clone(),
            event_id: ev.event_id,
            provider: ev.provider.clone(),
            computer: ev.computer.clone(),
            time: ev.time,
            record_id: ev.record_id,
            data: ev.data.clone(),
        }
    }

    fn event(self) -> RawEvent {
        RawEvent {
            source: Arc::from(self.source),
            channel: self.channel,
            event_id: self.event_id,
            provider: self.provider,
            computer: self.computer,
            time: self.time,
            record_id: self.record_id,
            data: self.data,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    channel: String,
    event_id: u32,
    values: Vec<String>,
    count: u64,
    hosts: Vec<(String, u64)>,
    #[serde(default)]
    unnamed: u64,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    sources: Vec<String>,
    flags: Vec<String>,
    raw: Raw,
    /// Up to three lifecycles the event takes part in, as the drill-down shows them.
    #[serde(default)]
    lifecycles: Vec<LifeOut>,
    /// Whether it takes part in more.
    #[serde(default)]
    more_lifecycles: bool,
    /// The task definitions this event's occurrences ran under on this endpoint, as the
    /// `task_*` context fields read them ([`crate::frame::tasks::ENRICHED`]), with how many
    /// occurrences: merged centrally so that a summary lends what its logs would.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lent: Vec<(Vec<String>, u64)>,
}

/// A lifecycle in a summary: its steps folded as the drill-down shows them (the event's own
/// marked, long runs reduced to their first and last two), each update's XML diff computed
/// on the endpoint.
#[derive(Debug, Serialize, Deserialize)]
struct LifeOut {
    host: String,
    task: String,
    steps: Vec<StepOut>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StepOut {
    time: Option<i64>,
    event_id: u32,
    what: String,
    detail: String,
    #[serde(default)]
    own: bool,
    /// A marker standing for this many run events folded away...
    #[serde(default)]
    folded: usize,
    /// ...this many of them the event's own.
    #[serde(default)]
    folded_own: usize,
    /// Changed lines with context: `["-", text]`, `["+", text]`, `[" ", text]`.
    #[serde(default)]
    diff: Vec<(String, String)>,
}

impl StepOut {
    fn of(s: &crate::lifecycle::Step) -> StepOut {
        use crate::lifecycle::Change;
        StepOut {
            time: s.time,
            event_id: s.event_id,
            what: s.what.name().to_string(),
            detail: s.detail.clone(),
            own: s.own,
            folded: s.folded,
            folded_own: s.folded_own,
            diff: s
                .diff
                .iter()
                .map(|d| {
                    let sign = match d.change {
                        Change::Same => " ",
                        Change::Removed => "-",
                        Change::Added => "+",
                        Change::Note => "#",
                    };
                    (sign.to_string(), d.text.clone())
                })
                .collect(),
        }
    }

    fn step(self) -> crate::lifecycle::Step {
        use crate::lifecycle::{Change, DiffLine};
        crate::lifecycle::Step {
            occurrence: u32::MAX,
            time: self.time,
            event_id: self.event_id,
            what: crate::lifecycle::What::named(&self.what),
            detail: self.detail,
            diff: self
                .diff
                .into_iter()
                .map(|(sign, text)| DiffLine {
                    change: match sign.as_str() {
                        "-" => Change::Removed,
                        "+" => Change::Added,
                        "#" => Change::Note,
                        _ => Change::Same,
                    },
                    text,
                })
                .collect(),
            own: self.own,
            folded: self.folded,
            folded_own: self.folded_own,
        }
    }
}

/// The header and lines of a loaded collection's summary (its dataset with context, for the
/// flags).
fn lines(loaded: &Loaded) -> (Header, impl Iterator<Item = Line> + '_) {
    let ds = &loaded.dataset;
    let mut hosts: BTreeSet<&str> = BTreeSet::new();
    for e in &ds.uniques {
        hosts.extend(e.hosts.iter().map(String::as_str));
    }
    let header = Header {
        anomalog_summary: FORMAT_VERSION,
        profile: ds.profile.to_string(),
        fields: ds.fields[..ds.profile_fields]
            .iter()
            .map(|f| f.to_string())
            .collect(),
        records: loaded.records,
        skipped: loaded.skipped,
        files: loaded.files,
        duplicates_dropped: ds.duplicates_dropped,
        rejected: ds.rejected,
        hosts: hosts.into_iter().map(str::to_string).collect(),
        fqdn: None,
        client_id: None,
    };
    let mut lent = crate::frame::tasks::lent_counts(ds);
    let lines = ds
        .uniques
        .iter()
        .enumerate()
        .map(move |(u, e)| Line {
            channel: e.channel.clone(),
            event_id: e.event_id,
            values: e.values[..ds.profile_fields]
                .iter()
                .map(|v| v.to_string())
                .collect(),
            count: e.count(),
            hosts: e
                .hosts
                .iter()
                .cloned()
                .zip(e.host_counts.iter().copied())
                .collect(),
            unnamed: e.unnamed,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            sources: e.sources.iter().map(|s| s.to_string()).collect(),
            flags: ds.flags(u).iter().map(|f| f.to_string()).collect(),
            raw: Raw::of(ds.first_raw(u)),
            lifecycles: Vec::new(),
            more_lifecycles: false,
            lent: {
                let mut l: Vec<(Vec<String>, u64)> = std::mem::take(&mut lent[u])
                    .into_iter()
                    .map(|(v, n)| (v.iter().map(|s| s.to_string()).collect(), n))
                    .collect();
                l.sort();
                l
            },
        })
        .enumerate()
        .map(move |(u, mut line)| {
            // The drill-down's lifecycles, folded: a busy task's thousands of runs are a few
            // lines; its updates' XML diffs are made here, where the definitions are.
            if let Some(v) = crate::lifecycle::view(ds, u) {
                line.lifecycles = v
                    .lives
                    .iter()
                    .map(|(host, task, steps)| LifeOut {
                        host: host.clone(),
                        task: task.clone(),
                        steps: steps.iter().map(StepOut::of).collect(),
                    })
                    .collect();
                line.more_lifecycles = v.more;
            }
            line
        });
    (header, lines)
}

/// Write the summary of a loaded collection as JSON Lines.
pub fn write(loaded: &Loaded, out: &mut dyn Write) -> std::io::Result<()> {
    let (header, lines) = lines(loaded);
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    for line in lines {
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The Parquet key-value metadata key that holds a Parquet summary's header (as JSON).
const PARQUET_HEADER_KEY: &str = "anomalog_summary";

/// Write the summary as Parquet: one row per unique event with typed columns (`channel`,
/// `event_id`, `count`, `unnamed`, `first_seen`, `last_seen`) and the nested ones as JSON
/// text (`values`, `hosts`, `sources`, `flags`, `raw`, `lifecycles`), `more_lifecycles`;
/// the header (as JSON) in the file's
/// key-value metadata under `anomalog_summary`. Compressed (zstd).
pub fn write_parquet(loaded: &Loaded, out: &mut dyn Write) -> std::io::Result<()> {
    use polars::prelude::*;
    let (header, lines) = lines(loaded);
    let lines: Vec<Line> = lines.collect();
    let json = |v: &dyn erased::Ser| v.json();
    let col_str = |name: &str, f: &dyn Fn(&Line) -> String| {
        Column::new(name.into(), lines.iter().map(f).collect::<Vec<_>>())
    };
    let mut df = DataFrame::new_infer_height(vec![
        col_str("channel", &|l| l.channel.clone()),
        Column::new(
            "event_id".into(),
            lines.iter().map(|l| l.event_id).collect::<Vec<_>>(),
        ),
        col_str("values", &|l| json(&l.values)),
        Column::new(
            "count".into(),
            lines.iter().map(|l| l.count).collect::<Vec<_>>(),
        ),
        col_str("hosts", &|l| json(&l.hosts)),
        Column::new(
            "unnamed".into(),
            lines.iter().map(|l| l.unnamed).collect::<Vec<_>>(),
        ),
        Column::new(
            "first_seen".into(),
            lines.iter().map(|l| l.first_seen).collect::<Vec<_>>(),
        ),
        Column::new(
            "last_seen".into(),
            lines.iter().map(|l| l.last_seen).collect::<Vec<_>>(),
        ),
        col_str("sources", &|l| json(&l.sources)),
        col_str("flags", &|l| json(&l.flags)),
        col_str("raw", &|l| json(&l.raw)),
        col_str("lifecycles", &|l| json(&l.lifecycles)),
        col_str("lent", &|l| json(&l.lent)),
        Column::new(
            "more_lifecycles".into(),
            lines.iter().map(|l| l.more_lifecycles).collect::<Vec<_>>(),
        ),
    ])
    .map_err(std::io::Error::other)?;
    let header = serde_json::to_string(&header).map_err(std::io::Error::other)?;
    ParquetWriter::new(out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            PARQUET_HEADER_KEY.to_string(),
            header,
        )])))
        .finish(&mut df)
        .map_err(std::io::Error::other)?;
    Ok(())
}

/// A Parquet summary as the JSON Lines text [`parse`] reads; `Err` says why it is none.
pub fn parquet_to_text(bytes: &[u8]) -> Result<String, String> {
    use polars::prelude::*;
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let meta = reader
        .get_metadata()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let header = meta
        .key_value_metadata()
        .as_ref()
        .and_then(|kv| kv.iter().find(|k| k.key == PARQUET_HEADER_KEY))
        .and_then(|k| k.value.clone())
        .ok_or("a Parquet file that is no anomalog summary (no summary header)")?;
    let df = reader
        .finish()
        .map_err(|e| format!("not a readable Parquet summary: {e}"))?;
    let bad = |e: PolarsError| format!("a Parquet summary with unexpected columns: {e}");
    let s = |name: &str| -> Result<StringChunked, String> {
        df.column(name).and_then(|c| c.str().cloned()).map_err(bad)
    };
    let (channel, values, hosts, sources, flags, raw) = (
        s("channel")?,
        s("values")?,
        s("hosts")?,
        s("sources")?,
        s("flags")?,
        s("raw")?,
    );
    let u64s = |name: &str| -> Result<UInt64Chunked, String> {
        df.column(name).and_then(|c| c.u64().cloned()).map_err(bad)
    };
    let i64s = |name: &str| -> Result<Int64Chunked, String> {
        df.column(name).and_then(|c| c.i64().cloned()).map_err(bad)
    };
    let (count, unnamed, first, last) = (
        u64s("count")?,
        u64s("unnamed")?,
        i64s("first_seen")?,
        i64s("last_seen")?,
    );
    let event_id = df
        .column("event_id")
        .and_then(|c| c.u32().cloned())
        .map_err(bad)?;
    let lifecycles = s("lifecycles")?;
    // Written since the `task_*` context fields; older files have none.
    let lent = s("lent").ok();
    let more_lifecycles = df
        .column("more_lifecycles")
        .and_then(|c| c.bool().cloned())
        .map_err(bad)?;
    let mut text = header;
    text.push('\n');
    let parse = |v: Option<&str>| -> serde_json::Value {
        v.and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    for i in 0..df.height() {
        let line = serde_json::json!({
            "channel": channel.get(i),
            "event_id": event_id.get(i),
            "values": parse(values.get(i)),
            "count": count.get(i),
            "hosts": parse(hosts.get(i)),
            "unnamed": unnamed.get(i),
            "first_seen": first.get(i),
            "last_seen": last.get(i),
            "sources": parse(sources.get(i)),
            "flags": parse(flags.get(i)),
            "raw": parse(raw.get(i)),
            "lifecycles": parse(lifecycles.get(i)),
            "more_lifecycles": more_lifecycles.get(i).unwrap_or(false),
            "lent": lent.as_ref().map_or(serde_json::Value::Array(Vec::new()), |l| {
                match parse(l.get(i)) {
                    serde_json::Value::Null => serde_json::Value::Array(Vec::new()),
                    v => v,
                }
            }),
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    Ok(text)
}

/// JSON text of a serialisable value (for the Parquet columns).
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

/// One unique event of a summary, ready to merge.
#[derive(Debug)]
pub struct SummaryEvent {
    pub channel: String,
    pub event_id: u32,
    pub values: Vec<String>,
    pub count: u64,
    pub hosts: Vec<(String, u64)>,
    pub unnamed: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub sources: Vec<String>,
    pub flags: Vec<crate::lifecycle::Flag>,
    pub raw: RawEvent,
    pub lifecycles: Vec<crate::frame::Life>,
    pub more_lifecycles: bool,
    /// Definitions lent to the event's occurrences on the endpoint, with counts.
    pub lent: Vec<(Vec<String>, u64)>,
}

/// A summary as read.
#[derive(Debug)]
pub struct Summary {
    /// Records the summarised collection held.
    pub records: u64,
    /// Records it could not read.
    pub skipped: u64,
    /// Every host it names (also those of unique events lost to a damaged line).
    pub hosts: Vec<String>,
    pub events: Vec<SummaryEvent>,
    /// Lines that could not be read.
    pub bad_lines: u64,
    /// Flags of a newer anomalog, dropped.
    pub unknown_flags: BTreeSet<String>,
    /// The Velociraptor client whose rows these were (its `Fqdn`, else `ClientId`).
    pub client: Option<String>,
    /// Why a further summary in the same file was refused (another profile or version).
    pub refused: Option<String>,
}

/// Longest line read (a unique event with its task XML and hosts); longer ones are skipped.
const MAX_LINE: usize = 16 << 20;

/// Read the summaries in `text` for `profile`, whose fields must be `fields`. A file written
/// by `summarize` holds one; a Velociraptor hunt's combined results hold one per client, each
/// opened by its header row (rows carry the hunt's `FlowId`, `ClientId` and `Fqdn` columns
/// too, which name the client). A header of another format version or profile is an `Err`
/// naming what is wrong (its rows are skipped with it); a row that cannot be read is counted.
pub fn parse(text: &str, profile: &str, fields: &[&str]) -> Result<Vec<Summary>, String> {
    let mut out: Vec<Summary> = Vec::new();
    let mut refused: Option<String> = None;
    // Rows before any header, or after a refused one.
    let mut orphans = 0u64;
    for l in text.lines() {
        if l.trim().is_empty() {
            continue;
        }
        if l.starts_with(MAGIC) {
            match header_of(l, profile, fields) {
                Ok(s) => {
                    refused = None;
                    out.push(s);
                }
                Err(e) => refused = Some(e),
            }
            continue;
        }
        let Some(current) = out.last_mut().filter(|_| refused.is_none()) else {
            orphans += 1;
            continue;
        };
        let line: Line = match (l.len() <= MAX_LINE)
            .then(|| serde_json::from_str::<Line>(l).ok())
            .flatten()
        {
            Some(line) if line.values.len() == fields.len() => line,
            _ => {
                current.bad_lines += 1;
                continue;
            }
        };
        let mut flags = Vec::new();
        for f in &line.flags {
            match crate::lifecycle::Flag::named(f) {
                Some(f) => flags.push(f),
                None => {
                    current
                        .unknown_flags
                        .insert(crate::sanitize::for_terminal(f, 40));
                }
            }
        }
        current.events.push(SummaryEvent {
            channel: line.channel,
            event_id: line.event_id,
            values: line.values,
            count: line.count,
            hosts: line.hosts,
            unnamed: line.unnamed,
            first_seen: line.first_seen,
            last_seen: line.last_seen,
            sources: line.sources,
            flags,
            raw: line.raw.event(),
            lifecycles: line
                .lifecycles
                .into_iter()
                .map(|l| {
                    (
                        l.host,
                        l.task,
                        l.steps.into_iter().map(StepOut::step).collect(),
                    )
                })
                .collect(),
            more_lifecycles: line.more_lifecycles,
            lent: line
                .lent
                .into_iter()
                .filter(|(v, _)| v.len() == crate::frame::tasks::ENRICHED.len())
                .collect(),
        });
    }
    match (out.is_empty(), refused) {
        (true, Some(e)) => Err(e),
        (true, None) => Err("a summary header that cannot be read".into()),
        (false, refused) => {
            if let Some(first) = out.first_mut() {
                first.bad_lines += orphans;
                first.refused = refused;
            }
            Ok(out)
        }
    }
}

/// A summary's header row, checked.
fn header_of(line: &str, profile: &str, fields: &[&str]) -> Result<Summary, String> {
    let header: Header =
        serde_json::from_str(line).map_err(|_| "a summary header that cannot be read")?;
    if header.anomalog_summary != FORMAT_VERSION {
        return Err(format!(
            "summary format version {} (this anomalog reads version {FORMAT_VERSION})",
            header.anomalog_summary
        ));
    }
    if header.profile != profile {
        return Err(format!(
            "a summary of the `{}` profile, not `{profile}` (use --profile {})",
            header.profile, header.profile
        ));
    }
    if header.fields != fields {
        return Err(format!(
            "a summary with the fields of another anomalog version ({} fields, {} expected)",
            header.fields.len(),
            fields.len()
        ));
    }
    Ok(Summary {
        records: header.records,
        skipped: header.skipped,
        hosts: header.hosts,
        client: header.fqdn.or(header.client_id),
        events: Vec::new(),
        bad_lines: 0,
        unknown_flags: BTreeSet::new(),
        refused: None,
    })
}
