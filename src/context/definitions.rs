//! Definitions on disk against what the logs recorded: flags where they disagree.
//!
//! - [`Flag::ChangedUnlogged`]: the definition on a host differs from the last registration
//!   (Security 4698 / 4702) its logs recorded for the task, or the logs last saw the task
//!   deleted (4699): it was changed outside the Task Scheduler's logging, or while that was
//!   off. Compared on what the task runs, as whom, when and how.
//! - [`Flag::Unlogged`]: no registration of the task is logged on a host whose Security log
//!   recorded 4698 while the definition was written (its file time within the log's span):
//!   made around the Task Scheduler (written to the registry, a file copied in). A definition
//!   of unknown time is not judged.
//! - [`Flag::RanOtherAction`]: a run the TaskScheduler/Operational log recorded (129, 200,
//!   201) launched a program that none of the task's definitions known on that host runs
//!   (its file on disk, the registrations the logs recorded): the task was pointed elsewhere
//!   and back while nothing logged the change (Sunburst on a host without task auditing).
//!   Tasks whose action is not a program (COM handlers) or that run several are not judged.
//!
//! And the registry's TaskCache (a SOFTWARE hive) against the Tasks folder of the same host:
//! [`Flag::Hidden`] (the Tree key has no `SD`), [`Flag::IndexZero`], [`Flag::RegistryOnly`]
//! (no file of the task where the host's Tasks folder was read), [`Flag::FileOnly`] (a file
//! the TaskCache does not register, where the host's hive was read), [`Flag::XmlChanged`]
//! (the file's SHA-256 is not the TaskCache's `Hash`), [`Flag::ActionsDiffer`] (the
//! registry's command or arguments are not the file's: the registry's is what runs).

use std::collections::HashMap;

use crate::event::{CH_SECURITY, CH_TASKSCHEDULER, DEF_REG};
use crate::frame::{Dataset, RowKind};
use crate::timeline::Flag;

/// The fields a definition and a registration are compared on.
const COMPARED: &[&str] = &[
    "command",
    "arguments",
    "principal",
    "logon_type",
    "run_level",
    "hidden",
    "triggers",
    "action",
    "working_dir",
    "enabled",
    "settings",
];

/// The flags of each definition (by unique row; empty for other rows).
pub fn flags(ds: &Dataset) -> Vec<Vec<Flag>> {
    let mut out = vec![Vec::new(); ds.uniques.len()];
    let Some(name) = ds.fields.iter().position(|f| *f == "task_name") else {
        return out;
    };
    let compared: Vec<usize> = COMPARED
        .iter()
        .filter_map(|f| ds.fields[..ds.profile_fields].iter().position(|x| x == f))
        .collect();
    // Per (host, task): the last registration, update or deletion the logs recorded, and
    // whether any registration of the task is logged at all.
    let mut last: HashMap<(&str, String), u32> = HashMap::new();
    for life in &ds.lifecycles.tasks {
        let mut found = None;
        for &o in &life.occurrences {
            let u = ds.occurrences[o as usize].unique;
            let e = &ds.uniques[u as usize];
            if e.channel == CH_SECURITY
                && (4698..=4702).contains(&e.event_id)
                && e.event_id != 4700
                && e.event_id != 4701
            {
                found = Some(u);
            }
        }
        let key = life.occurrences.first().map(|&o| {
            ds.uniques[ds.occurrences[o as usize].unique as usize].values[name].to_lowercase()
        });
        if let (Some(u), Some(k)) = (found, key) {
            last.insert((life.host.as_str(), k), u);
        }
    }
    let logged: std::collections::HashSet<(&str, String)> = ds
        .lifecycles
        .tasks
        .iter()
        .filter_map(|life| {
            let o = *life.occurrences.first()?;
            let u = ds.occurrences[o as usize].unique as usize;
            Some((
                life.host.as_str(),
                ds.uniques[u].values[name].to_lowercase(),
            ))
        })
        .collect();
    for (u, e) in ds.uniques.iter().enumerate() {
        if e.kind() != RowKind::Definition {
            continue;
        }
        let key = e.values[name].to_lowercase();
        // The registry's form of a task is compared with its file, not with the XML the
        // logs carried (it holds less, in other words).
        let registry = e.event_id == DEF_REG;
        for &o in &e.occurrences {
            let occ = ds.occurrences[o as usize];
            let host = ds.hosts[occ.host as usize].as_str();
            let k = (host, key.clone());
            if let Some(&r) = last.get(&k) {
                if registry {
                    continue;
                }
                let reg = &ds.uniques[r as usize];
                let differs =
                    reg.event_id == 4699 || compared.iter().any(|&i| reg.values[i] != e.values[i]);
                if differs && !out[u].contains(&Flag::ChangedUnlogged) {
                    out[u].push(Flag::ChangedUnlogged);
                }
            } else if !logged.contains(&k)
                && let Some(t) = occ.time()
                && ds
                    .evidence
                    .get(host)
                    .is_some_and(|ev| ev.task_audit > 0 && ev.security_span.covers(t))
                && !out[u].contains(&Flag::Unlogged)
            {
                out[u].push(Flag::Unlogged);
            }
        }
    }
    ran_other_action(ds, name, &mut out);
    registry_checks(ds, &mut out);
    out
}

fn push(flags: &mut Vec<Flag>, f: Flag) {
    if !flags.contains(&f) {
        flags.push(f);
    }
}

/// The TaskCache against the Tasks folder ([`Flag::Hidden`] ... [`Flag::ActionsDiffer`]):
/// compared record by record where the hive and the files were read
/// ([`crate::ingest::registry`]), and named in each definition's `cmd_flags`.
fn registry_checks(ds: &Dataset, out: &mut [Vec<Flag>]) {
    let Some(cmd_flags) = ds.fields[..ds.profile_fields]
        .iter()
        .position(|x| *x == "cmd_flags")
    else {
        return;
    };
    for (u, e) in ds.uniques.iter().enumerate() {
        if e.kind() != RowKind::Definition {
            continue;
        }
        for word in e.values[cmd_flags].split(',') {
            let flag = match word {
                "no-sd" => Flag::Hidden,
                "index-0" => Flag::IndexZero,
                "unfiled" => Flag::RegistryOnly,
                "unregistered" => Flag::FileOnly,
                "hash-differs" => Flag::XmlChanged,
                "actions-differ" => Flag::ActionsDiffer,
                _ => continue,
            };
            push(&mut out[u], flag);
        }
    }
}

/// Operational events that name the program a run launched.
const RUN_EVENTS: [u32; 3] = [129, 200, 201];

/// What a definition runs, as a run event would name it: `None` when that cannot be told
/// (no program, a COM handler, several actions).
fn program_of(command: &str, cmd_flags: &str) -> Option<String> {
    if command.is_empty() || command.starts_with("com:") || cmd_flags.contains("multi-action") {
        return None;
    }
    Some(command.to_string())
}

/// Whether a run that launched `ran` is one of the definition's `defined`: the same path,
/// or the same file name where the definition names no folder (or one in a variable).
fn same_program(defined: &str, ran: &str) -> bool {
    fn base(p: &str) -> &str {
        let b = p.rsplit(['\\', '/']).next().unwrap_or(p);
        b.strip_suffix(".exe").unwrap_or(b)
    }
    if defined.eq_ignore_ascii_case(ran) {
        return true;
    }
    let bare = !defined.contains(['\\', '/']) || defined.contains('%');
    bare && base(defined).eq_ignore_ascii_case(base(ran))
}

/// [`Flag::RanOtherAction`] on the run events of `out`.
fn ran_other_action(ds: &Dataset, name: usize, out: &mut [Vec<Flag>]) {
    let field = |f: &str| ds.fields[..ds.profile_fields].iter().position(|x| *x == f);
    let (Some(command), Some(cmd_flags)) = (field("command"), field("cmd_flags")) else {
        return;
    };
    // Per (host, task): what its known definitions run (`None`: one that cannot be told).
    let mut defined: HashMap<(u32, String), Vec<Option<String>>> = HashMap::new();
    for e in &ds.uniques {
        let registration = e.channel == CH_SECURITY && matches!(e.event_id, 4698 | 4702);
        if e.kind() != RowKind::Definition && !registration {
            continue;
        }
        let program = program_of(&e.values[command], &e.values[cmd_flags]);
        let key = e.values[name].to_lowercase();
        for &o in &e.occurrences {
            let host = ds.occurrences[o as usize].host;
            defined
                .entry((host, key.clone()))
                .or_default()
                .push(program.clone());
        }
    }
    for (u, e) in ds.uniques.iter().enumerate() {
        if e.channel != CH_TASKSCHEDULER
            || !RUN_EVENTS.contains(&e.event_id)
            || e.values[command].is_empty()
        {
            continue;
        }
        let key = e.values[name].to_lowercase();
        let ran = &e.values[command];
        let odd = e.occurrences.iter().any(|&o| {
            let host = ds.occurrences[o as usize].host;
            defined.get(&(host, key.clone())).is_some_and(|programs| {
                programs
                    .iter()
                    .all(|p| p.as_deref().is_some_and(|p| !same_program(p, ran)))
            })
        });
        if odd && !out[u].contains(&Flag::RanOtherAction) {
            out[u].push(Flag::RanOtherAction);
        }
    }
}
