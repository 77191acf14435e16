//! Coverage: a quiet host is not a clean host. For every host of the input, what evidence
//! about scheduled tasks exists (definitions read, TaskScheduler/Operational and Security
//! task-audit records, process creations, Sysmon, summaries) and, in words, what could and
//! could not be seen ([`Visibility`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::frame::{Dataset, HostCoverage, RowKind, Visibility};
use crate::ingest::FileReport;
use crate::ingest::evidence::Evidence;

/// The verdict of a host's evidence.
pub fn seen(definitions: u64, e: &Evidence) -> Visibility {
    match (e.task_audit > 0, e.operational > 0) {
        (true, true) => Visibility::Everything,
        (true, false) => Visibility::Registrations,
        (false, true) => Visibility::Operational,
        (false, false) if definitions > 0 => Visibility::DefinitionsOnly,
        _ if e.process_creation > 0 => Visibility::ProcessCreationsOnly,
        _ => Visibility::Nothing,
    }
}

/// Add the records of the logs read (`reports`) to the hosts' evidence: a host's files add
/// up; where a summary also gave an account of the host, the larger counts (the same
/// evidence counts once).
pub fn add_logs(ds: &mut Dataset, reports: &[FileReport]) {
    let mut logs: BTreeMap<String, Evidence> = BTreeMap::new();
    for r in reports {
        for (host, e) in r.witnessed.hosts() {
            logs.entry(host.clone()).or_default().add(e);
        }
    }
    for (host, e) in logs {
        ds.evidence.entry(host).or_default().max(&e);
    }
}

/// Every host's coverage, by host name: its evidence ([`Dataset::evidence`]) and the
/// dataset's definitions.
pub fn build(ds: &Dataset) -> Vec<HostCoverage> {
    let logs = &ds.evidence;
    let mut definitions: BTreeMap<&str, u64> = BTreeMap::new();
    let mut aliases: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (u, e) in ds.uniques.iter().enumerate() {
        if e.kind() != RowKind::Definition {
            continue;
        }
        for (h, n) in e.hosts.iter().zip(&e.host_counts) {
            let d = definitions.entry(h.as_str()).or_default();
            *d = d.saturating_add(*n);
        }
        if let Some(a) = ds.first_raw(u).get("HostAliases") {
            let host = ds.first_raw(u).computer.trim().to_lowercase();
            if let Some(h) = e.hosts.iter().find(|h| **h == host) {
                aliases
                    .entry(h.as_str())
                    .or_default()
                    .extend(a.split(", ").map(|s| s.trim().to_lowercase()));
            }
        }
    }
    let summaries = &ds.summary_inputs;
    let hosts: BTreeSet<String> = logs
        .keys()
        .cloned()
        .chain(definitions.keys().map(|h| h.to_string()))
        .chain(summaries.keys().cloned())
        .chain(ds.hosts.iter().cloned())
        .filter(|h| !h.is_empty())
        .collect();
    hosts
        .into_iter()
        .map(|host| {
            let evidence = logs.get(&host).copied().unwrap_or_default();
            let defs = definitions.get(host.as_str()).copied().unwrap_or(0);
            HostCoverage {
                aliases: aliases
                    .get(host.as_str())
                    .map(|a| a.iter().filter(|x| **x != host).cloned().collect())
                    .unwrap_or_default(),
                definitions: defs,
                summaries: summaries.get(&host).copied().unwrap_or(0),
                seen: seen(defs, &evidence),
                evidence,
                host,
            }
        })
        .collect()
}

/// Hosts per verdict, in the order of [`Visibility::ALL`] (verdicts no host has left out).
pub fn tally(coverage: &[HostCoverage]) -> Vec<(Visibility, usize)> {
    Visibility::ALL
        .iter()
        .map(|&s| (s, coverage.iter().filter(|c| c.seen == s).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_say_what_could_be_seen() {
        let mut e = Evidence::default();
        assert_eq!(seen(0, &e), Visibility::Nothing);
        e.process_creation = 3;
        assert_eq!(seen(0, &e), Visibility::ProcessCreationsOnly);
        assert_eq!(seen(120, &e), Visibility::DefinitionsOnly);
        e.operational = 1;
        assert_eq!(seen(120, &e), Visibility::Operational);
        e.task_audit = 1;
        assert_eq!(seen(0, &e), Visibility::Everything);
        e.operational = 0;
        assert_eq!(seen(0, &e), Visibility::Registrations);
    }
}
