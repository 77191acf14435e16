//! How fast and in how much memory a large SOFTWARE hive's TaskCache is read: writes a hive
//! of about `MB` megabytes (default 100: filler keys and values as a real SOFTWARE hive has
//! them, with the TaskCache of a host's 300 tasks), then times `anomalog rank --by
//! definition` on it (the release binary), and, as the reference measured in the same run,
//! hivex's `hivexml` on the same file (it reads every key).
//!
//! `cargo build --release && cargo run --release --example hive_read -- [MB] [KEEP_IN_FOLDER]`

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Instant;

use anomalog::simulate::regf;

/// Wall time and peak resident memory (MB, from GNU time: this process's own memory would
/// count in a child's forked from it) of a command.
fn measure(program: &std::path::Path, args: &[&std::ffi::OsStr]) -> (Option<f64>, bool) {
    let timed = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output();
    let out = match timed {
        Ok(o) => o,
        Err(_) => {
            let ok = Command::new(program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            return (None, ok);
        }
    };
    let peak = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    (peak, out.status.success())
}

/// The best of three wall times of a command (and its peak memory).
fn timed(program: &std::path::Path, args: &[&std::ffi::OsStr]) -> (f64, Option<f64>, bool) {
    let mut best = f64::MAX;
    let mut peak = None;
    let mut ok = true;
    for _ in 0..3 {
        let start = Instant::now();
        let (p, good) = measure(program, args);
        best = best.min(start.elapsed().as_secs_f64());
        peak = p.or(peak);
        ok &= good;
    }
    (best, peak, ok)
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    // A second argument: write the hive there and keep it.
    let base = std::env::args()
        .nth(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let config = base.join("HOST/C/Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    let t = 1_791_158_400_000_000;
    let tasks: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("\\Microsoft\\Windows\\Folder{}\\Task{i}", i % 40),
                format!(
                    "<Task><Triggers><CalendarTrigger/></Triggers><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals><Actions><Exec><Command>C:\\Windows\\System32\\task{i}.exe</Command></Exec></Actions></Task>"
                ),
            )
        })
        .collect();
    let entries: Vec<anomalog::simulate::registry::Entry<'_>> = tasks
        .iter()
        .map(|(name, xml)| anomalog::simulate::registry::Entry {
            name,
            xml,
            written: t,
            tamper: Default::default(),
        })
        .collect();
    let mut root = anomalog::simulate::registry::software_root(&entries, false, t);
    // Filler where a real SOFTWARE hive is large: classes, 64 values of 300 bytes a key.
    let per_key = 64 * (300 + 80) + 200;
    for i in 0..(mb << 20) / per_key {
        let k = root.at(
            &format!("Classes\\CLSID\\{{{i:08X}-0000-0000-0000-000000000000}}"),
            t,
        );
        for v in 0..64 {
            k.set(
                &format!("v{v}"),
                regf::REG_BINARY,
                vec![(i % 251) as u8; 300],
            );
        }
    }
    let big = regf::hive(&root, "\\SystemRoot\\System32\\Config\\SOFTWARE", t);
    drop(root);
    let hive = config.join("SOFTWARE");
    std::fs::write(&hive, &big).unwrap();
    let size = big.len() as f64 / (1 << 20) as f64;
    drop(big);
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("anomalog");
    let hive_arg = hive.as_os_str();
    let (ours, ours_mb, ok) = timed(
        &bin,
        &[
            "rank".as_ref(),
            "-q".as_ref(),
            "-m".as_ref(),
            "rarity".as_ref(),
            "--by".as_ref(),
            "definition".as_ref(),
            "-f".as_ref(),
            "jsonl".as_ref(),
            hive_arg,
        ],
    );
    assert!(ok, "anomalog rank failed");
    println!("hive: {size:.1} MB, 300 tasks in its TaskCache");
    println!(
        "anomalog rank --by definition: {ours:.3} s (best of 3), peak {}",
        ours_mb.map_or("unknown (no /usr/bin/time)".into(), |m| format!(
            "{m:.0} MB"
        ))
    );
    let (theirs, _, ok) = timed(std::path::Path::new("hivexml"), &[hive_arg]);
    if ok {
        println!(
            "hivexml (every key): {theirs:.3} s (best of 3); anomalog / hivexml = {:.2}",
            ours / theirs
        );
    } else {
        println!("hivexml: not run (install libhivex-bin for the reference)");
    }
}
