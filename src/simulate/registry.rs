//! A simulated host's SOFTWARE hive: its TaskCache (one `Tree` key and one `Tasks\{GUID}`
//! key per task, registered under `Plain`, `Logon` or `Boot`) consistent with its Tasks
//! folder, the TaskScheduler/Operational channel's `Enabled` as the host logs, and the
//! registry-level attacks planted on it ([`Tamper`]). The values are encoded as Windows 10
//! writes them (`Actions` version 3, `Triggers` version 0x17, 36-byte `DynamicInfo`), the
//! layouts [`crate::ingest::taskcache`] decodes.

use super::regf::{self, RegKey};
use crate::profile::task_xml;

/// A registry-level change an attacker made to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tamper {
    #[default]
    None,
    /// The Tree key's `SD` value deleted (Tarrask).
    NoSd,
    /// The Tree key's `Index` set to 0.
    IndexZero,
    /// Written to the registry alone: no file in the Tasks folder (GhostTask).
    RegistryOnly,
    /// The `Actions` value rewritten to run this (command, arguments); the file unchanged.
    Actions(String, String),
}

/// One task of the hive.
pub struct Entry<'a> {
    /// `\Folder\Task`.
    pub name: &'a str,
    /// Its definition (the file's text, or what the registry alone was given).
    pub xml: &'a str,
    /// When it was registered (the keys' last written time).
    pub written: i64,
    pub tamper: Tamper,
}

/// Where a host's SOFTWARE hive lies in its collection, as KAPE lays it out.
pub fn hive_file(host: &str) -> String {
    format!("{host}/C/Windows/System32/config/SOFTWARE")
}

/// A stable GUID for a task name (FNV-1a of the name, twice).
fn guid_of(name: &str) -> [u8; 16] {
    let fnv = |seed: u64| {
        name.to_lowercase().bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut g = [0u8; 16];
    g[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_le_bytes());
    g[8..].copy_from_slice(&fnv(0x6c62_272e_07bb_0142).to_le_bytes());
    g
}

/// `{0358B920-0AC7-461F-98F4-58E32CD89148}` as the 16 bytes a COM action holds.
fn guid_bytes(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| d as u8)
        .collect();
    let mut raw = [0u8; 16];
    for (i, pair) in hex.chunks_exact(2).take(16).enumerate() {
        raw[i] = pair[0] * 16 + pair[1];
    }
    let mut g = raw;
    g[..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    g[4..6].copy_from_slice(&[raw[5], raw[4]]);
    g[6..8].copy_from_slice(&[raw[7], raw[6]]);
    g
}

fn bstr(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    out.extend((units.len() as u32).to_le_bytes());
    out.extend(units);
}

/// An `Actions` value, version 3.
pub fn actions_blob(x: &task_xml::TaskXml, replaced: Option<(&str, &str)>) -> Vec<u8> {
    let mut b = 3u16.to_le_bytes().to_vec();
    bstr(&mut b, "Author");
    if let Some((command, arguments)) = replaced {
        exec(&mut b, command, arguments, "");
    } else if let Some(a) = x.exec.first() {
        exec(&mut b, &a.command, &a.arguments, &a.working_directory);
    } else if let Some(clsid) = x.com_class_ids.first() {
        b.extend(0x7777u16.to_le_bytes());
        bstr(&mut b, "");
        b.extend(guid_bytes(clsid));
        bstr(&mut b, "");
    }
    b
}

fn exec(b: &mut Vec<u8>, command: &str, arguments: &str, dir: &str) {
    b.extend(0x6666u16.to_le_bytes());
    bstr(b, "");
    bstr(b, command);
    bstr(b, arguments);
    bstr(b, dir);
    b.extend(0u16.to_le_bytes());
}

/// Aligned fields of a `Triggers` value.
struct Aligned(Vec<u8>);

impl Aligned {
    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(8) {
            self.0.push(0);
        }
    }
    fn u1(&mut self, v: u8) {
        self.0.push(v);
        self.0.extend([0; 7]);
    }
    fn u4(&mut self, v: u32) {
        self.0.extend(v.to_le_bytes());
        self.0.extend([0; 4]);
    }
    fn buffer(&mut self, b: &[u8]) {
        self.u4(b.len() as u32);
        self.0.extend(b);
        self.pad();
    }
    fn bstr(&mut self, s: &str) {
        let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        self.buffer(&units);
    }
    /// A trigger id: a length-prefixed string padded with its length to 8.
    fn id(&mut self) {
        self.0.extend(0u32.to_le_bytes());
        self.pad();
    }
}

/// A SID string (`S-1-5-21-...`) as its binary form.
fn sid_bytes(sid: &str) -> Vec<u8> {
    let parts: Vec<u64> = sid
        .split('-')
        .skip(1)
        .filter_map(|p| p.parse().ok())
        .collect();
    if parts.len() < 2 {
        return Vec::new();
    }
    let mut b = vec![parts[0] as u8, (parts.len() - 2) as u8];
    b.extend(&parts[1].to_be_bytes()[2..]);
    for sub in &parts[2..] {
        b.extend((*sub as u32).to_le_bytes());
    }
    b
}

/// A `Triggers` value, version 0x17: the job bucket (settings, principal) and one trigger
/// per trigger of the definition.
pub fn triggers_blob(x: &task_xml::TaskXml) -> Vec<u8> {
    let mut a = Aligned(Vec::new());
    a.u1(0x17);
    a.0.extend([0; 32]);
    let mut flags = 0x40_0000 * u32::from(x.enabled != Some(false));
    if x.hidden == Some(true) {
        flags |= 0x80_0000;
    }
    if x.run_level.eq_ignore_ascii_case("HighestAvailable") {
        flags |= 0x100_0000;
    }
    flags |= match x.logon_type.to_ascii_lowercase().as_str() {
        "s4u" => 0x4000,
        "interactivetoken" => 0x10000,
        "password" => 0x40000,
        "interactivetokenorpassword" => 0x80000,
        _ => 0,
    };
    a.u4(flags);
    a.u4(0); // the XML's CRC-32: not checked by anything here
    a.bstr("Author");
    a.bstr("");
    // The user: its SID, no name.
    let sid = if x.user_id.is_empty() {
        &x.group_id
    } else {
        &x.user_id
    };
    a.u1(0);
    a.u1(0);
    a.u4(1);
    a.buffer(&sid_bytes(sid));
    a.bstr("");
    a.u4(0); // no optional settings
    for kind in &x.triggers {
        let generic = |a: &mut Aligned, magic: u32| {
            a.u4(magic);
            let mut g = [0u8; 72];
            if x.repeats {
                g[40..44].copy_from_slice(&3600u32.to_le_bytes());
            }
            g[64] = 1;
            a.0.extend(g);
            a.id();
        };
        match kind.as_str() {
            "Time" | "Calendar" => {
                a.u4(0xdddd);
                let mut s = [0u8; 88];
                if x.repeats {
                    s[48..52].copy_from_slice(&3600u32.to_le_bytes());
                }
                let mode: u32 = if kind == "Time" { 0 } else { 1 };
                s[60..64].copy_from_slice(&mode.to_le_bytes());
                a.0.extend(s);
                a.id();
            }
            "Boot" => generic(&mut a, 0xffff),
            "Idle" => generic(&mut a, 0xeeee),
            "Registration" => generic(&mut a, 0x8888),
            "Logon" => {
                generic(&mut a, 0xaaaa);
                a.u1(1); // any user
            }
            "Event" => {
                generic(&mut a, 0xcccc);
                a.u4(0); // no subscription text
                a.0.extend([0; 8]);
                a.u4(0);
                a.u4(0); // no value queries
            }
            _ => {}
        }
    }
    a.0
}

/// A `DynamicInfo` value (36 bytes): created at `created`, never run.
pub fn dynamic_info(created: i64) -> Vec<u8> {
    let mut b = 3u32.to_le_bytes().to_vec();
    b.extend(regf::filetime(created).to_le_bytes());
    b.extend([0u8; 24]);
    b
}

/// The SOFTWARE hive of a host with these tasks; `operational`: whether its
/// TaskScheduler/Operational channel is enabled.
pub fn software_hive(entries: &[Entry<'_>], operational: bool, written: i64) -> Vec<u8> {
    let root = software_root(entries, operational, written);
    regf::hive(&root, "\\SystemRoot\\System32\\Config\\SOFTWARE", written)
}

/// The keys of [`software_hive`], before they are written.
pub fn software_root(entries: &[Entry<'_>], operational: bool, written: i64) -> RegKey {
    let mut root = RegKey::new("ROOT", written);
    root.at("Microsoft\\Windows NT\\CurrentVersion", written)
        .set_sz("ProductName", "Windows 10 Enterprise")
        .set_sz("CurrentBuild", "19045");
    let cache_path = crate::ingest::taskcache::TASKCACHE;
    let sd = regf::security_descriptor();
    for e in entries {
        let Some(x) = task_xml::parse(e.xml) else {
            continue;
        };
        let id = crate::ingest::taskcache::guid(&guid_of(e.name));
        let folders: Vec<&str> = e.name.split('\\').filter(|p| !p.is_empty()).collect();
        let mut path = format!("{cache_path}\\Tree");
        for (i, part) in folders.iter().enumerate() {
            path.push('\\');
            path.push_str(part);
            let key = root.at(&path, e.written);
            if i + 1 < folders.len() {
                if key.values.is_empty() {
                    key.set("SD", regf::REG_BINARY, sd.clone());
                }
                continue;
            }
            key.set_sz("Id", &id);
            let index = match x.triggers.first().map(String::as_str) {
                Some("Boot") => 1,
                Some("Logon") => 2,
                _ => 3,
            };
            key.set_dword(
                "Index",
                if e.tamper == Tamper::IndexZero {
                    0
                } else {
                    index
                },
            );
            if e.tamper != Tamper::NoSd {
                key.set("SD", regf::REG_BINARY, sd.clone());
            }
        }
        let start = match x.triggers.first().map(String::as_str) {
            Some("Boot") => "Boot",
            Some("Logon") => "Logon",
            _ => "Plain",
        };
        root.at(&format!("{cache_path}\\{start}\\{id}"), e.written);
        let body: Vec<u8> = e.xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let replaced = match &e.tamper {
            Tamper::Actions(c, a) => Some((c.as_str(), a.as_str())),
            _ => None,
        };
        let k = root.at(&format!("{cache_path}\\Tasks\\{id}"), e.written);
        k.set_sz("Path", e.name)
            .set(
                "Hash",
                regf::REG_BINARY,
                crate::ingest::definitions::sha256_bytes(&body).to_vec(),
            )
            .set_dword("Schema", 0x10002)
            .set_sz("URI", e.name)
            .set("Actions", regf::REG_BINARY, actions_blob(&x, replaced))
            .set("Triggers", regf::REG_BINARY, triggers_blob(&x))
            .set("DynamicInfo", regf::REG_BINARY, dynamic_info(e.written));
        if !x.author.is_empty() {
            k.set_sz("Author", &x.author);
        }
    }
    let channels = crate::ingest::taskcache::CHANNELS;
    for (name, on) in [
        ("Microsoft-Windows-TaskScheduler/Operational", operational),
        ("Application", true),
        ("System", true),
    ] {
        root.at(&format!("{channels}\\{name}"), written)
            .set_dword("Enabled", u32::from(on));
    }
    root
}
