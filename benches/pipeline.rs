//! Pipeline benchmark: ingest, profile + unique events, rarity scoring.
//!
//! `cargo bench --bench pipeline` reads `../shared/evtx` (or the paths in
//! `ANOMALOG_BENCH_PATHS`, separated by `:`) several times and prints the median time and
//! throughput of each stage. A plain harness rather than criterion: it keeps the dependency
//! tree (and `cargo test`'s build) small, and each stage runs for seconds, not nanoseconds,
//! so a median of a few runs is a stable figure.

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anomalog::frame::Dataset;
use anomalog::ingest::{self, Progress};
use anomalog::model::rarity;
use anomalog::profile::by_name;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    (median(times), last.unwrap())
}

fn main() {
    let paths: Vec<PathBuf> = match std::env::var("ANOMALOG_BENCH_PATHS") {
        Ok(p) => p.split(':').map(PathBuf::from).collect(),
        Err(_) => vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/evtx")],
    };
    if !paths.iter().all(|p| p.exists()) {
        eprintln!("SKIP: {paths:?} absent; set ANOMALOG_BENCH_PATHS");
        return;
    }
    let runs: usize = std::env::var("ANOMALOG_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let bytes: u64 = ingest::expand_paths(&paths)
        .0
        .iter()
        .filter_map(|(f, _)| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let profile = by_name("scheduled-tasks").unwrap();

    // Every record, kept: the reader alone.
    let (t_all, records) = time(runs, || {
        ingest::read_paths(&paths, |_| true, &Progress::default()).records()
    });
    // What the app does: `pipeline::load` (records no profile wants counted from a peek,
    // never rendered; each file reduced to unique events on its reading thread).
    let (t_load, loaded) = time(runs, || {
        anomalog::pipeline::load(&paths, profile.as_ref(), &Progress::default())
    });
    // The profile's filter on rendered records, all kept in memory (the old path).
    let (t_ingest, ing) = time(runs, || {
        ingest::read_paths(&paths, |e| profile.wants(e), &Progress::default())
    });
    let events = ing.events;
    let (t_build, mut ds) = time(runs, || Dataset::build(profile.as_ref(), events.clone()));
    // Task lifecycles and the context fields (the first run also appends the fields).
    let (t_context, _) = time(runs, || anomalog::context::add(&mut ds));
    let (t_rank, _) = time(runs, || rarity::rank(&ds));

    let per_s = |n: u64, t: Duration| n as f64 / t.as_secs_f64();
    println!(
        "input: {} files, {:.1} MB, {records} records; median of {runs} runs",
        ingest::expand_paths(&paths).0.len(),
        bytes as f64 / 1e6
    );
    println!(
        "ingest, every record kept   {:>8.1} ms  {:>10.0} records/s  {:>6.1} MB/s",
        t_all.as_secs_f64() * 1e3,
        per_s(records, t_all),
        bytes as f64 / 1e6 / t_all.as_secs_f64()
    );
    println!(
        "pipeline::load (whole)      {:>8.1} ms  {:>10.0} records/s  {:>6.1} MB/s  {} unique events",
        t_load.as_secs_f64() * 1e3,
        per_s(records, t_load),
        bytes as f64 / 1e6 / t_load.as_secs_f64(),
        loaded.dataset.uniques.len()
    );
    println!(
        "ingest, task profile filter {:>8.1} ms  {:>10.0} records/s",
        t_ingest.as_secs_f64() * 1e3,
        per_s(records, t_ingest)
    );
    println!(
        "profile + unique events     {:>8.1} ms  {:>10.0} events/s ({} events -> {} unique)",
        t_build.as_secs_f64() * 1e3,
        per_s(events.len() as u64, t_build),
        events.len(),
        ds.uniques.len()
    );
    println!(
        "lifecycles + context fields {:>8.1} ms  {:>10.0} events/s ({} lifecycles)",
        t_context.as_secs_f64() * 1e3,
        per_s(events.len() as u64, t_context),
        ds.lifecycles.tasks.len()
    );
    println!(
        "rarity score                {:>8.3} ms  {:>10.0} unique/s",
        t_rank.as_secs_f64() * 1e3,
        per_s(ds.uniques.len() as u64, t_rank)
    );
}
