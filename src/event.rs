//! The raw event: one record of a Windows event log, whatever file or export it came from.
//!
//! Every reader (evtx, the JSON layouts) normalises into [`RawEvent`]; everything after ingest
//! works on it alone, so a new input format is one new reader and nothing else.

use std::sync::Arc;

/// One event record, normalised.
///
/// `data` holds the event's named fields (EventData `Data` elements, UserData children, or the
/// top-level fields of a flat export) in the order the source gave them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawEvent {
    /// The file the record was read from (for a zip member: `archive.zip!member`).
    pub source: Arc<str>,
    /// The channel as the source spelt it (`Security`, `security`, ...); empty when absent.
    pub channel: String,
    pub event_id: u32,
    pub provider: String,
    pub computer: String,
    /// Microseconds since the Unix epoch, UTC.
    pub time: Option<i64>,
    pub record_id: Option<u64>,
    pub data: Vec<(String, String)>,
}

impl RawEvent {
    /// The value of a data field, matched case-insensitively; `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first present, non-empty, non-placeholder (`-`) value among `names`.
    pub fn first(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .filter_map(|n| self.get(n))
            .map(str::trim)
            .find(|v| !v.is_empty() && *v != "-")
    }

    /// The channel in its canonical spelling (see [`canonical_channel`]).
    pub fn canonical_channel(&self) -> &'static str {
        canonical_channel(&self.channel)
    }
}

pub const CH_SECURITY: &str = "Security";
pub const CH_SYSTEM: &str = "System";
pub const CH_TASKSCHEDULER: &str = "Microsoft-Windows-TaskScheduler/Operational";
pub const CH_SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
/// Not a log: the task definitions found on a host (the Tasks folder's XML, legacy `.job`
/// files, a collector's parsed tasks), each read as one record of this channel.
pub const CH_TASK_DEFINITION: &str = "TaskDefinition";
/// The event id of a definition read from task XML (a file of the Tasks folder, a hunt's
/// `_XML` column, a collector's parsed XML task).
pub const DEF_XML: u32 = 1;
/// The event id of a definition read from a legacy `.job` file.
pub const DEF_JOB: u32 = 2;
/// The event id of a definition read from the registry's TaskCache (a SOFTWARE hive): what
/// the Task Scheduler actually runs.
pub const DEF_REG: u32 = 3;

/// Map the spellings seen in exports (`security`, Hayabusa's `Sec`, ...) onto the channels the
/// profiles know. Channels no profile uses come back as `""`: callers keep the raw name.
pub fn canonical_channel(raw: &str) -> &'static str {
    let c = raw.trim();
    if c.eq_ignore_ascii_case("security") || c.eq_ignore_ascii_case("sec") {
        CH_SECURITY
    } else if c.eq_ignore_ascii_case("system") || c.eq_ignore_ascii_case("sys") {
        CH_SYSTEM
    } else {
        // Called for every record: compared without lower-casing into a new string.
        let has = |needle: &str| {
            c.as_bytes()
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        };
        if c.eq_ignore_ascii_case(CH_TASK_DEFINITION) {
            CH_TASK_DEFINITION
        } else if (has("taskscheduler") && !has("maintenance"))
            || c.eq_ignore_ascii_case("tasksch")
            || c.eq_ignore_ascii_case("tasksched")
        {
            CH_TASKSCHEDULER
        } else if has("sysmon") {
            CH_SYSMON
        } else {
            ""
        }
    }
}

/// Render microseconds since the epoch as RFC 3339 (UTC, `Z`), or `""` for no time.
pub fn rfc3339(micros: Option<i64>) -> String {
    micros
        .and_then(|m| jiff::Timestamp::from_microsecond(m).ok())
        .map(|t| format!("{t:.6}"))
        .unwrap_or_default()
}

/// Parse the timestamp spellings of the supported exports into microseconds since the epoch.
///
/// Accepts RFC 3339 (`2020-12-19T07:00:22.264Z`), the same with a space for `T` and an offset
/// (`2016-08-19 08:06:57.658 +09:00`), a naive date-time taken as UTC (`2020-09-21 23:03:38`,
/// `2020-12-19T07:00:22.2640000`), and epoch seconds as a number or string (Velociraptor).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_microsecond());
    }
    // `2016-08-19 08:06:57.658 +09:00`: join the offset so jiff reads it.
    if let Some((dt, off)) = s.rsplit_once(' ')
        && (off.starts_with('+') || off.starts_with('-'))
        && let Ok(t) = format!("{}{}", dt.replacen(' ', "T", 1), off).parse::<jiff::Timestamp>()
    {
        return Some(t.as_microsecond());
    }
    if let Ok(dt) = s.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_microsecond());
    }
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
        && secs.abs() < 1e13
    {
        return Some((secs * 1e6) as i64);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_time_spellings() {
        let z = parse_time("2020-12-19T07:00:22.264Z").unwrap();
        assert_eq!(rfc3339(Some(z)), "2020-12-19T07:00:22.264000Z");
        assert_eq!(
            parse_time("2016-08-19 08:06:57.658 +09:00"),
            parse_time("2016-08-18T23:06:57.658Z")
        );
        assert_eq!(
            parse_time("2020-09-21 23:03:38"),
            parse_time("2020-09-21T23:03:38Z")
        );
        assert_eq!(parse_time("1600000000"), Some(1_600_000_000_000_000));
        assert_eq!(parse_time("not a time"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn canonical_channels() {
        assert_eq!(canonical_channel("security"), CH_SECURITY);
        assert_eq!(canonical_channel("Sec"), CH_SECURITY);
        assert_eq!(
            canonical_channel("Microsoft-Windows-TaskScheduler/Operational"),
            CH_TASKSCHEDULER
        );
        assert_eq!(canonical_channel("Application"), "");
        // Its sibling channel records maintenance runs, not tasks: no Operational record.
        assert_eq!(
            canonical_channel("Microsoft-Windows-TaskScheduler/Maintenance"),
            ""
        );
    }
}
