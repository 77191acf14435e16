//! The registry's TaskCache against the Tasks folder of the same system, record by record.
//!
//! A SOFTWARE hive read beside its Tasks folder (`System32\config\SOFTWARE` and
//! `System32\Tasks`, as KAPE and Velociraptor collect them) is compared task by task with
//! the files: a task the registry holds as its file says (the same SHA-256 as the
//! registered `Hash`, the same command and arguments, a Tree key with its `SD` and a
//! non-zero `Index`) is confirmed and adds no row of its own (its file's row stands for
//! it); every other becomes a record of what the Task Scheduler actually runs
//! ([`crate::event::DEF_REG`]), with what disagrees in words (`FileState`,
//! `ActionsVsFile`, `TreeSD`, `TreeIndex`). The files, in turn, say whether the registry
//! beside them registers them (`Registry`, `RegistryHash`, `RegistryActions`). The profile
//! turns those words into `cmd_flags`, and [`crate::context::definitions`] into flags.
//!
//! A hive read without its Tasks folder (a hive alone, a zip member) gives a record per
//! task and no comparison.

use super::definitions::{HostOf, Placed, base_data, definition_event, sha256_bytes};
use super::taskcache::{Action, RegTask, TaskCache};
use crate::event::{DEF_REG, RawEvent};

/// A registry's TaskCache as read, with what was noticed opening it (a bad checksum, logs
/// applied or not); or why it could not be (not a SOFTWARE hive, damaged).
pub type RegistryRead = Result<(TaskCache, Vec<String>), super::hive::HiveError>;

/// Read a registry's TaskCache ([`RegistryRead`]).
pub fn read_registry<R: super::hive::RegistryView + super::hive::Notes>(reg: &R) -> RegistryRead {
    let notes = reg.notes().to_vec();
    super::taskcache::read(reg).map(|c| (c, notes))
}

/// Open a hive file on disk with its transaction logs beside it and read its TaskCache.
pub fn read_hive_file(path: &std::path::Path) -> RegistryRead {
    let src =
        super::hive::FileAt::open(path).map_err(|e| super::hive::HiveError::Io(e.to_string()))?;
    let logs = super::transaction_logs(path);
    let logs: Vec<&dyn super::hive::ReadAt> =
        logs.iter().map(|l| l as &dyn super::hive::ReadAt).collect();
    read_registry(&super::hive::Hive::open(&src, &logs)?)
}

/// How a task's file compares with its registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compared {
    /// The file's SHA-256 (after its byte-order mark) against the registered `Hash`;
    /// `None` where the registry keeps no SHA-256 (before Windows 10).
    pub hash_matches: Option<bool>,
    /// The registry's first exec action (command, arguments) against the file's.
    pub actions_agree: bool,
}

/// The first exec action of a registry entry, or a COM handler's class, as text.
fn registry_action(t: &RegTask) -> (String, String) {
    match t.actions.as_ref().and_then(|a| a.actions.first()) {
        Some(Action::Exec {
            command, arguments, ..
        }) => (command.trim().to_string(), arguments.trim().to_string()),
        Some(Action::ComHandler { class_id, .. }) => (class_id.to_uppercase(), String::new()),
        Some(other) => (other.kind().to_string(), String::new()),
        None => (String::new(), String::new()),
    }
}

/// The file's first exec action, or COM handler class, as text.
fn file_action(x: &crate::profile::task_xml::TaskXml) -> (String, String) {
    if let Some(a) = x.exec.first() {
        (a.command.trim().to_string(), a.arguments.trim().to_string())
    } else if let Some(c) = x.com_class_ids.first() {
        (c.trim().to_uppercase(), String::new())
    } else {
        (String::new(), String::new())
    }
}

/// Compare a task file with its registry entry: the file's SHA-256 (after its byte-order
/// mark) and its XML as parsed.
pub fn compare(
    t: &RegTask,
    digest: &[u8; 32],
    parsed: Option<&crate::profile::task_xml::TaskXml>,
) -> Compared {
    let hash_matches = (t.hash.len() == 32).then(|| digest[..] == t.hash[..]);
    let actions_agree = parsed.is_some_and(|x| {
        let (fc, fa) = file_action(x);
        let (rc, ra) = registry_action(t);
        fc.eq_ignore_ascii_case(&rc) && fa == ra
    });
    Compared {
        hash_matches,
        actions_agree,
    }
}

/// [`compare`] of a task file's bytes.
pub fn compare_file(t: &RegTask, file: &[u8]) -> Compared {
    let body = file.strip_prefix(&[0xff, 0xfe]).unwrap_or(file);
    let text = super::definitions::decode(file);
    let parsed = crate::profile::task_xml::parse(text.trim_start_matches('\u{feff}'));
    compare(t, &sha256_bytes(body), parsed.as_ref())
}

/// Whether a registry entry's Tree key hides it.
fn hidden_in_tree(t: &RegTask) -> bool {
    t.tree.is_some_and(|e| !e.has_sd || e.index == Some(0))
}

/// How a registry entry's task file compares with it (none: no such file).
pub type CompareOf<'a> = dyn Fn(&RegTask) -> Option<Compared> + 'a;

/// The records of the tasks a SOFTWARE hive's TaskCache holds that its Tasks folder does
/// not confirm. `compare_of` compares a task's file with its entry, where the hive was read
/// beside its Tasks folder (`None` as a whole: no folder to compare with). Returns the
/// records and how many tasks the files confirmed.
pub fn registry_records(
    path: &str,
    cache: &TaskCache,
    placed: &Placed,
    host: &HostOf,
    compare_of: Option<&CompareOf<'_>>,
) -> (Vec<RawEvent>, u64) {
    let mut out = Vec::new();
    let mut confirmed = 0;
    for t in &cache.tasks {
        let on = Placed {
            name: t.name.clone(),
            ..placed.clone()
        };
        let mut data = registry_fields(path, t, &on, host);
        if let Some(compare_of) = compare_of {
            match compare_of(t) {
                None => data.push(("FileState".into(), "no file".into())),
                Some(c) => {
                    if c.hash_matches != Some(false) && c.actions_agree && !hidden_in_tree(t) {
                        confirmed += 1;
                        continue;
                    }
                    let state = match c.hash_matches {
                        Some(true) => "matches",
                        Some(false) => "differs",
                        None => "no hash",
                    };
                    data.push(("FileState".into(), state.into()));
                    if !c.actions_agree {
                        data.push(("ActionsVsFile".into(), "differ".into()));
                    }
                }
            }
        }
        // The identity: the task's name and what the registry holds of it.
        let content: String = data
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "File" | "HostFrom" | "HostAliases"))
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        out.push(definition_event(
            DEF_REG,
            data,
            content.as_bytes(),
            t.written,
            &on,
            host,
            path,
        ));
    }
    (out, confirmed)
}

/// What the registry beside a task file says of it (`Registry`, `RegistryHash`,
/// `RegistryActions`): nothing where no hive was read beside its Tasks folder.
pub fn file_facts(
    name: &str,
    digest: &[u8; 32],
    parsed: Option<&crate::profile::task_xml::TaskXml>,
    cache: &TaskCache,
) -> Vec<(String, String)> {
    file_facts_compared(name, digest, parsed, cache).0
}

/// A registry entry's exact name and how its task file compared with it.
pub type EntryCompared = (String, Compared);

/// [`file_facts`], and the comparison made on the way with the registry entry's exact name:
/// the hive's own report reuses it instead of reading the file again
/// ([`crate::ingest::definitions::HostMap::remember_compared`]).
pub fn file_facts_compared(
    name: &str,
    digest: &[u8; 32],
    parsed: Option<&crate::profile::task_xml::TaskXml>,
    cache: &TaskCache,
) -> (Vec<(String, String)>, Option<EntryCompared>) {
    // The tasks are sorted by lower-case name: a search, not a scan per file.
    let lower = name.to_lowercase();
    let at = cache
        .tasks
        .partition_point(|t| t.name.to_lowercase() < lower);
    let Some(t) = cache
        .tasks
        .get(at)
        .filter(|t| t.name.to_lowercase() == lower)
    else {
        return (vec![("Registry".into(), "not registered".into())], None);
    };
    let c = compare(t, digest, parsed);
    let mut out = vec![("Registry".into(), "registered".into())];
    if c.hash_matches == Some(false) {
        out.push(("RegistryHash".into(), "differs".into()));
    }
    if !c.actions_agree {
        out.push(("RegistryActions".into(), "differ".into()));
    }
    (out, Some((t.name.clone(), c)))
}

fn registry_fields(
    path: &str,
    t: &RegTask,
    placed: &Placed,
    host: &HostOf,
) -> Vec<(String, String)> {
    let mut d = base_data(path, placed, host);
    let mut push = |k: &str, v: String| {
        if !v.is_empty() {
            d.push((k.to_string(), v));
        }
    };
    push("TaskId", t.id.clone());
    let mut kinds: Vec<&str> = Vec::new();
    if let Some(a) = &t.actions {
        kinds.extend(a.actions.iter().map(Action::kind));
        match a.actions.first() {
            Some(Action::Exec {
                command,
                arguments,
                working_directory,
                ..
            }) => {
                push("Command", command.clone());
                push("Arguments", arguments.clone());
                push("WorkingDirectory", working_directory.clone());
            }
            Some(Action::ComHandler { class_id, data, .. }) => {
                push("ComClassId", class_id.clone());
                push("ComData", data.clone());
            }
            Some(Action::Email { to, .. }) => push("EmailTo", to.clone()),
            Some(Action::MessageBox { caption, .. }) => push("MessageCaption", caption.clone()),
            None => {}
        }
        push("ActionsContext", a.context.clone());
    }
    kinds.dedup();
    push("Actions", kinds.join(","));
    if let Some(tr) = &t.triggers {
        push("UserId", tr.user.clone());
        push("LogonType", tr.logon_type().to_string());
        push("RunLevel", tr.run_level().to_string());
        push("Hidden", tr.hidden().to_string());
        push("Enabled", tr.enabled().to_string());
        let mut k = tr.kinds.clone();
        k.sort_unstable();
        k.dedup();
        push("Triggers", k.join(","));
        push("Repeats", tr.repeats.to_string());
        push("PrincipalId", tr.principal_id.clone());
    }
    for (k, v) in &t.text {
        let key = match *k {
            "Description" => "Comment",
            "URI" => "Uri",
            other => other,
        };
        push(key, v.clone());
    }
    push(
        "TreeSD",
        match t.tree {
            Some(e) if e.has_sd => "present".into(),
            Some(_) => "absent".into(),
            None => "no Tree key".into(),
        },
    );
    if let Some(i) = t.tree.and_then(|e| e.index) {
        push("TreeIndex", i.to_string());
    }
    push(
        "TasksKey",
        if t.in_tasks { "present" } else { "absent" }.into(),
    );
    push("StartsFrom", t.registered.join(","));
    if !t.hash.is_empty() {
        push("Hash", super::definitions::to_hex(&t.hash));
    }
    if let Some(dy) = &t.dynamic {
        push("Created", crate::event::rfc3339(dy.created));
        if dy.last_run.is_some() {
            push("LastRun", crate::event::rfc3339(dy.last_run));
        }
        push("LastResult", format!("0x{:08x}", dy.last_result));
    }
    push("RegistryProblems", t.problems.join("; "));
    d
}

/// A task file's bytes below a Tasks folder on disk, by task name (`\Folder\Task`; none for
/// a name that would leave the folder, or a file past the definition limit).
pub fn file_below(dir: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut file = dir.to_path_buf();
    for part in name.split('\\').filter(|p| !p.is_empty()) {
        if part == ".." || part == "." || part.contains('/') {
            return None;
        }
        file.push(part);
    }
    let f = std::fs::File::open(&file).ok()?;
    let mut bytes = Vec::new();
    f.take(super::definitions::MAX_DEFINITION_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}
