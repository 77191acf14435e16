//! Golden outputs: what the pipeline makes of `samples/` and of the real logs in
//! `../shared/evtx`, pinned so that a change to reading, extraction or aggregation reproduces
//! them exactly (or shows, line by line, what it changed).
//!
//! Each golden file holds one line of totals, then one line per unique event in dataset order
//! (the order ties are broken in): channel, event id, count, hosts, first and last seen,
//! sources, every field value (lifecycle flags and prevalence included), where its first
//! occurrence was read, a digest of that occurrence's data, and a digest of its lifecycle
//! timelines (steps, details and XML diffs).
//!
//! To accept a deliberate change: `ANOMALOG_BLESS=1 cargo test --test golden`, then review
//! the diff of `tests/golden/` like any other change.

use crate::util;

use std::fmt::Write as _;
use std::path::Path;

use anomalog::event::rfc3339;
use anomalog::pipeline::Loaded;

/// FNV-1a, 64 bits: stable across builds and platforms (unlike `DefaultHasher`).
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

/// A path as the golden file writes it: relative to the input root, `/`-separated.
fn rel(path: &str, root: &Path) -> String {
    let root = root.display().to_string();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .trim_start_matches(['/', '\\'])
        .replace('\\', "/")
}

fn golden_text(l: &Loaded, root: &Path) -> String {
    let ds = &l.dataset;
    let mut out = String::new();
    writeln!(
        out,
        "records={} skipped={} files={} kept={} duplicates={} rejected={} uniques={} fleet={} lifecycles={}",
        l.records,
        l.skipped,
        l.files,
        ds.occurrences.len(),
        ds.duplicates_dropped,
        ds.rejected,
        ds.uniques.len(),
        ds.fleet_size(),
        ds.lifecycles.tasks.len(),
    )
    .unwrap();
    for u in 0..ds.uniques.len() {
        let e = &ds.uniques[u];
        let raw = ds.first_raw(u);
        let mut data = FNV0;
        for (k, v) in &raw.data {
            // A definition names its file and the folder its host was told by: where the
            // checkout lies is no part of the pipeline's output.
            let v = in_checkout(v, root);
            data = fnv(k.as_bytes(), data);
            data = fnv(b"=", data);
            data = fnv(v.as_bytes(), data);
            data = fnv(b"\n", data);
        }
        let mut lives = FNV0;
        for life in ds.lifecycles.of_unique(ds, u, usize::MAX) {
            lives = fnv(life.host.as_bytes(), lives);
            lives = fnv(life.task.as_bytes(), lives);
            for s in anomalog::context::lifecycle::timeline(ds, life) {
                let line = format!(
                    "{}|{}|{}|{}|{}\n",
                    rfc3339(s.time),
                    s.event_id,
                    s.what,
                    s.detail,
                    e.occurrences.contains(&s.occurrence)
                );
                lives = fnv(line.as_bytes(), lives);
                for d in &s.diff {
                    lives = fnv(format!("{:?}{}\n", d.change, d.text).as_bytes(), lives);
                }
            }
        }
        let row = serde_json::json!({
            "channel": e.channel,
            "event_id": e.event_id,
            "count": e.count(),
            "hosts": e.hosts,
            "first_seen": rfc3339(e.first_seen),
            "last_seen": rfc3339(e.last_seen),
            "sources": e.sources.iter().map(|s| rel(s, root)).collect::<Vec<_>>(),
            "values": ds.fields.iter().zip(&e.values).map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>(),
            "first": format!("{}#{}@{}", rel(&raw.source, root), raw.record_id.map_or("-".into(), |r| r.to_string()), rfc3339(raw.time)),
            "data": format!("{data:016x}"),
            "lifecycles": format!("{lives:016x}"),
        });
        writeln!(out, "{row}").unwrap();
    }
    out
}

/// A value with the input root taken out wherever it stands, as written and as a folder
/// path is lower-cased without its leading separator (`logs under work/x/samples/ws003`).
fn in_checkout(v: &str, root: &Path) -> String {
    let root = root.display().to_string();
    let lower = root.to_lowercase();
    let bare = lower.trim_start_matches(['/', '\\']);
    v.replace(&root, "<root>").replace(bare, "<root>")
}

fn check(name: &str, root: &Path, profile: &str) {
    let loaded = util::load_with(&[root.to_path_buf()], profile);
    let got = golden_text(&loaded, root);
    let path = util::root().join("tests/golden").join(name);
    if std::env::var_os("ANOMALOG_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (ANOMALOG_BLESS=1 writes it)", path.display()));
    if got != want {
        let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
        let first = g
            .iter()
            .zip(&w)
            .position(|(a, b)| a != b)
            .unwrap_or(g.len().min(w.len()));
        panic!(
            "{name}: output differs from the golden file from line {} on ({} lines now, {} golden)\n got: {}\nwant: {}",
            first + 1,
            g.len(),
            w.len(),
            g.get(first).unwrap_or(&"<none>"),
            w.get(first).unwrap_or(&"<none>"),
        );
    }
}

#[test]
fn samples_scheduled_tasks() {
    check(
        "samples.scheduled-tasks.jsonl",
        &util::samples(),
        "scheduled-tasks",
    );
}

#[test]
fn samples_processes() {
    check("samples.processes.jsonl", &util::samples(), "processes");
}

#[test]
fn shared_scheduled_tasks() {
    let Some(dir) = util::shared_dir() else {
        return;
    };
    check("shared.scheduled-tasks.jsonl", &dir, "scheduled-tasks");
}

#[test]
fn shared_services() {
    let Some(dir) = util::shared_dir() else {
        return;
    };
    check("shared.services.jsonl", &dir, "services");
}

#[test]
fn shared_processes() {
    let Some(dir) = util::shared_dir() else {
        return;
    };
    check("shared.processes.jsonl", &dir, "processes");
}
