//! The terminal UI's state, changed only by [`App::update`] (key and mouse actions) and
//! [`App::on_msg`] (messages from the loader and the training worker). No threads, no
//! terminal: tests drive it directly, and [`crate::ui`] draws it.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use rayon::prelude::*;
use regex::Regex;

use crate::frame::Dataset;
use crate::model::worker::WorkerMsg;
use crate::model::{EpochReport, Ranking};
use crate::output::{Format, Rows};
use crate::pipeline::Loaded;
use crate::session::{Session, Verdict};

/// The list's columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Rank,
    Score,
    Count,
    Hosts,
    Event,
    /// Lifecycle flags, abbreviated.
    Flags,
    /// The triage verdict.
    Verdict,
    Task,
    User,
    Command,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Rank,
        Column::Score,
        Column::Count,
        Column::Hosts,
        Column::Event,
        Column::Flags,
        Column::Verdict,
        Column::Task,
        Column::User,
        Column::Command,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Rank => "rank",
            Column::Score => "score",
            Column::Count => "count",
            Column::Hosts => "hosts",
            Column::Event => "event",
            Column::Flags => "flags",
            Column::Verdict => "verdict",
            Column::Task => "name",
            Column::User => "user",
            Column::Command => "command",
        }
    }
}

/// What the user can do. Keys map onto these through [`BINDINGS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Sort by the next column (or, with `Some`, by that column; again reverses).
    Sort(Option<Column>),
    ReverseSort,
    StartFilter,
    ClearFilter,
    /// Cycle the prevalence filter: seen on at most 1, 2, 5 hosts, then off.
    CyclePrevalence,
    StartSearch,
    NextMatch,
    PrevMatch,
    /// A character typed into the open prompt.
    Input(char),
    Backspace,
    Submit,
    /// Close the open prompt or overlay; quit when none is open.
    Back,
    ToggleMark,
    /// Cycle the row's verdict: benign, suspicious, malicious, none.
    CycleVerdict,
    /// Write a note on the row.
    StartNote,
    MarkAllFiltered,
    ClearMarks,
    StartExport,
    /// Switch the export format in the export prompt.
    NextFormat,
    ToggleFocus,
    ToggleHelp,
    CancelTraining,
    /// Train the model again, leaving out the events marked benign.
    Retrain,
    Quit,
    /// Select the row shown at this position of the list (a mouse click).
    ClickRow(usize),
    /// The list's height changed (rows visible), for paging.
    Resize(usize),
}

/// Side effects the terminal loop carries out for [`App::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    CancelTraining,
    /// Stop any training, leave these unique events out, train again.
    Retrain {
        exclude: Vec<bool>,
    },
    Export {
        format: Format,
        path: PathBuf,
    },
}

/// A key, independent of the terminal library (the loop maps its events onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Tab,
    Esc,
}

impl Key {
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("^{c}"),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::PageUp => "PgUp".into(),
            Key::PageDown => "PgDn".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::Enter => "Enter".into(),
            Key::Tab => "Tab".into(),
            Key::Esc => "Esc".into(),
        }
    }
}

/// One key binding: the keys, what the help overlay says, the action.
pub struct Binding {
    pub keys: &'static [Key],
    pub what: &'static str,
    pub action: Action,
}

/// Every key binding of the list view, in the order the help overlay shows them: the one
/// table both the key handling (`tui::key_action`) and the help are drawn from.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('j'), Key::Down],
        what: "down",
        action: Action::Down,
    },
    Binding {
        keys: &[Key::Char('k'), Key::Up],
        what: "up",
        action: Action::Up,
    },
    Binding {
        keys: &[Key::PageDown, Key::Ctrl('d')],
        what: "page down",
        action: Action::PageDown,
    },
    Binding {
        keys: &[Key::PageUp, Key::Ctrl('u')],
        what: "page up",
        action: Action::PageUp,
    },
    Binding {
        keys: &[Key::Char('g'), Key::Home],
        what: "first row",
        action: Action::Top,
    },
    Binding {
        keys: &[Key::Char('G'), Key::End],
        what: "last row",
        action: Action::Bottom,
    },
    Binding {
        keys: &[Key::Char('s')],
        what: "sort by the next column (click a header to pick one)",
        action: Action::Sort(None),
    },
    Binding {
        keys: &[Key::Char('S')],
        what: "reverse the sort",
        action: Action::ReverseSort,
    },
    Binding {
        keys: &[Key::Char('f')],
        what: "filter: field=value, field~regex, hosts<=k, or a regex over all fields",
        action: Action::StartFilter,
    },
    Binding {
        keys: &[Key::Char('F')],
        what: "clear the filter",
        action: Action::ClearFilter,
    },
    Binding {
        keys: &[Key::Char('p')],
        what: "fleet prevalence: seen on at most 1, 2, 5 hosts, then all",
        action: Action::CyclePrevalence,
    },
    Binding {
        keys: &[Key::Char('/')],
        what: "search (incremental)",
        action: Action::StartSearch,
    },
    Binding {
        keys: &[Key::Char('n')],
        what: "next match",
        action: Action::NextMatch,
    },
    Binding {
        keys: &[Key::Char('N')],
        what: "previous match",
        action: Action::PrevMatch,
    },
    Binding {
        keys: &[Key::Tab],
        what: "switch focus between the list and the drill-down",
        action: Action::ToggleFocus,
    },
    Binding {
        keys: &[Key::Enter],
        what: "focus the drill-down (j k scroll it)",
        action: Action::Submit,
    },
    Binding {
        keys: &[Key::Char(' '), Key::Char('m')],
        what: "mark or unmark the row",
        action: Action::ToggleMark,
    },
    Binding {
        keys: &[Key::Char('v')],
        what: "verdict: benign, suspicious, malicious, none (on a marked row: every marked row)",
        action: Action::CycleVerdict,
    },
    Binding {
        keys: &[Key::Char('a')],
        what: "annotate: a note on the row (saved in the session)",
        action: Action::StartNote,
    },
    Binding {
        keys: &[Key::Char('A')],
        what: "mark every filtered row",
        action: Action::MarkAllFiltered,
    },
    Binding {
        keys: &[Key::Char('C')],
        what: "clear the marks",
        action: Action::ClearMarks,
    },
    Binding {
        keys: &[Key::Char('e')],
        what: "export the marked rows (or the filtered view); Tab picks the format",
        action: Action::StartExport,
    },
    Binding {
        keys: &[Key::Char('c')],
        what: "cancel training (keep the current ranking)",
        action: Action::CancelTraining,
    },
    Binding {
        keys: &[Key::Char('R')],
        what: "retrain now, leaving out the events marked benign",
        action: Action::Retrain,
    },
    Binding {
        keys: &[Key::Char('?')],
        what: "this help",
        action: Action::ToggleHelp,
    },
    Binding {
        keys: &[Key::Esc],
        what: "close a prompt, the help or the drill-down; else quit",
        action: Action::Back,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Ctrl('c')],
        what: "quit",
        action: Action::Quit,
    },
];

/// The action bound to `key` in the list view.
pub fn binding_for(key: Key) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&key))
        .map(|b| b.action.clone())
}

/// Which prompt or overlay is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter(String),
    Search(String),
    Note(String),
    Export { format: Format, path: String },
    Help,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
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
        model: &'static str,
        epochs: usize,
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
    Loaded(Box<Loaded>),
    Worker(WorkerMsg),
}

/// A row filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// `field=value`, case-insensitive.
    Equals { field: String, value: String },
    /// `field~regex` (case-insensitive), or a regex over all fields when `field` is `None`.
    Regex {
        field: Option<String>,
        re: Regex,
        text: String,
    },
    /// `hosts<=k`: seen on at most k hosts of the fleet (least-frequency-of-occurrence stacking).
    MaxHosts(usize),
}

pub use crate::lifecycle::LifecycleView;

pub struct App {
    pub loading: Option<LoadState>,
    pub dataset: Option<Arc<Dataset>>,
    pub ranking: Option<Ranking>,
    /// Rank (0-based) of each unique event in the current ranking.
    rank_of: Vec<usize>,
    pub summary: String,
    pub warnings: Vec<String>,
    pub training: Training,
    /// Unique-event indices in display order (filtered and sorted).
    pub rows: Vec<usize>,
    /// Index into `rows`.
    pub selected: usize,
    /// First row shown (the list is virtualised: only visible rows are drawn).
    pub offset: usize,
    pub page: usize,
    pub sort: Column,
    pub descending: bool,
    pub filter: Option<Filter>,
    pub search: Option<String>,
    pub marks: BTreeSet<usize>,
    /// The triage session (marks, verdicts, notes), saved on every change.
    pub session: Option<Session>,
    pub mode: Mode,
    pub focus: Focus,
    pub detail_scroll: u16,
    pub status: String,
    pub monochrome: bool,
    pub quit: bool,
    /// The drill-down's lifecycles of the last event drawn: a busy task's lifecycle has
    /// thousands of steps, built once per selection rather than once per frame.
    lifecycle_cache: RefCell<Option<(usize, Rc<LifecycleView>)>>,
    /// Sort order of the text columns, built on first use ([`App::text_order_of`]).
    text_order: HashMap<Column, Vec<u32>>,
}

impl App {
    pub fn new(monochrome: bool) -> App {
        App {
            loading: Some(LoadState::default()),
            dataset: None,
            ranking: None,
            rank_of: Vec::new(),
            summary: String::new(),
            warnings: Vec::new(),
            training: Training::NotStarted,
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            page: 20,
            sort: Column::Rank,
            descending: false,
            filter: None,
            search: None,
            marks: BTreeSet::new(),
            session: None,
            mode: Mode::Normal,
            focus: Focus::List,
            detail_scroll: 0,
            status: String::new(),
            monochrome,
            quit: false,
            lifecycle_cache: RefCell::new(None),
            text_order: HashMap::new(),
        }
    }

    /// The task lifecycles of unique event `u` (`None` when it belongs to none).
    pub fn lifecycle_view(&self, u: usize) -> Option<Rc<LifecycleView>> {
        let ds = self.dataset.as_ref()?;
        if let Some((cu, v)) = &*self.lifecycle_cache.borrow()
            && *cu == u
        {
            return Some(v.clone());
        }
        let view = Rc::new(crate::lifecycle::view(ds, u)?);
        *self.lifecycle_cache.borrow_mut() = Some((u, view.clone()));
        Some(view)
    }

    /// The unique event under the cursor.
    pub fn current(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }

    pub fn rank_of(&self, u: usize) -> usize {
        self.rank_of.get(u).copied().unwrap_or(usize::MAX)
    }

    /// Install a dataset (a finished load).
    pub fn set_dataset(&mut self, mut loaded: Loaded) {
        self.loading = None;
        self.summary = loaded.summary();
        self.warnings = loaded.warnings().collect();
        self.session = loaded.session.take();
        self.lifecycle_cache.replace(None);
        self.text_order.clear();
        self.marks.clear();
        if let Some(s) = &self.session {
            self.marks
                .extend(s.present().filter(|(_, e)| e.marked).map(|(u, _)| u));
            if s.restored {
                let (mut verdicts, mut notes) = (0, 0);
                for (_, e) in s.present() {
                    verdicts += usize::from(e.verdict.is_some());
                    notes += usize::from(!e.note.is_empty());
                }
                self.status = format!(
                    "session restored from {}: {} marks, {verdicts} verdicts, {notes} notes",
                    s.path.display(),
                    self.marks.len()
                );
                let left_out = loaded.dataset.n_excluded();
                if left_out > 0 {
                    self.status
                        .push_str(&format!("; {left_out} benign left out of training"));
                }
            }
        }
        self.dataset = Some(Arc::new(loaded.dataset));
    }

    /// The verdict on unique event `u`, if the session has one.
    pub fn verdict(&self, u: usize) -> Option<Verdict> {
        self.session.as_ref().and_then(|s| s.verdict(u))
    }

    /// The note on unique event `u` (empty when none).
    pub fn note(&self, u: usize) -> &str {
        self.session.as_ref().map_or("", |s| s.note(u))
    }

    /// Change the triage of these unique events and save the session.
    fn triage(&mut self, us: &[usize], f: impl Fn(&mut crate::session::Entry)) {
        let (Some(s), Some(ds)) = (&mut self.session, &self.dataset) else {
            return;
        };
        for &u in us {
            s.update(ds, u, &f);
        }
        let before = s.path.clone();
        match s.save() {
            Ok(p) if p != before => {
                self.status = format!(
                    "{} cannot be written: the session is kept in {}",
                    before.display(),
                    p.display()
                );
            }
            Ok(_) => {}
            Err(e) => self.status = e,
        }
    }

    /// Install a ranking, keeping the cursor on the same unique event.
    pub fn set_ranking(&mut self, ranking: Ranking) {
        let keep = self.current();
        self.rank_of = vec![0; ranking.order.len()];
        for (r, &u) in ranking.order.iter().enumerate() {
            self.rank_of[u] = r;
        }
        self.ranking = Some(ranking);
        self.refresh_rows();
        self.select_unique(keep);
    }

    fn select_unique(&mut self, u: Option<usize>) {
        self.selected = u
            .and_then(|u| self.rows.iter().position(|&r| r == u))
            .unwrap_or(0);
        self.scroll_to_selected();
    }

    fn scroll_to_selected(&mut self) {
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + self.page.max(1) {
            self.offset = self.selected + 1 - self.page.max(1);
        }
        self.detail_scroll = 0;
    }

    /// The text of a column for unique event `u`, as sorting and filtering see it.
    pub fn cell(&self, u: usize, col: Column) -> String {
        let (Some(ds), Some(r)) = (&self.dataset, &self.ranking) else {
            return String::new();
        };
        let e = &ds.uniques[u];
        match col {
            Column::Rank => (self.rank_of(u) + 1).to_string(),
            Column::Score => format!("{:.2}", r.scores[u]),
            Column::Count => e.count().to_string(),
            Column::Hosts => format!("{}/{}", e.hosts.len(), ds.fleet_size()),
            Column::Event => e.event_id.to_string(),
            Column::Flags => ds
                .flags(u)
                .iter()
                .map(|f| short_flag(f))
                .collect::<Vec<_>>()
                .join(" "),
            Column::Verdict => self.verdict(u).map_or("", |v| v.name()).to_string(),
            Column::Task | Column::User | Column::Command => text_cell(ds, u, col),
        }
    }

    /// Every unique event's place in the case-insensitive order of a text column (equal texts
    /// share a place): sorting by text is then an integer sort. The texts never change after
    /// loading, so it is computed once per column.
    fn text_order_of(&self, col: Column) -> Vec<u32> {
        let Some(ds) = &self.dataset else {
            return Vec::new();
        };
        let mut keyed: Vec<(String, usize)> = (0..ds.uniques.len())
            .into_par_iter()
            .map(|u| (text_cell(ds, u, col).to_lowercase(), u))
            .collect();
        keyed.par_sort_unstable();
        let mut order = vec![0u32; keyed.len()];
        let mut place = 0u32;
        for i in 0..keyed.len() {
            if i > 0 && keyed[i].0 != keyed[i - 1].0 {
                place += 1;
            }
            order[keyed[i].1] = place;
        }
        order
    }

    /// Recompute the visible rows from the filter and the sort.
    fn refresh_rows(&mut self) {
        if matches!(self.sort, Column::Task | Column::User | Column::Command)
            && !self.text_order.contains_key(&self.sort)
        {
            let order = self.text_order_of(self.sort);
            self.text_order.insert(self.sort, order);
        }
        let (Some(ds), Some(r)) = (&self.dataset, &self.ranking) else {
            self.rows.clear();
            return;
        };
        let mut rows: Vec<usize> = r
            .order
            .iter()
            .copied()
            .filter(|&u| self.passes(ds, u))
            .collect();
        let key_num = |u: usize| -> f64 {
            let e = &ds.uniques[u];
            match self.sort {
                Column::Rank => self.rank_of(u) as f64,
                Column::Score => -r.scores[u],
                Column::Count => e.count() as f64,
                Column::Hosts => e.hosts.len() as f64,
                Column::Event => f64::from(e.event_id),
                // Most flags first.
                Column::Flags => -(ds.flags(u).len() as f64),
                // Malicious, suspicious, benign, then none.
                Column::Verdict => match self.verdict(u) {
                    Some(Verdict::Malicious) => 0.0,
                    Some(Verdict::Suspicious) => 1.0,
                    Some(Verdict::Benign) => 2.0,
                    None => 3.0,
                },
                _ => 0.0,
            }
        };
        match self.sort {
            Column::Task | Column::User | Column::Command => {
                let order = &self.text_order[&self.sort];
                rows.sort_unstable_by_key(|&u| (order[u], self.rank_of(u)));
            }
            _ => rows.sort_by(|&a, &b| {
                key_num(a)
                    .total_cmp(&key_num(b))
                    .then(self.rank_of(a).cmp(&self.rank_of(b)))
            }),
        }
        if self.descending {
            rows.reverse();
        }
        self.rows = rows;
        if self.selected >= self.rows.len() {
            self.selected = self.rows.len().saturating_sub(1);
        }
    }

    fn field_value<'a>(
        ds: &'a Dataset,
        session: Option<&'a Session>,
        u: usize,
        field: &str,
    ) -> Option<std::borrow::Cow<'a, str>> {
        let e = &ds.uniques[u];
        Some(match field {
            "verdict" => session
                .and_then(|s| s.verdict(u))
                .map_or("", |v| v.name())
                .into(),
            "note" => session.map_or("", |s| s.note(u)).into(),
            "event_id" | "event" => e.event_id.to_string().into(),
            "channel" => e.channel.as_str().into(),
            "host" | "hosts" => e.hosts.join(" ").into(),
            f => ds
                .fields
                .iter()
                .position(|x| *x == f)
                .map(|i| std::borrow::Cow::Borrowed(&*e.values[i]))?,
        })
    }

    fn passes(&self, ds: &Dataset, u: usize) -> bool {
        match &self.filter {
            None => true,
            Some(Filter::MaxHosts(k)) => ds.uniques[u].hosts.len() <= *k,
            Some(Filter::Equals { field, value }) => {
                Self::field_value(ds, self.session.as_ref(), u, field)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            }
            Some(Filter::Regex {
                field: Some(f), re, ..
            }) => {
                Self::field_value(ds, self.session.as_ref(), u, f).is_some_and(|v| re.is_match(&v))
            }
            Some(Filter::Regex {
                field: None, re, ..
            }) => {
                let e = &ds.uniques[u];
                e.values.iter().any(|v| re.is_match(v))
                    || re.is_match(&e.event_id.to_string())
                    || e.hosts.iter().any(|h| re.is_match(h))
            }
        }
    }

    /// Parse a filter: `field=value`, `field~regex`, `hosts<=k`, or a regex over all fields.
    pub fn parse_filter(text: &str, fields: &[&str]) -> Result<Filter, String> {
        let known = |f: &str| {
            fields.contains(&f)
                || matches!(
                    f,
                    "event_id" | "event" | "channel" | "host" | "hosts" | "verdict" | "note"
                )
        };
        let t = text.trim();
        if let Some(k) = t
            .strip_prefix("hosts<=")
            .or_else(|| t.strip_prefix("prevalence<="))
        {
            return k
                .trim()
                .parse()
                .map(Filter::MaxHosts)
                .map_err(|_| format!("hosts<= takes a number, not {k:?}"));
        }
        let regex = |s: &str| {
            regex::RegexBuilder::new(s)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("bad regex: {e}"))
        };
        if let Some((f, v)) = text.split_once('~') {
            let f = f.trim();
            if known(f) {
                return Ok(Filter::Regex {
                    field: Some(f.to_string()),
                    re: regex(v.trim())?,
                    text: text.to_string(),
                });
            }
        }
        if let Some((f, v)) = text.split_once('=') {
            let f = f.trim();
            if known(f) {
                return Ok(Filter::Equals {
                    field: f.to_string(),
                    value: v.trim().to_string(),
                });
            }
            return Err(format!(
                "unknown field {f:?}; fields: {}",
                fields.join(", ")
            ));
        }
        Ok(Filter::Regex {
            field: None,
            re: regex(text)?,
            text: text.to_string(),
        })
    }

    fn matches_search(&self, u: usize, needle: &str) -> bool {
        let n = needle.to_lowercase();
        [Column::Task, Column::User, Column::Command, Column::Event]
            .iter()
            .any(|&c| self.cell(u, c).to_lowercase().contains(&n))
            || self.dataset.as_ref().is_some_and(|ds| {
                ds.uniques[u]
                    .values
                    .iter()
                    .any(|v| v.to_lowercase().contains(&n))
            })
    }

    /// Move to the next (or previous) row matching the search, from `from` (inclusive).
    fn find(&mut self, from: usize, forward: bool) -> bool {
        let Some(needle) = self.search.clone().filter(|s| !s.is_empty()) else {
            return false;
        };
        let n = self.rows.len();
        for k in 0..n {
            let i = if forward {
                (from + k) % n
            } else {
                (from + n - k % n) % n
            };
            if self.matches_search(self.rows[i], &needle) {
                self.selected = i;
                self.scroll_to_selected();
                return true;
            }
        }
        false
    }

    fn move_to(&mut self, i: usize) {
        self.selected = i.min(self.rows.len().saturating_sub(1));
        self.scroll_to_selected();
    }

    /// Apply a user action; returns what the terminal loop must do.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let mut effects = Vec::new();
        // Prompts first: they take typing.
        match (&mut self.mode, &action) {
            (Mode::Filter(text) | Mode::Search(text) | Mode::Note(text), Action::Input(c)) => {
                text.push(*c);
                if let Mode::Search(t) = &self.mode {
                    self.search = Some(t.clone());
                    let from = self.selected;
                    self.find(from, true);
                }
                return effects;
            }
            (Mode::Export { path, .. }, Action::Input(c)) => {
                path.push(*c);
                return effects;
            }
            (Mode::Filter(text) | Mode::Search(text) | Mode::Note(text), Action::Backspace)
            | (Mode::Export { path: text, .. }, Action::Backspace) => {
                text.pop();
                return effects;
            }
            (Mode::Export { format, path }, Action::NextFormat) => {
                *format = match format {
                    Format::Csv => Format::Jsonl,
                    Format::Jsonl => Format::Parquet,
                    _ => Format::Csv,
                };
                if let Some((stem, _)) = path.rsplit_once('.') {
                    *path = format!("{stem}.{}", ext(*format));
                }
                return effects;
            }
            (Mode::Normal, _) | (Mode::Help, _) => {}
            (_, Action::Back) => {
                self.mode = Mode::Normal;
                return effects;
            }
            (_, Action::Submit) => {}
            _ => return effects,
        }
        match action {
            Action::Submit => match std::mem::replace(&mut self.mode, Mode::Normal) {
                Mode::Filter(text) => self.apply_filter(&text),
                Mode::Search(text) => {
                    self.search = Some(text);
                }
                Mode::Note(text) => {
                    if let Some(u) = self.current() {
                        let note = text.trim().to_string();
                        self.status = if note.is_empty() {
                            "note removed".into()
                        } else {
                            "note saved".into()
                        };
                        self.triage(&[u], |e| e.note = note.clone());
                    }
                }
                Mode::Export { format, path } => {
                    effects.push(Effect::Export {
                        format,
                        path: PathBuf::from(path),
                    });
                }
                Mode::Normal | Mode::Help => {
                    self.focus = if self.focus == Focus::List {
                        Focus::Detail
                    } else {
                        Focus::List
                    };
                }
            },
            Action::Back => match self.mode {
                Mode::Help => self.mode = Mode::Normal,
                _ if self.focus == Focus::Detail => self.focus = Focus::List,
                _ => self.quit = true,
            },
            Action::Quit => self.quit = true,
            Action::ToggleHelp => {
                self.mode = if self.mode == Mode::Help {
                    Mode::Normal
                } else {
                    Mode::Help
                };
            }
            _ if self.mode == Mode::Help => {}
            Action::Up | Action::Down if self.focus == Focus::Detail => {
                self.detail_scroll = if action == Action::Up {
                    self.detail_scroll.saturating_sub(1)
                } else {
                    self.detail_scroll.saturating_add(1)
                };
            }
            Action::Up => self.move_to(self.selected.saturating_sub(1)),
            Action::Down => self.move_to(self.selected + 1),
            Action::PageUp => self.move_to(self.selected.saturating_sub(self.page.max(1))),
            Action::PageDown => self.move_to(self.selected + self.page.max(1)),
            Action::Top => self.move_to(0),
            Action::Bottom => self.move_to(usize::MAX),
            Action::Sort(col) => {
                let keep = self.current();
                match col {
                    Some(c) if c == self.sort => self.descending = !self.descending,
                    Some(c) => {
                        self.sort = c;
                        self.descending = false;
                    }
                    None => {
                        let i = Column::ALL
                            .iter()
                            .position(|&c| c == self.sort)
                            .unwrap_or(0);
                        self.sort = Column::ALL[(i + 1) % Column::ALL.len()];
                        self.descending = false;
                    }
                }
                self.refresh_rows();
                self.select_unique(keep);
            }
            Action::ReverseSort => {
                let keep = self.current();
                self.descending = !self.descending;
                self.refresh_rows();
                self.select_unique(keep);
            }
            Action::StartFilter => {
                let text = match &self.filter {
                    Some(Filter::MaxHosts(k)) => format!("hosts<={k}"),
                    Some(Filter::Equals { field, value }) => format!("{field}={value}"),
                    Some(Filter::Regex { text, .. }) => text.clone(),
                    None => String::new(),
                };
                self.mode = Mode::Filter(text);
            }
            Action::ClearFilter => {
                let keep = self.current();
                self.filter = None;
                self.refresh_rows();
                self.select_unique(keep);
                self.status = "filter cleared".into();
            }
            Action::CyclePrevalence => {
                let next = match self.filter {
                    Some(Filter::MaxHosts(1)) => Some(2),
                    Some(Filter::MaxHosts(2)) => Some(5),
                    Some(Filter::MaxHosts(_)) => None,
                    _ => Some(1),
                };
                let keep = self.current();
                self.filter = next.map(Filter::MaxHosts);
                self.refresh_rows();
                self.select_unique(keep);
                self.status = match next {
                    Some(k) => format!(
                        "seen on at most {k} of {} hosts: {} rows",
                        self.dataset.as_ref().map_or(0, |d| d.fleet_size()),
                        self.rows.len()
                    ),
                    None => "prevalence filter off".into(),
                };
            }
            Action::StartSearch => self.mode = Mode::Search(String::new()),
            Action::NextMatch => {
                let from = self.selected + 1;
                if !self.find(from, true) {
                    self.status = "no match".into();
                }
            }
            Action::PrevMatch => {
                let from = (self.selected + self.rows.len().max(1) - 1) % self.rows.len().max(1);
                if !self.find(from, false) {
                    self.status = "no match".into();
                }
            }
            Action::ToggleMark => {
                if let Some(u) = self.current() {
                    let marked = !self.marks.remove(&u);
                    if marked {
                        self.marks.insert(u);
                    }
                    self.triage(&[u], |e| e.marked = marked);
                    self.move_to(self.selected + 1);
                }
            }
            Action::CycleVerdict => {
                if let Some(u) = self.current() {
                    if self.session.is_none() {
                        self.status = "no triage session: verdicts cannot be kept".into();
                    } else {
                        // On a marked row, the verdict goes to every marked row.
                        let targets: Vec<usize> = if self.marks.contains(&u) {
                            self.marks.iter().copied().collect()
                        } else {
                            vec![u]
                        };
                        let v = Verdict::cycle(self.verdict(u));
                        self.status = format!("verdict: {}", v.map_or("none", |v| v.name()));
                        if targets.len() > 1 {
                            self.status
                                .push_str(&format!(" on {} marked rows", targets.len()));
                        }
                        self.triage(&targets, |e| e.verdict = v);
                    }
                }
            }
            Action::StartNote => {
                if let Some(u) = self.current() {
                    if self.session.is_none() {
                        self.status = "no triage session: notes cannot be kept".into();
                    } else {
                        self.mode = Mode::Note(self.note(u).to_string());
                    }
                }
            }
            Action::MarkAllFiltered => {
                self.marks.extend(self.rows.iter().copied());
                self.status = format!("{} rows marked", self.marks.len());
                let rows = self.rows.clone();
                self.triage(&rows, |e| e.marked = true);
            }
            Action::ClearMarks => {
                let marked: Vec<usize> = self.marks.iter().copied().collect();
                self.marks.clear();
                self.status = "marks cleared".into();
                self.triage(&marked, |e| e.marked = false);
            }
            Action::StartExport => {
                if self.dataset.is_some() {
                    self.mode = Mode::Export {
                        format: Format::Csv,
                        path: "anomalog-export.csv".into(),
                    };
                }
            }
            Action::ToggleFocus => {
                self.focus = if self.focus == Focus::List {
                    Focus::Detail
                } else {
                    Focus::List
                };
            }
            Action::CancelTraining => {
                if matches!(self.training, Training::Running { .. }) {
                    effects.push(Effect::CancelTraining);
                    self.status = "cancelling training ...".into();
                }
            }
            Action::Retrain => {
                if let Some(ds) = &self.dataset {
                    let exclude = self
                        .session
                        .as_ref()
                        .map(|s| s.benign_mask(ds.uniques.len()))
                        .unwrap_or_default();
                    let n = exclude.iter().filter(|&&b| b).count();
                    self.status = format!(
                        "retraining without {n} benign event{}",
                        if n == 1 { "" } else { "s" }
                    );
                    effects.push(Effect::Retrain { exclude });
                }
            }
            Action::ClickRow(i) => self.move_to(self.offset + i),
            Action::Resize(h) => {
                self.page = h.max(1);
                self.scroll_to_selected();
            }
            Action::Input(_) | Action::Backspace | Action::NextFormat => {}
        }
        effects
    }

    fn apply_filter(&mut self, text: &str) {
        let keep = self.current();
        if text.trim().is_empty() {
            self.filter = None;
        } else {
            let fields = self
                .dataset
                .as_ref()
                .map(|d| d.fields.to_vec())
                .unwrap_or_default();
            match Self::parse_filter(text, &fields) {
                Ok(f) => self.filter = Some(f),
                Err(e) => {
                    self.status = e;
                    return;
                }
            }
        }
        self.refresh_rows();
        self.select_unique(keep);
        self.status = format!("{} rows match", self.rows.len());
    }

    /// Handle a message from the loader or the worker.
    pub fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Loading(l) => self.loading = Some(l),
            Msg::Loaded(loaded) => {
                self.set_dataset(*loaded);
                // Rank by rarity at once: the list is usable while the model trains.
                if let Some(ds) = self.dataset.clone() {
                    self.set_ranking(crate::model::rarity::rank(&ds));
                }
            }
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
                    seconds,
                };
                self.status = format!("re-ranked by {}", t.ranking.model);
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
        }
    }

    /// The rows an export writes: the marked ones, or the filtered view when none is marked;
    /// in display order.
    pub fn export_rows(&self) -> Vec<usize> {
        if self.marks.is_empty() {
            self.rows.clone()
        } else {
            self.rows
                .iter()
                .copied()
                .filter(|u| self.marks.contains(u))
                .collect()
        }
    }

    /// Write the export; sets the status line either way.
    pub fn export(&mut self, format: Format, path: &std::path::Path) {
        let (Some(ds), Some(r)) = (&self.dataset, &self.ranking) else {
            return;
        };
        let rows = Rows::with_order(ds, r, self.export_rows()).with_session(self.session.as_ref());
        let result = std::fs::File::create(path)
            .map_err(anyhow::Error::from)
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                rows.write(format, &mut w)
            });
        self.status = match result {
            Ok(()) => format!("exported {} rows to {}", rows.order.len(), path.display()),
            Err(e) => format!("export failed: {e:#}"),
        };
    }

    /// Occurrences per host of unique event `u`, most first (records that name no host as
    /// an empty name).
    pub fn host_counts(&self, u: usize) -> Vec<(String, usize)> {
        let Some(ds) = &self.dataset else {
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
}

/// The text columns: the profile's headline fields (name, user, command with arguments).
fn text_cell(ds: &Dataset, u: usize, col: Column) -> String {
    match col {
        Column::Task => ds.value(u, ds.headline[0]).to_string(),
        Column::User => ds.value(u, ds.headline[1]).to_string(),
        _ => {
            let (c, a) = (ds.value(u, ds.headline[2]), ds.value(u, ds.headline[3]));
            if a.is_empty() {
                c.to_string()
            } else {
                format!("{c} {a}")
            }
        }
    }
}

/// A lifecycle flag as the list shows it.
pub fn short_flag(f: &str) -> &str {
    match f {
        crate::lifecycle::NEVER_RAN_FLAG => "never",
        crate::lifecycle::RAN_ONCE_FLAG => "once",
        crate::lifecycle::SHORT_LIVED_FLAG => "short",
        crate::lifecycle::TEMPORARY_MODIFICATION_FLAG => "tmp-mod",
        other => other,
    }
}

pub fn ext(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Jsonl => "jsonl",
        Format::Parquet => "parquet",
        Format::Json => "json",
        Format::Table => "txt",
    }
}
