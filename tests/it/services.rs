//! The services profile (System 7045, Security 4697) through the same pipeline, on the shared
//! System logs and on a 4697 fixture.

use crate::util;

use std::path::PathBuf;

use crate::util::{fixture, shared_file};
use anomalog::frame::Dataset;
use anomalog::model::ModelKind;

fn services(paths: &[PathBuf]) -> Dataset {
    util::load_with(paths, "services").dataset
}

fn find(ds: &Dataset, name: &str) -> usize {
    (0..ds.uniques.len())
        .find(|&u| ds.value(u, "service_name") == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

#[test]
fn security_4697_reads_like_7045() {
    let ds = services(&[fixture("security_4697.jsonl")]);
    assert_eq!(ds.profile, "services");
    assert_eq!(ds.uniques.len(), 2);
    let p = find(&ds, "PSEXESVC");
    assert_eq!(ds.value(p, "image"), "c:\\windows\\psexesvc.exe");
    assert_eq!(ds.value(p, "dir_class"), "windows");
    assert_eq!(ds.value(p, "service_type"), "user mode service");
    assert_eq!(ds.value(p, "start_type"), "demand start");
    assert_eq!(ds.value(p, "account"), "nt authority\\system");
    assert_eq!(ds.value(p, "installed_by"), "mallory");
    let w = find(&ds, "wsvc");
    assert_eq!(ds.value(w, "image"), "c:\\program files\\vendor\\wsvc.exe");
    assert_eq!(ds.value(w, "arguments"), "-service");
    assert_eq!(ds.value(w, "start_type"), "auto start");
    assert_eq!(ds.value(w, "installed_by"), "<machine>$");
}

#[test]
fn psexec_services_stand_out_among_the_shared_system_logs() {
    let (Some(psexec), Some(system), Some(zero)) = (
        shared_file("metasploit-psexec-native-target-system.evtx"),
        shared_file("system.evtx"),
        shared_file("sample-with-zero-data-size-event.evtx"),
    ) else {
        return;
    };
    // The Metasploit PsExec file alone: its two 7045 installs (MANIFEST: System/7045x2).
    let ds = services(std::slice::from_ref(&psexec));
    assert_eq!(ds.occurrences.len(), 2);
    let k = find(&ds, "KgXItsbKgTJzdzwl");
    assert_eq!(ds.value(k, "image"), "c:\\windows\\dukhlyux.exe");
    assert_eq!(ds.value(k, "account"), "nt authority\\system");
    let h = find(&ds, "hgabms");
    assert_eq!(ds.value(h, "exe"), "cmd.exe");
    assert_eq!(ds.value(h, "lolbin"), "yes");
    assert!(
        ds.value(h, "cmd_flags").contains("named-pipe"),
        "{}",
        ds.value(h, "cmd_flags")
    );

    // Among the benign driver and service installs of three other machines (every install is
    // a one-off there, so counting alone separates little): the cmd.exe pipe service comes
    // first, the random-named binary in %SystemRoot% in the top quarter.
    let ds = services(&[system, zero, psexec]);
    assert!(ds.uniques.len() > 40, "{}", ds.uniques.len());
    let drivers = (0..ds.uniques.len())
        .filter(|&u| ds.value(u, "service_type") == "kernel mode driver")
        .count();
    assert!(drivers > 30, "{drivers}");
    assert!(
        (0..ds.uniques.len())
            .filter(|&u| ds.value(u, "service_type") == "kernel mode driver")
            .all(|u| {
                let i = ds.value(u, "image");
                i.starts_with("c:\\") && i.ends_with(".sys")
            }),
        "driver paths normalised (\\SystemRoot\\..., System32\\..., unquoted with spaces)"
    );
    let (random, pipe) = (find(&ds, "KgXItsbKgTJzdzwl"), find(&ds, "hgabms"));
    for kind in [ModelKind::Rarity, ModelKind::Ae] {
        let ranking = util::trained(&ds, kind);
        let rank = |u: usize| ranking.order.iter().position(|&x| x == u).unwrap() + 1;
        assert_eq!(rank(pipe), 1, "{}", kind.name());
        // Every install here is a one-off: counted once per piece of evidence (the
        // autoencoder's `evidence::rank`), the random name and its binary weigh what any
        // one-off install's name and binary weigh, and it lands in the top third rather than
        // the top quarter that counting its derived fields again gave.
        let within = match kind {
            ModelKind::Ae => ds.uniques.len() / 3,
            _ => ds.uniques.len() / 4,
        };
        assert!(
            rank(random) <= within,
            "{}: the random-named service ranks {} of {}",
            kind.name(),
            rank(random),
            ds.uniques.len()
        );
    }
}

#[test]
fn rank_takes_the_services_profile() {
    let out = crate::util::anomalog()
        .args([
            "rank",
            "--profile",
            "services",
            "-f",
            "jsonl",
            "-m",
            "rarity",
        ])
        .arg(fixture("security_4697.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["event_id"] == 4697));
    assert!(
        rows.iter()
            .any(|r| r["fields"]["service_name"] == "PSEXESVC")
    );
    // Scheduled-task events are not services.
    let out = crate::util::anomalog()
        .args(["rank", "--profile", "services", "-f", "jsonl"])
        .arg(fixture("evtx_dump.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}
