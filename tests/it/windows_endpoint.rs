//! The endpoint binary: the Windows build (`anomalog.exe`, cross-built by `.ci/run`) run
//! under Wine with Windows paths gives the same summary and ranking as the Linux build.
//!
//! Runs when `ANOMALOG_WINDOWS_EXE` names the `.exe` (with the Wine loader in
//! `ANOMALOG_WINE`, default `/usr/lib/wine/wine64`); skips with a printed reason otherwise.

use crate::util;
use std::path::{Path, PathBuf};
use std::process::Command;

fn windows() -> Option<(PathBuf, PathBuf)> {
    let Some(exe) = std::env::var_os("ANOMALOG_WINDOWS_EXE").map(PathBuf::from) else {
        eprintln!("SKIP: ANOMALOG_WINDOWS_EXE is not set (.ci/run builds the Windows binary)");
        return None;
    };
    let wine = std::env::var_os("ANOMALOG_WINE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/wine/wine64"));
    if !exe.is_file() || !wine.is_file() {
        eprintln!("SKIP: {} or {} is missing", exe.display(), wine.display());
        return None;
    }
    Some((exe, wine))
}

/// A Linux path as Wine shows it to a Windows program.
fn windows_path(p: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    format!("Z:{}", abs.display()).replace('/', "\\")
}

fn run_windows(exe: &Path, wine: &Path, args: &[String]) -> std::process::Output {
    let out = Command::new(wine)
        .arg(exe)
        .args(args)
        .env("WINEDEBUG", "-all")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "anomalog.exe {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run_linux(args: &[String]) -> std::process::Output {
    let out = crate::util::bin().args(args).output().unwrap();
    assert!(out.status.success(), "anomalog {args:?}");
    out
}

/// JSON lines without the keys that hold paths (they differ by platform by design).
fn without_paths(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(util::without_paths).collect()
}

#[test]
fn the_windows_build_summarises_and_ranks_as_the_linux_build() {
    let Some((exe, wine)) = windows() else { return };
    let root = util::root();
    let host = root.join("samples/WS003");
    let dir = tempfile::tempdir().unwrap();

    let win_summary = dir.path().join("win.jsonl");
    let linux_summary = dir.path().join("linux.jsonl");
    run_windows(
        &exe,
        &wine,
        &[
            "summarize".into(),
            "--quiet".into(),
            windows_path(&host),
            "-o".into(),
            format!("{}\\win.jsonl", windows_path(dir.path())),
        ],
    );
    run_linux(&[
        "summarize".into(),
        "--quiet".into(),
        host.display().to_string(),
        "-o".into(),
        linux_summary.display().to_string(),
    ]);
    let win = std::fs::read_to_string(&win_summary).unwrap();
    let linux = std::fs::read_to_string(&linux_summary).unwrap();
    assert!(win.lines().count() > 10);
    assert_eq!(without_paths(&win), without_paths(&linux));
    assert!(
        win.contains("Z:\\\\"),
        "Windows paths in the Windows summary"
    );

    // The ranking of the real shared logs (or the samples where they are absent).
    let logs = match std::env::var_os("ANOMALOG_SHARED_EVTX")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/evtx"))
    {
        d if d.join("MANIFEST.md").is_file() => d,
        _ => root.join("samples"),
    };
    let rank = |out: std::process::Output| String::from_utf8(out.stdout).unwrap();
    let win_rank = rank(run_windows(
        &exe,
        &wine,
        &[
            "rank".into(),
            "-q".into(),
            "-m".into(),
            "rarity".into(),
            "-f".into(),
            "jsonl".into(),
            windows_path(&logs),
        ],
    ));
    let linux_rank = rank(run_linux(&[
        "rank".into(),
        "-q".into(),
        "-m".into(),
        "rarity".into(),
        "-f".into(),
        "jsonl".into(),
        logs.display().to_string(),
    ]));
    assert!(linux_rank.lines().count() > 10);
    assert_eq!(without_paths(&win_rank), without_paths(&linux_rank));
}
