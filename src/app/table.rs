//! What the list shows of an item: a unique event (the event view) or a task (the task view).
//! Cells, sort keys, filters and search all read items through [`Table`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::frame::{Dataset, RowKind};
use crate::model::{Ranking, TaskRanking};
use crate::session::{Entry, Session, Verdict};

use super::View;
use super::columns::Column;
use super::filter::Filter;

/// A loaded dataset and its current ranking, by event and by task.
#[derive(Debug)]
pub struct Data {
    pub ds: Arc<Dataset>,
    pub ranking: Arc<Ranking>,
    pub tasks: TaskRanking,
    task_rank: Vec<usize>,
    /// The logged events, best first.
    events: Vec<usize>,
    /// The definitions found on the hosts, best first.
    definitions: Vec<usize>,
    /// The newest time in the data: what `last_seen<7d` counts back from.
    end: Option<i64>,
}

impl Data {
    pub fn new(ds: Arc<Dataset>, ranking: Arc<Ranking>) -> Data {
        let tasks = TaskRanking::new(&ds, &ranking);
        let task_rank = tasks.ranks();
        let events = ranking.list(&ds, RowKind::Event);
        let definitions = ranking.list(&ds, RowKind::Definition);
        let end = ds.uniques.iter().filter_map(|e| e.last_seen).max();
        Data {
            end,
            ds,
            ranking,
            tasks,
            task_rank,
            events,
            definitions,
        }
    }

    /// The logged events, best first.
    pub fn events(&self) -> &[usize] {
        &self.events
    }

    /// The definitions found on the hosts, best first.
    pub fn definitions(&self) -> &[usize] {
        &self.definitions
    }

    /// Rank (0-based) of unique event `u`.
    pub fn event_rank(&self, u: usize) -> usize {
        self.tasks.event_rank.get(u).copied().unwrap_or(usize::MAX)
    }

    /// Rank (0-based) of task `t`.
    pub fn task_rank(&self, t: usize) -> usize {
        self.task_rank.get(t).copied().unwrap_or(usize::MAX)
    }
}

/// A view of the data as list items.
pub struct Table<'a> {
    pub view: View,
    pub data: &'a Data,
    pub session: Option<&'a Session>,
}

impl<'a> Table<'a> {
    fn ds(&self) -> &'a Dataset {
        &self.data.ds
    }

    /// Items best first.
    pub fn ranked(&self) -> &'a [usize] {
        match self.view {
            View::Events => &self.data.events,
            View::Definitions => &self.data.definitions,
            View::Tasks => &self.data.tasks.order,
        }
    }

    pub fn rank(&self, i: usize) -> usize {
        match self.view {
            View::Events | View::Definitions => self.data.event_rank(i),
            View::Tasks => self.data.task_rank(i),
        }
    }

    pub fn score(&self, i: usize) -> f64 {
        match self.view {
            View::Events | View::Definitions => {
                self.data.ranking.scores.get(i).copied().unwrap_or(0.0)
            }
            View::Tasks => self.data.tasks.scores.get(i).copied().unwrap_or(0.0),
        }
    }

    /// The unique event that stands for item `i`: itself, or a task's best-ranked event.
    pub fn lead(&self, i: usize) -> usize {
        match self.view {
            View::Events | View::Definitions => i,
            View::Tasks => self.data.tasks.best.get(i).copied().unwrap_or(0),
        }
    }

    /// The unique events of item `i`.
    pub fn events(&self, i: usize) -> Vec<usize> {
        match self.view {
            View::Events | View::Definitions => vec![i],
            View::Tasks => self
                .ds()
                .tasks
                .tasks
                .get(i)
                .map(|t| t.uniques.iter().map(|&u| u as usize).collect())
                .unwrap_or_default(),
        }
    }

    pub fn entry(&self, i: usize) -> Option<&'a Entry> {
        let s = self.session?;
        match self.view {
            View::Events | View::Definitions => s.entry(i),
            View::Tasks => s.task_entry(i),
        }
    }

    pub fn verdict(&self, i: usize) -> Option<Verdict> {
        self.entry(i).and_then(|e| e.verdict)
    }

    /// How far item `i` is judged: the worst verdict of the item and (for a task) of its
    /// events, and how many of its events carry one, of how many.
    pub fn judged(&self, i: usize) -> Judged {
        let own = self.verdict(i);
        if self.view != View::Tasks {
            return Judged {
                worst: own,
                judged: usize::from(own.is_some()),
                of: 1,
            };
        }
        let events = self.events(i);
        let verdicts: Vec<Verdict> = events
            .iter()
            .filter_map(|&u| {
                self.session
                    .and_then(|s| s.entry(u))
                    .and_then(|e| e.verdict)
            })
            .collect();
        Judged {
            worst: verdicts.iter().copied().chain(own).max(),
            judged: verdicts.len(),
            of: events.len(),
        }
    }

    pub fn note(&self, i: usize) -> &'a str {
        self.entry(i).map_or("", |e| e.note.as_str())
    }

    fn hosts(&self, i: usize) -> usize {
        let ds = self.ds();
        match self.view {
            View::Events | View::Definitions => ds.uniques[i].hosts.len(),
            View::Tasks => ds.tasks.tasks[i].hosts.len(),
        }
    }

    fn count(&self, i: usize) -> u64 {
        let ds = self.ds();
        match self.view {
            View::Events | View::Definitions => ds.uniques[i].count(),
            View::Tasks => ds.tasks.tasks[i].count,
        }
    }

    fn flags(&self, i: usize) -> &'a [crate::timeline::Flag] {
        let ds = self.ds();
        match self.view {
            View::Events | View::Definitions => ds.flags(i),
            View::Tasks => &ds.tasks.tasks[i].flags,
        }
    }

    /// The name of item `i` as read, and how many other spellings normalisation merged.
    pub fn name_parts(&self, i: usize) -> (String, u32) {
        let ds = self.ds();
        match self.view {
            View::Events | View::Definitions => {
                let (n, v) = ds.name_as_read(i);
                (n.to_string(), v)
            }
            View::Tasks => {
                let t = &ds.tasks.tasks[i];
                (t.name.to_string(), t.variants)
            }
        }
    }

    /// The text of a column for item `i`, as the list shows it (log strings not yet made
    /// safe for the terminal: the renderer does that).
    pub fn cell(&self, i: usize, col: Column) -> String {
        let ds = self.ds();
        match col {
            Column::Rank => (self.rank(i).saturating_add(1)).to_string(),
            Column::Score => format!("{:.2}", self.score(i)),
            Column::Count => self.count(i).to_string(),
            Column::Hosts => format!("{}/{}", self.hosts(i), ds.fleet_size()),
            Column::Event => match self.view {
                View::Events | View::Definitions => ds.uniques[i].event_id.to_string(),
                View::Tasks => ds.tasks.tasks[i]
                    .event_ids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            },
            Column::Flags => self
                .flags(i)
                .iter()
                .map(|f| f.short())
                .collect::<Vec<_>>()
                .join(" "),
            Column::Verdict => match self.view {
                View::Tasks => self.judged(i).cell(),
                _ => self.verdict(i).map_or("", |v| v.name()).to_string(),
            },
            Column::Task => match self.view {
                View::Events | View::Definitions => with_variants(ds.name_as_read(i)),
                View::Tasks => {
                    let t = &ds.tasks.tasks[i];
                    with_variants((&t.name, t.variants))
                }
            },
            Column::User => {
                let u = self.lead(i);
                let v = ds.value(u, ds.headline[1]);
                // A computer account is one value to the model; the list names the
                // computer where the row is one host's (several: how many).
                match (v.contains("<machine>$"), ds.uniques[u].hosts.len()) {
                    (false, _) => v.to_string(),
                    (true, 1) => machine_as_read(ds.first_raw(u)).unwrap_or_else(|| v.to_string()),
                    (true, n) => format!("{v} ({n} hosts)"),
                }
            }
            Column::Command => ds.command_as_read(self.lead(i)).into_owned(),
        }
    }

    /// The sort key of a numeric column (lower first).
    pub fn number(&self, i: usize, col: Column) -> f64 {
        match col {
            Column::Rank => self.rank(i) as f64,
            Column::Score => -self.score(i),
            Column::Count => self.count(i) as f64,
            Column::Hosts => self.hosts(i) as f64,
            Column::Event => match self.view {
                View::Events | View::Definitions => f64::from(self.ds().uniques[i].event_id),
                View::Tasks => self.ds().tasks.tasks[i].uniques.len() as f64,
            },
            // Most flags first.
            Column::Flags => -(self.flags(i).len() as f64),
            // Malicious, suspicious, benign, then none; a task with more of its events judged
            // first among equals.
            Column::Verdict => {
                let j = self.judged(i);
                let tier = match j.worst {
                    Some(Verdict::Malicious) => 0.0,
                    Some(Verdict::Suspicious) => 1.0,
                    Some(Verdict::Benign) => 2.0,
                    None => 3.0,
                };
                tier - j.judged as f64 / (j.of.max(1) as f64 + 1.0)
            }
            Column::Task | Column::User | Column::Command => 0.0,
        }
    }

    /// The values a query term on `field` (a canonical name, [`super::query::resolve`])
    /// tests for item `i` (any may match): a task offers the values of all its events.
    fn values(&self, i: usize, field: &str, numeric: bool) -> Vec<Cow<'a, str>> {
        let ds: &'a Dataset = self.ds();
        let owned = |s: String| -> Cow<'a, str> { Cow::Owned(s) };
        let per_event = |f: &dyn Fn(usize) -> Option<Cow<'a, str>>| -> Vec<Cow<'a, str>> {
            self.events(i).into_iter().filter_map(f).collect()
        };
        let profile = |name: &str| ds.fields.iter().position(|x| *x == name);
        match field {
            // A task answers with its own verdict and its events' (the worst among them),
            // and with how far it is judged: `all`, `some` or `none`.
            "verdict" if self.view == View::Tasks => {
                let j = self.judged(i);
                vec![
                    Cow::Borrowed(j.worst.map_or("", |v| v.name())),
                    Cow::Borrowed(j.extent()),
                ]
            }
            "verdict" => vec![Cow::Borrowed(self.verdict(i).map_or("", |v| v.name()))],
            "note" => vec![Cow::Borrowed(self.note(i))],
            "rank" => vec![owned(self.rank(i).saturating_add(1).to_string())],
            "score" => vec![owned(self.score(i).to_string())],
            "count" => vec![owned(self.count(i).to_string())],
            // `hosts<=k` counts them; `hosts=NAME` and `hosts~re` read their names.
            "hosts" if numeric => vec![owned(self.hosts(i).to_string())],
            "hosts" => {
                let hosts = match self.view {
                    View::Events | View::Definitions => &ds.uniques[i].hosts,
                    View::Tasks => &ds.tasks.tasks[i].hosts,
                };
                hosts.iter().map(|h| Cow::Borrowed(h.as_str())).collect()
            }
            // The flags' names and the list's abbreviations alike.
            "flags" => self
                .flags(i)
                .iter()
                .flat_map(|f| [Cow::Borrowed(f.name()), Cow::Borrowed(f.short())])
                .collect(),
            "name" => match self.view {
                View::Events | View::Definitions => vec![Cow::Borrowed(ds.name_as_read(i).0)],
                View::Tasks => {
                    let t = &ds.tasks.tasks[i];
                    vec![Cow::Borrowed(&*t.name), Cow::Borrowed(&*t.key)]
                }
            },
            "event_id" => per_event(&|u| Some(owned(ds.uniques[u].event_id.to_string()))),
            // Times as microseconds since the epoch (the query compares them as numbers).
            "first_seen" => per_event(&|u| ds.uniques[u].first_seen.map(|t| owned(t.to_string()))),
            "last_seen" => per_event(&|u| ds.uniques[u].last_seen.map(|t| owned(t.to_string()))),
            "time" => self
                .events(i)
                .into_iter()
                .flat_map(|u| [ds.uniques[u].first_seen, ds.uniques[u].last_seen])
                .flatten()
                .map(|t| owned(t.to_string()))
                .collect(),
            "channel" => per_event(&|u| Some(Cow::Borrowed(ds.uniques[u].channel.as_str()))),
            // The list's user column (the profile's second headline field).
            "user" => {
                let f = profile(ds.headline[1]);
                per_event(&|u| f.map(|f| Cow::Borrowed(&*ds.uniques[u].values[f])))
            }
            // As read, and as the model saw it.
            "command" => {
                let f = profile("command");
                self.events(i)
                    .into_iter()
                    .flat_map(|u| {
                        let mut v = vec![ds.command_as_read(u)];
                        v.extend(f.map(|f| Cow::Borrowed(&*ds.uniques[u].values[f])));
                        v
                    })
                    .collect()
            }
            f => {
                let idx = profile(f);
                per_event(&|u| idx.map(|k| Cow::Borrowed(&*ds.uniques[u].values[k])))
            }
        }
    }

    /// Whether a regex matches any text of item `i`: its name, values, event ids, hosts and
    /// command as read.
    fn any_matches(&self, i: usize, re: &regex::Regex) -> bool {
        let ds = self.ds();
        re.is_match(&self.cell(i, Column::Task))
            || self.events(i).into_iter().any(|u| {
                let e = &ds.uniques[u];
                e.values.iter().any(|v| re.is_match(v))
                    || re.is_match(&e.event_id.to_string())
                    || e.hosts.iter().any(|h| re.is_match(h))
                    || re.is_match(&ds.command_as_read(u))
            })
    }

    /// Whether item `i` passes the filter.
    pub fn passes(&self, i: usize, filter: Option<&Filter>) -> bool {
        match filter {
            None => true,
            Some(Filter::Task { index, .. }) => match self.view {
                View::Events | View::Definitions => self.ds().tasks.of(i) == Some(*index),
                View::Tasks => i == *index,
            },
            Some(Filter::Query(q)) => q.eval(&Item { table: self, i }),
        }
    }

    /// Whether item `i` matches a search (case-insensitive substring of its cells or values).
    pub fn matches(&self, i: usize, needle: &str) -> bool {
        let n = needle.to_lowercase();
        let ds = self.ds();
        [Column::Task, Column::User, Column::Command, Column::Event]
            .iter()
            .any(|&c| self.cell(i, c).to_lowercase().contains(&n))
            || self.events(i).into_iter().any(|u| {
                ds.uniques[u]
                    .values
                    .iter()
                    .any(|v| v.to_lowercase().contains(&n))
            })
    }
}

/// One item as a query sees it.
struct Item<'t, 'a> {
    table: &'t Table<'a>,
    i: usize,
}

impl super::query::Item for Item<'_, '_> {
    fn values(&self, field: &str, numeric: bool) -> Vec<Cow<'_, str>> {
        self.table.values(self.i, field, numeric)
    }

    fn any_matches(&self, re: &regex::Regex) -> bool {
        self.table.any_matches(self.i, re)
    }

    fn reference_time(&self) -> Option<i64> {
        self.table.data.end
    }
}

/// The computer account a record names as it was read (`corp\ws004$`).
fn machine_as_read(raw: &crate::event::RawEvent) -> Option<String> {
    let name = ["SubjectUserName", "UserContext", "UserName", "User"]
        .iter()
        .find_map(|k| raw.first(&[k]).filter(|v| v.trim().ends_with('$')))?
        .trim();
    if name.contains('\\') {
        return Some(name.to_lowercase());
    }
    Some(match raw.first(&["SubjectDomainName"]).map(str::trim) {
        Some(d) if !d.is_empty() && d != "-" => format!("{d}\\{name}").to_lowercase(),
        _ => name.to_lowercase(),
    })
}

/// How far an item is judged ([`Table::judged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    pub worst: Option<Verdict>,
    pub judged: usize,
    pub of: usize,
}

impl Judged {
    /// `all`, `some` or `none` of the events judged.
    pub fn extent(self) -> &'static str {
        match self.judged {
            0 => "none",
            n if n >= self.of => "all",
            _ => "some",
        }
    }

    /// The list's cell: the worst verdict and, while not every event is judged, how many are
    /// (`mal 2/5`).
    pub fn cell(self) -> String {
        match (self.worst, self.extent()) {
            (None, _) => String::new(),
            (Some(v), "all") => v.short().to_string(),
            (Some(v), _) => format!("{} {}/{}", v.short(), self.judged, self.of),
        }
    }
}

fn with_variants((name, variants): (&str, u32)) -> String {
    if variants == 0 {
        name.to_string()
    } else {
        format!("{name} (+{variants} variants)")
    }
}
