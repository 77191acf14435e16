//! The binary values of the registry's TaskCache (`HKLM\SOFTWARE\Microsoft\Windows NT\
//! CurrentVersion\Schedule\TaskCache\Tasks\{GUID}`): what the Task Scheduler actually runs
//! (`Actions`) and when it made and last ran a task (`DynamicInfo`). The layouts follow G
//! DATA's winreg-tasks structure definitions (MIT) and libyal's winreg-kb notes; the code is
//! ours. Every length is checked against what is left: a value from a hostile hive yields an
//! error saying where, never a panic or a large allocation.

pub use super::bytes::BlobError;
use super::bytes::LeReader;
use std::collections::BTreeMap;

use super::hive::{HiveError, RegistryView};

/// The most actions a task may hold (the Task Scheduler takes 32).
pub const MAX_ACTIONS: usize = 32;
/// The longest string read from a blob, in bytes (a command line is at most 32 KiB).
const MAX_STRING: usize = 64 * 1024;

/// One action of a task, as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Exec {
        id: String,
        command: String,
        arguments: String,
        working_directory: String,
    },
    ComHandler {
        id: String,
        /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, upper case.
        class_id: String,
        data: String,
    },
    /// Sending e-mail (deprecated): the recipient is kept.
    Email { id: String, to: String },
    /// A message box (deprecated): its caption is kept.
    MessageBox { id: String, caption: String },
}

impl Action {
    /// The kind, as task XML names the element.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Exec { .. } => "exec",
            Action::ComHandler { .. } => "com",
            Action::Email { .. } => "email",
            Action::MessageBox { .. } => "message",
        }
    }
}

/// A task's `Actions` value: its version (1 or 3), the principal it runs as (version 3:
/// the context, matching the principal of the task's trigger bucket) and the actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions {
    pub version: u16,
    pub context: String,
    pub actions: Vec<Action>,
}

/// A length-prefixed UTF-16LE string (the length in bytes, at most [`MAX_STRING`]).
fn bstr(r: &mut LeReader<'_>, what: &str) -> Result<String, BlobError> {
    let len = r.u32(what)? as usize;
    if len > MAX_STRING {
        return Err(r.err(format!("{what}: a string of {len} bytes")));
    }
    r.utf16(len, what)
}

/// A GUID's 16 bytes as the registry and task XML write it.
pub fn guid(b: &[u8]) -> String {
    let u32le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let a = u16::from_le_bytes([b[4], b[5]]);
    let c = u16::from_le_bytes([b[6], b[7]]);
    let tail: String = b[8..16].iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{{{u32le:08X}-{a:04X}-{c:04X}-{}-{}}}",
        &tail[..4],
        &tail[4..]
    )
}

/// Decode an `Actions` value.
pub fn actions(blob: &[u8]) -> Result<Actions, BlobError> {
    let mut r = LeReader::new(blob);
    let version = r.u16("version")?;
    if version != 1 && version != 3 {
        return Err(BlobError {
            at: 0,
            what: format!("version {version} (1 and 3 are known)"),
        });
    }
    let context = if version == 3 {
        bstr(&mut r, "context")?
    } else {
        String::new()
    };
    let mut actions = Vec::new();
    while !r.done() {
        if actions.len() == MAX_ACTIONS {
            return Err(r.err(format!("more than {MAX_ACTIONS} actions")));
        }
        let start = r.at();
        let magic = r.u16("action kind")?;
        let id = bstr(&mut r, "action id")?;
        let action = match magic {
            0x6666 => {
                let command = bstr(&mut r, "command")?;
                let arguments = bstr(&mut r, "arguments")?;
                let working_directory = bstr(&mut r, "working directory")?;
                if version == 3 {
                    r.u16("flags")?;
                }
                Action::Exec {
                    id,
                    command,
                    arguments,
                    working_directory,
                }
            }
            0x7777 => {
                let class_id = guid(r.take(16, "class id")?);
                let data = bstr(&mut r, "data")?;
                Action::ComHandler { id, class_id, data }
            }
            0x8888 => {
                let _from = bstr(&mut r, "from")?;
                let to = bstr(&mut r, "to")?;
                for what in ["cc", "bcc", "reply-to", "server", "subject", "body"] {
                    bstr(&mut r, what)?;
                }
                let files = r.u32("attachments")?;
                for _ in 0..files.min(1024) {
                    bstr(&mut r, "attachment")?;
                }
                let headers = r.u32("headers")?;
                for _ in 0..headers.min(1024) {
                    bstr(&mut r, "header name")?;
                    bstr(&mut r, "header value")?;
                }
                Action::Email { id, to }
            }
            0x9999 => {
                let caption = bstr(&mut r, "caption")?;
                let _content = bstr(&mut r, "content")?;
                Action::MessageBox { id, caption }
            }
            other => {
                return Err(BlobError {
                    at: start,
                    what: format!("an action of unknown kind 0x{other:04x}"),
                });
            }
        };
        actions.push(action);
    }
    Ok(Actions {
        version,
        context,
        actions,
    })
}

/// A task's `DynamicInfo` value: when it was registered, last ran and last succeeded (the
/// 36-byte form of Windows 10 and later; the 28-byte form has no last success), and the last
/// run's result code. Times in microseconds since the Unix epoch (none for a zero FILETIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicInfo {
    pub created: Option<i64>,
    pub last_run: Option<i64>,
    pub last_success: Option<i64>,
    pub last_result: u32,
}

/// A FILETIME (100 ns since 1601) as microseconds since 1970; none for zero or out of range.
pub(crate) fn filetime(ft: u64) -> Option<i64> {
    const EPOCH_DIFF_US: i64 = 11_644_473_600_000_000;
    if ft == 0 {
        return None;
    }
    i64::try_from(ft / 10)
        .ok()?
        .checked_sub(EPOCH_DIFF_US)
        .filter(|t| jiff::Timestamp::from_microsecond(*t).is_ok())
}

/// Decode a `DynamicInfo` value (28 or 36 bytes).
pub fn dynamic_info(blob: &[u8]) -> Result<DynamicInfo, BlobError> {
    if blob.len() != 28 && blob.len() != 36 {
        return Err(BlobError {
            at: 0,
            what: format!("{} bytes (28 and 36 are known)", blob.len()),
        });
    }
    let mut r = LeReader::new(blob);
    r.take(4, "magic")?;
    let created = filetime(r.u64("creation time")?);
    let last_run = filetime(r.u64("last run time")?);
    r.u32("task state")?;
    let last_result = r.u32("last result")?;
    let last_success = if blob.len() == 36 {
        filetime(r.u64("last successful run time")?)
    } else {
        None
    };
    Ok(DynamicInfo {
        created,
        last_run,
        last_success,
        last_result,
    })
}

/// A task's `Triggers` value: the job bucket's settings and principal, and the kinds of its
/// triggers (as task XML names them without `Trigger`: `Boot`, `Logon`, `Time`,
/// `Calendar`, ...). Every field of this format is 8-byte aligned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Triggers {
    pub version: u8,
    /// The job bucket's flags (`TASK_` settings: enabled 0x400000, hidden 0x800000, ...).
    pub flags: u32,
    pub principal_id: String,
    pub display_name: String,
    /// The user the task runs as: a name where the value has one, else its SID.
    pub user: String,
    pub kinds: Vec<&'static str>,
    /// A trigger repeats (a repetition interval is set).
    pub repeats: bool,
    /// Where the trigger list could not be read further (what was read is kept).
    pub problem: Option<BlobError>,
}

/// Job bucket flags.
const JB_LOGON_S4U: u32 = 0x4000;
const JB_LOGON_INTERACTIVE: u32 = 0x10000;
const JB_LOGON_PASSWORD: u32 = 0x40000;
const JB_LOGON_INTERACTIVE_OR_PASSWORD: u32 = 0x80000;
const JB_ENABLED: u32 = 0x40_0000;
const JB_HIDDEN: u32 = 0x80_0000;
const JB_HIGHEST: u32 = 0x100_0000;

impl Triggers {
    pub fn enabled(&self) -> bool {
        self.flags & JB_ENABLED != 0
    }
    pub fn hidden(&self) -> bool {
        self.flags & JB_HIDDEN != 0
    }
    /// The run level as task XML spells it.
    pub fn run_level(&self) -> &'static str {
        if self.flags & JB_HIGHEST != 0 {
            "HighestAvailable"
        } else {
            "LeastPrivilege"
        }
    }
    /// The logon type as task XML spells it (empty where no flag says).
    pub fn logon_type(&self) -> &'static str {
        let f = self.flags;
        if f & JB_LOGON_S4U != 0 {
            "S4U"
        } else if f & JB_LOGON_INTERACTIVE_OR_PASSWORD != 0 {
            "InteractiveTokenOrPassword"
        } else if f & JB_LOGON_PASSWORD != 0 {
            "Password"
        } else if f & JB_LOGON_INTERACTIVE != 0 {
            "InteractiveToken"
        } else {
            ""
        }
    }
}

/// An 8-byte aligned reader over [`LeReader`].
struct Aligned<'a>(LeReader<'a>);

impl<'a> Aligned<'a> {
    fn pad(&mut self, n: usize, what: &str) -> Result<(), BlobError> {
        let p = (8 - n % 8) % 8;
        self.0.take(p, what).map(|_| ())
    }
    /// A byte in an 8-byte slot.
    fn u1(&mut self, what: &str) -> Result<u8, BlobError> {
        let b = self.0.take(8, what)?;
        Ok(b[0])
    }
    /// A double word in an 8-byte slot.
    fn u4(&mut self, what: &str) -> Result<u32, BlobError> {
        let v = self.0.u32(what)?;
        self.0.take(4, what)?;
        Ok(v)
    }
    /// Bytes with their length in an 8-byte slot, padded to 8.
    fn buffer(&mut self, what: &str) -> Result<&'a [u8], BlobError> {
        let n = self.u4(what)? as usize;
        if n > MAX_STRING {
            return Err(self.0.err(format!("{what}: {n} bytes")));
        }
        let b = self.0.take(n, what)?;
        self.pad(n, what)?;
        Ok(b)
    }
    fn bstr(&mut self, what: &str) -> Result<String, BlobError> {
        let b = self.buffer(what)?;
        LeReader::new(b).utf16(b.len() & !1, what)
    }
    /// A string whose slot counts characters, not bytes (with a NUL).
    fn bstr_chars(&mut self, what: &str) -> Result<(), BlobError> {
        let n = self.u4(what)? as usize;
        if n == 0 {
            return Ok(());
        }
        if n > MAX_STRING {
            return Err(self.0.err(format!("{what}: {n} characters")));
        }
        let bytes = n * 2 + 2;
        self.0.take(bytes, what)?;
        self.pad(bytes, what)
    }
    /// A length-prefixed string not aligned itself, padded with its length to 8.
    fn id(&mut self, what: &str) -> Result<(), BlobError> {
        let n = self.0.u32(what)? as usize;
        if n > MAX_STRING {
            return Err(self.0.err(format!("{what}: {n} bytes")));
        }
        self.0.take(n, what)?;
        self.pad(n + 4, what)
    }
    /// A user: a SID and a name, either left out.
    fn user(&mut self) -> Result<String, BlobError> {
        if self.u1("user present")? != 0 {
            return Ok(String::new());
        }
        let mut sid = String::new();
        if self.u1("SID present")? == 0 {
            self.u4("SID type")?;
            sid = sid_text(self.buffer("SID")?);
        }
        let name = self.bstr("user name")?;
        Ok(if name.is_empty() { sid } else { name })
    }
}

/// A binary SID as `S-1-5-18`.
fn sid_text(b: &[u8]) -> String {
    if b.len() < 8 {
        return String::new();
    }
    let auth = b[2..8].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    let mut s = format!("S-{}-{auth}", b[0]);
    for sub in b[8..].chunks_exact(4).take(usize::from(b[1])) {
        s.push_str(&format!(
            "-{}",
            u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]])
        ));
    }
    s
}

/// The common part of a trigger: returns whether it repeats.
fn generic_trigger(r: &mut Aligned<'_>, version: u8) -> Result<bool, BlobError> {
    let g = r.0.take(72, "trigger")?;
    let interval = u32::from_le_bytes([g[40], g[41], g[42], g[43]]);
    if version >= 0x16 {
        r.id("trigger id")?;
    }
    Ok(interval > 0)
}

/// Decode a `Triggers` value.
pub fn triggers(blob: &[u8]) -> Result<Triggers, BlobError> {
    let mut r = Aligned(LeReader::new(blob));
    let version = r.u1("version")?;
    r.0.take(32, "boundaries")?;
    let flags = r.u4("job bucket flags")?;
    r.u4("crc32")?;
    let principal_id = if version >= 0x16 {
        r.bstr("principal id")?
    } else {
        String::new()
    };
    let display_name = if version >= 0x17 {
        r.bstr("display name")?
    } else {
        String::new()
    };
    let user = r.user()?;
    let settings = r.u4("optional settings")? as usize;
    if settings > 0 {
        r.0.take(settings, "optional settings")?;
        r.pad(settings, "optional settings")?;
    }
    let mut t = Triggers {
        version,
        flags,
        principal_id,
        display_name,
        user,
        ..Triggers::default()
    };
    while !r.0.done() {
        if t.kinds.len() == 64 {
            t.problem = Some(r.0.err("more than 64 triggers"));
            break;
        }
        match one_trigger(&mut r, version) {
            Ok((kind, repeats)) => {
                t.kinds.push(kind);
                t.repeats |= repeats;
            }
            Err(e) => {
                t.problem = Some(e);
                break;
            }
        }
    }
    Ok(t)
}

fn one_trigger(r: &mut Aligned<'_>, version: u8) -> Result<(&'static str, bool), BlobError> {
    let start = r.0.at();
    let magic = r.u4("trigger kind")?;
    let kind = match magic {
        0xdddd => {
            let s = r.0.take(88, "time trigger")?;
            let interval = u32::from_le_bytes([s[48], s[49], s[50], s[51]]);
            let mode = u32::from_le_bytes([s[60], s[61], s[62], s[63]]);
            if version >= 0x16 {
                r.id("trigger id")?;
            }
            let kind = if mode == 0 { "Time" } else { "Calendar" };
            return Ok((kind, interval > 0));
        }
        0x6666 => "WnfStateChange",
        0x7777 => "SessionStateChange",
        0x8888 => "Registration",
        0xaaaa => "Logon",
        0xcccc => "Event",
        0xeeee => "Idle",
        0xffff => "Boot",
        other => {
            return Err(BlobError {
                at: start,
                what: format!("a trigger of unknown kind 0x{other:x}"),
            });
        }
    };
    let repeats = generic_trigger(r, version)?;
    match magic {
        0x6666 => {
            r.0.take(8, "state name")?;
            r.buffer("state data")?;
        }
        0x7777 => {
            r.0.take(8, "session state")?;
            r.user()?;
        }
        0xaaaa => {
            r.user()?;
        }
        0xcccc => {
            r.bstr_chars("subscription")?;
            r.0.take(8, "event trigger")?;
            r.bstr_chars("event trigger")?;
            let n = r.u4("value queries")?;
            if n > 1024 {
                return Err(r.0.err(format!("{n} value queries")));
            }
            for _ in 0..n {
                r.bstr_chars("value query name")?;
                r.bstr_chars("value query")?;
            }
        }
        _ => {}
    }
    Ok((kind, repeats))
}

/// Where the TaskCache lies in a SOFTWARE hive.
pub const TASKCACHE: &str = "Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache";
/// Where the event channels' settings lie in a SOFTWARE hive.
pub const CHANNELS: &str = "Microsoft\\Windows\\CurrentVersion\\WINEVT\\Channels";
/// The channels whose `Enabled` the coverage reads.
pub const WATCHED_CHANNELS: [&str; 2] = [
    "Microsoft-Windows-TaskScheduler/Operational",
    "Microsoft-Windows-Sysmon/Operational",
];
/// Tasks read from one TaskCache at most (a real host has a few hundred).
pub const MAX_TASKS: usize = 20_000;

/// One task as the registry holds it: its `Tree` key (name, security descriptor, index)
/// and its `Tasks\{GUID}` key (what it runs, when, as whom).
#[derive(Debug, Clone, Default)]
pub struct RegTask {
    /// `\Folder\Task`: the Tree key's path, else the Tasks key's `Path` value.
    pub name: String,
    /// `{GUID}`.
    pub id: String,
    /// Found under `Tree`: whether its key has an `SD` value and its `Index`.
    pub tree: Option<TreeEntry>,
    /// A `Tasks\{GUID}` key exists.
    pub in_tasks: bool,
    /// Where the task is registered to start: `Plain`, `Logon`, `Boot`.
    pub registered: Vec<&'static str>,
    /// The `Hash` value (SHA-256 of the task's XML file on Windows 10 and later).
    pub hash: Vec<u8>,
    pub actions: Option<Actions>,
    pub triggers: Option<Triggers>,
    pub dynamic: Option<DynamicInfo>,
    /// `Author`, `Description`, `URI`, `Date`, `Source`, `Path` as text.
    pub text: Vec<(&'static str, String)>,
    /// The Tasks key's (else the Tree key's) last written time.
    pub written: Option<i64>,
    /// Values that could not be decoded, in words.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeEntry {
    pub has_sd: bool,
    pub index: Option<u32>,
}

/// What a SOFTWARE hive says about tasks: the TaskCache's tasks and whether the watched
/// channels are enabled.
#[derive(Debug, Clone, Default)]
pub struct TaskCache {
    pub tasks: Vec<RegTask>,
    /// ([`WATCHED_CHANNELS`] name, enabled) for the channels the hive holds.
    pub channels: Vec<(&'static str, bool)>,
    pub problems: Vec<String>,
}

fn hive_problem(what: &str, e: &HiveError) -> String {
    format!("{what}: {e}")
}

/// Read the TaskCache and the watched channels of a registry (a hive file, the live
/// registry); `NotAHive` where it has no TaskCache (a SYSTEM hive, an NTUSER.DAT).
pub fn read<R: RegistryView>(reg: &R) -> Result<TaskCache, HiveError> {
    let Some(cache) = reg.key_at(TASKCACHE)? else {
        return Err(HiveError::NotAHive(reg.without_taskcache()));
    };
    let mut out = TaskCache::default();
    let mut by_id: BTreeMap<String, RegTask> = BTreeMap::new();
    if let Some(tree) = reg.child(&cache, "Tree")? {
        // Depth first, each folder's keys in order, bounded in depth and in number.
        let mut stack = vec![(String::new(), tree, 0usize)];
        let mut seen = 0usize;
        while let Some((path, key, depth)) = stack.pop() {
            if depth >= 32 || seen >= MAX_TASKS * 4 {
                continue;
            }
            match reg.children(&key, MAX_TASKS * 4 - seen) {
                Ok(children) => {
                    seen += children.len();
                    for (name, child) in children.into_iter().rev() {
                        let p = format!("{path}\\{name}");
                        tree_task(reg, p.clone(), &child, &mut by_id, &mut out.problems);
                        stack.push((p, child, depth + 1));
                    }
                }
                Err(e) => out.problems.push(hive_problem(&format!("Tree{path}"), &e)),
            }
        }
    }
    if let Some(tasks) = reg.child(&cache, "Tasks")? {
        match reg.children(&tasks, MAX_TASKS) {
            Ok(keys) => {
                for (name, k) in keys {
                    tasks_key(reg, &name, &k, &mut by_id);
                }
            }
            Err(e) => out.problems.push(hive_problem("TaskCache\\Tasks", &e)),
        }
    }
    for start in ["Plain", "Logon", "Boot"] {
        let Some(k) = reg.child(&cache, start)? else {
            continue;
        };
        for (name, _) in reg.children(&k, MAX_TASKS).unwrap_or_default() {
            if let Some(t) = by_id.get_mut(&name.to_uppercase()) {
                t.registered.push(start);
            }
        }
    }
    out.tasks = by_id.into_values().filter(|t| !t.name.is_empty()).collect();
    out.tasks.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    if let Ok(Some(channels)) = reg.key_at(CHANNELS) {
        for name in WATCHED_CHANNELS {
            let enabled = reg
                .child(&channels, name)
                .ok()
                .flatten()
                .and_then(|c| reg.value_list(&c).ok())
                .and_then(|values| {
                    values
                        .into_iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("Enabled"))
                })
                .and_then(|(_, d)| d.ok())
                .and_then(|d| super::hive::dword(&d));
            if let Some(v) = enabled {
                out.channels.push((name, v != 0));
            }
        }
    }
    Ok(out)
}

/// A Tree key: a task where it has an `Id`, else a folder.
fn tree_task<R: RegistryView>(
    reg: &R,
    path: String,
    key: &R::Key,
    by_id: &mut BTreeMap<String, RegTask>,
    problems: &mut Vec<String>,
) {
    let values = match reg.value_list(key) {
        Ok(v) => v,
        Err(e) => {
            problems.push(hive_problem(&format!("Tree{path}"), &e));
            return;
        }
    };
    let mut id = None;
    let mut entry = TreeEntry::default();
    for (name, data) in &values {
        match name.to_ascii_lowercase().as_str() {
            "id" => {
                id = data
                    .as_ref()
                    .ok()
                    .map(|d| super::hive::text(d).trim().to_uppercase())
            }
            "sd" => entry.has_sd = data.as_ref().map_or(true, |d| !d.is_empty()),
            "index" => entry.index = data.as_ref().ok().and_then(|d| super::hive::dword(d)),
            _ => {}
        }
    }
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return;
    };
    let t = by_id.entry(id.clone()).or_default();
    t.id = id;
    t.name = path;
    t.tree = Some(entry);
    t.written = t.written.or(reg.written(key));
}

/// A `Tasks\{GUID}` key's values, decoded.
fn tasks_key<R: RegistryView>(
    reg: &R,
    name: &str,
    key: &R::Key,
    by_id: &mut BTreeMap<String, RegTask>,
) {
    let id = name.to_uppercase();
    let t = by_id.entry(id.clone()).or_default();
    t.id = id;
    t.in_tasks = true;
    t.written = reg.written(key).or(t.written);
    let values = match reg.value_list(key) {
        Ok(v) => v,
        Err(e) => {
            t.problems.push(e.to_string());
            return;
        }
    };
    for (value, data) in values {
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                t.problems.push(format!("{value}: {e}"));
                continue;
            }
        };
        let name = value.to_ascii_lowercase();
        match name.as_str() {
            "actions" => match actions(&data) {
                Ok(a) => t.actions = Some(a),
                Err(e) => t.problems.push(format!("Actions: {e}")),
            },
            "triggers" => match triggers(&data) {
                Ok(tr) => {
                    if let Some(p) = &tr.problem {
                        t.problems.push(format!("Triggers: {p}"));
                    }
                    t.triggers = Some(tr);
                }
                Err(e) => t.problems.push(format!("Triggers: {e}")),
            },
            "dynamicinfo" => match dynamic_info(&data) {
                Ok(d) => t.dynamic = Some(d),
                Err(e) => t.problems.push(format!("DynamicInfo: {e}")),
            },
            "hash" => t.hash = data,
            _ => {
                let field = match name.as_str() {
                    "author" => "Author",
                    "description" => "Description",
                    "uri" => "URI",
                    "date" => "Date",
                    "source" => "Source",
                    "path" => "Path",
                    _ => continue,
                };
                t.text.push((field, super::hive::text(&data)));
            }
        }
    }
    if t.name.is_empty()
        && let Some((_, p)) = t.text.iter().find(|(k, _)| *k == "Path")
    {
        t.name = p.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blobs written as the layout says, for the decoder to read back.
    fn bstr(s: &str) -> Vec<u8> {
        let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut out = (units.len() as u32).to_le_bytes().to_vec();
        out.extend(units);
        out
    }

    fn exec_v3(context: &str, actions: &[(&str, &str, &str)]) -> Vec<u8> {
        let mut b = 3u16.to_le_bytes().to_vec();
        b.extend(bstr(context));
        for (cmd, args, dir) in actions {
            b.extend(0x6666u16.to_le_bytes());
            b.extend(bstr(""));
            b.extend(bstr(cmd));
            b.extend(bstr(args));
            b.extend(bstr(dir));
            b.extend(0u16.to_le_bytes());
        }
        b
    }

    #[test]
    fn exec_and_com_actions_read_back() {
        let blob = exec_v3(
            "Author",
            &[("C:\\Windows\\System32\\cmd.exe", "/c whoami", "C:\\")],
        );
        let a = actions(&blob).unwrap();
        assert_eq!((a.version, a.context.as_str()), (3, "Author"));
        assert_eq!(
            a.actions,
            [Action::Exec {
                id: String::new(),
                command: "C:\\Windows\\System32\\cmd.exe".into(),
                arguments: "/c whoami".into(),
                working_directory: "C:\\".into(),
            }]
        );
        // A version 1 COM handler: the CLSID as task XML writes it.
        let mut b = 1u16.to_le_bytes().to_vec();
        b.extend(0x7777u16.to_le_bytes());
        b.extend(bstr("id1"));
        // {0358B920-0AC7-461F-98F4-58E32CD89148}
        b.extend([
            0x20, 0xB9, 0x58, 0x03, 0xC7, 0x0A, 0x1F, 0x46, 0x98, 0xF4, 0x58, 0xE3, 0x2C, 0xD8,
            0x91, 0x48,
        ]);
        b.extend(bstr("<Data/>"));
        let a = actions(&b).unwrap();
        assert_eq!(
            a.actions,
            [Action::ComHandler {
                id: "id1".into(),
                class_id: "{0358B920-0AC7-461F-98F4-58E32CD89148}".into(),
                data: "<Data/>".into(),
            }]
        );
        assert_eq!(a.actions[0].kind(), "com");
    }

    #[test]
    fn hostile_actions_are_refused_where_they_break() {
        // A string claiming more than is left.
        let mut b = exec_v3("Author", &[("a.exe", "", "")]);
        let at = 2 + 4 + 12 + 2 + 4; // version, context, kind, empty id: the command's length
        b[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let e = actions(&b).unwrap_err();
        assert_eq!(e.at, at + 4);
        assert!(e.what.contains("command"), "{e}");
        // Truncated anywhere: an error, never a panic.
        let whole = exec_v3("Author", &[("a.exe", "-x", "C:\\"), ("b.exe", "", "")]);
        for n in 0..whole.len() {
            let _ = actions(&whole[..n]);
        }
        assert!(actions(&whole).is_ok());
        // Unknown versions and kinds.
        assert!(actions(&[2, 0]).unwrap_err().what.contains("version 2"));
        let mut b = 1u16.to_le_bytes().to_vec();
        b.extend(0x1234u16.to_le_bytes());
        b.extend(bstr(""));
        assert!(actions(&b).unwrap_err().what.contains("0x1234"));
        // Endless actions are bounded.
        let many = exec_v3("A", &vec![("x", "", ""); MAX_ACTIONS + 1]);
        assert!(actions(&many).unwrap_err().what.contains("more than"));
    }

    #[test]
    fn dynamic_info_in_both_forms() {
        // 2024-05-01T10:00:00Z as a FILETIME.
        let t = jiff::Timestamp::from_second(1_714_557_600).unwrap();
        let ft = (t.as_microsecond() + 11_644_473_600_000_000) as u64 * 10;
        let mut b = vec![3, 0, 0, 0];
        b.extend(ft.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0x8007_0002u32.to_le_bytes());
        let short = dynamic_info(&b).unwrap();
        assert_eq!(short.created, Some(t.as_microsecond()));
        assert_eq!((short.last_run, short.last_success), (None, None));
        assert_eq!(short.last_result, 0x8007_0002);
        b.extend(ft.to_le_bytes());
        assert_eq!(
            dynamic_info(&b).unwrap().last_success,
            Some(t.as_microsecond())
        );
        assert!(dynamic_info(&b[..30]).is_err());
        // A FILETIME past what a time can be is no time.
        let mut far = b.clone();
        far[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(dynamic_info(&far).unwrap().created, None);
    }
}
