//! The process-creation profile: Security 4688 and Sysmon 1, as one table. Written to show
//! what a third profile costs: this file and one line in `profile::by_name`.

use super::spec::{Derive, Field, Spec};
use crate::event::{CH_SECURITY, CH_SYSMON};

const COMMAND_LINE: &[&str] = &["CommandLine"];

pub static SPEC: Spec = Spec {
    name: "processes",
    sources: &[(CH_SECURITY, &[4688]), (CH_SYSMON, &[1])],
    names: &[
        "image",
        "arguments",
        "exe",
        "dir_class",
        "lolbin",
        "cmd_flags",
        "parent",
        "user",
        "integrity",
    ],
    fields: &[
        Field {
            name: "image",
            from: &["NewProcessName", "Image"],
            derive: Derive::Command,
        },
        Field {
            name: "arguments",
            from: COMMAND_LINE,
            derive: Derive::Arguments,
        },
        Field {
            name: "exe",
            from: &["NewProcessName", "Image"],
            derive: Derive::Exe,
        },
        Field {
            name: "dir_class",
            from: &["NewProcessName", "Image"],
            derive: Derive::DirClass,
        },
        Field {
            name: "lolbin",
            from: &["NewProcessName", "Image"],
            derive: Derive::Lolbin,
        },
        Field {
            name: "cmd_flags",
            from: COMMAND_LINE,
            derive: Derive::Flags,
        },
        Field {
            name: "parent",
            from: &["ParentProcessName", "ParentImage"],
            derive: Derive::Exe,
        },
        Field {
            name: "user",
            from: &["User", "SubjectUserName"],
            derive: Derive::Account,
        },
        Field {
            name: "integrity",
            from: &["IntegrityLevel", "MandatoryLabel", "TokenElevationType"],
            derive: Derive::Text,
        },
    ],
    inputs: &[
        "NewProcessName",
        "Image",
        "CommandLine",
        "ParentProcessName",
        "ParentImage",
        "User",
        "SubjectUserName",
        "IntegrityLevel",
        "MandatoryLabel",
        "TokenElevationType",
    ],
    headline: ["exe", "user", "image", "arguments"],
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_is_consistent() {
        super::super::spec::check(&super::SPEC);
    }
}
