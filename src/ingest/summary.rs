//! Summaries as read: a collection's unique events with their counts, written where the logs
//! are (`anomalog summarize`, a Velociraptor hunt on each endpoint, a KAPE collection on the
//! analyst's share) and merged centrally as if the logs had been read there.
//!
//! A summary is JSON Lines (or Parquet, one row per line). The first line is the header:
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
//! the Unix epoch (UTC). `raw` is the earliest occurrence as read (what the drill-down and
//! `--raw` show).
//!
//! Everything in a summary is input, and input can be forged: a header of another format
//! version or profile is refused with a message naming what is wrong (its rows are skipped
//! with it); a line that cannot be read, whose counts do not add up, that counts more than
//! the records its header says were read, or whose first sighting is after its last, is
//! skipped and named (`line 3: longer than 16 MiB`); every count is checked, never wrapped.
//! Reading is streamed (a line, or a Parquet row group, at a time) and bounded
//! ([`MAX_LINE`], [`MAX_EVENTS`], [`MAX_ROW_GROUP_BYTES`], ...): what lies past a bound is
//! skipped with a warning.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::FileReport;
use crate::event::RawEvent;

/// The format version written in the header; other versions are refused.
pub const FORMAT_VERSION: u32 = 1;

/// The key that opens a summary's first line (what tells a summary from a JSON log).
pub const MAGIC: &str = "{\"anomalog_summary\"";

/// The Parquet key-value metadata key that holds a Parquet summary's header (as JSON).
pub const PARQUET_HEADER_KEY: &str = "anomalog_summary";

/// Longest line read (a unique event with its task XML and hosts); longer ones are skipped.
pub const MAX_LINE: usize = 16 << 20;
/// Unique events read from one file (a hunt's results hold every client's); the rest are
/// skipped with a warning.
pub const MAX_EVENTS: u64 = 4_000_000;
/// Unique events read from all summaries of one run (100 000 hosts of 200 events each).
pub const MAX_RUN_EVENTS: u64 = 20_000_000;
/// Host names kept from one header (the rest are counted, not kept).
pub const MAX_HEADER_HOSTS: usize = 10_000;
/// Rows read from one Parquet summary.
pub const MAX_PARQUET_ROWS: usize = 2_000_000;
/// Bytes one Parquet row group may inflate to (its metadata's claim, checked before it is
/// decoded); `summarize` writes row groups of [`PARQUET_ROW_GROUP`] rows, far below it.
pub const MAX_ROW_GROUP_BYTES: usize = 32 << 20;
/// Bytes all row groups of one Parquet summary may inflate to.
pub const MAX_PARQUET_BYTES: usize = 1 << 30;
/// Rows per row group `summarize` writes.
pub const PARQUET_ROW_GROUP: usize = 4096;

/// Why a Parquet summary (or a part of it) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// Not Parquet that can be read, or forged so that reading it would do harm.
    #[error("not a readable Parquet file: {0}")]
    Unreadable(String),
    /// A row group, or the file's metadata, that cannot be decoded.
    #[error("{0}")]
    Decode(String),
    /// Columns that are not the summary's.
    #[error("a Parquet summary with unexpected columns: {0}")]
    Columns(String),
}

/// A summary's header.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub anomalog_summary: u32,
    pub profile: String,
    pub fields: Vec<String>,
    pub records: u64,
    pub skipped: u64,
    pub files: usize,
    pub duplicates_dropped: u64,
    pub rejected: u64,
    #[serde(deserialize_with = "capped_hosts")]
    pub hosts: Vec<String>,
    /// What each host's logs could say about tasks ([`super::evidence`]); absent from
    /// summaries of older releases.
    #[serde(
        default,
        deserialize_with = "capped_evidence",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub evidence: Vec<HostEvidence>,
    /// Columns a Velociraptor hunt adds to every row.
    #[serde(default, rename = "Fqdn", skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(default, rename = "ClientId", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// One host's [`super::evidence::Evidence`] in a summary header.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HostEvidence {
    pub host: String,
    #[serde(flatten)]
    pub evidence: super::evidence::Evidence,
}

/// The header's evidence, at most [`MAX_HEADER_HOSTS`] hosts of it kept.
fn capped_evidence<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<HostEvidence>, D::Error> {
    struct Capped;
    impl<'de> serde::de::Visitor<'de> for Capped {
        type Value = Vec<HostEvidence>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of hosts' evidence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(e) = seq.next_element::<HostEvidence>()? {
                if out.len() < MAX_HEADER_HOSTS {
                    out.push(e);
                }
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Capped)
}

/// The header's host list, at most [`MAX_HEADER_HOSTS`] of it kept (a forged header may name
/// millions): the rest are read past, not stored.
fn capped_hosts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Capped;
    impl<'de> serde::de::Visitor<'de> for Capped {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of host names")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while out.len() < MAX_HEADER_HOSTS {
                match seq.next_element::<String>()? {
                    Some(h) => out.push(h),
                    None => return Ok(out),
                }
            }
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(out)
        }
    }
    d.deserialize_seq(Capped)
}

/// The first occurrence of a unique event, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raw {
    pub source: String,
    pub channel: String,
    pub event_id: u32,
    pub provider: String,
    pub computer: String,
    pub time: Option<i64>,
    pub record_id: Option<u64>,
    pub data: Vec<(String, String)>,
}

impl Raw {
    pub fn of(ev: &RawEvent) -> Raw {
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

/// One unique event of a summary.
#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    pub channel: String,
    pub event_id: u32,
    pub values: Vec<String>,
    pub count: u64,
    pub hosts: Vec<(String, u64)>,
    #[serde(default)]
    pub unnamed: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub sources: Vec<String>,
    pub flags: Vec<String>,
    pub raw: Raw,
    /// Up to three lifecycles the event takes part in, as the drill-down shows them.
    #[serde(default)]
    pub lifecycles: Vec<LifeOut>,
    /// Whether it takes part in more.
    #[serde(default)]
    pub more_lifecycles: bool,
    /// The task definitions this event's occurrences ran under on this endpoint, as the
    /// `task_*` context fields read them ([`crate::timeline::ENRICHED`]), with how many
    /// occurrences: merged centrally so that a summary lends what its logs would.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lent: Vec<(Vec<String>, u64)>,
    /// Per host, the event's occurrences that came in Windows' servicing batches there
    /// ([`crate::context::batches`]): merged centrally so that a summary weighs them as its
    /// logs would.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<BatchOut>,
}

/// An event's occurrences on one host that came in servicing batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOut {
    /// The host (lower-case), one of the line's `hosts`.
    pub host: String,
    /// The account of its largest batch (normalised).
    pub account: String,
    /// Distinct tasks of its largest batch.
    pub tasks: u32,
    /// Microseconds from the first change of its largest batch to the last.
    pub span: i64,
    /// Its occurrences on the host that came in batches.
    pub occurrences: u64,
    /// The weight those keep: the sum of `1/n` over them, `n` their batch's tasks.
    pub weight: f64,
}

impl BatchOut {
    /// Whether it can be what a line's occurrences on its host were: at most `on_host` of
    /// them, a weight between nothing and one per occurrence, a batch of several tasks.
    fn fits(&self, on_host: u64) -> bool {
        self.occurrences > 0
            && self.occurrences <= on_host
            && self.weight.is_finite()
            && self.weight >= 0.0
            && self.weight <= self.occurrences as f64
            && self.tasks >= 2
            && self.span >= 0
    }
}

/// A lifecycle in a summary: its steps folded as the drill-down shows them (the event's own
/// marked, long runs reduced to their first and last two), each update's XML diff computed
/// on the endpoint.
#[derive(Debug, Serialize, Deserialize)]
pub struct LifeOut {
    pub host: String,
    pub task: String,
    pub steps: Vec<StepOut>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StepOut {
    pub time: Option<i64>,
    pub event_id: u32,
    pub what: String,
    pub detail: String,
    #[serde(default)]
    pub own: bool,
    /// A marker standing for this many run events folded away...
    #[serde(default)]
    pub folded: usize,
    /// ...this many of them the event's own.
    #[serde(default)]
    pub folded_own: usize,
    /// Changed lines with context: `["-", text]`, `["+", text]`, `[" ", text]`.
    #[serde(default)]
    pub diff: Vec<(String, String)>,
}

impl StepOut {
    pub fn of(s: &crate::timeline::Step) -> StepOut {
        use crate::timeline::Change;
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

    fn step(self) -> crate::timeline::Step {
        use crate::timeline::{Change, DiffLine};
        crate::timeline::Step {
            occurrence: u32::MAX,
            time: self.time,
            event_id: self.event_id,
            what: crate::timeline::What::named(&self.what),
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

/// A summary's header as the merge reads it.
#[derive(Debug, Clone)]
pub struct SummaryInfo {
    /// The input it came from: the file (a zip member: `archive!member`), and in a hunt
    /// download the client (`file (client C.1234)`).
    pub input: String,
    /// Records the summarised collection held.
    pub records: u64,
    /// Records it could not read.
    pub skipped: u64,
    /// Hosts its header names (at most [`MAX_HEADER_HOSTS`]).
    pub hosts: Vec<String>,
    /// The Velociraptor client whose rows these are: its `Fqdn`, which its rows may describe
    /// alone, and its `ClientId`.
    pub fqdn: Option<String>,
    pub client_id: Option<String>,
    /// What each host's logs could say about tasks, by host (lower-case).
    pub evidence: Vec<HostEvidence>,
}

/// One unique event of a summary, checked, ready to merge.
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
    pub flags: Vec<crate::timeline::Flag>,
    pub raw: RawEvent,
    pub lifecycles: Vec<crate::timeline::Life>,
    pub more_lifecycles: bool,
    /// Definitions lent to the event's occurrences on the endpoint, with counts.
    pub lent: Vec<(Vec<String>, u64)>,
    /// Per host (at most one each, one of `hosts`), its occurrences that came in servicing
    /// batches.
    pub batches: Vec<BatchOut>,
}

/// Where summaries go: a sink that merges them ([`crate::frame::Part`]).
pub trait SummarySink {
    /// The profile summaries must be of, and its fields.
    fn expects(&self) -> (&'static str, &'static [&'static str]);
    /// A summary's header was read; the events that follow are its own.
    fn summary(&mut self, info: SummaryInfo);
    /// One checked unique event of the current summary.
    fn summary_event(&mut self, e: SummaryEvent);
}

/// What was wrong with the lines of one file, for its warning.
#[derive(Debug, Default)]
struct Problems {
    bad: u64,
    first: Vec<String>,
}

impl Problems {
    fn add(&mut self, line: usize, why: impl std::fmt::Display) {
        self.bad = self.bad.saturating_add(1);
        if self.first.len() < 3 {
            self.first.push(format!("line {line}: {why}"));
        }
    }
}

/// The state of the summary being read.
struct Current {
    /// The records its header says the collection held: no count may exceed them.
    records: u64,
    /// Occurrences its lines counted so far.
    counted: u64,
}

/// Reads the lines (or Parquet rows) of one file into a [`SummarySink`], checking each.
pub struct Reader<'s> {
    sink: &'s mut dyn SummarySink,
    /// Unique events read from summaries in this run so far, by every reader.
    run: &'s AtomicU64,
    name: String,
    profile: &'static str,
    fields: &'static [&'static str],
    current: Option<Current>,
    /// Why the last header was refused (its rows are skipped with it).
    refused: Option<String>,
    refusals: Vec<String>,
    headers: usize,
    refused_headers: usize,
    /// Rows before any header.
    orphans: u64,
    /// Rows of refused summaries (skipped with their header).
    refused_rows: u64,
    events: u64,
    over_cap: u64,
    problems: Problems,
    unknown_flags: BTreeSet<String>,
    /// Servicing batches that did not fit their line's hosts or counts, dropped.
    bad_batches: u64,
    records: u64,
}

impl<'s> Reader<'s> {
    pub fn new(sink: &'s mut dyn SummarySink, name: &str, run: &'s AtomicU64) -> Reader<'s> {
        let (profile, fields) = sink.expects();
        Reader {
            sink,
            run,
            name: name.to_string(),
            profile,
            fields,
            current: None,
            refused: None,
            refusals: Vec::new(),
            headers: 0,
            refused_headers: 0,
            orphans: 0,
            refused_rows: 0,
            events: 0,
            over_cap: 0,
            problems: Problems::default(),
            unknown_flags: BTreeSet::new(),
            bad_batches: 0,
            records: 0,
        }
    }

    /// One line of text (`line`: its 1-based number, for the warnings).
    pub fn line(&mut self, line: usize, text: &str) {
        let text = text.trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            return;
        }
        if text.len() > MAX_LINE {
            self.problems
                .add(line, format!("longer than {} MiB", MAX_LINE >> 20));
            return;
        }
        if text.starts_with(MAGIC) {
            match serde_json::from_str::<Header>(text) {
                Ok(h) => self.header(line, h),
                Err(e) => self.refuse(format!(
                    "line {line}: a summary header that cannot be read ({})",
                    short(&e)
                )),
            }
            return;
        }
        if self.current.is_none() {
            self.no_summary_row();
            return;
        }
        if self.exhausted() {
            // Not even parsed: it would count more records than its header says were read.
            return self
                .problems
                .add(line, "counts past the records the header says were read");
        }
        match serde_json::from_str::<Line>(text) {
            Ok(l) => self.row(line, l),
            Err(e) => self
                .problems
                .add(line, format!("not a summary line ({})", short(&e))),
        }
    }

    /// Whether the open summary's lines have counted every record its header says was read:
    /// every further line of it would count too many (each counts at least one).
    pub fn exhausted(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.counted >= c.records)
    }

    /// A row met while no summary is open: before any header, or after a refused one.
    fn no_summary_row(&mut self) {
        if self.refused.is_some() {
            self.refused_rows = self.refused_rows.saturating_add(1);
        } else {
            self.orphans = self.orphans.saturating_add(1);
        }
    }

    /// A line too long to hold (a stream skipped it without reading it whole).
    pub fn too_long(&mut self, line: usize) {
        self.problems
            .add(line, format!("longer than {} MiB", MAX_LINE >> 20));
    }

    fn refuse(&mut self, why: String) {
        self.refused_headers += 1;
        if self.refusals.len() < 3 && !self.refusals.contains(&why) {
            self.refusals.push(why.clone());
        }
        self.refused = Some(why);
        self.current = None;
    }

    /// A header (in a hunt's results, one per client).
    pub fn header(&mut self, line: usize, h: Header) {
        self.headers += 1;
        if h.anomalog_summary != FORMAT_VERSION {
            return self.refuse(format!(
                "summary format version {} (this anomalog reads version {FORMAT_VERSION})",
                h.anomalog_summary
            ));
        }
        if h.profile != self.profile {
            return self.refuse(format!(
                "a summary of the `{}` profile, not `{}` (use --profile {})",
                crate::util::sanitize::for_terminal(&h.profile, 40),
                self.profile,
                crate::util::sanitize::for_terminal(&h.profile, 40)
            ));
        }
        if h.fields != self.fields {
            return self.refuse(format!(
                "line {line}: a summary with the fields of another anomalog version ({} fields, {} expected)",
                h.fields.len(),
                self.fields.len()
            ));
        }
        self.refused = None;
        self.records = self.records.saturating_add(h.records);
        self.current = Some(Current {
            records: h.records,
            counted: 0,
        });
        let client = h.fqdn.clone().or_else(|| h.client_id.clone());
        let input = match &client {
            Some(c) => format!("{} (client {c})", self.name),
            None => self.name.clone(),
        };
        self.sink.summary(SummaryInfo {
            input,
            records: h.records,
            skipped: h.skipped,
            hosts: h.hosts,
            fqdn: h.fqdn,
            client_id: h.client_id,
            evidence: h.evidence,
        });
    }

    /// One unique event's row, checked before it is merged.
    pub fn row(&mut self, line: usize, l: Line) {
        let Some(current) = &mut self.current else {
            return self.no_summary_row();
        };
        if self.events >= MAX_EVENTS || self.run.fetch_add(1, Ordering::Relaxed) >= MAX_RUN_EVENTS {
            self.over_cap = self.over_cap.saturating_add(1);
            return;
        }
        if l.values.len() != self.fields.len() {
            return self.problems.add(
                line,
                format!("{} values, {} expected", l.values.len(), self.fields.len()),
            );
        }
        let in_hosts = l
            .hosts
            .iter()
            .fold(l.unnamed, |n, (_, k)| n.saturating_add(*k));
        if l.count == 0 {
            return self.problems.add(line, "a count of 0");
        }
        if in_hosts != l.count {
            return self.problems.add(
                line,
                format!(
                    "its hosts' counts add up to {in_hosts}, not to its count {}",
                    l.count
                ),
            );
        }
        let counted = current.counted.saturating_add(l.count);
        if counted > current.records {
            return self.problems.add(
                line,
                format!(
                    "counts {} occurrences where the header says {} records were read",
                    counted, current.records
                ),
            );
        }
        if let (Some(a), Some(b)) = (l.first_seen, l.last_seen)
            && a > b
        {
            return self.problems.add(line, "first seen after last seen");
        }
        current.counted = counted;
        self.events += 1;
        // A host's batches once, and only as many occurrences as the host has.
        let mut batches: Vec<BatchOut> = Vec::new();
        for b in l.batches.into_iter().take(l.hosts.len()) {
            let on_host = l.hosts.iter().find(|(h, _)| *h == b.host).map(|(_, n)| *n);
            if on_host.is_some_and(|n| b.fits(n)) && !batches.iter().any(|x| x.host == b.host) {
                batches.push(b);
            } else {
                self.bad_batches = self.bad_batches.saturating_add(1);
            }
        }
        let mut flags = Vec::new();
        for f in &l.flags {
            match crate::timeline::Flag::named(f) {
                Some(f) => flags.push(f),
                None => {
                    if self.unknown_flags.len() < 20 {
                        self.unknown_flags
                            .insert(crate::util::sanitize::for_terminal(f, 40));
                    }
                }
            }
        }
        self.sink.summary_event(SummaryEvent {
            channel: l.channel,
            event_id: l.event_id,
            values: l.values,
            count: l.count,
            hosts: l.hosts,
            unnamed: l.unnamed,
            first_seen: l.first_seen,
            last_seen: l.last_seen,
            sources: l.sources,
            flags,
            raw: l.raw.event(),
            lifecycles: l
                .lifecycles
                .into_iter()
                .take(crate::timeline::MAX_LIVES)
                .map(|l| {
                    (
                        l.host,
                        l.task,
                        l.steps.into_iter().map(StepOut::step).collect(),
                    )
                })
                .collect(),
            more_lifecycles: l.more_lifecycles,
            lent: l
                .lent
                .into_iter()
                .filter(|(v, _)| v.len() == crate::timeline::ENRICHED.len())
                .collect(),
            batches,
        });
    }

    /// Say what was read and skipped in the file's report.
    pub fn finish(self, report: &mut FileReport) {
        report.records = report.records.saturating_add(self.records);
        if self.headers == 0 {
            report.problem("not read: no summary header could be read");
            report.skipped = report.skipped.saturating_add(1);
            return;
        }
        if self.refused_headers == self.headers {
            report.skipped = report.skipped.saturating_add(1);
            report.problem(format!("not read: {}", self.refusals.join("; ")));
            return;
        }
        for r in &self.refusals {
            report.problem(format!("a summary in it not read: {r}"));
        }
        if self.problems.bad > 0 {
            report.problem(format!(
                "{} summary line{} skipped ({}); the rest is used",
                self.problems.bad,
                if self.problems.bad == 1 { "" } else { "s" },
                self.problems.first.join("; ")
            ));
        }
        if self.orphans > 0 {
            report.problem(format!(
                "{} line{} before any summary header skipped",
                self.orphans,
                if self.orphans == 1 { "" } else { "s" }
            ));
        }
        if self.over_cap > 0 {
            report.problem(format!(
                "more than {MAX_EVENTS} unique events in this file or {MAX_RUN_EVENTS} in all summaries: {} skipped",
                self.over_cap
            ));
        }
        if self.bad_batches > 0 {
            report.problem(format!(
                "{} servicing batch{} that did not fit its line's hosts or counts dropped (those \
                 occurrences weigh as unbatched)",
                self.bad_batches,
                if self.bad_batches == 1 { "" } else { "es" }
            ));
        }
        if !self.unknown_flags.is_empty() {
            report.problem(format!(
                "lifecycle flags of another anomalog version dropped: {}",
                self.unknown_flags
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        report.skipped = report
            .skipped
            .saturating_add(self.problems.bad)
            .saturating_add(self.over_cap)
            .saturating_add(self.orphans)
            .saturating_add(self.refused_rows);
    }
}

/// The first line of a JSON error, short.
fn short(e: &serde_json::Error) -> String {
    crate::util::sanitize::for_terminal(&e.to_string(), 120)
}

/// Read a summary held as text.
pub fn read_text(
    text: &str,
    name: &str,
    sink: &mut dyn SummarySink,
    run: &AtomicU64,
    report: &mut FileReport,
) {
    let mut r = Reader::new(sink, name, run);
    for (i, l) in text.split('\n').enumerate() {
        r.line(i + 1, l);
    }
    r.finish(report);
}

/// Read a summary from a stream, a line at a time: a line longer than [`MAX_LINE`] is read
/// past in pieces, never held whole.
pub fn read_stream(
    input: &mut dyn BufRead,
    name: &str,
    sink: &mut dyn SummarySink,
    run: &AtomicU64,
    report: &mut FileReport,
) {
    let mut r = Reader::new(sink, name, run);
    let mut buf: Vec<u8> = Vec::new();
    let mut line = 0usize;
    loop {
        line += 1;
        buf.clear();
        match read_line_capped(input, &mut buf, MAX_LINE) {
            Ok(LineRead::End) => break,
            Ok(LineRead::Line) => r.line(line, &String::from_utf8_lossy(&buf)),
            Ok(LineRead::TooLong) => r.too_long(line),
            Err(e) => {
                report.problem(format!("cannot read on at line {line}: {e}"));
                report.skipped = report.skipped.saturating_add(1);
                break;
            }
        }
    }
    r.finish(report);
}

/// What [`read_line_capped`] read.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    Line,
    /// Longer than the cap: read past, not kept.
    TooLong,
    End,
}

/// Read one line (its `\n` dropped) into `buf`, keeping at most `cap` bytes of it: the rest
/// of a longer line is read past.
pub fn read_line_capped(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<LineRead> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => LineRead::End,
                (true, true) => LineRead::TooLong,
                (true, false) => LineRead::Line,
            });
        }
        any = true;
        let (take, done) = match memchr_newline(chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > cap {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        input.consume(if done { take + 1 } else { take });
        if done {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// The header of a Parquet summary (its key-value metadata), if it has one; `Err` when the
/// file is no readable Parquet at all.
pub fn parquet_header<R: polars::io::mmap::MmapBytesReader>(
    reader: &mut polars::prelude::ParquetReader<R>,
) -> Result<Option<String>, SummaryError> {
    let meta = reader
        .get_metadata()
        .map_err(|e| SummaryError::Unreadable(short_text(&e.to_string())))?;
    Ok(meta
        .key_value_metadata()
        .as_ref()
        .and_then(|kv| kv.iter().find(|k| k.key == PARQUET_HEADER_KEY))
        .and_then(|k| k.value.clone()))
}

fn short_text(s: &str) -> String {
    crate::util::sanitize::for_terminal(s.lines().next().unwrap_or_default(), 200)
}

/// A row group as its metadata describes it: rows, and the bytes it inflates to (the larger
/// of the group's and its columns' claims).
#[derive(Debug, Clone, Copy)]
struct Group {
    rows: usize,
    bytes: usize,
}

fn groups_of(meta: &polars::io::parquet::read::FileMetadata) -> Vec<Group> {
    meta.row_groups
        .iter()
        .map(|g| {
            let columns: usize = g
                .parquet_columns()
                .iter()
                .map(|c| usize::try_from(c.uncompressed_size()).unwrap_or(usize::MAX))
                .fold(0usize, usize::saturating_add);
            Group {
                rows: g.num_rows(),
                bytes: g.total_byte_size().max(columns),
            }
        })
        .collect()
}

/// Why row group `g` (of `n`) is not read, given what was read before it, and whether the
/// groups after it are not read either.
fn refused(g: usize, n: usize, group: Group, rows: usize, bytes: usize) -> Option<(String, bool)> {
    if group.bytes > MAX_ROW_GROUP_BYTES {
        return Some((
            format!(
                "row group {} of {n} inflates to {} MiB (at most {} MiB are read)",
                g + 1,
                group.bytes >> 20,
                MAX_ROW_GROUP_BYTES >> 20
            ),
            false,
        ));
    }
    if rows.saturating_add(group.rows) > MAX_PARQUET_ROWS {
        return Some((
            format!(
                "more than {MAX_PARQUET_ROWS} rows: row group {} of {n} and those after it skipped",
                g + 1
            ),
            true,
        ));
    }
    if bytes.saturating_add(group.bytes) > MAX_PARQUET_BYTES {
        return Some((
            format!(
                "more than {} MiB inflated: row group {} of {n} and those after it skipped",
                MAX_PARQUET_BYTES >> 20,
                g + 1
            ),
            true,
        ));
    }
    None
}

/// Rows decoded at a time: a row group of a million repeated rows costs a slice's memory.
const PARQUET_SLICE: usize = 8192;

/// One row group of a Parquet summary, decoded a slice of [`PARQUET_SLICE`] rows at a time.
struct Slices<'a> {
    bytes: &'a Arc<[u8]>,
    meta: &'a Arc<polars::io::parquet::read::FileMetadata>,
    /// Its first row in the file, and its rows.
    start: usize,
    rows: usize,
}

impl Slices<'_> {
    /// Hand its rows to `r`; returns how many were left unread because the summary's
    /// records were all counted before them.
    fn read(&self, r: &mut Reader<'_>) -> Result<u64, SummaryError> {
        use polars::prelude::*;
        let end = self.start + self.rows;
        let mut at = self.start;
        while at < end {
            if r.exhausted() {
                return Ok((end - at) as u64);
            }
            let n = PARQUET_SLICE.min(end - at);
            let mut slice = ParquetReader::new(std::io::Cursor::new(self.bytes.clone()));
            slice.set_metadata(self.meta.clone());
            let df = slice
                .read_parallel(ParallelStrategy::None)
                .with_slice(Some((at, n)))
                .finish()
                .map_err(|e| SummaryError::Decode(e.to_string()))?;
            rows_of(&df, at, r)?;
            at += n;
        }
        Ok(0)
    }
}

/// Read a Parquet summary a row group at a time (a group in slices of [`PARQUET_SLICE`]
/// rows), each group checked against the bounds its metadata claims before it is decoded.
/// Returns `false` when the file is a Parquet table that is no summary (a `rank` export:
/// passed over).
pub fn read_parquet(
    bytes: Arc<[u8]>,
    name: &str,
    sink: &mut dyn SummarySink,
    run: &AtomicU64,
    report: &mut FileReport,
) -> bool {
    use polars::prelude::*;
    let fail = |report: &mut FileReport, why: String| {
        report.problem(why);
        report.skipped = report.skipped.saturating_add(1);
    };
    if let Err(e) = super::parquet_check::check_footer(&bytes) {
        fail(report, SummaryError::Unreadable(e).to_string());
        return true;
    }
    let open = || std::io::Cursor::new(bytes.clone());
    let mut reader = ParquetReader::new(open());
    let header = match parquet_header(&mut reader) {
        Ok(Some(h)) => h,
        Ok(None) => return false,
        Err(e) => {
            fail(report, e.to_string());
            return true;
        }
    };
    let meta = match reader.get_metadata() {
        Ok(m) => m.clone(),
        Err(e) => {
            let e = SummaryError::Unreadable(short_text(&e.to_string()));
            fail(report, e.to_string());
            return true;
        }
    };
    let groups = groups_of(&meta);
    let mut r = Reader::new(sink, name, run);
    r.line(1, &header);
    let (mut offset, mut rows_read, mut inflated) = (0usize, 0usize, 0usize);
    let mut unread = 0u64;
    for (g, &group) in groups.iter().enumerate() {
        let start = offset;
        offset = offset.saturating_add(group.rows);
        if unread > 0 || r.exhausted() {
            unread = unread.saturating_add(group.rows as u64);
            continue;
        }
        if let Some((why, stop)) = refused(g, groups.len(), group, rows_read, inflated) {
            report.problem(why);
            report.skipped = report.skipped.saturating_add(group.rows as u64);
            if stop {
                break;
            }
            continue;
        }
        // Every page header checked before polars sizes a buffer by it.
        if let Err(why) = meta.row_groups[g]
            .parquet_columns()
            .iter()
            .try_for_each(|c| {
                super::parquet_check::check_chunk(
                    &bytes,
                    c.byte_range(),
                    c.num_values(),
                    group.rows,
                    MAX_ROW_GROUP_BYTES,
                )
            })
        {
            report.problem(format!(
                "row group {} of {} not read: {why}",
                g + 1,
                groups.len()
            ));
            report.skipped = report.skipped.saturating_add(group.rows as u64);
            continue;
        }
        rows_read += group.rows;
        inflated += group.bytes;
        let slices = Slices {
            bytes: &bytes,
            meta: &meta,
            start,
            rows: group.rows,
        };
        match slices.read(&mut r) {
            Ok(left) => unread = unread.saturating_add(left),
            Err(e) => fail(
                report,
                format!(
                    "row group {} of {}: {}",
                    g + 1,
                    groups.len(),
                    short_text(&e.to_string())
                ),
            ),
        }
    }
    if unread > 0 {
        report.problem(format!(
            "{unread} rows not read: the rows before them count every record the header says was read"
        ));
        report.skipped = report.skipped.saturating_add(unread);
    }
    r.finish(report);
    true
}

/// Each row of a Parquet summary's row group as a [`Line`] (`start`: the row group's first
/// row, for line numbers: the header is line 1, row `k` line `k + 2`).
fn rows_of(
    df: &polars::prelude::DataFrame,
    start: usize,
    r: &mut Reader<'_>,
) -> Result<(), SummaryError> {
    use polars::prelude::*;
    let bad = |e: PolarsError| SummaryError::Columns(short_text(&e.to_string()));
    let s = |name: &str| -> Result<StringChunked, SummaryError> {
        df.column(name).and_then(|c| c.str().cloned()).map_err(bad)
    };
    let (channel, values, hosts, sources, flags, raw, lifecycles) = (
        s("channel")?,
        s("values")?,
        s("hosts")?,
        s("sources")?,
        s("flags")?,
        s("raw")?,
        s("lifecycles")?,
    );
    // Written since the `task_*` context fields; older files have none.
    let lent = s("lent").ok();
    // Written since servicing batches; older files have none.
    let batches = s("batches").ok();
    let u64s = |name: &str| -> Result<UInt64Chunked, SummaryError> {
        df.column(name).and_then(|c| c.u64().cloned()).map_err(bad)
    };
    let i64s = |name: &str| -> Result<Int64Chunked, SummaryError> {
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
    let more = df
        .column("more_lifecycles")
        .and_then(|c| c.bool().cloned())
        .map_err(bad)?;
    fn json<T: serde::de::DeserializeOwned + Default>(v: Option<&str>) -> Result<T, String> {
        match v {
            None => Ok(T::default()),
            Some(v) => serde_json::from_str(v).map_err(|e| short(&e)),
        }
    }
    for i in 0..df.height() {
        let line = start + i + 2;
        let parsed = (|| -> Result<Line, String> {
            let raw: Option<Raw> = json(raw.get(i))?;
            Ok(Line {
                channel: channel.get(i).unwrap_or_default().to_string(),
                event_id: event_id.get(i).ok_or("no event id")?,
                values: json(values.get(i))?,
                count: count.get(i).ok_or("no count")?,
                hosts: json(hosts.get(i))?,
                unnamed: unnamed.get(i).unwrap_or(0),
                first_seen: first.get(i),
                last_seen: last.get(i),
                sources: json(sources.get(i))?,
                flags: json(flags.get(i))?,
                raw: raw.ok_or("no raw record")?,
                lifecycles: json(lifecycles.get(i))?,
                more_lifecycles: more.get(i).unwrap_or(false),
                lent: match &lent {
                    Some(l) => json(l.get(i))?,
                    None => Vec::new(),
                },
                batches: match &batches {
                    Some(b) => json(b.get(i))?,
                    None => Vec::new(),
                },
            })
        })();
        match parsed {
            Ok(l) => r.row(line, l),
            Err(e) => r.problems.add(line, format!("not a summary row ({e})")),
        }
    }
    Ok(())
}
