//! Hostile inputs, each generated here, through the real binary: each loads in bounded time
//! and memory (peak resident memory of the process under 200 MB, measured with `wait4`), says
//! what it skipped naming the file, and the rest of the input still loads.

use crate::util;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Peak resident memory allowed to any hostile input, bytes.
const MAX_RSS: u64 = 200 << 20;
/// Time allowed to any hostile input (a debug build on a loaded 2-core machine).
const MAX_TIME: Duration = Duration::from_secs(120);

struct Run {
    code: i32,
    stderr: String,
    stdout: String,
    peak_rss: u64,
    took: Duration,
}

/// The peak resident memory of process `pid` so far (`VmHWM`), bytes.
#[cfg(unix)]
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb << 10)
}

/// Run the binary, reading its peak resident memory (`VmHWM`, a high-water mark of the
/// process since its `exec`) until it exits. (`wait4`'s `ru_maxrss` would count the test
/// process's pages the child had before its `exec`.)
#[cfg(unix)]
fn run(args: &[&std::ffi::OsStr]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let start = Instant::now();
    let mut child = crate::util::bin()
        .args(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(hwm) = vm_hwm(pid) {
            peak = peak.max(hwm);
        }
        // SAFETY: a non-blocking peek at our own child's state; WNOWAIT leaves it to reap.
        let exited = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
                && info.si_pid() != 0
        };
        if exited {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child.wait().unwrap();
    let took = start.elapsed();
    Run {
        code: status.code().unwrap_or(-1),
        stderr: std::fs::read_to_string(&err).unwrap(),
        stdout: std::fs::read_to_string(&out).unwrap(),
        peak_rss: peak,
        took,
    }
}

#[cfg(unix)]
fn rank(inputs: &[&Path], extra: &[&str]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = ["rank", "-m", "rarity", "-f", "jsonl"]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect();
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    let r = run(&args);
    eprintln!(
        "{:?}: peak {} MB in {:.1} s",
        inputs.first().and_then(|p| p.file_name()),
        r.peak_rss >> 20,
        r.took.as_secs_f64()
    );
    assert!(
        r.peak_rss < MAX_RSS,
        "{inputs:?}: peak memory {} MB (limit {} MB)",
        r.peak_rss >> 20,
        MAX_RSS >> 20
    );
    assert!(r.took < MAX_TIME, "{inputs:?}: took {:?}", r.took);
    r
}

/// A good record beside the hostile ones: it must still come out.
fn good() -> PathBuf {
    util::root().join("tests/fixtures/evtx_dump.jsonl")
}

fn jsonl_line(task: &str, content: &str, record: u64) -> String {
    serde_json::json!({
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                "EventID": 4698,
                "Channel": "Security",
                "Computer": "pc9",
                "EventRecordID": record,
                "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}}
            },
            "EventData": {"TaskName": task, "SubjectUserName": "bob", "TaskContent": content}
        }
    })
    .to_string()
}

#[cfg(unix)]
#[test]
fn task_xml_nested_20000_deep() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deep.jsonl");
    let xml = format!(
        "<Task>{}{}</Task>",
        "<a>".repeat(20_000),
        "</a>".repeat(20_000)
    );
    std::fs::write(&p, jsonl_line("\\Deep", &xml, 1) + "\n").unwrap();
    let r = rank(&[&p, &good()], &["--raw"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\\\\Deep"), "{}", r.stdout);
    // The drill-down's pretty-printer: bounded output whatever the depth.
    let lines = anomalog::profile::task_xml::pretty(&xml);
    let chars: usize = lines.iter().map(String::len).sum();
    assert!(chars < 5 << 20, "{chars} characters");
}

#[cfg(unix)]
#[test]
fn a_zip_member_of_256_mib_of_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    for name in ["zeros.evtx", "zeros.jsonl"] {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..128 {
            z.write_all(&chunk).unwrap();
        }
    }
    z.finish().unwrap();
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("bomb.zip"), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "the good record: {}", r.stdout);
}

#[cfg(unix)]
#[test]
fn a_json_record_of_40_mb() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.jsonl");
    let mut f = std::fs::File::create(&p).unwrap();
    writeln!(f, "{}", jsonl_line("\\Before", "<Task/>", 1)).unwrap();
    writeln!(f, "{}", jsonl_line("\\Huge", &"x".repeat(40 << 20), 2)).unwrap();
    writeln!(f, "{}", jsonl_line("\\After", "<Task/>", 3)).unwrap();
    drop(f);
    let r = rank(&[&p], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("huge.jsonl") && r.stderr.contains("larger than 16 MiB"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("\\\\Before") && r.stdout.contains("\\\\After"));
    assert!(!r.stdout.contains("\\\\Huge"));
}

#[cfg(unix)]
#[test]
fn a_record_with_100_000_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.jsonl");
    let mut data = serde_json::Map::new();
    data.insert("TaskName".into(), "\\Wide".into());
    for i in 0..100_000 {
        data.insert(format!("F{i}"), "v".into());
    }
    let line = serde_json::json!({
        "Event": {
            "System": {"EventID": 106, "Channel": "Microsoft-Windows-TaskScheduler/Operational",
                       "Computer": "pc9", "EventRecordID": 1},
            "EventData": data
        }
    });
    std::fs::write(&p, line.to_string() + "\n").unwrap();
    let r = rank(&[&p], &["--raw"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("wide.jsonl") && r.stderr.contains("more than 4096 data fields"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("\\\\Wide"));
}

#[cfg(unix)]
#[test]
fn a_session_file_of_40_mb() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("session.json");
    std::fs::write(&s, vec![b' '; 40 << 20]).unwrap();
    let before = std::fs::metadata(&s).unwrap().len();
    let r = rank(&[&good()], &["--session", s.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("session.json") && r.stderr.contains("too large"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 1);
    assert_eq!(
        std::fs::metadata(&s).unwrap().len(),
        before,
        "left as it is"
    );
}

#[cfg(unix)]
#[test]
fn a_baseline_model_of_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("model.safetensors");
    // A safetensors header that claims 2^60 bytes of metadata, then noise.
    let mut bytes = (1u64 << 60).to_le_bytes().to_vec();
    bytes.extend((0..(8 << 20)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    std::fs::write(&m, bytes).unwrap();
    let mut args: Vec<&std::ffi::OsStr> = ["rank", "--baseline"]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect();
    args.push(m.as_os_str());
    let g = good();
    args.push(g.as_os_str());
    let r = run(&args);
    assert!(r.peak_rss < MAX_RSS, "{} MB", r.peak_rss >> 20);
    assert!(r.peak_rss > 0, "measured");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("model.safetensors") && r.stderr.contains("not an anomalog model"),
        "{}",
        r.stderr
    );
}

#[cfg(unix)]
#[test]
fn an_evtx_file_of_noise() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noise.evtx");
    // The right magic, then 32 MiB of noise.
    let mut bytes = b"ElfFile\0".to_vec();
    bytes.extend((0..(32u32 << 20)).map(|i| (i.wrapping_mul(2_246_822_519) >> 24) as u8));
    std::fs::write(&p, bytes).unwrap();
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("noise.evtx"), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1);
}

#[cfg(unix)]
#[test]
fn a_summary_line_of_20_mb() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("host.summary.jsonl");
    let fields: Vec<&str> = anomalog::profile::scheduled_tasks::FIELDS.to_vec();
    let header = serde_json::json!({
        "anomalog_summary": 1, "profile": "scheduled-tasks", "fields": fields,
        "records": 1, "skipped": 0, "files": 1, "duplicates_dropped": 0, "rejected": 0,
        "hosts": ["pc9"]
    });
    let line = format!(
        "{{\"channel\":\"Security\",\"event_id\":4698,\"values\":[\"{}\"]}}",
        "x".repeat(20 << 20)
    );
    std::fs::write(&p, format!("{header}\n{line}\n")).unwrap();
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("host.summary.jsonl"), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1);
}

/// The samples' first server (its events and definitions), summarised: (header line, lines).
#[cfg(unix)]
fn a_real_summary() -> (String, Vec<String>) {
    let host = util::root().join("samples/SRV01");
    let loaded = util::load(&[host]);
    let mut text = Vec::new();
    anomalog::output::summary::write(&loaded, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// A real host's Parquet summary with its rows repeated a hundred times: as one row
/// group of distinct rows that would inflate to some 40 MB, refused on what its metadata
/// says, before decoding; as row groups of 4 096 repeated rows, read a group at a time, the
/// rows past what the header says were read refused, the repeats folded.
#[cfg(unix)]
#[test]
fn a_parquet_summary_of_repeated_rows() {
    use polars::prelude::*;
    let host = util::root().join("samples/SRV01");
    let loaded = util::load(&[host]);
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.parquet");
    anomalog::output::summary::write_parquet(&loaded, &mut std::fs::File::create(&one).unwrap())
        .unwrap();
    let mut reader = ParquetReader::new(std::fs::File::open(&one).unwrap());
    let meta = reader.get_metadata().unwrap().clone();
    let df = reader.finish().unwrap();
    let n = df.height() as u32;
    assert!(n > 100);
    let idx = IdxCa::from_vec("i".into(), (0..n * 100).map(|i| i % n).collect());
    let mut repeated = df.take(&idx).unwrap();
    // Rows that differ (a long file name each): no dictionary shrinks them, so the one row
    // group's pages hold some 40 MB.
    let mut distinct = repeated.clone();
    let sources: Vec<String> = (0..distinct.height())
        .map(|i| format!("[\"{}{i}\"]", "x".repeat(3000)))
        .collect();
    distinct
        .with_column(Column::new("sources".into(), sources))
        .unwrap();
    let kv = meta.key_value_metadata().clone().unwrap();
    for (name, group, df) in [
        ("big.parquet", None, &mut distinct),
        ("groups.parquet", Some(4096), &mut repeated),
    ] {
        let mut f = std::fs::File::create(dir.path().join(name)).unwrap();
        ParquetWriter::new(&mut f)
            .with_compression(ParquetCompression::Zstd(None))
            .with_row_group_size(group)
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(
                kv.iter()
                    .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                    .collect(),
            )))
            .finish(df)
            .unwrap();
    }
    let big = dir.path().join("big.parquet");
    let r = rank(&[&big, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("big.parquet") && r.stderr.contains("inflates to"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.lines().count() >= 1, "the good record is there");
    let groups = dir.path().join("groups.parquet");
    let r = rank(&[&groups], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("groups.parquet"), "{}", r.stderr);
    // The table lists the logged events (the host's definitions are rows of `--by
    // definition`): each once.
    let events = loaded
        .dataset
        .uniques
        .iter()
        .filter(|e| e.kind() == anomalog::frame::RowKind::Event)
        .count();
    assert!(events > 100 && events < n as usize, "{events} of {n}");
    assert_eq!(
        r.stdout.lines().count(),
        events,
        "each event once: {}",
        r.stderr
    );
}

/// A hunt download of a few MB whose one results JSON inflates to 300 MB: one summary row
/// repeated. Read as a stream, the repeats folded, in bounded memory.
#[cfg(unix)]
#[test]
fn a_hunt_zip_whose_results_inflate_to_300_mb() {
    let (header, lines) = a_real_summary();
    let mut h: serde_json::Value = serde_json::from_str(&header).unwrap();
    h["records"] = serde_json::json!(u64::MAX);
    h["Fqdn"] = serde_json::json!("ws001");
    h["ClientId"] = serde_json::json!("C.1");
    let mut row: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    row["Fqdn"] = serde_json::json!("ws001");
    row["ClientId"] = serde_json::json!("C.1");
    let row = row.to_string();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("H.9.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    z.start_file(
        "results/All Custom.Anomalog.Summarize/Results.json",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    writeln!(z, "{h}").unwrap();
    let block: String = std::iter::repeat_n(format!("{row}\n"), 1000).collect();
    let mut written = 0usize;
    while written < 300 << 20 {
        z.write_all(block.as_bytes()).unwrap();
        written += block.len();
    }
    z.finish().unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() < 20 << 20);
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("H.9.zip") && r.stderr.contains("repeat a unique event"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stdout.lines().count(),
        2,
        "the event once, and the good record"
    );
}

/// One summary line repeated 100 000 times (270 MB): read line by line, folded.
#[cfg(unix)]
#[test]
fn a_summary_line_repeated_100_000_times() {
    let (header, lines) = a_real_summary();
    let mut h: serde_json::Value = serde_json::from_str(&header).unwrap();
    h["records"] = serde_json::json!(u64::MAX);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many.summary.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(f, "{h}").unwrap();
    for _ in 0..100_000 {
        writeln!(f, "{}", lines[0]).unwrap();
    }
    drop(f);
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("many.summary.jsonl") && r.stderr.contains("99999 summary lines repeat"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 2);
}

/// A summary header naming 700 000 hosts: at most 10 000 kept, the rest read past.
#[cfg(unix)]
#[test]
fn a_summary_header_of_700_000_hosts() {
    let (header, lines) = a_real_summary();
    let mut h: serde_json::Value = serde_json::from_str(&header).unwrap();
    h["hosts"] = serde_json::json!((0..700_000).map(|i| format!("h{i}")).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.summary.jsonl");
    std::fs::write(&p, format!("{h}\n{}\n", lines[0])).unwrap();
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stderr);
}

/// A session file of a million tiny entries (22 MB, under the size limit): refused, never
/// written over, the logs ranked all the same.
#[cfg(unix)]
#[test]
fn a_session_of_a_million_entries() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("session.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&s).unwrap());
    write!(f, "{{\"format\":\"anomalog-session-1\",\"events\":{{").unwrap();
    for i in 0..1_000_000u64 {
        if i > 0 {
            write!(f, ",").unwrap();
        }
        write!(f, "\"{i:016x}\":{{}}").unwrap();
    }
    write!(f, "}}}}").unwrap();
    drop(f);
    let before = std::fs::read(&s).unwrap();
    let r = rank(&[&good()], &["--session", s.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("session.json") && r.stderr.contains("more than 250000 entries"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 1);
    assert_eq!(std::fs::read(&s).unwrap(), before, "left as it is");
}

/// A damaged Parquet summary in a folder is a warning, never passed over in silence.
#[cfg(unix)]
#[test]
fn a_damaged_parquet_summary_in_a_folder_is_named() {
    let host = util::root().join("samples/SRV01");
    let loaded = util::load(&[host]);
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    anomalog::output::summary::write_parquet(&loaded, &mut bytes).unwrap();
    // Its footer (the metadata) cut off.
    bytes.truncate(bytes.len() - 200);
    std::fs::write(dir.path().join("ws001.parquet"), &bytes).unwrap();
    std::fs::copy(good(), dir.path().join("good.jsonl")).unwrap();
    let r = rank(&[dir.path()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("ws001.parquet") && r.stderr.contains("not a readable Parquet"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 1);
}

/// A Parquet summary whose page header claims a negative number of values (found by the
/// fuzzer): polars would size a buffer by it and abort the process. Its row group is
/// refused, named, and the rest loads.
#[cfg(unix)]
#[test]
fn a_parquet_page_header_claiming_impossible_values() {
    let p = util::root().join("tests/fixtures/forged-page-header.parquet");
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("forged-page-header.parquet")
            && r.stderr
                .contains("row group 1 of 1 not read: a page of -111 values"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 1, "the good record");
}

/// A Parquet summary whose footer claims lists of billions of entries (found by the
/// fuzzer): polars would allocate 27 GB for it and abort. Refused, named, the rest loads.
#[cfg(unix)]
#[test]
fn a_parquet_footer_claiming_27_gb() {
    let p = util::root().join("tests/fixtures/forged-footer.parquet");
    let r = rank(&[&p, &good()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("forged-footer.parquet")
            && r.stderr
                .contains("not a readable Parquet file: metadata that cannot be read"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout.lines().count(), 1, "the good record");
}

/// Task XML as Windows writes it: UTF-16LE with a byte-order mark.
fn utf16le(text: &str) -> Vec<u8> {
    let mut b = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

fn good_task_xml(command: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Task xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\"><Triggers><LogonTrigger/></Triggers><Actions><Exec><Command>{command}</Command></Exec></Actions></Task>"
    )
}

/// Pseudo-random bytes, the same every run.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// A Tasks folder of hostile definitions beside a good one: each refused or bounded, named in
/// a warning, the good one still read.
#[cfg(unix)]
#[test]
fn a_tasks_folder_of_hostile_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("PC9/C/Windows/System32/Tasks");
    let legacy = dir.path().join("PC9/C/Windows/Tasks");
    std::fs::create_dir_all(tasks.join("Sub")).unwrap();
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(tasks.join("Good"), utf16le(&good_task_xml("C:\\good.exe"))).unwrap();
    // Over the size cap: refused before it is parsed.
    let mut huge = good_task_xml("C:\\huge.exe");
    huge.push_str(&" ".repeat(5 << 20));
    std::fs::write(tasks.join("Huge"), huge).unwrap();
    // 10 000 triggers and actions (2 MiB): read, the lists capped.
    let many = format!(
        "<Task xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\"><Triggers>{}</Triggers><Actions>{}</Actions></Task>",
        "<TimeTrigger><StartBoundary>2024-01-01T00:00:00</StartBoundary></TimeTrigger>"
            .repeat(10_000),
        "<Exec><Command>x.exe</Command></Exec>".repeat(10_000)
    );
    std::fs::write(tasks.join("Sub/Many"), utf16le(&many)).unwrap();
    // Nested 20 000 deep, cut short, odd-length UTF-16, a lone surrogate, a terminal escape
    // in the name and the command.
    std::fs::write(
        tasks.join("Deep"),
        format!("<Task>{}", "<a>".repeat(20_000)),
    )
    .unwrap();
    let mut odd = utf16le(&good_task_xml("C:\\odd.exe"));
    odd.truncate(odd.len() - 3);
    std::fs::write(tasks.join("Odd"), odd).unwrap();
    let mut surrogate = utf16le("<Task><Actions><Exec><Command>");
    surrogate.extend_from_slice(&[0x00, 0xd8]);
    surrogate.extend_from_slice(&utf16le("</Command></Exec></Actions></Task>")[2..]);
    std::fs::write(tasks.join("Surrogate"), surrogate).unwrap();
    std::fs::write(
        tasks.join("Esc\u{1b}]0;owned\u{7}"),
        utf16le(&good_task_xml("C:\\\u{1b}[2Jx.exe")),
    )
    .unwrap();
    // Not task XML at all, under the Tasks folder.
    std::fs::write(tasks.join("Noise"), noise(100_000, 7)).unwrap();
    // .job files: noise, cut short, and a header claiming huge offsets.
    std::fs::write(legacy.join("noise.job"), noise(4_096, 9)).unwrap();
    std::fs::write(legacy.join("short.job"), &noise(60, 3)[..30]).unwrap();
    let mut claims = vec![0u8; 72];
    claims[0..2].copy_from_slice(&0x0501u16.to_le_bytes());
    claims[2..4].copy_from_slice(&1u16.to_le_bytes());
    claims[20..22].copy_from_slice(&70u16.to_le_bytes()); // the application name's offset
    claims[70..72].copy_from_slice(&0xffffu16.to_le_bytes()); // a name of 65 535 characters
    std::fs::write(legacy.join("claims.job"), claims).unwrap();
    // A link loop inside the Tasks folder.
    std::os::unix::fs::symlink("..", tasks.join("Sub/loop")).unwrap();

    let r = rank(&[dir.path()], &["--by", "definition", "--raw"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = util::jsonl(&r.stdout);
    let command = |r: &serde_json::Value| r["fields"]["command"].as_str().unwrap_or("").to_string();
    assert!(
        rows.iter().any(|r| command(r).contains("good.exe")),
        "the good definition is missing: {rows:#?}"
    );
    assert!(!rows.iter().any(|r| command(r).contains("huge.exe")));
    let many = rows
        .iter()
        .find(|r| r["task"] == "\\Sub\\Many")
        .expect("Many is read");
    let triggers = many["fields"]["triggers"].as_str().unwrap_or("");
    assert!(
        triggers.len() < 4_096,
        "{} bytes of triggers",
        triggers.len()
    );
    assert!(
        r.stderr.contains("Huge") && r.stderr.contains("larger than 4 MiB"),
        "{}",
        r.stderr
    );
    for job in ["noise.job", "short.job", "claims.job"] {
        assert!(
            r.stderr.contains(job) && r.stderr.contains("not a readable .job file"),
            "{job}: {}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("Deep") && r.stderr.contains("malformed task XML"),
        "{}",
        r.stderr
    );
    // Escapes from file names and commands never reach the terminal raw.
    assert!(
        !r.stderr.contains('\u{1b}'),
        "a raw escape on stderr: {:?}",
        r.stderr
    );
    // Every definition came out once, whatever the loop.
    let tasks: Vec<&str> = rows.iter().filter_map(|r| r["task"].as_str()).collect();
    let mut unique = tasks.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), tasks.len(), "{tasks:?}");
}

/// A Tasks folder of 10 050 definitions: 10 000 read, the rest refused and counted in one
/// warning, in bounded time and memory (a folder of 100 000 takes the same path: the count
/// is checked before any file is opened).
#[cfg(unix)]
#[test]
fn a_tasks_folder_of_10050_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("PC9/C/Windows/System32/Tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    for i in 0..10_050 {
        let xml = good_task_xml(&format!("C:\\t{i}.exe"));
        std::fs::write(tasks.join(format!("T{i:05}")), utf16le(&xml)).unwrap();
    }
    let r = rank(&[dir.path()], &["--by", "definition"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = util::jsonl(&r.stdout);
    assert_eq!(rows.len(), 10_000, "{}", r.stderr);
    assert!(
        r.stderr.contains("50 definitions not read")
            && r.stderr
                .contains("a Tasks folder is read up to 10000 definitions"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("warning").count(), 1, "{}", r.stderr);
    // The same 10 000 whatever order the folder lists them in: the first by name.
    assert!(rows.iter().any(|r| r["task"] == "\\T00000"));
    assert!(!rows.iter().any(|r| r["task"] == "\\T10049"));
}
