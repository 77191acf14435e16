//! Triage sessions: save and restore, atomic saves under `kill -9`, and what the rest of the
//! program does with them (ingest passes over them, exports carry them, training can leave
//! benign events out).

use crate::util;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anomalog::frame::Dataset;
use anomalog::session::{self, Entry, FORMAT, SESSION_FILE, Session, SessionFile, Verdict};

fn samples() -> Dataset {
    util::load(&[PathBuf::from("samples")]).dataset
}

#[test]
fn keys_are_stable_and_distinct() {
    let a = samples();
    let b = samples();
    let keys: Vec<String> = (0..a.uniques.len()).map(|u| session::key(&a, u)).collect();
    assert_eq!(
        keys,
        (0..b.uniques.len())
            .map(|u| session::key(&b, u))
            .collect::<Vec<_>>()
    );
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), keys.len(), "one key per unique event");
}

#[test]
fn save_and_restore() {
    let ds = samples();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut s = Session::open(path.clone(), &ds).unwrap();
    assert!(!s.restored);
    s.update(&ds, 3, |e| {
        e.verdict = Some(Verdict::Malicious);
        e.note = "beacon to 10.0.0.5".into();
    });
    s.update(&ds, 7, |e| e.marked = true);
    s.update(&ds, 9, |e| e.verdict = Some(Verdict::Benign));
    // An entry that becomes empty is dropped.
    s.update(&ds, 11, |e| e.marked = true);
    s.update(&ds, 11, |e| e.marked = false);
    assert_eq!(s.save().unwrap(), path.as_path());

    let again = samples();
    let r = Session::open(path.clone(), &again).unwrap();
    assert!(r.restored);
    assert_eq!(r.verdict(3), Some(Verdict::Malicious));
    assert_eq!(r.note(3), "beacon to 10.0.0.5");
    assert!(r.entry(7).unwrap().marked);
    assert_eq!(r.verdict(9), Some(Verdict::Benign));
    assert!(r.entry(11).is_none());
    assert_eq!(r.present().count(), 3);
    // The file names what each entry is, for a person reading it.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(FORMAT) && text.contains("\"malicious\""),
        "{text}"
    );
    assert!(r.file.events.values().all(|e| !e.label.is_empty()));

    // Leaving benign events out of training.
    let ds = again;
    assert_eq!(r.exclude_benign(&ds), 1);
    assert!(!ds.trains_on(9) && ds.trains_on(3));
}

#[test]
fn entries_of_other_logs_are_kept() {
    let ds = samples();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut other = SessionFile {
        format: FORMAT.into(),
        ..SessionFile::default()
    };
    other.events.insert(
        "00000000deadbeef".into(),
        Entry {
            note: "from another collection".into(),
            ..Entry::default()
        },
    );
    session::write_atomic(&path, &other).unwrap();
    let mut s = Session::open(path.clone(), &ds).unwrap();
    s.update(&ds, 0, |e| e.marked = true);
    s.save().unwrap();
    let back = session::read(&path).unwrap().unwrap();
    assert_eq!(back.events.len(), 2);
    assert_eq!(
        back.events["00000000deadbeef"].note,
        "from another collection"
    );
}

#[test]
fn a_damaged_session_is_reported_and_never_overwritten() {
    let ds = samples();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, b"{\"format\": \"anomalog-session-1\", \"events\": {").unwrap();
    let err = Session::open(path.clone(), &ds).unwrap_err().to_string();
    assert!(err.contains("not a session file"), "{err}");
    std::fs::write(&path, b"{\"format\": \"something-else\"}").unwrap();
    let err = Session::open(path.clone(), &ds).unwrap_err().to_string();
    assert!(err.contains("session format"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{\"format\": \"something-else\"}"
    );
}

#[test]
fn the_session_lives_beside_the_logs_and_ingest_passes_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::copy(
        "tests/fixtures/evtx_dump.jsonl",
        logs.join("evtx_dump.jsonl"),
    )
    .unwrap();
    let load = || util::load(std::slice::from_ref(&logs));
    let loaded = load();
    assert!(!loaded.dataset.uniques.is_empty());
    let mut s = Session::for_inputs(std::slice::from_ref(&logs), None, &loaded.dataset).unwrap();
    assert_eq!(s.path, logs.join(SESSION_FILE));
    s.update(&loaded.dataset, 0, |e| {
        e.verdict = Some(Verdict::Suspicious)
    });
    s.save().unwrap();
    // A file given alone keeps its session in its folder too.
    assert_eq!(
        session::path_beside(&[logs.join("evtx_dump.jsonl")]).unwrap(),
        logs.join(SESSION_FILE)
    );
    // Reading the folder again: the session file is neither read nor warned about.
    let again = load();
    assert_eq!(again.records, loaded.records);
    assert_eq!(
        again.warnings().count(),
        0,
        "{:?}",
        again.warnings().collect::<Vec<_>>()
    );
    let r = Session::for_inputs(&[logs], None, &again.dataset).unwrap();
    assert!(r.restored);
    assert_eq!(r.verdict(0), Some(Verdict::Suspicious));
}

/// Not a test on its own: the child process of `a_kill_during_a_save_keeps_a_whole_session`,
/// saving two large sessions in turn until it is killed.
#[test]
#[ignore]
fn helper_save_forever() {
    let Some(path) = std::env::var_os("ANOMALOG_SAVE_LOOP") else {
        return;
    };
    let path = PathBuf::from(path);
    let files: Vec<SessionFile> = ["A", "B"].iter().map(|g| big_session(g)).collect();
    for i in 0.. {
        session::write_atomic(&path, &files[i % 2]).unwrap();
    }
}

const ENTRIES: usize = 20_000;

fn big_session(generation: &str) -> SessionFile {
    let events: BTreeMap<String, Entry> = (0..ENTRIES)
        .map(|i| {
            (
                format!("{i:016x}"),
                Entry {
                    marked: i % 3 == 0,
                    verdict: Some(Verdict::Suspicious),
                    note: format!("generation {generation}, note {i}: {}", "x".repeat(40)),
                    label: format!("4698 \\Task{i} c:\\windows\\system32\\cmd.exe"),
                },
            )
        })
        .collect();
    SessionFile {
        format: FORMAT.into(),
        profile: "scheduled-tasks".into(),
        saved: String::new(),
        inputs: vec![generation.into()],
        events,
        tasks: Default::default(),
    }
}

fn temporaries(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count()
}

#[test]
fn a_kill_during_a_save_keeps_a_whole_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SESSION_FILE);
    let me = std::env::current_exe().unwrap();
    let mut mid_save = 0;
    let mut rounds = 0;
    // Kill the saving process at varied moments until some kills have hit a save in progress
    // (a temporary file is left behind).
    while rounds < 40 && mid_save < 3 {
        rounds += 1;
        // Each round starts clean, so what is found after the kill is this round's doing.
        let _ = std::fs::remove_file(&path);
        for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        let mut child = Command::new(&me)
            .args([
                "--ignored",
                "--exact",
                "session::helper_save_forever",
                "--nocapture",
            ])
            .env("ANOMALOG_SAVE_LOOP", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for a first complete save, then a little more.
        let start = std::time::Instant::now();
        while !path.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the saving process never saved"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(3 + (rounds as u64 * 37) % 90));
        child.kill().unwrap(); // SIGKILL: no destructor, no flush
        child.wait().unwrap();
        if temporaries(dir.path()) > 0 {
            mid_save += 1;
        }
        let s = session::read(&path)
            .unwrap_or_else(|e| panic!("round {rounds}: {e}"))
            .expect("a session file");
        assert_eq!(s.events.len(), ENTRIES, "round {rounds}");
        let generation = s.inputs[0].clone();
        assert!(generation == "A" || generation == "B");
        assert!(
            s.events
                .values()
                .all(|e| e.note.starts_with(&format!("generation {generation},")))
        );
    }
    eprintln!("{mid_save} of {rounds} kills hit a save in progress");
    assert!(
        mid_save > 0,
        "no kill landed during a save in {rounds} rounds"
    );
    // The next save clears what the killed ones left.
    session::write_atomic(&path, &big_session("C")).unwrap();
    assert_eq!(temporaries(dir.path()), 0);
}

#[test]
fn a_session_beside_unwritable_logs_moves_to_the_fallback() {
    let ds = samples();
    let dir = tempfile::tempdir().unwrap();
    // "Logs" in a place where no file can be created beside them: under a regular file.
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let mut s = Session::open(blocker.join(SESSION_FILE), &ds).unwrap();
    let fallback = dir.path().join("state").join("s.json");
    s.set_fallback(Some(fallback.clone()));
    s.update(&ds, 0, |e| e.verdict = Some(Verdict::Malicious));
    assert_eq!(s.save().unwrap(), fallback.as_path());
    assert_eq!(s.path, fallback, "it stays there");
    s.update(&ds, 1, |e| e.marked = true);
    s.save().unwrap();
    let back = session::read(&fallback).unwrap().unwrap();
    assert_eq!(back.events.len(), 2);
    // A file the user named has no fallback: the error is reported.
    let mut named = Session::open(blocker.join("named.json"), &ds).unwrap();
    named.update(&ds, 0, |e| e.marked = true);
    let err = named.save().unwrap_err().to_string();
    assert!(err.starts_with("session not saved"), "{err}");
    // The default fallback is under the state folder, one file per logs folder.
    let a = session::fallback_path(&dir.path().join("a").join(SESSION_FILE));
    let b = session::fallback_path(&dir.path().join("b").join(SESSION_FILE));
    if let (Some(a), Some(b)) = (a, b) {
        assert_ne!(a, b);
        assert!(
            a.to_string_lossy().contains("anomalog/sessions/"),
            "{}",
            a.display()
        );
    }
}

#[test]
fn two_instances_on_one_session_keep_each_others_work() {
    let ds = samples();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SESSION_FILE);
    let mut a = Session::open(path.clone(), &ds).unwrap();
    let mut b = Session::open(path.clone(), &ds).unwrap();
    a.update(&ds, 0, |e| e.verdict = Some(Verdict::Malicious));
    a.update(&ds, 2, |e| e.marked = true);
    a.save().unwrap();
    b.update(&ds, 1, |e| e.note = "seen on the golden image".into());
    b.save().unwrap();
    let disk = session::read(&path).unwrap().unwrap();
    assert_eq!(disk.events.len(), 3, "{:?}", disk.events);
    // B now knows A's verdict too; A clearing its mark is not undone by B's older copy.
    assert_eq!(b.verdict(0), Some(Verdict::Malicious));
    a.update(&ds, 2, |e| e.marked = false);
    a.save().unwrap();
    b.update(&ds, 1, |e| e.verdict = Some(Verdict::Benign));
    b.save().unwrap();
    let disk = session::read(&path).unwrap().unwrap();
    assert_eq!(disk.events.len(), 2, "{:?}", disk.events);
    let r = Session::open(path, &ds).unwrap();
    assert_eq!(r.verdict(0), Some(Verdict::Malicious));
    assert_eq!(r.verdict(1), Some(Verdict::Benign));
    assert_eq!(r.note(1), "seen on the golden image");
    assert!(r.entry(2).is_none());
}

/// A session file damaged (or replaced) after it was opened is never written over at the
/// next save: the session goes to the fallback place, and without one the save says why.
#[test]
fn a_session_damaged_after_opening_is_left_as_it_is() {
    let ds = samples();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SESSION_FILE);
    let mut s = Session::open(path.clone(), &ds).unwrap();
    s.update(&ds, 0, |e| e.verdict = Some(Verdict::Malicious));
    s.save().unwrap();
    // Something else writes over it meanwhile.
    let garbage = b"{ this is no session";
    std::fs::write(&path, garbage).unwrap();
    let fallback = dir.path().join("state").join("s.json");
    s.set_fallback(Some(fallback.clone()));
    s.update(&ds, 1, |e| e.marked = true);
    assert_eq!(s.save().unwrap(), fallback.as_path());
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "left as it is");
    let back = session::read(&fallback).unwrap().unwrap();
    assert_eq!(back.events.len(), 2, "the work went to the fallback");
    // No fallback: an error that names the file, and still nothing written over.
    let mut named = Session::open(dir.path().join("named.json"), &ds).unwrap();
    named.update(&ds, 0, |e| e.marked = true);
    named.save().unwrap();
    std::fs::write(dir.path().join("named.json"), garbage).unwrap();
    named.update(&ds, 1, |e| e.marked = true);
    let e = named.save().unwrap_err().to_string();
    assert!(
        e.contains("named.json") && e.contains("left as it is"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("named.json")).unwrap(),
        garbage
    );
}
