//! KAPE's copy log: the source times of the files a collection holds.
//!
//! KAPE writes `<time>_CopyLog.csv` at the root of a target collection, one row per file
//! copied (`CopiedTimestamp, SourceFile, DestinationFile, FileSize, SourceFileSha1,
//! DeferredCopy, CreatedOnUtc, ModifiedOnUtc, LastAccessedOnUtc`). A collection moved,
//! zipped and unzipped, or checked into git loses its files' own modification times; the copy
//! log keeps them. A task definition's time is its source's `ModifiedOnUtc` where a copy log
//! above it lists it, else the file's own modification time.
//!
//! Bounded: a copy log is read up to [`MAX_COPY_LOG`] bytes, rows of other files than task
//! definitions are not kept, and a definition looks at most [`LEVELS`] folders up.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// The largest copy log read (a collection of a million files is about 300 MB: the rows
/// past this are not read, and the definitions they would have timed keep their file time).
pub const MAX_COPY_LOG: u64 = 256 << 20;
/// How many folders above a definition file a copy log is looked for (a KAPE collection's
/// root is six above `C/Windows/System32/Tasks/Microsoft/Windows/X/file`).
const LEVELS: usize = 9;
/// Copy logs read per folder at most (KAPE writes one per run into the same folder).
const PER_FOLDER: usize = 8;

/// Source times of task definitions, by the folder whose copy log lists them: the path of a
/// file below that folder, lower-cased with `/` separators and drive letters without their
/// colon (`c/windows/system32/tasks/foo`), and its `ModifiedOnUtc` in microseconds.
#[derive(Debug, Default)]
pub struct CopyTimes {
    folders: HashMap<PathBuf, Option<HashMap<String, i64>>>,
}

impl CopyTimes {
    /// The source modification time a copy log above `file` gives it, if any. A copy log
    /// lies at a collection's root, above the Tasks folder: the folders inside it are not
    /// listed (a host's Tasks folder has dozens of them, each a directory listing).
    pub fn time_of(&mut self, file: &Path) -> Option<i64> {
        let inside_tasks = file
            .ancestors()
            .skip(1)
            .take(LEVELS)
            .position(|a| {
                a.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.eq_ignore_ascii_case("tasks"))
            })
            .map_or(0, |at| at + 1);
        for folder in file.ancestors().skip(1).take(LEVELS).skip(inside_tasks) {
            let times = self
                .folders
                .entry(folder.to_path_buf())
                .or_insert_with(|| read_folder(folder));
            let Some(times) = times else { continue };
            let Ok(rel) = file.strip_prefix(folder) else {
                continue;
            };
            let key = normalize(&rel.to_string_lossy());
            if let Some(&t) = times.get(&key) {
                return Some(t);
            }
        }
        None
    }
}

/// The copy logs of one folder, merged (`None`: it has none).
fn read_folder(folder: &Path) -> Option<HashMap<String, i64>> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().ends_with("_copylog.csv"))
        })
        .collect();
    if logs.is_empty() {
        return None;
    }
    // Oldest run first by name (KAPE names them by time): a later run's row wins.
    logs.sort();
    let mut times = HashMap::new();
    for log in logs.iter().take(PER_FOLDER) {
        if let Ok(f) = std::fs::File::open(log) {
            read_copy_log(std::io::BufReader::new(f.take(MAX_COPY_LOG)), &mut times);
        }
    }
    Some(times)
}

/// Read one copy log's rows of task definitions (`...\Tasks\...`) into `times`.
pub fn read_copy_log(input: impl BufRead, times: &mut HashMap<String, i64>) {
    let mut lines = input.split(b'\n');
    let Some(Ok(header)) = lines.next() else {
        return;
    };
    let header = fields(&String::from_utf8_lossy(&header));
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let (Some(source), Some(modified)) = (col("SourceFile"), col("ModifiedOnUtc")) else {
        return;
    };
    for line in lines {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line);
        let row = fields(&line);
        let (Some(src), Some(when)) = (row.get(source), row.get(modified)) else {
            continue;
        };
        let key = normalize(src);
        if !key.contains("/tasks/") {
            continue;
        }
        if let Some(t) = parse_time(when) {
            times.insert(key, t);
        }
    }
}

/// A path as the copy log's rows are keyed: parts lower-cased, joined by `/`, a drive's
/// colon dropped (`C:\Windows\...` and `C/Windows/...` are the same key).
fn normalize(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .map(|p| p.strip_suffix(':').unwrap_or(p).to_lowercase())
        .collect::<Vec<_>>()
        .join("/")
}

/// The fields of one CSV line (double quotes around a field, `""` for a quote inside).
fn fields(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// A copy log's time, in UTC: ISO 8601 with `T` or a space, with or without fractions and
/// `Z`, or the `M/D/YYYY h:mm:ss AM` form of an English-language Windows.
fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_microsecond());
    }
    let civil = s
        .parse::<jiff::civil::DateTime>()
        .ok()
        .or_else(|| jiff::civil::DateTime::strptime("%m/%d/%Y %I:%M:%S %p", s).ok())
        .or_else(|| jiff::civil::DateTime::strptime("%m/%d/%Y %H:%M:%S", s).ok())?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "CopiedTimestamp,SourceFile,DestinationFile,FileSize,SourceFileSha1,DeferredCopy,CreatedOnUtc,ModifiedOnUtc,LastAccessedOnUtc\r\n\
        2024-05-02 10:00:00.1234567,C:\\Windows\\System32\\Tasks\\Foo,D:\\out\\C\\Windows\\System32\\Tasks\\Foo,100,abc,False,2024-01-01 00:00:00,2024-03-04 05:06:07.5,2024-05-01 00:00:00\r\n\
        2024-05-02 10:00:00,\"C:\\Windows\\System32\\Tasks\\A, \"\"B\"\"\",x,1,a,False,x,3/4/2024 5:06:07 PM,x\r\n\
        2024-05-02 10:00:00,C:\\Windows\\System32\\winevt\\Logs\\Security.evtx,x,1,a,False,x,2024-03-04 05:06:07,x\r\n\
        broken line\r\n";

    #[test]
    fn rows_of_task_definitions_are_keyed_by_their_source_path() {
        let mut times = HashMap::new();
        read_copy_log(LOG.as_bytes(), &mut times);
        assert_eq!(times.len(), 2, "{times:?}");
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_microsecond();
        assert_eq!(
            times["c/windows/system32/tasks/foo"],
            t("2024-03-04T05:06:07.5Z")
        );
        assert_eq!(
            times["c/windows/system32/tasks/a, \"b\""],
            t("2024-03-04T17:06:07Z")
        );
    }

    #[test]
    fn a_definition_takes_the_time_of_the_copy_log_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = dir.path().join("PC1/C/Windows/System32/Tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        std::fs::write(dir.path().join("PC1/2024-05-02T100000_CopyLog.csv"), LOG).unwrap();
        std::fs::write(tasks.join("Foo"), "x").unwrap();
        std::fs::write(tasks.join("Bar"), "x").unwrap();
        let mut ct = CopyTimes::default();
        assert_eq!(
            ct.time_of(&tasks.join("Foo")),
            Some(
                "2024-03-04T05:06:07.5Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_microsecond()
            )
        );
        assert_eq!(ct.time_of(&tasks.join("Bar")), None, "not listed");
        // The folders inside Tasks are never listed: only the collection's root and the
        // folders between it and Tasks.
        std::fs::create_dir_all(tasks.join("Microsoft/Windows/X")).unwrap();
        std::fs::write(tasks.join("Microsoft/Windows/X/Baz"), "x").unwrap();
        assert_eq!(ct.time_of(&tasks.join("Microsoft/Windows/X/Baz")), None);
        assert!(
            ct.folders.keys().all(|f| !f.starts_with(&tasks)),
            "{:?}",
            ct.folders.keys()
        );
        assert!(ct.folders.contains_key(&dir.path().join("PC1")));
    }

    #[test]
    fn hostile_copy_logs_give_nothing_and_never_panic() {
        let mut times = HashMap::new();
        read_copy_log(&b"\xff\xfe\x00garbage\n,,,,\n"[..], &mut times);
        read_copy_log(&b""[..], &mut times);
        read_copy_log(&b"SourceFile,ModifiedOnUtc\n\"unclosed,\n"[..], &mut times);
        read_copy_log(
            &b"SourceFile,ModifiedOnUtc\nC:\\Tasks\\x,99999-99-99\n"[..],
            &mut times,
        );
        assert!(times.is_empty(), "{times:?}");
    }
}
