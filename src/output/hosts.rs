//! `rank --by host`: one row per host, what evidence about tasks its inputs hold, and in
//! words what could and could not be seen ([`crate::frame::Visibility`]).

use std::io::Write;

use anyhow::Result;
use polars::prelude::*;
use serde_json::{Value, json};

use super::{Format, fit_line, schema, write_as};
use crate::event::rfc3339;
use crate::frame::{Dataset, HostCoverage};
use crate::util::sanitize::for_terminal;

/// The hosts of a dataset as rows, least covered first (then by name).
pub struct HostRows<'a> {
    pub hosts: Vec<&'a HostCoverage>,
    pub width: Option<usize>,
}

impl<'a> HostRows<'a> {
    pub fn new(ds: &'a Dataset, top: Option<usize>) -> Self {
        let mut hosts: Vec<&HostCoverage> = ds.coverage.iter().collect();
        hosts.sort_by(|a, b| b.seen.cmp(&a.seen).then(a.host.cmp(&b.host)));
        if let Some(n) = top {
            hosts.truncate(n);
        }
        HostRows { hosts, width: None }
    }

    pub fn with_width(mut self, width: Option<usize>) -> Self {
        self.width = width;
        self
    }

    /// One host's row (the JSON Lines contract of `--by host`).
    pub fn json_row(c: &HostCoverage) -> Value {
        let e = &c.evidence;
        json!({
            "host": c.host,
            "aliases": c.aliases,
            "definitions": c.definitions,
            "operational_records": e.operational,
            "task_audit_records": e.task_audit,
            "process_creation_records": e.process_creation,
            "sysmon_records": e.sysmon,
            "security_records": e.security,
            "records": e.records,
            "summaries": c.summaries,
            "first_seen": rfc3339(e.span.first),
            "last_seen": rfc3339(e.span.last),
            "operational_first_seen": rfc3339(e.operational_span.first),
            "operational_last_seen": rfc3339(e.operational_span.last),
            "operational_enabled": e.operational_enabled,
            "sysmon_enabled": e.sysmon_enabled,
            "visibility": c.seen.key(),
            "verdict": c.verdict(),
        })
    }

    pub fn dataframe(&self, defuse: bool) -> PolarsResult<DataFrame> {
        let rows: Vec<Value> = self.hosts.iter().map(|c| Self::json_row(c)).collect();
        let shape = schema::Shape {
            fields: &[],
            raw: false,
        };
        schema::dataframe(&rows, schema::HOST_COLUMNS, &shape, defuse, &|_, _| {
            String::new()
        })
    }

    pub fn write(&self, format: Format, out: &mut dyn Write) -> Result<()> {
        write_as(
            format,
            out,
            &mut self.hosts.iter().map(|c| Self::json_row(c)),
            &|defuse| self.dataframe(defuse),
            &|out| self.write_table(out),
            &|_| {
                anyhow::bail!(
                    "the HTML report is of events, definitions or tasks; its first table is the hosts' coverage"
                )
            },
        )
    }

    fn write_table(&self, out: &mut dyn Write) -> Result<()> {
        let fit = |line: String| fit_line(line, self.width);
        writeln!(
            out,
            "{}",
            fit(format!(
                "{:<32} {:>6} {:>8} {:>6} {:>7} {:>7}  verdict",
                "host", "defs", "operatnl", "4698", "process", "sysmon"
            ))
        )?;
        for c in &self.hosts {
            let e = &c.evidence;
            let line = format!(
                "{:<32} {:>6} {:>8} {:>6} {:>7} {:>7}  {}",
                for_terminal(&c.host, 32),
                c.definitions,
                e.operational,
                e.task_audit,
                e.process_creation,
                e.sysmon,
                c.verdict()
            );
            writeln!(out, "{}", fit(line))?;
        }
        Ok(())
    }
}
