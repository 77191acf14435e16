//! Triage sessions: per unique event a mark, a verdict and a note, kept in a JSON file beside
//! the logs (`anomalog-session.json` in the folder of the first input) and restored when the
//! same logs are opened again.
//!
//! Unique events are keyed by a stable hash of what makes them unique (profile, channel,
//! event id and the profile's field values), so a verdict follows an event across runs, across
//! re-collections of the same hosts and across folders that share the session file. Entries of
//! events not in the current logs are kept untouched.
//!
//! Saving is atomic ([`crate::util::write_file`]): the file is written under a temporary
//! name in the same folder, flushed to disk, then renamed over the old one. A kill at any moment leaves either the previous
//! session or the new one, never a mix. When the logs' folder cannot be written (a read-only
//! mounted image), the session goes to `$XDG_STATE_HOME/anomalog/sessions/` (or
//! `~/.local/state/...`) instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::frame::Dataset;

/// The session file's name beside the logs (ingest passes over files of this name).
pub use crate::ingest::SESSION_FILE;
/// The format this build reads and writes.
pub const FORMAT: &str = "anomalog-session-1";

/// What can go wrong with a session file, and which file.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{}: {mb} MB is too large for a session file", path.display())]
    TooLarge { path: PathBuf, mb: u64 },
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a session file ({reason})", path.display())]
    NotASession { path: PathBuf, reason: String },
    #[error("{}: session format {found:?}, this anomalog reads {FORMAT}", path.display())]
    Format { path: PathBuf, found: String },
    #[error("no input to keep a session beside")]
    NoInput,
    #[error("this session saves on another thread")]
    SavedElsewhere,
    /// Why it could not be saved, where it was and (when there is one) where it would have
    /// gone instead.
    #[error("session not saved: {why}")]
    NotSaved { why: String },
}

/// An analyst's verdict on a unique event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Benign,
    Suspicious,
    Malicious,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Benign => "benign",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }

    /// A short form for the list.
    pub fn short(self) -> &'static str {
        match self {
            Verdict::Benign => "ben",
            Verdict::Suspicious => "susp",
            Verdict::Malicious => "mal",
        }
    }

    /// The verdict chooser's key for it.
    pub fn key(self) -> char {
        match self {
            Verdict::Benign => 'b',
            Verdict::Suspicious => 's',
            Verdict::Malicious => 'm',
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The triage of one unique event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "is_false")]
    pub marked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// What the event is (event id, task, command), for a person reading the file.
    #[serde(default)]
    pub label: String,
}

impl Entry {
    fn is_empty(&self) -> bool {
        !self.marked && self.verdict.is_none() && self.note.is_empty()
    }
}

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionFile {
    pub format: String,
    #[serde(default)]
    pub profile: String,
    /// When it was last saved (RFC 3339).
    #[serde(default)]
    pub saved: String,
    /// The inputs of the last save.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Entry per unique-event key.
    #[serde(default, deserialize_with = "capped_entries")]
    pub events: BTreeMap<String, Entry>,
    /// Entry per task key (the task view's marks, verdicts and notes).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "capped_entries"
    )]
    pub tasks: BTreeMap<String, Entry>,
}

/// Entries a session may hold, of each kind: an analyst marking every row of a 100 000-event
/// fleet stays under it; a file of millions of tiny entries (well within
/// [`MAX_SESSION_BYTES`]) would take hundreds of megabytes, held twice.
pub const MAX_SESSION_ENTRIES: usize = 250_000;

/// A map of entries, refused (not truncated: the file is never written over) when it holds
/// more than [`MAX_SESSION_ENTRIES`].
fn capped_entries<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Entry>, D::Error> {
    struct Capped;
    impl<'de> serde::de::Visitor<'de> for Capped {
        type Value = BTreeMap<String, Entry>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of session entries")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, Entry>()? {
                if out.len() >= MAX_SESSION_ENTRIES {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_SESSION_ENTRIES} entries"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Capped)
}

/// What a triage entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A unique event.
    Event,
    /// A task (every unique event naming it).
    Task,
}

impl SessionFile {
    fn map(&mut self, kind: Kind) -> &mut BTreeMap<String, Entry> {
        match kind {
            Kind::Event => &mut self.events,
            Kind::Task => &mut self.tasks,
        }
    }
}

/// One changed entry: its kind, key, and the entry (`None`: removed).
pub type Change = (Kind, String, Option<Entry>);

/// Writes a session's changes to its file, off the UI thread: it holds its own copy of the
/// file (so that it can write the whole session to the fallback place when the first place
/// fails) and merges what another instance saved since ([`Saver::save`]).
#[derive(Debug, Clone)]
pub struct Saver {
    pub path: PathBuf,
    pub fallback: Option<PathBuf>,
    file: SessionFile,
    dirty: BTreeSet<(Kind, String)>,
}

impl Saver {
    /// Take changes made in memory (the next [`Saver::save`] writes them).
    pub fn apply(&mut self, changes: Vec<Change>) {
        for (kind, key, entry) in changes {
            match entry {
                Some(e) => self.file.map(kind).insert(key.clone(), e),
                None => self.file.map(kind).remove(&key),
            };
            self.dirty.insert((kind, key));
        }
    }

    /// Write the session atomically. What another instance saved since is kept, with these
    /// changes on top. A file that cannot be read now (damaged, replaced, unreadable) is never
    /// written over, and when the folder cannot be written the session moves to the fallback
    /// place for good; returns the path written.
    pub fn save(&mut self) -> Result<PathBuf, SessionError> {
        self.file.format = FORMAT.into();
        self.file.saved = jiff::Timestamp::now().to_string();
        match read(&self.path) {
            Ok(Some(mut disk)) => {
                for (kind, k) in &self.dirty {
                    let mine = match kind {
                        Kind::Event => self.file.events.get(k),
                        Kind::Task => self.file.tasks.get(k),
                    }
                    .cloned();
                    match mine {
                        Some(e) => disk.map(*kind).insert(k.clone(), e),
                        None => disk.map(*kind).remove(k),
                    };
                }
                self.file.events = disk.events;
                self.file.tasks = disk.tasks;
            }
            Ok(None) => {}
            Err(e) => {
                let why = format!(
                    "{} cannot be read ({e}); it is left as it is",
                    self.path.display()
                );
                return self.save_elsewhere(why);
            }
        }
        match write_atomic(&self.path, &self.file) {
            Ok(()) => {
                self.dirty.clear();
                Ok(self.path.clone())
            }
            // Read-only evidence, a folder that is not one: save where it can be found again.
            Err(e) => self.save_elsewhere(format!("{}: {e}", self.path.display())),
        }
    }

    /// Save to the fallback place (`why`: why not where it was), once per session.
    fn save_elsewhere(&mut self, why: String) -> Result<PathBuf, SessionError> {
        let Some(fb) = self.fallback.take().filter(|f| *f != self.path) else {
            return Err(SessionError::NotSaved { why });
        };
        // The fallback folder is anomalog's own: made on first use.
        if let Some(dir) = fb.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        write_atomic(&fb, &self.file).map_err(|e2| SessionError::NotSaved {
            why: format!("{why}; {}: {e2}", fb.display()),
        })?;
        self.path = fb;
        self.dirty.clear();
        Ok(self.path.clone())
    }
}

/// An open session over one dataset.
#[derive(Debug)]
pub struct Session {
    pub path: PathBuf,
    pub file: SessionFile,
    /// The key of every unique event of the dataset, in dataset order.
    keys: Vec<String>,
    /// The key of every task of the dataset, in task order.
    task_keys: Vec<String>,
    /// Whether the file existed (a restored session).
    pub restored: bool,
    /// Where to save instead when `path` cannot be written (a session beside read-only
    /// logs); `None` for a file the user named.
    pub fallback: Option<PathBuf>,
    /// Entries changed here since they were last handed to a [`Saver`].
    changes: BTreeSet<(Kind, String)>,
    /// The saver of [`Session::save`], until the UI takes it to its own thread
    /// ([`Session::take_saver`]).
    saver: Option<Saver>,
}

/// FNV-1a, 64 bits: stable across builds and machines.
fn fnv1a(bytes: impl IntoIterator<Item = u8>, mut h: u64) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf29ce484222325;

/// The stable key of unique event `u`: the profile, channel, event id and profile fields
/// (not the context fields, which change as logs are added).
pub fn key(ds: &Dataset, u: usize) -> String {
    let e = &ds.uniques[u];
    let mut h = fnv1a(ds.profile.bytes(), FNV_OFFSET);
    h = fnv1a([0u8], h);
    h = fnv1a(e.channel.bytes(), h);
    h = fnv1a(e.event_id.to_le_bytes(), h);
    for v in &e.values[..ds.profile_fields.min(e.values.len())] {
        h = fnv1a([0u8], h);
        h = fnv1a(v.bytes(), h);
    }
    format!("{h:016x}")
}

/// The stable key of task `t`: the profile and the task's normalised name.
pub fn task_key(ds: &Dataset, t: usize) -> String {
    let mut h = fnv1a(ds.profile.bytes(), FNV_OFFSET);
    h = fnv1a(*b"\0task\0", h);
    h = fnv1a(ds.tasks.tasks[t].key.bytes(), h);
    format!("t{h:016x}")
}

fn label(ds: &Dataset, u: usize) -> String {
    let e = &ds.uniques[u];
    let mut parts = vec![e.event_id.to_string()];
    for f in ["task_name", "service_name", "command", "image", "arguments"] {
        let v = ds.value(u, f);
        if !v.is_empty() {
            parts.push(v.to_string());
        }
    }
    parts.join(" ")
}

/// Where the session of these inputs lives beside the logs: the folder of the first input
/// (the input itself when it is a folder).
pub fn path_beside(inputs: &[PathBuf]) -> Option<PathBuf> {
    let first = inputs.first()?;
    let dir = if first.is_dir() {
        first.clone()
    } else {
        match first.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    Some(dir.join(SESSION_FILE))
}

/// The fallback location for a session whose folder cannot be written.
pub fn fallback_path(beside: &Path) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let dir = beside.parent().unwrap_or(Path::new("."));
    let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let h = fnv1a(canon.to_string_lossy().bytes(), FNV_OFFSET);
    Some(
        base.join("anomalog")
            .join("sessions")
            .join(format!("{h:016x}.json")),
    )
}

/// A session larger than this is no session: an analyst's marks, verdicts and notes on ten
/// thousand events take about 1.5 MB, and a file is held twice in memory (the UI's copy and
/// the saver's).
pub const MAX_SESSION_BYTES: u64 = 32 << 20;

/// Read a session file; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<SessionFile>, SessionError> {
    if let Ok(m) = std::fs::metadata(path)
        && m.len() > MAX_SESSION_BYTES
    {
        return Err(SessionError::TooLarge {
            path: path.to_path_buf(),
            mb: m.len() >> 20,
        });
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(SessionError::Read {
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    let file: SessionFile =
        serde_json::from_slice(&bytes).map_err(|e| SessionError::NotASession {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if file.format != FORMAT {
        return Err(SessionError::Format {
            path: path.to_path_buf(),
            found: file.format,
        });
    }
    Ok(Some(file))
}

/// Write `file` to `path` atomically ([`crate::util::write_file`]).
pub fn write_atomic(path: &Path, file: &SessionFile) -> std::io::Result<()> {
    crate::util::write_file(path, |f| {
        let bytes = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
        f.write_all(&bytes)?;
        f.write_all(b"\n")
    })
}

impl Session {
    /// Open the session at `path` for `ds` (an empty one when the file does not exist). A
    /// file that cannot be read is an error: it is never overwritten.
    pub fn open(path: PathBuf, ds: &Dataset) -> Result<Session, SessionError> {
        let (file, restored) = match read(&path)? {
            Some(f) => (f, true),
            None => (
                SessionFile {
                    format: FORMAT.into(),
                    profile: ds.profile.into(),
                    ..SessionFile::default()
                },
                false,
            ),
        };
        Ok(Session {
            saver: Some(Saver {
                path: path.clone(),
                fallback: None,
                file: file.clone(),
                dirty: BTreeSet::new(),
            }),
            path,
            file,
            keys: (0..ds.uniques.len()).map(|u| key(ds, u)).collect(),
            task_keys: (0..ds.tasks.len()).map(|t| task_key(ds, t)).collect(),
            restored,
            fallback: None,
            changes: BTreeSet::new(),
        })
    }

    /// Open the session of these inputs: `explicit` when given, else the file beside the
    /// logs, else (when only that exists) the fallback for read-only folders.
    pub fn for_inputs(
        inputs: &[PathBuf],
        explicit: Option<&Path>,
        ds: &Dataset,
    ) -> Result<Session, SessionError> {
        if let Some(p) = explicit {
            return Session::open(p.to_path_buf(), ds);
        }
        let beside = path_beside(inputs).ok_or(SessionError::NoInput)?;
        if !beside.exists()
            && let Some(fb) = fallback_path(&beside).filter(|p| p.exists())
        {
            return Session::open(fb, ds);
        }
        let mut s = Session::open(beside.clone(), ds)?;
        s.set_fallback(fallback_path(&beside));
        s.file.inputs = inputs.iter().map(|p| p.display().to_string()).collect();
        if let Some(sv) = &mut s.saver {
            sv.file.inputs = s.file.inputs.clone();
        }
        Ok(s)
    }

    /// Where to save when `path` cannot be written.
    pub fn set_fallback(&mut self, fallback: Option<PathBuf>) {
        self.fallback = fallback.clone();
        if let Some(sv) = &mut self.saver {
            sv.fallback = fallback;
        }
    }

    /// Whether any entry has a verdict or a note (of these logs or others).
    pub fn has_triage(&self) -> bool {
        self.file
            .events
            .values()
            .chain(self.file.tasks.values())
            .any(|e| e.verdict.is_some() || !e.note.is_empty())
    }

    /// The entry of unique event `u`, if it has one.
    pub fn entry(&self, u: usize) -> Option<&Entry> {
        self.keys.get(u).and_then(|k| self.file.events.get(k))
    }

    /// The entry of task `t`, if it has one.
    pub fn task_entry(&self, t: usize) -> Option<&Entry> {
        self.task_keys.get(t).and_then(|k| self.file.tasks.get(k))
    }

    pub fn verdict(&self, u: usize) -> Option<Verdict> {
        self.entry(u).and_then(|e| e.verdict)
    }

    pub fn note(&self, u: usize) -> &str {
        self.entry(u).map_or("", |e| e.note.as_str())
    }

    /// Change the entry of unique event `u` (in memory; [`Session::save`] or a [`Saver`]
    /// writes it).
    pub fn update(&mut self, ds: &Dataset, u: usize, f: impl FnOnce(&mut Entry)) {
        let Some(k) = self.keys.get(u) else { return };
        self.changes.insert((Kind::Event, k.clone()));
        let e = self.file.events.entry(k.clone()).or_default();
        f(e);
        if e.is_empty() {
            self.file.events.remove(k);
        } else {
            e.label = label(ds, u);
        }
    }

    /// Change the entry of task `t`.
    pub fn update_task(&mut self, ds: &Dataset, t: usize, f: impl FnOnce(&mut Entry)) {
        let Some(k) = self.task_keys.get(t) else {
            return;
        };
        self.changes.insert((Kind::Task, k.clone()));
        let e = self.file.tasks.entry(k.clone()).or_default();
        f(e);
        if e.is_empty() {
            self.file.tasks.remove(k);
        } else {
            e.label = format!("task {}", ds.tasks.tasks[t].name);
        }
    }

    /// The entries changed since the last call, as they are now: what a [`Saver`] writes.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
            .into_iter()
            .map(|(kind, k)| {
                let e = match kind {
                    Kind::Event => self.file.events.get(&k),
                    Kind::Task => self.file.tasks.get(&k),
                }
                .cloned();
                (kind, k, e)
            })
            .collect()
    }

    /// The saver, to run on another thread (then [`Session::save`] no longer saves).
    pub fn take_saver(&mut self) -> Option<Saver> {
        self.saver.take()
    }

    /// Unique events of the dataset with an entry, in dataset order.
    pub fn present(&self) -> impl Iterator<Item = (usize, &Entry)> + '_ {
        self.keys
            .iter()
            .enumerate()
            .filter_map(|(u, k)| self.file.events.get(k).map(|e| (u, e)))
    }

    /// Tasks of the dataset with an entry, in task order.
    pub fn present_tasks(&self) -> impl Iterator<Item = (usize, &Entry)> + '_ {
        self.task_keys
            .iter()
            .enumerate()
            .filter_map(|(t, k)| self.file.tasks.get(k).map(|e| (t, e)))
    }

    /// Write the changes made since the last save, here, on this thread (headless front
    /// ends and tests; the UI hands them to a [`Saver`] on its own thread). Returns the path
    /// written, which moves to the fallback place when the first cannot be written.
    pub fn save(&mut self) -> Result<PathBuf, SessionError> {
        let changes = self.take_changes();
        let Some(sv) = &mut self.saver else {
            return Err(SessionError::SavedElsewhere);
        };
        sv.apply(changes);
        let r = sv.save();
        self.path = sv.path.clone();
        self.fallback = sv.fallback.clone();
        // What other instances saved since, merged by the save.
        if r.is_ok() {
            self.file.events.clone_from(&sv.file.events);
            self.file.tasks.clone_from(&sv.file.tasks);
        }
        r
    }

    /// Mark the unique events with a benign verdict as left out of training.
    pub fn exclude_benign(&self, ds: &Dataset) -> usize {
        let mask = self.benign_mask(ds.uniques.len());
        ds.set_excluded(&mask);
        mask.iter().filter(|&&b| b).count()
    }

    /// Per unique event (`n` of them): whether its verdict is benign.
    pub fn benign_mask(&self, n: usize) -> Vec<bool> {
        let mut mask = vec![false; n];
        for (u, e) in self.present() {
            if e.verdict == Some(Verdict::Benign) && u < n {
                mask[u] = true;
            }
        }
        mask
    }
}
