//! Summaries: ranking the per-host summaries of a fleet gives exactly the ranking of its raw
//! logs read at once, for every model; bad summaries are reported and the rest is used.

use crate::util::{self, load};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anomalog::frame::Dataset;
use anomalog::ingest::Progress;
use anomalog::model::ModelKind;
use anomalog::model::ae::AeConfig;
use anomalog::model::worker::{Task, run};
use anomalog::output::summary;
use anomalog::pipeline::{self, Loaded};
use anomalog::profile::by_name;
use anomalog::simulate::{self, Background, Config};

/// Summarise each host folder of `fleet` into `out`, as an endpoint would; returns the host
/// folders and the summaries, in the same order.
fn summarise_hosts(fleet: &Path, out: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut hosts: Vec<PathBuf> = std::fs::read_dir(fleet)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    hosts.sort();
    let sums = hosts
        .iter()
        .map(|h| {
            let path = out.join(format!(
                "{}.jsonl",
                h.file_name().unwrap().to_string_lossy()
            ));
            let loaded = load(std::slice::from_ref(h));
            let mut f = std::fs::File::create(&path).unwrap();
            summary::write(&loaded, &mut f).unwrap();
            path
        })
        .collect();
    (hosts, sums)
}

/// Everything a model reads of a unique event, and what the list shows.
fn facts(ds: &Dataset) -> Vec<String> {
    (0..ds.uniques.len())
        .map(|u| {
            let e = &ds.uniques[u];
            format!(
                "{} {} {:?} count={} hosts={:?} {:?} unnamed={} {:?}-{:?} flags={:?} raw={:?} \
                 batched={} {:?}",
                e.channel,
                e.event_id,
                e.values,
                e.count(),
                e.hosts,
                e.host_counts,
                e.unnamed,
                e.first_seen,
                e.last_seen,
                ds.flags(u),
                ds.first_raw(u).record_id,
                ds.batches.weight(u),
                ds.batches
                    .of(u)
                    .map(|b| (b.tasks, b.span, b.account.to_string())),
            )
        })
        .collect()
}

fn ranking(ds: &Dataset, kind: ModelKind) -> (Vec<usize>, Vec<f64>) {
    let task = Task::Train {
        kind,
        config: AeConfig {
            seed: 7,
            epochs: if kind == ModelKind::Ae { 20 } else { 0 },
            ..AeConfig::default()
        },
    };
    let r = run(ds, task, &AtomicBool::new(false), &mut |_| {})
        .unwrap()
        .ranking;
    (r.order, r.scores)
}

fn assert_same_ranking(raw: &Loaded, merged: &Loaded) {
    assert_eq!(
        merged.dataset.uniques.len(),
        raw.dataset.uniques.len(),
        "unique events"
    );
    assert_eq!(facts(&merged.dataset), facts(&raw.dataset));
    assert_eq!(merged.dataset.fleet_size(), raw.dataset.fleet_size());
    assert_eq!(
        merged.records, raw.records,
        "records the summaries stand for"
    );
    for kind in [ModelKind::Rarity, ModelKind::Ds4n6, ModelKind::Ae] {
        assert_eq!(
            ranking(&merged.dataset, kind),
            ranking(&raw.dataset, kind),
            "{kind:?}: the summaries rank as the raw logs"
        );
    }
}

#[test]
fn per_host_summaries_of_the_samples_rank_as_the_raw_logs() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    assert_eq!(hosts.len(), 8);
    let raw = load(&hosts);
    let merged = load(&[dir.path().to_path_buf()]);
    assert!(
        merged.warnings().next().is_none(),
        "{:?}",
        merged.warnings().collect::<Vec<_>>()
    );
    assert_eq!(sums.len(), 8);
    assert_same_ranking(&raw, &merged);
    // The drill-down's raw first occurrence came along whole (the task XML included).
    let with_xml = (0..merged.dataset.uniques.len())
        .find(|&u| merged.dataset.first_raw(u).get("TaskContent").is_some())
        .expect("a 4698 with its XML");
    assert_eq!(
        merged.dataset.first_raw(with_xml),
        raw.dataset.first_raw(with_xml)
    );
}

#[test]
fn per_host_summaries_of_a_larger_fleet_rank_as_the_raw_logs() {
    let fleet = tempfile::tempdir().unwrap();
    simulate::simulate(
        &Config {
            hosts: 24,
            days: 3,
            seed: 5,
            background: Background::None,
            ..Config::default()
        },
        fleet.path(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (hosts, _) = summarise_hosts(fleet.path(), dir.path());
    assert_eq!(hosts.len(), 24);
    let raw = load(&hosts);
    let merged = load(&[dir.path().to_path_buf()]);
    assert_same_ranking(&raw, &merged);
}

/// Summaries written by an older anomalog (ordinary accounts' SIDs kept their RID,
/// `s-1-5-21-*-1106`) merge as this release reads the raw logs (`s-1-5-21-*-user`).
#[test]
fn summaries_of_an_older_release_merge_as_the_raw_logs_read_now() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    let mut rewritten = 0;
    for (i, s) in sums.iter().enumerate() {
        let text = std::fs::read_to_string(s).unwrap();
        // Each host as if its users had other RIDs.
        let old = text.replace("s-1-5-21-*-user", &format!("s-1-5-21-*-{}", 1100 + i));
        rewritten += usize::from(old != text);
        std::fs::write(s, old).unwrap();
    }
    assert!(rewritten > 0, "the samples have per-user principals");
    let raw = load(&hosts);
    let merged = load(&[dir.path().to_path_buf()]);
    assert_eq!(facts(&merged.dataset), facts(&raw.dataset));
}

#[test]
fn bad_summaries_are_reported_and_the_rest_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    let text = std::fs::read_to_string(&sums[0]).unwrap();

    // Another profile: refused, naming the file and the profile to use.
    let other = text.replacen(
        "\"profile\":\"scheduled-tasks\"",
        "\"profile\":\"services\"",
        1,
    );
    std::fs::write(&sums[0], other).unwrap();
    // Another format version.
    let newer = std::fs::read_to_string(&sums[1]).unwrap().replacen(
        "{\"anomalog_summary\":1,",
        "{\"anomalog_summary\":99,",
        1,
    );
    std::fs::write(&sums[1], newer).unwrap();
    // Truncated in the middle of a line: what could be read is used.
    let third = std::fs::read_to_string(&sums[2]).unwrap();
    std::fs::write(&sums[2], &third[..third.len() * 2 / 3]).unwrap();

    let merged = load(&[dir.path().to_path_buf()]);
    let warnings: Vec<String> = merged.warnings().collect();
    let of = |p: &Path| {
        warnings
            .iter()
            .find(|w| w.contains(&*p.file_name().unwrap().to_string_lossy()))
            .cloned()
            .unwrap_or_default()
    };
    assert!(of(&sums[0]).contains("--profile services"), "{warnings:?}");
    assert!(of(&sums[1]).contains("version 99"), "{warnings:?}");
    // The cut line is named, and why it could not be read.
    assert!(
        of(&sums[2]).contains("1 summary line skipped (line ") && of(&sums[2]).contains("EOF"),
        "{warnings:?}"
    );
    // The other five hosts and part of the third are there.
    let raw_rest = load(&hosts[3..]);
    let rest_hosts: usize = raw_rest.dataset.fleet_size();
    assert_eq!(merged.dataset.fleet_size(), rest_hosts + 1);
    let third_kept: u64 = merged
        .dataset
        .uniques
        .iter()
        .map(|e| e.count())
        .sum::<u64>()
        - raw_rest
            .dataset
            .uniques
            .iter()
            .map(|e| e.count())
            .sum::<u64>();
    assert!(
        third_kept > 0,
        "the readable part of the truncated summary is used"
    );
}

/// A summary's servicing batches (Windows re-registering its tasks at once) come with it;
/// one that cannot be what its line counts is dropped with a warning, the line kept.
#[test]
fn servicing_batches_come_with_the_summaries_and_a_forged_one_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    // SRV01 audits task changes: Windows Update's batch on the second day is in its logs.
    assert!(hosts[0].ends_with("SRV01"));
    let raw = load(&hosts[..1]);
    let batched = (0..raw.dataset.uniques.len())
        .filter(|&u| raw.dataset.batches.of(u).is_some())
        .count();
    assert!(batched >= 3, "{batched}");
    let merged = load(&sums[..1]);
    assert_eq!(facts(&merged.dataset), facts(&raw.dataset));
    // One line claims more batched occurrences than it has.
    let text = std::fs::read_to_string(&sums[0]).unwrap();
    let forged: Vec<String> = text
        .lines()
        .map(|l| {
            if l.contains("\"batches\"") {
                l.replacen("\"occurrences\":1,", "\"occurrences\":999999,", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_ne!(forged.join("\n"), text.trim_end());
    std::fs::write(&sums[0], forged.join("\n") + "\n").unwrap();
    let read = load(&sums[..1]);
    let warnings: Vec<String> = read.warnings().collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("servicing batch") && w.contains("dropped")),
        "{warnings:?}"
    );
    assert_eq!(read.dataset.uniques.len(), raw.dataset.uniques.len());
    let still = (0..read.dataset.uniques.len())
        .filter(|&u| read.dataset.batches.of(u).is_some())
        .count();
    assert!(still < batched, "{still} of {batched}");
}

#[test]
fn the_same_host_twice_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    let once = load(&hosts[..2]);
    let agree = |l: &Loaded, host: &str| {
        l.warnings().any(|w| {
            w.contains(&format!("host {host} is described by 2 inputs"))
                && w.contains("they agree: counted once")
        })
    };
    // A host's logs and its summary, in either order.
    let both = load(&[hosts[0].clone(), sums[0].clone(), hosts[1].clone()]);
    assert_eq!(facts(&both.dataset), facts(&once.dataset));
    assert!(
        agree(&both, "srv01.corp.example"),
        "{:?}",
        both.warnings().collect::<Vec<_>>()
    );
    let logs_after = load(&[sums[0].clone(), hosts[0].clone(), hosts[1].clone()]);
    assert_eq!(facts(&logs_after.dataset), facts(&once.dataset));
    // Two copies of one summary (a hunt downloaded twice).
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(&sums[0], copy.join("again.jsonl")).unwrap();
    let twice = load(&[sums[0].clone(), copy.join("again.jsonl"), sums[1].clone()]);
    assert_eq!(facts(&twice.dataset), facts(&once.dataset));
    assert!(agree(&twice, "srv01.corp.example"));
}

/// A summary line without the paths it names (they depend on where the fleet was written).
fn without_paths(line: &str) -> serde_json::Value {
    util::without_paths(line)
}

/// `simulate --summaries` writes what `summarize` makes of the same fleet's logs, so that the
/// 10 000-host scale figure measures real summaries.
#[test]
fn simulated_summaries_are_what_summarize_writes() {
    let cfg = Config {
        hosts: 6,
        days: 2,
        seed: 3,
        background: Background::None,
        ..Config::default()
    };
    let logs = tempfile::tempdir().unwrap();
    let truth_logs = simulate::simulate(&cfg, logs.path()).unwrap();
    let sums = tempfile::tempdir().unwrap();
    let truth_sums = simulate::simulate(
        &Config {
            summaries: true,
            ..cfg.clone()
        },
        sums.path(),
    )
    .unwrap();
    assert_eq!(truth_sums.records, truth_logs.records);
    let planted = |t: &simulate::GroundTruth| {
        t.attacks
            .iter()
            .map(|a| {
                let mut r: Vec<_> = a
                    .records
                    .iter()
                    .map(|r| (r.file.clone(), r.record_id, r.event_id))
                    .collect();
                r.sort();
                (a.id.clone(), r)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(planted(&truth_sums), planted(&truth_logs));
    let out = tempfile::tempdir().unwrap();
    let (hosts, made) = summarise_hosts(logs.path(), out.path());
    assert_eq!(hosts.len(), 6);
    for (host, made) in hosts.iter().zip(&made) {
        let name = host.file_name().unwrap().to_string_lossy();
        let simulated =
            std::fs::read_to_string(sums.path().join(format!("{name}.summary.jsonl"))).unwrap();
        let made = std::fs::read_to_string(made).unwrap();
        let a: Vec<_> = simulated.lines().map(without_paths).collect();
        let b: Vec<_> = made.lines().map(without_paths).collect();
        assert_eq!(a.len(), b.len(), "{name}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{name}");
        }
    }
}

/// Parquet summaries carry the same as JSON Lines ones: mixed in one folder, they merge and
/// rank as the raw logs.
#[test]
fn parquet_summaries_rank_as_the_raw_logs() {
    let samples = util::samples();
    let mut hosts: Vec<PathBuf> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    hosts.sort();
    let dir = tempfile::tempdir().unwrap();
    for (i, h) in hosts.iter().enumerate() {
        let loaded = load(std::slice::from_ref(h));
        let name = h.file_name().unwrap().to_string_lossy().to_string();
        // Every other host as Parquet.
        if i % 2 == 0 {
            let mut f = std::fs::File::create(dir.path().join(format!("{name}.parquet"))).unwrap();
            summary::write_parquet(&loaded, &mut f).unwrap();
        } else {
            let mut f = std::fs::File::create(dir.path().join(format!("{name}.jsonl"))).unwrap();
            summary::write(&loaded, &mut f).unwrap();
        }
    }
    let raw = load(&hosts);
    let merged = load(&[dir.path().to_path_buf()]);
    assert!(
        merged.warnings().next().is_none(),
        "{:?}",
        merged.warnings().collect::<Vec<_>>()
    );
    assert_same_ranking(&raw, &merged);
    // A Parquet file that is no summary (a ranking export) is passed over in a folder.
    let other = tempfile::tempdir().unwrap();
    let mut df = polars::prelude::df!("rank" => [1u32, 2]).unwrap();
    let mut f = std::fs::File::create(other.path().join("ranked.parquet")).unwrap();
    polars::prelude::ParquetWriter::new(&mut f)
        .finish(&mut df)
        .unwrap();
    let l = load(&[other.path().to_path_buf()]);
    assert!(l.warnings().next().is_none());
    assert_eq!(l.passed_over, 1);
}

/// The drill-down's lifecycle timelines (folded runs, own steps, XML diffs of updates) come
/// with the summaries: every unique event shows the same timelines merged as raw.
#[test]
fn lifecycle_timelines_come_with_the_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, _) = summarise_hosts(&samples, dir.path());
    let raw = load(&hosts);
    let merged = load(&[dir.path().to_path_buf()]);
    // The same as Parquet.
    let pq = tempfile::tempdir().unwrap();
    for h in &hosts {
        let name = h.file_name().unwrap().to_string_lossy().to_string();
        let mut f = std::fs::File::create(pq.path().join(format!("{name}.parquet"))).unwrap();
        summary::write_parquet(&load(std::slice::from_ref(h)), &mut f).unwrap();
    }
    let merged_pq = load(&[pq.path().to_path_buf()]);
    let shown = |ds: &Dataset, u: usize| -> Option<String> {
        let v = anomalog::context::lifecycle::view(ds, u)?;
        let mut out = format!("more={}\n", v.more);
        for (host, task, steps) in &v.lives {
            out.push_str(&format!("{host} {task}\n"));
            for s in steps {
                out.push_str(&format!(
                    "  {:?} {} {} {} own={} folded={} {:?}\n",
                    s.time, s.event_id, s.what, s.detail, s.own, s.folded, s.diff
                ));
            }
        }
        Some(out)
    };
    let mut with_lives = 0;
    let mut with_diff = 0;
    for u in 0..raw.dataset.uniques.len() {
        let a = shown(&raw.dataset, u);
        assert_eq!(shown(&merged.dataset, u), a, "unique event {u}");
        assert_eq!(
            shown(&merged_pq.dataset, u),
            a,
            "unique event {u} (Parquet)"
        );
        if let Some(a) = a {
            with_lives += 1;
            with_diff += usize::from(a.contains("Removed"));
        }
    }
    assert!(with_lives > 100, "{with_lives}");
    // The Sunburst-style modification's updates carry their diffs.
    assert!(with_diff > 0);
}

/// A summary forged to claim hosts it says nothing about: its header names every host of
/// the fleet, it holds one event. Given before the genuine summaries (or the raw logs), it
/// hides nothing: every genuine event is there as it would be without it, and the hosts it
/// claims are named in warnings with both inputs.
fn forged_summary(genuine: &Path, out: &Path, hosts: &[&str]) {
    let text = std::fs::read_to_string(genuine).unwrap();
    let mut lines = text.lines();
    let mut header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    header["hosts"] = serde_json::json!(hosts);
    let mut line: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    // An event nobody else has, on the first host claimed.
    line["values"][0] = serde_json::json!("\\Forged\\Decoy");
    line["count"] = serde_json::json!(1);
    line["unnamed"] = serde_json::json!(0);
    line["hosts"] = serde_json::json!([[hosts[0], 1]]);
    line["lifecycles"] = serde_json::json!([]);
    std::fs::write(out, format!("{header}\n{line}\n")).unwrap();
}

/// Facts of every unique event except those named `\Forged\Decoy`.
fn facts_but_forged(ds: &Dataset) -> Vec<String> {
    facts(ds)
        .into_iter()
        .filter(|f| !f.contains("\\\\Forged\\\\Decoy"))
        .collect()
}

#[test]
fn a_forged_summary_hides_no_other_input() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let sums = dir.path().join("sums");
    std::fs::create_dir(&sums).unwrap();
    let (hosts, genuine) = summarise_hosts(&samples, &sums);
    let claimed = [
        "ws001.corp.example",
        "ws002.corp.example",
        "ws003.corp.example",
        "srv01.corp.example",
    ];
    // Named so that it sorts first, and given first.
    let forged = dir.path().join("0-forged.jsonl");
    forged_summary(&genuine[0], &forged, &claimed);
    let clean = load(std::slice::from_ref(&sums));
    let with = load(&[forged.clone(), sums.clone()]);
    assert_eq!(facts_but_forged(&with.dataset), facts(&clean.dataset));
    assert_eq!(with.dataset.uniques.len(), clean.dataset.uniques.len() + 1);
    let warnings: Vec<String> = with.warnings().collect();
    for h in claimed {
        assert!(
            warnings.iter().any(
                |w| w.contains(&format!("host {h} is described by 2 inputs"))
                    && w.contains("0-forged.jsonl")
            ),
            "{h}: {warnings:?}"
        );
    }
    // In front of the raw logs: every planted attack's rows are still there, counted as the
    // logs count them.
    let raw = load(std::slice::from_ref(&samples));
    let with_raw = load(&[forged.clone(), samples.clone()]);
    assert_eq!(facts_but_forged(&with_raw.dataset), facts(&raw.dataset));
    assert!(
        with_raw
            .warnings()
            .any(|w| w.contains("0-forged.jsonl") && w.contains("differ")),
        "{:?}",
        with_raw.warnings().collect::<Vec<_>>()
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(samples.join("ground_truth.json")).unwrap())
            .unwrap();
    let planted = truth["attacks"].as_array().unwrap().len();
    assert!(planted >= 5);
    let names = |ds: &Dataset| -> std::collections::BTreeSet<String> {
        (0..ds.uniques.len())
            .map(|u| ds.value(u, "task_name").to_string())
            .collect()
    };
    assert!(names(&with_raw.dataset).is_superset(&names(&raw.dataset)));
    let _ = hosts;
}

/// The rule for inputs that describe one host is the analyst's: `max` (the default) counts
/// the same evidence once, `sum` adds periods, `logs` trusts a host's own logs.
#[test]
fn the_same_host_rule_is_the_analysts_choice() {
    use anomalog::frame::{Options, SameHost};
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    let profile = by_name("scheduled-tasks").unwrap();
    let with = |paths: &[PathBuf], same_host| {
        pipeline::load_with(
            paths,
            profile.as_ref(),
            Options { same_host },
            &Progress::default(),
        )
    };
    let total = |l: &Loaded| -> u64 { l.dataset.uniques.iter().map(|e| e.count()).sum() };
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(&sums[0], copy.join("again.jsonl")).unwrap();
    let two = [sums[0].clone(), copy.join("again.jsonl")];
    let once = total(&with(&sums[..1], SameHost::Max));
    assert_eq!(total(&with(&two, SameHost::Max)), once);
    assert_eq!(total(&with(&two, SameHost::Sum)), 2 * once);
    // A summary with an event the host's logs do not have: kept by `max`, not by `logs`.
    let forged = dir.path().join("extra.jsonl");
    forged_summary(&sums[0], &forged, &["srv01.corp.example"]);
    let logs = [hosts[0].clone(), forged.clone()];
    let decoy = |l: &Loaded| facts(&l.dataset).iter().any(|f| f.contains("Forged"));
    assert!(decoy(&with(&logs, SameHost::Max)));
    let trusted = with(&logs, SameHost::Logs);
    assert!(!decoy(&trusted));
    assert_eq!(
        facts(&trusted.dataset),
        facts(&with(&hosts[..1], SameHost::Max).dataset)
    );
    assert!(
        trusted.warnings().any(|w| w.contains("--same-host logs")),
        "{:?}",
        trusted.warnings().collect::<Vec<_>>()
    );
}

/// Counts are input too: they never wrap, a count beyond the records its header says were
/// read or a first sighting after the last is refused and named, and a huge count scores no
/// event below zero.
#[test]
fn counts_from_summaries_never_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (_, sums) = summarise_hosts(&samples, dir.path());
    let text = std::fs::read_to_string(&sums[0]).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let huge: u64 = 18_446_744_073_709_551_000;
    lines[0]["records"] = serde_json::json!(u64::MAX);
    let host = lines[1]["hosts"][0][0].clone();
    lines[1]["count"] = serde_json::json!(huge);
    lines[1]["hosts"] = serde_json::json!([[host, huge]]);
    lines[1]["unnamed"] = serde_json::json!(0);
    let write = |path: &Path, lines: &[serde_json::Value]| {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(path, text).unwrap();
    };
    // The same claim for two other hosts.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    for (dir, name) in [(&a, "x.example"), (&b, "y.example")] {
        let mut ls = vec![lines[0].clone(), lines[1].clone()];
        ls[0]["hosts"] = serde_json::json!([name]);
        ls[1]["hosts"] = serde_json::json!([[name, huge]]);
        write(&dir.join("s.jsonl"), &ls);
    }
    let merged = load(&[a.join("s.jsonl"), b.join("s.jsonl")]);
    assert!(
        merged.warnings().next().is_none(),
        "{:?}",
        merged.warnings().collect::<Vec<_>>()
    );
    let e = &merged.dataset.uniques[0];
    assert!(e.count() >= huge, "{} < {huge}", e.count());
    assert_eq!(e.count(), u64::MAX, "saturated, not wrapped");
    assert!(
        merged.summary().contains(&u64::MAX.to_string()),
        "{}",
        merged.summary()
    );
    let r = anomalog::model::rarity::rank(&merged.dataset);
    assert!(r.scores.iter().all(|&s| s >= 0.0), "{:?}", r.scores);
    // More than the header's records, and a first sighting after the last: refused, named.
    let mut bad = lines.clone();
    bad[0]["records"] = serde_json::json!(10);
    bad[1]["count"] = serde_json::json!(11);
    bad[1]["hosts"] = serde_json::json!([[host, 11]]);
    bad[2]["first_seen"] = serde_json::json!(2_000_000_000_000_000i64);
    let c = dir.path().join("c.jsonl");
    write(&c, &bad[..3]);
    let l = load(std::slice::from_ref(&c));
    let w: Vec<String> = l.warnings().collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("line 2: counts 11 occurrences where the header says 10 records were read")
            && w[0].contains("line 3: first seen after last seen"),
        "{w:?}"
    );
    assert!(l.dataset.uniques.is_empty());
}

/// The same inputs give the same dataset and ranking, whatever the order they are given in:
/// paths permuted, summaries before or after, for every model.
#[test]
fn the_order_of_inputs_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let samples = util::samples();
    let (hosts, sums) = summarise_hosts(&samples, dir.path());
    let pick = |v: &[PathBuf], ix: &[usize]| -> Vec<PathBuf> {
        ix.iter().map(|&i| v[i].clone()).collect()
    };
    let a = load(&pick(&hosts, &[0, 2, 4]));
    let b = load(&pick(&hosts, &[4, 0, 2]));
    let merged = load(&pick(&sums, &[2, 4, 0]));
    assert_eq!(facts(&a.dataset), facts(&b.dataset));
    assert_eq!(facts(&merged.dataset), facts(&a.dataset));
    for kind in [ModelKind::Rarity, ModelKind::Ds4n6, ModelKind::Ae] {
        let want = ranking(&a.dataset, kind);
        assert_eq!(ranking(&b.dataset, kind), want, "{kind:?}: permuted paths");
        assert_eq!(ranking(&merged.dataset, kind), want, "{kind:?}: summaries");
    }
    // Every objective of the autoencoder, paths permuted.
    for objective in [
        anomalog::model::ae::Objective::Swap,
        anomalog::model::ae::Objective::Masked,
        anomalog::model::ae::Objective::Hybrid,
    ] {
        let rank = |ds: &Dataset| {
            let task = Task::Train {
                kind: ModelKind::Ae,
                config: AeConfig {
                    seed: 3,
                    epochs: 10,
                    objective,
                    ..AeConfig::default()
                },
            };
            let r = run(ds, task, &AtomicBool::new(false), &mut |_| {})
                .unwrap()
                .ranking;
            (r.order, r.scores)
        };
        assert_eq!(rank(&b.dataset), rank(&a.dataset), "{objective:?}");
    }
    // A folder whose files were made in another order reads the same.
    let shuffled = tempfile::tempdir().unwrap();
    /// Copy a folder, each folder's entries in reverse order of their names.
    fn copy_reversed(from: &Path, to: &Path) {
        std::fs::create_dir(to).unwrap();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(from)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for f in entries.iter().rev() {
            let dest = to.join(f.file_name().unwrap());
            if f.is_dir() {
                copy_reversed(f, &dest);
            } else {
                std::fs::copy(f, dest).unwrap();
            }
        }
    }
    for h in hosts.iter().rev() {
        copy_reversed(h, &shuffled.path().join(h.file_name().unwrap()));
    }
    let all = load(&hosts);
    let again = load(&[shuffled.path().to_path_buf()]);
    assert_eq!(facts(&again.dataset), facts(&all.dataset));
}
