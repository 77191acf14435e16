//! Task lifecycle flags on simulated and real events.

use crate::util;

use std::path::PathBuf;
use std::sync::Arc;

use crate::util::shared_file;
use anomalog::context::lifecycle;
use anomalog::event::RawEvent;
use anomalog::frame::Dataset;
use anomalog::profile::by_name;
use anomalog::timeline::{
    Change, Flag, NEVER_RAN_FLAG, RAN_ONCE_FLAG, SHORT_LIVED_FLAG, TEMPORARY_MODIFICATION_FLAG,
    What,
};

fn flagged_tasks(ds: &Dataset, flag: Flag) -> Vec<String> {
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
    let ds = util::load(&[PathBuf::from("samples")]).dataset;
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
    let ds = util::load(&[f]).dataset;
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

fn ts(id: u32, minute: i64, task: &str) -> RawEvent {
    let mut data = vec![("TaskName".into(), task.into())];
    if id == 129 {
        data.push(("Path".into(), "C:\\Windows\\System32\\cmd.exe".into()));
    }
    RawEvent {
        source: Arc::from("t"),
        channel: "Microsoft-Windows-TaskScheduler/Operational".into(),
        event_id: id,
        provider: String::new(),
        computer: "PC1".into(),
        time: Some(minute * 60_000_000),
        record_id: Some(1000 + minute as u64 * 10 + u64::from(id % 10)),
        data,
    }
}

fn flags_of(ds: &Dataset, id: u32, task: &str) -> Vec<Flag> {
    let f = lifecycle::flags(ds);
    (0..ds.uniques.len())
        .filter(|&u| ds.uniques[u].event_id == id && ds.value(u, "task_name") == task)
        .flat_map(|u| f[u].clone())
        .collect()
}

#[test]
fn never_ran_and_ran_once() {
    let profile = by_name("scheduled-tasks").unwrap();
    let events = vec![
        // \Idle: registered, never run, while \Busy keeps running later on the same host.
        ts(106, 0, "\\Idle"),
        // \Once: registered and run once.
        ts(106, 1, "\\Once"),
        ts(100, 5, "\\Once"),
        ts(129, 5, "\\Once"),
        ts(102, 6, "\\Once"),
        // \Busy: registered and run three times.
        ts(106, 2, "\\Busy"),
        ts(100, 10, "\\Busy"),
        ts(129, 10, "\\Busy"),
        ts(100, 70, "\\Busy"),
        ts(129, 70, "\\Busy"),
        ts(100, 130, "\\Busy"),
        ts(129, 130, "\\Busy"),
        // \Late: registered after the host's last run: nothing is known.
        ts(106, 500, "\\Late"),
    ];
    let ds = Dataset::build(profile.as_ref(), events);
    assert_eq!(flags_of(&ds, 106, "\\Idle"), vec![NEVER_RAN_FLAG]);
    assert_eq!(flags_of(&ds, 106, "\\Once"), vec![RAN_ONCE_FLAG]);
    assert_eq!(flags_of(&ds, 129, "\\Once"), vec![RAN_ONCE_FLAG]);
    // "Task started" names only the task: it takes no flag.
    assert!(flags_of(&ds, 100, "\\Once").is_empty());
    assert!(flags_of(&ds, 106, "\\Busy").is_empty());
    assert!(flags_of(&ds, 106, "\\Late").is_empty());
}

#[test]
fn context_fields_make_flags_and_prevalence_features() {
    let profile = by_name("scheduled-tasks").unwrap();
    let mut ds = Dataset::build(
        profile.as_ref(),
        vec![ev(4698, 0, GOOD), ev(4702, 60, EVIL), ev(4702, 66, GOOD)],
    );
    let n = ds.fields.len();
    let lent = anomalog::timeline::ENRICHED.len();
    anomalog::context::add(&mut ds);
    assert_eq!(ds.fields.len(), n + 2 + lent);
    assert_eq!(&ds.fields[n..n + 2], ["prevalence", "flags"]);
    let evil = (0..ds.uniques.len())
        .find(|&u| ds.value(u, "command").contains("temp"))
        .unwrap();
    assert_eq!(ds.value(evil, "flags"), TEMPORARY_MODIFICATION_FLAG.name());
    // One host: prevalence says nothing.
    assert_eq!(ds.value(evil, "prevalence"), "");
    // Idempotent.
    anomalog::context::add(&mut ds);
    assert_eq!(ds.fields.len(), n + 2 + lent);
    assert!(ds.uniques.iter().all(|e| e.values.len() == n + 2 + lent));
    assert_eq!(anomalog::context::prevalence_bucket(1, 40), "1 host");
    assert_eq!(anomalog::context::prevalence_bucket(4, 40), "few hosts");
    assert_eq!(anomalog::context::prevalence_bucket(12, 40), "some hosts");
    assert_eq!(anomalog::context::prevalence_bucket(30, 40), "most hosts");
    assert_eq!(anomalog::context::prevalence_bucket(40, 40), "every host");
}

#[test]
fn the_timeline_shows_each_update_as_an_xml_diff() {
    let profile = by_name("scheduled-tasks").unwrap();
    let mut ds = Dataset::build(
        profile.as_ref(),
        vec![ev(4698, 0, GOOD), ev(4702, 60, EVIL), ev(4702, 66, GOOD)],
    );
    anomalog::context::add(&mut ds);
    let evil = (0..ds.uniques.len())
        .find(|&u| ds.value(u, "command").contains("temp"))
        .unwrap();
    let lives = ds.lifecycles.of_unique(&ds, evil, 5);
    assert_eq!(lives.len(), 1);
    assert_eq!(lives[0].host, "pc1");
    let steps = anomalog::context::lifecycle::timeline(&ds, lives[0]);
    let what: Vec<&str> = steps.iter().map(|s| s.what.name()).collect();
    assert_eq!(what, ["registered", "updated", "updated"]);
    assert!(
        steps[0].diff.is_empty(),
        "nothing before the first definition"
    );
    let changed = |i: usize, c: Change| -> Vec<String> {
        steps[i]
            .diff
            .iter()
            .filter(|l| l.change == c)
            .map(|l| l.text.trim().to_string())
            .collect()
    };
    assert_eq!(
        changed(1, Change::Added),
        ["<Command>C:\\Windows\\Temp\\legit.exe</Command>"]
    );
    assert_eq!(
        changed(2, Change::Added),
        ["<Command>C:\\Windows\\System32\\legit.exe</Command>"]
    );
}

#[test]
fn the_real_remote_update_has_a_timeline() {
    let Some(f) = shared_file("remote_task_update_4624_4702_same_logonid.evtx") else {
        return;
    };
    let ds = util::load(&[f]).dataset;
    let u = (0..ds.uniques.len())
        .find(|&u| ds.uniques[u].event_id == 4702)
        .expect("the 4702 update");
    let lives = ds.lifecycles.of_unique(&ds, u, 5);
    assert!(!lives.is_empty());
    let steps = anomalog::context::lifecycle::timeline(&ds, lives[0]);
    assert!(steps.iter().any(|s| s.what == What::Updated), "{steps:?}");
    assert!(
        steps
            .iter()
            .all(|s| s.time.is_some() && s.what != What::Other),
        "{steps:?}"
    );
}

/// What the flags find in the real public logs: Windows Update's Orchestrator registers
/// `AC Power Download` / `AC Power Install` and deletes them within minutes without running
/// them (benign, but exactly the shape an analyst should see), and a per-user task of the
/// Stolen Szechuan Sauce case is registered and run once.
#[test]
fn flags_on_the_real_shared_logs() {
    let (Some(empire), Some(szechuan)) = (
        shared_file("empire_shell_rubeus_asktgt_createnetonly.zip"),
        shared_file("StolenSzechuanEventLogs__Microsoft-Windows-TaskScheduler%4Operational.evtx"),
    ) else {
        return;
    };
    let ds = util::load(&[empire]).dataset;
    let download = "\\Microsoft\\Windows\\UpdateOrchestrator\\AC Power Download";
    for id in [4698, 4699, 106, 141] {
        assert_eq!(
            flags_of(&ds, id, download),
            vec![NEVER_RAN_FLAG, SHORT_LIVED_FLAG],
            "event {id}"
        );
    }
    let ds = util::load(&[szechuan]).dataset;
    let once: Vec<String> = flagged_tasks(&ds, RAN_ONCE_FLAG);
    assert_eq!(
        once,
        vec!["\\Optimize Start Menu Cache Files-S-1-5-21-*".to_string()]
    );
    assert!(flagged_tasks(&ds, NEVER_RAN_FLAG).is_empty());
}

#[test]
fn events_without_times_take_no_time_window_flag() {
    let profile = by_name("scheduled-tasks").unwrap();
    let untimed = |id: u32, record: u64, content: &str| {
        let mut e = ev(id, 0, content);
        e.time = None;
        e.record_id = Some(record);
        e
    };
    // A creation and a deletion without times: nothing says they were minutes apart.
    let ds = Dataset::build(
        profile.as_ref(),
        vec![untimed(4698, 1, GOOD), untimed(4699, 2, GOOD)],
    );
    assert!(lifecycle::flags(&ds).iter().all(|f| f.is_empty()));
    // One timed, one not (no overflow, no flag), and an update restored without a time.
    let ds = Dataset::build(
        profile.as_ref(),
        vec![
            untimed(4698, 1, GOOD),
            ev(4699, 5, GOOD),
            ev(4702, 60, EVIL),
            untimed(4702, 3, GOOD),
        ],
    );
    assert!(lifecycle::flags(&ds).iter().all(|f| f.is_empty()));
}

/// A task registered and deleted 50 000 times (a hostile log, or a busy installer): flags
/// are found by scanning each record's time window, not the rest of the lifecycle, so this
/// takes seconds, not hours (the old scan was quadratic: 2.5 billion steps here).
#[test]
fn a_task_registered_fifty_thousand_times_loads_in_linear_time() {
    let profile = by_name("scheduled-tasks").unwrap();
    let n: i64 = 50_000;
    let mut events = Vec::with_capacity(2 * n as usize);
    for k in 0..n {
        // Registered at minute 2k, deleted a minute later.
        let mut c = ev(4698, 2 * k, GOOD);
        c.record_id = Some(2 * k as u64);
        let mut d = ev(4699, 2 * k + 1, GOOD);
        d.record_id = Some(2 * k as u64 + 1);
        events.push(c);
        events.push(d);
    }
    let start = std::time::Instant::now();
    let mut ds = Dataset::build(profile.as_ref(), events);
    anomalog::context::add(&mut ds);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(ds.lifecycles.tasks.len(), 1);
    assert_eq!(
        flagged_tasks(&ds, SHORT_LIVED_FLAG),
        vec!["\\Microsoft\\Windows\\Legit".to_string()]
    );
    // A generous bound for a debug build on a loaded machine: the quadratic scan took hours.
    assert!(secs < 60.0, "{secs:.1} s");
}

/// A TaskScheduler event of the `\\Microsoft\\Windows\\Legit` task on `host`.
fn op(id: u32, minute: i64, host: &str, data: &[(&str, &str)]) -> RawEvent {
    let mut d: Vec<(String, String)> =
        vec![("TaskName".into(), "\\Microsoft\\Windows\\Legit".into())];
    d.extend(data.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    RawEvent {
        source: Arc::from("op"),
        channel: "Microsoft-Windows-TaskScheduler/Operational".into(),
        event_id: id,
        provider: String::new(),
        computer: host.into(),
        time: Some(minute * 60_000_000),
        record_id: Some(1000 + minute as u64),
        data: d,
    }
}

#[test]
fn events_without_a_definition_take_their_tasks() {
    let profile = by_name("scheduled-tasks").unwrap();
    let mut ds = Dataset::build(
        profile.as_ref(),
        vec![
            ev(4698, 0, GOOD),
            op(106, 0, "PC1", &[("UserContext", "bob")]),
            op(100, 5, "PC1", &[("UserContext", "bob")]),
            ev(4702, 60, EVIL),
            op(
                200,
                61,
                "PC1",
                &[("ActionName", "C:\\Windows\\Temp\\legit.exe")],
            ),
            // Another host, no definition in the logs: nothing to lend.
            op(100, 5, "PC2", &[("UserContext", "alice")]),
        ],
    );
    anomalog::context::add(&mut ds);
    let find = |id: u32, host: &str| {
        (0..ds.uniques.len())
            .find(|&u| ds.uniques[u].event_id == id && ds.uniques[u].hosts == [host])
            .unwrap()
    };
    // Before the update: the registered definition; after it: the updated one.
    assert_eq!(
        ds.value(find(106, "pc1"), "task_command"),
        "c:\\windows\\system32\\legit.exe"
    );
    assert_eq!(
        ds.value(find(100, "pc1"), "task_command"),
        "c:\\windows\\system32\\legit.exe"
    );
    assert_eq!(
        ds.value(find(200, "pc1"), "task_command"),
        "c:\\windows\\temp\\legit.exe"
    );
    assert_eq!(ds.value(find(200, "pc1"), "task_dir_class"), "temp");
    // A definition reads its own.
    let update = find(4702, "pc1");
    assert_eq!(
        ds.value(update, "task_command"),
        ds.value(update, "command")
    );
    assert_eq!(ds.value(find(100, "pc2"), "task_command"), "");
    // Without enrichment (the benchmark's comparison) the fields are not there.
    let mut plain = Dataset::build(profile.as_ref(), vec![ev(4698, 0, GOOD)]);
    anomalog::context::add_with(&mut plain, false);
    assert!(!plain.fields.contains(&"task_command"));
}
