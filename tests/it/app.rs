//! The TUI's state and rendering, with no threads and no terminal: actions and worker
//! messages go straight into `update` / `on_msg`, frames into ratatui's `TestBackend`.

use crate::util;

use std::path::PathBuf;

use anomalog::app::{Action, App, Column, Effect, Executor, Focus, Mode, Msg, Training};
use anomalog::model::worker::{Trained, WorkerMsg};
use anomalog::model::{EpochReport, ModelKind};
use anomalog::output::Format;
use anomalog::session::{Session, Verdict};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app_on(paths: &[PathBuf]) -> App {
    let loaded = util::load(paths);
    let mut app = App::new(true);
    app.update(Action::Resize(20));
    app.on_msg(Msg::Loaded(Box::new(loaded), None));
    app
}

/// Relative paths (tests run in the package root): snapshots must not hold the checkout's
/// absolute path.
fn samples() -> App {
    app_on(&[PathBuf::from("samples")])
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| anomalog::ui::render(app, f)).unwrap();
    anomalog::ui::buffer_text(t.backend().buffer())
}

/// Carry out effects as the terminal loop's executor does, feeding its answers back.
fn settle(app: &mut App, ex: &mut Executor, effects: Vec<Effect>) {
    for e in effects {
        if let Some(m) = ex.run(e) {
            let more = app.on_msg(m);
            settle(app, ex, more);
        }
    }
}

/// An action, its effects carried out.
fn act(app: &mut App, ex: &mut Executor, a: Action) {
    let effects = app.update(a);
    settle(app, ex, effects);
}

/// Keys typed in one burst, as the terminal loop handles them: every key, then one preview
/// of the prompt's text (`Effect::Preview`).
fn typed(app: &mut App, s: &str) {
    let mut preview = false;
    for c in s.chars() {
        preview |= app
            .update(Action::Input(c))
            .iter()
            .any(|e| matches!(e, Effect::Preview));
    }
    if preview {
        app.on_msg(Msg::Preview);
    }
}

#[test]
fn loads_ranked_by_rarity_while_training() {
    let app = samples();
    assert!(app.loading().is_none());
    assert_eq!(app.ranking().as_ref().unwrap().model, ModelKind::Rarity);
    // The events view: every unique event, the definitions in their own view.
    let ds = app.dataset().unwrap();
    let events = ds
        .uniques
        .iter()
        .filter(|e| e.kind() == anomalog::frame::RowKind::Event)
        .count();
    assert!(events < ds.uniques.len(), "the samples hold definitions");
    assert_eq!(app.rows().len(), events);
    assert_eq!(app.selected(), 0);
    assert_eq!(app.rank_of(app.current().unwrap()), 0);
}

#[test]
fn sort_both_directions_keeps_the_selection() {
    let mut app = samples();
    app.update(Action::Down);
    app.update(Action::Down);
    app.update(Action::Sort(Some(Column::Count)));
    // After a sort the view starts at the top (issue 15 #7).
    assert_eq!((app.selected(), app.list().offset()), (0, 0));
    let ds = app.dataset().cloned().unwrap();
    let counts: Vec<u64> = app.rows().iter().map(|&r| ds.uniques[r].count()).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "ascending counts");
    app.update(Action::Sort(Some(Column::Count)));
    let counts: Vec<u64> = app.rows().iter().map(|&r| ds.uniques[r].count()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "again: descending");
    assert_eq!(app.selected(), 0);
    // One arrow convention: ↓ when the values run largest first.
    let s = screen(&app, 170, 42);
    assert!(s.contains("count↓"), "{s}");
    app.update(Action::Sort(Some(Column::Score)));
    assert!(screen(&app, 170, 42).contains("score↓"));
    app.update(Action::Sort(Some(Column::Score)));
    assert!(screen(&app, 170, 42).contains("score↑"));
    app.update(Action::Sort(Some(Column::Task)));
    let names: Vec<String> = app
        .rows()
        .iter()
        .map(|&r| app.cell(r, Column::Task).to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    app.update(Action::Sort(None));
    assert_eq!(app.list().sort(), Column::User);
}

#[test]
fn filters_by_field_regex_and_all_fields() {
    let mut app = samples();
    let all = app.rows().len();
    app.update(Action::StartFilter);
    typed(&mut app, "event_id=4698");
    app.update(Action::Submit);
    assert!(app.rows().len() < all && !app.rows().is_empty());
    assert!(
        app.rows()
            .iter()
            .all(|&u| app.cell(u, Column::Event) == "4698")
    );
    app.update(Action::StartFilter);
    for _ in 0..20 {
        app.update(Action::Backspace);
    }
    typed(&mut app, "command~temp");
    app.update(Action::Submit);
    assert!(!app.rows().is_empty());
    assert!(
        app.rows()
            .iter()
            .all(|&u| app.cell(u, Column::Command).to_lowercase().contains("temp"))
    );
    // A regex over all fields.
    app.update(Action::StartFilter);
    for _ in 0..20 {
        app.update(Action::Backspace);
    }
    typed(&mut app, "svc_sql|oneDRIVEsync");
    app.update(Action::Submit);
    assert!(app.rows().len() >= 3, "{}", app.rows().len());
    // A bad regex leaves the filter as it was and says why.
    let before = app.rows().to_vec();
    app.update(Action::StartFilter);
    typed(&mut app, "(");
    app.update(Action::Submit);
    assert!(app.status().contains("regex"), "{}", app.status());
    assert_eq!(app.rows(), before);
    app.update(Action::ClearFilter);
    assert_eq!(app.rows().len(), all);
}

#[test]
fn incremental_search_and_next_previous() {
    let mut app = samples();
    app.update(Action::StartSearch);
    typed(&mut app, "zoomupdate");
    let first = app.selected();
    assert!(
        app.cell(app.current().unwrap(), Column::Task)
            .to_lowercase()
            .contains("zoomupdate")
    );
    app.update(Action::Submit);
    assert_eq!(*app.mode(), Mode::Normal);
    app.update(Action::NextMatch);
    assert!(app.selected() > first);
    assert!(
        app.cell(app.current().unwrap(), Column::Task)
            .to_lowercase()
            .contains("zoomupdate")
    );
    app.update(Action::PrevMatch);
    assert_eq!(app.selected(), first);
    // The count, and which match the cursor is on (issue 15 #9).
    let ds = app.dataset().cloned().unwrap();
    let n = app
        .rows()
        .iter()
        .filter(|&&u| {
            ds.uniques[u]
                .values
                .iter()
                .any(|v| v.to_lowercase().contains("zoomupdate"))
                || app
                    .cell(u, Column::Task)
                    .to_lowercase()
                    .contains("zoomupdate")
        })
        .count();
    assert!(n > 2);
    app.update(Action::NextMatch);
    assert_eq!(app.status(), format!("match 2 of {n}"));
    app.update(Action::PrevMatch);
    assert_eq!(app.status(), format!("match 1 of {n}"));
    app.update(Action::PrevMatch);
    assert_eq!(app.status(), format!("match {n} of {n}"), "wraps around");
    // Moving clears it; the matches are highlighted in the list.
    app.update(Action::Down);
    assert_eq!(app.status(), "");
    let mut t = Terminal::new(TestBackend::new(170, 42)).unwrap();
    t.draw(|f| anomalog::ui::render(&app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    // Rows whose reversed cells spell a match (the selected row, reversed whole without
    // colour, is at most one of them).
    let lit_rows = (0..42u16)
        .filter(|&y| {
            let lit: String = (0..170u16)
                .filter(|&x| {
                    buf[(x, y)]
                        .modifier
                        .contains(ratatui::style::Modifier::REVERSED)
                })
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            lit.to_lowercase().contains("zoomupdate")
        })
        .count();
    assert!(lit_rows >= 2, "{lit_rows}");
}

#[test]
fn marks_and_export_write_exactly_the_marked_rows() {
    let mut app = samples();
    app.update(Action::ToggleMark); // marks row 0, moves down
    app.update(Action::Down);
    app.update(Action::ToggleMark); // marks row 2
    assert_eq!(app.marks().len(), 2);
    let want: Vec<String> = app
        .export_rows()
        .iter()
        .map(|&u| app.cell(u, Column::Task))
        .collect();
    app.update(Action::StartExport);
    app.update(Action::NextFormat); // csv -> jsonl
    assert!(
        matches!(&app.mode(), Mode::Export { format: Format::Jsonl, path } if path.text().ends_with(".jsonl"))
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marked.jsonl");
    let Mode::Export { path: default, .. } = app.mode().clone() else {
        panic!()
    };
    for _ in default.text().chars() {
        app.update(Action::Backspace);
    }
    typed(&mut app, path.to_str().unwrap());
    let mut ex = Executor::default();
    act(&mut app, &mut ex, Action::Submit);
    assert!(app.status().contains("exported 2 rows"), "{}", app.status());
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<String> = rows
        .iter()
        .map(|r| r["display"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(got, want);
    // Exports keep the ranking's ranks (rows 0 and 2 of the list: ranks 1 and 3).
    let ranks: Vec<u64> = rows.iter().map(|r| r["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, vec![1, 3]);
    assert!(
        rows.iter()
            .all(|r| r["field_errors"].is_object() && r["expected"].is_object())
    );
    // Nothing marked: the filtered view is exported.
    app.update(Action::ClearMarks);
    app.update(Action::StartFilter);
    typed(&mut app, "event_id=4699");
    app.update(Action::Submit);
    let csv = dir.path().join("view.csv");
    export_to(&mut app, &mut ex, &csv);
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap().lines().count(),
        app.rows().len() + 1
    );
    app.update(Action::MarkAllFiltered);
    assert_eq!(app.marks().len(), app.rows().len());
}

/// Training's words stand first in the header's corner, whole: no gauge block before them,
/// no word cut at the edge, at every width.
#[test]
fn training_progress_reads_whole() {
    let mut app = samples();
    app.on_msg(Msg::Worker(WorkerMsg::Epoch(EpochReport {
        epoch: 239,
        epochs: 600,
        loss: 12.6,
        elapsed: 3.0,
        eta: 5.0,
    })));
    for width in [80, 100, 119, 120, 140, 200] {
        let s = screen(&app, width, 30);
        let line = s
            .lines()
            .find(|l| l.contains("239/600"))
            .unwrap_or_else(|| panic!("{width}: {s}"));
        assert!(!line.contains('█'), "{width}: {line}");
        assert!(
            line.contains("c cancels") || line.trim_end().ends_with('…'),
            "{width}: {line}"
        );
        assert!(line.contains("239/600"), "{width}: {line}");
    }
}

#[test]
fn rerank_keeps_the_selected_event() {
    let mut app = samples();
    for _ in 0..5 {
        app.update(Action::Down);
    }
    let u = app.current().unwrap();
    app.on_msg(Msg::Worker(WorkerMsg::Epoch(EpochReport {
        epoch: 1,
        epochs: 3,
        loss: 9.0,
        elapsed: 0.1,
        eta: 0.2,
    })));
    assert!(matches!(&app.training(), Training::Running { losses, .. } if losses == &vec![9.0]));
    let ds = app.dataset().cloned().unwrap();
    let task = anomalog::model::worker::Task::Train {
        kind: anomalog::model::ModelKind::Ds4n6,
        config: Default::default(),
    };
    let trained =
        anomalog::model::worker::run(&ds, task, &Default::default(), &mut |_| {}).unwrap();
    app.update(Action::ToggleBenignLast);
    app.on_msg(Msg::Worker(WorkerMsg::Done(Box::new(Trained {
        ranking: trained.ranking,
        model: None,
    }))));
    assert_eq!(app.ranking().as_ref().unwrap().model, ModelKind::Ds4n6);
    // The message already there stays (issue 15 #9: "session restored" was replaced).
    assert_eq!(
        app.status(),
        "re-ranked by ds4n6; rows judged benign in place"
    );
    assert_eq!(app.current(), Some(u), "the cursor stays on the same event");
    assert!(matches!(
        app.training(),
        Training::Done {
            model: ModelKind::Ds4n6,
            ..
        }
    ));
    // Cancelling keeps the ranking it has.
    let mut app = samples();
    app.set_training(Training::Running {
        last: None,
        losses: vec![],
    });
    assert!(matches!(
        app.update(Action::CancelTraining).as_slice(),
        [Effect::CancelTraining]
    ));
    app.on_msg(Msg::Worker(WorkerMsg::Cancelled));
    assert_eq!(*app.training(), Training::Cancelled);
    assert_eq!(app.ranking().as_ref().unwrap().model, ModelKind::Rarity);
}

#[test]
fn navigation_focus_help_and_quit() {
    let mut app = samples();
    app.update(Action::Bottom);
    assert_eq!(app.selected(), app.rows().len() - 1);
    app.update(Action::Top);
    app.update(Action::PageDown);
    assert_eq!(app.selected(), 20);
    assert!(app.list().offset() <= 20 && 20 < app.list().offset() + 20);
    app.update(Action::ClickRow(3));
    assert_eq!(app.selected(), app.list().offset() + 3);
    app.update(Action::Submit);
    assert_eq!(app.focus(), Focus::Detail);
    app.update(Action::Down);
    assert_eq!(
        app.drill().scroll(),
        1,
        "j scrolls the drill-down when it has focus"
    );
    app.update(Action::Back);
    assert_eq!(app.focus(), Focus::List);
    app.update(Action::ToggleHelp);
    assert_eq!(*app.mode(), Mode::Help);
    app.update(Action::Down);
    app.update(Action::Back);
    assert_eq!(*app.mode(), Mode::Normal);
    assert!(!app.should_quit());
    // Esc with nothing open never quits (issue 15 #4); q does.
    app.update(Action::Back);
    assert!(!app.should_quit());
    assert!(app.status().contains("q quits"), "{}", app.status());
    // Moving on clears it: messages belong to the action that made them (issue 15 #9).
    app.update(Action::Down);
    assert_eq!(app.status(), "");
    app.update(Action::Quit);
    assert!(app.should_quit());
}

/// The header says what was trained: the hybrid's three models with each one's epochs.
#[test]
fn the_header_names_the_hybrids_models() {
    let mut app = samples();
    for (models, epochs, said) in [
        (3, 600, "ae: 3 models, 600 epochs in 0.8 s"),
        (1, 200, "ae: 200 epochs in 0.8 s"),
    ] {
        app.set_training(Training::Done {
            model: ModelKind::Ae,
            epochs,
            models,
            seconds: 0.8,
        });
        let text = screen(&app, 200, 20);
        assert!(text.contains(said), "{text}");
    }
}

#[test]
fn render_list_and_drill_down() {
    let mut app = samples();
    app.update(Action::Resize(30));
    insta::assert_snapshot!("list_and_drill_down", screen(&app, 170, 42));
}

#[test]
fn render_narrow_terminal_stacks_the_panes() {
    let app = samples();
    let s = screen(&app, 100, 40);
    assert!(s.contains("unique events (") && s.contains("drill-down"));
    insta::assert_snapshot!("narrow", s);
}

#[test]
fn render_help_overlay_lists_every_key() {
    let mut app = samples();
    app.update(Action::ToggleHelp);
    let s = screen(&app, 150, 60);
    for b in anomalog::app::BINDINGS {
        let start: String = b.what.chars().take(40).collect();
        assert!(s.contains(&start), "{}", b.what);
    }
    insta::assert_snapshot!("help", s);
}

#[test]
fn render_hostile_strings_harmlessly() {
    let app = app_on(&[PathBuf::from("tests/fixtures/hostile.jsonl")]);
    let mut t = Terminal::new(TestBackend::new(150, 40)).unwrap();
    t.draw(|f| anomalog::ui::render(&app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    for cell in buf.content() {
        let s = cell.symbol();
        assert!(
            !s.chars().any(|c| c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || c == '\u{200b}'),
            "{s:?}"
        );
    }
    let s = screen(&app, 150, 40);
    assert!(s.contains("\\x1b"), "escapes are shown, not sent");
    insta::assert_snapshot!("hostile", s);
}

#[test]
fn render_loading_screen() {
    let mut app = App::new(true);
    app.on_msg(Msg::Loading(anomalog::app::LoadState {
        files_done: 3,
        files_total: 12,
        records: 4567,
    }));
    let s = screen(&app, 100, 12);
    assert!(s.contains("3/12 files, 4567 records"), "{s}");
}

#[test]
fn prevalence_is_one_key_away() {
    let mut app = samples();
    let fleet = app.dataset().unwrap().fleet_size();
    assert_eq!(fleet, 8);
    let all = app.rows().len();
    let hosts = |app: &App| -> Vec<usize> {
        let ds = app.dataset().cloned().unwrap();
        app.rows()
            .iter()
            .map(|&u| ds.uniques[u].hosts.len())
            .collect()
    };
    app.update(Action::CyclePrevalence);
    assert!(!app.rows().is_empty() && app.rows().len() < all);
    assert!(hosts(&app).iter().all(|&h| h <= 1));
    assert!(
        app.status().contains("at most 1 of 8 hosts"),
        "{}",
        app.status()
    );
    app.update(Action::CyclePrevalence);
    assert!(hosts(&app).iter().all(|&h| h <= 2) && hosts(&app).contains(&2));
    app.update(Action::CyclePrevalence);
    assert!(hosts(&app).iter().all(|&h| h <= 5));
    app.update(Action::CyclePrevalence);
    assert_eq!(app.rows().len(), all, "then off");
    // The same as a typed filter, and the column shows hosts / fleet.
    app.update(Action::StartFilter);
    typed(&mut app, "hosts<=1");
    app.update(Action::Submit);
    assert!(hosts(&app).iter().all(|&h| h <= 1));
    assert_eq!(app.cell(app.current().unwrap(), Column::Hosts), "1/8");
}

#[test]
fn one_binding_per_key() {
    use anomalog::app::{BINDINGS, Key, binding_for};
    let mut seen = std::collections::HashSet::new();
    for b in BINDINGS {
        for k in b.keys {
            assert!(seen.insert(format!("{k:?}")), "{k:?} is bound twice");
            assert_eq!(binding_for(*k), Some(b.action.clone()));
        }
    }
    assert_eq!(binding_for(Key::Char('j')), Some(Action::Down));
    assert_eq!(binding_for(Key::Char('Z')), None);
}

/// Export the current view (format from the extension) through the prompt.
fn export_to(app: &mut App, ex: &mut Executor, path: &std::path::Path) {
    app.update(Action::StartExport);
    let Mode::Export { path: default, .. } = app.mode().clone() else {
        panic!("no export prompt")
    };
    for _ in default.text().chars() {
        app.update(Action::Backspace);
    }
    let want = path.extension().unwrap().to_str().unwrap();
    for _ in 0..3 {
        if matches!(app.mode(), Mode::Export { format, .. } if anomalog::app::ext(*format) == want)
        {
            break;
        }
        app.update(Action::NextFormat);
    }
    typed(app, path.to_str().unwrap());
    act(app, ex, Action::Submit);
}

/// The file's extension names the export's format whatever the chooser says (`tasks.csv`
/// once got JSON Lines); an extension no format has is refused in words and the prompt stays;
/// the next export starts in the last one's folder.
#[test]
fn an_export_takes_its_format_from_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    let type_path = |app: &mut App, ex: &mut Executor, path: &str| {
        app.update(Action::StartExport);
        let Mode::Export { path: default, .. } = app.mode().clone() else {
            panic!("no export prompt")
        };
        for _ in default.text().chars() {
            app.update(Action::Backspace);
        }
        // The chooser on JSON Lines, the file named .csv.
        while !matches!(
            app.mode(),
            Mode::Export {
                format: Format::Jsonl,
                ..
            }
        ) {
            app.update(Action::NextFormat);
        }
        typed(app, path);
        act(app, ex, Action::Submit);
    };
    let csv = dir.path().join("tasks.csv");
    type_path(&mut app, &mut ex, csv.to_str().unwrap());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.lines().next().unwrap().starts_with("rank,"),
        "{}",
        &text[..80]
    );
    assert!(!text.starts_with('{'));
    let xlsx = dir.path().join("top.xlsx");
    type_path(&mut app, &mut ex, xlsx.to_str().unwrap());
    assert!(!xlsx.exists());
    assert!(
        app.status().contains(".xlsx") && app.status().contains(".csv"),
        "{}",
        app.status()
    );
    assert!(
        matches!(app.mode(), Mode::Export { .. }),
        "the prompt stays"
    );
    app.update(Action::Back);
    app.update(Action::StartExport);
    let Mode::Export { path, .. } = app.mode().clone() else {
        panic!("no export prompt")
    };
    assert!(
        path.text().starts_with(dir.path().to_str().unwrap()),
        "{}",
        path.text()
    );
}

/// The samples with a triage session at `path`, and the executor that saves it.
fn samples_with_session(path: &std::path::Path) -> (App, Executor) {
    let loaded = util::load(&[PathBuf::from("samples")]);
    let session = Some(Session::open(path.to_path_buf(), &loaded.dataset).unwrap());
    let mut app = App::new(true);
    let mut ex = Executor::default();
    app.update(Action::Resize(20));
    let effects = app.on_msg(Msg::Loaded(Box::new(loaded), session.map(Box::new)));
    settle(&mut app, &mut ex, effects);
    (app, ex)
}

#[test]
fn verdicts_notes_and_marks_are_saved_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.json");
    let (mut app, mut ex) = samples_with_session(&path);
    let top = app.current().unwrap();
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    assert_eq!(app.status(), "verdict: benign");
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Malicious)),
    );
    assert_eq!(app.verdict(top), Some(Verdict::Malicious));
    act(&mut app, &mut ex, Action::StartNote);
    assert!(matches!(app.mode(), Mode::Note(_)));
    typed(&mut app, "beacons to 10.0.0.5");
    act(&mut app, &mut ex, Action::Submit);
    assert_eq!(app.note(top), "beacons to 10.0.0.5");
    act(&mut app, &mut ex, Action::Down);
    let second = app.current().unwrap();
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign))); // benign
    act(&mut app, &mut ex, Action::Up);
    act(&mut app, &mut ex, Action::ToggleMark);
    assert!(path.exists(), "saved on every change");
    // The filter reads verdicts.
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "verdict=malicious");
    act(&mut app, &mut ex, Action::Submit);
    assert_eq!(app.rows(), vec![top]);
    let s = screen(&app, 150, 42);
    assert!(
        s.contains("malicious") && s.contains("note: beacons to 10.0.0.5"),
        "{s}"
    );

    // Reopened: everything is back.
    let (app, mut ex) = samples_with_session(&path);
    assert!(
        app.status().starts_with("session restored from"),
        "{}",
        app.status()
    );
    assert!(
        app.status().contains("1 mark, 2 verdicts, 1 note"),
        "{}",
        app.status()
    );
    assert_eq!(app.marks().iter().copied().collect::<Vec<_>>(), vec![top]);
    assert_eq!(app.verdict(top), Some(Verdict::Malicious));
    assert_eq!(app.verdict(second), Some(Verdict::Benign));
    assert_eq!(app.note(top), "beacons to 10.0.0.5");
    assert_eq!(app.cell(top, Column::Verdict), "malicious");

    // Exported with the rows.
    let mut app = app;
    let out = dir.path().join("x.jsonl");
    export_to(&mut app, &mut ex, &out);
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["verdict"], "malicious");
    assert_eq!(first["note"], "beacons to 10.0.0.5");
    assert_eq!(first["marked"], true);
}

#[test]
fn without_a_session_verdicts_say_why_they_cannot_be_kept() {
    let mut app = samples();
    app.update(Action::StartVerdict);
    assert!(
        app.status().contains("no triage session"),
        "{}",
        app.status()
    );
    app.update(Action::StartNote);
    assert_eq!(*app.mode(), Mode::Normal);
}

#[test]
fn lifecycle_flags_column_filter_and_timeline() {
    let mut app = samples();
    // The atexec task of the samples: short-lived, with its timeline in the drill-down.
    app.update(Action::StartFilter);
    typed(&mut app, "flags~short-lived");
    app.update(Action::Submit);
    assert!(!app.rows().is_empty());
    let ds = app.dataset().cloned().unwrap();
    assert!(
        app.rows()
            .iter()
            .all(|&u| ds.flags(u).contains(&anomalog::timeline::SHORT_LIVED_FLAG))
    );
    let u = app.current().unwrap();
    assert!(app.cell(u, Column::Flags).contains("short"));
    let s = screen(&app, 170, 80);
    assert!(s.contains("lifecycle: "), "{s}");
    assert!(s.contains("registered") && s.contains("deleted"), "{s}");
    // Sorting by flags puts the most-flagged first.
    app.update(Action::ClearFilter);
    app.update(Action::Sort(Some(Column::Flags)));
    let n: Vec<usize> = app.rows().iter().map(|&u| ds.flags(u).len()).collect();
    assert!(n.windows(2).all(|w| w[0] >= w[1]) && n[0] > 0);
}

#[test]
fn render_timeline_with_an_update_diff() {
    let mut app = samples();
    app.update(Action::StartFilter);
    typed(&mut app, "flags~temporary");
    app.update(Action::Submit);
    // The first 4702 of the Sunburst-style modification.
    let ds = app.dataset().cloned().unwrap();
    let i = app
        .rows()
        .iter()
        .position(|&u| ds.uniques[u].event_id == 4702)
        .expect("a flagged 4702");
    for _ in 0..i {
        app.update(Action::Down);
    }
    app.update(Action::ToggleFocus);
    let s = screen(&app, 170, 170);
    assert!(s.contains("updated"), "{s}");
    assert!(s.contains("+ ") && s.contains("- "), "an XML diff: {s}");
    // The first update has nothing before it in the logs: it shows what it set, whole
    // (issue 15 #11: every update shows its definition).
    let Some(whole) = s.find("no earlier definition in these logs") else {
        panic!("the first update's definition: {s}");
    };
    assert!(
        s[whole..].contains("C:\\Windows\\Temp\\wsqmcons.exe</Command>"),
        "{s}"
    );
    insta::assert_snapshot!("timeline", s);
}

#[test]
fn clicking_a_header_sorts_by_the_column_under_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    // With a verdict in the session, so that every column (flags and verdict included) is on
    // screen.
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    for (w, h) in [(170u16, 42u16), (100, 40)] {
        let s = screen(&app, w, h);
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        // The list's header row is the line after its top border.
        let (y, line) = s
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("rank↑") && l.contains("count"))
            .unwrap();
        let mut found = 0;
        for col in Column::ALL {
            let title = col.title();
            // On a narrow list some columns give way (the event id first).
            let Some((at, _)) = line
                .match_indices(title)
                .find(|(i, _)| line[..*i].ends_with([' ', '│']))
            else {
                assert!(
                    matches!(col, Column::Event | Column::User | Column::Count),
                    "{title} not in the header at {w}x{h}: {line}"
                );
                continue;
            };
            found += 1;
            // Characters, not bytes, before the title (the border and arrows are multi-byte).
            let x = line[..at].chars().count() as u16 + 1;
            assert_eq!(
                anomalog::ui::click(&app, area, x, y as u16),
                Some(Action::Sort(Some(col))),
                "{title} at {x} in {w}x{h}: {line}"
            );
        }
        assert!(found >= 9, "{found} columns at {w}x{h}: {line}");
        assert_eq!(
            anomalog::ui::click(&app, area, 3, y as u16 + 2),
            Some(Action::ClickRow(1)),
            "the second row"
        );
    }
}

#[test]
fn retrain_leaves_the_benign_events_out() {
    use anomalog::model::ModelKind;
    use anomalog::model::ae::AeConfig;
    use anomalog::model::worker::{Task, run};
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    let ds = app.dataset().cloned().unwrap();
    // Windows Update re-registering a stock task: benign.
    let benign = (0..ds.uniques.len())
        .find(|&u| {
            ds.value(u, "task_name") == "\\Microsoft\\Windows\\UpdateOrchestrator\\Schedule Scan"
                && ds.uniques[u].event_id == 4702
        })
        .unwrap();
    let i = app.rows().iter().position(|&u| u == benign).unwrap();
    for _ in 0..i {
        act(&mut app, &mut ex, Action::Down);
    }
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    assert_eq!(app.verdict(benign), Some(Verdict::Benign));
    let effects = app.update(Action::Retrain);
    assert_eq!(app.status(), "retraining without 1 benign event");
    let [Effect::Retrain { exclude }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(
        exclude
            .iter()
            .enumerate()
            .filter(|(_, x)| **x)
            .map(|(u, _)| u)
            .collect::<Vec<_>>(),
        vec![benign]
    );
    // What the loop does with it: the mask on the shared dataset, then training.
    let rank = |ds: &anomalog::frame::Dataset| {
        run(
            ds,
            Task::Train {
                kind: ModelKind::Rarity,
                config: AeConfig::default(),
            },
            &std::sync::atomic::AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap()
        .ranking
    };
    let before = rank(&ds).scores[benign];
    ds.set_excluded(exclude);
    assert_eq!(ds.n_excluded(), 1);
    let after = rank(&ds).scores[benign];
    assert!(after > before, "no longer counted: {after} > {before}");
}

#[test]
fn a_verdict_on_a_marked_row_judges_every_marked_row() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    // Every event of one task, marked at once, then judged at once.
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "task_name=\\Backup\\NightlyBackup");
    act(&mut app, &mut ex, Action::Submit);
    let rows = app.rows().to_vec();
    assert!(rows.len() > 2, "{}", rows.len());
    act(&mut app, &mut ex, Action::MarkAllFiltered);
    act(&mut app, &mut ex, Action::Top);
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    assert_eq!(
        app.status(),
        format!("verdict: benign on {} marked rows", rows.len())
    );
    assert!(
        rows.iter()
            .all(|&u| app.verdict(u) == Some(Verdict::Benign))
    );
    // An unmarked row is judged alone.
    act(&mut app, &mut ex, Action::ClearMarks);
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Suspicious)),
    );
    assert_eq!(
        app.verdict(app.current().unwrap()),
        Some(Verdict::Suspicious)
    );
    assert_eq!(
        rows.iter()
            .filter(|&&u| app.verdict(u) == Some(Verdict::Benign))
            .count(),
        rows.len() - 1
    );
}

#[test]
fn exclude_benign_at_start_says_how_many_in_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut app, mut ex) = samples_with_session(&path);
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign))); // benign, saved
    let loaded = util::load(&[PathBuf::from("samples")]);
    let s = Session::open(path, &loaded.dataset).unwrap();
    assert_eq!(s.exclude_benign(&loaded.dataset), 1);
    let mut again = App::new(true);
    let _ = again.on_msg(Msg::Loaded(Box::new(loaded), Some(Box::new(s))));
    assert!(
        again
            .status()
            .ends_with("1 verdict, 0 notes; 1 benign left out of training"),
        "{}",
        again.status()
    );
}

#[test]
fn the_task_view_has_one_row_per_task_and_keeps_each_views_place() {
    let mut app = samples();
    for _ in 0..3 {
        app.update(Action::Down);
    }
    let event = app.current().unwrap();
    app.update(Action::ToggleView);
    assert_eq!(app.view(), anomalog::app::View::Tasks);
    let ds = app.dataset().cloned().unwrap();
    assert_eq!(app.rows().len(), ds.tasks.len());
    // The atexec task is one row, whatever its events' ranks.
    let atexec: Vec<usize> = app
        .rows()
        .iter()
        .copied()
        .filter(|&t| app.cell(t, Column::Task) == "\\RJJJThqy")
        .collect();
    assert_eq!(atexec.len(), 1);
    let t = atexec[0];
    let events = &ds.tasks.tasks[t].uniques;
    assert!(events.len() >= 7, "{}", events.len());
    let ids = app.cell(t, Column::Event);
    for id in ["4698", "4699", "106", "141"] {
        assert!(ids.split(' ').any(|x| x == id), "{ids}");
    }
    // The task ranks where its best event does.
    let best = events
        .iter()
        .map(|&u| app.rank_of(u as usize))
        .min()
        .unwrap();
    assert_eq!(
        app.cell(t, Column::Score),
        format!(
            "{:.2}",
            app.ranking().unwrap().scores[events
                .iter()
                .map(|&u| u as usize)
                .find(|&u| app.rank_of(u) == best)
                .unwrap()]
        )
    );
    // Sorting and filtering work on tasks.
    app.update(Action::Sort(Some(Column::Count)));
    let counts: Vec<u64> = app
        .rows()
        .iter()
        .map(|&t| ds.tasks.tasks[t].count)
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    app.update(Action::StartFilter);
    typed(&mut app, "name~rjjjthqy");
    app.update(Action::Submit);
    assert_eq!(app.rows(), vec![t]);
    // Selected, the drill-down opens on the task, then its best event.
    let s = screen(&app, 150, 42);
    assert!(
        s.contains("task #") && s.contains("its best-ranked event"),
        "{s}"
    );
    insta::assert_snapshot!("task_view", s);
    // Back to events: the place there is kept.
    app.update(Action::ToggleView);
    assert_eq!(app.current(), Some(event));
    // Enter on a task opens its events as rows of the event view; t goes back.
    app.update(Action::ToggleView);
    app.update(Action::Submit);
    assert_eq!(app.view(), anomalog::app::View::Events);
    let mut shown = app.rows().to_vec();
    shown.sort_unstable();
    let mut want: Vec<usize> = events.iter().map(|&u| u as usize).collect();
    want.sort_unstable();
    assert_eq!(shown, want);
    assert_eq!(app.selected(), 0);
    assert!(
        app.status().contains("events of the task"),
        "{}",
        app.status()
    );
    app.update(Action::ToggleView);
    assert_eq!(app.current(), Some(t));
    app.update(Action::ToggleView);
    app.update(Action::ClearFilter);
    let every_event = ds
        .uniques
        .iter()
        .filter(|e| e.kind() == anomalog::frame::RowKind::Event)
        .count();
    assert_eq!(app.rows().len(), every_event);
}

#[test]
fn a_verdict_on_a_task_goes_to_its_events_and_both_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut app, mut ex) = samples_with_session(&path);
    act(&mut app, &mut ex, Action::ToggleView);
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "name~rjjjthqy");
    act(&mut app, &mut ex, Action::Submit);
    let t = app.current().unwrap();
    let events: Vec<usize> = app.dataset().unwrap().tasks.tasks[t]
        .uniques
        .iter()
        .map(|&u| u as usize)
        .collect();
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Malicious)),
    );
    assert!(
        app.status().starts_with("verdict: malicious"),
        "{}",
        app.status()
    );
    assert!(app.status().contains(&format!("({} events)", events.len())));
    assert!(
        events
            .iter()
            .all(|&u| app.verdict(u) == Some(Verdict::Malicious))
    );
    act(&mut app, &mut ex, Action::StartNote);
    typed(&mut app, "atexec");
    act(&mut app, &mut ex, Action::Submit);
    act(&mut app, &mut ex, Action::ToggleMark);
    // Exported as task rows, with the task's triage.
    let out = dir.path().join("tasks.jsonl");
    export_to(&mut app, &mut ex, &out);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "the marked task");
    assert_eq!(rows[0]["task"], "\\RJJJThqy");
    assert_eq!(rows[0]["verdict"], "malicious");
    assert_eq!(rows[0]["note"], "atexec");
    assert_eq!(rows[0]["events"].as_array().unwrap().len(), events.len());

    // Reopened: the task's entry and its events' verdicts are back.
    let (mut app, _ex) = samples_with_session(&path);
    assert!(
        events
            .iter()
            .all(|&u| app.verdict(u) == Some(Verdict::Malicious))
    );
    app.update(Action::ToggleView);
    assert!(app.marks().contains(&t));
    let table = app.table().unwrap();
    assert_eq!(table.verdict(t), Some(Verdict::Malicious));
    assert_eq!(table.note(t), "atexec");
}

/// `Space` marks a row and moves down: `v` then judges the marks in view, not the unmarked
/// row the cursor moved to, and the chooser says so before a key is pressed.
#[test]
fn a_verdict_after_marking_judges_the_marks_not_the_cursor_row() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    let first = app.current().unwrap();
    act(&mut app, &mut ex, Action::ToggleMark);
    act(&mut app, &mut ex, Action::ToggleMark);
    let cursor = app.current().unwrap();
    assert!(!app.marks().contains(&cursor));
    act(&mut app, &mut ex, Action::StartVerdict);
    assert_eq!(
        *app.mode(),
        Mode::Verdict {
            rows: 2,
            hidden: 0,
            marked: true
        }
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("for the 2 marked rows"), "{s}");
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Malicious)),
    );
    assert_eq!(app.status(), "verdict: malicious on 2 marked rows");
    assert_eq!(app.verdict(first), Some(Verdict::Malicious));
    assert_eq!(
        app.verdict(cursor),
        None,
        "the cursor's unmarked row is left"
    );
}

/// `l` lists every host, file and lifecycle of a row (no "... and 4 more"): the selection
/// moves, `y` copies the selected value to the clipboard, `w` writes them all to a new file.
#[test]
fn every_host_file_and_lifecycle_of_a_row_is_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    // The task view's most widespread task: many hosts, files and lifecycles.
    act(&mut app, &mut ex, Action::ToggleView);
    let table = app.table().unwrap();
    let wide = app
        .rows()
        .iter()
        .copied()
        .max_by_key(|&t| app.dataset().unwrap().tasks.tasks[t].hosts.len())
        .unwrap();
    let task = &app.dataset().unwrap().tasks.tasks[wide];
    let hosts = task.hosts.clone();
    assert!(hosts.len() >= 6, "{}", hosts.len());
    let _ = table;
    while app.current() != Some(wide) {
        app.update(Action::Down);
    }
    act(&mut app, &mut ex, Action::OpenValues);
    let Mode::Values { items, cursor, .. } = app.mode().clone() else {
        panic!("{:?}", app.mode())
    };
    assert_eq!(cursor, 0);
    let listed: Vec<&str> = items
        .iter()
        .filter(|(what, _)| what.starts_with("host"))
        .map(|(_, h)| h.as_str())
        .collect();
    assert_eq!(listed, hosts.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(items.iter().any(|(w, _)| w == "file"));
    assert!(items.iter().any(|(w, _)| w.starts_with("lifecycle on")));
    let s = screen(&app, 120, 40);
    assert!(s.contains(&format!("{} values", items.len())), "{s}");
    // Down twice, copy: the second host's name goes out as OSC 52.
    app.update(Action::Down);
    app.update(Action::Down);
    let effects = app.update(Action::CopyValue);
    assert!(
        matches!(effects.as_slice(), [Effect::Copy(v)] if *v == items[2].1),
        "{effects:?}"
    );
    // Written to a new file, never over one.
    let cwd = std::env::current_dir().unwrap();
    let effects = app.update(Action::WriteValues);
    let [Effect::WriteText { path, text }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(text.lines().count(), items.len());
    let target = dir.path().join(path);
    let m = ex.run(Effect::WriteText {
        path: target.clone(),
        text: text.clone(),
    });
    let _ = app.on_msg(m.unwrap());
    assert!(app.status().starts_with("wrote"), "{}", app.status());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), *text);
    let again = ex.run(Effect::WriteText {
        path: target.clone(),
        text: "other".into(),
    });
    let _ = app.on_msg(again.unwrap());
    assert!(app.status().starts_with("not written"), "{}", app.status());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), *text);
    assert_eq!(std::env::current_dir().unwrap(), cwd);
    app.update(Action::Back);
    assert_eq!(*app.mode(), Mode::Normal);
}

/// A task row shows how far its events are judged and the worst verdict among them; the
/// task view sorts and filters by it.
#[test]
fn a_task_row_shows_its_events_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "task_name=\\RJJJThqy");
    act(&mut app, &mut ex, Action::Submit);
    let rows = app.rows().to_vec();
    assert!(rows.len() > 2, "{}", rows.len());
    act(&mut app, &mut ex, Action::Top);
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    act(&mut app, &mut ex, Action::Down);
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Malicious)),
    );
    act(&mut app, &mut ex, Action::ToggleView);
    assert_eq!(app.view(), anomalog::app::View::Tasks);
    act(&mut app, &mut ex, Action::ClearFilter);
    let table = app.table().unwrap();
    let t = (0..app.rows().len())
        .map(|k| app.rows()[k])
        .find(|&t| table.name_parts(t).0.eq_ignore_ascii_case("\\RJJJThqy"))
        .expect("the task row");
    let judged = table.judged(t);
    assert_eq!(judged.worst, Some(Verdict::Malicious));
    assert_eq!((judged.judged, judged.of), (2, rows.len()));
    assert_eq!(
        table.cell(t, Column::Verdict),
        format!("mal 2/{}", rows.len())
    );
    // Sorted by verdict, the judged task comes first; `verdict=some` keeps it alone.
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "verdict = some");
    act(&mut app, &mut ex, Action::Submit);
    assert_eq!(app.rows(), vec![t]);
    act(&mut app, &mut ex, Action::StartFilter);
    app.update(Action::Edit(anomalog::app::Edit::DeleteToStart));
    typed(&mut app, "verdict=malicious");
    act(&mut app, &mut ex, Action::Submit);
    assert_eq!(app.rows(), vec![t]);
}

#[test]
fn a_verdict_on_marks_judges_only_the_marks_in_view() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    // Mark every event seen on one host, then show one task's rows and judge.
    act(&mut app, &mut ex, Action::CyclePrevalence);
    let marked = app.rows().to_vec();
    assert!(marked.len() > 20, "{}", marked.len());
    act(&mut app, &mut ex, Action::MarkAllFiltered);
    act(&mut app, &mut ex, Action::StartFilter);
    for _ in 0..20 {
        act(&mut app, &mut ex, Action::Backspace);
    }
    typed(&mut app, "task_name~rjjjthqy");
    act(&mut app, &mut ex, Action::Submit);
    let visible: Vec<usize> = app.rows().to_vec();
    assert!(visible.len() > 2 && visible.iter().all(|u| marked.contains(u)));
    act(&mut app, &mut ex, Action::Top);
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    let hidden = marked.len() - visible.len();
    assert!(
        app.status()
            .starts_with(&format!("verdict: benign on {} marked rows", visible.len()))
            && app.status().contains(&format!(
                "{hidden} marked rows hidden by the filter left as they are"
            )),
        "{}",
        app.status()
    );
    assert!(
        visible
            .iter()
            .all(|&u| app.verdict(u) == Some(Verdict::Benign))
    );
    assert!(
        marked
            .iter()
            .filter(|u| !visible.contains(u))
            .all(|&u| app.verdict(u).is_none())
    );
}

#[test]
fn without_colour_the_score_tiers_stay_apart() {
    use ratatui::style::Modifier;
    let app = samples(); // monochrome
    let mut t = Terminal::new(TestBackend::new(170, 42)).unwrap();
    t.draw(|f| anomalog::ui::render(&app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    // The score column of the list's rows: rank 2 (top 1 %, not the selected row, whose
    // whole row is reversed), rank 8 (top 5 %), rank 30.
    let row_of = |rank: usize| -> u16 {
        (0..42u16)
            .find(|&y| {
                let line: String = (0..12u16)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect();
                line.trim_start_matches('│')
                    .trim_start_matches(['●', ' '])
                    .starts_with(&format!("{rank} "))
            })
            .unwrap_or_else(|| panic!("no row of rank {rank}"))
    };
    let score_x = 8u16; // inside the score column
    let style = |rank: usize| buf[(score_x, row_of(rank))].modifier;
    assert!(
        style(1).contains(Modifier::BOLD | Modifier::REVERSED),
        "{:?}",
        style(1)
    );
    assert!(
        style(8).contains(Modifier::BOLD) && !style(8).contains(Modifier::REVERSED),
        "{:?}",
        style(8)
    );
    assert!(!style(30).contains(Modifier::BOLD), "{:?}", style(30));
}

#[test]
fn rows_judged_benign_sink_and_verdict_filters_can_exclude_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, mut ex) = samples_with_session(&dir.path().join("s.json"));
    let top = app.current().unwrap();
    let n = app.rows().len();
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign))); // benign
    // It stays under the cursor until the list is refreshed...
    assert_eq!(app.current(), Some(top));
    // ...then goes to the bottom (after a re-rank it would otherwise rise: left out of
    // training, it looks unusual).
    act(&mut app, &mut ex, Action::ClearFilter);
    assert_eq!(app.rows().last(), Some(&top));
    assert_ne!(app.rows()[0], top);
    act(&mut app, &mut ex, Action::ToggleBenignLast);
    assert!(app.status().contains("in place"), "{}", app.status());
    assert_eq!(app.rows()[0], top);
    act(&mut app, &mut ex, Action::ToggleBenignLast);
    assert_eq!(app.rows().last(), Some(&top));
    // `!=` in filters.
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "verdict!=benign");
    act(&mut app, &mut ex, Action::Submit);
    assert_eq!(app.rows().len(), n - 1);
    assert!(!app.rows().contains(&top));
}

#[test]
fn an_export_never_writes_over_a_file_without_a_yes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "keep me\n").unwrap();
    let mut app = samples();
    let mut ex = Executor::default();
    export_to(&mut app, &mut ex, &path);
    assert!(
        matches!(app.mode(), Mode::ConfirmOverwrite { .. }),
        "{:?}",
        app.mode()
    );
    assert!(app.status().contains("exists"), "{}", app.status());
    // Anything but y: back to the path, the file as it was.
    act(&mut app, &mut ex, Action::Input('n'));
    assert!(matches!(app.mode(), Mode::Export { .. }));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
    act(&mut app, &mut ex, Action::Submit);
    act(&mut app, &mut ex, Action::Input('y'));
    assert!(app.status().starts_with("exported"), "{}", app.status());
    assert!(std::fs::read_to_string(&path).unwrap().starts_with('{'));
    // The format is remembered for the next export.
    app.update(Action::StartExport);
    assert!(
        matches!(app.mode(), Mode::Export { format: Format::Jsonl, path } if path.text().ends_with(".jsonl")),
        "{:?}",
        app.mode()
    );
}

#[test]
fn the_drill_down_scrolls_with_every_movement_key_and_stops_at_its_end() {
    let mut app = samples();
    app.update(Action::Submit); // focus the drill-down
    assert_eq!(app.focus(), Focus::Detail);
    let top_row = app.selected();
    // The renderer tells the pane's height; End goes to the end and stays there.
    screen(&app, 150, 42);
    app.update(Action::Bottom);
    let end = app.drill().scroll();
    assert!(end > 10, "{end}");
    app.update(Action::Down);
    app.update(Action::PageDown);
    assert_eq!(app.drill().scroll(), end, "no scrolling past the end");
    let s = screen(&app, 150, 42);
    assert!(
        // The top row: the atexec task's registration, its raw fields last (FQDN the last).
        s.contains("FQDN = srv01.corp.example"),
        "the last raw field: {s}"
    );
    app.update(Action::PageUp);
    assert!(app.drill().scroll() < end);
    app.update(Action::Top);
    assert_eq!(app.drill().scroll(), 0);
    // The list did not move.
    assert_eq!(app.selected(), top_row);
}

#[test]
fn logs_without_events_of_the_profile_suggest_the_one_that_has_some() {
    let app = app_on(&[PathBuf::from("tests/fixtures/security_4697.jsonl")]);
    assert!(app.rows().is_empty());
    assert_eq!(
        app.status(),
        "no scheduled-tasks events in these logs; they hold 2 records of the kinds `--profile services` reads"
    );
}

/// Issue 15 #8 and #12: one query language with a live count, errors that point at their
/// place, `p` as one more term, and a prompt that can be edited anywhere.
#[test]
fn the_filter_bar_is_a_query_language_with_a_live_count() {
    use anomalog::app::{Edit, Feedback};
    let mut app = samples();
    let ds = app.dataset().cloned().unwrap();
    let feedback = |app: &App| match app.mode() {
        Mode::Filter(p) => p.feedback().cloned(),
        m => panic!("not filtering: {m:?}"),
    };
    app.update(Action::StartFilter);
    typed(&mut app, "event=4698 AND NOT user~admin");
    let Some(Feedback::Matches(n)) = feedback(&app) else {
        panic!("{:?}", feedback(&app));
    };
    let expected = (0..ds.uniques.len())
        .filter(|&u| ds.uniques[u].event_id == 4698 && !app.cell(u, Column::User).contains("admin"))
        .count();
    assert!(n > 0 && n == expected, "{n} against {expected}");
    app.update(Action::Submit);
    assert_eq!(app.rows().len(), n);
    assert!(app.status().contains(&format!("{n} rows match")));
    // An unknown field: the error points at it, nothing is applied, every field is named.
    app.update(Action::StartFilter);
    app.update(Action::Edit(Edit::DeleteToStart));
    typed(&mut app, "user~jdoe OR Task_Nme~OneDrive");
    match feedback(&app) {
        Some(Feedback::Error { at, message }) => {
            assert_eq!(at, 13);
            assert!(
                message.contains("Task_Nme") && message.contains("task_name"),
                "{message}"
            );
        }
        f => panic!("{f:?}"),
    }
    // At 80 columns the whole list of fields is on screen, wrapped, the last one included.
    let s = screen(&app, 80, 24);
    assert!(s.contains("unknown field"), "{s}");
    let last = app.dataset().unwrap().fields.last().copied().unwrap();
    assert!(s.contains(last), "{last} not shown: {s}");
    insta::assert_snapshot!("query_error_80x24", s);
    // Fixed in place: Home, Right x19, then the missing letter.
    app.update(Action::Edit(Edit::Home));
    for _ in 0..19 {
        app.update(Action::Edit(Edit::Right));
    }
    typed(&mut app, "a");
    let Mode::Filter(p) = app.mode() else {
        panic!()
    };
    assert_eq!(p.text(), "user~jdoe OR Task_Name~OneDrive");
    assert!(matches!(feedback(&app), Some(Feedback::Matches(k)) if k > 0));
    app.update(Action::Submit);
    let kept = app.rows().len();
    // `p` adds the prevalence as one more term and keeps the query.
    app.update(Action::CyclePrevalence);
    let text = app.list().filter().unwrap().text();
    assert_eq!(text, "(user~jdoe OR task_name~OneDrive) AND hosts<=1");
    assert!(app.rows().len() <= kept);
    assert!(app.rows().iter().all(|&u| ds.uniques[u].hosts.len() <= 1));
    app.update(Action::CyclePrevalence);
    app.update(Action::CyclePrevalence);
    app.update(Action::CyclePrevalence);
    assert_eq!(app.rows().len(), kept, "back to the query alone");
    // The column's own text: `flags~tmp-mod` finds the temporary modification.
    app.update(Action::StartFilter);
    app.update(Action::Edit(Edit::DeleteToStart));
    typed(&mut app, "FLAGS~tmp-mod");
    app.update(Action::Submit);
    assert!(!app.rows().is_empty());
    assert!(
        app.rows()
            .iter()
            .all(|&u| app.cell(u, Column::Flags).contains("tmp-mod"))
    );
    // The filter bar draws the count and the caret.
    app.update(Action::StartFilter);
    app.update(Action::Edit(Edit::DeleteToStart));
    typed(&mut app, "count>=2 AND (");
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("at 15: the query ends where a term was expected"),
        "{s}"
    );
}

/// Issue 15 #5: the screen laid out by width, from 80x24 to 200x60.
#[test]
fn render_at_80x24_120x40_and_200x60() {
    let mut app = samples();
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        app.update(Action::Resize(anomalog::ui::list_height(
            &app,
            ratatui::layout::Rect::new(0, 0, w, h),
        )));
        let s = screen(&app, w, h);
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[0].contains("5437 records, 538 files")
                && lines[0].contains("240 unique, 8 hosts"),
            "the header keeps its numbers at {w}x{h}:\n{s}"
        );
        assert!(
            lines[usize::from(h) - 1].ends_with("? help  q quit"),
            "help and quit in the hint bar at {w}x{h}:\n{s}"
        );
        // Paths cut in the middle keep where they start and the task's name.
        assert!(s.contains("…\\") || w >= 200, "{s}");
        insta::assert_snapshot!(format!("screen_{w}x{h}"), s);
    }
    // `z` gives the list the whole body.
    app.update(Action::ToggleDrill);
    let rows_before = anomalog::ui::list_height(&app, ratatui::layout::Rect::new(0, 0, 80, 24));
    assert_eq!(rows_before, 17);
    let s = screen(&app, 80, 24);
    assert!(!s.contains("┌ drill-down"), "{s}");
}

/// Issue 15 #5: the help fits any screen and scrolls.
#[test]
fn the_help_scrolls_and_keeps_every_key() {
    let mut app = samples();
    app.update(Action::ToggleHelp);
    let mut seen = String::new();
    for _ in 0..10 {
        seen.push_str(&screen(&app, 80, 24));
        app.update(Action::PageDown);
    }
    for b in anomalog::app::BINDINGS {
        let first = b.what.split(' ').take(3).collect::<Vec<_>>().join(" ");
        assert!(seen.contains(&first), "{first:?} never shown");
    }
    assert!(seen.contains("↑↓ PgUp PgDn scroll"));
    app.update(Action::Back);
    assert_eq!(*app.mode(), Mode::Normal);
}

/// Issue 15 #10 and #13: `]` jumps the drill-down to its sections; `W` lists the warnings.
#[test]
fn sections_jump_and_warnings_show() {
    let mut app = samples();
    let _ = screen(&app, 120, 40);
    assert_eq!(app.drill().scroll(), 0);
    app.update(Action::Section(true));
    let s = screen(&app, 120, 40);
    let drill: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("drill-down"))
        .collect();
    assert!(drill[1].contains("why it is unusual"), "{s}");
    let mut starts = vec![app.drill().scroll()];
    for _ in 0..5 {
        app.update(Action::Section(true));
        let _ = screen(&app, 120, 40);
        starts.push(app.drill().scroll());
    }
    assert!(
        starts.windows(2).filter(|w| w[1] > w[0]).count() >= 2,
        "{starts:?}"
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("raw fields of the first occurrence"), "{s}");
    app.update(Action::Section(false));
    let _ = screen(&app, 120, 40);
    assert!(app.drill().scroll() < *starts.last().unwrap());
    // Warnings: none in samples/, and the pane says so with the whole load summary.
    app.update(Action::ToggleWarnings);
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("no warnings: every file was read in full"),
        "{s}"
    );
    assert!(s.contains("duplicate records dropped"), "{s}");
}

#[test]
fn paths_are_cut_in_the_middle() {
    use anomalog::ui::middle_ellipsis as m;
    let p = "\\Microsoft\\Windows\\Customer Experience Improvement Program\\Consolidator";
    assert_eq!(m(p, 200), p);
    assert_eq!(m(p, 30), "\\Microsoft\\…\\Consolidator");
    assert_eq!(m(p, 18), "…\\Consolidator");
    assert_eq!(m("\\OneDriveSyncHelper", 10), "\\One…elper");
    assert_eq!(m("abcdef", 3), "abc");
    for w in 0..40 {
        assert!(m(p, w).chars().count() <= w, "{w}");
    }
}

/// A computer account is one value to the model (`<machine>$`); the list names the
/// computer where the row is one host's.
#[test]
fn the_user_column_names_the_computer_account() {
    let mut fleet = samples();
    let mut named = 0;
    // The fleet: rows seen on several hosts say how many; one host's logs: its computer.
    let one = util::load(&[PathBuf::from("samples/WS003")]);
    let mut host = App::new(true);
    host.update(Action::Resize(20));
    let _ = host.on_msg(Msg::Loaded(Box::new(one), None));
    for app in [&mut fleet, &mut host] {
        named += users_of(app);
    }
    assert!(named > 0);
}

/// Checks the user cells of every computer-account row; returns how many name a computer.
fn users_of(app: &mut App) -> usize {
    let ds = app.dataset().unwrap().clone();
    let table = app.table().unwrap();
    let user = ds.fields.iter().position(|f| *f == "user").unwrap();
    let mut named = 0;
    for u in 0..ds.uniques.len() {
        let e = &ds.uniques[u];
        if !e.values[user].contains("<machine>$") {
            continue;
        }
        let cell = table.cell(u, Column::User);
        if e.hosts.len() == 1 {
            let host = e.hosts[0].split('.').next().unwrap();
            assert_eq!(cell, format!("corp\\{host}$"), "{u}");
            named += 1;
        } else {
            assert!(
                cell.ends_with(&format!("({} hosts)", e.hosts.len())),
                "{cell}"
            );
        }
    }
    named
}

/// Cut text ends with `…` (`4700 470` once read as event 470); the count of a name's other
/// spellings shortens before the name does, and never takes its leaf.
#[test]
fn cut_cells_say_they_are_cut() {
    use anomalog::ui::{end_ellipsis as e, name_cell as n};
    assert_eq!(e("4700 4701 4702", 9), "4700 470…");
    assert_eq!(e("nt authority\\system", 40), "nt authority\\system");
    assert_eq!(e("nt authority\\system", 12), "nt authorit…");
    assert_eq!(e("x", 0), "");
    let p = "\\Microsoft\\Windows\\Application Experience\\ProgramDataUpdater";
    assert_eq!(n(p, 0, 200), p);
    assert_eq!(n(p, 3, 200), format!("{p} (+3 variants)"));
    let cut = n(p, 3, 40);
    assert!(cut.ends_with("\\ProgramDataUpdater (+3)"), "{cut}");
    assert!(cut.chars().count() <= 40, "{cut}");
    for w in 0..80 {
        assert!(
            n(p, 12, w).chars().count() <= w.max(1),
            "{w}: {}",
            n(p, 12, w)
        );
    }
}

/// Issue 15 #1: `v` opens a chooser (a stray `v` judges nothing), `u` takes back the last
/// triage action, saved both ways.
#[test]
fn verdicts_are_chosen_and_undone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let (mut app, mut ex) = samples_with_session(&path);
    let top = app.current().unwrap();
    act(&mut app, &mut ex, Action::StartVerdict);
    assert_eq!(
        *app.mode(),
        Mode::Verdict {
            rows: 1,
            hidden: 0,
            marked: false
        }
    );
    let s = screen(&app, 120, 40);
    assert!(s.contains("b benign") && s.contains("for this row"), "{s}");
    // Any other key closes it without a verdict.
    act(&mut app, &mut ex, Action::Down);
    assert_eq!(*app.mode(), Mode::Normal);
    assert_eq!(app.verdict(top), None);
    assert_eq!(app.current(), Some(top), "the key only closed the chooser");
    act(&mut app, &mut ex, Action::StartVerdict);
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Malicious)),
    );
    assert_eq!(app.verdict(top), Some(Verdict::Malicious));
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("malicious"), "{saved}");
    // Mark everything, judge the marks, then take both back one at a time.
    act(&mut app, &mut ex, Action::MarkAllFiltered);
    let all = app.rows().len();
    assert_eq!(app.marks().len(), all);
    act(&mut app, &mut ex, Action::SetVerdict(Some(Verdict::Benign)));
    assert_eq!(app.verdict(top), Some(Verdict::Benign));
    act(&mut app, &mut ex, Action::Undo);
    assert!(
        app.status().starts_with("undone: verdict: benign on"),
        "{}",
        app.status()
    );
    assert_eq!(
        app.verdict(top),
        Some(Verdict::Malicious),
        "the earlier verdict is back"
    );
    let other = app.rows()[1];
    assert_eq!(app.verdict(other), None);
    act(&mut app, &mut ex, Action::Undo);
    assert!(app.marks().is_empty(), "the marks are taken back");
    act(&mut app, &mut ex, Action::Undo);
    assert_eq!(app.verdict(top), None);
    act(&mut app, &mut ex, Action::Undo);
    assert_eq!(app.status(), "nothing to undo");
    // The session file holds what is left: nothing.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        saved["events"].as_object().is_none_or(|e| e.is_empty()),
        "{saved}"
    );
}

/// A paste of a megabyte into the filter bar costs a comparison per key past the prompt's
/// limit and one bounded preview; a query past the limit, nested too deep or with a regex
/// too large is refused before any row is looked at.
#[test]
fn a_pasted_megabyte_and_a_pathological_regex_stay_bounded() {
    use anomalog::app::Feedback;
    use anomalog::app::query::{MAX_QUERY, Query};
    let mut app = samples();
    app.update(Action::StartFilter);
    let paste: String = "(".repeat(1 << 20);
    typed(&mut app, &paste);
    let Mode::Filter(p) = app.mode() else {
        panic!("{:?}", app.mode())
    };
    assert_eq!(
        p.text().len(),
        anomalog::app::prompt::MAX_CHARS,
        "the rest refused"
    );
    match p.feedback() {
        Some(Feedback::Error { message, .. }) => {
            assert!(
                message.contains("nest") || message.contains("deep"),
                "{message}"
            );
        }
        f => panic!("{f:?}"),
    }
    let fields = app.dataset().unwrap().fields.clone();
    let huge = "a".repeat(1 << 20);
    let e = Query::parse(&huge, &fields).unwrap_err();
    assert!(e.message.contains(&MAX_QUERY.to_string()), "{e}");
    // Regexes: linear-time matching, and a size limit on what a pattern may compile to.
    let e = Query::parse("command~(x{1000}){1000}", &fields).unwrap_err();
    assert!(e.message.contains("regex"), "{e}");
    app.update(Action::Back);
    app.update(Action::StartFilter);
    typed(&mut app, "command~(a|aa)*(a|aa)*(a|aa)*$");
    let Mode::Filter(p) = app.mode() else {
        panic!()
    };
    assert!(
        matches!(
            p.feedback(),
            Some(Feedback::Matches(_) | Feedback::AtLeast { .. })
        ),
        "{:?}",
        p.feedback()
    );
}
