//! Task definitions as they lie on a host: the Tasks folder's XML files
//! (`C:\Windows\System32\Tasks\**`, UTF-16 with a byte-order mark, no extension) and legacy
//! `.job` files (`C:\Windows\Tasks\*.job`, [`super::job`]), each read as one record of
//! [`CH_TASK_DEFINITION`].
//!
//! **The task's name** is the file's path below the nearest folder named `Tasks`
//! (case-insensitive), `\`-separated, as `schtasks` shows it (`\Microsoft\Windows\Defrag\
//! ScheduledDefrag`; a `.job` keeps its name without the extension). Path parts a collector
//! URL-encoded (Velociraptor's `C%3A`) are decoded first.
//!
//! **The host** a definition belongs to is, in this order: the computer named by the event
//! logs of the same collection (the nearest folder above the Tasks folder, up to the
//! collection's own folder, that holds logs; where those logs name several computers, the
//! one most of their records name, the others kept as aliases); else the collection
//! folder's name (the folder above the drive folder `C`, `C%3A`, or above `Windows`; a
//! Velociraptor client id where the path has one; an archive's name without `.zip`).
//! The record says which (`HostFrom`).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::event::{CH_TASK_DEFINITION, DEF_JOB, DEF_XML, RawEvent};

use super::FileReport;

/// A task XML file is read whole up to this size (a real one is a few KB).
pub const MAX_DEFINITION_BYTES: u64 = 4 << 20;
/// Definitions read from one Tasks folder at most (a real host has a few hundred).
pub const MAX_DEFINITIONS_PER_FOLDER: usize = 10_000;

/// The text of a task XML file: UTF-16 of either byte order, with or without a byte-order
/// mark, or UTF-8 (a mark dropped). Undecodable units become U+FFFD.
pub fn decode(bytes: &[u8]) -> String {
    let utf16 = |b: &[u8], le: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|p| {
                if le {
                    u16::from_le_bytes([p[0], p[1]])
                } else {
                    u16::from_be_bytes([p[0], p[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xff, 0xfe, rest @ ..] => utf16(rest, true),
        [0xfe, 0xff, rest @ ..] => utf16(rest, false),
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [a, 0, ..] if *a != 0 => utf16(bytes, true),
        [0, b, ..] if *b != 0 => utf16(bytes, false),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Whether a file's first bytes are task XML: the task schema's root element (`<Task`),
/// after any XML declaration, comments and blank space.
pub fn is_task_xml(head: &[u8]) -> bool {
    let n = head.len().min(8192) & !1;
    let text = decode(&head[..n]);
    let mut s = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("<?") {
            match rest.find("?>") {
                Some(end) => s = rest[end + 2..].trim_start(),
                None => return false,
            }
        } else if let Some(rest) = s.strip_prefix("<!--") {
            match rest.find("-->") {
                Some(end) => s = rest[end + 3..].trim_start(),
                None => return false,
            }
        } else {
            break;
        }
    }
    s.strip_prefix("<Task")
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
}

/// Undo the URL-encoding collectors apply to path parts (`C%3A` -> `C:`); a part that is not
/// valid encoding stays as it is.
fn percent_decode(part: &str) -> String {
    if !part.contains('%') {
        return part.to_string();
    }
    let b = part.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| part.to_string())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A path's parts: split at `/`, `\` and a zip member's `!`, each decoded.
fn parts(path: &str) -> Vec<String> {
    path.split(['/', '\\', '!'])
        .filter(|p| !p.is_empty() && *p != ".")
        .map(percent_decode)
        .collect()
}

/// Folders a collector puts between a collection and the drive (Velociraptor's accessors).
const ACCESSOR_FOLDERS: &[&str] = &["auto", "ntfs", "lazy_ntfs", "mft", "file", "uploads"];

/// A drive folder as collectors name it: `C`, `C:`, `\\.\C:`.
fn is_drive(part: &str) -> bool {
    let p = part.trim_start_matches(['\\', '.']);
    let p = p.strip_suffix(':').unwrap_or(p);
    p.len() == 1 && p.as_bytes()[0].is_ascii_alphabetic()
}

/// A Velociraptor client id (`C.` and 16 hex digits).
fn is_client_id(part: &str) -> bool {
    part.len() == 18
        && (part.starts_with("C.") || part.starts_with("c."))
        && part[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where a definition file sits: its task name, its Tasks folder, the collection folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// `\Folder\Task`, as `schtasks` shows it.
    pub name: String,
    /// The path parts up to the Tasks folder (the parent folder when there is none),
    /// lower-cased: what groups one host's definitions.
    pub folder: Vec<String>,
    /// Parts of `folder` that may be searched for logs, from the nearest: the folders above
    /// the Tasks folder up to the collection folder.
    pub search_from: usize,
    pub search_to: usize,
    /// The collection folder's name, the host when no log names one.
    pub collection: String,
}

/// Place a definition file by its path (a zip member: `archive.zip!member`).
pub fn place(path: &str) -> Placed {
    let p = parts(path);
    let file = p.last().cloned().unwrap_or_default();
    let tasks = p[..p.len().saturating_sub(1)]
        .iter()
        .rposition(|x| x.eq_ignore_ascii_case("tasks"));
    let (name, folder_end) = match tasks {
        Some(t) => {
            let mut below: Vec<&str> = p[t + 1..].iter().map(String::as_str).collect();
            let last = below.len() - 1;
            let stem = strip_job(below[last]);
            below[last] = stem;
            (format!("\\{}", below.join("\\")), t + 1)
        }
        None => (format!("\\{}", strip_job(&file)), p.len().saturating_sub(1)),
    };
    let folder: Vec<String> = p[..folder_end].iter().map(|s| s.to_lowercase()).collect();
    // The collection folder: a client id, else the folder above the drive, else above
    // `Windows`; accessor folders in between are skipped.
    let above = |i: usize| -> Option<usize> {
        (0..i)
            .rev()
            .find(|&j| !ACCESSOR_FOLDERS.contains(&folder[j].as_str()))
    };
    let collection_at = folder
        .iter()
        .rposition(|x| is_client_id(x))
        .or_else(|| {
            // The last drive folder: a KAPE collection's `C` below a Windows path's own
            // `Z:` (a collection read by the Windows build) is the one that counts.
            folder
                .iter()
                .rposition(|x| is_drive(x))
                .filter(|&d| d > 0)
                .and_then(above)
        })
        .or_else(|| {
            folder
                .iter()
                .position(|x| x == "windows")
                .filter(|&w| w > 0)
                .and_then(above)
        });
    let parent = folder_end.saturating_sub(if tasks.is_some() { 2 } else { 1 });
    let (collection, search_to) = match collection_at {
        Some(c) => (p[c].clone(), c),
        None => (p.get(parent).cloned().unwrap_or_default(), parent),
    };
    let collection = collection
        .strip_suffix(".zip")
        .or_else(|| collection.strip_suffix(".ZIP"))
        .map(str::to_string)
        .unwrap_or(collection);
    Placed {
        name,
        search_from: folder_end.saturating_sub(1),
        search_to,
        folder,
        collection,
    }
}

fn strip_job(name: &str) -> &str {
    match name.len().checked_sub(4) {
        Some(i) if name.is_char_boundary(i) && name[i..].eq_ignore_ascii_case(".job") => &name[..i],
        _ => name,
    }
}

/// The host a Tasks folder's definitions belong to, and how that was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOf {
    pub host: String,
    /// Other computers the same logs name (a machine renamed during its life).
    pub aliases: Vec<String>,
    /// `logs under FOLDER` or `the collection folder's name`.
    pub from: String,
}

/// The computers the logs of a read name, by where the logs lie.
#[derive(Debug, Default)]
pub struct HostMap {
    /// (the log's folder parts lower-cased and joined by `/`, with a trailing `/`; records
    /// per host), sorted by folder.
    logs: Vec<(String, Vec<(String, u64)>)>,
    cache: HashMap<Vec<String>, HostOf>,
    /// Source times from KAPE's copy logs above the definitions.
    copied: super::copylog::CopyTimes,
    /// The SOFTWARE hive beside each Tasks folder (none: no hive there), looked up once.
    hive_of_tasks: HashMap<std::path::PathBuf, Option<std::path::PathBuf>>,
    /// Each hive's TaskCache as read, once per run: the Tasks folder's files and the hive
    /// reader share it.
    registries: HashMap<std::path::PathBuf, Arc<super::registry::RegistryRead>>,
    /// Per hive, per registry entry (its exact name): how the task file read beside it
    /// compared, so that the hive's report need not read the file again.
    compared: HashMap<std::path::PathBuf, HashMap<String, super::registry::Compared>>,
}

impl HostMap {
    /// From the reports of the logs read.
    pub fn new(reports: &[FileReport]) -> HostMap {
        let mut logs: Vec<(String, Vec<(String, u64)>)> = reports
            .iter()
            .filter(|r| !r.witnessed.hosts().is_empty())
            .map(|r| {
                let mut p = parts(&r.path);
                p.pop();
                let key = p.iter().map(|s| s.to_lowercase() + "/").collect::<String>();
                let hosts = r
                    .witnessed
                    .hosts()
                    .iter()
                    .filter(|(h, _)| !h.is_empty())
                    .map(|(h, e)| (h.clone(), e.records))
                    .collect();
                (key, hosts)
            })
            .collect();
        logs.sort();
        HostMap {
            logs,
            cache: HashMap::new(),
            copied: super::copylog::CopyTimes::default(),
            hive_of_tasks: HashMap::new(),
            registries: HashMap::new(),
            compared: HashMap::new(),
        }
    }

    /// A task file read beside `hive` compared as `c` with the entry `name` there.
    pub fn remember_compared(
        &mut self,
        hive: &std::path::Path,
        name: String,
        c: super::registry::Compared,
    ) {
        self.compared
            .entry(hive.to_path_buf())
            .or_default()
            .insert(name, c);
    }

    /// The comparisons [`HostMap::remember_compared`] kept for `hive`, handed over (the
    /// hive's report reads them once).
    pub fn take_compared(
        &mut self,
        hive: &std::path::Path,
    ) -> HashMap<String, super::registry::Compared> {
        self.compared.remove(hive).unwrap_or_default()
    }

    /// The time a KAPE copy log above a definition file on disk gives its source (a zip
    /// member or a file no copy log lists has none): it outlives the copy's own time stamps.
    pub fn copied_time(&mut self, path: &str) -> Option<i64> {
        let p = std::path::Path::new(path);
        if !p.is_file() {
            return None;
        }
        self.copied.time_of(p)
    }

    /// The SOFTWARE hive of the system whose Tasks folder holds the task file at `path` on
    /// disk (`System32\\config\\SOFTWARE` beside `System32\\Tasks`), looked up once per folder.
    pub fn hive_beside(&mut self, path: &str) -> Option<std::path::PathBuf> {
        let tasks = std::path::Path::new(path)
            .ancestors()
            .skip(1)
            .find(|a| {
                a.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.eq_ignore_ascii_case("tasks"))
            })?
            .to_path_buf();
        self.hive_of_tasks
            .entry(tasks)
            .or_insert_with_key(|tasks| {
                tasks
                    .parent()
                    .and_then(|system32| child(system32, "config"))
                    .and_then(|config| child(&config, "SOFTWARE"))
            })
            .clone()
    }

    /// A hive's TaskCache, if this run read it already.
    pub fn known_registry(
        &self,
        hive: &std::path::Path,
    ) -> Option<Arc<super::registry::RegistryRead>> {
        self.registries.get(hive).cloned()
    }

    /// Keep a hive's TaskCache as read (the first read wins where two threads raced).
    pub fn remember_registry(
        &mut self,
        hive: std::path::PathBuf,
        read: Arc<super::registry::RegistryRead>,
    ) -> Arc<super::registry::RegistryRead> {
        self.registries.entry(hive).or_insert(read).clone()
    }

    /// The host of a definition placed at `placed`.
    pub fn host_of(&mut self, placed: &Placed) -> HostOf {
        let key = placed.folder.clone();
        if let Some(h) = self.cache.get(&key) {
            return h.clone();
        }
        let found = self
            .named_by_logs(placed)
            .unwrap_or_else(|| match this_computer(placed) {
                Some(name) => HostOf {
                    host: name.to_lowercase(),
                    aliases: Vec::new(),
                    from: "this computer's name (a live system's own folder)".into(),
                },
                None => HostOf {
                    host: placed.collection.to_lowercase(),
                    aliases: Vec::new(),
                    from: "the collection folder's name".into(),
                },
            });
        self.cache.insert(key, found.clone());
        found
    }

    fn named_by_logs(&self, placed: &Placed) -> Option<HostOf> {
        let lo = placed.search_to.min(placed.search_from);
        for end in (lo..=placed.search_from).rev() {
            let prefix: String = placed.folder[..=end]
                .iter()
                .map(|s| s.clone() + "/")
                .collect();
            let start = self.logs.partition_point(|(k, _)| *k < prefix);
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            for (_, hosts) in self.logs[start..]
                .iter()
                .take_while(|(k, _)| k.starts_with(&prefix))
            {
                for (h, n) in hosts {
                    let c = counts.entry(h).or_default();
                    *c = c.saturating_add(*n);
                }
            }
            if counts.is_empty() {
                continue;
            }
            let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            return Some(HostOf {
                host: ranked[0].0.to_string(),
                aliases: ranked[1..].iter().map(|(h, _)| h.to_string()).collect(),
                from: format!("logs under {}", placed.folder[..=end].join("/")),
            });
        }
        None
    }
}

/// The entry of folder `dir` named `name` in any case.
pub(super) fn child(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|e| e.path())
}

/// A live system's own Tasks folder (`C:\Windows\System32\Tasks`, read by `summarize` on the
/// endpoint): the collection folder is the drive, so the host is this computer (Windows'
/// `COMPUTERNAME`).
fn this_computer(placed: &Placed) -> Option<String> {
    if !cfg!(windows) || !is_drive(&placed.collection) {
        return None;
    }
    std::env::var("COMPUTERNAME").ok().filter(|n| !n.is_empty())
}

/// A stable identity of a definition on a host: its name and its bytes. The same file read
/// from a collection and from an archive of it is one definition, whatever its time stamps.
pub fn identity(name: &str, content: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.to_lowercase().hash(&mut h);
    content.hash(&mut h);
    h.finish()
}

/// The record of a task XML file, and where a registry was given, how the file compares with
/// its entry there (the entry's name and the comparison).
pub fn xml_record(
    path: &str,
    bytes: &[u8],
    modified: Option<i64>,
    placed: &Placed,
    host: &HostOf,
    report: &mut FileReport,
    registry: Option<&super::taskcache::TaskCache>,
) -> (RawEvent, Option<super::registry::EntryCompared>) {
    let text = decode(bytes);
    let text = text.trim_start_matches('\u{feff}').to_string();
    let parsed = crate::profile::task_xml::parse(&text);
    if parsed.as_ref().is_none_or(|x| x.malformed) {
        report.problem("malformed task XML: what comes before the error is read");
    }
    let mut data = base_data(path, placed, host);
    data.push(("TaskContent".into(), text));
    // What the TaskCache's `Hash` is of: the file's bytes after its byte-order mark.
    let body = bytes.strip_prefix(&[0xff, 0xfe]).unwrap_or(bytes);
    let digest = sha256_bytes(body);
    data.push(("Sha256".into(), to_hex(&digest)));
    let mut compared = None;
    if let Some(cache) = registry {
        let (facts, c) =
            super::registry::file_facts_compared(&placed.name, &digest, parsed.as_ref(), cache);
        data.extend(facts);
        compared = c;
    }
    let ev = definition_event(DEF_XML, data, bytes, modified, placed, host, &report.path);
    (ev, compared)
}

/// A definition file's record on the [`CH_TASK_DEFINITION`] channel, its identity the
/// task's name and the file's bytes.
pub(super) fn definition_event(
    event_id: u32,
    data: Vec<(String, String)>,
    bytes: &[u8],
    modified: Option<i64>,
    placed: &Placed,
    host: &HostOf,
    source: &str,
) -> RawEvent {
    RawEvent {
        source: Arc::from(source),
        channel: CH_TASK_DEFINITION.into(),
        event_id,
        provider: String::new(),
        computer: host.host.clone(),
        time: modified,
        record_id: Some(identity(&placed.name, bytes)),
        data,
    }
}

/// The record of a legacy `.job` file, or `None` (with the problem reported) when it is not
/// one.
pub fn job_record(
    path: &str,
    bytes: &[u8],
    modified: Option<i64>,
    placed: &Placed,
    host: &HostOf,
    report: &mut FileReport,
) -> Option<RawEvent> {
    let job = match super::job::parse(bytes) {
        Ok(j) => j,
        Err(e) => {
            report.problem(format!("not a readable .job file: {e}"));
            report.skipped += 1;
            return None;
        }
    };
    let mut data = base_data(path, placed, host);
    data.extend(job.fields());
    Some(definition_event(
        DEF_JOB,
        data,
        bytes,
        modified,
        placed,
        host,
        &report.path,
    ))
}

/// The SHA-256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Bytes as lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn base_data(path: &str, placed: &Placed, host: &HostOf) -> Vec<(String, String)> {
    let mut data = vec![
        ("TaskName".to_string(), placed.name.clone()),
        ("File".to_string(), path.to_string()),
        ("HostFrom".to_string(), host.from.clone()),
    ];
    if !host.aliases.is_empty() {
        data.push(("HostAliases".into(), host.aliases.join(", ")));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_bom(s: &str) -> Vec<u8> {
        let mut b = vec![0xff, 0xfe];
        for u in s.encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        b
    }

    #[test]
    fn task_xml_is_told_by_its_root_in_any_encoding() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<!-- x -->\r\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">";
        assert!(is_task_xml(&utf16le_bom(xml)));
        assert!(is_task_xml(&utf16le_bom(xml)[2..]), "without a BOM");
        let be: Vec<u8> = xml.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(is_task_xml(&be));
        assert!(is_task_xml(xml.as_bytes()));
        assert!(is_task_xml(format!("\u{feff}{xml}").as_bytes()));
        assert!(!is_task_xml(b"<?xml version=\"1.0\"?><Tasks/>"));
        assert!(!is_task_xml(b"<Taskbar>"));
        assert!(!is_task_xml(b"{\"json\": 1}"));
        assert!(!is_task_xml(b"<?xml never closed"));
        assert!(!is_task_xml(&[]));
        assert_eq!(decode(&utf16le_bom("<Task/>")), "<Task/>");
    }

    #[test]
    fn names_below_the_tasks_folder() {
        let p = place("/ev/WS1/C/Windows/System32/Tasks/Microsoft/Windows/Defrag/ScheduledDefrag");
        assert_eq!(p.name, "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag");
        assert_eq!(p.collection, "WS1");
        let p = place("hunt.zip!uploads/auto/C%3A/Windows/Tasks/At1.job");
        assert_eq!(p.name, "\\At1");
        assert_eq!(p.collection, "hunt");
        let p = place(
            "h.zip!clients/C.0123456789abcdef/collections/F.1/uploads/ntfs/%5C%5C.%5CC%3A/Windows/System32/tasks/Evil",
        );
        assert_eq!(p.name, "\\Evil");
        assert_eq!(p.collection, "C.0123456789abcdef");
        let p = place("/somewhere/loose/Updater");
        assert_eq!(p.name, "\\Updater");
        assert_eq!(p.collection, "loose");
    }

    #[test]
    fn the_host_comes_from_the_logs_beside_the_tasks_folder() {
        let mut logs = FileReport::new(
            "/ev/WS1/C/Windows/System32/winevt/Logs/System.evtx".into(),
            "evtx",
        );
        for _ in 0..3 {
            logs.witnessed
                .count("WS1.corp.local", "System", 7036, Some(1));
        }
        logs.witnessed.count("OLDNAME", "System", 7036, Some(0));
        let mut other = FileReport::new(
            "/ev/WS2/C/Windows/System32/winevt/Logs/S.evtx".into(),
            "evtx",
        );
        other.witnessed.count("WS2", "System", 1, None);
        let mut map = HostMap::new(&[logs, other]);
        let h = map.host_of(&place("/ev/WS1/C/Windows/System32/Tasks/A"));
        assert_eq!(h.host, "ws1.corp.local");
        assert_eq!(h.aliases, ["oldname"]);
        assert!(h.from.starts_with("logs under"), "{}", h.from);
        // A collection without logs: its folder's name, never a neighbour's logs.
        let h = map.host_of(&place("/ev/WS3/C/Windows/System32/Tasks/A"));
        assert_eq!(h.host, "ws3");
        assert_eq!(h.from, "the collection folder's name");
    }
}
