//! The terminal UI's state, changed only by [`App::update`] (key and mouse actions) and
//! [`App::on_msg`] (messages from the loader, the training worker and the effect executor).
//! No threads, no terminal, no file I/O: both return [`Effect`]s for the loop to carry out
//! off the render thread ([`Executor`]); tests drive the app directly and run effects with an
//! [`Executor`] of their own, and [`crate::ui`] draws it.
//!
//! The state is split by concern, each with private fields: the lists of both views
//! ([`list::ListView`]), the drill-down ([`drill::Drill`]), triage ([`triage::Triage`]), the
//! open prompt ([`Mode`]), and the loaded data ([`table::Data`]), read through
//! [`table::Table`].

pub mod columns;
pub mod drill;
pub mod filter;
mod handle;
pub mod keys;
pub mod list;
pub mod prompt;
pub mod query;
pub mod table;
pub mod triage;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use rayon::prelude::*;

use crate::frame::Dataset;
use crate::model::worker::WorkerMsg;
use crate::model::{EpochReport, Ranking};
use crate::output::{Format, Rows, TaskRows};
use crate::pipeline::Loaded;
use crate::session::{Change, Entry, Saver, Session, Verdict};

pub use crate::context::lifecycle::LifecycleView;
pub use columns::{COLUMNS, Column, ColumnSpec, Width};
pub use drill::{Focus, Scroll};
pub use filter::Filter;
pub use keys::{
    Action, BINDINGS, Binding, Key, Keymap, PROMPT_BINDINGS, VALUES_BINDINGS, VERDICT_BINDINGS,
    binding_for,
};
pub use prompt::{Edit, Feedback, Prompt};
pub use table::{Data, Judged, Table};

/// Time the filter bar's live count may take per preview; past it, the count so far is shown
/// as a lower bound.
const PREVIEW_BUDGET: std::time::Duration = std::time::Duration::from_millis(40);
/// Rows counted between two looks at the clock.
const PREVIEW_SLICE: usize = 4096;

/// Which list is shown: one row per unique event the logs recorded, per unique task
/// definition found on the hosts, or per task (both joined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Events,
    Definitions,
    Tasks,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Events => "events",
            View::Definitions => "definitions",
            View::Tasks => "tasks",
        }
    }
}

/// Side effects the terminal loop carries out for [`App::update`] and [`App::on_msg`].
#[derive(Debug, Clone)]
pub enum Effect {
    CancelTraining,
    /// Stop any training, leave these unique events out, train again.
    Retrain {
        exclude: Vec<bool>,
    },
    /// Start saving the session (the saver holds its own copy of the file).
    StartSaver(Box<Saver>),
    /// Save these changed triage entries.
    Save(Vec<Change>),
    /// Write an export.
    Export(Box<ExportJob>),
    /// Work out what the prompt's new text means once the keys waiting are handled: the
    /// loop answers with [`Msg::Preview`].
    Preview,
    /// Put this text on the terminal's clipboard (OSC 52; the loop writes it between frames).
    Copy(String),
    /// Write this text to a new file (never over one).
    WriteText {
        path: PathBuf,
        text: String,
    },
}

/// An export, with everything it needs to run on another thread.
#[derive(Debug, Clone)]
pub struct ExportJob {
    pub format: Format,
    pub path: PathBuf,
    pub view: View,
    pub ds: Arc<Dataset>,
    pub ranking: Arc<Ranking>,
    /// Items (unique events or tasks) in display order.
    pub items: Vec<usize>,
    /// The triage entries of those items.
    pub entries: BTreeMap<usize, Entry>,
    /// Write over an existing file (asked first: [`Msg::ExportExists`]).
    pub overwrite: bool,
}

impl ExportJob {
    /// Write the export atomically (a kill leaves the previous file or the whole new one);
    /// returns the rows written.
    pub fn run(&self) -> anyhow::Result<usize> {
        let write = |w: &mut dyn std::io::Write| -> anyhow::Result<()> {
            match self.view {
                View::Events | View::Definitions => {
                    { Rows::with_order(&self.ds, &self.ranking, self.items.clone()) }
                        .with_entries(self.entries.clone())
                        .write(self.format, w)
                }
                View::Tasks => TaskRows::new(&self.ds, &self.ranking, self.items.clone())
                    .with_entries(self.entries.clone())
                    .write(self.format, w),
            }
        };
        // The export prompt makes missing folders (the analyst typed where it goes).
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        crate::output::write_file_with(&self.path, write)?;
        Ok(self.items.len())
    }
}

/// Carries out the effects that touch files: the session saver and exports. The terminal
/// loop runs one on its own thread; tests run one inline.
#[derive(Debug, Default)]
pub struct Executor {
    saver: Option<Saver>,
}

impl Executor {
    /// Carry out an effect; the message to hand back to [`App::on_msg`], if any. Training
    /// effects are the loop's own and give `None`.
    pub fn run(&mut self, effect: Effect) -> Option<Msg> {
        match effect {
            Effect::StartSaver(s) => {
                self.saver = Some(*s);
                None
            }
            Effect::Save(changes) => {
                let s = self.saver.as_mut()?;
                s.apply(changes);
                Some(Msg::Saved(s.save().map_err(|e| e.to_string())))
            }
            // An existing file is never written over without the analyst's yes.
            Effect::Export(job) if !job.overwrite && job.path.exists() => {
                Some(Msg::ExportExists(job))
            }
            Effect::Export(job) => Some(Msg::Exported {
                path: job.path.clone(),
                result: job.run().map_err(|e| format!("{e:#}")),
            }),
            Effect::Preview => Some(Msg::Preview),
            Effect::WriteText { path, text } => Some(Msg::Wrote {
                result: write_new(&path, &text).map_err(|e| format!("{e:#}")),
                path,
            }),
            Effect::CancelTraining | Effect::Retrain { .. } | Effect::Copy(_) => None,
        }
    }

    /// Take more changes without saving yet (the loop batches a burst of keys into one save).
    pub fn apply(&mut self, changes: Vec<Change>) {
        if let Some(s) = &mut self.saver {
            s.apply(changes);
        }
    }
}

/// Which prompt or overlay is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter(Prompt),
    Search(Prompt),
    Note(Prompt),
    Export {
        format: Format,
        path: Prompt,
    },
    /// The verdict chooser: `b`, `s`, `m` or `n` for this many rows (and marks the filter
    /// hides, left alone); `marked` when they are the marks, not the row under the cursor.
    Verdict {
        rows: usize,
        hidden: usize,
        marked: bool,
    },
    /// The export's file exists: `y` writes over it, anything else goes back to the path.
    ConfirmOverwrite {
        format: Format,
        path: String,
    },
    Help,
    /// The warnings pane.
    Warnings,
    /// The hosts pane: what evidence about tasks each host has.
    Hosts,
    /// Every host, file and lifecycle of a row (`l`): (what it is, the value) pairs and the
    /// selected one.
    Values {
        title: String,
        items: Vec<(String, String)>,
        cursor: usize,
    },
}

/// Training as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Training {
    NotStarted,
    Running {
        last: Option<EpochReport>,
        losses: Vec<f64>,
    },
    Done {
        model: crate::model::ModelKind,
        /// Epochs of all its trainings together.
        epochs: usize,
        /// Autoencoders trained (the hybrid: three, side by side).
        models: usize,
        seconds: f64,
    },
    Cancelled,
    Failed(String),
}

/// Loading as the header shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadState {
    pub files_done: u64,
    pub files_total: u64,
    pub records: u64,
}

/// Messages from the background threads.
pub enum Msg {
    Loading(LoadState),
    /// A load finished, with the triage session the loader opened for it.
    Loaded(Box<Loaded>, Option<Box<Session>>),
    Worker(WorkerMsg),
    /// A session save finished: the path written, or why not.
    Saved(Result<PathBuf, String>),
    /// An export's file exists: ask before writing over it.
    ExportExists(Box<ExportJob>),
    /// An export finished: rows written, or why not.
    Exported {
        path: PathBuf,
        result: Result<usize, String>,
    },
    /// The keys waiting are handled: preview the prompt's text ([`Effect::Preview`]).
    Preview,
    /// A list of values was written to a file, or why not.
    Wrote {
        path: PathBuf,
        result: Result<usize, String>,
    },
}

pub struct App {
    loading: Option<LoadState>,
    summary: String,
    /// The summary's numbers alone (the header).
    headline: String,
    warnings: Vec<String>,
    data: Option<Data>,
    view: View,
    events: list::ListView,
    definitions: list::ListView,
    tasks: list::ListView,
    drill: drill::Drill,
    triage: triage::Triage,
    /// Where the session was last saved (the status line says when it moves).
    session_path: Option<PathBuf>,
    /// The last export's format: the next export starts with it.
    export_format: Format,
    /// The folder of the last export, where the next one starts.
    export_folder: Option<String>,
    /// An export waiting for the analyst's yes to write over its file.
    pending_export: Option<Box<ExportJob>>,
    mode: Mode,
    /// The prompt's text changed since its last preview ([`Effect::Preview`]).
    preview_due: bool,
    /// The help's or the warnings pane's scroll.
    overlay: Scroll,
    training: Training,
    status: String,
    monochrome: bool,
    quit: bool,
}

impl App {
    pub fn new(monochrome: bool) -> App {
        App {
            loading: Some(LoadState::default()),
            summary: String::new(),
            headline: String::new(),
            warnings: Vec::new(),
            data: None,
            view: View::Events,
            events: list::ListView::default(),
            definitions: list::ListView::default(),
            tasks: list::ListView::default(),
            drill: drill::Drill::default(),
            triage: triage::Triage::default(),
            session_path: None,
            export_format: Format::Csv,
            export_folder: None,
            pending_export: None,
            mode: Mode::Normal,
            preview_due: false,
            overlay: Scroll::default(),
            training: Training::NotStarted,
            status: String::new(),
            monochrome,
            quit: false,
        }
    }

    // ---- read access (the renderer, the loop, tests) ----

    /// The help's or the warnings pane's scroll.
    pub fn overlay(&self) -> &Scroll {
        &self.overlay
    }

    pub fn loading(&self) -> Option<&LoadState> {
        self.loading.as_ref()
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The summary's numbers alone, short enough for the header.
    pub fn headline(&self) -> &str {
        &self.headline
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn dataset(&self) -> Option<&Arc<Dataset>> {
        self.data.as_ref().map(|d| &d.ds)
    }

    pub fn ranking(&self) -> Option<&Ranking> {
        self.data.as_ref().map(|d| &*d.ranking)
    }

    pub fn data(&self) -> Option<&Data> {
        self.data.as_ref()
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// The list of the current view.
    pub fn list(&self) -> &list::ListView {
        match self.view {
            View::Events => &self.events,
            View::Definitions => &self.definitions,
            View::Tasks => &self.tasks,
        }
    }

    fn list_mut(&mut self) -> &mut list::ListView {
        match self.view {
            View::Events => &mut self.events,
            View::Definitions => &mut self.definitions,
            View::Tasks => &mut self.tasks,
        }
    }

    /// The current view's items in display order.
    pub fn rows(&self) -> &[usize] {
        self.list().rows()
    }

    /// The cursor's row.
    pub fn selected(&self) -> usize {
        self.list().selected()
    }

    pub fn drill(&self) -> &drill::Drill {
        &self.drill
    }

    pub fn focus(&self) -> Focus {
        self.drill.focus()
    }

    pub fn triage(&self) -> &triage::Triage {
        &self.triage
    }

    /// The marks of the current view.
    pub fn marks(&self) -> &std::collections::BTreeSet<usize> {
        self.triage.marks(self.view)
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The key table that applies now.
    pub fn keymap(&self) -> Keymap {
        match self.mode {
            Mode::Filter(_)
            | Mode::Search(_)
            | Mode::Note(_)
            | Mode::Export { .. }
            | Mode::ConfirmOverwrite { .. } => Keymap::Prompt,
            Mode::Verdict { .. } => Keymap::Verdict,
            Mode::Values { .. } => Keymap::Values,
            Mode::Normal | Mode::Help | Mode::Warnings | Mode::Hosts => Keymap::List,
        }
    }

    pub fn training(&self) -> &Training {
        &self.training
    }

    pub fn set_training(&mut self, t: Training) {
        self.training = t;
    }

    pub fn status(&self) -> &str {
        &self.status
    }

    pub fn set_status(&mut self, s: String) {
        self.status = s;
    }

    pub fn monochrome(&self) -> bool {
        self.monochrome
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The current view as a table (`None` before loading).
    pub fn table(&self) -> Option<Table<'_>> {
        Some(Table {
            view: self.view,
            data: self.data.as_ref()?,
            session: self.triage.session(),
        })
    }

    /// The item under the cursor (a unique event or a task).
    pub fn current(&self) -> Option<usize> {
        self.list().current()
    }

    /// The unique event the drill-down shows: the selected event, or the selected task's
    /// best-ranked event.
    pub fn current_event(&self) -> Option<usize> {
        let i = self.current()?;
        Some(self.table()?.lead(i))
    }

    /// The text of a column for item `i` of the current view.
    pub fn cell(&self, i: usize, col: Column) -> String {
        self.table().map(|t| t.cell(i, col)).unwrap_or_default()
    }

    /// Rank (0-based) of unique event `u`.
    pub fn rank_of(&self, u: usize) -> usize {
        self.data.as_ref().map_or(usize::MAX, |d| d.event_rank(u))
    }

    /// The verdict on unique event `u`, if the session has one.
    pub fn verdict(&self, u: usize) -> Option<Verdict> {
        self.triage.session().and_then(|s| s.verdict(u))
    }

    /// The note on unique event `u` (empty when none).
    pub fn note(&self, u: usize) -> &str {
        self.triage.session().map_or("", |s| s.note(u))
    }

    /// The task lifecycles of unique event `u` (`None` when it belongs to none).
    pub fn lifecycle_view(&self, u: usize) -> Option<Rc<LifecycleView>> {
        self.drill.lifecycle_view(self.dataset()?, u)
    }

    /// Occurrences per host of unique event `u`, most first (records that name no host as
    /// an empty name).
    /// Every host (with its count), source file and lifecycle of the selected row (a task:
    /// of all its events and definitions), as (what, value) pairs, and a title naming the row.
    fn values_of_current(&self) -> Option<(String, Vec<(String, String)>)> {
        let ds = self.dataset()?;
        let table = self.table()?;
        let i = self.current()?;
        let events = table.events(i);
        let title = format!("{}-{}", self.view.name(), table.rank(i).saturating_add(1));
        let mut hosts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        let mut files: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        let mut lives: std::collections::BTreeSet<(String, String)> =
            std::collections::BTreeSet::new();
        for &u in &events {
            let e = &ds.uniques[u];
            for (h, &n) in e.hosts.iter().zip(&e.host_counts) {
                *hosts.entry(h.clone()).or_default() += n;
            }
            files.extend(e.sources.iter().map(|s| &**s));
            for life in ds.lifecycles.of_unique(ds, u, usize::MAX) {
                lives.insert((life.host.to_string(), life.task.to_string()));
            }
        }
        let mut items: Vec<(String, String)> = hosts
            .into_iter()
            .map(|(h, n)| (format!("host ({n})"), h))
            .collect();
        items.extend(
            files
                .into_iter()
                .map(|f| ("file".to_string(), f.to_string())),
        );
        items.extend(
            lives
                .into_iter()
                .map(|(h, t)| (format!("lifecycle on {h}"), t)),
        );
        Some((title, items))
    }

    pub fn host_counts(&self, u: usize) -> Vec<(String, usize)> {
        let Some(ds) = self.dataset() else {
            return Vec::new();
        };
        let e = &ds.uniques[u];
        let mut v: Vec<(String, usize)> = e
            .hosts
            .iter()
            .zip(&e.host_counts)
            .map(|(h, &n)| (h.clone(), n as usize))
            .collect();
        if e.unnamed > 0 {
            v.push((String::new(), e.unnamed as usize));
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// The rows an export writes: the marked ones, or the filtered view when none is marked;
    /// in display order.
    pub fn export_rows(&self) -> Vec<usize> {
        let marks = self.marks();
        if marks.is_empty() {
            self.rows().to_vec()
        } else {
            self.rows()
                .iter()
                .copied()
                .filter(|u| marks.contains(u))
                .collect()
        }
    }

    // ---- changes ----

    /// Install a dataset (a finished load) and its triage session; returns the effects to
    /// start saving the session.
    pub fn set_dataset(&mut self, loaded: Loaded, mut session: Option<Session>) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.loading = None;
        self.summary = loaded.summary();
        self.headline = loaded.headline();
        self.warnings = loaded.warnings().collect();
        if let Some(s) = &mut session
            && let Some(saver) = s.take_saver()
        {
            effects.push(Effect::StartSaver(Box::new(saver)));
        }
        self.session_path = session.as_ref().map(|s| s.path.clone());
        self.triage = triage::Triage::new(session);
        self.drill.forget();
        self.events.reset_data();
        self.tasks.reset_data();
        if let Some(s) = self.triage.session()
            && s.restored
        {
            let (mut verdicts, mut notes) = (0, 0);
            for (_, e) in s.present().chain(s.present_tasks()) {
                verdicts += usize::from(e.verdict.is_some());
                notes += usize::from(!e.note.is_empty());
            }
            let marks =
                self.triage.marks(View::Events).len() + self.triage.marks(View::Tasks).len();
            let counted = |n: usize, noun| crate::util::counted(n as u64, noun);
            self.status = format!(
                "session restored from {}: {}, {}, {}",
                s.path.display(),
                counted(marks, "mark"),
                counted(verdicts, "verdict"),
                counted(notes, "note"),
            );
            let left_out = loaded.dataset.n_excluded();
            if left_out > 0 {
                self.status
                    .push_str(&format!("; {left_out} benign left out of training"));
            }
        }
        if loaded.conflicted_hosts > 0 {
            let n = loaded.conflicted_hosts;
            let note = format!(
                "{n} host{} described by more than one input: W shows which",
                if n == 1 { "" } else { "s" }
            );
            self.status = if self.status.is_empty() {
                note
            } else {
                format!("{}; {note}", self.status)
            };
        }
        if loaded.dataset.uniques.is_empty() {
            self.status = format!("no {} events in these logs", loaded.dataset.profile);
            if let Some((other, n)) = loaded.suggest_profile(loaded.dataset.profile) {
                self.status.push_str(&format!(
                    "; they hold {n} records of the kinds `--profile {other}` reads"
                ));
            }
        }
        let ds = Arc::new(loaded.dataset);
        // Rank by rarity at once: the list is usable while the model trains.
        let ranking = crate::model::rarity::rank(&ds);
        self.data = Some(Data::new(ds, Arc::new(ranking)));
        self.refresh_both();
        effects
    }

    /// Install a ranking, keeping the cursor on the same items.
    pub fn set_ranking(&mut self, ranking: Ranking) {
        let Some(d) = &self.data else { return };
        self.data = Some(Data::new(d.ds.clone(), Arc::new(ranking)));
        self.refresh_both();
    }

    fn refresh_both(&mut self) {
        let Some(data) = &self.data else { return };
        let session = self.triage.session();
        for (view, list) in [
            (View::Events, &mut self.events),
            (View::Definitions, &mut self.definitions),
            (View::Tasks, &mut self.tasks),
        ] {
            list.refresh(&Table {
                view,
                data,
                session,
            });
        }
    }

    fn refresh(&mut self) {
        let Some(data) = &self.data else { return };
        let table = Table {
            view: self.view,
            data,
            session: self.triage.session(),
        };
        match self.view {
            View::Events => self.events.refresh(&table),
            View::Definitions => self.definitions.refresh(&table),
            View::Tasks => self.tasks.refresh(&table),
        }
    }

    fn move_to(&mut self, i: usize) {
        let before = self.current();
        self.list_mut().move_to(i);
        if self.current() != before {
            self.drill.reset_scroll();
        }
    }

    /// Change the triage of these items of the current view; a verdict on a task also goes
    /// to its events. Returns the save effect.
    fn change(&mut self, items: &[usize], f: impl Fn(&mut Entry) + Copy) -> Vec<Effect> {
        let Some(data) = &self.data else {
            return Vec::new();
        };
        let ds = data.ds.clone();
        let changes = self.triage.change(&ds, self.view, items, f);
        if changes.is_empty() {
            return Vec::new();
        }
        vec![Effect::Save(changes)]
    }

    /// The open prompt's text changed: what it means (the search's next match, the filter's
    /// count) is worked out once the keys waiting are handled ([`Msg::Preview`]): a paste of
    /// thousands of characters is one preview, not one per character.
    fn prompt_changed(&mut self) -> Effect {
        self.preview_due = true;
        Effect::Preview
    }

    /// The open prompt's text changed: a search moves to its first match, the filter bar
    /// says how many rows the query would keep, or where it does not read.
    fn on_prompt_change(&mut self) {
        match &self.mode {
            Mode::Search(p) => {
                let t = p.text().to_string();
                self.set_search(Some(t));
                let from = self.selected();
                self.find(from, true);
            }
            Mode::Filter(p) => {
                let text = p.text().to_string();
                let feedback = self.preview_filter(&text);
                if let Mode::Filter(p) = &mut self.mode {
                    p.set_feedback(feedback);
                }
            }
            _ => {}
        }
    }

    /// How many rows `text` would keep, or where it does not read (`None` for no text).
    fn preview_filter(&self, text: &str) -> Option<Feedback> {
        if text.trim().is_empty() {
            return None;
        }
        let data = self.data.as_ref()?;
        let filter = match Filter::parse(text, &data.ds.fields) {
            Ok(f) => f,
            Err(e) => {
                return Some(Feedback::Error {
                    at: e.at,
                    message: e.message,
                });
            }
        };
        let table = Table {
            view: self.view,
            data,
            session: self.triage.session(),
        };
        // Counted in slices, for at most PREVIEW_BUDGET: a pathological query on a large
        // dataset gives a lower bound, never a stalled screen.
        let start = std::time::Instant::now();
        let ranked = table.ranked();
        let mut n = 0;
        for (k, slice) in ranked.chunks(PREVIEW_SLICE).enumerate() {
            n += slice
                .par_iter()
                .filter(|&&i| table.passes(i, Some(&filter)))
                .count();
            let done = (k + 1) * PREVIEW_SLICE;
            if done < ranked.len() && start.elapsed() > PREVIEW_BUDGET {
                return Some(Feedback::AtLeast {
                    matches: n,
                    checked: done,
                });
            }
        }
        Some(Feedback::Matches(n))
    }

    fn apply_filter(&mut self, text: &str) {
        if text.trim().is_empty() {
            self.list_mut().set_filter(None);
        } else {
            let fields = self
                .dataset()
                .map(|d| d.fields.to_vec())
                .unwrap_or_default();
            match Filter::parse(text, &fields) {
                Ok(f) => self.list_mut().set_filter(Some(f)),
                Err(e) => {
                    self.status = format!("filter not applied: {e}");
                    return;
                }
            }
        }
        self.refresh();
        self.status = format!("{} rows match", self.rows().len());
    }

    /// Move to a search match from row `from`; the status says which of how many.
    fn find(&mut self, from: usize, forward: bool) -> bool {
        let found = self.list_mut().find(from, forward);
        self.status = match self.list().hits() {
            (_, 0) => "no match".into(),
            (Some(at), n) => format!("match {at} of {n}"),
            (None, n) => format!("{n} matches"),
        };
        if found {
            self.drill.reset_scroll();
        }
        found
    }

    /// Set the current view's search.
    fn set_search(&mut self, text: Option<String>) {
        let Some(data) = &self.data else { return };
        let table = Table {
            view: self.view,
            data,
            session: self.triage.session(),
        };
        match self.view {
            View::Events => self.events.set_search(&table, text),
            View::Definitions => self.definitions.set_search(&table, text),
            View::Tasks => self.tasks.set_search(&table, text),
        }
    }

    /// Apply a user action; returns what the terminal loop must do. Triage actions are
    /// recorded for undo.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let triage = match (&self.mode, &action) {
            (Mode::Note(_), Action::Submit) => true,
            (Mode::Normal | Mode::Verdict { .. }, a) => matches!(
                a,
                Action::ToggleMark
                    | Action::SetVerdict(_)
                    | Action::MarkAllFiltered
                    | Action::ClearMarks
            ),
            _ => false,
        };
        if !triage {
            return self.apply_action(action);
        }
        self.triage.begin();
        let effects = self.apply_action(action);
        let what = if self.status.is_empty() {
            "a mark".to_string()
        } else {
            self.status.clone()
        };
        self.triage.commit(&what);
        effects
    }

    fn apply_action(&mut self, action: Action) -> Vec<Effect> {
        // A status message belongs to the action that made it: moving on clears it.
        if self.mode == Mode::Normal
            && matches!(
                action,
                Action::Up
                    | Action::Down
                    | Action::PageUp
                    | Action::PageDown
                    | Action::Top
                    | Action::Bottom
                    | Action::ClickRow(_)
            )
        {
            self.status.clear();
        }
        self.dispatch(action)
    }

    /// Show the events of task `t` in the event view (its filter replaces the event view's;
    /// `t` goes back to the tasks, where the place is kept).
    fn open_task(&mut self, t: usize) {
        let Some(ds) = self.dataset() else { return };
        let Some(task) = ds.tasks.tasks.get(t) else {
            return;
        };
        let name = task.name.to_string();
        self.view = View::Events;
        self.events
            .set_filter(Some(Filter::Task { index: t, name }));
        self.refresh();
        self.events.move_to(0);
        self.drill.reset_scroll();
        self.status = format!(
            "{} events of the task; t: back to the tasks, F: every event",
            self.rows().len()
        );
    }

    /// What a verdict applies to: while marks are in view, the marked rows in view (wherever
    /// the cursor is: `Space` marks and moves on, so the cursor is rarely on a mark), else the
    /// row; how many marks the filter hides (left as they are: one stray key must not judge
    /// rows the analyst cannot see); and whether the targets are marks.
    fn verdict_targets(&self) -> Option<(Vec<usize>, usize, bool)> {
        let i = self.current()?;
        let visible: Vec<usize> = self
            .rows()
            .iter()
            .copied()
            .filter(|r| self.marks().contains(r))
            .collect();
        Some(if visible.is_empty() {
            (vec![i], 0, false)
        } else {
            let hidden = self.marks().len() - visible.len();
            (visible, hidden, true)
        })
    }

    /// `v` then `b` / `s` / `m` / `n`: the verdict of the row (on a marked row, of the marked
    /// rows in view); on a task, its events take the verdict too.
    fn set_verdict(&mut self, v: Option<Verdict>) -> Vec<Effect> {
        if self.triage.session().is_none() {
            self.status = "no triage session: verdicts cannot be kept".into();
            return Vec::new();
        }
        let Some((targets, hidden, marked)) = self.verdict_targets() else {
            return Vec::new();
        };
        self.status = format!("verdict: {}", v.map_or("none", |v| v.name()));
        if marked {
            self.status.push_str(&format!(
                " on {} marked row{}",
                targets.len(),
                if targets.len() == 1 { "" } else { "s" }
            ));
        }
        if hidden > 0 {
            self.status.push_str(&format!(
                "; {hidden} marked row{} hidden by the filter left as {}",
                if hidden == 1 { "" } else { "s" },
                if hidden == 1 { "it is" } else { "they are" }
            ));
        }
        let mut effects = self.change(&targets, |e| e.verdict = v);
        if self.view == View::Tasks {
            let events: Vec<usize> = {
                let Some(t) = self.table() else {
                    return effects;
                };
                targets.iter().flat_map(|&i| t.events(i)).collect()
            };
            self.status.push_str(&format!(" ({} events)", events.len()));
            self.view = View::Events;
            effects.extend(self.change(&events, |e| e.verdict = v));
            self.view = View::Tasks;
        }
        // The rows stay where they are until the list is next sorted, filtered or re-ranked
        // (then benign ones go to the bottom): the next key must judge the same row.
        effects
    }

    /// `u`: take back the last triage action.
    fn undo(&mut self) -> Vec<Effect> {
        let Some(ds) = self.dataset().cloned() else {
            return Vec::new();
        };
        match self.triage.undo(&ds) {
            None => {
                self.status = "nothing to undo".into();
                Vec::new()
            }
            Some((what, changes)) => {
                self.status = format!("undone: {what}");
                if changes.is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::Save(changes)]
                }
            }
        }
    }

    fn export_effect(&mut self, format: Format, path: String) -> Option<Effect> {
        let path = expand_home(path.trim());
        // The file's extension names the format, as with `rank -o`.
        let format = match Format::from_path(std::path::Path::new(&path)) {
            Ok(named) => named.unwrap_or(format),
            Err(e) => {
                self.status = e;
                self.mode = Mode::Export {
                    format,
                    path: Prompt::new(&path),
                };
                return None;
            }
        };
        self.export_format = format;
        // The next export starts in this one's folder.
        self.export_folder = std::path::Path::new(&path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string());
        let data = self.data.as_ref()?;
        let items = self.export_rows();
        let table = self.table()?;
        let entries: BTreeMap<usize, Entry> = items
            .iter()
            .filter_map(|&i| table.entry(i).map(|e| (i, e.clone())))
            .collect();
        self.status = format!("exporting {} rows to {path} ...", items.len());
        Some(Effect::Export(Box::new(ExportJob {
            format,
            path: PathBuf::from(path),
            view: self.view,
            ds: data.ds.clone(),
            ranking: data.ranking.clone(),
            items,
            entries,
            overwrite: false,
        })))
    }

    /// Handle a message from the loader, the worker or the executor.
    pub fn on_msg(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Loading(l) => self.loading = Some(l),
            Msg::Loaded(loaded, session) => return self.set_dataset(*loaded, session.map(|s| *s)),
            Msg::Worker(WorkerMsg::Epoch(r)) => {
                let mut losses = match std::mem::replace(&mut self.training, Training::NotStarted) {
                    Training::Running { losses, .. } => losses,
                    _ => Vec::new(),
                };
                losses.push(r.loss);
                self.training = Training::Running {
                    last: Some(r),
                    losses,
                };
            }
            Msg::Worker(WorkerMsg::Done(t)) => {
                let (epochs, seconds) = match &self.training {
                    Training::Running { last: Some(r), .. } => (r.epochs, r.elapsed),
                    _ => (0, 0.0),
                };
                self.training = Training::Done {
                    model: t.ranking.model,
                    epochs,
                    models: t.model.as_ref().map_or(1, crate::model::Saved::models),
                    seconds,
                };
                // Training ending is no action of the analyst's: the message already there
                // (the session restored, an export written) stays after it.
                let reranked = format!("re-ranked by {}", t.ranking.model.name());
                self.status = if self.status.is_empty() {
                    reranked
                } else {
                    format!("{reranked}; {}", self.status)
                };
                self.set_ranking(t.ranking);
            }
            Msg::Worker(WorkerMsg::Cancelled) => {
                self.training = Training::Cancelled;
                self.status = "training cancelled: ranked by rarity".into();
            }
            Msg::Worker(WorkerMsg::Failed(e)) => {
                self.status = format!("training failed: {e}");
                self.training = Training::Failed(e);
            }
            Msg::Saved(Ok(p)) => {
                if let Some(before) = &self.session_path
                    && *before != p
                {
                    self.status = format!(
                        "{} cannot be written: the session is kept in {}",
                        before.display(),
                        p.display()
                    );
                }
                self.session_path = Some(p);
            }
            Msg::Saved(Err(e)) => self.status = e,
            Msg::ExportExists(job) => {
                let path = job.path.display().to_string();
                self.status = format!("{path} exists");
                self.mode = Mode::ConfirmOverwrite {
                    format: job.format,
                    path,
                };
                self.pending_export = Some(job);
            }
            Msg::Preview => {
                if std::mem::take(&mut self.preview_due) {
                    self.on_prompt_change();
                }
            }
            Msg::Wrote { path, result } => {
                self.status = match result {
                    Ok(n) => format!("wrote {n} values to {}", path.display()),
                    Err(e) => format!("not written: {e}"),
                };
            }
            Msg::Exported { path, result } => {
                self.status = match result {
                    Ok(n) => format!("exported {n} rows to {}", path.display()),
                    Err(e) => format!("export to {} failed: {e}", path.display()),
                };
            }
        }
        Vec::new()
    }
}

/// `~` and `~/...` as the home folder (`HOME`); anything else as it is.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

pub fn ext(f: Format) -> &'static str {
    f.extension()
}

/// Write `text` to a new file at `path` (created exclusively: never over an existing file);
/// returns how many lines it holds.
fn write_new(path: &std::path::Path, text: &str) -> anyhow::Result<usize> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Err(e) = f.write_all(text.as_bytes()).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(anyhow::anyhow!("{}: {e}", path.display()));
    }
    Ok(text.lines().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tilde_is_the_home_folder() {
        let Ok(home) = std::env::var("HOME") else {
            eprintln!("SKIP: no HOME");
            return;
        };
        assert_eq!(expand_home("~/out.csv"), format!("{home}/out.csv"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(expand_home("~other/x"), "~other/x");
        assert_eq!(expand_home("/tmp/~x"), "/tmp/~x");
    }
}
