//! Model benchmark: encode, train and score the autoencoder on synthetic datasets of 1 k,
//! 10 k and 100 k unique events, with the process's peak memory after each size.
//!
//! `cargo bench --bench model` (`ANOMALOG_BENCH_SIZES=1000,10000` to choose sizes,
//! `ANOMALOG_BENCH_OBJECTIVE=masked|hybrid` for another objective than swap,
//! `ANOMALOG_BENCH_LOGS=DIR` to time the scheduled-task events of real logs instead).
//! The hybrid's row times the UI worker's whole job (`worker::run`: the three trainings,
//! their scoring and the evidence ranking: how long after reading the model's ranking is
//! shown), against counting's job in the same run.
//! Synthetic rows: every field drawn from a Zipf-like distribution over its own vocabulary,
//! so that value frequencies look like real logs (a few very common values, a long tail).

// Tests, benchmarks and examples may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anomalog::event::RawEvent;
use anomalog::frame::Dataset;
use anomalog::model::ModelKind;
use anomalog::model::ae::{AeConfig, Autoencoder, Objective};
use anomalog::model::encode::Encoder;
use anomalog::model::worker::{self, Task};
use anomalog::profile::Profile;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A profile whose fields are the raw event's data, as they are.
struct Synthetic;
const FIELDS: &[&str] = &[
    "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11",
];

impl Profile for Synthetic {
    fn name(&self) -> &'static str {
        "synthetic"
    }
    fn fields(&self) -> &'static [&'static str] {
        FIELDS
    }
    fn sources(&self) -> &'static [(&'static str, &'static [u32])] {
        &[("*", &[])]
    }
    fn wants(&self, _: &RawEvent) -> bool {
        true
    }
    fn extract(&self, ev: &RawEvent) -> Option<Vec<String>> {
        Some(
            FIELDS
                .iter()
                .map(|f| ev.get(f).unwrap_or("").to_string())
                .collect(),
        )
    }
    fn inputs(&self) -> &'static [&'static str] {
        FIELDS
    }
}

fn zipf(rng: &mut StdRng, n: usize) -> usize {
    // Inverse-transform sample of p(k) ~ 1/k, k in 1..=n.
    let h = (n as f64).ln() + 0.5772;
    let u: f64 = rng.random_range(0.0..h);
    (u.exp() as usize).clamp(1, n) - 1
}

fn dataset(uniques: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let src: Arc<str> = Arc::from("synthetic");
    let vocab = [5usize, 20, 50, 200, 1000, 5000, 30, 8, 3, 100, 2000, 400];
    let mut events = Vec::with_capacity(uniques * 2);
    let mut id = 0u64;
    // Enough draws to reach the wanted number of distinct rows.
    while events.len() < uniques * 3 {
        id += 1;
        let data = FIELDS
            .iter()
            .zip(vocab)
            .map(|(f, n)| {
                (
                    f.to_string(),
                    format!(
                        "c:\\dir{}\\{f} {}.exe",
                        zipf(&mut rng, n) % 97,
                        zipf(&mut rng, n)
                    ),
                )
            })
            .collect();
        events.push(RawEvent {
            source: src.clone(),
            channel: "Synthetic".into(),
            event_id: 1,
            provider: String::new(),
            computer: format!("h{}", id % 50),
            time: Some(id as i64),
            record_id: Some(id),
            data,
        });
    }
    let mut ds = Dataset::build(&Synthetic, events);
    ds.uniques.truncate(uniques);
    ds
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    if std::env::var_os("ANOMALOG_DEFAULT_MALLOC").is_none() {
        anomalog::util::process::tune_allocator();
    }
    anomalog::util::process::init_threads();
    let sizes: Vec<usize> = std::env::var("ANOMALOG_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let objective = match std::env::var("ANOMALOG_BENCH_OBJECTIVE").as_deref() {
        Ok("masked") => Objective::Masked,
        Ok("hybrid") => Objective::Hybrid,
        _ => Objective::Swap,
    };
    let datasets: Vec<Box<dyn Fn() -> Dataset>> = match std::env::var_os("ANOMALOG_BENCH_LOGS") {
        Some(dir) => vec![Box::new(move || {
            let progress = anomalog::ingest::Progress::default();
            anomalog::pipeline::load(
                &[dir.clone().into()],
                &*anomalog::profile::by_name("scheduled-tasks").unwrap(),
                &progress,
            )
            .dataset
        })],
        None => sizes
            .into_iter()
            .map(|n| Box::new(move || dataset(n, 1)) as Box<dyn Fn() -> Dataset>)
            .collect(),
    };
    println!("objective: {objective:?}");
    println!("| unique events | encode | train (epochs) | score | total | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for make in datasets {
        let ds = make();
        let config = AeConfig {
            objective,
            ..AeConfig::default()
        };
        if objective == Objective::Hybrid {
            // The job the UI's worker runs once reading ends (`worker::run`: the three
            // trainings, their scoring and the evidence ranking), from the dataset to the
            // ranking shown: the "model ready" time. Counting's job in the same run is the
            // reference.
            let job = |kind| {
                let t = Instant::now();
                let task = Task::Train { kind, config };
                let done = worker::run(&ds, task, &AtomicBool::new(false), &mut |_| {}).unwrap();
                assert_eq!(done.ranking.order.len(), ds.uniques.len());
                (t.elapsed().as_secs_f64(), done)
            };
            let (t_count, _) = job(ModelKind::Rarity);
            let (t_all, done) = job(ModelKind::Ae);
            let epochs = |objective| {
                AeConfig {
                    objective,
                    ..config
                }
                .epochs_for(ds.uniques.len())
            };
            println!(
                "| {} | - | {:.2} s ({} models: swap {}, masked {} each) | - | {:.2} s ({:.0}x counting's {:.3} s) | {:.0} MB |",
                ds.uniques.len(),
                t_all,
                done.model.as_ref().map_or(0, |m| m.models()),
                epochs(Objective::Swap),
                epochs(Objective::Masked),
                t_all,
                t_all / t_count.max(1e-6),
                t_count,
                peak_rss_mb()
            );
            continue;
        }
        let t = Instant::now();
        let enc = Encoder::fit(&ds, config.encode);
        let _ = enc.encode(&ds);
        let t_encode = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let model = Autoencoder::train(&ds, config, &AtomicBool::new(false), &mut |_| {}).unwrap();
        let t_train = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let r = model.score(&ds).unwrap();
        let t_score = t.elapsed().as_secs_f64();
        assert_eq!(r.order.len(), ds.uniques.len());
        println!(
            "| {} | {:.3} s | {:.2} s ({}) | {:.2} s | {:.2} s | {:.0} MB |",
            ds.uniques.len(),
            t_encode,
            t_train,
            config.epochs_for(ds.uniques.len()),
            t_score,
            t_encode + t_train + t_score,
            peak_rss_mb()
        );
    }
}
