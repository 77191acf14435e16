//! The Velociraptor artifact (`assets/velociraptor/`) and hunt downloads: the artifact is
//! valid YAML whose command line the binary accepts, and a hunt download built to
//! Velociraptor's layout ranks as the clients' logs would.

use crate::util::{load, root};
use std::io::Write;
use std::path::{Path, PathBuf};

use anomalog::output::summary;
use anomalog::pipeline::Loaded;
use yaml_rust2::{Yaml, YamlLoader};

const ARTIFACT: &str = "assets/velociraptor/Custom.Anomalog.Summarize.yaml";

fn artifact() -> Yaml {
    let text = std::fs::read_to_string(root().join(ARTIFACT)).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// The `argv` list the artifact builds: the items of `filter(list=( ... ), regex=...)`.
fn argv_items(query: &str) -> Vec<String> {
    let start = query.find("filter(list=(").expect("an argv list") + "filter(list=(".len();
    let end = start
        + query[start..]
            .find("), regex")
            .expect("the end of the argv list");
    query[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("--")) // VQL comment lines
        .flat_map(|l| l.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

#[test]
fn the_artifact_is_valid_and_the_binary_accepts_its_command_line() {
    let a = artifact();
    assert_eq!(a["name"].as_str(), Some("Custom.Anomalog.Summarize"));
    let tool = &a["tools"][0];
    assert_eq!(tool["name"].as_str(), Some("Anomalog"));
    assert!(tool["url"].as_str().is_some() && tool["expected_hash"].as_str().is_some());
    let perms: Vec<&str> = a["required_permissions"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(perms.contains(&"EXECVE"), "{perms:?}");
    assert!(a["precondition"].as_str().unwrap().contains("windows"));
    let default = |name: &str| -> String {
        a["parameters"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["default"].as_str())
            .unwrap_or_else(|| panic!("parameter {name} with a default"))
            .to_string()
    };
    assert_eq!(default("EvtxDirectory"), "C:/Windows/System32/winevt/Logs");
    let query = a["sources"][0]["query"].as_str().unwrap();
    let items = argv_items(query);
    assert!(items.len() >= 8, "{items:?}");

    // The endpoint's log folder is a sample host's here; every item maps to an argument.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("anomalog-summary.jsonl");
    let logs = root().join("samples/WS001");
    let mut args: Vec<String> = Vec::new();
    for item in &items[1..] {
        let arg = if let Some(lit) = item.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            lit.to_string()
        } else if item == "Profile" {
            default("Profile")
        } else if item == "ResultFile" {
            out.display().to_string()
        } else if item == "EvtxDirectory" {
            logs.display().to_string()
        } else if item == "TasksDirectory" {
            logs.join("C/Windows/System32/Tasks").display().to_string()
        } else if item == "Registry" {
            // The live registry (`HKLM\SOFTWARE`) is read on Windows; here the host's hive.
            assert_eq!(default("Registry"), "HKLM\\SOFTWARE");
            logs.join("C/Windows/System32/config/SOFTWARE")
                .display()
                .to_string()
        } else if item == "LegacyTasksDirectory" {
            // A host without legacy jobs: reported and passed over.
            dir.path().join("no-Tasks").display().to_string()
        } else {
            panic!("an argv item this test does not know: {item}");
        };
        args.push(arg);
    }
    assert_eq!(args[0], "summarize", "{args:?}");
    let status = crate::util::bin().args(&args).status().unwrap();
    assert!(status.success(), "anomalog {args:?}: {status}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with(summary::MAGIC), "{}", &written[..80]);
    assert!(written.lines().count() > 10);
    // The definitions on disk and what the logs could see come with it.
    assert!(written.contains("\"channel\":\"TaskDefinition\""));
    // WS001's TaskCache holds a task no file has (the planted GhostTask): its registry row.
    assert!(
        written.contains("\"registry-only\""),
        "the registry's TaskCache in the summary"
    );
    assert!(written.lines().next().unwrap().contains("\"evidence\""));
    assert_eq!(default("TasksDirectory"), "C:/Windows/System32/Tasks");
}

/// A zip laid out as Velociraptor's hunt download is (`hunt_info.json`, a folder per client
/// with its results and uploads, and `results/All ARTIFACT/SOURCE.json` with `FlowId`,
/// `ClientId` and `Fqdn` on every row), for these hosts' summaries.
fn hunt_download(hosts: &[PathBuf], path: &Path) {
    hunt_download_forged(hosts, path, None);
}

/// [`hunt_download`], with the first client's rows forged when `forge` names another host:
/// its first event said to be that host's.
fn hunt_download_forged(hosts: &[PathBuf], path: &Path, forge: Option<&str>) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let artifact = "Custom.Anomalog.Summarize";
    z.start_file("hunt_info.json", opts).unwrap();
    z.write_all(br#"{"hunt_id":"H.1","artifacts":["Custom.Anomalog.Summarize"]}"#)
        .unwrap();
    let mut combined = String::new();
    let mut combined_csv = String::from("anomalog_summary,FlowId,ClientId,Fqdn\n");
    let mut uploads = String::new();
    for (i, h) in hosts.iter().enumerate() {
        let name = h.file_name().unwrap().to_string_lossy().to_string();
        let client = format!("C.{:016x}", i + 1);
        let flow = format!("F.H{i}");
        let mut text = Vec::new();
        summary::write(&load(std::slice::from_ref(h)), &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let dir = format!("{name}-{client}");
        for (member, body) in [
            (
                "client_info.json".to_string(),
                format!(r#"{{"client_id":"{client}","hostname":"{name}","fqdn":"{name}"}}"#),
            ),
            (
                "log.json".to_string(),
                r#"{"_ts":1,"client_time":1,"level":"DEFAULT","message":"Starting collection"}"#
                    .to_string(),
            ),
            (format!("results/{artifact}/Results.json"), text.clone()),
            (
                "uploads/auto/C%3A/Temp/anomalog-summary.jsonl".to_string(),
                text.clone(),
            ),
        ] {
            z.start_file(format!("{dir}/{member}"), opts).unwrap();
            z.write_all(body.as_bytes()).unwrap();
        }
        for (k, line) in text.lines().enumerate() {
            let mut row: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            if let (0, 1, Some(other)) = (i, k, forge) {
                let n = row["count"].clone();
                row.insert("hosts".into(), serde_json::json!([[other, n]]));
                row.insert("unnamed".into(), serde_json::json!(0));
            }
            row.insert("FlowId".into(), flow.clone().into());
            row.insert("ClientId".into(), client.clone().into());
            row.insert("Fqdn".into(), name.clone().into());
            combined.push_str(&serde_json::Value::Object(row).to_string());
            combined.push('\n');
        }
        combined_csv.push_str(&format!("1,{flow},{client},{name}\n"));
        uploads.push_str(&format!(
            r#"{{"Upload":{{"Path":"anomalog-summary.jsonl","Size":{}}},"FlowId":"{flow}","ClientId":"{client}","Fqdn":"{name}"}}"#,
            text.len()
        ));
        uploads.push('\n');
    }
    for (member, body) in [
        (format!("results/All {artifact}/Results.json"), &combined),
        (format!("results/All {artifact}/Results.csv"), &combined_csv),
        (format!("results/All {artifact}/Upload.json"), &uploads),
    ] {
        z.start_file(member, opts).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn a_hunt_download_ranks_as_its_clients_logs() {
    let samples = root().join("samples");
    let hosts: Vec<PathBuf> = ["SRV01", "WS001", "WS003"]
        .iter()
        .map(|h| samples.join(h))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("H.1.zip");
    hunt_download(&hosts, &zip);
    let raw = load(&hosts);
    let hunt = load(std::slice::from_ref(&zip));
    let warnings: Vec<String> = hunt.warnings().collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    let ds = &hunt.dataset;
    assert_eq!(ds.fleet_size(), 3);
    let mut hosts_seen: Vec<&str> = ds
        .uniques
        .iter()
        .flat_map(|e| e.hosts.iter().map(String::as_str))
        .collect();
    hosts_seen.sort();
    hosts_seen.dedup();
    assert_eq!(
        hosts_seen,
        [
            "srv01.corp.example",
            "ws001.corp.example",
            "ws003.corp.example"
        ]
    );
    // Each client counted once (its results and its upload are in the zip too).
    let facts = |l: &Loaded| -> Vec<String> {
        (0..l.dataset.uniques.len())
            .map(|u| {
                let e = &l.dataset.uniques[u];
                format!(
                    "{} {} {:?} {} {:?} {:?} {:?}",
                    e.channel,
                    e.event_id,
                    e.values,
                    e.count(),
                    e.host_counts,
                    e.hosts,
                    l.dataset.flags(u)
                )
            })
            .collect()
    };
    assert_eq!(facts(&hunt), facts(&raw));
    let rarity = |l: &Loaded| anomalog::model::rarity::rank(&l.dataset).order;
    assert_eq!(rarity(&hunt), rarity(&raw));
}

/// A hunt client's rows may describe only its own host: rows about another host are kept,
/// flagged `foreign-host`, and named in a warning; the other clients' evidence is intact.
#[test]
fn a_hunt_client_describing_another_host_is_flagged_and_kept() {
    let samples = root().join("samples");
    let hosts: Vec<PathBuf> = ["SRV01", "WS001", "WS003"]
        .iter()
        .map(|h| samples.join(h))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("H.2.zip");
    hunt_download_forged(&hosts, &zip, Some("ws001.corp.example"));
    let hunt = load(std::slice::from_ref(&zip));
    let warnings: Vec<String> = hunt.warnings().collect();
    assert!(
        warnings.iter().any(|w| w.contains("client SRV01")
            && w.contains("describe other hosts (ws001.corp.example)")
            && w.contains("foreign-host")),
        "{warnings:?}"
    );
    let ds = &hunt.dataset;
    let flagged: Vec<usize> = (0..ds.uniques.len())
        .filter(|&u| ds.flags(u).iter().any(|f| f.name() == "foreign-host"))
        .collect();
    assert_eq!(flagged.len(), 1, "the one forged row");
    let u = flagged[0];
    assert!(
        ds.uniques[u]
            .hosts
            .iter()
            .any(|h| h == "ws001.corp.example")
    );
    // Every event of the honest clients is there as their logs give it.
    let honest = load(&hosts[1..]);
    // (Their own fields: prevalence and the other context fields depend on the fleet.)
    let own = |d: &anomalog::frame::Dataset, k: usize| {
        format!("{:?}", &d.uniques[k].values[..d.profile_fields])
    };
    let there: std::collections::BTreeSet<String> =
        (0..ds.uniques.len()).map(|k| own(ds, k)).collect();
    let missing: Vec<String> = (0..honest.dataset.uniques.len())
        .map(|k| own(&honest.dataset, k))
        .filter(|v| !there.contains(v))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
    assert_eq!(ds.fleet_size(), 3);
}
