//! What an action does, decided by whoever has the key first: an open prompt (modal: it
//! takes every key), then an overlay (the help, the warnings), then the drill-down when it
//! has the focus, then the list, then triage, then what holds everywhere. Each handler
//! either consumes the action, with the effects it gives, or passes it on, as gitui's
//! components do.

use super::{Action, App, Edit, Effect, Filter, Focus, Mode, Prompt, Training, View, ext, query};
use crate::output::Format;

/// What a handler did with an action.
pub(super) enum Handled {
    /// Done: these are its effects.
    Consumed(Vec<Effect>),
    /// Not this handler's: the next one gets it.
    NotConsumed,
}

use Handled::{Consumed, NotConsumed};

fn done() -> Handled {
    Consumed(Vec::new())
}

impl App {
    /// Every handler in turn, until one consumes the action.
    pub(super) fn dispatch(&mut self, action: Action) -> Vec<Effect> {
        let handlers: [fn(&mut App, &Action) -> Handled; 7] = [
            App::on_prompt,
            App::on_values,
            App::on_overlay,
            App::on_drill,
            App::on_list,
            App::on_triage,
            App::on_anywhere,
        ];
        for h in handlers {
            if let Consumed(effects) = h(self, &action) {
                return effects;
            }
        }
        Vec::new()
    }

    /// An open prompt (filter, search, note, export path, overwrite question, verdict
    /// chooser) takes every key: edits its text, submits, or closes.
    fn on_prompt(&mut self, action: &Action) -> Handled {
        if matches!(action, Action::Resize(_)) {
            return NotConsumed;
        }
        let edit = match action {
            Action::Input(c) => Some(Edit::Insert(*c)),
            Action::Backspace => Some(Edit::Backspace),
            Action::Edit(e) => Some(*e),
            _ => None,
        };
        match (&mut self.mode, action) {
            (Mode::Normal | Mode::Help | Mode::Warnings | Mode::Hosts | Mode::Values { .. }, _) => {
                NotConsumed
            }
            (Mode::Verdict { .. }, Action::SetVerdict(v)) => {
                self.mode = Mode::Normal;
                Consumed(self.set_verdict(*v))
            }
            (Mode::Verdict { .. }, _) => {
                self.mode = Mode::Normal;
                self.status = "no verdict given".into();
                done()
            }
            (Mode::ConfirmOverwrite { .. }, a) => Consumed(self.confirm_overwrite(a)),
            (
                Mode::Filter(p) | Mode::Search(p) | Mode::Note(p) | Mode::Export { path: p, .. },
                _,
            ) if edit.is_some() => {
                let changed = edit.is_some_and(|e| p.edit(e));
                Consumed(if changed {
                    vec![self.prompt_changed()]
                } else {
                    Vec::new()
                })
            }
            (Mode::Export { format, path }, Action::NextFormat) => {
                *format = match format {
                    Format::Csv => Format::Jsonl,
                    Format::Jsonl => Format::Parquet,
                    Format::Parquet => Format::Html,
                    _ => Format::Csv,
                };
                if let Some((stem, _)) = path.text().rsplit_once('.') {
                    let text = format!("{stem}.{}", ext(*format));
                    path.set_text(&text);
                }
                done()
            }
            (_, Action::Back) => {
                self.mode = Mode::Normal;
                done()
            }
            (_, Action::Submit) => Consumed(self.submit_prompt()),
            // Anything else while a prompt is open does nothing.
            _ => done(),
        }
    }

    /// Enter in a prompt: apply what was typed.
    fn submit_prompt(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Filter(text) => self.apply_filter(text.text()),
            Mode::Search(text) => self.set_search(Some(text.text().to_string())),
            Mode::Note(text) => {
                if let Some(i) = self.current() {
                    let note = text.text().trim().to_string();
                    self.status = if note.is_empty() {
                        "note removed".into()
                    } else {
                        "note saved".into()
                    };
                    effects.extend(self.change(&[i], |e| e.note.clone_from(&note)));
                }
            }
            Mode::Export { format, path } => {
                effects.extend(self.export_effect(format, path.text().to_string()));
            }
            other => self.mode = other,
        }
        effects
    }

    /// The export's file exists: `y` writes over it, anything else goes back to the path.
    fn confirm_overwrite(&mut self, action: &Action) -> Vec<Effect> {
        let Mode::ConfirmOverwrite { format, path } = &self.mode else {
            return Vec::new();
        };
        let (format, path) = (*format, path.clone());
        match (action, self.pending_export.take()) {
            (Action::Input('y' | 'Y'), Some(mut job)) => {
                job.overwrite = true;
                self.mode = Mode::Normal;
                self.status = format!("exporting to {path} ...");
                vec![Effect::Export(job)]
            }
            _ => {
                self.mode = Mode::Export {
                    format,
                    path: Prompt::new(&path),
                };
                self.status = "not written over: change the path".into();
                Vec::new()
            }
        }
    }

    /// The list of a row's hosts, files and lifecycles: the movement keys move the selection,
    /// `y` copies the selected value, `w` writes them all to a new file, Esc closes it.
    fn on_values(&mut self, action: &Action) -> Handled {
        let page = self.list().page().max(1);
        let Mode::Values {
            title,
            items,
            cursor,
        } = &mut self.mode
        else {
            return NotConsumed;
        };
        let last = items.len().saturating_sub(1);
        match action {
            Action::Down => *cursor = (*cursor + 1).min(last),
            Action::Up => *cursor = cursor.saturating_sub(1),
            Action::PageDown => *cursor = (*cursor + page).min(last),
            Action::PageUp => *cursor = cursor.saturating_sub(page),
            Action::Top => *cursor = 0,
            Action::Bottom => *cursor = last,
            Action::CopyValue => {
                if let Some((_, value)) = items.get(*cursor) {
                    let value = value.clone();
                    self.status = format!(
                        "copied to the clipboard: {}",
                        crate::util::sanitize::for_terminal(&value, 60)
                    );
                    return Consumed(vec![Effect::Copy(value)]);
                }
            }
            Action::WriteValues => {
                let text: String = items
                    .iter()
                    .map(|(what, v)| format!("{what}\t{v}\n"))
                    .collect();
                let stem: String = title
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let path =
                    std::path::PathBuf::from(format!("anomalog-{}.txt", stem.trim_matches('-')));
                self.status = format!("writing {} ...", path.display());
                return Consumed(vec![Effect::WriteText { path, text }]);
            }
            Action::Back => self.mode = Mode::Normal,
            Action::Quit | Action::Resize(_) => return NotConsumed,
            _ => {}
        }
        done()
    }

    /// The help and the warnings scroll with the movement keys and close with Esc, Enter or
    /// their own key; other keys do nothing while they are open.
    fn on_overlay(&mut self, action: &Action) -> Handled {
        if !matches!(self.mode, Mode::Help | Mode::Warnings | Mode::Hosts) {
            return NotConsumed;
        }
        match action {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let page = i32::try_from(self.list().page()).unwrap_or(20);
                self.overlay.lines(match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -page,
                    _ => page,
                });
                done()
            }
            Action::Top | Action::Bottom => {
                self.overlay.to(*action == Action::Bottom);
                done()
            }
            Action::Back | Action::Submit => {
                self.mode = Mode::Normal;
                done()
            }
            Action::ToggleHelp
            | Action::ToggleWarnings
            | Action::ToggleHosts
            | Action::Quit
            | Action::Resize(_) => NotConsumed,
            _ => done(),
        }
    }

    /// The drill-down's own keys, and the movement keys while it has the focus.
    fn on_drill(&mut self, action: &Action) -> Handled {
        match action {
            Action::ToggleDrill => {
                self.drill.toggle_hidden();
                self.status = if self.drill.hidden() {
                    "drill-down hidden (z shows it)".into()
                } else {
                    "drill-down shown".into()
                };
            }
            Action::Section(next) => {
                if self.drill.hidden() {
                    self.drill.toggle_hidden();
                }
                if !self.drill.jump(*next) {
                    self.status = if *next {
                        "the last section".into()
                    } else {
                        "the first section".into()
                    };
                }
            }
            Action::ToggleFocus => self.drill.toggle_focus(),
            _ if self.drill.focus() != Focus::Detail => return NotConsumed,
            Action::Up | Action::Down => self.drill.scroll_by(*action == Action::Down),
            Action::PageUp | Action::PageDown => {
                let page = i32::try_from(self.list().page()).unwrap_or(20);
                self.drill.scroll_lines(if *action == Action::PageDown {
                    page
                } else {
                    -page
                });
            }
            Action::Top | Action::Bottom => self.drill.scroll_to(*action == Action::Bottom),
            Action::Back => self.drill.set_focus(Focus::List),
            _ => return NotConsumed,
        }
        done()
    }

    /// Moving, sorting, filtering, searching and switching the list.
    fn on_list(&mut self, action: &Action) -> Handled {
        let mut effects = Vec::new();
        match action {
            Action::Up => self.move_to(self.selected().saturating_sub(1)),
            Action::Down => self.move_to(self.selected() + 1),
            Action::PageUp => {
                let p = self.list().page();
                self.move_to(self.selected().saturating_sub(p));
            }
            Action::PageDown => {
                let p = self.list().page();
                self.move_to(self.selected() + p);
            }
            Action::Top => self.move_to(0),
            Action::Bottom => self.move_to(usize::MAX),
            Action::ClickRow(i) => {
                let o = self.list().offset();
                self.move_to(o + i);
            }
            // After a sort the view starts at the top: the first rows are the point of it.
            Action::Sort(col) => {
                self.list_mut().sort_by(*col);
                self.refresh();
                self.move_to(0);
            }
            Action::ReverseSort => {
                self.list_mut().reverse();
                self.refresh();
                self.move_to(0);
            }
            Action::StartFilter => {
                let text = self.list().filter().map(Filter::text).unwrap_or_default();
                self.mode = Mode::Filter(Prompt::new(&text));
                effects.push(self.prompt_changed());
            }
            Action::ClearFilter => {
                self.list_mut().set_filter(None);
                self.refresh();
                self.status = "filter cleared".into();
            }
            Action::CyclePrevalence => self.cycle_prevalence(),
            Action::StartSearch => self.mode = Mode::Search(Prompt::default()),
            Action::NextMatch => {
                let from = self.selected() + 1;
                self.find(from, true);
            }
            Action::PrevMatch => {
                let from = self.selected().checked_sub(1).unwrap_or(usize::MAX);
                self.find(from, false);
            }
            Action::ToggleBenignLast => {
                self.events.toggle_benign_last();
                self.tasks.toggle_benign_last();
                self.refresh_both();
                self.status = if self.list().benign_last() {
                    "rows judged benign at the bottom".into()
                } else {
                    "rows judged benign in place".into()
                };
            }
            Action::ToggleView | Action::ToggleDefinitions => {
                self.view = match (action, self.view) {
                    (Action::ToggleView, View::Tasks) => View::Events,
                    (Action::ToggleView, _) => View::Tasks,
                    (_, View::Definitions) => View::Events,
                    _ => View::Definitions,
                };
                self.drill.reset_scroll();
                let n = self.rows().len();
                self.status = format!("{n} {}", self.view.name());
            }
            // A task opens as its events, with their own drill-downs.
            Action::Submit => match (self.view, self.current()) {
                (View::Tasks, Some(t)) => self.open_task(t),
                _ => self.drill.toggle_focus(),
            },
            Action::StartExport => {
                if self.data.is_some() {
                    let stem = match self.view {
                        View::Events => "anomalog-export",
                        View::Definitions => "anomalog-definitions",
                        View::Tasks => "anomalog-tasks",
                    };
                    let file = format!("{stem}.{}", ext(self.export_format));
                    let path = match &self.export_folder {
                        Some(dir) => std::path::Path::new(dir).join(file).display().to_string(),
                        None => file,
                    };
                    self.mode = Mode::Export {
                        format: self.export_format,
                        path: Prompt::new(&path),
                    };
                }
            }
            _ => return NotConsumed,
        }
        Consumed(effects)
    }

    /// `p`: one more term of the query, seen on at most 1, 2, 5 hosts, then none (a task's
    /// filter gives way to it).
    fn cycle_prevalence(&mut self) {
        let query = self.list().filter().and_then(Filter::query);
        let next = match query.and_then(query::Query::max_hosts) {
            Some(1) => Some(2),
            Some(2) => Some(5),
            Some(_) => None,
            None => Some(1),
        };
        let q = query::Query::with_max_hosts(query, next);
        self.list_mut().set_filter(q.map(Filter::Query));
        self.refresh();
        self.status = match next {
            Some(k) => format!(
                "seen on at most {k} of {} hosts: {} rows",
                self.dataset().map_or(0, |d| d.fleet_size()),
                self.rows().len()
            ),
            None => "prevalence filter off".into(),
        };
    }

    /// Marks, verdicts, notes and undo.
    fn on_triage(&mut self, action: &Action) -> Handled {
        let mut effects = Vec::new();
        match action {
            Action::ToggleMark => {
                if let Some(i) = self.current() {
                    let view = self.view;
                    let marks = self.triage.marks_mut(view);
                    let marked = !marks.remove(&i);
                    if marked {
                        marks.insert(i);
                    }
                    effects.extend(self.change(&[i], |e| e.marked = marked));
                    self.status = if marked { "marked" } else { "unmarked" }.into();
                    self.move_to(self.selected() + 1);
                }
            }
            Action::StartVerdict => {
                if self.triage.session().is_none() {
                    self.status = "no triage session: verdicts cannot be kept".into();
                } else if let Some((targets, hidden, marked)) = self.verdict_targets() {
                    self.mode = Mode::Verdict {
                        rows: targets.len(),
                        hidden,
                        marked,
                    };
                }
            }
            Action::SetVerdict(v) => effects.extend(self.set_verdict(*v)),
            Action::Undo => effects.extend(self.undo()),
            Action::StartNote => {
                if let Some(i) = self.current() {
                    if self.triage.session().is_none() {
                        self.status = "no triage session: notes cannot be kept".into();
                    } else {
                        let note = self.table().map(|t| t.note(i).to_string());
                        self.mode = Mode::Note(Prompt::new(&note.unwrap_or_default()));
                    }
                }
            }
            Action::MarkAllFiltered => {
                let rows = self.rows().to_vec();
                let view = self.view;
                self.triage.marks_mut(view).extend(rows.iter().copied());
                self.status = format!("{} rows marked", self.marks().len());
                effects.extend(self.change(&rows, |e| e.marked = true));
            }
            Action::ClearMarks => {
                let view = self.view;
                let marked: Vec<usize> = std::mem::take(self.triage.marks_mut(view))
                    .into_iter()
                    .collect();
                self.status = "marks cleared".into();
                effects.extend(self.change(&marked, |e| e.marked = false));
            }
            _ => return NotConsumed,
        }
        Consumed(effects)
    }

    /// What holds whatever is open: quitting, the overlays' keys, training, the screen's size.
    fn on_anywhere(&mut self, action: &Action) -> Handled {
        let mut effects = Vec::new();
        match action {
            Action::Quit => self.quit = true,
            Action::OpenValues => match self.values_of_current() {
                Some((title, items)) if !items.is_empty() => {
                    self.mode = Mode::Values {
                        title,
                        items,
                        cursor: 0,
                    };
                }
                _ => self.status = "no row to list".into(),
            },
            Action::ToggleHelp | Action::ToggleWarnings | Action::ToggleHosts => {
                let want = match action {
                    Action::ToggleHelp => Mode::Help,
                    Action::ToggleHosts => Mode::Hosts,
                    _ => Mode::Warnings,
                };
                self.mode = if self.mode == want {
                    Mode::Normal
                } else {
                    self.overlay.reset();
                    want
                };
            }
            // Esc never quits: one Esc too many must not lose the filter, sort and place.
            Action::Back => self.status = "nothing to close (q quits)".into(),
            Action::CancelTraining => {
                if matches!(self.training, Training::Running { .. }) {
                    effects.push(Effect::CancelTraining);
                    self.status = "cancelling training ...".into();
                }
            }
            Action::Retrain => {
                if let Some(ds) = self.dataset() {
                    let exclude = self
                        .triage
                        .session()
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
            Action::Resize(h) => {
                self.events.set_page(*h);
                self.tasks.set_page(*h);
            }
            _ => return NotConsumed,
        }
        Consumed(effects)
    }
}
