//! What a host's logs could have said about scheduled tasks: counted for every record read,
//! whether or not a profile keeps it, so that a quiet host is told apart from a clean one.
//!
//! On a default Windows host the TaskScheduler/Operational channel is disabled and task
//! auditing (Security 4698-4702, "Other Object Access Events") is off: no record about a task
//! is ever written, and only the task definitions on disk can be hunted. [`Evidence`] counts,
//! per host, the records of each channel that could have recorded a task, and their times.

use serde::{Deserialize, Serialize};

use crate::event::{CH_SECURITY, CH_SYSMON, CH_TASKSCHEDULER};

/// A span of record times (microseconds since the epoch, UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<i64>,
}

impl Span {
    pub fn add(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    pub fn merge(&mut self, other: Span) {
        self.add(other.first);
        self.add(other.last);
    }

    /// Whether `t` falls within the span.
    pub fn covers(&self, t: i64) -> bool {
        matches!((self.first, self.last), (Some(f), Some(l)) if f <= t && t <= l)
    }
}

/// One host's records, by what they could say about tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Every record of the host, of any channel.
    pub records: u64,
    /// TaskScheduler/Operational records (registrations 106, runs 200/201, ...).
    pub operational: u64,
    /// Security 4698-4702 (task created, deleted, enabled, disabled, updated).
    pub task_audit: u64,
    /// Process creations that could show `schtasks.exe` (Security 4688, Sysmon 1).
    pub process_creation: u64,
    /// Sysmon records of any event id.
    pub sysmon: u64,
    /// Security records of any event id.
    pub security: u64,
    /// All records.
    pub span: Span,
    /// TaskScheduler/Operational records.
    pub operational_span: Span,
    /// Security records: while it was recording, a task registered with auditing on left a
    /// 4698.
    pub security_span: Span,
    /// Whether the host's SOFTWARE hive says its TaskScheduler/Operational channel is
    /// enabled (`WINEVT\Channels\...\Enabled`); none where no hive was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_enabled: Option<bool>,
    /// The same for Sysmon's channel (none also where Sysmon is not installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysmon_enabled: Option<bool>,
}

/// Two accounts of a channel setting: enabled if either saw it enabled.
fn either(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x || y),
        (x, y) => x.or(y),
    }
}

impl Evidence {
    /// Count one record of `channel` (canonical, [`crate::event::canonical_channel`]).
    pub fn count(&mut self, channel: &str, event_id: u32, time: Option<i64>) {
        self.records = self.records.saturating_add(1);
        self.span.add(time);
        match channel {
            CH_TASKSCHEDULER => {
                self.operational = self.operational.saturating_add(1);
                self.operational_span.add(time);
            }
            CH_SECURITY => {
                self.security = self.security.saturating_add(1);
                self.security_span.add(time);
                match event_id {
                    4698..=4702 => self.task_audit = self.task_audit.saturating_add(1),
                    4688 => self.process_creation = self.process_creation.saturating_add(1),
                    _ => {}
                }
            }
            CH_SYSMON => {
                self.sysmon = self.sysmon.saturating_add(1);
                if event_id == 1 {
                    self.process_creation = self.process_creation.saturating_add(1);
                }
            }
            _ => {}
        }
    }

    /// Add another file's (or input's) records of the same host.
    pub fn add(&mut self, o: &Evidence) {
        self.records = self.records.saturating_add(o.records);
        self.operational = self.operational.saturating_add(o.operational);
        self.task_audit = self.task_audit.saturating_add(o.task_audit);
        self.process_creation = self.process_creation.saturating_add(o.process_creation);
        self.sysmon = self.sysmon.saturating_add(o.sysmon);
        self.security = self.security.saturating_add(o.security);
        self.span.merge(o.span);
        self.operational_span.merge(o.operational_span);
        self.security_span.merge(o.security_span);
        self.operational_enabled = either(self.operational_enabled, o.operational_enabled);
        self.sysmon_enabled = either(self.sysmon_enabled, o.sysmon_enabled);
    }

    /// The larger of two accounts of one host (the same logs described twice count once).
    pub fn max(&mut self, o: &Evidence) {
        self.records = self.records.max(o.records);
        self.operational = self.operational.max(o.operational);
        self.task_audit = self.task_audit.max(o.task_audit);
        self.process_creation = self.process_creation.max(o.process_creation);
        self.sysmon = self.sysmon.max(o.sysmon);
        self.security = self.security.max(o.security);
        self.span.merge(o.span);
        self.operational_span.merge(o.operational_span);
        self.security_span.merge(o.security_span);
        self.operational_enabled = either(self.operational_enabled, o.operational_enabled);
        self.sysmon_enabled = either(self.sysmon_enabled, o.sysmon_enabled);
    }
}

/// Hosts a file's records name, at most this many tallied apart (a forwarded-events log
/// holds many; past the cap the rest go to the last host, and the file says so).
pub const MAX_HOSTS_PER_FILE: usize = 4096;

/// The records of one file, per host (lower-cased names as the dataset keeps them).
#[derive(Debug, Clone, Default)]
pub struct Witnessed {
    hosts: Vec<(String, Evidence)>,
    /// The last host counted, as the record spelt it, and its slot: records of a file
    /// nearly always share one host, so that a record costs one string comparison.
    last: Option<(String, usize)>,
    pub overflowed: bool,
}

impl Witnessed {
    /// Count a record of `computer` (as the record spells it).
    pub fn count(&mut self, computer: &str, channel: &str, event_id: u32, time: Option<i64>) {
        let slot = match &self.last {
            Some((name, slot)) if name == computer => *slot,
            _ => {
                let lower = computer.trim().to_lowercase();
                let slot = match self.hosts.iter().position(|(h, _)| *h == lower) {
                    Some(i) => i,
                    None if self.hosts.len() < MAX_HOSTS_PER_FILE => {
                        self.hosts.push((lower, Evidence::default()));
                        self.hosts.len() - 1
                    }
                    None => {
                        self.overflowed = true;
                        self.hosts.len() - 1
                    }
                };
                self.last = Some((computer.to_string(), slot));
                slot
            }
        };
        self.hosts[slot].1.count(channel, event_id, time);
    }

    /// A host's evidence changed without a record counted (a hive's channel settings).
    pub fn note(&mut self, host: &str, f: impl FnOnce(&mut Evidence)) {
        let lower = host.trim().to_lowercase();
        let slot = match self.hosts.iter().position(|(h, _)| *h == lower) {
            Some(i) => i,
            None => {
                self.hosts.push((lower, Evidence::default()));
                self.hosts.len() - 1
            }
        };
        f(&mut self.hosts[slot].1);
    }

    /// (host, its records), in the order first met.
    pub fn hosts(&self) -> &[(String, Evidence)] {
        &self.hosts
    }

    /// The host most of the file's records name (ties: the lexically first), if any.
    pub fn main_host(&self) -> Option<&str> {
        self.hosts
            .iter()
            .filter(|(h, _)| !h.is_empty())
            .max_by(|a, b| a.1.records.cmp(&b.1.records).then(b.0.cmp(&a.0)))
            .map(|(h, _)| h.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_could_show_a_task() {
        let mut w = Witnessed::default();
        w.count("WS1.corp", CH_SECURITY, 4624, Some(10));
        w.count("WS1.corp", CH_SECURITY, 4698, Some(20));
        w.count("ws1.CORP", CH_SYSMON, 1, Some(5));
        w.count("dc1", CH_TASKSCHEDULER, 106, None);
        let hosts = w.hosts();
        assert_eq!(hosts.len(), 2);
        let (h, e) = &hosts[0];
        assert_eq!(h, "ws1.corp");
        assert_eq!(
            (
                e.records,
                e.security,
                e.task_audit,
                e.sysmon,
                e.process_creation
            ),
            (3, 2, 1, 1, 1)
        );
        assert_eq!((e.span.first, e.span.last), (Some(5), Some(20)));
        assert_eq!(e.security_span.first, Some(10));
        assert!(e.security_span.covers(15) && !e.security_span.covers(30));
        assert_eq!(hosts[1].1.operational, 1);
        assert_eq!(w.main_host(), Some("ws1.corp"));
    }
}
