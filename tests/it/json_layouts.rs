//! Each supported JSON layout, on a small fixture holding the same 4698 (a hidden task that
//! runs an encoded PowerShell-style command from C:\Users\Public as SYSTEM) and one unrelated
//! 4624, is detected without a flag and gives the same scheduled-task features.

use crate::util;

use crate::util::fixture;
use anomalog::event::rfc3339;
use anomalog::pipeline::Loaded;

fn load(name: &str) -> Loaded {
    util::load(&[fixture(name)])
}

fn check_4698(name: &str, expect_records: u64) {
    let l = load(name);
    assert_eq!(l.records, expect_records, "{name}: records read");
    let ds = &l.dataset;
    let u = ds
        .uniques
        .iter()
        .position(|u| u.event_id == 4698)
        .unwrap_or_else(|| panic!("{name}: no 4698 among {:?}", ds.uniques));
    let e = &ds.uniques[u];
    assert_eq!(e.channel, "Security", "{name}");
    assert_eq!(e.count(), 1, "{name}");
    assert_eq!(e.hosts, ["pc1.corp.local"], "{name}");
    assert!(
        rfc3339(e.first_seen).starts_with("2021-03-04T05:06:07"),
        "{name}: {}",
        rfc3339(e.first_seen)
    );
    for (field, want) in [
        ("task_name", "\\Updater"),
        ("user", "corp\\mallory"),
        ("command", "c:\\users\\public\\svc.exe"),
        ("exe", "svc.exe"),
        ("dir_class", "users-public"),
        ("principal", "nt authority\\system"),
        ("run_level", "highestavailable"),
        ("hidden", "true"),
        ("triggers", "logon"),
        ("author", "corp\\mallory"),
    ] {
        assert_eq!(ds.value(u, field), want, "{name}: {field}");
    }
    let flags = ds.value(u, "cmd_flags");
    assert!(
        flags.contains("encoded") && flags.contains("hidden-window"),
        "{name}: flags {flags}"
    );
    // The 4624 is read and counted, but it is no scheduled-task event.
    assert!(ds.uniques.iter().all(|u| u.event_id != 4624), "{name}");
}

#[test]
fn evtx_dump_jsonl() {
    check_4698("evtx_dump.jsonl", 2);
}

#[test]
fn evtx_dump_json_with_record_separators() {
    check_4698("evtx_dump.json", 2);
    assert!(
        load("evtx_dump.json").warnings().next().is_none(),
        "Record lines are no error"
    );
}

#[test]
fn nxlog_flat_html_escaped_lowercase_channel_and_a_broken_line() {
    check_4698("nxlog_flat.jsonl", 2);
    let l = load("nxlog_flat.jsonl");
    assert_eq!(l.skipped, 1);
    let w: Vec<String> = l.warnings().collect();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("nxlog_flat.jsonl") && w[0].contains("line 2"),
        "{w:?}"
    );
}

#[test]
fn winlogbeat() {
    check_4698("winlogbeat.jsonl", 2);
}

#[test]
fn velociraptor_epoch_seconds() {
    check_4698("velociraptor.jsonl", 2);
}

#[test]
fn chainsaw_json_array() {
    check_4698("chainsaw.json", 2);
}

#[test]
fn hayabusa_details_and_short_channel_names() {
    check_4698("hayabusa.jsonl", 2);
    let l = load("hayabusa.jsonl");
    let ds = &l.dataset;
    let u = ds
        .uniques
        .iter()
        .position(|u| u.event_id == 1)
        .expect("the Sysmon 1 schtasks");
    assert_eq!(
        ds.uniques[u].channel,
        "Microsoft-Windows-Sysmon/Operational"
    );
    assert_eq!(ds.value(u, "schtasks_op"), "create");
    assert_eq!(ds.value(u, "task_name"), "\\Updater");
    assert_eq!(ds.value(u, "command"), "c:\\users\\public\\svc.exe");
    assert_eq!(ds.value(u, "user"), "corp\\mallory");
    assert_eq!(ds.value(u, "parent"), "cmd.exe");
}

#[test]
fn the_same_record_in_several_layouts_counts_once() {
    // evtx_dump JSONL, its pretty form, Chainsaw and Winlogbeat all carry record 101 of
    // PC1's Security log at the same time.
    let paths: Vec<_> = [
        "evtx_dump.jsonl",
        "evtx_dump.json",
        "chainsaw.json",
        "winlogbeat.jsonl",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    let l = util::load(&paths);
    assert_eq!(l.dataset.occurrences.len(), 1);
    assert_eq!(l.dataset.duplicates_dropped, 3);
    assert_eq!(l.dataset.uniques[0].sources.len(), 4);
}

#[test]
fn zip_of_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let zpath = dir.path().join("export.zip");
    let mut zw = zip::ZipWriter::new(std::fs::File::create(&zpath).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zw.start_file("logs/winlogbeat.jsonl", opts).unwrap();
    std::io::copy(
        &mut std::fs::File::open(fixture("winlogbeat.jsonl")).unwrap(),
        &mut zw,
    )
    .unwrap();
    zw.start_file("__MACOSX/logs/._winlogbeat.jsonl", opts)
        .unwrap();
    std::io::Write::write_all(&mut zw, b"\x00\x05\x16\x07junk").unwrap();
    zw.finish().unwrap();
    let l = util::load(&[zpath]);
    assert_eq!(l.records, 2);
    assert_eq!(l.dataset.uniques.len(), 1);
    assert!(l.dataset.uniques[0].sources[0].ends_with("export.zip!logs/winlogbeat.jsonl"));
    assert!(
        l.warnings().next().is_none(),
        "macOS resource forks are passed over silently"
    );
}
