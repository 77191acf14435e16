//! Evidence counted once and read against each task's history (issue 25), on a real log.

use std::collections::HashMap;
use std::sync::Arc;

use anomalog::event::RawEvent;
use anomalog::frame::Dataset;
use anomalog::ingest::{self, Progress};
use anomalog::model::ModelKind;

use crate::util;

const DC_LOG: &str = "StolenSzechuanEventLogs__Microsoft-Windows-TaskScheduler%4Operational.evtx";

/// The real domain controller's TaskScheduler/Operational log, and a copy of one of its
/// "task started" (100) records whose task always ran as one account, run as another account
/// that is common among the log's other starts: every value ordinary, the combination new.
fn dc_log_with_a_plant() -> Option<(Vec<RawEvent>, String, String)> {
    let path = util::shared_file(DC_LOG)?;
    let profile = util::profile("scheduled-tasks");
    let events = ingest::read_paths(&[path], |e| profile.wants(e), &Progress::default()).events;
    let starts: Vec<&RawEvent> = events.iter().filter(|e| e.event_id == 100).collect();
    let user = |e: &RawEvent| e.get("UserContext").unwrap_or("").to_string();
    let task = |e: &RawEvent| e.get("TaskName").unwrap_or("").to_string();
    let mut users: HashMap<String, usize> = HashMap::new();
    let mut by_task: HashMap<String, Vec<String>> = HashMap::new();
    for e in &starts {
        *users.entry(user(e)).or_default() += 1;
        by_task.entry(task(e)).or_default().push(user(e));
    }
    // The task with the longest history of one account, then the commonest other account.
    let mut steady: Vec<(&String, &Vec<String>)> = by_task
        .iter()
        .filter(|(_, u)| u.len() >= 5 && u.iter().all(|x| *x == u[0] && !x.is_empty()))
        .collect();
    steady.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let (name, usual) = steady.first().map(|(t, u)| ((*t).clone(), u[0].clone()))?;
    let mut others: Vec<(&String, &usize)> = users
        .iter()
        .filter(|(u, n)| **u != usual && **n >= 3 && !u.is_empty())
        .collect();
    others.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let other = others.first()?.0.clone();
    let mut plant = (*starts.iter().find(|e| task(e) == name)?).clone();
    for slot in plant.data.iter_mut().filter(|(k, _)| k == "UserContext") {
        slot.1 = other.clone();
    }
    plant.record_id = Some(9_000_000);
    plant.time = plant.time.map(|t| t + 3_600_000_000);
    plant.source = Arc::from("planted");
    let mut all = events.clone();
    all.push(plant);
    Some((all, usual, other))
}

fn rank_of(ds: &Dataset, kind: ModelKind) -> (usize, anomalog::model::Ranking) {
    let ranking = util::trained(ds, kind);
    let plant = (0..ds.uniques.len())
        .find(|&u| {
            ds.uniques[u]
                .occurrences
                .iter()
                .any(|&o| ds.source_of(&ds.occurrences[o as usize]) == "planted")
        })
        .unwrap();
    let rank = ranking.order.iter().position(|&u| u == plant).unwrap() + 1;
    (rank, ranking)
}

/// A real task's start run as another account ranks near the top with the default model,
/// far above where counting puts it, and the drill-down says why in words.
#[test]
fn a_task_run_as_an_account_it_never_used_stands_out_in_a_real_log() {
    let Some((events, usual, other)) = dc_log_with_a_plant() else {
        return;
    };
    let profile = util::profile("scheduled-tasks");
    let mut ds = Dataset::build(profile.as_ref(), events);
    anomalog::context::add(&mut ds);
    let (counted, _) = rank_of(&ds, ModelKind::Rarity);
    let (ranked, r) = rank_of(&ds, ModelKind::Ae);
    eprintln!(
        "the plant ranks {ranked} (counting: {counted}) of {}",
        ds.uniques.len()
    );
    // Measured: 1 of 147 (counting 123; before the contradiction channel 27, the previous
    // scoring 50): see docs/benchmarks.md, "Contradictions".
    assert!(ranked <= 10, "ranks {ranked} of {}", ds.uniques.len());
    assert!(ranked * 3 <= counted, "{ranked} vs counting's {counted}");
    let plant = r.order[ranked - 1];
    let reasons = anomalog::model::evidence::reasons(&ds, &r, plant, 3);
    assert!(
        reasons
            .iter()
            .any(|s| s.starts_with("for this task user is always")
                && s.contains(&usual.to_lowercase())
                && s.ends_with(&format!("here {}", other.to_lowercase()))),
        "{reasons:#?}"
    );
}

/// The real logs' servicing batches (Windows re-registering its own tasks, a dozen one-off
/// definitions at once) are found, each counts once, and none of their rows crowds the real
/// attacks out of the top 20.
#[test]
fn windows_servicing_batches_in_real_logs_count_once() {
    let Some(dir) = util::shared_dir() else {
        return;
    };
    let ds = util::load(&[dir]).dataset;
    let b = &ds.batches;
    let host = |u: usize| {
        b.of(u)
            .map(|x| ds.hosts[x.host as usize].as_str())
            .unwrap_or("")
    };
    let batched: Vec<usize> = (0..ds.uniques.len())
        .filter(|&u| b.of(u).is_some())
        .collect();
    // pandalab's IT01: six built-in tasks updated or disabled by the computer account within
    // nine seconds.
    let it01: Vec<usize> = batched
        .iter()
        .copied()
        .filter(|&u| host(u) == "it01.pandalab.com")
        .collect();
    assert!(it01.len() >= 5, "{it01:?}");
    for &u in &it01 {
        let x = b.of(u).unwrap();
        assert_eq!((x.tasks, &*x.account), (6, "<machine>$"));
        assert!(x.span <= 10_000_000, "{}", x.span);
        assert!(
            ds.value(u, "task_name")
                .starts_with("\\Microsoft\\Windows\\")
        );
    }
    // The attackers' changes are people's accounts': never batched.
    let attacks = ["\\lmst", "\\bouwfqyo", "\\eviltask", "eventcachemanager"];
    let attack = |u: usize| {
        let name = ds.value(u, "task_name").to_lowercase();
        attacks.iter().any(|a| name.ends_with(a))
    };
    assert!(batched.iter().all(|&u| !attack(u)));
    let r = util::trained(&ds, ModelKind::Ae);
    let top: Vec<usize> = r.order.iter().take(20).copied().collect();
    // Every attack task has an event in the top 20; no row that came wholly in a batch is.
    for a in attacks {
        assert!(
            top.iter()
                .any(|&u| ds.value(u, "task_name").to_lowercase().ends_with(a)),
            "{a} not in the top 20"
        );
    }
    for &u in &top {
        assert!(
            ds.batches.weight(u) > 0.5,
            "{} (batched, weight {}) in the top 20",
            ds.value(u, "task_name"),
            ds.batches.weight(u)
        );
    }
    // A batched row says so.
    let u = it01[0];
    let said = anomalog::model::evidence::reasons(&ds, &r, u, 3);
    assert!(
        said.last()
            .is_some_and(|s| s.contains("one of 6 tasks the computer account")
                && s.contains("servicing batch")),
        "{said:#?}"
    );
}
