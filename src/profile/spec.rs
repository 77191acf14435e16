//! Data-driven profiles: a profile written as a table (which channels and event ids, which
//! fields, each read from named raw fields through one of a few [`Derive`] rules) instead of
//! code. The services and process-creation profiles are such tables; a new one is a new
//! [`Spec`] and a line in [`super::by_name`] (README, "Adding a profile").

use super::Profile;
use super::features::{
    base_name, dir_class, is_lolbin, mask_volatile, normalize_path, normalize_user, split_exe_args,
    suspicious_flags,
};
use crate::event::RawEvent;

/// How a feature is derived from the first raw field of [`Field::from`] the event has.
#[derive(Debug, Clone, Copy)]
pub enum Derive {
    /// Trimmed and lower-cased.
    Text,
    /// A name (service, task): volatile parts (GUIDs, SIDs, long digit runs) masked, case kept.
    Name,
    /// An account, normalised like every user field (`LocalSystem` is `nt authority\system`).
    Account,
    /// A code through a table (case-insensitive), else the value lower-cased.
    Map(&'static [(&'static str, &'static str)]),
    /// From a command line (or an image path with arguments): the executable, normalised.
    Command,
    /// ... its arguments, normalised and with volatile parts masked.
    Arguments,
    /// ... the executable's file name.
    Exe,
    /// ... the class of the executable's folder (`system32`, `temp`, `user-profile`, ...).
    DirClass,
    /// ... `yes` when the executable is a living-off-the-land binary.
    Lolbin,
    /// ... the suspicious traits of the command line (encoded, hidden window, pipes, ...).
    Flags,
}

/// One feature of a data-driven profile.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    /// Raw field names, first present wins (different event ids name the same thing
    /// differently: 7045's `ImagePath` is 4697's `ServiceFileName`).
    pub from: &'static [&'static str],
    pub derive: Derive,
}

/// A data-driven profile.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    /// (canonical channel, event ids) read; events of other channels and ids are dropped at
    /// once while reading.
    pub sources: &'static [(&'static str, &'static [u32])],
    /// Field names, in output order (the names of `fields`; a unit test checks they agree).
    pub names: &'static [&'static str],
    pub fields: &'static [Field],
    /// Every raw field that `fields` read (a unit test checks it is complete).
    pub inputs: &'static [&'static str],
    /// The fields the list shows as name, user, command and arguments.
    pub headline: [&'static str; 4],
}

/// A [`Spec`] as a [`Profile`].
pub struct SpecProfile(pub &'static Spec);

fn account(v: &str) -> String {
    match v.trim().to_ascii_lowercase().as_str() {
        "localsystem" | ".\\localsystem" => "nt authority\\system".into(),
        _ => normalize_user("", v),
    }
}

/// Paths as services and drivers give them: `\SystemRoot\...` and bare `System32\...`.
fn image_path(p: &str) -> String {
    let t = p.trim();
    let lower = t.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("\\systemroot\\") {
        return format!("c:\\windows\\{rest}");
    }
    if lower.starts_with("system32\\") {
        return format!("c:\\windows\\{lower}");
    }
    t.to_string()
}

/// Derive one feature from a raw value.
pub fn derive(d: Derive, raw: &str) -> String {
    let split = || {
        let (exe, args) = split_exe_args(raw);
        (normalize_path(&image_path(&exe)), args)
    };
    match d {
        Derive::Text => raw.trim().to_lowercase(),
        Derive::Name => mask_volatile(raw.trim()),
        Derive::Account => account(raw),
        Derive::Map(table) => {
            let t = raw.trim();
            table
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(t))
                .map_or_else(|| t.to_lowercase(), |(_, name)| (*name).to_string())
        }
        Derive::Command => split().0,
        Derive::Arguments => mask_volatile(&normalize_path(&split().1)),
        Derive::Exe => base_name(&split().0),
        Derive::DirClass => dir_class(&split().0).to_string(),
        Derive::Lolbin => {
            let exe = base_name(&split().0);
            if !exe.is_empty() && is_lolbin(&exe) {
                "yes".into()
            } else {
                String::new()
            }
        }
        Derive::Flags => suspicious_flags(&base_name(&split().0), raw),
    }
}

impl Profile for SpecProfile {
    fn name(&self) -> &'static str {
        self.0.name
    }

    fn fields(&self) -> &'static [&'static str] {
        self.0.names
    }

    fn inputs(&self) -> &'static [&'static str] {
        self.0.inputs
    }

    fn headline(&self) -> [&'static str; 4] {
        self.0.headline
    }

    fn sources(&self) -> &'static [(&'static str, &'static [u32])] {
        self.0.sources
    }

    fn wants(&self, ev: &RawEvent) -> bool {
        let ch = ev.canonical_channel();
        self.0
            .sources
            .iter()
            .any(|(c, ids)| *c == ch && (ids.is_empty() || ids.contains(&ev.event_id)))
    }

    fn display(&self, ev: &RawEvent) -> [String; 2] {
        let raw = |name: &str| {
            self.0
                .fields
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| ev.first(f.from))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        [raw(self.0.headline[0]), raw(self.0.headline[2])]
    }

    fn extract(&self, ev: &RawEvent) -> Option<Vec<String>> {
        if !self.wants(ev) {
            return None;
        }
        Some(
            self.0
                .fields
                .iter()
                .map(|f| {
                    ev.first(f.from)
                        .map(|raw| derive(f.derive, raw))
                        .unwrap_or_default()
                })
                .collect(),
        )
    }
}

#[cfg(test)]
pub(crate) fn check(spec: &Spec) {
    let names: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
    assert_eq!(
        names, spec.names,
        "{}: names and fields disagree",
        spec.name
    );
    for f in spec.fields {
        for i in f.from {
            assert!(
                spec.inputs.contains(i),
                "{}: {i} is not in inputs",
                spec.name
            );
        }
    }
    for h in spec.headline {
        assert!(spec.names.contains(&h), "{}: headline {h}", spec.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_and_image_paths() {
        let psexec = "cmd.exe /c echo hgabms > \\\\.\\pipe\\hgabms";
        assert_eq!(derive(Derive::Command, psexec), "cmd.exe");
        assert_eq!(derive(Derive::Exe, psexec), "cmd.exe");
        assert_eq!(derive(Derive::Lolbin, psexec), "yes");
        assert_eq!(
            derive(Derive::Arguments, psexec),
            "/c echo hgabms > \\\\.\\pipe\\hgabms"
        );
        let driver = "\\SystemRoot\\System32\\drivers\\WUDFRd.sys";
        assert_eq!(
            derive(Derive::Command, driver),
            "c:\\windows\\system32\\drivers\\wudfrd.sys"
        );
        assert_eq!(
            derive(
                Derive::Command,
                "\"C:\\Program Files\\Vendor\\svc.exe\" -k run"
            ),
            "c:\\program files\\vendor\\svc.exe"
        );
        assert_eq!(
            derive(
                Derive::Arguments,
                "\"C:\\Program Files\\Vendor\\svc.exe\" -k run"
            ),
            "-k run"
        );
        assert_eq!(
            derive(Derive::Account, "LocalSystem"),
            "nt authority\\system"
        );
        assert_eq!(
            derive(Derive::Map(&[("0x10", "user mode service")]), "0X10"),
            "user mode service"
        );
        assert_eq!(derive(Derive::Map(&[]), "Auto Start"), "auto start");
    }
}
