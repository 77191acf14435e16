//! Readers: turn paths (files, folders, zips) into [`RawEvent`]s, skipping and counting
//! whatever cannot be read instead of failing.
//!
//! Files are read in parallel (one thread per core); an `.evtx` file is itself parsed by the
//! evtx crate's rayon workers. Each file yields a [`FileReport`] that says how many records it held, how
//! many were skipped and why, so a damaged collection still loads and the analyst sees the cost.

mod bytes;
mod copylog;
pub mod definitions;
pub mod evidence;
mod evtx_reader;
pub use evtx_reader::{PeekCheck, peek_check};
mod evtx_json;
pub mod hive;
mod job;
mod json_reader;
pub mod layout;
#[cfg(windows)]
mod live_registry;
mod parquet_check;
mod peek;
pub mod registry;
pub mod summary;
mod task_rows;
pub mod taskcache;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::event::RawEvent;
use crate::profile::Gate;

/// What reading one file (or zip member) gave.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub path: String,
    /// `evtx`, `json`, `zip`, or `unknown`.
    pub kind: &'static str,
    /// Records read, whether or not the profile keeps them.
    pub records: u64,
    /// Records or chunks that could not be read.
    pub skipped: u64,
    /// One line per distinct problem, for the warning printed to stderr.
    pub problems: Vec<String>,
    /// Event id -> (channel, records), for every record read ([`FileReport::histogram`]).
    histogram: HashMap<u32, Vec<(String, u64)>>,
    /// The file holds no event log at all (not JSON, empty, or JSON without event records).
    pub not_a_log: bool,
    /// Found by walking a folder rather than named on the command line.
    pub found_in_folder: bool,
    /// Its records per host, by what they could say about tasks.
    pub witnessed: evidence::Witnessed,
    /// A task definition file met before the logs were read: read afterwards, when the logs
    /// beside it can say which host it belongs to ([`read_paths_with`]).
    pub(crate) deferred: bool,
}

impl FileReport {
    fn new(path: String, kind: &'static str) -> Self {
        Self {
            path,
            kind,
            ..Self::default()
        }
    }

    /// Count a record read from this file and hand it to the sink (which keeps it or not).
    pub(crate) fn record(&mut self, ev: RawEvent, sink: &mut dyn Sink, progress: &Progress) {
        self.count(&ev.channel, ev.event_id, progress);
        let channel = ev.canonical_channel();
        // A definition is what is on the host, not something its logs recorded.
        if channel != crate::event::CH_TASK_DEFINITION {
            self.witnessed
                .count(&ev.computer, channel, ev.event_id, ev.time);
        }
        sink.take(ev);
    }

    /// Count a record read from this file, rendered or not.
    pub(crate) fn count(&mut self, channel: &str, event_id: u32, progress: &Progress) {
        self.records += 1;
        progress.records.fetch_add(1, Ordering::Relaxed);
        // Looked up by event id, then channel (one or two per id): no allocation per record.
        let by_channel = self.histogram.entry(event_id).or_default();
        match by_channel.iter_mut().find(|(c, _)| c == channel) {
            Some((_, n)) => *n += 1,
            None => by_channel.push((channel.to_string(), 1)),
        }
    }

    /// (channel as the log spells it, event id) -> records, for every record read.
    pub fn histogram(&self) -> BTreeMap<(String, u32), u64> {
        self.histogram
            .iter()
            .flat_map(|(&id, chans)| chans.iter().map(move |(c, n)| ((c.clone(), id), *n)))
            .collect()
    }

    /// No log, found in a folder walk: not worth a warning.
    pub fn passed_over(&self) -> bool {
        self.not_a_log && self.found_in_folder
    }

    pub(crate) fn problem(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if self.problems.len() < 5 && !self.problems.contains(&msg) {
            self.problems.push(msg);
        }
    }

    /// The warning line for stderr, or `None` when the file read cleanly. A file that is no
    /// log and was found by walking a folder (a collection's own metadata, say) is passed
    /// over silently: it is counted in [`Ingest::passed_over`] instead.
    pub fn warning(&self) -> Option<String> {
        if (self.problems.is_empty() && self.skipped == 0) || self.passed_over() {
            return None;
        }
        // File and member names, and problems quoting them, come from the input (a zip's
        // member names, a hunt's client names): escaped for the terminal, like log strings.
        Some(crate::util::sanitize::for_terminal(
            &format!(
                "{}: {} record{} read, {} skipped: {}",
                self.path,
                self.records,
                if self.records == 1 { "" } else { "s" },
                self.skipped,
                self.problems.join("; ")
            ),
            2_000,
        ))
    }
}

impl FileReport {
    /// A task definition file put aside until the logs are read.
    fn deferred(path: String) -> FileReport {
        FileReport {
            deferred: true,
            ..FileReport::new(path, "definition")
        }
    }
}

/// Read one task definition file's bytes (XML or `.job`) into a record of the host the logs
/// beside it name ([`definitions`]).
fn read_definition(
    kind: Kind,
    name: String,
    bytes: &[u8],
    modified: Option<i64>,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let mut r = FileReport::new(name, "definition");
    if bytes.len() as u64 > definitions::MAX_DEFINITION_BYTES {
        r.problem(format!(
            "not read: a task definition larger than {} MiB",
            definitions::MAX_DEFINITION_BYTES >> 20
        ));
        r.skipped += 1;
        return r;
    }
    let placed = definitions::place(&r.path);
    let Some(hosts) = rd.hosts else {
        return FileReport::deferred(r.path);
    };
    let (host, copied, hive) = {
        let mut map = hosts.lock().unwrap_or_else(|e| e.into_inner());
        let hive = match kind {
            Kind::TaskXml => map.hive_beside(&r.path),
            _ => None,
        };
        (map.host_of(&placed), map.copied_time(&r.path), hive)
    };
    let registry = hive.as_ref().map(|h| registry_file(hosts, h));
    let registry = registry
        .as_deref()
        .and_then(|read| read.as_ref().ok())
        .map(|(cache, _)| cache);
    // The source's time a KAPE copy log keeps wins over the copy's own.
    let modified = copied.or(modified);
    let path = r.path.clone();
    let ev = match kind {
        Kind::Job => definitions::job_record(&path, bytes, modified, &placed, &host, &mut r),
        _ => {
            let (ev, compared) =
                definitions::xml_record(&path, bytes, modified, &placed, &host, &mut r, registry);
            if let (Some(hive), Some((name, c))) = (&hive, compared) {
                hosts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remember_compared(hive, name, c);
            }
            Some(ev)
        }
    };
    if let Some(ev) = ev {
        r.record(ev, sink, rd.progress);
    }
    r
}

/// Counters a caller (a progress bar, the TUI) can watch while reading runs on other threads,
/// and a flag that stops it early.
#[derive(Debug, Default)]
pub struct Progress {
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    pub records: AtomicU64,
    pub cancel: AtomicBool,
}

impl Progress {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Everything read from a set of paths.
#[derive(Debug, Default)]
pub struct Ingest {
    /// Events the filter kept, in file order.
    pub events: Vec<RawEvent>,
    pub reports: Vec<FileReport>,
}

impl Ingest {
    pub fn records(&self) -> u64 {
        records(&self.reports)
    }
    pub fn skipped(&self) -> u64 {
        skipped(&self.reports)
    }
    /// Files found in folders that held no event log (see [`FileReport::passed_over`]).
    pub fn passed_over(&self) -> usize {
        passed_over(&self.reports)
    }
}

/// Records read, over all reports (saturating: a summary may claim anything).
pub fn records(reports: &[FileReport]) -> u64 {
    reports
        .iter()
        .fold(0u64, |n, r| n.saturating_add(r.records))
}

/// Records, chunks or lines that could not be read, over all reports (files passed over
/// silently not counted).
pub fn skipped(reports: &[FileReport]) -> u64 {
    reports
        .iter()
        .filter(|r| !r.passed_over())
        .fold(0u64, |n, r| n.saturating_add(r.skipped))
}

/// Files found in folders that held no event log (see [`FileReport::passed_over`]).
pub fn passed_over(reports: &[FileReport]) -> usize {
    reports.iter().filter(|r| r.passed_over()).count()
}

/// The triage session's file name (kept beside the logs: [`crate::session`]).
pub const SESSION_FILE: &str = "anomalog-session.json";

/// anomalog's own files, which a folder walk passes over: they are no logs.
pub const OWN_FILES: &[&str] = &[SESSION_FILE];

/// Extensions picked up when walking a folder; a file named explicitly is sniffed whatever
/// its name. Files without an extension are sniffed too: the Tasks folder's definitions
/// have none.
const LOG_EXTENSIONS: &[&str] = &[
    "evtx", "json", "jsonl", "ndjson", "zip", "parquet", "xml", "job",
];

/// Whether a folder walk reads a file of this name.
fn walked(f: &Path) -> bool {
    match f.extension().and_then(|x| x.to_str()) {
        None => true,
        Some(x) => {
            LOG_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str())
                // `Task.1.2` or `GoogleUpdateTaskMachineUA{...}`: a task name with a dot.
                || f.components().any(|c| c.as_os_str().eq_ignore_ascii_case("tasks"))
        }
    }
}

/// Expand folders (recursively, following no links out of them) into files, each with
/// whether it was found in a folder. Paths that do not exist come back as reports with a
/// problem. The files come sorted by path, each once, whatever the order the paths were
/// given in: the same inputs are read in the same order.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<(PathBuf, bool)>, Vec<FileReport>) {
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .into_iter()
                .filter_map(|e| match e {
                    Ok(e) => Some(e),
                    Err(err) => {
                        let mut r = FileReport::new(
                            err.path().unwrap_or(p).display().to_string(),
                            "unknown",
                        );
                        r.problem(format!("cannot read folder entry: {err}"));
                        bad.push(r);
                        None
                    }
                })
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                // anomalog's own files (the triage session) are no logs.
                .filter(|f| {
                    f.file_name()
                        .is_none_or(|n| !OWN_FILES.iter().any(|own| n == *own))
                })
                .filter(|f| walked(f))
                .collect();
            files.extend(found.into_iter().map(|f| (f, true)));
        } else if p.is_file() || (cfg!(windows) && is_live_software(p)) {
            files.push((p.clone(), false));
        } else {
            let mut r = FileReport::new(p.display().to_string(), "unknown");
            r.problem(if is_live_software(p) {
                "a live registry is read on Windows only: name the SOFTWARE hive file (System32\\config\\SOFTWARE) here"
            } else {
                "no such file or folder"
            });
            bad.push(r);
        }
    }
    // Named explicitly first, so that a file both named and found keeps "named".
    files.sort_by(|a: &(PathBuf, bool), b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    files.dedup_by(|later, first| later.0 == first.0);
    bad.sort_by(|a, b| a.path.cmp(&b.path));
    (files, bad)
}

/// Where a reader puts the records of one file (a zip's members included), on the thread
/// that reads it: a list of events, or an aggregate that keeps only what later steps need.
pub trait Sink: Send {
    fn take(&mut self, ev: RawEvent);

    /// Where summaries ([`summary`]) met where logs were expected go: sinks that merge
    /// unique events take them; others (`None`) have them reported, not read.
    fn summaries(&mut self) -> Option<&mut dyn summary::SummarySink> {
        None
    }
}

impl Sink for Vec<RawEvent> {
    fn take(&mut self, ev: RawEvent) {
        self.push(ev);
    }
}

/// The events a filter keeps, in reading order.
struct Keep<'a, F> {
    keep: &'a F,
    events: Vec<RawEvent>,
}

impl<F: Fn(&RawEvent) -> bool + Sync> Sink for Keep<'_, F> {
    fn take(&mut self, ev: RawEvent) {
        if (self.keep)(&ev) {
            self.events.push(ev);
        }
    }
}

/// Which records are worth rendering, decided from their channel and event id alone,
/// before the record is turned into fields (see [`crate::profile::Profile::sources`]).
/// Records it refuses are still counted (records read, histogram), never rendered.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    /// (canonical channel, or `*` for any; event ids, empty for every id).
    wanted: Vec<(&'static str, &'static [u32])>,
    /// Records wanted only when some text of theirs passes a test
    /// ([`crate::profile::Profile::gates`]).
    gates: &'static [Gate],
    /// Take everything (no prefilter).
    all: bool,
}

impl Prefilter {
    /// Render every record.
    pub fn everything() -> Prefilter {
        Prefilter {
            wanted: Vec::new(),
            gates: &[],
            all: true,
        }
    }

    pub fn new(wanted: &[(&'static str, &'static [u32])]) -> Prefilter {
        Prefilter {
            wanted: wanted.to_vec(),
            gates: &[],
            all: false,
        }
    }

    /// What `profile` may want: its sources and its gates.
    pub fn of(profile: &dyn crate::profile::Profile) -> Prefilter {
        Prefilter {
            gates: profile.gates(),
            ..Prefilter::new(profile.sources())
        }
    }

    /// The test some text of a record of canonical channel `ch` and `event_id` must pass for
    /// the record to be wanted, if one applies.
    pub fn gate(&self, ch: &str, event_id: u32) -> Option<fn(&str) -> bool> {
        if self.all {
            return None;
        }
        self.gates
            .iter()
            .find(|g| g.channel == ch && g.ids.contains(&event_id))
            .map(|g| g.test)
    }

    /// Whether a record of `channel` (as the log spells it) and `event_id` may be wanted.
    pub fn wants(&self, channel: &str, event_id: u32) -> bool {
        self.wants_canonical(crate::event::canonical_channel(channel), event_id)
    }

    /// [`Prefilter::wants`] with the channel already made canonical
    /// ([`crate::event::canonical_channel`]).
    pub fn wants_canonical(&self, ch: &str, event_id: u32) -> bool {
        if self.all {
            return true;
        }
        self.wanted
            .iter()
            .any(|(c, ids)| (*c == ch || *c == "*") && (ids.is_empty() || ids.contains(&event_id)))
    }
}

/// What every reader of one `read_paths_with` call shares.
pub(crate) struct Reading<'a> {
    pub prefilter: &'a Prefilter,
    pub progress: &'a Progress,
    /// Threads the evtx crate parses one file's chunks with: 1 (inline, no hand-off between
    /// threads) when there are files enough to keep every core busy, more when there are
    /// fewer files than cores.
    pub evtx_threads: usize,
    /// Unique events read from summaries so far, by every reader (bounded per run).
    pub summary_events: &'a AtomicU64,
    /// The hosts the logs read name, by where they lie: set once the logs are read, when
    /// task definitions are read ([`definitions`]); `None` defers them.
    pub hosts: Option<&'a std::sync::Mutex<definitions::HostMap>>,
}

/// Read every path, keeping the events `keep` accepts, in file order.
pub fn read_paths<F>(paths: &[PathBuf], keep: F, progress: &Progress) -> Ingest
where
    F: Fn(&RawEvent) -> bool + Sync,
{
    let mut events = Vec::new();
    let reports = read_paths_with(
        paths,
        &Prefilter::everything(),
        || Keep {
            keep: &keep,
            events: Vec::new(),
        },
        |part| events.extend(part.events),
        progress,
    );
    Ingest { events, reports }
}

/// Read every path on one thread per core, each file into a sink of its own made by
/// `new_sink`; `done` receives the sinks on the calling thread in file order, as soon as
/// each file and those before it are read, so that a caller can fold them while the rest are
/// still being read. Returns a report per file (and per zip member).
pub fn read_paths_with<S, N, D>(
    paths: &[PathBuf],
    prefilter: &Prefilter,
    new_sink: N,
    mut done: D,
    progress: &Progress,
) -> Vec<FileReport>
where
    S: Sink,
    N: Fn() -> S + Sync,
    D: FnMut(S),
{
    let (files, mut reports) = expand_paths(paths);
    progress
        .files_total
        .store(files.len() as u64, Ordering::Relaxed);
    let summary_events = AtomicU64::new(0);
    let mut rd = Reading {
        prefilter,
        progress,
        evtx_threads: 1,
        summary_events: &summary_events,
        hosts: None,
    };
    // First the logs (task definition files are met and put aside), then the definitions,
    // once the logs can say which host each belongs to.
    let mut per_file = read_files(&files, &mut rd, &new_sink, &mut done);
    let deferred: Vec<usize> = (0..files.len())
        .filter(|&i| per_file[i].len() == 1 && per_file[i][0].deferred)
        .collect();
    if !deferred.is_empty() {
        let map = std::sync::Mutex::new(definitions::HostMap::new(
            &per_file.iter().flatten().cloned().collect::<Vec<_>>(),
        ));
        let (later, refused) = cap_per_folder(
            deferred
                .iter()
                .map(|&i| (i, files[i].0.display().to_string())),
        );
        for (i, reports) in refused {
            per_file[i] = reports;
        }
        let second: Vec<(PathBuf, bool)> = later.iter().map(|&i| files[i].clone()).collect();
        progress
            .files_total
            .fetch_add(second.len() as u64, Ordering::Relaxed);
        rd.hosts = Some(&map);
        let read = read_files(&second, &mut rd, &new_sink, &mut done);
        for (i, reps) in later.into_iter().zip(read) {
            per_file[i] = reps;
        }
    }
    for reps in per_file {
        reports.extend(reps);
    }
    reports
}

/// Definitions beyond [`definitions::MAX_DEFINITIONS_PER_FOLDER`] in one Tasks folder are
/// not read (in path order, so that the same are refused every time): the indices to read,
/// and for the refused their reports: one per folder, on its first refused file, counting
/// them all (a folder of 100 000 files is one warning, not 90 000).
fn cap_per_folder(
    files: impl Iterator<Item = (usize, String)>,
) -> (Vec<usize>, Vec<(usize, Vec<FileReport>)>) {
    let mut per_folder: HashMap<Vec<String>, (usize, Option<usize>)> = HashMap::new();
    let (mut read, mut refused): (Vec<usize>, Vec<(usize, Vec<FileReport>)>) =
        (Vec::new(), Vec::new());
    for (i, name) in files {
        let placed = definitions::place(&name);
        let (n, first) = per_folder.entry(placed.folder.clone()).or_default();
        *n += 1;
        if *n <= definitions::MAX_DEFINITIONS_PER_FOLDER {
            read.push(i);
            continue;
        }
        match *first {
            Some(k) => {
                let r = &mut refused[k].1[0];
                r.skipped += 1;
                r.problems = vec![format!(
                    "{} definitions not read from {}, this one and those after it by name: a Tasks folder is read up to {} definitions",
                    r.skipped,
                    placed.folder.join("/"),
                    definitions::MAX_DEFINITIONS_PER_FOLDER
                )];
                refused.push((i, Vec::new()));
            }
            None => {
                let mut r = FileReport::new(name.clone(), "definition");
                r.problem(format!(
                    "1 definition not read from {}: a Tasks folder is read up to {} definitions",
                    placed.folder.join("/"),
                    definitions::MAX_DEFINITIONS_PER_FOLDER
                ));
                r.skipped = 1;
                *first = Some(refused.len());
                refused.push((i, vec![r]));
            }
        }
    }
    (read, refused)
}

/// Read `files` on one thread per core, each into a sink of its own; `done` gets the sinks
/// in file order. The reports per file, in file order.
fn read_files<S, N, D>(
    files: &[(PathBuf, bool)],
    rd: &mut Reading<'_>,
    new_sink: &N,
    done: &mut D,
) -> Vec<Vec<FileReport>>
where
    S: Sink,
    N: Fn() -> S + Sync,
    D: FnMut(S),
{
    // Files are read on plain threads, not rayon workers: the evtx crate parses chunks on
    // the rayon pool and blocks its caller until they are done, which deadlocks when the
    // caller is itself a rayon worker.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(files.len()).max(1);
    // Parallel over files first: handing chunks to other threads costs more than it gains
    // when every core already reads a file of its own (docs/benchmarks.md, "Speed").
    rd.evtx_threads = (cores / workers).max(1);
    let rd = &*rd;
    let queue = Queue {
        files,
        next: AtomicU64::new(0),
        window: 2 * workers,
        state: std::sync::Mutex::new(Folding::default()),
        fold_moved: std::sync::Condvar::new(),
        broken: AtomicBool::new(false),
    };
    let mut per_file: Vec<Option<Vec<FileReport>>> = vec![None; files.len()];
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, S, Vec<FileReport>)>();
        for _ in 0..workers {
            let tx = tx.clone();
            let queue = &queue;
            s.spawn(move || queue.work(rd, new_sink, &tx));
        }
        drop(tx);
        // Hand sinks on in file order; later files wait (a few at most: one per worker).
        let mut waiting: BTreeMap<usize, (S, bool)> = BTreeMap::new();
        let mut next_done = 0usize;
        for (i, sink, reps) in rx {
            let held = holds_events(&reps);
            per_file[i] = Some(reps);
            waiting.insert(i, (sink, held));
            while let Some((sink, held)) = waiting.remove(&next_done) {
                done(sink);
                next_done += 1;
                queue.folded(next_done, held);
            }
        }
        // A worker that died (a bug) leaves a gap: hand on what came after it anyway.
        for (_, (sink, _)) in std::mem::take(&mut waiting) {
            done(sink);
        }
    });
    per_file
        .into_iter()
        .enumerate()
        .map(|(i, reps)| {
            reps.unwrap_or_else(|| {
                let mut r = FileReport::new(files[i].0.display().to_string(), "unknown");
                r.problem("not read (internal error)");
                vec![r]
            })
        })
        .collect()
}

/// Whether a file's sink may hold events: a definition put aside for the second pass
/// ([`FileReport::deferred`]) holds none, so it takes no room in the queue's window.
fn holds_events(reps: &[FileReport]) -> bool {
    !(reps.len() == 1 && reps[0].deferred)
}

/// The files of one read, handed to the workers in order. Backpressure: a worker starts a
/// file only while fewer than `window` files that hold events are read and wait to be
/// folded, so that finished files do not pile up when folding is the slower side
/// (docs/benchmarks.md, "Speed"). Files that hold nothing (definitions put aside) do not
/// count: a host's hundred definition files between two large logs would otherwise stop
/// every other worker until the large log is read.
struct Queue<'a> {
    files: &'a [(PathBuf, bool)],
    next: AtomicU64,
    window: usize,
    state: std::sync::Mutex<Folding>,
    fold_moved: std::sync::Condvar,
    /// Set when a worker dies (a bug): the others stop waiting for the file it held.
    broken: AtomicBool,
}

/// Where the fold is: files folded, and files read that hold events and are not yet folded.
#[derive(Default)]
struct Folding {
    folded: usize,
    waiting: usize,
}

impl Queue<'_> {
    /// The fold has taken the first `n` files, the last of which `held` events.
    fn folded(&self, n: usize, held: bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.folded = n;
        if held {
            st.waiting = st.waiting.saturating_sub(1);
        }
        drop(st);
        self.fold_moved.notify_all();
    }

    /// A worker has read a file that holds events; it waits for the fold.
    fn read_one(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).waiting += 1;
    }

    /// The next file to read, once the window lets it start; `None` when all are taken.
    fn take(&self) -> Option<(usize, &(PathBuf, bool))> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        let file = self.files.get(i)?;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // The next file to fold is never held back: the files waiting need it.
        while i > st.folded && st.waiting >= self.window && !self.broken.load(Ordering::Relaxed) {
            st = self.fold_moved.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        Some((i, file))
    }

    /// One worker: read files into sinks of their own until none is left.
    fn work<S: Sink, N: Fn() -> S>(
        &self,
        rd: &Reading<'_>,
        new_sink: &N,
        tx: &std::sync::mpsc::Sender<(usize, S, Vec<FileReport>)>,
    ) {
        /// Tells the other workers when this one dies, so that none waits for its file.
        struct OnDeath<'q, 'a>(&'q Queue<'a>);
        impl Drop for OnDeath<'_, '_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    // Under the lock, so that no waiter misses it.
                    let _held = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
                    self.0.broken.store(true, Ordering::Relaxed);
                    self.0.fold_moved.notify_all();
                }
            }
        }
        let _guard = OnDeath(self);
        while let Some((i, (f, in_folder))) = self.take() {
            let mut sink = new_sink();
            let mut reps = if rd.progress.cancelled() {
                Vec::new()
            } else {
                read_file_guarded(f, rd, &mut sink)
            };
            for r in &mut reps {
                r.found_in_folder |= *in_folder;
            }
            rd.progress.files_done.fetch_add(1, Ordering::Relaxed);
            if holds_events(&reps) {
                self.read_one();
            }
            if tx.send((i, sink, reps)).is_err() {
                break;
            }
        }
    }
}

/// [`read_file`], with a panic in a parser (a bug, on some hostile input) turned into a
/// problem of that one file rather than the loss of everything read.
fn read_file_guarded(path: &Path, rd: &Reading<'_>, sink: &mut dyn Sink) -> Vec<FileReport> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_file(path, rd, sink)))
        .unwrap_or_else(|_| {
            let mut r = FileReport::new(path.display().to_string(), "unknown");
            r.problem(
                "the parser failed on this file (internal error); what it read before is kept",
            );
            r.skipped += 1;
            vec![r]
        })
}

const EVTX_MAGIC: &[u8] = b"ElfFile\0";
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// A zip member's first bytes, read to tell what it is before inflating the rest.
const SNIFF_BYTES: u64 = 64 << 10;
/// An `.evtx` member is inflated to a temporary file, at most this large.
const MAX_EVTX_MEMBER: u64 = 16 << 30;
/// A text member (JSON, a summary) is read as a stream, at most this much of it inflated.
const MAX_TEXT_MEMBER: u64 = 1 << 30;
/// A Parquet file or member is read into memory (it is read at random), at most this large.
const MAX_PARQUET_MEMBER: u64 = 256 << 20;
/// Bytes inflated from one archive at most, all members together.
const MAX_ARCHIVE_INFLATED: u64 = 64 << 30;

/// What a file's (or zip member's) first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Evtx,
    Zip,
    Parquet,
    Summary,
    Json,
    /// Task XML (a file of the Tasks folder).
    TaskXml,
    /// A legacy `.job` file (no magic: told by its name).
    Job,
    /// A registry hive (`regf`): a SOFTWARE hive's TaskCache is read, transaction logs
    /// are applied with their hive, other hives are passed over.
    Hive,
    Empty,
    NotALog,
}

/// Whether a file or member name is a legacy `.job` file's.
fn is_job_name(name: &str) -> bool {
    name.len() > 4
        && name.is_char_boundary(name.len() - 4)
        && name[name.len() - 4..].eq_ignore_ascii_case(".job")
}

/// A kind told from the first bytes, and the name where the bytes cannot tell.
fn kind_of(head_kind: Kind, name: &str) -> Kind {
    match head_kind {
        Kind::NotALog | Kind::Empty if is_job_name(name) => Kind::Job,
        k => k,
    }
}

/// Tell a file's kind from its first bytes (`complete`: they are the whole file).
fn sniff(head: &[u8], complete: bool) -> Kind {
    if head.starts_with(EVTX_MAGIC) {
        return Kind::Evtx;
    }
    if head.starts_with(ZIP_MAGIC) {
        return Kind::Zip;
    }
    if head.starts_with(PARQUET_MAGIC) {
        return Kind::Parquet;
    }
    if definitions::is_task_xml(head) {
        return Kind::TaskXml;
    }
    if hive::is_regf(head) {
        return Kind::Hive;
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with(summary::MAGIC) {
        Kind::Summary
    } else if body.starts_with('{') || body.starts_with('[') || body.starts_with("Record ") {
        Kind::Json
    } else if body.is_empty() && (complete || head.len() < 4096) {
        Kind::Empty
    } else {
        Kind::NotALog
    }
}

/// Read a text file or member (JSON, JSON Lines, a summary) as a stream: memory stays at a
/// record's (or a summary line's) size, whatever the size of the input.
fn read_text(
    kind: Kind,
    input: &mut dyn std::io::BufRead,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    match kind {
        Kind::Summary => {
            let mut r = FileReport::new(name, "summary");
            match sink.summaries() {
                Some(s) => {
                    let n = r.path.clone();
                    summary::read_stream(input, &n, s, rd.summary_events, &mut r);
                }
                None => r.problem("an anomalog summary, not a log: `rank` and the UI read it"),
            }
            r
        }
        Kind::Json => json_reader::read_json_stream(input, name, sink, rd.progress),
        Kind::Empty => {
            let mut r = FileReport::new(name, "unknown");
            r.problem("empty file");
            r.not_a_log = true;
            r
        }
        _ => {
            let mut r = FileReport::new(name, "unknown");
            r.problem("not an event log (neither EVTX, zip nor JSON)");
            r.not_a_log = true;
            r
        }
    }
}

/// Read a Parquet file held in memory (a summary; another table is passed over).
fn read_parquet(bytes: Vec<u8>, name: String, rd: &Reading<'_>, sink: &mut dyn Sink) -> FileReport {
    let mut r = FileReport::new(name, "summary");
    let n = r.path.clone();
    let is_summary = match sink.summaries() {
        Some(s) => summary::read_parquet(Arc::from(bytes), &n, s, rd.summary_events, &mut r),
        None => {
            r.problem("a Parquet file: only summaries are read, by `rank` and the UI");
            true
        }
    };
    if !is_summary {
        // Some other table (a `rank` export): no log, passed over in a folder walk.
        r.problem("a Parquet file that is no anomalog summary (no summary header)");
        r.not_a_log = true;
    }
    r
}

/// A reader that gives at most `cap` bytes and notes whether the input held more.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
    more: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read >= self.cap {
            if !self.more {
                let mut probe = [0u8; 1];
                self.more = self.inner.read(&mut probe)? > 0;
            }
            return Ok(0);
        }
        let room = usize::try_from(self.cap - self.read).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        let k = self.inner.read(&mut buf[..n])?;
        self.read += k as u64;
        Ok(k)
    }
}

/// Inflate and read one zip member. Its kind is sniffed from its first bytes, so that a
/// member that is no log (a zip bomb of zeros, say) costs those bytes only; an `.evtx` member
/// is streamed to a temporary file and parsed from there, a text member read as a stream
/// (up to [`MAX_TEXT_MEMBER`] inflated), a Parquet member read into memory (up to
/// [`MAX_PARQUET_MEMBER`]). Sizes are what inflating gives, never what the header claims.
fn read_member(
    member: &mut impl Read,
    name: String,
    modified: Option<i64>,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let left = MAX_ARCHIVE_INFLATED.saturating_sub(*inflated);
    if left == 0 {
        return member_failed(
            name,
            format!(
                "not unpacked: the archive inflated past {} GiB",
                MAX_ARCHIVE_INFLATED >> 30
            ),
        );
    }
    let mut head = Vec::new();
    if let Err(e) = member.take(SNIFF_BYTES.min(left)).read_to_end(&mut head) {
        return member_failed(name, format!("cannot unpack: {e}"));
    }
    *inflated += head.len() as u64;
    let kind = kind_of(
        sniff(&head, (head.len() as u64) < SNIFF_BYTES.min(left)),
        &name,
    );
    let member = Member {
        input: member,
        name,
        head,
        left,
    };
    match kind {
        Kind::TaskXml | Kind::Job | Kind::Hive => {
            if rd.hosts.is_none() {
                return FileReport::deferred(member.name);
            }
            if kind == Kind::Hive {
                return member_hive(member, inflated, rd, sink);
            }
            member_definition(member, kind, modified, inflated, rd, sink)
        }
        Kind::Evtx => member_evtx(member, inflated, rd, sink),
        Kind::Parquet => member_parquet(member, inflated, rd, sink),
        Kind::Summary | Kind::Json => member_text(member, kind, inflated, rd, sink),
        // Not inflated any further: no reader would take it.
        _ => read_text(
            kind,
            &mut std::io::Cursor::new(member.head),
            member.name,
            rd,
            sink,
        ),
    }
}

/// A zip member whose first bytes have been inflated and sniffed.
struct Member<'a, R> {
    input: &'a mut R,
    name: String,
    head: Vec<u8>,
    /// What the archive may still inflate.
    left: u64,
}

impl<R: Read> Member<'_, R> {
    /// The member whole, inflated up to one byte past `cap` (so that a caller can tell it
    /// went over), the bytes inflated counted in `inflated`.
    /// The member streamed to an unnamed temporary file (`O_TMPFILE` where the system has
    /// it, else created exclusively under a random name and unlinked at once: no name
    /// another user could plant a link at, and nothing left behind, whatever happens to this
    /// process), rewound; at most `limit` bytes, else why it was not read.
    fn spill(&mut self, limit: u64, inflated: &mut u64) -> Result<std::fs::File, String> {
        let cap = limit.min(self.left);
        let head = std::mem::take(&mut self.head);
        let copied = tempfile::tempfile().and_then(|mut f| {
            use std::io::{Seek, Write};
            f.write_all(&head)?;
            let n = std::io::copy(
                &mut (&mut *self.input).take(cap - head.len() as u64 + 1),
                &mut f,
            )?;
            f.flush()?;
            f.rewind()?;
            Ok((n, f))
        });
        match copied {
            Err(e) => Err(format!("cannot unpack to a temporary file: {e}")),
            Ok((n, _)) if head.len() as u64 + n > cap => {
                *inflated += n;
                Err(format!("not read: inflates past {} MiB", cap >> 20))
            }
            Ok((n, f)) => {
                *inflated += n;
                Ok(f)
            }
        }
    }

    fn whole(&mut self, cap: u64, inflated: &mut u64) -> std::io::Result<Vec<u8>> {
        let mut bytes = std::mem::take(&mut self.head);
        let n = (&mut *self.input)
            .take((cap + 1).saturating_sub(bytes.len() as u64))
            .read_to_end(&mut bytes)?;
        *inflated += n as u64;
        Ok(bytes)
    }
}

/// A member that could not be unpacked: a warning naming it, one item skipped.
fn member_failed(name: String, msg: String) -> FileReport {
    let mut r = FileReport::new(name, "zip");
    r.problem(msg);
    r.skipped += 1;
    r
}

/// A task definition member (XML or `.job`), read whole up to the definition limit.
fn member_definition(
    mut m: Member<'_, impl Read>,
    kind: Kind,
    modified: Option<i64>,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let cap = definitions::MAX_DEFINITION_BYTES.min(m.left);
    match m.whole(cap, inflated) {
        Err(e) => member_failed(m.name, format!("cannot unpack: {e}")),
        // Over the limit is the definition reader's to report.
        Ok(bytes) => read_definition(kind, m.name, &bytes, modified, rd, sink),
    }
}

/// A hive member larger than this is not read.
const MAX_HIVE_MEMBER: u64 = 2 << 30;

/// A registry hive member, streamed to an unnamed temporary file and read at offsets from
/// there (its transaction logs, other members, are not applied: the note says so where the
/// hive is dirty).
fn member_hive(
    mut m: Member<'_, impl Read>,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    match m.spill(MAX_HIVE_MEMBER, inflated) {
        Ok(f) => match hive::FileAt::new(f) {
            Ok(src) => read_hive(&src, m.name, rd, sink),
            Err(e) => member_failed(m.name, format!("cannot read the unpacked hive: {e}")),
        },
        Err(why) => member_failed(m.name, why),
    }
}

/// The Tasks folder of the system a hive on disk belongs to: `System32\Tasks` beside its
/// `config` folder, where there is one.
fn tasks_beside(hive: &Path) -> Option<PathBuf> {
    let config = hive.parent()?;
    if !config.file_name()?.to_str()?.eq_ignore_ascii_case("config") {
        return None;
    }
    definitions::child(config.parent()?, "tasks").filter(|p| p.is_dir())
}

/// A hive's transaction logs beside it on disk: `NAME.LOG1`, `NAME.LOG2` (any case), in
/// that order.
pub(crate) fn transaction_logs(path: &Path) -> Vec<hive::FileAt> {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            let upper = n.to_ascii_uppercase();
            let want = stem.to_ascii_uppercase();
            (upper == format!("{want}.LOG1") || upper == format!("{want}.LOG2"))
                .then(|| (upper, e.path()))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .filter_map(|(_, p)| hive::FileAt::open(&p).ok())
        .collect()
}

/// Read a registry hive: a SOFTWARE hive's TaskCache becomes definitions of the host the
/// logs beside it name ([`definitions::registry_records`]), its channel settings that host's
/// coverage; a transaction log or a hive of another kind is passed over.
fn read_hive(
    src: &dyn hive::ReadAt,
    name: String,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let read = hive::Hive::open(src, &[]).and_then(|h| registry::read_registry(&h));
    registry_report(&read, name, None, None, rd, sink)
}

/// A hive file's TaskCache, read once per run however many readers ask (the Tasks folder's
/// files, the hive itself): read outside the lock, the first read kept.
fn registry_file(
    hosts: &std::sync::Mutex<definitions::HostMap>,
    hive: &Path,
) -> Arc<registry::RegistryRead> {
    let known = hosts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .known_registry(hive);
    if let Some(read) = known {
        return read;
    }
    let read = Arc::new(registry::read_hive_file(hive));
    hosts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remember_registry(hive.to_path_buf(), read)
}

/// A registry that could not be read: passed over (not a SOFTWARE hive), or a warning.
fn registry_failed(mut r: FileReport, e: &hive::HiveError) -> FileReport {
    match e {
        hive::HiveError::NotAHive(why) => {
            r.problem(format!("passed over: {why}"));
            r.not_a_log = true;
        }
        e => {
            r.problem(format!("the TaskCache could not be read: {e}"));
            r.skipped += 1;
        }
    }
    r
}

/// The TaskCache of a registry (a hive file, the live one) as definitions of the host the
/// logs beside it name, its channel settings that host's coverage.
fn registry_report(
    read: &registry::RegistryRead,
    name: String,
    placed_at: Option<&str>,
    tasks_folder: Option<&Path>,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let mut r = FileReport::new(name, "hive");
    let (cache, notes) = match read {
        Ok(c) => c,
        Err(e) => return registry_failed(r, e),
    };
    for n in notes.iter().chain(&cache.problems) {
        r.problem(n.clone());
    }
    let placed = definitions::place(placed_at.unwrap_or(&r.path));
    let host = match rd.hosts {
        Some(map) => map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .host_of(&placed),
        None => return FileReport::deferred(r.path),
    };
    for t in cache.tasks.iter().filter(|t| !t.problems.is_empty()) {
        r.problem(format!("{}: {}", t.name, t.problems.join("; ")));
    }
    let operational = cache
        .channels
        .iter()
        .find(|(c, _)| *c == taskcache::WATCHED_CHANNELS[0])
        .map(|c| c.1);
    let sysmon = cache
        .channels
        .iter()
        .find(|(c, _)| *c == taskcache::WATCHED_CHANNELS[1])
        .map(|c| c.1);
    r.witnessed.note(&host.host, |e| {
        e.operational_enabled = operational;
        e.sysmon_enabled = sysmon;
    });
    let path = r.path.clone();
    // The files this run read beside the hive compared already; the others are read here.
    let known = match (tasks_folder, rd.hosts) {
        (Some(_), Some(map)) => map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take_compared(Path::new(&path)),
        _ => HashMap::new(),
    };
    let compare_of = |t: &taskcache::RegTask| {
        known.get(&t.name).copied().or_else(|| {
            tasks_folder
                .and_then(|dir| registry::file_below(dir, &t.name))
                .map(|bytes| registry::compare_file(t, &bytes))
        })
    };
    let (records, confirmed) = registry::registry_records(
        &path,
        cache,
        &placed,
        &host,
        tasks_folder.map(|_| &compare_of as &registry::CompareOf<'_>),
    );
    for ev in records {
        r.record(ev, sink, rd.progress);
    }
    // Tasks the files beside the hive confirm are read, and stand as their files' rows.
    r.records += confirmed;
    r
}

/// An `.evtx` member, streamed to an unnamed temporary file and parsed from there.
fn member_evtx(
    mut m: Member<'_, impl Read>,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    match m.spill(MAX_EVTX_MEMBER, inflated) {
        Ok(f) => evtx_reader::read_evtx_file(f, m.name, rd, sink),
        Err(why) => member_failed(m.name, why),
    }
}

/// A Parquet member (a summary), read into memory up to [`MAX_PARQUET_MEMBER`].
fn member_parquet(
    mut m: Member<'_, impl Read>,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let cap = MAX_PARQUET_MEMBER.min(m.left);
    match m.whole(cap, inflated) {
        Err(e) => member_failed(m.name, format!("cannot unpack: {e}")),
        Ok(bytes) if bytes.len() as u64 > cap => {
            member_failed(m.name, format!("not read: inflates past {} MiB", cap >> 20))
        }
        Ok(bytes) => read_parquet(bytes, m.name, rd, sink),
    }
}

/// A text member (JSON, JSON Lines, a summary), read as a stream up to [`MAX_TEXT_MEMBER`].
fn member_text(
    m: Member<'_, impl Read>,
    kind: Kind,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) -> FileReport {
    let cap = MAX_TEXT_MEMBER.min(m.left);
    let head_len = m.head.len() as u64;
    let mut rest = Capped {
        inner: m.input,
        read: head_len,
        cap,
        more: false,
    };
    let mut input = std::io::BufReader::with_capacity(
        STREAM_BUFFER,
        std::io::Cursor::new(m.head).chain(&mut rest),
    );
    let mut r = read_text(kind, &mut input, m.name, rd, sink);
    drop(input);
    *inflated += rest.read.saturating_sub(head_len);
    if rest.more {
        r.skipped += 1;
        r.problem(format!(
            "inflates past {} MiB: what lies beyond was not read",
            cap >> 20
        ));
    }
    r
}

/// Whether an input names this machine's live SOFTWARE hive (`HKLM\\SOFTWARE`).
fn is_live_software(p: &Path) -> bool {
    p.to_str().is_some_and(|s| {
        s.eq_ignore_ascii_case("HKLM\\SOFTWARE") || s.eq_ignore_ascii_case("HKLM/SOFTWARE")
    })
}

/// This machine's live SOFTWARE hive, read through the registry API (Windows).
#[cfg(windows)]
fn read_live_software(name: String, rd: &Reading<'_>, sink: &mut dyn Sink) -> FileReport {
    let system32 = std::env::var_os("SystemRoot")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("C:\\Windows"))
        .join("System32");
    let tasks = system32.join("Tasks");
    let tasks = tasks.is_dir().then_some(tasks);
    // Placed where the hive lies, so that its host is this computer.
    let at = system32
        .join("config")
        .join("SOFTWARE")
        .display()
        .to_string();
    let read = registry::read_registry(&live_registry::LiveSoftware);
    registry_report(&read, name, Some(&at), tasks.as_deref(), rd, sink)
}

#[cfg(not(windows))]
fn read_live_software(name: String, _: &Reading<'_>, _: &mut dyn Sink) -> FileReport {
    let mut r = FileReport::new(name, "hive");
    r.problem("a live registry is read on Windows only");
    r
}

/// Read one file from disk: sniff its kind from the first bytes, not its name; text is read
/// as a stream.
fn read_file(path: &Path, rd: &Reading<'_>, sink: &mut dyn Sink) -> Vec<FileReport> {
    let name = path.display().to_string();
    if is_live_software(path) && !path.is_file() {
        if rd.hosts.is_none() {
            return vec![FileReport::deferred(name)];
        }
        return vec![read_live_software(name, rd, sink)];
    }
    let cannot = |name: String, what: &str, e: std::io::Error| {
        let mut r = FileReport::new(name, "unknown");
        r.problem(format!("cannot {what}: {e}"));
        vec![r]
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return cannot(name, "open", e),
    };
    let mut input = std::io::BufReader::with_capacity(STREAM_BUFFER, file);
    let kind = {
        use std::io::BufRead;
        match input.fill_buf() {
            Ok(head) => sniff(head, head.len() < STREAM_BUFFER),
            Err(e) => return cannot(name, "read", e),
        }
    };
    let kind = kind_of(kind, &name);
    match kind {
        Kind::Evtx => vec![evtx_reader::read_evtx_path(path, name, rd, sink)],
        Kind::Zip => read_zip(path, name, rd, sink),
        Kind::Hive => {
            if rd.hosts.is_none() {
                return vec![FileReport::deferred(name)];
            }
            drop(input);
            let Some(hosts) = rd.hosts else {
                return vec![FileReport::deferred(name)];
            };
            let read = registry_file(hosts, path);
            vec![registry_report(
                &read,
                name,
                None,
                tasks_beside(path).as_deref(),
                rd,
                sink,
            )]
        }
        Kind::TaskXml | Kind::Job => {
            if rd.hosts.is_none() {
                return vec![FileReport::deferred(name)];
            }
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map(|t| t.as_microsecond());
            let mut bytes = Vec::new();
            match input
                .take(definitions::MAX_DEFINITION_BYTES + 1)
                .read_to_end(&mut bytes)
            {
                Err(e) => cannot(name, "read", e),
                Ok(_) => vec![read_definition(kind, name, &bytes, modified, rd, sink)],
            }
        }
        Kind::Parquet => {
            // Read at random: held in memory, as large as a Parquet member may be.
            let mut bytes = Vec::new();
            match input.take(MAX_PARQUET_MEMBER + 1).read_to_end(&mut bytes) {
                Err(e) => cannot(name, "read", e),
                Ok(_) if bytes.len() as u64 > MAX_PARQUET_MEMBER => {
                    let mut r = FileReport::new(name, "summary");
                    r.problem(format!(
                        "not read: a Parquet file larger than {} MiB",
                        MAX_PARQUET_MEMBER >> 20
                    ));
                    r.skipped += 1;
                    vec![r]
                }
                Ok(_) => vec![read_parquet(bytes, name, rd, sink)],
            }
        }
        kind => vec![read_text(kind, &mut input, name, rd, sink)],
    }
}

const PARQUET_MAGIC: &[u8] = b"PAR1";
/// The read buffer of a text stream.
const STREAM_BUFFER: usize = 1 << 20;

fn read_zip(path: &Path, name: String, rd: &Reading<'_>, sink: &mut dyn Sink) -> Vec<FileReport> {
    let fail = |msg: String| {
        let mut r = FileReport::new(name.clone(), "zip");
        r.problem(msg);
        vec![r]
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot open: {e}")),
    };
    let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => return fail(format!("not a readable zip: {e}")),
    };
    let mut reports = Vec::new();
    // A Velociraptor hunt download holds each client's results (and uploaded files) and,
    // under `results/All ARTIFACT.json`, all results again with the client's id and name on
    // every row: read the combined results alone (JSON, not its CSV twin), so that no
    // client's summary is met twice.
    let combined = archive
        .file_names()
        .any(|n| n.is_ok_and(|n| n.starts_with("results/All ") && n.ends_with(".json")));
    // Bytes inflated from this archive so far (its members' real sizes, not their headers').
    let mut inflated = 0u64;
    // Task definition members, read once the archive's logs are: (member, report slot).
    let mut deferred: Vec<(usize, usize)> = Vec::new();
    for i in 0..archive.len() {
        if rd.progress.cancelled() {
            break;
        }
        let mut member = match archive.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                let mut r = FileReport::new(format!("{name}!#{i}"), "zip");
                r.problem(format!("cannot read zip member: {e}"));
                r.skipped += 1;
                reports.push(r);
                continue;
            }
        };
        // Folders, and the resource forks macOS adds to archives it makes.
        if member.is_dir()
            || member.name().is_ok_and(|n| {
                n.starts_with("__MACOSX/")
                    || n.rsplit('/').next().is_some_and(|b| b.starts_with("._"))
            })
        {
            continue;
        }
        if combined
            && member.name().is_ok_and(|n| {
                n.ends_with(".csv")
                    || (!n.starts_with("results/")
                        && (n.contains("/results/") || n.contains("/uploads/")))
            })
        {
            continue;
        }
        let member_name = match member.name() {
            Ok(n) => format!("{name}!{n}"),
            Err(_) => format!("{name}!#{i}"),
        };
        let modified = zip_time(member.last_modified());
        let mut r = read_member(&mut member, member_name, modified, &mut inflated, rd, sink);
        // Like a file met in a folder walk: a member that is no log (a collection's metadata,
        // a hunt's logs and requests) is passed over without a warning.
        r.found_in_folder = true;
        if r.deferred {
            deferred.push((i, reports.len()));
        }
        reports.push(r);
    }
    if !deferred.is_empty() {
        read_zip_definitions(
            &mut archive,
            deferred,
            &mut reports,
            &mut inflated,
            rd,
            sink,
        );
    }
    reports
}

/// The archive's task definitions (members the first pass deferred: member index, report
/// slot), read once its logs say which hosts they belong to.
fn read_zip_definitions<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    deferred: Vec<(usize, usize)>,
    reports: &mut Vec<FileReport>,
    inflated: &mut u64,
    rd: &Reading<'_>,
    sink: &mut dyn Sink,
) {
    let map = std::sync::Mutex::new(definitions::HostMap::new(reports));
    let rd = Reading {
        hosts: Some(&map),
        ..*rd
    };
    let (later, refused) = cap_per_folder(
        deferred
            .iter()
            .map(|&(i, slot)| (i, reports[slot].path.clone())),
    );
    let slot_of: HashMap<usize, usize> = deferred.into_iter().collect();
    let mut dropped = std::collections::HashSet::new();
    for (i, rs) in refused {
        match rs.into_iter().next() {
            Some(mut r) => {
                r.found_in_folder = true;
                reports[slot_of[&i]] = r;
            }
            // Counted in its folder's one report.
            None => {
                dropped.insert(slot_of[&i]);
            }
        }
    }
    for i in later {
        let slot = slot_of[&i];
        let name = reports[slot].path.clone();
        let r = match archive.by_index(i) {
            Ok(mut member) => {
                let modified = zip_time(member.last_modified());
                read_member(&mut member, name, modified, inflated, &rd, sink)
            }
            Err(e) => {
                let mut r = FileReport::new(name, "zip");
                r.problem(format!("cannot read zip member: {e}"));
                r.skipped += 1;
                r
            }
        };
        reports[slot] = FileReport {
            found_in_folder: true,
            ..r
        };
    }
    if !dropped.is_empty() {
        let mut slot = 0;
        reports.retain(|_| {
            slot += 1;
            !dropped.contains(&(slot - 1))
        });
    }
}

/// A zip member's time stamp (local time of the machine that made the archive; read as UTC).
fn zip_time(t: Option<zip::DateTime>) -> Option<i64> {
    let t = t?;
    jiff::civil::DateTime::new(
        i16::try_from(t.year()).ok()?,
        i8::try_from(t.month()).ok()?,
        i8::try_from(t.day()).ok()?,
        i8::try_from(t.hour()).ok()?,
        i8::try_from(t.minute()).ok()?,
        i8::try_from(t.second()).ok()?,
        0,
    )
    .ok()?
    .to_zoned(jiff::tz::TimeZone::UTC)
    .ok()
    .map(|z| z.timestamp().as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Endless zeros, counting what is read.
    struct Zeros(u64);
    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(0);
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
    }

    /// A zip bomb (a member inflating to endless zeros) costs its first bytes only: its kind
    /// is sniffed before anything else is inflated.
    #[test]
    fn a_member_that_is_no_log_is_not_inflated() {
        let progress = Progress::default();
        let none = AtomicU64::new(0);
        let rd = Reading {
            prefilter: &Prefilter::everything(),
            progress: &progress,
            evtx_threads: 1,
            summary_events: &none,
            hosts: None,
        };
        let mut bomb = Zeros(0);
        let mut inflated = 0;
        let mut events: Vec<RawEvent> = Vec::new();
        let r = read_member(
            &mut bomb,
            "bomb.zip!zeros".into(),
            None,
            &mut inflated,
            &rd,
            &mut events,
        );
        assert!(bomb.0 <= SNIFF_BYTES + 64 * 1024, "read {} bytes", bomb.0);
        assert_eq!(inflated, SNIFF_BYTES);
        assert!(r.not_a_log && events.is_empty());
    }

    fn queue(files: &[(PathBuf, bool)], window: usize) -> Queue<'_> {
        Queue {
            files,
            next: AtomicU64::new(0),
            window,
            state: std::sync::Mutex::new(Folding::default()),
            fold_moved: std::sync::Condvar::new(),
            broken: AtomicBool::new(false),
        }
    }

    /// The fold's window holds back a reader only for files that hold events: files that
    /// hold nothing (definitions put aside) never stop the others, and the next file to fold
    /// is never held back.
    #[test]
    fn the_window_counts_files_that_hold_events() {
        let files: Vec<(PathBuf, bool)> = (0..6)
            .map(|i| (PathBuf::from(format!("f{i}")), false))
            .collect();
        let q = queue(&files, 1);
        // File 0 (a large log) is being read; files 1-3 hold nothing and are read meanwhile:
        // nothing waits to be folded, so nothing holds the reader back.
        assert_eq!(q.take().map(|(i, _)| i), Some(0));
        for want in 1..=3 {
            assert_eq!(q.take().map(|(i, _)| i), Some(want));
        }
        // File 1 held events after all: one file waits for the fold, the window (1) is full,
        // and the reader asking for file 4 waits until the fold moves.
        q.read_one();
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let q = &q;
            s.spawn(move || tx.send(q.take().map(|(i, _)| i)).unwrap());
            assert!(
                rx.recv_timeout(std::time::Duration::from_millis(100))
                    .is_err(),
                "a reader went past a full window"
            );
            q.folded(2, true); // files 0 and 1 folded: nothing waits any more
            let got = rx.recv_timeout(std::time::Duration::from_secs(30));
            assert_eq!(got, Ok(Some(4)), "the reader was not let on");
        });
        // The next file to fold is never held back, however full the window.
        let q = queue(&files, 1);
        q.read_one();
        q.read_one();
        assert_eq!(q.take().map(|(i, _)| i), Some(0));
    }

    /// An `.evtx` member is streamed to an unnamed temporary file and read from there: the
    /// same records as the file itself.
    #[test]
    fn an_evtx_member_reads_as_the_file() {
        use std::io::Write;
        let log = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/SRV01/Security.evtx");
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("logs.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        z.start_file(
            "WS001/Security.evtx",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(&std::fs::read(&log).unwrap()).unwrap();
        z.finish().unwrap();
        let plain = read_paths(&[log], |_| true, &Progress::default());
        let zipped = read_paths(&[zip_path], |_| true, &Progress::default());
        assert!(plain.records() > 100);
        assert_eq!(zipped.records(), plain.records());
        let ids = |i: &Ingest| {
            i.events
                .iter()
                .map(|e| (e.event_id, e.record_id))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&zipped), ids(&plain));
    }

    /// A zip member's name is the input's: an escape sequence in it must not reach the
    /// terminal through a warning.
    #[test]
    fn warnings_escape_member_names() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        z.start_file(
            "evil\u{1b}[2J.json",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(b"{broken").unwrap();
        z.finish().unwrap();
        let ing = read_paths(&[path], |_| true, &Progress::default());
        let w: Vec<String> = ing.reports.iter().filter_map(FileReport::warning).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(!w[0].contains('\u{1b}'), "{w:?}");
        assert!(w[0].contains("\\x1b") || w[0].contains("\\u{1b}"), "{w:?}");
    }

    #[test]
    fn missing_path_is_reported_not_fatal() {
        let ing = read_paths(
            &[PathBuf::from("/no/such/path.evtx")],
            |_| true,
            &Progress::default(),
        );
        assert_eq!(ing.events.len(), 0);
        assert_eq!(ing.reports.len(), 1);
        assert!(ing.reports[0].warning().unwrap().contains("no such file"));
    }
}
