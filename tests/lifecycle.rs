//! Task lifecycle flags on simulated and real events.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use anomalog::event::RawEvent;
use anomalog::frame::Dataset;
use anomalog::ingest::Progress;
use anomalog::lifecycle::{self, SHORT_LIVED_FLAG, TEMPORARY_MODIFICATION_FLAG};
use anomalog::pipeline;
use anomalog::profile::by_name;
use common::shared_file;

fn flagged_tasks(ds: &Dataset, flag: &str) -> Vec<String> {
    let f = lifecycle::flags(ds);
    let mut t: Vec<String> = (0..ds.uniques.len())
        .filter(|&u| f[u].contains(&flag))
        .map(|u| ds.value(u, "task_name").to_string())
        .collect();
    t.sort();
    t.dedup();
    t
}

#[test]
fn atexec_in_the_samples_is_short_lived() {
    let profile = by_name("scheduled-tasks").unwrap();
    let ds = pipeline::load(
        &[PathBuf::from("samples")],
        profile.as_ref(),
        &Progress::default(),
    )
    .dataset;
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read("samples/ground_truth.json").unwrap()).unwrap();
    let atexec = truth["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "atexec-remote-task")
        .unwrap();
    assert_eq!(
        flagged_tasks(&ds, SHORT_LIVED_FLAG),
        vec![atexec["task_name"].as_str().unwrap().to_string()]
    );
}

#[test]
fn atexec_in_the_real_sample_is_short_lived() {
    let Some(f) =
        shared_file("ID4698-4699-Fast_created_&_deleted_task_by_ATexec_(susp._arg.).evtx")
    else {
        return;
    };
    let profile = by_name("scheduled-tasks").unwrap();
    let ds = pipeline::load(&[f], profile.as_ref(), &Progress::default()).dataset;
    assert_eq!(
        flagged_tasks(&ds, SHORT_LIVED_FLAG),
        vec!["\\bouWFQYO".to_string()]
    );
}

fn ev(id: u32, minute: i64, content: &str) -> RawEvent {
    RawEvent {
        source: Arc::from("t"),
        channel: "Security".into(),
        event_id: id,
        provider: String::new(),
        computer: "PC1".into(),
        time: Some(minute * 60_000_000),
        record_id: Some(minute as u64),
        data: vec![
            ("TaskName".into(), "\\Microsoft\\Windows\\Legit".into()),
            ("SubjectUserName".into(), "bob".into()),
            (
                if id == 4702 {
                    "TaskContentNew"
                } else {
                    "TaskContent"
                }
                .into(),
                content.into(),
            ),
        ],
    }
}

const GOOD: &str = "<Task><Actions><Exec><Command>C:\\Windows\\System32\\legit.exe</Command></Exec></Actions></Task>";
const EVIL: &str =
    "<Task><Actions><Exec><Command>C:\\Windows\\Temp\\legit.exe</Command></Exec></Actions></Task>";

#[test]
fn an_update_restored_later_is_a_temporary_modification() {
    let profile = by_name("scheduled-tasks").unwrap();
    let ds = Dataset::build(
        profile.as_ref(),
        vec![ev(4698, 0, GOOD), ev(4702, 60, EVIL), ev(4702, 66, GOOD)],
    );
    let f = lifecycle::flags(&ds);
    let evil = (0..ds.uniques.len())
        .find(|&u| ds.value(u, "command").contains("temp"))
        .unwrap();
    assert_eq!(f[evil], vec![TEMPORARY_MODIFICATION_FLAG]);
    // A change that stays is no temporary modification; neither is creation long before deletion.
    let ds = Dataset::build(
        profile.as_ref(),
        vec![ev(4698, 0, GOOD), ev(4702, 60, EVIL), ev(4699, 600, EVIL)],
    );
    assert!(
        lifecycle::flags(&ds).iter().all(|f| f.is_empty()),
        "{:?}",
        lifecycle::flags(&ds)
    );
}
