//! Writing summaries (`anomalog summarize`): a collection's unique events with their counts
//! per host, first and last seen, lifecycle flags and timelines, in the format
//! [`crate::ingest::summary`] reads (and documents).

use std::collections::BTreeSet;
use std::io::Write;

use crate::ingest::summary::{
    BatchOut, FORMAT_VERSION, Header, LifeOut, Line, PARQUET_HEADER_KEY, PARQUET_ROW_GROUP, Raw,
    StepOut,
};
use crate::pipeline::Loaded;

pub use crate::ingest::summary::MAGIC;

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
        evidence: ds
            .coverage
            .iter()
            .filter(|c| c.evidence.records > 0)
            .map(|c| crate::ingest::summary::HostEvidence {
                host: c.host.clone(),
                evidence: c.evidence,
            })
            .collect(),
    };
    let mut lent = crate::context::tasks::lent_counts(ds);
    let mut batches: Vec<Vec<BatchOut>> = vec![Vec::new(); ds.uniques.len()];
    for ((u, h), on) in crate::context::batches::per_host(ds) {
        batches[u as usize].push(BatchOut {
            host: ds.hosts[h as usize].clone(),
            account: on.batch.account.to_string(),
            tasks: on.batch.tasks,
            span: on.batch.span,
            occurrences: on.occurrences,
            weight: on.weight,
        });
    }
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
            batches: std::mem::take(&mut batches[u]),
        })
        .enumerate()
        .map(move |(u, mut line)| {
            // The drill-down's lifecycles, folded: a busy task's thousands of runs are a few
            // lines; its updates' XML diffs are made here, where the definitions are.
            if let Some(v) = crate::context::lifecycle::view(ds, u) {
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
        col_str("batches", &|l| json(&l.batches)),
        Column::new(
            "more_lifecycles".into(),
            lines.iter().map(|l| l.more_lifecycles).collect::<Vec<_>>(),
        ),
    ])
    .map_err(std::io::Error::other)?;
    let header = serde_json::to_string(&header).map_err(std::io::Error::other)?;
    ParquetWriter::new(out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(PARQUET_ROW_GROUP))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            PARQUET_HEADER_KEY.to_string(),
            header,
        )])))
        .finish(&mut df)
        .map_err(std::io::Error::other)?;
    Ok(())
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
