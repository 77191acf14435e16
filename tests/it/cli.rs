//! The `rank` command end to end, as a script would call it.

use crate::util;

use crate::util::{anomalog, bin, fixture, shared_file};
use serde_json::Value;

fn jsonl(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is no JSON ({e}): {l}"))
        })
        .collect()
}

#[test]
fn jsonl_contract() {
    let out = anomalog()
        .args(["rank", "--format", "jsonl"])
        .arg(fixture("evtx_dump.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["rank"], 1);
    assert!(r["score"].as_f64().unwrap() >= 0.0);
    assert_eq!(r["count"], 1);
    assert_eq!(r["hosts"], serde_json::json!(["pc1.corp.local"]));
    for k in ["first_seen", "last_seen"] {
        let t = r[k].as_str().unwrap();
        assert!(t.parse::<jiff::Timestamp>().is_ok(), "{k} is RFC 3339: {t}");
    }
    assert_eq!(r["channel"], "Security");
    assert_eq!(r["event_id"], 4698);
    assert_eq!(r["fields"]["task_name"], "\\Updater");
    assert_eq!(r["fields"]["command"], "c:\\users\\public\\svc.exe");
    assert_eq!(r["prevalence"], serde_json::json!({"hosts": 1, "fleet": 1}));
    assert_eq!(
        r["flags"],
        serde_json::json!([]),
        "no lifecycle flags for a lone creation"
    );
    // Progress and the summary go to stderr, never stdout.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unique events"), "{err}");
}

#[test]
fn ranks_are_ordered_and_top_cuts() {
    let fixtures = ["hayabusa.jsonl", "nxlog_flat.jsonl", "hostile.jsonl"];
    let mut cmd = anomalog();
    cmd.args(["rank", "-q", "--format", "jsonl"]);
    for f in fixtures {
        cmd.arg(fixture(f));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let rows = jsonl(&out.stdout);
    assert!(rows.len() >= 3);
    let scores: Vec<f64> = rows.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    let ranks: Vec<u64> = rows.iter().map(|r| r["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=rows.len() as u64).collect::<Vec<_>>());

    let mut cmd = anomalog();
    cmd.args(["rank", "-q", "--format", "jsonl", "--top", "2"]);
    for f in fixtures {
        cmd.arg(fixture(f));
    }
    let top = jsonl(&cmd.output().unwrap().stdout);
    assert_eq!(top, rows[..2], "--top keeps the head of the same ranking");
}

#[test]
fn same_input_same_output() {
    let run = || {
        anomalog()
            .args(["rank", "-q", "--format", "jsonl"])
            .arg(fixture("hayabusa.jsonl"))
            .arg(fixture("nxlog_flat.jsonl"))
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(run(), run());
}

#[test]
fn json_is_an_array_of_the_jsonl_rows() {
    let get = |fmt: &str| {
        anomalog()
            .args(["rank", "-q", "--format", fmt])
            .arg(fixture("hayabusa.jsonl"))
            .output()
            .unwrap()
            .stdout
    };
    let arr: Vec<Value> = serde_json::from_slice(&get("json")).unwrap();
    assert_eq!(arr, jsonl(&get("jsonl")));
}

#[test]
fn csv_defuses_formulas_and_has_every_field() {
    let out = anomalog()
        .args(["rank", "-q", "--format", "csv"])
        .arg(fixture("hostile.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for col in [
        "rank",
        "score",
        "count",
        "hosts",
        "first_seen",
        "last_seen",
        "channel",
        "event_id",
        "task_name",
        "user",
        "command",
    ] {
        assert!(
            header.split(',').any(|c| c == col),
            "column {col} in {header}"
        );
    }
    assert!(text.contains("'=cmd|"), "formula defused: {text}");
    assert!(
        !text.contains(",=cmd") && !text.contains(",\"=cmd"),
        "{text}"
    );
}

#[test]
fn table_renders_hostile_strings_harmlessly() {
    let out = anomalog()
        .args(["rank", "-q"])
        .arg(fixture("hostile.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\\Evil"), "{text}");
    assert!(
        !text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains("\\x1b"),
        "escapes are shown, not executed: {text}"
    );
}

#[test]
fn parquet_file_reads_back() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    let out = anomalog()
        .args(["rank", "--format", "parquet", "-o"])
        .arg(&path)
        .arg(fixture("hayabusa.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 2 rows"));
    // (This build's polars has no date-time types: the time columns are read by pyarrow
    // below.)
    let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .with_columns(Some(vec!["task_name".into(), "rank".into()]))
        .finish()
        .unwrap();
    assert_eq!(df.height(), 2);
    let col = df.column("task_name").unwrap().str().unwrap().clone();
    let names: Vec<String> = (0..df.height())
        .map(|i| col.get(i).unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["\\Updater", "\\Updater"]);
    assert_eq!(df.column("rank").unwrap().u32().unwrap().get(0), Some(1));
    // As other readers take it: plain strings (not `string_view`), times as UTC timestamps.
    let probe = std::process::Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP (pyarrow part): python3 with pyarrow is not here (.ci/run installs it)");
        return;
    }
    let script = format!(
        "import pyarrow.parquet as pq\nt = pq.read_table({:?})\n\
         print(t.schema.field('task_name').type, t.schema.field('first_seen').type)\n\
         print(t.column('first_seen')[0].as_py().isoformat())",
        path.display().to_string()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("string timestamp[us, tz=UTC]"), "{text}");
    let jsonl = anomalog()
        .args(["rank", "--format", "jsonl", "-q"])
        .arg(fixture("hayabusa.jsonl"))
        .output()
        .unwrap();
    let first = util::jsonl(&String::from_utf8_lossy(&jsonl.stdout))[0]["first_seen"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    let read = lines.next().unwrap().parse::<jiff::Timestamp>().unwrap();
    assert_eq!(read, first, "{text}");
}

#[test]
fn nothing_readable_exits_2() {
    for bad in [
        fixture("not_a_log.txt"),
        fixture("empty.json"),
        fixture("no_such_file.evtx"),
    ] {
        let out = anomalog()
            .args(["rank", "--format", "jsonl"])
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", bad.display());
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        let name = bad.file_name().unwrap().to_str().unwrap();
        assert!(err.contains(name) && err.contains("warning"), "{err}");
    }
}

#[test]
fn one_bad_file_does_not_stop_the_rest() {
    let out = anomalog()
        .args(["rank", "--format", "jsonl"])
        .arg(fixture("not_a_log.txt"))
        .arg(fixture("winlogbeat.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(jsonl(&out.stdout).len(), 1);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("not_a_log.txt") && err.contains("not an event log"),
        "{err}"
    );
}

#[test]
fn folders_are_read_recursively() {
    let out = anomalog()
        .args(["rank", "-q", "--format", "jsonl"])
        .arg(fixture(""))
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows = jsonl(&out.stdout);
    // Every fixture's 4698 is the same record of PC1 except the hostile one, and the
    // Hayabusa Sysmon 1: three unique events.
    assert_eq!(rows.len(), 3, "{rows:#?}");
    // A folder walk takes only log extensions: not_a_log.txt is not even tried.
    assert!(
        !String::from_utf8(out.stderr)
            .unwrap()
            .contains("not_a_log.txt")
    );
}

#[test]
fn no_argument_ranks_the_bundled_samples() {
    let dir = tempfile::tempdir().unwrap();
    // No samples/ in this folder: the binary falls back to the source tree's samples/.
    let out = anomalog().current_dir(dir.path()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("rank"), "{text}");
    // The best row is a planted attack's (the samples' ground truth).
    let truth: Value =
        serde_json::from_slice(&std::fs::read(util::samples().join("ground_truth.json")).unwrap())
            .unwrap();
    let first = lines.next().unwrap();
    assert!(
        truth["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| first.contains(a["task_name"].as_str().unwrap().trim_start_matches('\\'))),
        "{text}"
    );
    assert!(text.lines().count() > 20);
}

/// Deterministic byte damage: flip bytes and truncate, as a bad disk or a torn copy would.
fn damaged_copies(src: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|i| {
            let mut b = src.to_vec();
            for _ in 0..(1 + i * 8) {
                let at = (next() as usize) % b.len();
                b[at] = next() as u8;
            }
            if i % 3 == 0 {
                b.truncate((next() as usize) % b.len());
            }
            b
        })
        .collect()
}

#[test]
fn damaged_evtx_never_panics() {
    let Some(src) =
        shared_file("ID4688-4698_Persistent_scheduled_task_with_SYSTEM_privileges_creation.evtx")
    else {
        return;
    };
    let bytes = std::fs::read(src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, b) in damaged_copies(&bytes, 24).into_iter().enumerate() {
        std::fs::write(dir.path().join(format!("d{i:02}.evtx")), b).unwrap();
    }
    let l = util::load(&[dir.path().to_path_buf()]);
    assert_eq!(l.reports.len(), 24, "every damaged file is accounted for");
    // The binary on the same folder: a clean exit (0, or 2 if nothing was readable).
    let out = anomalog()
        .args(["rank", "-q", "--format", "jsonl"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 2)), "{:?}", out.status);
}

#[test]
fn truncated_big_evtx_keeps_what_it_can() {
    let Some(src) = shared_file("security.evtx") else {
        return;
    };
    let bytes = std::fs::read(src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.evtx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 1234]).unwrap();
    let ing = anomalog::ingest::read_paths(&[cut], |_| true, &Default::default());
    assert!(
        ing.records() > 500 && ing.records() < 2261,
        "{} records",
        ing.records()
    );
}

#[test]
fn verdicts_and_notes_go_out_with_the_rows_and_benign_leaves_training() {
    const BENIGN: &str = "\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan";
    use anomalog::session::{Session, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.json");
    let profile = anomalog::profile::by_name("scheduled-tasks").unwrap();
    let loaded = anomalog::pipeline::load(
        &[std::path::PathBuf::from("samples")],
        profile.as_ref(),
        &anomalog::ingest::Progress::default(),
    );
    let ds = &loaded.dataset;
    let find = |task: &str, id: u32| {
        (0..ds.uniques.len())
            .find(|&u| ds.value(u, "task_name") == task && ds.uniques[u].event_id == id)
            .unwrap()
    };
    let mut s = Session::open(path.clone(), ds).unwrap();
    s.update(ds, find("\\RJJJThqy", 4698), |e| {
        e.verdict = Some(Verdict::Malicious);
        e.note = "=cmd|' /C calc'!A0".into();
    });
    s.update(ds, find(BENIGN, 4702), |e| {
        e.verdict = Some(Verdict::Benign)
    });
    s.save().unwrap();

    let run = |extra: &[&str]| {
        let out = anomalog()
            .args([
                "rank",
                "samples",
                "-m",
                "rarity",
                "-f",
                "jsonl",
                "--session",
            ])
            .arg(&path)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        (jsonl(&out.stdout), String::from_utf8(out.stderr).unwrap())
    };
    let row = |rows: &[Value], task: &str| -> Value {
        let id = if task == BENIGN { 4702 } else { 4698 };
        rows.iter()
            .find(|r| r["fields"]["task_name"] == task && r["event_id"] == id)
            .unwrap()
            .clone()
    };
    let (plain, _) = run(&[]);
    let evil = row(&plain, "\\RJJJThqy");
    assert_eq!(evil["verdict"], "malicious");
    assert_eq!(evil["note"], "=cmd|' /C calc'!A0");
    assert_eq!(row(&plain, BENIGN)["verdict"], "benign");
    assert_eq!(
        plain.iter().filter(|r| r.get("verdict").is_some()).count(),
        2
    );

    let (excluded, err) = run(&["--exclude-benign"]);
    assert!(err.contains("1 unique event marked benign"), "{err}");
    assert_eq!(
        excluded.len(),
        plain.len(),
        "benign events are still ranked"
    );
    // Not counted any more: its values are rarer than before.
    let before = row(&plain, BENIGN)["score"].as_f64().unwrap();
    let after = row(&excluded, BENIGN)["score"].as_f64().unwrap();
    assert!(after > before, "{after} > {before}");

    // CSV: the same columns, the note's formula defused.
    let out = anomalog()
        .args([
            "rank",
            "samples",
            "-m",
            "rarity",
            "-f",
            "csv",
            "-n",
            "3",
            "--session",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains(",prevalence,flags,task_command,")
            && header.contains(",task_cmd_flags,marked,verdict,note,"),
        "{header}"
    );
    assert!(csv.contains("malicious,'=cmd"), "{csv}");
}

#[test]
fn raw_adds_the_first_occurrence_as_read() {
    let run = |extra: &[&str]| {
        let out = anomalog()
            .args(["rank", "-f", "jsonl", "-m", "rarity"])
            .args(extra)
            .arg(fixture("evtx_dump.jsonl"))
            .output()
            .unwrap();
        assert!(out.status.success());
        jsonl(&out.stdout)
    };
    assert!(run(&[])[0].get("raw").is_none(), "only on request");
    let r = &run(&["--raw"])[0];
    let raw = &r["raw"];
    // Unnormalised: the host's own spelling, the task XML whole.
    assert_eq!(raw["computer"], "PC1.corp.local");
    assert_eq!(raw["record_id"], 101);
    assert_eq!(raw["event_id"], 4698);
    assert_eq!(raw["data"]["TaskName"], "\\Updater");
    assert!(
        raw["data"]["TaskContent"]
            .as_str()
            .unwrap()
            .contains("<Command>C:\\Users\\Public\\svc.exe</Command>")
    );
    assert_eq!(r["fields"]["command"], "c:\\users\\public\\svc.exe");
    let out = anomalog()
        .args(["rank", "-f", "csv", "-m", "rarity", "--raw"])
        .arg(fixture("evtx_dump.jsonl"))
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.lines().next().unwrap().contains(",raw,"), "{csv}");
}

/// A zip bomb (a small zip of gigabytes of zeros) is sniffed, not inflated: nothing is read,
/// and stderr says which member was passed over and why.
#[test]
fn a_zip_of_zeros_is_passed_over_with_a_reason() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    z.start_file("zeros.evtx", zip::write::SimpleFileOptions::default())
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..8 {
        z.write_all(&chunk).unwrap();
    }
    z.finish().unwrap();
    anomalog()
        .args(["rank", "-m", "rarity"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "zeros.evtx: passed over: not an event log",
        ));
}

#[test]
fn rank_by_task_gives_one_row_per_task_with_its_events() {
    let events = anomalog()
        .args(["rank", "samples", "-m", "rarity", "-f", "jsonl", "-q"])
        .output()
        .unwrap();
    assert!(events.status.success());
    let events = jsonl(&events.stdout);
    let out = anomalog()
        .args([
            "rank", "samples", "-m", "rarity", "-f", "jsonl", "-q", "--by", "task",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tasks = jsonl(&out.stdout);
    for k in [
        "rank",
        "task",
        "hosts",
        "score",
        "flags",
        "prevalence",
        "first_seen",
        "last_seen",
        "events",
    ] {
        assert!(tasks[0].get(k).is_some(), "{k} in {}", tasks[0]);
    }
    // When each task spread: every host of the row with its first time, the earliest being
    // the row's own first time.
    for t in &tasks {
        let per_host = t["first_seen_per_host"].as_object().unwrap();
        let hosts: Vec<&str> = t["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert!(per_host.keys().all(|h| hosts.contains(&h.as_str())), "{t}");
        if let Some(first) = per_host.values().map(|v| v.as_str().unwrap()).min() {
            assert_eq!(first, t["first_seen"].as_str().unwrap(), "{t}");
        }
    }
    let spread = tasks
        .iter()
        .filter(|t| t["first_seen_per_host"].as_object().unwrap().len() > 1)
        .count();
    assert!(spread > 5, "{spread}");
    // One row per task: the atexec task's seven-plus event rows are one task row.
    let atexec: Vec<&Value> = tasks.iter().filter(|t| t["task"] == "\\RJJJThqy").collect();
    assert_eq!(atexec.len(), 1);
    let its_events = atexec[0]["events"].as_array().unwrap();
    let event_rows = events
        .iter()
        .filter(|e| e["fields"]["task_name"] == "\\RJJJThqy")
        .count();
    assert!(event_rows >= 7, "{event_rows}");
    assert_eq!(its_events.len(), event_rows);
    // Its events carry their ranks in the event ranking, best first; the task ranks as its
    // best event, and tasks are ordered by rank.
    let ranks: Vec<u64> = its_events
        .iter()
        .map(|e| e["rank"].as_u64().unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    let best = &events[ranks[0] as usize - 1];
    assert_eq!(best["score"], atexec[0]["score"]);
    let order: Vec<u64> = tasks.iter().map(|t| t["rank"].as_u64().unwrap()).collect();
    assert_eq!(order, (1..=tasks.len() as u64).collect::<Vec<_>>());
    // Every unique event naming a task, and every definition, is in exactly one task row.
    let definitions = anomalog()
        .args([
            "rank",
            "samples",
            "-m",
            "rarity",
            "-f",
            "jsonl",
            "-q",
            "--by",
            "definition",
        ])
        .output()
        .unwrap();
    // The Tasks folders' files (the registry's TaskCache rows are counted apart, below).
    let (registry_rows, definition_rows): (Vec<_>, Vec<_>) = jsonl(&definitions.stdout)
        .into_iter()
        .partition(|r| r["format"] == "registry");
    // The registry's entries the Tasks folders confirm stand as their files' rows: what is
    // left are the four registry-level attacks.
    assert_eq!(registry_rows.len(), 4, "{registry_rows:#?}");
    let definitions = definition_rows.len() + registry_rows.len();
    // Every definition file of the samples is in one definition row (the stock tasks that
    // every host has are one row each).
    let files = walkdir::WalkDir::new("samples")
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_type().is_file()
                && e.path()
                    .components()
                    .any(|c| c.as_os_str().eq_ignore_ascii_case("tasks"))
        })
        .count() as u64;
    let counted: u64 = definition_rows
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert!(files > 300, "{files}");
    assert_eq!(counted, files);
    assert!(
        definition_rows.len() < files as usize,
        "{}",
        definition_rows.len()
    );
    let named = definitions
        + events
            .iter()
            .filter(|e| {
                e["fields"]["task_name"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty())
            })
            .count();
    let grouped: usize = tasks
        .iter()
        .map(|t| t["events"].as_array().unwrap().len())
        .sum();
    assert_eq!(grouped, named);
    // Every format writes task rows.
    for f in ["table", "csv", "json"] {
        let out = anomalog()
            .args([
                "rank", "samples", "-m", "rarity", "-q", "--by", "task", "-n", "10", "-f", f,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{f}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("RJJJThqy"), "{f}: {text}");
    }
}

#[test]
fn names_are_shown_as_read() {
    let out = anomalog()
        .args(["rank", "samples", "-m", "rarity", "-f", "jsonl", "-q"])
        .output()
        .unwrap();
    let rows = jsonl(&out.stdout);
    // Normalisation masks the user's SID in the feature; the row still carries the name as
    // the log spelled it, verbatim.
    let onedrive = rows
        .iter()
        .find(|r| {
            r["fields"]["task_name"]
                .as_str()
                .is_some_and(|n| n.starts_with("\\OneDrive Reporting Task-S-1-5-21-*"))
        })
        .expect("a OneDrive reporting task");
    let shown = onedrive["display"]["name"].as_str().unwrap();
    assert!(
        shown.starts_with("\\OneDrive Reporting Task-S-1-5-21-") && !shown.contains('*'),
        "{shown}"
    );
    let raw = anomalog()
        .args([
            "rank", "samples", "-m", "rarity", "-f", "jsonl", "-q", "--raw",
        ])
        .output()
        .unwrap();
    let raw = jsonl(&raw.stdout);
    let same = raw.iter().find(|r| r["rank"] == onedrive["rank"]).unwrap();
    // The earliest occurrence, as its log spelled it (the display: the most common spelling).
    let first = same["raw"]["data"]["TaskName"].as_str().unwrap();
    assert!(
        first.starts_with("\\OneDrive Reporting Task-S-1-5-21-") && !first.contains('*'),
        "{first}"
    );
    // Commands keep their case too.
    assert!(
        rows.iter().any(|r| r["display"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("-NoP") || c.contains("C:\\"))),
        "no command as read"
    );
}

#[test]
fn rank_to_a_file_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "previous\n".repeat(10_000)).unwrap();
    let out = anomalog()
        .args([
            "rank", "samples", "-m", "rarity", "-f", "jsonl", "-q", "-n", "2", "-o",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains("previous"));
    // No temporary left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// Killed at any moment, `rank -o` leaves the previous file or the whole new one (written to a
/// temporary file beside it, then renamed), never a truncated file.
#[cfg(unix)]
#[test]
fn a_kill_during_rank_output_leaves_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ranked.jsonl");
    let run = |out: &std::path::Path| {
        let mut c = bin();
        c.args([
            "rank", "samples", "-m", "rarity", "-f", "jsonl", "--raw", "-q", "-o",
        ])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        c
    };
    // The whole output, and how long a run takes.
    let start = std::time::Instant::now();
    assert!(run(&out).status().unwrap().success());
    let took = start.elapsed();
    let whole = std::fs::read_to_string(&out).unwrap();
    let rows = whole.lines().count();
    assert!(rows > 100);
    std::fs::write(&out, "previous\n").unwrap();
    for round in 0..16u32 {
        let mut child = run(&out).spawn().unwrap();
        // Kills spread over the run, more of them late (where the writing is).
        let at = took.mul_f64(0.5 + f64::from(round) / 32.0);
        std::thread::sleep(at);
        let _ = child.kill();
        child.wait().unwrap();
        let now = std::fs::read_to_string(&out).unwrap();
        assert!(
            now == "previous\n" || now == whole,
            "round {round}: a file of {} lines",
            now.lines().count()
        );
        std::fs::write(&out, "previous\n").unwrap();
    }
}

/// At 80 columns `rank --by task` keeps task names readable (cut in the middle, the leaf
/// kept), fits every line, and never cuts a number without saying so.
#[test]
fn the_task_table_fits_80_columns_readably() {
    let out = anomalog()
        .env("COLUMNS", "80")
        .args(["rank", "samples", "-m", "rarity", "-q", "--by", "task"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 20);
    for l in &lines {
        assert!(l.chars().count() <= 80, "{l}");
    }
    // A deep built-in task keeps its leaf.
    assert!(
        lines.iter().any(|l| l.contains("…\\Consolidator")),
        "{text}"
    );
    // Event ids end with an ellipsis where they are cut, never mid-number silently.
    for l in &lines[1..] {
        let ids = l.rsplit("  ").next().unwrap_or("");
        let last = ids.split(' ').next_back().unwrap_or("");
        assert!(last.ends_with('…') || last.parse::<u32>().is_ok(), "{l}");
    }
}

/// `rank --filter` keeps the rows the UI's filter keeps, with their ranks, and `--top`
/// counts after it.
#[test]
fn rank_filters_with_the_query_language() {
    let run = |extra: &[&str]| -> Vec<Value> {
        let out = anomalog()
            .args(["rank", "samples", "-m", "rarity", "-f", "jsonl", "-q"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        util::jsonl(&String::from_utf8_lossy(&out.stdout))
    };
    let all = run(&[]);
    let want: Vec<(u64, u64)> = all
        .iter()
        .filter(|r| {
            r["event_id"] == 4698
                || (r["prevalence"]["hosts"].as_u64() == Some(1) && r["event_id"] == 201)
        })
        .map(|r| (r["rank"].as_u64().unwrap(), r["event_id"].as_u64().unwrap()))
        .collect();
    assert!(want.len() > 3, "{want:?}");
    let got: Vec<(u64, u64)> = run(&["--filter", "event = 4698 OR (hosts <= 1 AND event=201)"])
        .iter()
        .map(|r| (r["rank"].as_u64().unwrap(), r["event_id"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, want);
    let top = run(&[
        "--filter",
        "event=4698 OR (hosts<=1 AND event = 201)",
        "-n",
        "2",
    ]);
    assert_eq!(top.len(), 2);
    assert_eq!(top[1]["rank"].as_u64().unwrap(), want[1].0);
    // A query that cannot be read says where, and nothing is written.
    anomalog()
        .args(["rank", "samples", "-m", "rarity", "-q", "--filter", "usr=x"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("did you mean user?"));
    // Tasks by their events' values.
    let tasks = run(&["--by", "task", "--filter", "event=4698"]);
    assert!(!tasks.is_empty());
    assert!(tasks.iter().all(|t| {
        t["event_ids"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(4698))
    }));
}

#[test]
fn the_output_format_follows_the_file_name_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("out.parquet");
    anomalog()
        .args(["rank", "samples", "-m", "rarity", "-q", "-n", "3", "-o"])
        .arg(&pq)
        .assert()
        .success();
    assert_eq!(
        &std::fs::read(&pq).unwrap()[..4],
        b"PAR1",
        "Parquet by its name"
    );
    let csv = dir.path().join("out.csv");
    anomalog()
        .args(["rank", "samples", "-m", "rarity", "-q", "-n", "3", "-o"])
        .arg(&csv)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&csv)
            .unwrap()
            .starts_with("rank,score,count")
    );
    // An explicit format wins.
    let forced = dir.path().join("out.csv.txt");
    anomalog()
        .args([
            "rank", "samples", "-m", "rarity", "-q", "-n", "3", "-f", "jsonl", "-o",
        ])
        .arg(&forced)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&forced).unwrap().starts_with('{'));
    // An extension no format has is refused, naming the formats, before anything is read.
    let xlsx = dir.path().join("out.xlsx");
    anomalog()
        .args(["rank", "samples", "-m", "rarity", "-q", "-o"])
        .arg(&xlsx)
        .assert()
        .failure()
        .stderr(predicates::str::contains(".xlsx"))
        .stderr(predicates::str::contains(".parquet"));
    assert!(!xlsx.exists());
    // --top 0 says so.
    anomalog()
        .args(["rank", "samples", "-m", "rarity", "-q", "-n", "0"])
        .assert()
        .success()
        .stderr(predicates::str::contains("--top 0"));
}

#[test]
fn logs_without_events_of_the_profile_name_the_profile_that_reads_them() {
    anomalog()
        .args(["rank", "-q"])
        .arg(fixture("security_4697.jsonl"))
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "these logs hold 2 records of the kinds `--profile services` reads",
        ));
}

/// Issue 15 #15: the table fits the terminal (`COLUMNS`), piped it keeps its fixed layout.
#[test]
fn the_table_fits_the_terminal_width() {
    for by in ["event", "task"] {
        let fitted = anomalog()
            .args([
                "rank", "-q", "-m", "rarity", "--by", by, "-n", "15", "samples",
            ])
            .env("COLUMNS", "80")
            .output()
            .unwrap();
        assert!(fitted.status.success());
        let text = String::from_utf8(fitted.stdout).unwrap();
        assert_eq!(text.lines().count(), 16, "{text}");
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} > 80: {line}",
                line.chars().count()
            );
        }
        assert!(text.lines().next().unwrap().starts_with("rank"), "{text}");
        let piped = anomalog()
            .args([
                "rank", "-q", "-m", "rarity", "--by", by, "-n", "15", "samples",
            ])
            .env_remove("COLUMNS")
            .output()
            .unwrap();
        let text = String::from_utf8(piped.stdout).unwrap();
        assert!(
            text.lines().any(|l| l.chars().count() > 120),
            "the fixed layout, piped: {text}"
        );
    }
}

/// The default objective is the hybrid: three autoencoders, saved together in one file that
/// `--baseline` reads back; `--objective swap` trains and saves one.
#[test]
fn the_default_hybrid_and_a_single_swap_model_both_save() {
    let dir = tempfile::tempdir().unwrap();
    for (objective, format, said) in [
        (
            None,
            anomalog::model::hybrid::FORMAT,
            "hybrid: 3 autoencoders",
        ),
        (Some("swap"), anomalog::model::ae::FORMAT, "for 4 epochs"),
    ] {
        let model = dir.path().join(format!("{format}.safetensors"));
        let mut cmd = anomalog();
        cmd.args([
            "rank",
            "--epochs",
            "4",
            "-f",
            "jsonl",
            "-n",
            "5",
            "--save-model",
        ])
        .arg(&model);
        if let Some(o) = objective {
            cmd.args(["--objective", o]);
        }
        let out = cmd.arg("samples").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains(said), "{err}");
        let rows = jsonl(&out.stdout);
        assert_eq!(rows.len(), 5);
        assert!(
            rows.windows(2)
                .all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64())
        );
        let bytes = std::fs::read(&model).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["format"], format);
        // The saved model ranks the same logs the same, without training.
        let again = anomalog()
            .args(["rank", "-f", "jsonl", "-n", "5", "--baseline"])
            .arg(&model)
            .arg("samples")
            .output()
            .unwrap();
        assert!(again.status.success());
        assert_eq!(jsonl(&again.stdout), rows, "{objective:?}");
        assert!(!String::from_utf8_lossy(&again.stderr).contains("epoch"));
        // Each row says what weighed and what the rest of the event predicts.
        let top = &rows[0];
        let fe = top["field_errors"].as_object().expect("field_errors");
        let loss = &fe["task_name"];
        assert!(loss["loss"].as_f64().is_some() && loss["z"].as_f64().is_some());
        let ex = &top["expected"]["task_name"];
        assert!(ex["value"].is_string());
        assert!((0.0..=1.0).contains(&ex["p"].as_f64().unwrap()));
    }
    // A file that is no model is refused with a clear message.
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"{}").unwrap();
    let out = anomalog()
        .args(["rank", "--baseline"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an anomalog model"));
}
