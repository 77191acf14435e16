//! Write the text captures of the UI in `assets/` from `samples/`, as the current build draws
//! them: `cargo run --release --example screens [-- WIDTH HEIGHT]` (default 180 x 50).
//!
//! The screens: training under way, the ranked list, the drill-down, the help, the
//! lifecycle of the Sunburst-style modification, triage (verdicts and a note), an 80 x 24
//! terminal, the filter bar with its live count, the task view with a task's spread, the list
//! of a row's hosts, files and lifecycles, the definitions view and the hosts pane. The autoencoder is trained for real (the
//! default configuration, seed 1), so the captures show what a user sees.

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use anomalog::app::{Action, App, Executor, Msg};
use anomalog::ingest::Progress;
use anomalog::model::worker::{self, Task, WorkerMsg};
use anomalog::model::{EpochReport, ModelKind};
use anomalog::pipeline;
use anomalog::profile::by_name;
use anomalog::session::{Session, Verdict};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let page = anomalog::ui::list_height(app, Rect::new(0, 0, w, h));
    app.update(Action::Resize(page));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| anomalog::ui::render(app, f)).unwrap();
    anomalog::ui::buffer_text(t.backend().buffer())
}

fn save(name: &str, text: &str) {
    let path = Path::new("assets").join(name);
    std::fs::write(&path, text).unwrap();
    println!("wrote {}", path.display());
}

fn act(app: &mut App, ex: &mut Executor, a: Action) {
    for e in app.update(a) {
        if let Some(m) = ex.run(e) {
            app.on_msg(m);
        }
    }
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.update(Action::Input(c));
    }
}

fn main() {
    let args: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (w, h) = (
        args.first().copied().unwrap_or(180),
        args.get(1).copied().unwrap_or(50),
    );
    let profile = by_name("scheduled-tasks").unwrap();
    let paths = [PathBuf::from("samples")];
    let loaded = pipeline::load(&paths, profile.as_ref(), &Progress::default());
    // A session in a temporary folder: the captures never touch samples/.
    let dir = tempfile::tempdir().unwrap();
    let session =
        Session::for_inputs(&paths, Some(&dir.path().join("s.json")), &loaded.dataset).unwrap();
    let mut app = App::new(false);
    let mut ex = Executor::default();
    for e in app.on_msg(Msg::Loaded(Box::new(loaded), Some(Box::new(session)))) {
        if let Some(m) = ex.run(e) {
            app.on_msg(m);
        }
    }
    let ds = app.dataset().cloned().unwrap();

    // Training under way: a few epochs reported.
    let mut losses = Vec::new();
    let trained = worker::run(
        &ds,
        Task::Train {
            kind: ModelKind::Ae,
            // What the UI trains by default (`--objective hybrid`).
            config: anomalog::model::ae::AeConfig {
                objective: anomalog::model::ae::Objective::Hybrid,
                ..Default::default()
            },
        },
        &Default::default(),
        &mut |r: EpochReport| losses.push(r),
    )
    .unwrap();
    for r in losses.iter().take(losses.len() / 3) {
        app.on_msg(Msg::Worker(WorkerMsg::Epoch(*r)));
    }
    save("screen-training.txt", &screen(&mut app, w, h));
    app.on_msg(Msg::Worker(WorkerMsg::Done(Box::new(trained))));
    save("screen-ranked.txt", &screen(&mut app, w, h));
    save("screen-80x24.txt", &screen(&mut app, 80, 24));

    act(&mut app, &mut ex, Action::Section(true));
    save("screen-drilldown.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::Section(false));

    act(&mut app, &mut ex, Action::ToggleHelp);
    save("screen-help.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::Back);

    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "event=4698 AND NOT user~jdoe");
    save("screen-filter.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::Back);

    // The Sunburst-style modification: its first update's lifecycle.
    act(&mut app, &mut ex, Action::StartFilter);
    typed(&mut app, "flags~tmp-mod AND event=4702");
    act(&mut app, &mut ex, Action::Submit);
    for _ in 0..3 {
        act(&mut app, &mut ex, Action::Section(true));
    }
    save("screen-lifecycle.txt", &screen(&mut app, w, h));

    // Triage: a verdict, a note, the verdict column.
    act(&mut app, &mut ex, Action::ClearFilter);
    act(&mut app, &mut ex, Action::Top);
    act(
        &mut app,
        &mut ex,
        Action::SetVerdict(Some(Verdict::Malicious)),
    );
    act(&mut app, &mut ex, Action::StartNote);
    typed(&mut app, "dropper, see ticket 4711");
    act(&mut app, &mut ex, Action::Submit);
    act(&mut app, &mut ex, Action::Down);
    act(&mut app, &mut ex, Action::StartVerdict);
    save("screen-triage.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::Back);

    // The task view: a task's spread over the hosts and its verdict column; the list of a
    // row's hosts, files and lifecycles.
    act(&mut app, &mut ex, Action::ToggleView);
    let widest = app
        .rows()
        .iter()
        .copied()
        .max_by_key(|&t| ds.tasks.tasks[t].spread.len())
        .unwrap();
    while app.current() != Some(widest) {
        act(&mut app, &mut ex, Action::Down);
    }
    save("screen-tasks.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::OpenValues);
    save("screen-values.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::Back);

    // The definitions on disk, and the hosts pane: what each host could show.
    act(&mut app, &mut ex, Action::ToggleDefinitions);
    save("screen-definitions.txt", &screen(&mut app, w, h));
    act(&mut app, &mut ex, Action::ToggleHosts);
    save("screen-hosts.txt", &screen(&mut app, w, h));
}
