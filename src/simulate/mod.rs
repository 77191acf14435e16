//! A fleet simulator: N hosts over D days, their scheduled-task activity written as genuine
//! `.evtx` files (per host and channel, named as KAPE collects them), with planted attacks and
//! a ground-truth file that names every planted record.
//!
//! Deterministic: the same configuration and seed give byte-identical files.

mod attacks;
mod background;
pub mod catalog;
pub mod regf;
pub mod registry;

use std::io;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::event::{CH_SECURITY, CH_TASKSCHEDULER};
use crate::evtx_writer::{EventSpec, EvtxWriter};
use attacks::{Targets, plant};
pub use background::Background;
use catalog::{Action, RunAs, Schedule, TaskDef, Where};

const US_PER_S: i64 = 1_000_000;
const US_PER_MIN: i64 = 60 * US_PER_S;
const US_PER_H: i64 = 60 * US_PER_MIN;
const US_PER_DAY: i64 = 24 * US_PER_H;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    pub hosts: usize,
    pub days: u32,
    pub seed: u64,
    /// Microseconds since the Unix epoch of the first day's midnight (UTC).
    pub start: i64,
    /// Plant the attacks (needs at least 3 hosts).
    pub attacks: bool,
    /// Also write every event as evtx_dump-style JSON Lines, zipped into `jsonl.zip`.
    pub jsonl: bool,
    /// Background noise in the Security and System logs.
    pub background: Background,
    /// Write each host's summary (`HOST.summary.jsonl`, see [`crate::summary`]) instead of
    /// its logs: what `anomalog summarize` would make of them, without the `.evtx` (the
    /// background, which no task profile reads, is left out).
    pub summaries: bool,
    /// Which hosts log tasks where ([`Logging`]).
    pub logging: Logging,
    /// Write each host's Tasks folder (`HOST/C/Windows/System32/Tasks`): its definitions
    /// at the end of the period.
    pub tasks_folder: bool,
}

/// Which channels the hosts record tasks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Logging {
    /// Every host logs registrations (Security 4698-4702, and 4688 for schtasks) and runs
    /// (TaskScheduler/Operational): the simulator before it wrote definitions.
    Full,
    /// As fleets are: TaskScheduler/Operational is off on most workstations (on every
    /// third), task and process-creation auditing is on where a policy enables it (the
    /// servers and every fourth workstation); every host keeps its definitions in its Tasks
    /// folder.
    #[default]
    Realistic,
}

/// What one host records about tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Records {
    /// Security 4698-4702 and 4688.
    audit: bool,
    /// TaskScheduler/Operational.
    operational: bool,
}

impl Logging {
    fn of(self, i: usize, host: &Host) -> Records {
        match self {
            Logging::Full => Records {
                audit: true,
                operational: true,
            },
            Logging::Realistic => Records {
                audit: host.server || i % 4 == 2,
                operational: host.server || i % 3 == 2,
            },
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hosts: 8,
            days: 2,
            seed: 1,
            // 2026-10-05T00:00:00Z, a Monday.
            start: 1_791_158_400 * US_PER_S,
            attacks: true,
            jsonl: false,
            background: Background::Realistic,
            summaries: false,
            logging: Logging::Realistic,
            tasks_folder: true,
        }
    }
}

/// One planted record, as the ground truth names it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PlantedRecord {
    /// The file, relative to the output folder.
    pub file: String,
    pub record_id: u64,
    pub event_id: u16,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Attack {
    pub id: String,
    pub technique: String,
    pub description: String,
    pub host: String,
    pub task_name: String,
    pub records: Vec<PlantedRecord>,
    /// The attack's definition left on disk (its file, relative to the output folder), if
    /// the task is still there at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// The host's SOFTWARE hive (relative to the output folder) where the attack is in the
    /// registry's TaskCache: registry-level attacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Where it can be seen: `Security`, `TaskScheduler/Operational`, `Tasks folder`,
    /// `Registry`.
    #[serde(default)]
    pub seen_in: Vec<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GroundTruth {
    pub seed: u64,
    pub hosts: usize,
    pub days: u32,
    pub records: u64,
    pub attacks: Vec<Attack>,
}

/// One event waiting to be written, with the attack it belongs to (if planted).
struct Pending {
    time: i64,
    security: bool,
    spec: EventSpec,
    attack: Option<usize>,
}

struct Host {
    name: String,
    fqdn: String,
    server: bool,
    user: String,
    user_rid: u32,
}

const DOMAIN: &str = "CORP";
const DOMAIN_SID: &str = "S-1-5-21-3623811015-3361044348-30300820";
const TS_PROVIDER: &str = "Microsoft-Windows-TaskScheduler";
const TS_GUID: &str = "{DE7B24EA-73C8-4A09-985D-5BDADCFA9017}";
const SEC_PROVIDER: &str = "Microsoft-Windows-Security-Auditing";
const SEC_GUID: &str = "{54849625-5478-4994-A5BA-3E3B0328C30D}";
const USERS: &[&str] = &[
    "jdoe",
    "asmith",
    "mgarcia",
    "wchen",
    "pkumar",
    "lnguyen",
    "obrien",
    "tkowalski",
    "fmuller",
    "rsilva",
    "hsato",
    "dpatel",
];

fn guid(rng: &mut StdRng) -> String {
    let b: [u8; 16] = rng.random();
    format!(
        "{{{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6],
        b[7],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// Environment variables as the task engine expands them for the launched process.
fn expand(path: &str, user: &str) -> String {
    let mut out = path.to_string();
    for (var, value) in [
        ("%windir%", "C:\\Windows".to_string()),
        ("%systemroot%", "C:\\Windows".to_string()),
        ("%systemdrive%", "C:".to_string()),
        (
            "%localappdata%",
            format!("C:\\Users\\{user}\\AppData\\Local"),
        ),
        ("%appdata%", format!("C:\\Users\\{user}\\AppData\\Roaming")),
    ] {
        while let Some(i) = out.to_ascii_lowercase().find(var) {
            out.replace_range(i..i + var.len(), &value);
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A task as installed on one host.
#[derive(Clone)]
struct HostTask {
    path: String,
    def: TaskDef,
    /// Principal name as TaskScheduler shows it (`NT AUTHORITY\System`, `CORP\jdoe`).
    principal: String,
    principal_sid: String,
    xml: String,
    /// Day it was installed, for tasks installed during the period.
    installed: Option<u32>,
}

fn principal_of(def: &TaskDef, host: &Host) -> (String, String) {
    match def.run_as {
        RunAs::System => ("NT AUTHORITY\\System".into(), "S-1-5-18".into()),
        RunAs::LocalService => ("NT AUTHORITY\\LOCAL SERVICE".into(), "S-1-5-19".into()),
        RunAs::NetworkService => ("NT AUTHORITY\\NETWORK SERVICE".into(), "S-1-5-20".into()),
        RunAs::Users => (format!("{DOMAIN}\\{}", host.user), "S-1-5-32-545".into()),
        RunAs::User => (
            format!("{DOMAIN}\\{}", host.user),
            format!("{DOMAIN_SID}-{}", host.user_rid),
        ),
        RunAs::Service(name) => (
            format!("{DOMAIN}\\{name}"),
            format!("{DOMAIN_SID}-2{:03}", name.len()),
        ),
    }
}

/// What a task definition says, for [`task_xml`].
pub(crate) struct TaskXml<'a> {
    pub uri: &'a str,
    pub author: &'a str,
    pub trigger_xml: &'a str,
    /// A user's SID, or a group's (`group`).
    pub principal: &'a str,
    pub group: bool,
    /// Runs at the highest level (else the least privilege).
    pub highest: bool,
    pub hidden: bool,
    pub action: &'a Action,
    pub working_dir: &'a str,
}

/// The task definition XML, as Security 4698 / 4702 carry it.
pub(crate) fn task_xml(t: &TaskXml<'_>) -> String {
    let TaskXml {
        uri,
        author,
        trigger_xml,
        principal,
        group,
        highest,
        hidden,
        action,
        working_dir,
    } = *t;
    let principal_xml = if group {
        format!("<GroupId>{}</GroupId>", xml_escape(principal))
    } else {
        format!(
            "<UserId>{}</UserId><LogonType>{}</LogonType>",
            xml_escape(principal),
            if principal.starts_with("S-1-5-1") || principal.starts_with("S-1-5-20") {
                "ServiceAccount"
            } else {
                "InteractiveToken"
            }
        )
    };
    let action_xml = match action {
        Action::Exec { command, arguments } => {
            let mut a = format!("<Exec><Command>{}</Command>", xml_escape(command));
            if !arguments.is_empty() {
                a.push_str(&format!("<Arguments>{}</Arguments>", xml_escape(arguments)));
            }
            if !working_dir.is_empty() {
                a.push_str(&format!(
                    "<WorkingDirectory>{}</WorkingDirectory>",
                    xml_escape(working_dir)
                ));
            }
            a.push_str("</Exec>");
            a
        }
        Action::Com { clsid, .. } => format!("<ComHandler><ClassId>{clsid}</ClassId></ComHandler>"),
    };
    let author_xml = if author.is_empty() {
        String::new()
    } else {
        format!("<Author>{}</Author>", xml_escape(author))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.3\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <RegistrationInfo>{author_xml}<URI>{}</URI></RegistrationInfo>\r\n  <Triggers>{trigger_xml}</Triggers>\r\n  <Principals><Principal id=\"Author\">{principal_xml}<RunLevel>{}</RunLevel></Principal></Principals>\r\n  <Settings><MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy><DisallowStartIfOnBatteries>true</DisallowStartIfOnBatteries><StopIfGoingOnBatteries>true</StopIfGoingOnBatteries><AllowHardTerminate>true</AllowHardTerminate><StartWhenAvailable>true</StartWhenAvailable><RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable><IdleSettings><StopOnIdleEnd>true</StopOnIdleEnd><RestartOnIdle>false</RestartOnIdle></IdleSettings><AllowStartOnDemand>true</AllowStartOnDemand><Enabled>true</Enabled><Hidden>{hidden}</Hidden><RunOnlyIfIdle>false</RunOnlyIfIdle><WakeToRun>false</WakeToRun><ExecutionTimeLimit>PT72H</ExecutionTimeLimit><Priority>7</Priority></Settings>\r\n  <Actions Context=\"Author\">{action_xml}</Actions>\r\n</Task>",
        xml_escape(uri),
        if highest {
            "HighestAvailable"
        } else {
            "LeastPrivilege"
        },
    )
}

fn install(def: &TaskDef, host: &Host, rng: &mut StdRng, days: u32) -> HostTask {
    let path = def
        .path
        .replace("{GUID}", &guid(rng))
        .replace("{SID}", &format!("{DOMAIN_SID}-{}", host.user_rid));
    let (principal, principal_sid) = principal_of(def, host);
    let group = matches!(def.run_as, RunAs::Users);
    let xml = task_xml(&TaskXml {
        uri: &path,
        author: def.author,
        trigger_xml: def.schedule.trigger_xml(),
        principal: &principal_sid,
        group,
        highest: def.highest,
        hidden: def.hidden,
        action: &def.action,
        working_dir: "",
    });
    // Most hosts had the software before the period; about a third install it during it.
    let installed =
        (def.installed_during && rng.random_bool(0.35)).then(|| rng.random_range(0..days.max(1)));
    HostTask {
        path,
        def: *def,
        principal,
        principal_sid,
        xml,
        installed,
    }
}

/// Generates one host's events.
struct Gen<'a> {
    host: &'a Host,
    rng: StdRng,
    out: Vec<Pending>,
    engine_pid: u32,
}

impl Gen<'_> {
    fn ts(
        &mut self,
        time: i64,
        event_id: u16,
        data_name: &str,
        data: Vec<(&str, String)>,
        attack: Option<usize>,
    ) {
        let spec = EventSpec {
            provider: TS_PROVIDER.into(),
            provider_guid: TS_GUID.into(),
            event_id,
            version: 0,
            level: 4,
            task: event_id,
            opcode: if matches!(event_id, 100 | 200) {
                1
            } else if matches!(event_id, 102 | 201) {
                2
            } else {
                0
            },
            keywords: 0x8000_0000_0000_0000,
            time,
            process_id: 1336,
            thread_id: self.rng.random_range(1000..9000),
            channel: CH_TASKSCHEDULER.into(),
            computer: self.host.fqdn.clone(),
            user_sid: "S-1-5-18".into(),
            data_name: data_name.into(),
            data: data.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        self.out.push(Pending {
            time,
            security: false,
            spec,
            attack,
        });
    }

    fn sec(
        &mut self,
        time: i64,
        event_id: u16,
        task: u16,
        data: Vec<(&str, String)>,
        attack: Option<usize>,
    ) {
        let spec = EventSpec {
            provider: SEC_PROVIDER.into(),
            provider_guid: SEC_GUID.into(),
            event_id,
            version: if event_id == 4688 { 2 } else { 1 },
            level: 0,
            task,
            opcode: 0,
            keywords: 0x8020_0000_0000_0000,
            time,
            process_id: 4,
            thread_id: self.rng.random_range(100..900),
            channel: CH_SECURITY.into(),
            computer: self.host.fqdn.clone(),
            user_sid: String::new(),
            data_name: String::new(),
            data: data.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        self.out.push(Pending {
            time,
            security: true,
            spec,
            attack,
        });
    }

    /// Subject fields of a Security event: the computer account, or a domain user.
    fn subject(&mut self, user: Option<&str>) -> Vec<(&'static str, String)> {
        match user {
            None => vec![
                ("SubjectUserSid", "S-1-5-18".into()),
                ("SubjectUserName", format!("{}$", self.host.name)),
                ("SubjectDomainName", DOMAIN.into()),
                ("SubjectLogonId", "0x3e7".into()),
            ],
            Some(u) => vec![
                (
                    "SubjectUserSid",
                    format!("{DOMAIN_SID}-{}", 1100 + u.len() as u32 * 7),
                ),
                ("SubjectUserName", u.to_string()),
                ("SubjectDomainName", DOMAIN.into()),
                (
                    "SubjectLogonId",
                    format!("0x{:x}", self.rng.random_range(0x10000..0xfffffff)),
                ),
            ],
        }
    }

    /// Security 4698-4702 for a task, and TaskScheduler's matching 106 / 140 / 141.
    fn lifecycle(
        &mut self,
        time: i64,
        event_id: u16,
        path: &str,
        xml: &str,
        by: Option<&str>,
        attack: Option<usize>,
    ) {
        let mut data = self.subject(by);
        data.push(("TaskName", path.to_string()));
        data.push((
            if event_id == 4702 {
                "TaskContentNew"
            } else {
                "TaskContent"
            },
            xml.to_string(),
        ));
        data.extend([
            (
                "ClientProcessStartKey",
                format!("{}", self.rng.random_range(1u64 << 40..1u64 << 50)),
            ),
            (
                "ClientProcessId",
                format!("{}", self.rng.random_range(500..9000)),
            ),
            (
                "ParentProcessId",
                format!("{}", self.rng.random_range(500..9000)),
            ),
            ("RpcCallClientLocality", "0".into()),
            ("FQDN", self.host.fqdn.clone()),
        ]);
        self.sec(time, event_id, 12804, data, attack);
        let user = match by {
            None => "NT AUTHORITY\\System".to_string(),
            Some(u) => format!("{DOMAIN}\\{u}"),
        };
        let later = time + self.rng.random_range(1..900) * 1000;
        match event_id {
            4698 => self.ts(
                later,
                106,
                "TaskRegisteredEvent",
                vec![("TaskName", path.into()), ("UserContext", user)],
                attack,
            ),
            4702 => self.ts(
                later,
                140,
                "TaskRegistrationUpdatedEvent",
                vec![("TaskName", path.into()), ("UserName", user)],
                attack,
            ),
            4699 => self.ts(
                later,
                141,
                "TaskRegistrationDeleted",
                vec![("TaskName", path.into()), ("UserName", user)],
                attack,
            ),
            _ => {}
        }
    }

    /// One run: 129 (process created), 100, 200, 201, 102.
    fn run(&mut self, time: i64, t: &HostTask, on_demand_by: Option<&str>, attack: Option<usize>) {
        let instance = guid(&mut self.rng);
        let pid = self.rng.random_range(1000..20000u32);
        let mut at = time;
        let mut step = |rng: &mut StdRng| {
            at += rng.random_range(1..400) * 1000;
            at
        };
        if let Some(u) = on_demand_by {
            let t0 = step(&mut self.rng);
            self.ts(
                t0,
                110,
                "TaskRunEvent",
                vec![
                    ("TaskName", t.path.clone()),
                    ("InstanceId", instance.clone()),
                    ("UserContext", format!("{DOMAIN}\\{u}")),
                ],
                attack,
            );
        }
        let action_name = match t.def.action {
            Action::Exec { command, .. } => expand(command, &self.host.user),
            Action::Com { name, .. } => name.to_string(),
        };
        if let Action::Exec { command, .. } = t.def.action {
            let t1 = step(&mut self.rng);
            self.ts(
                t1,
                129,
                "CreatedTaskProcess",
                vec![
                    ("TaskName", t.path.clone()),
                    ("Path", expand(command, &self.host.user)),
                    ("ProcessID", pid.to_string()),
                    ("Priority", "16384".into()),
                ],
                attack,
            );
        }
        let t2 = step(&mut self.rng);
        self.ts(
            t2,
            100,
            "TaskStartEvent",
            vec![
                ("TaskName", t.path.clone()),
                ("UserContext", t.principal.clone()),
                ("InstanceId", instance.clone()),
            ],
            attack,
        );
        let t3 = step(&mut self.rng);
        self.ts(
            t3,
            200,
            "ActionStart",
            vec![
                ("TaskName", t.path.clone()),
                ("ActionName", action_name.clone()),
                ("TaskInstanceId", instance.clone()),
                ("EnginePID", self.engine_pid.to_string()),
            ],
            attack,
        );
        let result = if self.rng.random_bool(0.03) {
            "2147942402"
        } else {
            "0"
        };
        let t4 = at + self.rng.random_range(1..120) * US_PER_S;
        self.ts(
            t4,
            201,
            "ActionSuccess",
            vec![
                ("TaskName", t.path.clone()),
                ("TaskInstanceId", instance.clone()),
                ("ActionName", action_name),
                ("ResultCode", result.into()),
                ("EnginePID", self.engine_pid.to_string()),
            ],
            attack,
        );
        let t5 = t4 + self.rng.random_range(1..300) * 1000;
        self.ts(
            t5,
            102,
            "TaskSuccessEvent",
            vec![
                ("TaskName", t.path.clone()),
                ("UserName", t.principal.clone()),
                ("InstanceId", instance),
            ],
            attack,
        );
    }

    /// A `schtasks.exe` process creation (Security 4688).
    fn schtasks(
        &mut self,
        time: i64,
        by: &str,
        command_line: &str,
        parent: &str,
        attack: Option<usize>,
    ) {
        let mut data = self.subject(Some(by));
        data.extend([
            (
                "NewProcessId",
                format!("0x{:x}", self.rng.random_range(0x100..0x4000)),
            ),
            (
                "NewProcessName",
                "C:\\Windows\\System32\\schtasks.exe".into(),
            ),
            ("TokenElevationType", "%%1937".into()),
            (
                "ProcessId",
                format!("0x{:x}", self.rng.random_range(0x100..0x4000)),
            ),
            ("CommandLine", command_line.to_string()),
            ("TargetUserSid", "S-1-0-0".into()),
            ("TargetUserName", "-".into()),
            ("TargetDomainName", "-".into()),
            ("TargetLogonId", "0x0".into()),
            ("ParentProcessName", parent.to_string()),
            ("MandatoryLabel", "S-1-16-12288".into()),
        ]);
        self.sec(time, 4688, 13312, data, attack);
    }

    /// Times in day `d` at which a task with `schedule` runs.
    fn run_times(&mut self, schedule: Schedule, day: u32, start: i64) -> Vec<i64> {
        let midnight = start + i64::from(day) * US_PER_DAY;
        let jitter = |rng: &mut StdRng| rng.random_range(0..20 * US_PER_MIN);
        match schedule {
            Schedule::Hours(n) => (0..24 / n.max(1))
                .map(|k| midnight + i64::from(k * n) * US_PER_H + jitter(&mut self.rng))
                .collect(),
            Schedule::Daily => vec![midnight + 3 * US_PER_H + jitter(&mut self.rng) * 3],
            Schedule::Weekly => {
                if day % 7 == 6 {
                    vec![midnight + US_PER_H + jitter(&mut self.rng)]
                } else {
                    Vec::new()
                }
            }
            Schedule::Logon => {
                if self.host.server {
                    Vec::new()
                } else {
                    let n = self.rng.random_range(1..=2);
                    (0..n)
                        .map(|k| midnight + (8 + 5 * k) * US_PER_H + jitter(&mut self.rng))
                        .collect()
                }
            }
            Schedule::Boot => {
                if day == 0 {
                    vec![midnight + 7 * US_PER_H]
                } else {
                    Vec::new()
                }
            }
            Schedule::Never => Vec::new(),
        }
    }
}

fn hosts(cfg: &Config, rng: &mut StdRng) -> Vec<Host> {
    let servers = (cfg.hosts / 4).max(usize::from(cfg.hosts >= 3));
    (0..cfg.hosts)
        .map(|i| {
            let server = i >= cfg.hosts - servers;
            let name = if server {
                format!("SRV{:02}", i - (cfg.hosts - servers) + 1)
            } else {
                format!("WS{:03}", i + 1)
            };
            let user = if server {
                "admin.jones".to_string()
            } else {
                USERS[i % USERS.len()].to_string()
            };
            let user = if !server && i >= USERS.len() {
                format!("{user}{}", i / USERS.len())
            } else {
                user
            };
            Host {
                fqdn: format!("{}.corp.example", name.to_lowercase()),
                name,
                server,
                user,
                user_rid: 1104 + i as u32 + rng.random_range(0..3),
            }
        })
        .collect()
}

fn has_task(def: &TaskDef, host: &Host, rng: &mut StdRng) -> bool {
    match def.hosts {
        Where::All => true,
        Where::Workstations => !host.server,
        Where::Servers => host.server,
        Where::SomeWorkstations(pct) => !host.server && rng.random_range(0..100) < pct,
    }
}

/// Benign activity of one host over the period.
fn benign(g: &mut Gen<'_>, cfg: &Config, tasks: &[HostTask]) {
    for day in 0..cfg.days {
        let midnight = cfg.start + i64::from(day) * US_PER_DAY;
        for t in tasks {
            if let Some(d) = t.installed {
                if day < d {
                    continue;
                }
                if day == d {
                    let at = midnight + 10 * US_PER_H + g.rng.random_range(0..6 * US_PER_H);
                    let by = matches!(t.def.run_as, RunAs::User).then(|| g.host.user.clone());
                    g.lifecycle(at, 4698, &t.path, &t.xml, by.as_deref(), None);
                }
            }
            for at in g.run_times(t.def.schedule, day, cfg.start) {
                g.run(at, t, None, None);
            }
        }
        // Windows Update day: the orchestrator re-registers its tasks everywhere, one after
        // the other within seconds, as real servicing does (a batch: `context::batches`).
        if day == cfg.days / 2 {
            let mut at = midnight + 4 * US_PER_H + g.rng.random_range(0..US_PER_H);
            for t in tasks
                .iter()
                .filter(|t| t.path.contains("UpdateOrchestrator"))
            {
                g.lifecycle(at, 4702, &t.path, &t.xml, None, None);
                at += g.rng.random_range(200_000..3_000_000);
            }
        }
        // Edge's updater rewrites its tasks each day it runs.
        for t in tasks
            .iter()
            .filter(|t| t.path.starts_with("\\MicrosoftEdgeUpdate"))
        {
            if g.rng.random_bool(0.5) {
                let at = midnight + 12 * US_PER_H + g.rng.random_range(0..US_PER_H);
                g.lifecycle(at, 4702, &t.path, &t.xml, None, None);
            }
        }
        // Admins disable defragmentation on servers for the first day, then enable it again.
        if g.host.server
            && let Some(t) = tasks.iter().find(|t| t.path.ends_with("\\ScheduledDefrag"))
        {
            if day == 0 {
                let at = midnight + 8 * US_PER_H + g.rng.random_range(0..US_PER_H);
                g.lifecycle(at, 4701, &t.path, &t.xml, Some("admin.jones"), None);
            } else if day == 1 {
                let at = midnight + 8 * US_PER_H + g.rng.random_range(0..US_PER_H);
                g.lifecycle(at, 4700, &t.path, &t.xml, Some("admin.jones"), None);
            }
        }
        if g.host.server && day == 0 {
            let at = midnight + 9 * US_PER_H + g.rng.random_range(0..US_PER_H);
            g.schtasks(
                at,
                "admin.jones",
                "schtasks.exe /query /fo LIST /v",
                "C:\\Windows\\System32\\cmd.exe",
                None,
            );
            if let Some(t) = tasks.iter().find(|t| t.path == "\\Backup\\NightlyBackup") {
                let at = midnight + 15 * US_PER_H;
                g.schtasks(
                    at,
                    "admin.jones",
                    "schtasks /run /tn \"\\Backup\\NightlyBackup\"",
                    "C:\\Windows\\System32\\cmd.exe",
                    None,
                );
                g.run(at + US_PER_S, t, Some("admin.jones"), None);
            }
        }
    }
    // Some users uninstall Zoom on the last day.
    if let Some(t) = tasks.iter().find(|t| t.path == "\\ZoomUpdateTask")
        && g.rng.random_bool(0.5)
    {
        let at = cfg.start + i64::from(cfg.days.saturating_sub(1)) * US_PER_DAY + 16 * US_PER_H;
        let user = g.host.user.clone();
        g.lifecycle(at, 4699, &t.path, &t.xml, Some(&user), None);
    }
}

/// A task definition as it lies on disk at the end of the period: its XML, when it was last
/// written (`None`: before the period), and the attack that wrote it.
#[derive(Debug, Clone)]
struct OnDisk {
    xml: String,
    written: Option<i64>,
    attack: Option<usize>,
}

/// The host's Tasks folder at the end of the period: every task it had, as its last
/// registration or update left it, less those deleted (events in time order).
fn definitions_at_end(
    tasks: &[HostTask],
    events: &[Pending],
) -> std::collections::BTreeMap<String, OnDisk> {
    let mut defs: std::collections::BTreeMap<String, OnDisk> = tasks
        .iter()
        .filter(|t| t.installed.is_none())
        .map(|t| {
            (
                t.path.clone(),
                OnDisk {
                    xml: t.xml.clone(),
                    written: None,
                    attack: None,
                },
            )
        })
        .collect();
    for p in events.iter().filter(|p| p.security) {
        let get = |k: &str| {
            p.spec
                .data
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let Some(path) = get("TaskName") else {
            continue;
        };
        match p.spec.event_id {
            4698 | 4702 => {
                if let Some(xml) = get("TaskContentNew").or_else(|| get("TaskContent")) {
                    defs.insert(
                        path,
                        OnDisk {
                            xml,
                            written: Some(p.time),
                            attack: p.attack,
                        },
                    );
                }
            }
            4699 => {
                defs.remove(&path);
            }
            _ => {}
        }
    }
    defs
}

/// A task's file in a host's collection, as KAPE lays it out.
pub fn tasks_file(host: &str, task: &str) -> String {
    let below: Vec<&str> = task.split('\\').filter(|s| !s.is_empty()).collect();
    format!("{host}/C/Windows/System32/Tasks/{}", below.join("/"))
}

/// A task file's bytes as Windows writes them: UTF-16LE with a byte-order mark.
fn utf16_file(xml: &str) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xfe];
    for u in xml.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    bytes
}

/// Write a host's Tasks folder as Windows keeps it: one file per task, no extension, UTF-16LE
/// with a byte-order mark, CRLF; each file's time the last time it was written (tasks from
/// before the period: a day before it, minus a few hours per task, the same every run).
fn write_tasks_folder(
    out: &Path,
    cfg: &Config,
    host: &Host,
    defs: &std::collections::BTreeMap<String, OnDisk>,
) -> io::Result<()> {
    // KAPE's copy log of the collection: the files' source times, which git and copies lose.
    let copied = cfg.start + i64::from(cfg.days) * US_PER_DAY;
    let kape_time = |t: i64| {
        jiff::Timestamp::from_microsecond(t)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S%.f").to_string())
            .unwrap_or_default()
    };
    let mut log = String::from(
        "CopiedTimestamp,SourceFile,DestinationFile,FileSize,SourceFileSha1,DeferredCopy,CreatedOnUtc,ModifiedOnUtc,LastAccessedOnUtc\r\n",
    );
    let csv = |s: &str| {
        if s.contains([',', '"']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for (k, (task, def)) in defs.iter().enumerate() {
        let path = out.join(tasks_file(&host.name, task));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = utf16_file(&def.xml);
        std::fs::write(&path, &bytes)?;
        let written = written_at(cfg, k, def);
        let when = std::time::UNIX_EPOCH
            + std::time::Duration::from_micros(u64::try_from(written).unwrap_or(0));
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(when)?;
        let source = format!(r"C:\Windows\System32\Tasks{task}");
        log.push_str(&format!(
            "{},{},{},{},,False,{},{},{}\r\n",
            kape_time(copied),
            csv(&source),
            csv(&format!(
                r"D:\kape\{}\{}",
                host.name,
                &source.replace(':', "")
            )),
            bytes.len(),
            kape_time(written),
            kape_time(written),
            kape_time(copied),
        ));
    }
    let stamp = jiff::Timestamp::from_microsecond(copied)
        .map(|t| t.strftime("%Y-%m-%dT%H%M%S").to_string())
        .unwrap_or_default();
    std::fs::write(
        out.join(&host.name).join(format!("{stamp}_CopyLog.csv")),
        log,
    )
}

/// The files the registry-level attacks keep in the Tasks folder: a task hidden in the
/// registry keeps its file; a GhostTask has none, an edited `Actions` the original's. Each
/// attack is named in the hive it lies in.
fn keep_planted_files(
    on_disk: &mut std::collections::BTreeMap<String, OnDisk>,
    plants: &[&attacks::RegistryPlant],
    attacks: &mut [Attack],
    host: &str,
) {
    for p in plants {
        attacks[p.attack].registry = Some(registry::hive_file(host));
        if matches!(
            p.tamper,
            registry::Tamper::NoSd | registry::Tamper::IndexZero
        ) {
            on_disk.insert(
                p.name.clone(),
                OnDisk {
                    xml: p.xml.clone(),
                    written: Some(p.written),
                    attack: Some(p.attack),
                },
            );
        }
    }
}

/// When a definition on disk was last written: its registration in the period, else (tasks
/// from before it) a day before it, minus a few hours per task, the same every run.
fn written_at(cfg: &Config, k: usize, def: &OnDisk) -> i64 {
    def.written
        .unwrap_or(cfg.start - US_PER_DAY - (k as i64 % 48) * US_PER_H)
}

/// Write a host's SOFTWARE hive: a TaskCache entry for every task of its Tasks folder (the
/// same times), the registry-level attacks planted on it, its channels' settings.
fn write_software_hive(
    out: &Path,
    cfg: &Config,
    host: &Host,
    records: Records,
    defs: &std::collections::BTreeMap<String, OnDisk>,
    plants: &[&attacks::RegistryPlant],
) -> io::Result<()> {
    let entries = hive_entries(cfg, defs, plants);
    let copied = cfg.start + i64::from(cfg.days) * US_PER_DAY;
    let bytes = registry::software_hive(&entries, records.operational, copied);
    let path = out.join(registry::hive_file(&host.name));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)
}

/// The TaskCache entries of a host: one per definition on disk (at its time), with the
/// registry-level attacks planted on it.
fn hive_entries<'a>(
    cfg: &Config,
    defs: &'a std::collections::BTreeMap<String, OnDisk>,
    plants: &[&'a attacks::RegistryPlant],
) -> Vec<registry::Entry<'a>> {
    let tamper_of = |name: &str| {
        plants
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.tamper.clone())
            .unwrap_or_default()
    };
    let mut entries: Vec<registry::Entry<'_>> = defs
        .iter()
        .enumerate()
        .map(|(k, (name, def))| registry::Entry {
            name,
            xml: &def.xml,
            written: written_at(cfg, k, def),
            tamper: tamper_of(name),
        })
        .collect();
    for p in plants
        .iter()
        .filter(|p| p.tamper == registry::Tamper::RegistryOnly)
    {
        entries.push(registry::Entry {
            name: &p.name,
            xml: &p.xml,
            written: p.written,
            tamper: p.tamper.clone(),
        });
    }
    entries
}

/// The System log of a host (background noise only).
pub fn system_file(host: &str) -> String {
    format!("{host}/System.evtx")
}

/// The file a host's channel is written to, as KAPE names it.
pub fn channel_file(host: &str, security: bool) -> String {
    if security {
        format!("{host}/Security.evtx")
    } else {
        format!("{host}/Microsoft-Windows-TaskScheduler%4Operational.evtx")
    }
}

/// The logs written per host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Log {
    Security,
    TaskScheduler,
    System,
}

/// Simulate the fleet into `out` (created if needed). Returns the ground truth, which is also
/// written to `out/ground_truth.json`.
pub fn simulate(cfg: &Config, out: &Path) -> io::Result<GroundTruth> {
    if cfg.hosts == 0 || cfg.days == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "need at least one host and one day",
        ));
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let hosts = hosts(cfg, &mut rng);
    let defs = catalog::catalog();
    let mut tasks: Vec<Vec<HostTask>> = Vec::new();
    let mut gens: Vec<Gen<'_>> = Vec::new();
    let targets = Targets::of(&hosts, cfg);
    for (i, h) in hosts.iter().enumerate() {
        let (t, mut hrng) = host_tasks(cfg, &defs, i, h);
        let mut g = Gen {
            host: h,
            engine_pid: hrng.random_range(800..3000),
            rng: hrng,
            out: Vec::new(),
        };
        // Planted hosts' events are made now, before planting; every other host's when it
        // is written, so that memory holds one host at a time (a host's events depend on
        // its own random stream only, so the files are the same either way).
        if targets.as_ref().is_some_and(|tg| tg.hit(i)) {
            benign(&mut g, cfg, &t);
        }
        tasks.push(t);
        gens.push(g);
    }
    let mut attacks = plant(&mut gens, &tasks, cfg, targets.as_ref());
    let registry_plants = if cfg.tasks_folder {
        attacks::plant_registry(&tasks, &hosts, cfg, targets.as_ref(), &mut attacks)
    } else {
        Vec::new()
    };

    std::fs::create_dir_all(out)?;
    let mut total = 0u64;
    let mut jsonl = if cfg.jsonl {
        Some(zip::ZipWriter::new(std::fs::File::create(
            out.join("jsonl.zip"),
        )?))
    } else {
        None
    };
    for (hi, g) in gens.iter_mut().enumerate() {
        if !targets.as_ref().is_some_and(|tg| tg.hit(hi)) {
            benign(g, cfg, &tasks[hi]);
        }
        let mut events = std::mem::take(&mut g.out);
        // Stable: equal times keep generation order.
        events.sort_by_key(|p| p.time);
        let records = cfg.logging.of(hi, g.host);
        let mut on_disk = if cfg.tasks_folder {
            definitions_at_end(&tasks[hi], &events)
        } else {
            std::collections::BTreeMap::new()
        };
        let plants: Vec<&attacks::RegistryPlant> =
            registry_plants.iter().filter(|p| p.host == hi).collect();
        keep_planted_files(&mut on_disk, &plants, &mut attacks, &g.host.name);
        mark_definitions(&g.host.name, &tasks[hi], &on_disk, &mut attacks);
        // What the host did not record is not written (the events stay the truth of what
        // happened: the Tasks folder is made of them).
        events.retain(|p| {
            if p.security {
                records.audit
            } else {
                records.operational
            }
        });
        if cfg.summaries {
            // The logs `summarize` would read beside the Tasks folder: Security always, the
            // Operational log where it is on, System where there is noise.
            let logs = 1
                + usize::from(records.operational)
                + usize::from(cfg.background != Background::None);
            total += write_host_summary(
                out,
                cfg,
                g.host,
                (&events, logs, records.operational),
                &on_disk,
                &plants,
                &mut attacks,
            )?;
            continue;
        }
        std::fs::create_dir_all(out.join(&g.host.name))?;
        if cfg.tasks_folder {
            write_tasks_folder(out, cfg, g.host, &on_disk)?;
            write_software_hive(out, cfg, g.host, records, &on_disk, &plants)?;
        }
        // Security (tasks and noise), TaskScheduler (tasks), System (noise, when there is any).
        for log in [Log::Security, Log::TaskScheduler, Log::System] {
            if log == Log::System && cfg.background == Background::None {
                continue;
            }
            // A disabled channel has no file at all.
            if log == Log::TaskScheduler && !records.operational {
                continue;
            }
            total += write_log(
                out,
                cfg,
                hi,
                g.host,
                log,
                &events,
                &mut attacks,
                jsonl.as_mut(),
            )?;
        }
    }
    if let Some(z) = jsonl {
        z.finish().map_err(io::Error::other)?;
    }
    write_truth(out, cfg, total, attacks)
}

/// The ground truth of a simulated fleet, written to `out/ground_truth.json`.
fn write_truth(
    out: &Path,
    cfg: &Config,
    records: u64,
    mut attacks: Vec<Attack>,
) -> io::Result<GroundTruth> {
    note_where_seen(&mut attacks);
    let truth = GroundTruth {
        seed: cfg.seed,
        hosts: cfg.hosts,
        days: cfg.days,
        records,
        attacks,
    };
    let json = serde_json::to_string_pretty(&truth).map_err(io::Error::other)?;
    std::fs::write(out.join("ground_truth.json"), json + "\n")?;
    Ok(truth)
}

/// A host's tasks (from the catalog, as its random stream draws them; with a Tasks folder the
/// stock tasks that only lie on disk too, from a stream of their own so that the events of
/// the period stay what they were without them) and the stream, for its events.
fn host_tasks(cfg: &Config, defs: &[TaskDef], i: usize, h: &Host) -> (Vec<HostTask>, StdRng) {
    let mut hrng =
        StdRng::seed_from_u64(cfg.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1)));
    let mut t: Vec<HostTask> = Vec::new();
    for d in defs {
        if has_task(d, h, &mut hrng) {
            t.push(install(d, h, &mut hrng, cfg.days));
        }
    }
    if cfg.tasks_folder {
        let mut stock_rng = StdRng::seed_from_u64(cfg.seed ^ 0x5eed ^ i as u64);
        t.extend(
            catalog::stock()
                .iter()
                .map(|d| install(d, h, &mut stock_rng, cfg.days)),
        );
    }
    (t, hrng)
}

/// Name the Tasks folder file of every attack whose definition is still on the host's disk
/// at the end (a restored definition, Sunburst's, leaves nothing of the attack there).
fn mark_definitions(
    host: &str,
    tasks: &[HostTask],
    on_disk: &std::collections::BTreeMap<String, OnDisk>,
    attacks: &mut [Attack],
) {
    for (path, def) in on_disk {
        let benign = tasks.iter().any(|t| t.path == *path && t.xml == def.xml);
        if let Some(a) = def.attack
            && attacks[a].task_name == *path
            && !benign
        {
            attacks[a].definition = Some(tasks_file(host, path));
        }
    }
}

/// Where each attack can be seen: the logs its records were written to, and the Tasks
/// folder where its definition stayed on disk.
fn note_where_seen(attacks: &mut [Attack]) {
    for a in attacks {
        let mut seen: Vec<String> = Vec::new();
        for r in &a.records {
            let log = if r.file.ends_with("Security.evtx") || r.file.contains("Security") {
                "Security"
            } else {
                "TaskScheduler/Operational"
            };
            if !seen.iter().any(|s| s == log) {
                seen.push(log.to_string());
            }
        }
        if a.definition.is_some() {
            seen.push("Tasks folder".into());
        }
        if a.registry.is_some() {
            seen.push("Registry".into());
        }
        a.seen_in = seen;
    }
}

/// Write one log of a host: its task events of that log, merged by time with the
/// background noise a day at a time (a task event first at equal times); the planted
/// records are named in `attacks`, and with `jsonl` the log goes into the zip of JSON
/// Lines too. Returns the records written.
#[allow(clippy::too_many_arguments)]
fn write_log(
    out: &Path,
    cfg: &Config,
    hi: usize,
    host: &Host,
    log: Log,
    events: &[Pending],
    attacks: &mut [Attack],
    jsonl: Option<&mut zip::ZipWriter<std::fs::File>>,
) -> io::Result<u64> {
    let mut total = 0u64;
    let rel = match log {
        Log::Security => channel_file(&host.name, true),
        Log::TaskScheduler => channel_file(&host.name, false),
        Log::System => system_file(&host.name),
    };
    let path = out.join(&rel);
    let mut w = EvtxWriter::new(io::BufWriter::new(std::fs::File::create(&path)?))?;
    let mut noise = (log != Log::TaskScheduler).then(|| {
        background::Noise::new(
            cfg.background,
            cfg.seed,
            hi,
            &host.name,
            &host.fqdn,
            host.server,
            log == Log::Security,
            cfg.days,
            cfg.start,
        )
    });
    // Noise a day at a time, merged by time with the task events (a task event
    // first at equal times).
    let mut day: std::collections::VecDeque<EventSpec> = Default::default();
    let mut refill = |day: &mut std::collections::VecDeque<EventSpec>| {
        if day.is_empty()
            && let Some(n) = noise.as_mut()
        {
            while let Some(d) = n.next_day() {
                if !d.is_empty() {
                    day.extend(d);
                    break;
                }
            }
        }
    };
    let tasks = events.iter().filter(|p| match log {
        Log::Security => p.security,
        Log::TaskScheduler => !p.security,
        Log::System => false,
    });
    for p in tasks {
        loop {
            refill(&mut day);
            match day.front() {
                Some(n) if n.time < p.time => {
                    let n = day.pop_front().expect("a front");
                    w.write(&n)?;
                    total += 1;
                }
                _ => break,
            }
        }
        let id = w.write(&p.spec)?;
        total += 1;
        if let Some(a) = p.attack {
            attacks[a].records.push(PlantedRecord {
                file: rel.clone(),
                record_id: id,
                event_id: p.spec.event_id,
            });
        }
    }
    loop {
        refill(&mut day);
        let Some(n) = day.pop_front() else { break };
        w.write(&n)?;
        total += 1;
    }
    w.finish()?;
    if let Some(z) = jsonl {
        // A fixed member time keeps the archive byte-identical from run to run.
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        z.start_file(rel.replace(".evtx", ".jsonl"), opts)
            .map_err(io::Error::other)?;
        write_jsonl(&path, z)?;
    }
    Ok(total)
}

/// Write a host's summary from its events, as `anomalog summarize HOST-FOLDER` would read
/// them from its logs (TaskScheduler's file first, as a folder walk sorts them; record ids
/// as the writer numbers them). Returns the records it stands for.
fn write_host_summary(
    out: &Path,
    cfg: &Config,
    host: &Host,
    (events, logs, operational): (&[Pending], usize, bool),
    on_disk: &std::collections::BTreeMap<String, OnDisk>,
    plants: &[&attacks::RegistryPlant],
    attacks: &mut [Attack],
) -> io::Result<u64> {
    let profile = crate::profile::by_name("scheduled-tasks").expect("a built-in profile");
    let mut raw = Vec::new();
    for security in [false, true] {
        let rel = channel_file(&host.name, security);
        let source: std::sync::Arc<str> =
            std::sync::Arc::from(out.join(&rel).display().to_string());
        for (i, p) in events.iter().filter(|p| p.security == security).enumerate() {
            let id = i as u64 + 1;
            if let Some(a) = p.attack {
                attacks[a].records.push(PlantedRecord {
                    file: rel.clone(),
                    record_id: id,
                    event_id: p.spec.event_id,
                });
            }
            raw.push(crate::event::RawEvent {
                source: source.clone(),
                channel: p.spec.channel.clone(),
                event_id: u32::from(p.spec.event_id),
                provider: p.spec.provider.clone(),
                computer: p.spec.computer.clone(),
                time: Some(p.spec.time),
                record_id: Some(id),
                data: p.spec.data.clone(),
            });
        }
    }
    let records = raw.len() as u64;
    let mut evidence = crate::ingest::evidence::Evidence::default();
    for r in &raw {
        evidence.count(r.canonical_channel(), r.event_id, r.time);
    }
    // Its Tasks folder, as `summarize` reads it beside the logs: the host their records name,
    // or where they hold none, the collection folder's name.
    let computer = if records > 0 {
        host.fqdn.clone()
    } else {
        host.name.to_lowercase()
    };
    let (defs, confirmed) =
        summary_definitions(out, cfg, host, &computer, operational, on_disk, plants)?;
    raw.extend(defs);
    evidence.operational_enabled = Some(operational);
    // The tasks the files confirm are read too (they stand as their files' rows).
    let read = raw.len() as u64 + confirmed;
    let mut dataset = crate::frame::Dataset::build(profile.as_ref(), raw);
    dataset.evidence.insert(computer.to_lowercase(), evidence);
    crate::context::add(&mut dataset);
    let loaded = crate::pipeline::Loaded {
        dataset,
        reports: Vec::new(),
        records: read,
        skipped: 0,
        files: logs + on_disk.len() + 1,
        passed_over: 0,
        notes: Vec::new(),
        conflicted_hosts: 0,
    };
    std::fs::create_dir_all(out)?;
    let path = out.join(format!("{}.summary.jsonl", host.name));
    let mut w = io::BufWriter::new(std::fs::File::create(path)?);
    crate::output::summary::write(&loaded, &mut w)?;
    io::Write::flush(&mut w)?;
    Ok(records)
}

/// A host's definitions as `summarize` reads them: its Tasks folder's files, and its SOFTWARE
/// hive's TaskCache (the same reader, from memory, and the same comparison with the files).
/// Returns the records and the registry's tasks the files confirm.
fn summary_definitions(
    out: &Path,
    cfg: &Config,
    host: &Host,
    computer: &str,
    operational: bool,
    on_disk: &std::collections::BTreeMap<String, OnDisk>,
    plants: &[&attacks::RegistryPlant],
) -> io::Result<(Vec<crate::event::RawEvent>, u64)> {
    let mut files = Vec::new();
    // Its SOFTWARE hive, read as `summarize` reads it (the same reader, from memory, and
    // the same comparison with the Tasks folder beside it).
    let hive = registry::software_hive(
        &hive_entries(cfg, on_disk, plants),
        operational,
        cfg.start + i64::from(cfg.days) * US_PER_DAY,
    );
    let cache = crate::ingest::hive::Hive::open(&hive, &[])
        .and_then(|h| crate::ingest::taskcache::read(&h))
        .map_err(io::Error::other)?;
    for (k, (task, def)) in on_disk.iter().enumerate() {
        let file = tasks_file(&host.name, task);
        let bytes = utf16_file(&def.xml);
        let digest = crate::ingest::definitions::sha256_bytes(&bytes[2..]);
        files.push(crate::event::RawEvent {
            source: std::sync::Arc::from(out.join(&file).display().to_string()),
            channel: crate::event::CH_TASK_DEFINITION.into(),
            event_id: crate::event::DEF_XML,
            provider: String::new(),
            computer: computer.to_string(),
            time: Some(written_at(cfg, k, def)),
            // The identity the Tasks folder's reader gives the file: its name and bytes.
            record_id: Some(crate::ingest::definitions::identity(task, &bytes)),
            data: vec![
                ("TaskName".into(), task.clone()),
                ("File".into(), file),
                ("HostFrom".into(), "logs under its collection".into()),
                ("TaskContent".into(), def.xml.clone()),
                ("Sha256".into(), crate::ingest::definitions::to_hex(&digest)),
            ]
            .into_iter()
            .chain(crate::ingest::registry::file_facts(
                task,
                &digest,
                crate::profile::task_xml::parse(&def.xml).as_ref(),
                &cache,
            ))
            .collect(),
        });
    }
    let hive_path = out
        .join(registry::hive_file(&host.name))
        .display()
        .to_string();
    let of = crate::ingest::definitions::HostOf {
        host: computer.to_string(),
        aliases: Vec::new(),
        from: "logs under its collection".into(),
    };
    let compare_of = |t: &crate::ingest::taskcache::RegTask| {
        on_disk
            .get(&t.name)
            .map(|d| crate::ingest::registry::compare_file(t, &utf16_file(&d.xml)))
    };
    let (records_of_registry, confirmed) = crate::ingest::registry::registry_records(
        &hive_path,
        &cache,
        &crate::ingest::definitions::place(&hive_path),
        &of,
        Some(&compare_of),
    );
    files.extend(records_of_registry);
    Ok((files, confirmed))
}

/// The same events as evtx_dump `-o jsonl` would print them, read back from the written file.
fn write_jsonl(evtx: &Path, w: &mut impl io::Write) -> io::Result<()> {
    let settings = evtx::ParserSettings::new().num_threads(1);
    let mut parser = evtx::EvtxParser::from_path(evtx)
        .map_err(io::Error::other)?
        .with_configuration(settings);
    for r in parser.records_json_value() {
        let r = r.map_err(io::Error::other)?;
        serde_json::to_writer(&mut *w, &r.data).map_err(io::Error::other)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
