//! Frame rendering with 100 k unique events: `cargo bench --bench render`.
//!
//! Builds an [`App`] over a synthetic dataset of 100 000 unique events, then times full
//! frames into ratatui's `TestBackend` at 200 x 60 while the cursor pages through the list
//! (the list is virtualised: only visible rows are built).

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use anomalog::app::{Action, App, Msg};
use anomalog::event::RawEvent;
use anomalog::frame::Dataset;
use anomalog::pipeline::Loaded;
use anomalog::profile::by_name;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let n: usize = std::env::var("ANOMALOG_BENCH_UNIQUES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let profile = by_name("scheduled-tasks").unwrap();
    let src: Arc<str> = Arc::from("synthetic");
    let events: Vec<RawEvent> = (0..n)
        .map(|i| RawEvent {
            source: src.clone(),
            channel: "Microsoft-Windows-TaskScheduler/Operational".into(),
            event_id: 129,
            provider: String::new(),
            computer: format!("host{}", i % 300),
            time: Some(i as i64 * 1_000_000),
            record_id: Some(i as u64),
            data: vec![
                (
                    "TaskName".into(),
                    format!("\\Vendor{}\\Task {}", i % 977, i),
                ),
                (
                    "Path".into(),
                    format!("C:\\Program Files\\Vendor{}\\bin{}.exe", i % 613, i % 7),
                ),
            ],
        })
        .collect();
    let t = Instant::now();
    let mut dataset = Dataset::build(profile.as_ref(), events);
    anomalog::context::add(&mut dataset);
    let built = t.elapsed();
    let loaded = Loaded {
        dataset,
        reports: Vec::new(),
        records: n as u64,
        skipped: 0,
        files: 1,
        passed_over: 0,
        notes: Vec::new(),
        conflicted_hosts: 0,
    };
    let mut app = App::new(false);
    let t = Instant::now();
    app.on_msg(Msg::Loaded(Box::new(loaded), None));
    let ranked = t.elapsed();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let page = anomalog::ui::list_height(&app, ratatui::layout::Rect::new(0, 0, 200, 60));
    app.update(Action::Resize(page));
    let mut times = Vec::new();
    for k in 0..200 {
        app.update(if k % 20 == 0 {
            Action::PageDown
        } else {
            Action::Down
        });
        let t = Instant::now();
        term.draw(|f| anomalog::ui::render(&app, f)).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let sort_t = Instant::now();
    app.update(Action::Sort(Some(anomalog::app::Column::Task)));
    let sorted = sort_t.elapsed();
    println!(
        "{} unique events (dataset {:.2} s, rarity ranking + view {:.2} s)",
        app.rows().len(),
        built.as_secs_f64(),
        ranked.as_secs_f64()
    );
    println!(
        "frame 200x60: median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        times[times.len() - 1]
    );
    println!("sort by task name: {:.0} ms", sorted.as_secs_f64() * 1e3);
    // The filter bar counts the rows a query keeps at every key: the slowest kinds of term.
    for query in ["user~jdoe", "count>=2 AND NOT flags~once", "powershell"] {
        app.update(Action::StartFilter);
        let mut worst = 0f64;
        for c in query.chars() {
            let t = Instant::now();
            app.update(Action::Input(c));
            worst = worst.max(t.elapsed().as_secs_f64() * 1e3);
        }
        app.update(Action::Back);
        println!("filter bar, typing {query:?}: slowest key {worst:.0} ms");
    }
    // Search counts its matches at every key too.
    app.update(Action::StartSearch);
    let mut worst = 0f64;
    for c in "zoomupdate".chars() {
        let t = Instant::now();
        app.update(Action::Input(c));
        worst = worst.max(t.elapsed().as_secs_f64() * 1e3);
    }
    app.update(Action::Back);
    println!("search, typing \"zoomupdate\": slowest key {worst:.0} ms");
}
