//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// `../shared/evtx` beside the checkout (or `$ANOMALOG_SHARED_EVTX`), when present.
/// Tests that need it print why they skip and return when it is absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("ANOMALOG_SHARED_EVTX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/evtx"));
    if dir.join("MANIFEST.md").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: {} is absent (real public samples; set ANOMALOG_SHARED_EVTX to point elsewhere)",
            dir.display()
        );
        None
    }
}

pub fn shared_file(name: &str) -> Option<PathBuf> {
    let p = shared_dir()?.join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("SKIP: {} is absent", p.display());
        None
    }
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// One file of the manifest: its record count and its top (channel, event id) counts.
#[derive(Debug)]
pub struct ManifestEntry {
    pub file: String,
    pub records: u64,
    /// (channel as the source spells it, with `MW-` expanded; `null`/`?` as empty) -> count.
    pub top: BTreeMap<(String, u32), u64>,
}

/// Parse the `## Files` and histogram tables of MANIFEST.md.
pub fn manifest(dir: &std::path::Path) -> Vec<ManifestEntry> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.md")).expect("read MANIFEST.md");
    let mut records: Vec<(String, u64)> = Vec::new();
    let mut tops: BTreeMap<String, BTreeMap<(String, u32), u64>> = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | `file` | source | licence | bytes | records | role |
        if cells.len() >= 8 && cells[1].parse::<u32>().is_ok() && cells[2].starts_with('`') {
            let file = cells[2].trim_matches('`').to_string();
            let n: String = cells[6]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            records.push((file, n.parse().expect("record count")));
        } else if cells.len() >= 7
            && cells[1].starts_with('`')
            && cells[2].ends_with("Operational")
            && cells[5].chars().all(|c| c.is_ascii_digit() || c == '×')
        {
            // The "Added" table: | `file` | source | licence | bytes | records | role |
        } else if cells.len() == 4 && cells[1].starts_with('`') && cells[2].contains('×') {
            let file = cells[1].trim_matches('`').to_string();
            let mut top = BTreeMap::new();
            for item in cells[2].split(';') {
                let item = item.trim();
                let item = item.split(" …").next().unwrap_or(item);
                let Some((key, n)) = item.rsplit_once('×') else {
                    continue;
                };
                let Some((ch, id)) = key.rsplit_once('/') else {
                    continue;
                };
                let ch = match ch {
                    "null" | "?" => String::new(),
                    c => c.replacen("MW-", "Microsoft-Windows-", 1),
                };
                top.insert((ch, id.parse().unwrap()), n.trim().parse().unwrap());
            }
            tops.insert(file, top);
        }
    }
    // The native TaskScheduler log added at the end: | `file` | source | licence | bytes | records | role |
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() == 8 && cells[1].starts_with("`StolenSzechuan") {
            records.push((
                cells[1].trim_matches('`').to_string(),
                cells[5].parse().unwrap(),
            ));
        }
    }
    records
        .into_iter()
        .map(|(file, records)| {
            let top = tops.remove(&file).unwrap_or_default();
            ManifestEntry { file, records, top }
        })
        .collect()
}

/// The checkout's root (tests run there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `samples/` of the checkout.
pub fn samples() -> PathBuf {
    root().join("samples")
}

/// The binary under test.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_anomalog"))
}

/// The binary under test, for assertions on its output.
pub fn anomalog() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_anomalog"))
}

/// A profile by name.
pub fn profile(name: &str) -> Box<dyn anomalog::profile::Profile> {
    anomalog::profile::by_name(name).unwrap()
}

/// `paths` read with the scheduled-task profile, as every front end reads them.
pub fn load(paths: &[PathBuf]) -> anomalog::pipeline::Loaded {
    load_with(paths, "scheduled-tasks")
}

/// `paths` read with the profile named `profile`.
pub fn load_with(paths: &[PathBuf], profile_name: &str) -> anomalog::pipeline::Loaded {
    anomalog::pipeline::load(
        paths,
        profile(profile_name).as_ref(),
        &anomalog::ingest::Progress::default(),
    )
}

/// Each line of JSON Lines text as a value.
pub fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A UTF-16LE file (a byte-order mark first, as Windows writes task XML) as text.
pub fn read_utf16(path: &std::path::Path) -> String {
    let b = std::fs::read(path).unwrap();
    let b = b.strip_prefix(&[0xff, 0xfe][..]).unwrap_or(&b);
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// A summary line without what names where it was read: its `sources`, its raw record's
/// `source`, and a definition's `File` and `HostFrom` (paths of the machine that read it).
pub fn without_paths(line: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("sources");
        if let Some(raw) = o.get_mut("raw").and_then(|r| r.as_object_mut()) {
            raw.remove("source");
            if let Some(data) = raw.get_mut("data").and_then(|d| d.as_array_mut()) {
                data.retain(|kv| kv[0] != "File" && kv[0] != "HostFrom");
            }
        }
    }
    v
}

/// `anomalog rank -f jsonl ARGS PATHS`, asserted to succeed: its rows and its stderr.
pub fn rank_rows(args: &[&str], paths: &[&std::path::Path]) -> (Vec<serde_json::Value>, String) {
    let out = anomalog()
        .args(["rank", "-f", "jsonl"])
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (jsonl(&String::from_utf8_lossy(&out.stdout)), err)
}

/// The ranking the worker gives for `kind` with the default configuration (seed included).
pub fn trained(
    ds: &anomalog::frame::Dataset,
    kind: anomalog::model::ModelKind,
) -> anomalog::model::Ranking {
    anomalog::model::worker::run(
        ds,
        anomalog::model::worker::Task::Train {
            kind,
            config: anomalog::model::ae::AeConfig::default(),
        },
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap()
    .ranking
}
