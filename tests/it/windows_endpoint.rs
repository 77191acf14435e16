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

/// A registry key tree as a `.reg` file for `regedit /S` (under `HKEY_LOCAL_MACHINE\SOFTWARE`).
fn reg_file(key: &anomalog::simulate::regf::RegKey, path: &str, out: &mut String) {
    out.push_str(&format!("\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE{path}]\r\n"));
    for (name, kind, data) in &key.values {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        let value = match *kind {
            anomalog::simulate::regf::REG_DWORD => format!(
                "dword:{:08x}",
                u32::from_le_bytes([data[0], data[1], data[2], data[3]])
            ),
            anomalog::simulate::regf::REG_SZ => {
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]))
                    .take_while(|&u| u != 0)
                    .collect();
                format!(
                    "\"{}\"",
                    String::from_utf16_lossy(&units)
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                )
            }
            _ => format!(
                "hex:{}",
                data.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        out.push_str(&format!("\"{name}\"={value}\r\n"));
    }
    for k in &key.subkeys {
        reg_file(k, &format!("{path}\\{}", k.name), out);
    }
}

/// Issue 24: the endpoint reads the live registry's TaskCache (`summarize HKLM\SOFTWARE`)
/// and gives the same definitions as the Linux build reading a hive file of the same keys.
/// Runs in a Wine prefix of its own, filled with `regedit /S`.
#[test]
fn the_windows_build_reads_the_live_taskcache_as_the_linux_build_reads_the_hive() {
    let Some((exe, wine)) = windows() else { return };
    use anomalog::simulate::registry::{Entry, Tamper, software_root};
    let xml = |cmd: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\"><RegistrationInfo><Author>CORP\\eve</Author></RegistrationInfo><Triggers><LogonTrigger/><TimeTrigger><Repetition><Interval>PT1H</Interval></Repetition></TimeTrigger></Triggers><Principals><Principal id=\"Author\"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals><Actions Context=\"Author\"><Exec><Command>{cmd}</Command><Arguments>-x</Arguments></Exec></Actions></Task>"
        )
    };
    let (a, b, c) = (
        xml("C:\\Windows\\System32\\a.exe"),
        xml("C:\\Users\\Public\\b.exe"),
        xml("C:\\ProgramData\\c.exe"),
    );
    let t = 1_791_158_400_000_000;
    let entries = [
        Entry {
            name: "\\AnomalogTest\\Plain",
            xml: &a,
            written: t,
            tamper: Tamper::None,
        },
        Entry {
            name: "\\AnomalogTest\\Hidden",
            xml: &b,
            written: t,
            tamper: Tamper::NoSd,
        },
        Entry {
            name: "\\AnomalogTest\\IndexZero",
            xml: &c,
            written: t,
            tamper: Tamper::IndexZero,
        },
    ];
    let root = software_root(&entries, true, t);
    let dir = tempfile::tempdir().unwrap();
    // The Linux side: the same keys as a hive file where KAPE puts it.
    let system32 = dir.path().join("HOST/C/Windows/System32");
    std::fs::create_dir_all(system32.join("config")).unwrap();
    std::fs::write(
        system32.join("config/SOFTWARE"),
        anomalog::simulate::regf::hive(&root, "SOFTWARE", t),
    )
    .unwrap();
    // The Windows side: a Wine prefix of its own, the keys imported.
    let prefix = dir.path().join("prefix");
    let mut reg = String::from("Windows Registry Editor Version 5.00\r\n");
    for k in &root.subkeys {
        reg_file(k, &format!("\\{}", k.name), &mut reg);
    }
    let reg_path = dir.path().join("taskcache.reg");
    std::fs::write(&reg_path, reg).unwrap();
    let wine_cmd = |args: &[String]| {
        Command::new(&wine)
            .args(args)
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .output()
            .unwrap()
    };
    let imported = wine_cmd(&["regedit".into(), "/S".into(), windows_path(&reg_path)]);
    assert!(
        imported.status.success(),
        "regedit: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    // The Tasks folder Wine's system has (if any) stands beside the hive file too, so that
    // both compare the registry with the same files.
    let wine_tasks = prefix.join("drive_c/windows/system32/Tasks");
    let wine_tasks = if wine_tasks.is_dir() {
        Some(wine_tasks)
    } else {
        let lower = prefix.join("drive_c/windows/system32/tasks");
        lower.is_dir().then_some(lower)
    };
    if let Some(from) = &wine_tasks {
        std::fs::create_dir_all(system32.join("Tasks")).unwrap();
        for e in walkdir::WalkDir::new(from)
            .into_iter()
            .filter_map(Result::ok)
        {
            let rel = e.path().strip_prefix(from).unwrap();
            let to = system32.join("Tasks").join(rel);
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
    }
    let win_out = dir.path().join("win.jsonl");
    let ran = wine_cmd(&[
        exe.display().to_string(),
        "summarize".into(),
        "--quiet".into(),
        "HKLM\\SOFTWARE".into(),
        "-o".into(),
        windows_path(&win_out),
    ]);
    assert!(
        ran.status.success(),
        "anomalog.exe summarize HKLM\\SOFTWARE: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let linux_out = dir.path().join("linux.jsonl");
    run_linux(&[
        "summarize".into(),
        "--quiet".into(),
        system32.join("config/SOFTWARE").display().to_string(),
        "-o".into(),
        linux_out.display().to_string(),
    ]);
    // The test's tasks, by name: their values and flags (the hosts differ: the Wine
    // machine's name, the collection folder's).
    let ours = |text: &str| {
        let mut rows: Vec<(String, serde_json::Value, serde_json::Value)> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| {
                v["values"][0].as_str().is_some_and(|n| {
                    n.starts_with("\\anomalogtest\\") || n.starts_with("\\AnomalogTest\\")
                })
            })
            .map(|v| {
                (
                    v["values"][0].as_str().unwrap().to_string(),
                    v["values"].clone(),
                    v["flags"].clone(),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let win = ours(&std::fs::read_to_string(&win_out).unwrap());
    let linux = ours(&std::fs::read_to_string(&linux_out).unwrap());
    assert_eq!(win.len(), 3, "{win:#?}");
    assert_eq!(win, linux);
    let flags: Vec<String> = win.iter().map(|r| r.2.to_string()).collect();
    assert!(flags.iter().any(|f| f.contains("hidden")), "{flags:?}");
    assert!(flags.iter().any(|f| f.contains("index-zero")), "{flags:?}");
}
