//! The services profile (MITRE ATT&CK T1543.003, and PsExec-style lateral movement): service
//! installations, System 7045 (Service Control Manager) and Security 4697, as one table.

use super::spec::{Derive, Field, Spec};
use crate::event::{CH_SECURITY, CH_SYSTEM};

/// 4697 gives codes, 7045 names: both become 7045's names.
const SERVICE_TYPES: &[(&str, &str)] = &[
    ("0x1", "kernel mode driver"),
    ("0x2", "file system driver"),
    ("0x10", "user mode service"),
    ("0x20", "user mode service"),
    ("0x50", "user mode service"),
    ("0x60", "user mode service"),
    ("0x110", "interactive user mode service"),
    ("0x120", "interactive user mode service"),
];

const START_TYPES: &[(&str, &str)] = &[
    ("0", "boot start"),
    ("1", "system start"),
    ("2", "auto start"),
    ("3", "demand start"),
    ("4", "disabled"),
];

const IMAGE: &[&str] = &["ImagePath", "ServiceFileName"];

pub static SPEC: Spec = Spec {
    name: "services",
    sources: &[(CH_SYSTEM, &[7045]), (CH_SECURITY, &[4697])],
    names: &[
        "service_name",
        "image",
        "arguments",
        "exe",
        "dir_class",
        "lolbin",
        "cmd_flags",
        "service_type",
        "start_type",
        "account",
        "installed_by",
    ],
    fields: &[
        Field {
            name: "service_name",
            from: &["ServiceName"],
            derive: Derive::Name,
        },
        Field {
            name: "image",
            from: IMAGE,
            derive: Derive::Command,
        },
        Field {
            name: "arguments",
            from: IMAGE,
            derive: Derive::Arguments,
        },
        Field {
            name: "exe",
            from: IMAGE,
            derive: Derive::Exe,
        },
        Field {
            name: "dir_class",
            from: IMAGE,
            derive: Derive::DirClass,
        },
        Field {
            name: "lolbin",
            from: IMAGE,
            derive: Derive::Lolbin,
        },
        Field {
            name: "cmd_flags",
            from: IMAGE,
            derive: Derive::Flags,
        },
        Field {
            name: "service_type",
            from: &["ServiceType"],
            derive: Derive::Map(SERVICE_TYPES),
        },
        Field {
            name: "start_type",
            from: &["StartType", "ServiceStartType"],
            derive: Derive::Map(START_TYPES),
        },
        Field {
            name: "account",
            from: &["AccountName", "ServiceAccount"],
            derive: Derive::Account,
        },
        Field {
            name: "installed_by",
            from: &["SubjectUserName"],
            derive: Derive::Account,
        },
    ],
    inputs: &[
        "ServiceName",
        "ImagePath",
        "ServiceFileName",
        "ServiceType",
        "StartType",
        "ServiceStartType",
        "AccountName",
        "ServiceAccount",
        "SubjectUserName",
    ],
    headline: ["service_name", "account", "image", "arguments"],
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_is_consistent() {
        super::super::spec::check(&super::SPEC);
    }
}
