//! The registry's view of tasks: the hive reader (`ingest::hive`) against the simulator's
//! hive writer (`simulate::regf`), both checked by an independent reader (hivex); the
//! TaskCache decoded; hostile hives refused where they break.

use anomalog::ingest::hive::{FileAt, HELD_BYTES, Hive, HiveError, dword, text};
use anomalog::simulate::regf::{self, RegKey};

/// hivex's tools, or `None` with the reason printed (the test then checks our side only).
fn hivex() -> Option<()> {
    let ok = std::process::Command::new("hivexget")
        .arg("--help")
        .output()
        .is_ok();
    if !ok {
        eprintln!("skipped the hivex check: hivexget is not installed (Debian libhivex-bin)");
    }
    ok.then_some(())
}

fn hivexget(file: &std::path::Path, key: &str, value: &str) -> String {
    let out = std::process::Command::new("hivexget")
        .arg(file)
        .arg(key)
        .arg(value)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hivexget {key} {value}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

/// A hive with nested keys, many subkeys, small, inline and big values.
fn sample_root() -> RegKey {
    let t = 1_791_158_400_000_000;
    let mut root = RegKey::new("ROOT", t);
    root.at("Microsoft\\Windows NT\\CurrentVersion", t)
        .set_sz("ProductName", "Windows 10 Pro")
        .set_dword("InstallDate", 0x1234_5678);
    let many = root.at("Many", t);
    for i in 0..700 {
        many.at(&format!("k{i:04}"), t).set_dword("n", i);
    }
    let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    root.at("Big", t)
        .set("blob", regf::REG_BINARY, big)
        .set("tiny", regf::REG_BINARY, vec![7, 8]);
    root.at("Ünïcode ключ", t).set_sz("Wert", "ok");
    root
}

/// A hive file past [`HELD_BYTES`] is read at offsets, a smaller one from memory: the same
/// keys and values either way.
#[test]
fn a_hive_is_read_alike_from_memory_and_at_offsets() {
    let bytes = regf::hive(&sample_root(), "\\SystemRoot\\System32\\Config\\TEST", 0);
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (dir.path().join("SMALL"), dir.path().join("LARGE"));
    std::fs::write(&small, &bytes).unwrap();
    std::fs::write(&large, &bytes).unwrap();
    // Zeros past the hive's own length (sparse: no 16 MiB written).
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&large)
        .unwrap();
    f.set_len(HELD_BYTES + 4096).unwrap();
    drop(f);
    let (held, at_offsets) = (FileAt::open(&small).unwrap(), FileAt::open(&large).unwrap());
    assert!(held.is_held() && !at_offsets.is_held());
    let read = |src: &FileAt| {
        let hive = Hive::open(src, &[]).unwrap();
        let k = hive.path("Many\\k0699").unwrap().unwrap();
        let n = dword(&hive.value(&k, "n").unwrap().unwrap().1);
        let cv = hive
            .path("microsoft\\WINDOWS NT\\currentversion")
            .unwrap()
            .unwrap();
        let name = text(&hive.value(&cv, "productname").unwrap().unwrap().1);
        (n, name)
    };
    assert_eq!(read(&held), (Some(699), "Windows 10 Pro".to_string()));
    assert_eq!(read(&at_offsets), read(&held));
}

#[test]
fn written_hives_read_back_here_and_in_hivex() {
    let bytes = regf::hive(&sample_root(), "\\SystemRoot\\System32\\Config\\TEST", 0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("TEST");
    std::fs::write(&file, &bytes).unwrap();
    let src = FileAt::open(&file).unwrap();
    let hive = Hive::open(&src, &[]).unwrap();
    assert!(hive.notes.is_empty(), "{:?}", hive.notes);
    // The base block keeps the path's last 31 characters.
    assert_eq!(hive.file_name(), "SystemRoot\\System32\\Config\\TEST");
    let cv = hive
        .path("microsoft\\WINDOWS NT\\currentversion")
        .unwrap()
        .unwrap();
    let (_, name) = hive.value(&cv, "productname").unwrap().unwrap();
    assert_eq!(text(&name), "Windows 10 Pro");
    let (_, d) = hive.value(&cv, "InstallDate").unwrap().unwrap();
    assert_eq!(dword(&d), Some(0x1234_5678));
    let many = hive.path("Many").unwrap().unwrap();
    assert_eq!(hive.subkeys(&many).unwrap().len(), 700);
    let k = hive.path("Many\\k0699").unwrap().unwrap();
    assert_eq!(dword(&hive.value(&k, "n").unwrap().unwrap().1), Some(699));
    let big = hive.path("Big").unwrap().unwrap();
    let (_, blob) = hive.value(&big, "blob").unwrap().unwrap();
    assert_eq!(blob.len(), 40_000);
    assert!(blob.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert_eq!(hive.value(&big, "tiny").unwrap().unwrap().1, [7, 8]);
    let u = hive.path("Ünïcode ключ").unwrap().unwrap();
    assert_eq!(text(&hive.value(&u, "Wert").unwrap().unwrap().1), "ok");
    assert_eq!(
        hive.walk(&hive.root().unwrap(), 8, 10_000).unwrap().len(),
        706
    );
    if hivex().is_none() {
        return;
    }
    assert_eq!(
        hivexget(
            &file,
            "\\Microsoft\\Windows NT\\CurrentVersion",
            "ProductName"
        ),
        "Windows 10 Pro"
    );
    assert_eq!(hivexget(&file, "\\Many\\k0123", "n"), "123");
    let xml = std::process::Command::new("hivexml")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        xml.status.success(),
        "hivexml: {}",
        String::from_utf8_lossy(&xml.stderr)
    );
    let xml = String::from_utf8_lossy(&xml.stdout);
    assert!(
        xml.contains("k0699") && xml.contains("blob"),
        "{}",
        &xml[..xml.len().min(400)]
    );
}

#[test]
fn a_dirty_hive_takes_its_transaction_log() {
    let t = 1_791_158_400_000_000;
    let mut before = RegKey::new("ROOT", t);
    before.at("A", t).set_sz("v", "old");
    let mut after = before.clone();
    after.at("A", t).set_sz("v", "new and longer than before");
    for i in 0..300 {
        after.at(&format!("B\\n{i}"), t).set_dword("x", i);
    }
    let mut old = regf::hive(&before, "SOFTWARE", t);
    let new = regf::hive(&after, "SOFTWARE", t);
    let log = regf::dirty_with_log(&mut old, &new, 7);
    let read = |logs: &[&dyn anomalog::ingest::hive::ReadAt]| {
        let hive = Hive::open(&old, logs).unwrap();
        let a = hive.path("A").unwrap().unwrap();
        let v = text(&hive.value(&a, "v").unwrap().unwrap().1);
        let b = hive.path("B").unwrap().map(|b| b.subkey_count());
        (v, b, hive.notes.clone())
    };
    let (v, b, notes) = read(&[&log]);
    assert_eq!(v, "new and longer than before");
    assert_eq!(b, Some(300));
    assert!(
        notes
            .iter()
            .any(|n| n.contains("1 transaction log entries applied")),
        "{notes:?}"
    );
    // Without its log: the hive as flushed, and a note saying what may be missing.
    let (v, b, notes) = read(&[]);
    assert_eq!((v.as_str(), b), ("old", None));
    assert!(notes.iter().any(|n| n.contains("dirty")), "{notes:?}");
    // A log of another sequence is not applied.
    let mut stale = log.clone();
    stale[512 + 12..512 + 16].copy_from_slice(&3u32.to_le_bytes());
    let (v, _, _) = read(&[&stale]);
    assert_eq!(v, "old");
}

#[test]
fn hostile_hives_are_refused_where_they_break() {
    let bytes = regf::hive(&sample_root(), "TEST", 0);
    // Truncated anywhere: an error or fewer keys, never a panic.
    for n in (0..bytes.len()).step_by(509) {
        let cut = bytes[..n].to_vec();
        if let Ok(h) = Hive::open(&cut, &[])
            && let Ok(root) = h.root()
        {
            let _ = h.walk(&root, 8, 10_000);
        }
    }
    assert!(matches!(
        Hive::open(&b"regf"[..].to_vec(), &[]),
        Err(HiveError::NotAHive(_))
    ));
    assert!(matches!(
        Hive::open(&b"not a hive at all".to_vec(), &[]),
        Err(HiveError::NotAHive(_))
    ));
    // A value claiming 4 GiB is refused by its size, not allocated.
    let mut root = RegKey::new("ROOT", 0);
    root.at("K", 0).set("v", regf::REG_BINARY, vec![1; 64]);
    let mut h = regf::hive(&root, "T", 0);
    let at = find(&h, b"vk") + 4;
    h[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let hive = Hive::open(&h, &[]).unwrap();
    let k = hive.path("K").unwrap().unwrap();
    let e = hive.value(&k, "v").unwrap_err().to_string();
    assert!(e.contains("claiming"), "{e}");
    // A key whose subkey list points back at its parent: a loop, ended.
    let mut root = RegKey::new("ROOT", 0);
    root.at("A\\B", 0);
    let mut h = regf::hive(&root, "T", 0);
    let lists: Vec<usize> = positions(&h, b"lh");
    let root_at = u32::from_le_bytes([h[36], h[37], h[38], h[39]]);
    // B's list is written first (depth first): make A's child B point at the root.
    let first = lists[0];
    h[first + 4..first + 8].copy_from_slice(&root_at.to_le_bytes());
    let hive = Hive::open(&h, &[]).unwrap();
    let e = hive.walk(&hive.root().unwrap(), 64, 10_000).unwrap_err();
    assert!(e.to_string().contains("loop"), "{e}");
}

fn find(h: &[u8], sig: &[u8]) -> usize {
    positions(h, sig)[0]
}

fn positions(h: &[u8], sig: &[u8]) -> Vec<usize> {
    (4096..h.len() - 1)
        .filter(|&i| &h[i..i + 2] == sig && i % 8 == 4)
        .collect()
}

/// The flag each registry-level attack of the simulator must carry.
fn flag_of(id: &str) -> &'static str {
    match id {
        "tarrask-hidden-task" => "hidden",
        "index-zero-hidden-task" => "index-zero",
        "ghosttask-registry-only" => "registry-only",
        "registry-actions-edited" => "actions-differ",
        other => panic!("no flag known for {other}"),
    }
}

/// Issue 24's goal on the bundled fleet: every registry-level attack is flagged with its
/// flag, on its registry row, in the top 10 definitions (default model and counting).
#[test]
fn the_samples_registry_attacks_are_flagged_in_the_top_10_definitions() {
    let samples = crate::util::samples();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(samples.join("ground_truth.json")).unwrap())
            .unwrap();
    let planted: Vec<&serde_json::Value> = truth["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["seen_in"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "Registry")
        })
        .collect();
    assert_eq!(planted.len(), 4);
    for model in [&["-m", "rarity"][..], &[][..]] {
        let mut args = vec!["--by", "definition", "-n", "10", "-q"];
        args.extend_from_slice(model);
        let (rows, _) = crate::util::rank_rows(&args, &[&samples]);
        for a in &planted {
            let flag = flag_of(a["id"].as_str().unwrap());
            let hit = rows.iter().find(|r| {
                r["task"] == a["task_name"]
                    && r["format"] == "registry"
                    && r["flags"].as_array().unwrap().iter().any(|f| f == flag)
            });
            assert!(
                hit.is_some(),
                "{} ({}) not flagged {flag} in the top 10 definitions ({model:?}): {rows:#?}",
                a["id"],
                a["task_name"]
            );
            // The JSON row says what the comparison with the task file found.
            let hit = hit.unwrap();
            let state = if flag == "registry-only" {
                "no file"
            } else {
                "matches"
            };
            assert_eq!(hit["file_state"], state, "{hit:#}");
        }
    }
}

/// The samples' hives read by hivex: the TaskCache keys the simulator wrote, the Tarrask
/// task's Tree key without its SD, the GhostTask's registry entry without a file.
#[test]
fn the_samples_hives_read_in_hivex() {
    if hivex().is_none() {
        return;
    }
    let samples = crate::util::samples();
    let tree = "\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree";
    let mut checked = 0;
    for host in [
        "WS001", "WS002", "WS003", "WS004", "WS005", "WS006", "SRV01", "SRV02",
    ] {
        let hive = samples
            .join(host)
            .join("C/Windows/System32/config/SOFTWARE");
        let xml = std::process::Command::new("hivexml")
            .arg(&hive)
            .output()
            .unwrap();
        assert!(
            xml.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&xml.stderr)
        );
        // Every file of the host's Tasks folder has its Tree key and Id.
        let tasks = samples.join(host).join("C/Windows/System32/Tasks");
        for e in walkdir::WalkDir::new(&tasks)
            .into_iter()
            .filter_map(Result::ok)
        {
            if !e.file_type().is_file() {
                continue;
            }
            let rel = e.path().strip_prefix(&tasks).unwrap();
            let key = format!(
                "{tree}\\{}",
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("\\")
            );
            let id = hivexget(&hive, &key, "Id");
            assert!(id.starts_with('{') && id.len() == 38, "{key}: {id}");
            checked += 1;
        }
    }
    assert!(checked > 400, "{checked}");
    let ws002 = samples.join("WS002/C/Windows/System32/config/SOFTWARE");
    let sd = std::process::Command::new("hivexget")
        .arg(&ws002)
        .arg(format!("{tree}\\WinUpdate"))
        .arg("SD")
        .output()
        .unwrap();
    assert!(
        !sd.status.success(),
        "the Tarrask task's Tree key has no SD"
    );
    let ws001 = samples.join("WS001/C/Windows/System32/config/SOFTWARE");
    let id = hivexget(
        &ws001,
        &format!("{tree}\\Microsoft\\Windows\\UpdateSync"),
        "Id",
    );
    let path = hivexget(
        &ws001,
        &format!("\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tasks\\{id}"),
        "Path",
    );
    assert_eq!(path, "\\Microsoft\\Windows\\UpdateSync");
    assert!(
        !samples
            .join("WS001/C/Windows/System32/Tasks/Microsoft/Windows/UpdateSync")
            .exists()
    );
}

/// Bad hives beside good evidence: a truncated SOFTWARE hive, a hive of another kind, a
/// TaskCache value whose string runs past its end: each a warning naming the file and what
/// was skipped, the rest loaded.
#[test]
fn bad_hives_are_named_and_the_rest_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let samples = crate::util::samples();
    let good = std::fs::read(samples.join("WS001/C/Windows/System32/config/SOFTWARE")).unwrap();
    // Truncated: the second half of its bins gone.
    let cut = dir.path().join("cut/C/Windows/System32/config");
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::write(cut.join("SOFTWARE"), &good[..good.len() / 2]).unwrap();
    // A SYSTEM hive: no TaskCache.
    let mut system = RegKey::new("ROOT", 0);
    system
        .at("ControlSet001\\Services\\Schedule", 0)
        .set_dword("Start", 2);
    let other = dir.path().join("SYSTEM");
    std::fs::write(
        &other,
        regf::hive(&system, "\\SystemRoot\\System32\\Config\\SYSTEM", 0),
    )
    .unwrap();
    // A TaskCache whose Actions claims a command longer than the value.
    let mut root = RegKey::new("ROOT", 0);
    let tc = anomalog::ingest::taskcache::TASKCACHE;
    let id = "{11111111-2222-3333-4444-555555555555}";
    root.at(&format!("{tc}\\Tree\\Broken"), 0).set_sz("Id", id);
    let mut actions = 3u16.to_le_bytes().to_vec();
    actions.extend(0u32.to_le_bytes());
    actions.extend(0x6666u16.to_le_bytes());
    actions.extend(0u32.to_le_bytes());
    actions.extend(0x7fff_0000u32.to_le_bytes());
    actions.extend(b"C\0:\0");
    root.at(&format!("{tc}\\Tasks\\{id}"), 0)
        .set_sz("Path", "\\Broken")
        .set("Actions", regf::REG_BINARY, actions);
    let broken = dir.path().join("broken/C/Windows/System32/config");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("SOFTWARE"), regf::hive(&root, "SOFTWARE", 0)).unwrap();
    let loaded = crate::util::load(&[
        dir.path().join("cut"),
        other.clone(),
        dir.path().join("broken"),
        samples.join("WS002"),
    ]);
    let warnings: Vec<String> = loaded.warnings().collect();
    let said = |file: &str, what: &str| {
        warnings
            .iter()
            .any(|w| w.contains(file) && w.contains(what))
    };
    assert!(said("cut", "truncated"), "{warnings:#?}");
    assert!(said("SYSTEM", "without a TaskCache"), "{warnings:#?}");
    assert!(said("broken", "Actions: at byte"), "{warnings:#?}");
    // The broken task still stands, by its name; WS002's hive and files are all there.
    let ds = &loaded.dataset;
    let names: Vec<&str> = (0..ds.uniques.len())
        .map(|u| ds.name_as_read(u).0)
        .collect();
    assert!(names.contains(&"\\Broken"), "{names:?}");
    assert!(names.contains(&"\\WinUpdate"), "{names:?}");
    // WS002's hive: every task read, those its files confirm standing as their files' rows,
    // the hidden one a row of its own.
    let hive = loaded
        .reports
        .iter()
        .find(|r| r.path.contains("WS002") && r.kind == "hive")
        .unwrap();
    assert!(hive.records > 50, "{}", hive.records);
    let from_registry: Vec<&str> = (0..ds.uniques.len())
        .filter(|&u| {
            ds.uniques[u].event_id == anomalog::event::DEF_REG
                && ds.uniques[u].hosts.iter().any(|h| h.contains("ws002"))
        })
        .map(|u| ds.name_as_read(u).0)
        .collect();
    assert_eq!(from_registry, ["\\WinUpdate"]);
}

/// The `Triggers` value as the simulator encodes it from task XML reads back with its job
/// bucket's settings, its principal and every trigger kind, in order.
#[test]
fn triggers_read_back_with_their_kinds_user_and_settings() {
    use anomalog::ingest::taskcache::triggers;
    let xml = "<Task><Triggers><BootTrigger/><LogonTrigger/><CalendarTrigger><Repetition><Interval>PT1H</Interval></Repetition></CalendarTrigger><TimeTrigger/><EventTrigger/><IdleTrigger/><RegistrationTrigger/></Triggers><Principals><Principal><UserId>S-1-5-21-1-2-3-1001</UserId><LogonType>Password</LogonType><RunLevel>HighestAvailable</RunLevel></Principal></Principals><Settings><Hidden>true</Hidden><Enabled>false</Enabled></Settings></Task>";
    let x = anomalog::profile::task_xml::parse(xml).unwrap();
    let blob = anomalog::simulate::registry::triggers_blob(&x);
    let t = triggers(&blob).unwrap();
    assert_eq!(t.problem, None);
    assert_eq!(t.version, 0x17);
    assert_eq!(
        t.kinds,
        [
            "Boot",
            "Logon",
            "Calendar",
            "Time",
            "Event",
            "Idle",
            "Registration"
        ]
    );
    assert!(t.repeats);
    assert_eq!(t.user, "S-1-5-21-1-2-3-1001");
    assert_eq!(t.principal_id, "Author");
    assert_eq!(
        (t.logon_type(), t.run_level()),
        ("Password", "HighestAvailable")
    );
    assert!(t.hidden() && !t.enabled());
    // Truncated anywhere: an error, or the triggers read before the cut (and where it broke).
    for n in 0..blob.len() {
        if let Ok(part) = triggers(&blob[..n]) {
            assert!(part.kinds.len() < 7 || n == blob.len(), "{n}");
        }
    }
    // An unknown trigger kind stops the list where it stands, saying so.
    let mut odd = blob.clone();
    let first_kind = odd
        .windows(4)
        .position(|w| w == [0xff, 0xff, 0, 0])
        .unwrap();
    odd[first_kind..first_kind + 4].copy_from_slice(&0x1234u32.to_le_bytes());
    let t = triggers(&odd).unwrap();
    assert!(t.kinds.is_empty());
    assert!(t.problem.unwrap().what.contains("0x1234"));
}
