//! Legacy `.job` files (`C:\Windows\Tasks\*.job`: tasks made by `at.exe` and the Task
//! Scheduler 1.0 interface), as MS-TSCH 2.4 and libyal's dtformats "Job file format"
//! document them: a fixed-length section of 68 bytes, then a variable-length section of
//! length-prefixed UTF-16 strings (application, parameters, working directory, author,
//! comment), user and reserved data, and the triggers. Every read is bounds-checked; an
//! error says what could not be read and at which byte.

use super::bytes::{BlobError, LeReader};

/// Triggers read at most (a real job has one or two).
const MAX_TRIGGERS: usize = 64;

/// A trigger's kind, named as task XML names its trigger elements (without `Trigger`).
fn trigger_kind(t: u32) -> &'static str {
    match t {
        0 => "Time",
        1..=4 => "Calendar",
        5 => "Idle",
        6 => "Boot",
        7 => "Logon",
        _ => "Unknown",
    }
}

// Task flags (MS-TSCH 2.3.7). The file stores them with the bytes in the other order from
// the Task Scheduler API's `TASK_FLAG_*` values, which these are: read big-endian.
const FLAG_DELETE_WHEN_DONE: u32 = 0x2;
const FLAG_DISABLED: u32 = 0x4;
const FLAG_START_ONLY_IF_IDLE: u32 = 0x10;
const FLAG_DONT_START_IF_ON_BATTERIES: u32 = 0x40;
const FLAG_KILL_IF_GOING_ON_BATTERIES: u32 = 0x80;
const FLAG_HIDDEN: u32 = 0x200;
const FLAG_RUN_IF_CONNECTED_TO_INTERNET: u32 = 0x400;

/// One trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: &'static str,
    /// `YYYY-MM-DD` of the first day it fires.
    pub begin: String,
    /// `HH:MM` it starts at.
    pub start: String,
    /// Minutes between repetitions (0: none).
    pub interval_minutes: u32,
}

/// What a `.job` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub product_version: u16,
    pub application: String,
    pub parameters: String,
    pub working_directory: String,
    pub author: String,
    pub comment: String,
    /// `TASK_FLAG_*` values.
    pub flags: u32,
    pub status: u32,
    pub exit_code: u32,
    /// Milliseconds a run may take (`u32::MAX`: no limit).
    pub max_run_ms: u32,
    /// The last run, as the file's local time stamp (written as UTC, with no zone known).
    pub last_run: Option<i64>,
    /// The error of the last start attempt (the reserved data), when the file has one.
    pub start_error: Option<u32>,
    pub triggers: Vec<Trigger>,
}

/// A length-prefixed string: a count of UTF-16 units (the NUL included), the units.
fn string(r: &mut LeReader<'_>, what: &str) -> Result<String, BlobError> {
    let n = r.u16(what)? as usize;
    r.utf16(n * 2, what)
}

/// A SYSTEMTIME (year, month, weekday, day, hour, minute, second, millisecond), or `None`
/// when it is zero or no valid date.
fn system_time(b: &[u8]) -> Option<i64> {
    let w: Vec<i16> = b
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect();
    if w.len() < 8 || w[0] == 0 {
        return None;
    }
    let dt = jiff::civil::DateTime::new(
        w[0],
        i8::try_from(w[1]).ok()?,
        i8::try_from(w[3]).ok()?,
        i8::try_from(w[4]).ok()?,
        i8::try_from(w[5]).ok()?,
        i8::try_from(w[6]).ok()?,
        i32::from(w[7]).checked_mul(1_000_000)?,
    )
    .ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_microsecond())
}

/// Parse a `.job` file.
pub fn parse(b: &[u8]) -> Result<Job, String> {
    let mut r = LeReader::new(b);
    let product_version = r.u16("the product version")?;
    let file_version = r.u16("the file version")?;
    if file_version != 1 {
        return Err(format!("file version {file_version}, not 1: no .job file"));
    }
    r.take(16, "the job's UUID")?;
    let app_offset = r.u16("the application name's offset")?;
    r.take(2 + 2 + 2 + 2 + 2, "the retry and idle settings")?;
    let _priority = r.u32("the priority")?;
    let max_run_ms = r.u32("the maximum run time")?;
    let exit_code = r.u32("the exit code")?;
    let status = r.u32("the status")?;
    let flags = u32::from_be_bytes(r.u32("the flags")?.to_le_bytes());
    let last_run = system_time(r.take(16, "the last run time")?);
    if app_offset != 68 + 2 {
        return Err(format!(
            "the application name is said to start at byte {app_offset}, not 70: no .job file"
        ));
    }
    r.u16("the running instance count")?;
    let application = string(&mut r, "the application name")?;
    let parameters = string(&mut r, "the parameters")?;
    let working_directory = string(&mut r, "the working directory")?;
    let author = string(&mut r, "the author")?;
    let comment = string(&mut r, "the comment")?;
    let user_len = r.u16("the user data's size")? as usize;
    r.take(user_len, "the user data")?;
    let reserved_len = r.u16("the reserved data's size")? as usize;
    let reserved = r.take(reserved_len, "the reserved data")?;
    let start_error = (reserved.len() >= 4)
        .then(|| u32::from_le_bytes([reserved[0], reserved[1], reserved[2], reserved[3]]));
    let count = r.u16("the trigger count")? as usize;
    let mut triggers = Vec::new();
    for i in 0..count.min(MAX_TRIGGERS) {
        let t = r.take(48, &format!("trigger {}", i + 1))?;
        let u16_at = |o: usize| u16::from_le_bytes([t[o], t[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes([t[o], t[o + 1], t[o + 2], t[o + 3]]);
        triggers.push(Trigger {
            kind: trigger_kind(u32_at(32)),
            begin: format!("{:04}-{:02}-{:02}", u16_at(4), u16_at(6), u16_at(8)),
            start: format!("{:02}:{:02}", u16_at(16), u16_at(18)),
            interval_minutes: u32_at(24),
        });
    }
    Ok(Job {
        product_version,
        application,
        parameters,
        working_directory,
        author,
        comment,
        flags,
        status,
        exit_code,
        max_run_ms,
        last_run,
        start_error,
        triggers,
    })
}

impl Job {
    /// The record fields of a definition given as fields (read by the scheduled-task
    /// profile as it reads task XML), and the `.job`'s own facts for the drill-down.
    pub fn fields(&self) -> Vec<(String, String)> {
        let f = self.flags;
        let on = |flag: u32| f & flag != 0;
        let mut triggers: Vec<&str> = self.triggers.iter().map(|t| t.kind).collect();
        triggers.dedup();
        let mut settings = vec![
            format!(
                "DisallowStartIfOnBatteries={}",
                on(FLAG_DONT_START_IF_ON_BATTERIES)
            ),
            format!(
                "StopIfGoingOnBatteries={}",
                on(FLAG_KILL_IF_GOING_ON_BATTERIES)
            ),
            format!("RunOnlyIfIdle={}", on(FLAG_START_ONLY_IF_IDLE)),
            format!(
                "RunOnlyIfNetworkAvailable={}",
                on(FLAG_RUN_IF_CONNECTED_TO_INTERNET)
            ),
        ];
        if on(FLAG_DELETE_WHEN_DONE) {
            settings.push("DeleteExpiredTaskAfter=when done".into());
        }
        if self.max_run_ms == u32::MAX {
            settings.push("ExecutionTimeLimit=INFINITE".into());
        }
        let mut out: Vec<(String, String)> = vec![
            ("Command".into(), self.application.clone()),
            ("Arguments".into(), self.parameters.clone()),
            ("WorkingDirectory".into(), self.working_directory.clone()),
            ("Author".into(), self.author.clone()),
            ("Comment".into(), self.comment.clone()),
            ("Actions".into(), "exec".into()),
            ("Hidden".into(), on(FLAG_HIDDEN).to_string()),
            ("Enabled".into(), (!on(FLAG_DISABLED)).to_string()),
            ("Triggers".into(), triggers.join(",")),
            (
                "Repeats".into(),
                self.triggers
                    .iter()
                    .any(|t| t.interval_minutes > 0)
                    .to_string(),
            ),
            ("Settings".into(), settings.join("\n")),
            ("Flags".into(), format!("0x{f:08x}")),
            ("Status".into(), format!("0x{:08x}", self.status)),
            ("ExitCode".into(), self.exit_code.to_string()),
            (
                "ProductVersion".into(),
                format!("0x{:04x}", self.product_version),
            ),
        ];
        if let Some(t) = self.last_run {
            out.push(("LastRun".into(), crate::event::rfc3339(Some(t))));
        }
        if let Some(e) = self.start_error {
            out.push(("StartError".into(), e.to_string()));
        }
        for (i, t) in self.triggers.iter().enumerate() {
            out.push((
                format!("Trigger{}", i + 1),
                format!(
                    "{} from {} at {}{}",
                    t.kind,
                    t.begin,
                    t.start,
                    if t.interval_minutes > 0 {
                        format!(", every {} min", t.interval_minutes)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job as `at` writes one, built field by field.
    pub(crate) fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0x0a00u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[7u8; 16]);
        b.extend_from_slice(&70u16.to_le_bytes());
        b.extend_from_slice(&[0u8; 10]);
        for v in [0x20u32, 259_200_000, 0, 0x41303] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(FLAG_HIDDEN | FLAG_DELETE_WHEN_DONE).to_be_bytes());
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&0u16.to_le_bytes());
        for s in [
            "cmd.exe",
            "/c whoami",
            "",
            "WORKGROUP\\PC$",
            "Created by NetScheduleJobAdd.",
        ] {
            let units: Vec<u16> = s.encode_utf16().chain([0]).collect();
            b.extend_from_slice(&(units.len() as u16).to_le_bytes());
            for u in units {
                b.extend_from_slice(&u.to_le_bytes());
            }
        }
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&267_011u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        let mut t = vec![0u8; 48];
        t[0] = 48;
        t[4..6].copy_from_slice(&2023u16.to_le_bytes());
        t[6] = 8;
        t[8] = 1;
        t[16] = 9;
        b.extend_from_slice(&t);
        b
    }

    #[test]
    fn reads_every_section() {
        let j = parse(&sample()).unwrap();
        assert_eq!(j.application, "cmd.exe");
        assert_eq!(j.parameters, "/c whoami");
        assert_eq!(j.author, "WORKGROUP\\PC$");
        assert_eq!(j.start_error, Some(267_011));
        assert_eq!(j.triggers.len(), 1);
        assert_eq!(j.triggers[0].kind, "Time");
        assert_eq!(j.triggers[0].begin, "2023-08-01");
        assert_eq!(j.triggers[0].start, "09:00");
        assert!(j.flags & FLAG_HIDDEN != 0 && j.flags & FLAG_DISABLED == 0);
        let f = j.fields();
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Hidden"), Some("true"));
        assert_eq!(get("Enabled"), Some("true"));
        assert!(get("Settings").unwrap().contains("DeleteExpiredTaskAfter"));
    }

    /// Every prefix of a job is refused with where it ends, never a panic; so are flipped
    /// bytes.
    #[test]
    fn truncated_or_damaged_jobs_are_refused() {
        let b = sample();
        for n in 0..b.len() {
            let e = parse(&b[..n]).unwrap_err();
            assert!(
                e.contains("truncated at byte") || e.contains("no .job file"),
                "{n}: {e}"
            );
        }
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0xff;
            let _ = parse(&d);
        }
        assert!(
            parse(b"not a job at all, but long enough to have a header of sixty-eight bytes.")
                .is_err()
        );
    }
}
