//! The event mix of real logs: per file, records per (channel, event id), the time span and
//! records per day. The simulator's background noise (`anomalog simulate`, `samples/README.md`)
//! takes its proportions from this, run over the real logs in `../shared/evtx`.
//!
//! `cargo run --release --example log_mix -- ../shared/evtx/security.evtx ../shared/evtx/system.evtx`

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use anomalog::event::rfc3339;
use anomalog::ingest::{self, Progress};

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: log_mix FILE...");
        std::process::exit(2);
    }
    for p in paths {
        let ing = ingest::read_paths(std::slice::from_ref(&p), |_| true, &Progress::default());
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for e in &ing.events {
            if let Some(t) = e.time {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
        let mut hist: BTreeMap<(String, u32), u64> = BTreeMap::new();
        for r in &ing.reports {
            for ((c, id), n) in &r.histogram() {
                *hist.entry((c.clone(), *id)).or_default() += n;
            }
        }
        let total: u64 = hist.values().sum();
        let days = if hi > lo {
            (hi - lo) as f64 / 86_400e6
        } else {
            0.0
        };
        println!(
            "{}: {total} records from {} to {} ({days:.2} days, {:.0} records/day)",
            p.display(),
            rfc3339((lo != i64::MAX).then_some(lo)),
            rfc3339((hi != i64::MIN).then_some(hi)),
            if days > 0.0 { total as f64 / days } else { 0.0 }
        );
        let mut rows: Vec<_> = hist.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for ((c, id), n) in rows {
            println!(
                "  {:>6} {:>5.1} %  {c}/{id}",
                n,
                100.0 * n as f64 / total.max(1) as f64
            );
        }
    }
}
