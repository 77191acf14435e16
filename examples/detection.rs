//! Detection benchmark: plant known-malicious scheduled-task events into benign simulated
//! fleets and see where each model ranks them.
//!
//! `cargo run --release --example detection [-- SEEDS]` (default 5 seeds).
//!
//! Planted: the five attacks the simulator plants (hidden encoded PowerShell, a masquerading
//! rundll32 task, a Sunburst-style temporary modification, an atexec task, a task by an
//! unusual account; ground truth from the simulator) and the malicious scheduled-task events
//! of the real public samples in ../shared/evtx that its MANIFEST.md marks MALICIOUS (when the
//! folder is there). Backgrounds: simulated fleets of three sizes. For each model: the best
//! rank of each attack (median and worst), how many attacks reach the top 10, precision at 10
//! and 20, how many attacks have their task in the top 20 tasks and every event in the top
//! 60, averaged over the seeds; then per attack its median best event rank, task rank and
//! worst event rank. `+ctx` rows add fleet prevalence and lifecycle flags
//! ([`Dataset::add_context_with`] `false`); `+ctx+def` rows also the task definition's
//! features lent to every event of the task ([`Dataset::add_context`], what the app uses).

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
                .filter(|e| {
                    let t = e.get("TaskName").unwrap_or("").to_lowercase();
                    let c = e.get("CommandLine").unwrap_or("").to_lowercase();
                    t.contains(marker) || c.contains(marker)
                })
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

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let profile = by_name("scheduled-tasks").unwrap();
    let shared = shared_attacks(profile.as_ref());
    let sizes = [
        ("small", 8usize, 2u32),
        ("medium", 40, 4),
        ("large", 120, 7),
    ];
    // (name, model, context: 0 none, 1 fleet prevalence and lifecycle flags, 2 those and
    // the task definition's features lent to the events without one)
    let mut models = vec![
        ("ae", ModelKind::Ae, 0u8),
        ("ae+ctx", ModelKind::Ae, 1),
        ("ae+ctx+def", ModelKind::Ae, 2),
        ("ae-masked+ctx+def", ModelKind::Ae, 2),
        // `--objective hybrid`: the swap ranking plus what two masked models agree on.
        ("ae-hybrid+ctx+def", ModelKind::Ae, 2),
        // Measured and dropped: the frequency prior at half, a quarter or none of its weight
        // ("ae+ctx+def w0.5" and so on; README "Detection benchmark").
        ("ds4n6", ModelKind::Ds4n6, 0),
        ("rarity", ModelKind::Rarity, 0),
        ("rarity+ctx", ModelKind::Rarity, 1),
        ("rarity+ctx+def", ModelKind::Rarity, 2),
    ];
    // `DETECTION_EXTRA="ae-masked+ctx+def v256,ae-masked+ctx+def m0.5 e64"`: autoencoder
    // variants to measure beside the others, named by their knobs (`w` prior weight, `v`
    // largest vocabulary per field, `m` mask rate, `e` epochs, `c` contradiction weight).
    for extra in std::env::var("DETECTION_EXTRA")
        .unwrap_or_default()
        .split(',')
    {
        let extra = extra.trim();
        if !extra.is_empty() {
            let name: &'static str = Box::leak(extra.to_string().into_boxed_str());
            models.push((name, ModelKind::Ae, 2));
        }
    }
    let mut table: HashMap<(&str, &str), Acc> = HashMap::new();
    let mut per_attack: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    // Per (model, attack): task ranks and worst event ranks.
    let mut per_attack_task: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    let mut per_attack_worst: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    for (size, hosts, days) in sizes {
        for seed in 1..=seeds {
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
            let n_sim = truth.attacks.len();
            let mut names: Vec<String> = truth.attacks.iter().map(|a| a.id.clone()).collect();
            for (name, ev) in &shared {
                names.push(name.clone());
                events.extend(ev.iter().cloned());
            }
            let mut plant_rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
            for (name, ev) in conditional_plants(&events, &mut plant_rng) {
                names.push(name);
                events.push(ev);
            }
            let plain = Dataset::build(profile.as_ref(), events.clone());
            let mut with_context = Dataset::build(profile.as_ref(), events.clone());
            anomalog::context::add_with(&mut with_context, false);
            let mut with_defs = Dataset::build(profile.as_ref(), events);
            anomalog::context::add(&mut with_defs);
            let attack_of = |ds: &Dataset, o: &Occurrence| -> Option<usize> {
                let source = ds.source_of(o);
                if let Some(rest) = source.strip_prefix("planted:") {
                    let name = rest.split(':').next()?;
                    return names.iter().position(|n| n == name);
                }
                let src = source.replace('\\', "/");
                truth.attacks.iter().position(|a| {
                    a.records
                        .iter()
                        .any(|r| o.record_id() == Some(r.record_id) && src.ends_with(&r.file))
                })
            };
            let _ = n_sim;
            let only = std::env::var("DETECTION_MODELS").unwrap_or_default();
            for &(name, kind, context) in &models {
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
                let mut trained = run(ds, task, &AtomicBool::new(false), &mut |_| {}).unwrap();
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
                    trained.ranking = anomalog::model::hybrid::combine_skipping(
                        ds,
                        trained.ranking.clone(),
                        runs,
                        skip,
                    );
                }
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
                        let src =
                            ds.source_of(&ds.occurrences[ds.uniques[u].occurrences[0] as usize]);
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
                eprintln!(
                    "{size:>6} seed {seed} {name:>10}: {} uniques, {:.2} s, ranks {:?}",
                    ds.uniques.len(),
                    secs,
                    ev.attack_ranks
                );
                let a = table.entry((size, name)).or_default();
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
                for (i, r) in ev.attack_ranks.iter().enumerate() {
                    if let Some(r) = r {
                        per_attack
                            .entry((name, names[i].clone()))
                            .or_default()
                            .push(*r);
                    }
                }
                for (i, r) in ev.attack_task_ranks.iter().enumerate() {
                    if let Some(r) = r {
                        per_attack_task
                            .entry((name, names[i].clone()))
                            .or_default()
                            .push(*r);
                    }
                }
                for (i, r) in ev.attack_worst.iter().enumerate() {
                    if let Some(r) = r {
                        per_attack_worst
                            .entry((name, names[i].clone()))
                            .or_default()
                            .push(*r);
                    }
                }
            }
        }
    }
    println!(
        "| fleet | model | median rank | worst rank | attacks in top 10 | P@10 | P@20 | task in top 20 tasks | every event in top 60 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (size, hosts, days) in sizes {
        for &(name, _, _) in &models {
            let Some(a) = table.get(&(size, name)) else {
                continue;
            };
            let n = a.runs as f64;
            println!(
                "| {size} ({hosts} hosts, {days} days) | {name} | {:.1} | {:.1} | {:.1} / {} | {:.2} | {:.2} | {:.1} | {:.1} |",
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
