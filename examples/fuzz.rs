//! A stable-toolchain fuzzer for everything anomalog reads from the outside: mutates real
//! inputs (the shared samples, `samples/`, `tests/fixtures/`) and feeds them to each reader,
//! catching panics. The machine has no nightly toolchain for cargo-fuzz, so this is a small
//! mutation fuzzer with a seeded RNG (reproducible: the same seed mutates the same way).
//!
//! `cargo run --release --example fuzz -- [TARGET|all] [SECONDS PER TARGET] [SEED]`
//!
//! Targets: `json` (layout detection and record mapping of JSON / JSON Lines exports),
//! `evtx` (the evtx path: parser, peek, rendering, extraction), `zip` (archives of logs),
//! `xml` (TaskContent parsing, pretty-printing and the XML diff), `session` (the triage
//! session file), `baseline` (a saved model file, loaded and scored), `filter` (filter
//! queries: parsed, evaluated, printed and read back), `summary` (fleet summaries), `parquet`
//! (Parquet summaries), `hunt` (Velociraptor hunt downloads: the archive, and its combined
//! results), `taskcache` (the registry TaskCache's Actions, Triggers and DynamicInfo
//! values), `hive` (registry hive files: the regf reader, the TaskCache read from it, its
//! transaction logs). A crash
//! is written to `fuzz-crashes/TARGET-N`
//! with its panic message; every target ends with a line `TARGET: N execs, C crashes`.

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anomalog::ingest::Progress;
use anomalog::profile::by_name;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seeds: files of these extensions under these folders (at most 256 KiB each).
fn seeds(exts: &[&str]) -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["../shared/evtx", "samples", "tests/fixtures"] {
        for e in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
            let p = e.path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if exts.contains(&ext)
                && let Ok(b) = std::fs::read(p)
                && b.len() <= 256 << 10
            {
                out.push(b);
            }
        }
    }
    out
}

/// One mutation of `data` (a random choice of bit flips, interesting bytes, chunk deletion,
/// duplication, insertion, truncation, or a splice with another seed).
fn mutate(rng: &mut StdRng, data: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    let rounds = rng.random_range(1..=8);
    for _ in 0..rounds {
        if d.is_empty() {
            d.push(rng.random());
        }
        let at = rng.random_range(0..d.len());
        match rng.random_range(0..8) {
            0 => d[at] ^= 1 << rng.random_range(0..8),
            1 => {
                const INTERESTING: [u8; 10] =
                    [0, 0xff, 0x7f, 0x80, b'{', b'}', b'"', b'<', b'>', b'\\'];
                d[at] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            2 => {
                let n = rng.random_range(1..=64.min(d.len() - at));
                d.drain(at..at + n);
            }
            3 => {
                let n = rng.random_range(1..=256.min(d.len() - at));
                let chunk: Vec<u8> = d[at..at + n].to_vec();
                let times = rng.random_range(1..=16);
                for _ in 0..times {
                    d.splice(at..at, chunk.iter().copied());
                }
            }
            4 => {
                let n = rng.random_range(1..=32);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                d.splice(at..at, bytes);
            }
            5 => d.truncate(at),
            6 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let n = rng.random_range(1..=4096.min(other.len() - from));
                d.splice(at..at, other[from..from + n].iter().copied());
            }
            _ => {
                // A 32-bit little-endian field set to an edge value (sizes, offsets, counts).
                if at + 4 <= d.len() {
                    const EDGES: [u32; 6] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x10000];
                    let v = EDGES[rng.random_range(0..EDGES.len())];
                    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    d
}

/// Run `exec` on mutations of `seeds` for `secs` seconds; returns (execs, crashes).
fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    secs: f64,
    rng: &mut StdRng,
    exec: &dyn Fn(&[u8]),
) -> (u64, u64) {
    if seeds.is_empty() {
        println!("{name}: no seeds, skipped");
        return (0, 0);
    }
    let crash_dir = PathBuf::from("fuzz-crashes");
    // An abort (a failed allocation, say) cannot be caught: with FUZZ_LAST set, each input
    // is written before it runs, so that the one that killed the process is there to see.
    let keep_last = std::env::var_os("FUZZ_LAST").is_some();
    if keep_last {
        let _ = std::fs::create_dir_all(&crash_dir);
    }
    let start = Instant::now();
    let (mut execs, mut crashes) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs_f64(secs) {
        let a = &seeds[rng.random_range(0..seeds.len())];
        let b = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(rng, a, b);
        if keep_last {
            let _ = std::fs::write(crash_dir.join(format!("{name}-last")), &input);
        }
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| exec(&input)));
        execs += 1;
        if let Err(e) = r {
            crashes += 1;
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let _ = std::fs::create_dir_all(&crash_dir);
            let path = crash_dir.join(format!("{name}-{crashes}"));
            let _ = std::fs::write(&path, &input);
            let _ = std::fs::write(path.with_extension("txt"), &msg);
            eprintln!(
                "{name}: crash {crashes}: {msg} (input in {})",
                path.display()
            );
        }
    }
    println!("{name}: {execs} execs in {secs:.0} s, {crashes} crashes");
    (execs, crashes)
}

/// Load `bytes` as a file named `name` through the one pipeline every front end uses.
fn load_as(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let profile = by_name("scheduled-tasks").unwrap();
    let loaded = anomalog::pipeline::load(&[path], profile.as_ref(), &Progress::default());
    // What the drill-down and the exports read too.
    for u in 0..loaded.dataset.uniques.len().min(50) {
        let _ = anomalog::context::lifecycle::view(&loaded.dataset, u);
        let _ = loaded.dataset.name_as_read(u);
        let _ = loaded.dataset.command_as_read(u);
    }
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, bytes) in files {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn main() {
    // Panics are caught and counted; their default report would flood the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args.first().map_or("all", String::as_str).to_string();
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30.0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let want = |t: &str| target == "all" || target == t;
    let mut total = (0u64, 0u64);
    let mut add = |r: (u64, u64)| {
        total.0 += r.0;
        total.1 += r.1;
    };

    if want("json") {
        let s = seeds(&["json", "jsonl"]);
        add(fuzz("json", &s, secs, &mut rng, &|b| {
            load_as(dir.path(), "fuzz.jsonl", b)
        }));
    }
    if want("evtx") {
        let s = seeds(&["evtx"]);
        add(fuzz("evtx", &s, secs, &mut rng, &|b| {
            load_as(dir.path(), "fuzz.evtx", b)
        }));
    }
    if want("zip") {
        let evtx = seeds(&["evtx"]);
        let json = seeds(&["jsonl"]);
        let s: Vec<Vec<u8>> = evtx
            .iter()
            .zip(json.iter().cycle())
            .take(16)
            .map(|(e, j)| zip_of(&[("a/Security.evtx", e), ("b/x.jsonl", j)]))
            .collect();
        add(fuzz("zip", &s, secs, &mut rng, &|b| {
            load_as(dir.path(), "fuzz.zip", b)
        }));
    }
    if want("xml") {
        // Task definitions from the samples' records.
        let s: Vec<Vec<u8>> = seeds(&["jsonl"])
            .iter()
            .flat_map(|f| {
                String::from_utf8_lossy(f)
                    .lines()
                    .filter_map(|l| {
                        let v: serde_json::Value = serde_json::from_str(l).ok()?;
                        let t = v.pointer("/Event/EventData/TaskContent")?.as_str()?;
                        Some(t.as_bytes().to_vec())
                    })
                    .take(8)
                    .collect::<Vec<_>>()
            })
            .take(64)
            .collect();
        add(fuzz("xml", &s, secs, &mut rng, &|b| {
            let x = String::from_utf8_lossy(b);
            let _ = anomalog::profile::task_xml::parse(&x);
            let _ = anomalog::profile::task_xml::pretty(&x);
            let mut mid = x.len() / 2;
            while !x.is_char_boundary(mid) {
                mid -= 1;
            }
            let half = &x[..mid];
            let _ = anomalog::timeline::xml_diff(half, &x);
        }));
    }
    if want("session") {
        let profile = by_name("scheduled-tasks").unwrap();
        let loaded = anomalog::pipeline::load(
            &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")],
            profile.as_ref(),
            &Progress::default(),
        );
        let mut s = anomalog::session::Session::open(dir.path().join("seed.json"), &loaded.dataset)
            .unwrap();
        for u in 0..20 {
            s.update(&loaded.dataset, u, |e| {
                e.marked = u % 2 == 0;
                e.note = format!("note {u}");
                e.verdict = Some(anomalog::session::Verdict::Suspicious);
            });
        }
        s.save().unwrap();
        let seed_file = std::fs::read(dir.path().join("seed.json")).unwrap();
        let ds = &loaded.dataset;
        add(fuzz("session", &[seed_file], secs, &mut rng, &|b| {
            let p = dir.path().join("fuzz-session.json");
            std::fs::write(&p, b).unwrap();
            if let Ok(mut s) = anomalog::session::Session::open(p, ds) {
                let _ = s.present().count();
                s.update(ds, 0, |e| e.marked = true);
                let _ = s.save();
            }
        }));
    }
    if want("baseline") {
        let profile = by_name("scheduled-tasks").unwrap();
        let loaded = anomalog::pipeline::load(
            &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")],
            profile.as_ref(),
            &Progress::default(),
        );
        let ds = &loaded.dataset;
        // Seeds: a saved autoencoder and a saved hybrid (three autoencoders in one file).
        let seeds: Vec<Vec<u8>> = [
            anomalog::model::ae::Objective::Swap,
            anomalog::model::ae::Objective::Hybrid,
        ]
        .into_iter()
        .map(|objective| {
            let config = anomalog::model::ae::AeConfig {
                epochs: 2,
                objective,
                ..Default::default()
            };
            let trained = anomalog::model::worker::run(
                ds,
                anomalog::model::worker::Task::Train {
                    kind: anomalog::model::ModelKind::Ae,
                    config,
                },
                &Default::default(),
                &mut |_| {},
            )
            .unwrap();
            trained.model.unwrap().to_bytes().unwrap()
        })
        .collect();
        add(fuzz("baseline", &seeds, secs, &mut rng, &|b| {
            let p = dir.path().join("fuzz.safetensors");
            std::fs::write(&p, b).unwrap();
            if let Ok(m) = anomalog::model::Saved::load(&p) {
                let _ = m.score(ds);
            }
        }));
    }
    if want("filter") {
        let s: Vec<Vec<u8>> = [
            "task_name=\\Evil",
            "command~temp|appdata",
            "hosts<=2",
            "verdict=malicious",
            "flags~short",
            "(?i)power[s]hell.*-enc",
            "name~rjjjthqy",
            "prevalence=1 host",
            "note~ticket 4711",
            "a{1000}{1000}",
            "user~jdoe AND NOT (flags~tmp-mod OR count>=5)",
            "name=\"\\\\Adobe Acrobat Update Task\" OR hosts<=1",
            "NOT NOT event!=4698 score>1.5 rank<10",
            "((command!~cmd.exe) or (task=\"a \\\" b\"))",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let fields = anomalog::profile::scheduled_tasks::FIELDS.to_vec();
        /// Every field answers with the same few values.
        struct Any;
        impl anomalog::app::query::Item for Any {
            fn values(&self, _: &str, _: bool) -> Vec<std::borrow::Cow<'_, str>> {
                vec!["corp\\jdoe".into(), "3".into(), "".into()]
            }
            fn any_matches(&self, re: &regex::Regex) -> bool {
                re.is_match("powershell.exe -enc")
            }
        }
        add(fuzz("filter", &s, secs, &mut rng, &|b| {
            let text = String::from_utf8_lossy(b);
            if let Ok(q) = anomalog::app::query::Query::parse(&text, &fields) {
                let _ = q.eval(&Any);
                // What the query prints reads back as a query (`p` rebuilds filters so).
                let printed = q.expr().to_string();
                if let Err(e) = anomalog::app::query::Query::parse(&printed, &fields) {
                    panic!("{text:?} printed as {printed:?} does not read back: {e}");
                }
            }
        }));
    }
    if want("summary") {
        let profile = by_name("scheduled-tasks").unwrap();
        let loaded = anomalog::pipeline::load(
            &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/WS001")],
            profile.as_ref(),
            &Progress::default(),
        );
        let mut text = Vec::new();
        anomalog::output::summary::write(&loaded, &mut text).unwrap();
        // Seeds of at most 256 KiB: the header and the first lines.
        text.truncate(256 << 10);
        add(fuzz("summary", &[text], secs, &mut rng, &|b| {
            load_as(dir.path(), "fuzz.summary.jsonl", b)
        }));
    }
    if want("parquet") {
        // Parquet summaries of three hosts (zstd, row groups as `summarize` writes them).
        let profile = by_name("scheduled-tasks").unwrap();
        let s: Vec<Vec<u8>> = ["samples/WS001", "samples/SRV01", "samples/WS004"]
            .iter()
            .map(|h| {
                let loaded = anomalog::pipeline::load(
                    &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(h)],
                    profile.as_ref(),
                    &Progress::default(),
                );
                let mut bytes = Vec::new();
                anomalog::output::summary::write_parquet(&loaded, &mut bytes).unwrap();
                bytes
            })
            .collect();
        add(fuzz("parquet", &s, secs, &mut rng, &|b| {
            load_as(dir.path(), "fuzz.parquet", b)
        }));
    }
    if want("hunt") {
        // Velociraptor hunt downloads: per-client folders and the combined results, whose
        // rows carry `FlowId`, `ClientId` and `Fqdn`.
        let profile = by_name("scheduled-tasks").unwrap();
        let mut combined = String::new();
        for (i, h) in ["WS001", "SRV01"].iter().enumerate() {
            let loaded = anomalog::pipeline::load(
                &[PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("samples")
                    .join(h)],
                profile.as_ref(),
                &Progress::default(),
            );
            let mut text = Vec::new();
            anomalog::output::summary::write(&loaded, &mut text).unwrap();
            for line in String::from_utf8_lossy(&text).lines().take(40) {
                let mut row: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(line).unwrap();
                row.insert("FlowId".into(), format!("F.{i}").into());
                row.insert("ClientId".into(), format!("C.{i}").into());
                row.insert("Fqdn".into(), (*h).into());
                combined.push_str(&serde_json::Value::Object(row).to_string());
                combined.push('\n');
            }
        }
        let hunt = zip_of(&[
            ("hunt_info.json", br#"{"hunt_id":"H.1"}"#),
            (
                "results/All Custom.Anomalog.Summarize/Results.json",
                combined.as_bytes(),
            ),
            (
                "WS001-C.0/results/Custom.Anomalog.Summarize/Results.json",
                b"{}",
            ),
        ]);
        // Mutated as a whole archive, and as its combined results.
        let results = combined.as_bytes().to_vec();
        add(fuzz("hunt", &[hunt], secs / 2.0, &mut rng, &|b| {
            load_as(dir.path(), "fuzz-hunt.zip", b)
        }));
        add(fuzz(
            "hunt-results",
            &[results],
            secs / 2.0,
            &mut rng,
            &|b| {
                let zip = zip_of(&[("results/All Custom.Anomalog.Summarize/Results.json", b)]);
                load_as(dir.path(), "fuzz-hunt.zip", &zip)
            },
        ));
    }
    if want("taskcache") {
        // The registry TaskCache's Actions (version 1 and 3; exec, COM, e-mail, message box)
        // and DynamicInfo (28 and 36 bytes) values, written as their layouts say.
        let bstr = |s: &str| {
            let u: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let mut b = (u.len() as u32).to_le_bytes().to_vec();
            b.extend(u);
            b
        };
        let mut exec = 3u16.to_le_bytes().to_vec();
        exec.extend(bstr("Author"));
        exec.extend(0x6666u16.to_le_bytes());
        exec.extend(bstr(""));
        exec.extend(bstr("C:\\Windows\\System32\\cmd.exe"));
        exec.extend(bstr("/c whoami"));
        exec.extend(bstr("C:\\"));
        exec.extend(0u16.to_le_bytes());
        let mut com = 1u16.to_le_bytes().to_vec();
        com.extend(0x7777u16.to_le_bytes());
        com.extend(bstr("id"));
        com.extend([7u8; 16]);
        com.extend(bstr("<Data/>"));
        com.extend(0x9999u16.to_le_bytes());
        com.extend(bstr(""));
        com.extend(bstr("caption"));
        com.extend(bstr("text"));
        let mut dynamic = vec![3u8, 0, 0, 0];
        for _ in 0..4 {
            dynamic.extend(133_000_000_000_000_000u64.to_le_bytes());
        }
        dynamic.truncate(36);
        add(fuzz(
            "taskcache",
            &[exec, com, dynamic],
            secs,
            &mut rng,
            &|b| {
                let _ = anomalog::ingest::taskcache::actions(b);
                let _ = anomalog::ingest::taskcache::dynamic_info(b);
                let _ = anomalog::ingest::taskcache::triggers(b);
            },
        ));
        // Triggers as the simulator encodes them (every kind it writes), from real task XML.
        let seeds: Vec<Vec<u8>> = [
            "Boot", "Logon", "Time", "Calendar", "Event", "Idle", "Registration",
        ]
        .iter()
        .map(|k| {
            let xml = format!(
                "<Task><Triggers><{k}Trigger><Repetition><Interval>PT1H</Interval></Repetition></{k}Trigger></Triggers><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals></Task>"
            );
            let x = anomalog::profile::task_xml::parse(&xml).unwrap();
            anomalog::simulate::registry::triggers_blob(&x)
        })
        .collect();
        add(fuzz("triggers", &seeds, secs, &mut rng, &|b| {
            let _ = anomalog::ingest::taskcache::triggers(b);
        }));
    }
    if want("hive") {
        // The samples' SOFTWARE hives (a TaskCache of every host), and a dirty hive with its
        // transaction log; each read as `rank` reads it, the TaskCache decoded.
        let mut seeds: Vec<Vec<u8>> = walkdir::WalkDir::new("samples")
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() == "SOFTWARE")
            .take(2)
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        let mut small = anomalog::simulate::regf::RegKey::new("ROOT", 0);
        small
            .at(anomalog::ingest::taskcache::TASKCACHE, 0)
            .at("Tree\\T", 0)
            .set_sz("Id", "{00000000-0000-0000-0000-000000000001}");
        let before = anomalog::simulate::regf::hive(&small, "SOFTWARE", 0);
        let mut after = small.clone();
        after.at("Extra\\Key", 0).set_dword("v", 1);
        let after = anomalog::simulate::regf::hive(&after, "SOFTWARE", 0);
        let mut dirty = before.clone();
        let log = anomalog::simulate::regf::dirty_with_log(&mut dirty, &after, 5);
        seeds.push(before);
        let read = |hive: &[u8], log: Option<&[u8]>| {
            let hive = hive.to_vec();
            let log = log.map(<[u8]>::to_vec);
            let logs: Vec<&dyn anomalog::ingest::hive::ReadAt> = log
                .iter()
                .map(|l| l as &dyn anomalog::ingest::hive::ReadAt)
                .collect();
            if let Ok(h) = anomalog::ingest::hive::Hive::open(&hive, &logs) {
                let _ = anomalog::ingest::taskcache::read(&h);
                if let Ok(root) = h.root() {
                    let _ = h.walk(&root, 16, 100_000);
                }
            }
        };
        add(fuzz("hive", &seeds, secs, &mut rng, &|b| read(b, None)));
        add(fuzz("hive-log", &[log], secs / 2.0, &mut rng, &|b| {
            read(&dirty, Some(b))
        }));
    }
    println!("all: {} execs, {} crashes", total.0, total.1);
}
