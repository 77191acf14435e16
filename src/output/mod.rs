//! Headless output of a ranking: table, CSV, JSON Lines, JSON, Parquet.
//!
//! The JSON Lines contract (README, "Output"): one object per unique event, best first, with
//! `rank`, `score`, `count`, `hosts`, `first_seen`, `last_seen`, `channel`, `event_id` and
//! `fields`. Keys are only ever added, never renamed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use polars::prelude::*;
use serde_json::{Map, Value, json};

use crate::event::rfc3339;
use crate::frame::{Dataset, RowKind};
use crate::model::{Ranking, TaskRanking};
use crate::util::sanitize::for_terminal;

pub mod hosts;
mod parquet_plain;
pub mod report;
pub mod schema;
pub mod summary;
use crate::session::{Entry, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Jsonl,
    Json,
    Parquet,
    /// A self-contained HTML report to share (`anomalog report`).
    Html,
}

/// The file extensions each format answers to (the first is the one written).
const EXTENSIONS: &[(Format, &[&str])] = &[
    (Format::Csv, &["csv"]),
    (Format::Jsonl, &["jsonl", "ndjson"]),
    (Format::Json, &["json"]),
    (Format::Parquet, &["parquet"]),
    (Format::Table, &["txt"]),
    (Format::Html, &["html", "htm"]),
];

impl Format {
    /// The extension a file of this format is given.
    pub fn extension(self) -> &'static str {
        EXTENSIONS
            .iter()
            .find(|(f, _)| *f == self)
            .and_then(|(_, x)| x.first())
            .copied()
            .unwrap_or("txt")
    }

    /// The format a file name's extension names: `Ok(None)` without an extension; an
    /// extension no format has is an error naming the ones there are (`out.xlsx` must not
    /// quietly get another format).
    pub fn from_path(path: &std::path::Path) -> Result<Option<Format>, String> {
        let Some(ext) = path.extension() else {
            return Ok(None);
        };
        let ext = ext.to_string_lossy().to_ascii_lowercase();
        EXTENSIONS
            .iter()
            .find(|(_, xs)| xs.contains(&ext.as_str()))
            .map(|(f, _)| Some(*f))
            .ok_or_else(|| {
                let known: Vec<String> = EXTENSIONS
                    .iter()
                    .flat_map(|(_, xs)| xs.iter().map(|x| format!(".{x}")))
                    .collect();
                format!(
                    "no format is written as .{}: name the file {} (or give the format)",
                    crate::util::sanitize::for_terminal(&ext, 40),
                    known.join(", ")
                )
            })
    }
}

/// The ranked unique events to write: indices into the dataset, best first.
pub struct Rows<'a> {
    pub ds: &'a Dataset,
    pub ranking: &'a Ranking,
    pub order: Vec<usize>,
    /// Lifecycle flags per unique event (see [`crate::timeline`]).
    pub flags: Cow<'a, [Vec<crate::timeline::Flag>]>,
    /// The triage entries (marks, verdicts, notes) that go with the rows, by unique event.
    pub entries: BTreeMap<usize, Entry>,
    /// Rank (0-based) of every unique event in `ranking`: an export of some rows keeps
    /// their ranks.
    ranks: Vec<usize>,
    /// Add each row's first occurrence as it was read (`raw`).
    pub raw: bool,
    /// The table format's width (a terminal's); `None`: the fixed layout.
    pub width: Option<usize>,
}

impl<'a> Rows<'a> {
    /// The logged events, best first (the first `top` when given).
    pub fn new(ds: &'a Dataset, ranking: &'a Ranking, top: Option<usize>) -> Self {
        Rows::of_kind(ds, ranking, RowKind::Event, top)
    }

    /// The rows of one list (events or definitions), best first.
    pub fn of_kind(
        ds: &'a Dataset,
        ranking: &'a Ranking,
        kind: RowKind,
        top: Option<usize>,
    ) -> Self {
        let mut order = ranking.list(ds, kind);
        if let Some(n) = top {
            order.truncate(n);
        }
        Rows::with_order(ds, ranking, order)
    }

    /// These unique events, in this order.
    pub fn with_order(ds: &'a Dataset, ranking: &'a Ranking, order: Vec<usize>) -> Self {
        Rows {
            ds,
            ranking,
            order,
            // Joined once by `crate::context::add`; a bare dataset joins them here.
            flags: if ds.lifecycles.flags.len() == ds.uniques.len() {
                Cow::Borrowed(&ds.lifecycles.flags)
            } else {
                Cow::Owned(crate::context::lifecycle::flags(ds))
            },
            entries: BTreeMap::new(),
            ranks: ranking.ranks_in_lists(ds),
            raw: false,
            width: None,
        }
    }

    /// Fit the table format to a terminal `width` columns wide.
    pub fn with_width(mut self, width: Option<usize>) -> Self {
        self.width = width;
        self
    }

    /// Add each row's first occurrence, as read, to the rows (`--raw`).
    pub fn with_raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }

    /// The first occurrence of unique event `u` as it was read: where, when, and every data
    /// field with its original spelling (task names unmasked, the task XML whole).
    pub fn raw_event(&self, u: usize) -> Option<Value> {
        let ev = self.ds.first_raw(u);
        let data: Map<String, Value> = ev
            .data
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        Some(json!({
            "computer": ev.computer,
            "time": rfc3339(ev.time),
            "record_id": ev.record_id,
            "channel": ev.channel,
            "event_id": ev.event_id,
            "source": &*ev.source,
            "data": data,
        }))
    }

    /// Export the session's marks, verdicts and notes with the rows.
    pub fn with_session(mut self, session: Option<&Session>) -> Self {
        if let Some(s) = session {
            self.entries = s.present().map(|(u, e)| (u, e.clone())).collect();
        }
        self
    }

    /// Export these triage entries with the rows.
    pub fn with_entries(mut self, entries: BTreeMap<usize, Entry>) -> Self {
        self.entries = entries;
        self
    }

    fn entry(&self, u: usize) -> Option<&Entry> {
        self.entries.get(&u)
    }

    /// The rank (1-based) of unique event `u` in the ranking.
    fn rank(&self, u: usize) -> usize {
        self.ranks.get(u).map_or(0, |r| r + 1)
    }

    /// `{"name", "name_variants", "command"}`: the name and command line as read.
    fn display(&self, u: usize) -> Value {
        let (name, variants) = self.ds.name_as_read(u);
        json!({
            "name": name,
            "name_variants": variants,
            "command": self.ds.command_as_read(u),
        })
    }

    fn top_fields(&self, u: usize) -> String {
        self.ranking
            .top_fields(self.ds, u, 3)
            .iter()
            .map(|(f, s)| format!("{f}:{s:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One JSON object per row (the JSONL contract).
    pub fn json_row(&self, u: usize) -> Value {
        let e = &self.ds.uniques[u];
        let mut fields = Map::new();
        for (name, v) in self.ds.fields.iter().zip(&e.values) {
            if !v.is_empty() {
                fields.insert((*name).to_string(), Value::String(v.to_string()));
            }
        }
        let mut row = json!({
            "rank": self.rank(u),
            "score": round3(self.ranking.scores[u]),
            "count": e.count(),
            "hosts": e.hosts,
            "first_seen": rfc3339(e.first_seen),
            "last_seen": rfc3339(e.last_seen),
            "channel": e.channel,
            "event_id": e.event_id,
            "fields": fields,
            "model": self.ranking.model.name(),
            "prevalence": {"hosts": e.hosts.len(), "fleet": self.ds.fleet_size()},
            "flags": self.flags[u],
            "display": self.display(u),
        });
        let obj = row.as_object_mut().expect("an object");
        if e.kind() == RowKind::Definition {
            let raw = self.ds.first_raw(u);
            obj.insert("task".into(), json!(self.ds.name_as_read(u).0));
            obj.insert(
                "format".into(),
                json!(match e.event_id {
                    crate::event::DEF_JOB => "job",
                    crate::event::DEF_REG => "registry",
                    _ => "xml",
                }),
            );
            for (key, field) in [
                ("file", "File"),
                ("host_from", "HostFrom"),
                ("host_aliases", "HostAliases"),
                ("task_id", "TaskId"),
                ("tree_sd", "TreeSD"),
                ("tree_index", "TreeIndex"),
                ("file_state", "FileState"),
                ("starts_from", "StartsFrom"),
            ] {
                if let Some(v) = raw.get(field) {
                    obj.insert(key.into(), json!(v));
                }
            }
        }
        if let Some(fe) = self.field_errors(u) {
            obj.insert("field_errors".into(), fe);
        }
        if let Some(ex) = self.expected(u) {
            obj.insert("expected".into(), ex);
        }
        let reasons =
            crate::model::evidence::reasons(self.ds, self.ranking, u, crate::model::evidence::SAID);
        if !reasons.is_empty() {
            obj.insert("reasons".into(), json!(reasons));
        }
        if self.raw
            && let Some(r) = self.raw_event(u)
        {
            obj.insert("raw".into(), r);
        }
        if let Some(t) = self.entry(u) {
            if t.marked {
                obj.insert("marked".into(), json!(true));
            }
            if let Some(v) = t.verdict {
                obj.insert("verdict".into(), json!(v.name()));
            }
            if !t.note.is_empty() {
                obj.insert("note".into(), json!(t.note));
            }
        }
        obj.insert(
            "sources".into(),
            json!(e.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        );
        row
    }

    /// Fields worth reporting for unique event `u`: those with a value, or a real loss.
    fn reported_fields(&self, u: usize) -> impl Iterator<Item = (usize, &'static str)> + '_ {
        let e = &self.ds.uniques[u];
        self.ds
            .fields
            .iter()
            .enumerate()
            .filter(move |(i, _)| {
                !e.values[*i].is_empty() || self.ranking.field_scores[u][*i] > 0.01
            })
            .map(|(i, f)| (i, *f))
    }

    /// `{field: {"loss": x, "z": z}}`, or `None` when the model gives no per-field losses.
    pub fn field_errors(&self, u: usize) -> Option<Value> {
        let z = self.ranking.field_z.get(u);
        let mut m = Map::new();
        for (i, f) in self.reported_fields(u) {
            let mut o = Map::new();
            o.insert(
                "loss".into(),
                json!(round3(f64::from(self.ranking.field_scores[u][i]))),
            );
            if let Some(z) = z {
                o.insert("z".into(), json!(round3(f64::from(z[i]))));
            }
            if let Some(&(conditional, rarity)) =
                self.ranking.field_parts.get(u).and_then(|p| p.get(i))
            {
                o.insert("conditional".into(), json!(round3(f64::from(conditional))));
                o.insert("rarity".into(), json!(round3(f64::from(rarity))));
            }
            m.insert(f.to_string(), Value::Object(o));
        }
        Some(Value::Object(m))
    }

    /// `{field: {"value": v, "p": p}}`, or `None` when the model gives no expected values.
    pub fn expected(&self, u: usize) -> Option<Value> {
        let ex = self.ranking.expected.get(u)?;
        let mut m = Map::new();
        for (i, f) in self.reported_fields(u) {
            let (v, p) = &ex[i];
            m.insert(
                f.to_string(),
                json!({"value": v.to_string(), "p": round3(f64::from(*p))}),
            );
        }
        Some(Value::Object(m))
    }

    /// The rows as a DataFrame ([`schema::EVENT_COLUMNS`]); `defuse` applies CSV formula
    /// defusing to text cells.
    pub fn dataframe(&self, defuse: bool) -> PolarsResult<DataFrame> {
        let rows: Vec<Value> = self.order.iter().map(|&u| self.json_row(u)).collect();
        let shape = schema::Shape {
            fields: &self.ds.fields,
            raw: self.raw,
        };
        schema::dataframe(&rows, schema::EVENT_COLUMNS, &shape, defuse, &|_, k| {
            self.top_fields(self.order[k])
        })
    }

    pub fn write(&self, format: Format, out: &mut dyn Write) -> Result<()> {
        write_as(
            format,
            out,
            &mut self.order.iter().map(|&u| self.json_row(u)),
            &|defuse| self.dataframe(defuse),
            &|out| self.write_table(out),
            &|out| self.write_report(out),
        )
    }

    /// The HTML report of these rows, and of every row of their list an analyst marked,
    /// judged or noted.
    fn write_report(&self, out: &mut dyn Write) -> Result<()> {
        let kind = self
            .order
            .first()
            .map_or(RowKind::Event, |&u| self.ds.uniques[u].kind());
        // When each spread, from its occurrences (bounded per row).
        let spreads = self
            .order
            .iter()
            .map(|&u| {
                if self.ds.uniques[u].occurrences.len() > crate::context::tasks::SPREAD_OCCURRENCES
                {
                    return Vec::new();
                }
                crate::context::tasks::spread(self.ds, [u])
            })
            .collect();
        let mut judged: Vec<usize> = self
            .entries
            .keys()
            .copied()
            .filter(|&u| u < self.ds.uniques.len() && self.ds.uniques[u].kind() == kind)
            .collect();
        judged.sort_by_key(|&u| self.rank(u));
        report::write(
            &report::Report {
                ds: self.ds,
                rows_are: match kind {
                    RowKind::Event => "unique events",
                    RowKind::Definition => "task definitions",
                },
                top: self.order.iter().map(|&u| self.json_row(u)).collect(),
                spreads,
                judged: judged.into_iter().map(|u| self.json_row(u)).collect(),
            },
            out,
        )
    }

    /// A fixed-width table for reading in a terminal; every log string is sanitised.
    fn write_table(&self, out: &mut dyn Write) -> Result<()> {
        // The profile's headline fields: name, user, command (+ arguments).
        let [name, user, command, _] = self.ds.headline;
        let [nw, uw, cw] = text_widths(self.width);
        let cols = [(name, nw), (user, uw), (command, cw)];
        let fit = |line: String| fit_line(line, self.width);
        writeln!(
            out,
            "{}",
            fit(format!(
                "{:>4} {:>7} {:>6} {:>5} {:>5}  {:<nw$} {:<uw$} {:<cw$} why",
                "rank", "score", "count", "hosts", "event", "name", "user", "command"
            ))
        )?;
        for &u in &self.order {
            let e = &self.ds.uniques[u];
            let mut line = format!(
                "{:>4} {:>7.2} {:>6} {:>5} {:>5} ",
                self.rank(u),
                self.ranking.scores[u],
                e.count(),
                e.hosts.len(),
                e.event_id
            );
            for (field, width) in cols {
                let v = if field == name {
                    self.ds.name_as_read(u).0.to_string()
                } else if field == command {
                    self.ds.command_as_read(u).into_owned()
                } else {
                    self.ds.value(u, field).to_string()
                };
                let v = for_terminal(&v, width - 1);
                line.push_str(&format!(" {v:<width$}"));
            }
            line.push_str(&format!(" {}", self.top_fields(u)));
            writeln!(out, "{}", fit(line))?;
        }
        Ok(())
    }
}

/// The table's name, user and command widths: fixed (44, 26, 48) without a terminal, else
/// shared out of its width after the numbers (32 columns) with room left for `why`.
fn text_widths(width: Option<usize>) -> [usize; 3] {
    let Some(w) = width else {
        return [44, 26, 48];
    };
    let room = w.saturating_sub(36);
    [
        (room * 30 / 100).clamp(12, 44),
        (room * 17 / 100).clamp(8, 26),
        (room * 33 / 100).clamp(12, 48),
    ]
}

/// A table line: trailing blanks dropped, and cut to the terminal's width when there is one
/// (a wrapped table cannot be read).
fn fit_line(line: String, width: Option<usize>) -> String {
    let line = line.trim_end();
    match width {
        Some(w) => crate::util::cut::end_ellipsis(line, w),
        None => line.to_string(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The ranked tasks to write ([`crate::frame::Tasks`], `rank --by task`): indices into the
/// dataset's tasks, best first. A task ranks where its best-ranked event does.
pub struct TaskRows<'a> {
    pub ds: &'a Dataset,
    pub ranking: &'a Ranking,
    pub tasks: TaskRanking,
    pub order: Vec<usize>,
    /// Triage entries by task.
    pub entries: BTreeMap<usize, Entry>,
    ranks: Vec<usize>,
    /// The table format's width (a terminal's); `None`: the fixed layout.
    pub width: Option<usize>,
}

impl<'a> TaskRows<'a> {
    /// These tasks, in this order.
    pub fn new(ds: &'a Dataset, ranking: &'a Ranking, order: Vec<usize>) -> Self {
        let tasks = TaskRanking::new(ds, ranking);
        let ranks = tasks.ranks();
        TaskRows {
            ds,
            ranking,
            tasks,
            order,
            entries: BTreeMap::new(),
            ranks,
            width: None,
        }
    }

    /// Fit the table format to a terminal `width` columns wide.
    pub fn with_width(mut self, width: Option<usize>) -> Self {
        self.width = width;
        self
    }

    /// Every task, best first (the first `top` when given).
    pub fn ranked(ds: &'a Dataset, ranking: &'a Ranking, top: Option<usize>) -> Self {
        let mut rows = TaskRows::new(ds, ranking, Vec::new());
        let mut order = rows.tasks.order.clone();
        if let Some(n) = top {
            order.truncate(n);
        }
        rows.order = order;
        rows
    }

    /// Export the session's task marks, verdicts and notes with the rows.
    pub fn with_session(mut self, session: Option<&Session>) -> Self {
        if let Some(s) = session {
            self.entries = s.present_tasks().map(|(t, e)| (t, e.clone())).collect();
        }
        self
    }

    pub fn with_entries(mut self, entries: BTreeMap<usize, Entry>) -> Self {
        self.entries = entries;
        self
    }

    fn rank(&self, t: usize) -> usize {
        self.ranks.get(t).map_or(0, |r| r + 1)
    }

    /// The task's unique events, best first: (event, its rank 1-based).
    fn events(&self, t: usize) -> Vec<(usize, usize)> {
        let mut ev: Vec<(usize, usize)> = self.ds.tasks.tasks[t]
            .uniques
            .iter()
            .map(|&u| {
                let u = u as usize;
                (u, self.tasks.event_rank.get(u).map_or(0, |r| r + 1))
            })
            .collect();
        ev.sort_by_key(|&(_, r)| r);
        ev
    }

    /// One JSON object per task (README, "Output": task rows).
    pub fn json_row(&self, t: usize) -> Value {
        let task = &self.ds.tasks.tasks[t];
        let events: Vec<Value> = self
            .events(t)
            .into_iter()
            .map(|(u, rank)| {
                json!({
                    "key": crate::session::key(self.ds, u),
                    "rank": rank,
                    "event_id": self.ds.uniques[u].event_id,
                    "count": self.ds.uniques[u].count(),
                })
            })
            .collect();
        // A task counts both what its logs recorded and the definitions found on the hosts.
        let (mut definitions, mut logged) = (0u64, 0u64);
        for &u in &task.uniques {
            let e = &self.ds.uniques[u as usize];
            match e.kind() {
                RowKind::Definition => definitions = definitions.saturating_add(e.count()),
                RowKind::Event => logged = logged.saturating_add(e.count()),
            }
        }
        let mut row = json!({
            "rank": self.rank(t),
            "task": &*task.name,
            "name_variants": task.variants,
            "task_key": &*task.key,
            "score": round3(self.tasks.scores[t]),
            "count": task.count,
            "hosts": task.hosts,
            "prevalence": {"hosts": task.hosts.len(), "fleet": self.ds.fleet_size()},
            "flags": task.flags,
            "first_seen": rfc3339(task.first_seen),
            "last_seen": rfc3339(task.last_seen),
            "event_ids": task.event_ids,
            // When it spread: the first time each host had any of its events or definitions.
            "first_seen_per_host": task
                .spread
                .iter()
                .map(|(h, t)| (h.clone(), Value::String(rfc3339(Some(*t)))))
                .collect::<Map<String, Value>>(),
            "definitions": definitions,
            "logged": logged,
            "events": events,
            "model": self.ranking.model.name(),
        });
        if let Some(e) = self.entries.get(&t)
            && let Some(obj) = row.as_object_mut()
        {
            if e.marked {
                obj.insert("marked".into(), json!(true));
            }
            if let Some(v) = e.verdict {
                obj.insert("verdict".into(), json!(v.name()));
            }
            if !e.note.is_empty() {
                obj.insert("note".into(), json!(e.note));
            }
        }
        row
    }

    /// The rows as a DataFrame ([`schema::TASK_COLUMNS`]); `defuse` applies CSV formula
    /// defusing to text cells.
    pub fn dataframe(&self, defuse: bool) -> PolarsResult<DataFrame> {
        let rows: Vec<Value> = self.order.iter().map(|&t| self.json_row(t)).collect();
        let shape = schema::Shape {
            fields: &[],
            raw: false,
        };
        schema::dataframe(&rows, schema::TASK_COLUMNS, &shape, defuse, &|_, _| {
            String::new()
        })
    }

    pub fn write(&self, format: Format, out: &mut dyn Write) -> Result<()> {
        write_as(
            format,
            out,
            &mut self.order.iter().map(|&t| self.json_row(t)),
            &|defuse| self.dataframe(defuse),
            &|out| self.write_table(out),
            &|out| {
                let mut judged: Vec<usize> = self
                    .entries
                    .keys()
                    .copied()
                    .filter(|&t| t < self.ds.tasks.tasks.len())
                    .collect();
                judged.sort_by_key(|&t| self.rank(t));
                report::write(
                    &report::Report {
                        ds: self.ds,
                        rows_are: "tasks",
                        top: self.order.iter().map(|&t| self.json_row(t)).collect(),
                        spreads: self
                            .order
                            .iter()
                            .map(|&t| self.ds.tasks.tasks[t].spread.clone())
                            .collect(),
                        judged: judged.into_iter().map(|t| self.json_row(t)).collect(),
                    },
                    out,
                )
            },
        )
    }

    /// A fixed-width table of the tasks; every log string is sanitised.
    fn write_table(&self, out: &mut dyn Write) -> Result<()> {
        let ids = |t: usize| {
            self.ds.tasks.tasks[t]
                .event_ids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        // The flags' short names, as the UI's list shows them (JSON Lines has the long).
        let flags = |t: usize| {
            self.ds.tasks.tasks[t]
                .flags
                .iter()
                .map(|f| f.short())
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Flags and event ids as wide as the rows need; the task's name what the terminal
        // leaves (20 to 60 columns), cut in the middle keeping its leaf.
        let fw = self
            .order
            .iter()
            .map(|&t| flags(t).chars().count())
            .max()
            .unwrap_or(0)
            .clamp(5, 24);
        let iw = self
            .order
            .iter()
            .map(|&t| ids(t).chars().count())
            .max()
            .unwrap_or(0)
            .clamp(9, 24);
        let nw = self
            .width
            .map_or(60, |w| w.saturating_sub(36 + fw + 1 + iw).clamp(20, 60));
        let fit = |line: String| fit_line(line, self.width);
        writeln!(
            out,
            "{}",
            fit(format!(
                "{:>4} {:>7} {:>6} {:>5} {:>6}  {:<nw$} {:<fw$} event ids",
                "rank", "score", "count", "hosts", "events", "task", "flags"
            ))
        )?;
        for &t in &self.order {
            let task = &self.ds.tasks.tasks[t];
            let name =
                crate::util::cut::name_cell(&for_terminal(&task.name, 400), task.variants, nw - 1);
            let line = format!(
                "{:>4} {:>7.2} {:>6} {:>5} {:>6}  {:<nw$} {:<fw$} {}",
                self.rank(t),
                self.tasks.scores[t],
                task.count,
                task.hosts.len(),
                task.uniques.len(),
                name,
                crate::util::cut::end_ellipsis(&flags(t), fw),
                crate::util::cut::end_ellipsis(&ids(t), iw),
            );
            writeln!(out, "{}", fit(line))?;
        }
        Ok(())
    }
}

/// Write rows in `format`: JSON Lines / JSON from `json`, CSV (formulas defused) and
/// Parquet from `dataframe`, the fixed-width table by `table`. Event rows and task rows share
/// it.
fn write_as(
    format: Format,
    out: &mut dyn Write,
    json: &mut dyn Iterator<Item = Value>,
    dataframe: &dyn Fn(bool) -> PolarsResult<DataFrame>,
    table: &dyn Fn(&mut dyn Write) -> Result<()>,
    html: &dyn Fn(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match format {
        Format::Jsonl => {
            for row in json {
                serde_json::to_writer(&mut *out, &row)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Json => {
            let all: Vec<Value> = json.collect();
            serde_json::to_writer_pretty(&mut *out, &all)?;
            out.write_all(b"\n")?;
        }
        Format::Csv => {
            let mut df = dataframe(true)?;
            CsvWriter::new(&mut *out)
                .finish(&mut df)
                .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
        }
        Format::Parquet => {
            let mut df = dataframe(false)?;
            // ParquetWriter wants to own its sink; write to memory, then out.
            let mut buf = Vec::new();
            ParquetWriter::new(&mut buf)
                .finish(&mut df)
                .map_err(|e| anyhow::anyhow!("writing Parquet: {e}"))?;
            out.write_all(&parquet_plain::plain(buf, schema::TIME_COLUMNS)?)?;
        }
        Format::Table => table(out)?,
        Format::Html => html(out)?,
    }
    out.flush()?;
    Ok(())
}

/// Write `path` ([`crate::util::write_file`]: atomically, never damaging what is there)
/// through `write`, which may fail with any error: it comes back as it was, not flattened
/// into an I/O error. Returns what `write` returned.
pub fn write_file_with<T: Default>(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let mut result = None;
    let mut failure = None;
    crate::util::write_file(path, |w| match write(w) {
        Ok(v) => {
            result = Some(v);
            Ok(())
        }
        Err(e) => {
            let msg = format!("{e:#}");
            failure = Some(e);
            Err(std::io::Error::other(msg))
        }
    })
    .map_err(|e| failure.take().unwrap_or_else(|| anyhow::Error::from(e)))?;
    Ok(result.unwrap_or_default())
}
