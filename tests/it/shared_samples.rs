//! Every real public sample in ../shared/evtx loads with the counts its MANIFEST.md gives.

use crate::util;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::util::{manifest, shared_dir, shared_file};
use anomalog::frame::Dataset;
use anomalog::ingest::{self, Progress};
use anomalog::profile::scheduled_tasks::ScheduledTasks;
use anomalog::profile::{Profile, by_name};

fn read_all(path: PathBuf) -> ingest::Ingest {
    ingest::read_paths(&[path], |_| true, &Progress::default())
}

#[test]
fn every_file_matches_the_manifest() {
    let Some(dir) = shared_dir() else { return };
    let entries = manifest(&dir);
    assert!(
        entries.len() >= 24,
        "manifest parsed {} files",
        entries.len()
    );
    for e in &entries {
        let ing = read_all(dir.join(&e.file));
        assert_eq!(ing.records(), e.records, "{}: record count", e.file);
        let mut hist: BTreeMap<(String, u32), u64> = BTreeMap::new();
        for r in &ing.reports {
            for ((ch, id), n) in &r.histogram() {
                *hist.entry((ch.clone(), *id)).or_default() += n;
            }
        }
        for (key, n) in &e.top {
            assert_eq!(hist.get(key), Some(n), "{}: count of {key:?}", e.file);
        }
    }
}

#[test]
fn damaged_files_load_with_skips_counted() {
    let Some(f) = shared_file("sample_with_a_bad_chunk_magic.evtx") else {
        return;
    };
    let ing = read_all(f);
    assert_eq!(ing.records(), 301);
    assert!(ing.skipped() > 0, "bad chunks are counted");
    let w = ing.reports[0].warning().expect("a warning");
    assert!(
        w.contains("sample_with_a_bad_chunk_magic.evtx") && w.contains("skipped"),
        "{w}"
    );
}

fn security_task(file: &str, event_id: u32) -> Option<(anomalog::event::RawEvent, Vec<String>)> {
    let ing = read_all(shared_file(file)?);
    let ev = ing
        .events
        .into_iter()
        .find(|e| e.event_id == event_id && e.canonical_channel() == "Security")
        .unwrap_or_else(|| panic!("{file} holds a {event_id}"));
    let f = ScheduledTasks.extract(&ev).expect("a scheduled-task event");
    Some((ev, f))
}

fn field<'a>(f: &'a [String], name: &str) -> &'a str {
    let i = ScheduledTasks
        .fields()
        .iter()
        .position(|n| *n == name)
        .unwrap();
    &f[i]
}

#[test]
fn task_content_of_the_atexec_4698() {
    let Some((_, f)) = security_task(
        "ID4698-4699-Fast_created_&_deleted_task_by_ATexec_(susp._arg.).evtx",
        4698,
    ) else {
        return;
    };
    assert_eq!(field(&f, "task_name"), "\\bouWFQYO");
    assert_eq!(field(&f, "exe"), "cmd.exe");
    assert_eq!(
        field(&f, "arguments"),
        "/c whoami > c:\\windows\\temp\\bouwfqyo.tmp 2>&1"
    );
    assert_eq!(field(&f, "user"), "offsec\\admmig");
    assert!(
        field(&f, "cmd_flags").contains("recon"),
        "{}",
        field(&f, "cmd_flags")
    );
    assert!(field(&f, "cmd_flags").contains("redirect"));
}

#[test]
fn task_content_of_the_remote_4702() {
    let Some((_, f)) = security_task("remote_task_update_4624_4702_same_logonid.evtx", 4702) else {
        return;
    };
    assert_eq!(field(&f, "task_name"), "\\LMST");
    assert_eq!(field(&f, "exe"), "cmd.exe");
    assert!(field(&f, "arguments").contains("c:\\users\\public\\out.txt"));
    assert_eq!(field(&f, "hidden"), "true");
    assert_eq!(field(&f, "principal"), "nt authority\\system");
}

#[test]
fn task_content_html_escaped_in_otrf_json() {
    // NXLog via WEC escapes the XML (`&lt;Task ...`); the COM handler must still be read.
    let Some(f) = shared_file("empire_shell_rubeus_asktgt_createnetonly.zip") else {
        return;
    };
    let ing = read_all(f);
    let ev = ing
        .events
        .iter()
        .find(|e| {
            e.event_id == 4702
                && e.get("TaskName")
                    .is_some_and(|t| t.ends_with("SvcRestartTask"))
        })
        .expect("the SvcRestartTask 4702");
    assert!(ev.get("TaskContentNew").unwrap().starts_with("&lt;"));
    let f = ScheduledTasks.extract(ev).unwrap();
    assert_eq!(
        field(&f, "command"),
        "com:{b1aebb5d-ead9-4476-b375-9c3ed9f32afc}"
    );
    assert_eq!(field(&f, "action"), "com");
    assert!(!field(&f, "cmd_flags").contains("malformed-xml"));
}

#[test]
fn native_taskscheduler_operational_log() {
    let Some(f) =
        shared_file("StolenSzechuanEventLogs__Microsoft-Windows-TaskScheduler%4Operational.evtx")
    else {
        return;
    };
    let profile = by_name("scheduled-tasks").unwrap();
    let ing = ingest::read_paths(&[f], |e| profile.wants(e), &Progress::default());
    assert_eq!(
        ing.events.len(),
        604,
        "every TaskScheduler/Operational record is kept"
    );
    let ds = Dataset::build(profile.as_ref(), ing.events);
    assert_eq!(ds.occurrences.len(), 604);
    assert!(ds.uniques.len() < 604 && ds.uniques.len() > 30);
    let total: u64 = ds.uniques.iter().map(|u| u.count()).sum();
    assert_eq!(total, 604, "counts add up to the occurrences");
    let task_names: std::collections::BTreeSet<&str> = (0..ds.uniques.len())
        .map(|u| ds.value(u, "task_name"))
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(task_names.len(), 30, "{task_names:?}");
}

#[test]
fn a_zip_and_its_extracted_copy_count_once() {
    let (Some(zip), Some(json)) = (
        shared_file("schtask_create.zip"),
        shared_file("schtask_create_2020-12-1907003032.json"),
    ) else {
        return;
    };
    let profile = by_name("scheduled-tasks").unwrap();
    let load = |paths: Vec<PathBuf>| {
        let ing = ingest::read_paths(&paths, |e| profile.wants(e), &Progress::default());
        Dataset::build(profile.as_ref(), ing.events)
    };
    let one = load(vec![zip.clone()]);
    let both = load(vec![zip, json]);
    assert!(!one.occurrences.is_empty());
    assert_eq!(both.occurrences.len(), one.occurrences.len());
    assert_eq!(
        both.duplicates_dropped,
        one.occurrences.len() as u64 + one.duplicates_dropped * 2
    );
    assert_eq!(both.uniques.len(), one.uniques.len());
    // Both files are named as sources of every unique event.
    assert!(both.uniques.iter().all(|u| u.sources.len() == 2));
}

#[test]
fn unique_events_as_a_polars_dataframe() {
    // The bundled samples (always present): one row per unique event, counts adding up.
    let loaded = util::load(&[PathBuf::from("samples")]);
    let ds = &loaded.dataset;
    let df = ds.to_dataframe().unwrap();
    assert_eq!(df.height(), ds.uniques.len());
    for col in [
        "channel",
        "event_id",
        "count",
        "n_hosts",
        "hosts",
        "first_seen",
        "last_seen",
        "sources",
        "task_name",
        "command",
        "user",
    ] {
        assert!(df.column(col).is_ok(), "{col}");
    }
    let counts = df.column("count").unwrap().u64().unwrap().clone();
    let total: u64 = (0..df.height()).map(|i| counts.get(i).unwrap()).sum();
    assert_eq!(total as usize, ds.occurrences.len());
    assert!(
        loaded.dataset.duplicates_dropped > 0,
        "jsonl.zip repeats the .evtx records"
    );
}

#[test]
fn schtasks_query_xml_is_an_xml_export_not_an_import() {
    let Some((_, f)) = security_task("ID4688-Scheduled_task_configuration_enumeration.evtx", 4688)
    else {
        return;
    };
    assert_eq!(field(&f, "schtasks_op"), "query");
    assert_eq!(field(&f, "arguments"), "/query /xml");
    assert_eq!(field(&f, "cmd_flags"), "xml-export");
}

/// The pre-render peek (channel and event id read from BinXML) agrees with the rendered
/// record for every record it reads, in every real `.evtx` and in the samples; so do whole
/// chunks skimmed without building a record.
#[test]
fn peek_agrees_with_rendering() {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new("samples")
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .collect();
    if let Some(dir) = shared_dir() {
        files.extend(
            std::fs::read_dir(dir)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "evtx")),
        );
    }
    let (mut records, mut agreed, mut chunks, mut skimmed) = (0, 0, 0, 0);
    let (mut gated, mut refused) = (0, 0);
    for f in &files {
        let c = ingest::peek_check(f, &ScheduledTasks);
        assert!(
            c.disagreed.is_empty(),
            "{}: peek disagrees with rendering: {:?}",
            f.display(),
            c.disagreed
        );
        assert!(
            c.computer_disagreed.is_empty(),
            "{}: the peeked computer differs from the rendered one on records {:?}",
            f.display(),
            c.computer_disagreed
        );
        assert!(
            c.json_disagreed.is_empty(),
            "{}: direct JSON reading differs from the Value path on records {:?}",
            f.display(),
            c.json_disagreed
        );
        assert!(
            c.json_fallbacks * 100 <= c.records,
            "{}: {} of {} records fell back to the Value path",
            f.display(),
            c.json_fallbacks,
            c.records
        );
        assert!(
            c.skim_disagreed.is_empty(),
            "{}: skimmed chunks differ from their rendering: {:?}",
            f.display(),
            c.skim_disagreed
        );
        assert!(
            c.gate_missed.is_empty(),
            "{}: records the gate refused yet the profile wants: {:?}",
            f.display(),
            c.gate_missed
        );
        records += c.records;
        agreed += c.agreed;
        chunks += c.chunks;
        skimmed += c.skimmed;
        gated += c.gated;
        refused += c.gate_refused;
        eprintln!(
            "{}: {} records, {} peeked, {} rendered; {} of {} chunks skimmed; {} gated, {} refused",
            f.display(),
            c.records,
            c.agreed,
            c.unpeeked,
            c.skimmed,
            c.chunks,
            c.gated,
            c.gate_refused
        );
    }
    assert!(records > 0);
    // A chunk is skimmed (never built) when every record of it is peeked.
    assert!(
        skimmed * 100 >= chunks * 90,
        "{skimmed} of {chunks} chunks skimmed"
    );
    // Nearly every record is peeked (the rest are rendered: slower, never wrong).
    assert!(
        agreed * 100 >= records * 95,
        "{agreed} of {records} records peeked"
    );
    // Process creations that name no task tool are refused before rendering (the samples'
    // Security logs audit process creation).
    assert!(
        refused * 10 >= gated * 8,
        "the gate refused {refused} of {gated} process creations"
    );
}
