//! The hybrid ranking (`--objective hybrid`, issue 14): the swap autoencoder's ranking, plus
//! the confident contradictions that two masked autoencoders of other seeds agree on.
//!
//! Why (README "Detection benchmark"): a masked model separates a broken combination (it was
//! sure of another value) from a merely rare value, but a single one trained on a small,
//! varied set of machines is also confidently wrong about context it cannot know. Counting a
//! contradiction only when two models of different seeds make it, expecting the same value,
//! keeps what is stable; the swap ranking stays the base, so what it found stays found.

use std::sync::atomic::AtomicBool;

use super::ae::{AeConfig, Autoencoder, Objective};
use super::{EpochReport, ModelError, ModelKind, Ranking};
use crate::frame::Dataset;

/// Masked models that must agree on a contradiction.
pub const AGREEING: u64 = 2;

/// Fields whose contradictions never count: built-in Windows tasks run LOLBins such as
/// `rundll32.exe` legitimately (`\Microsoft\Windows\Autochk\Proxy`), and on real logs these
/// contradictions lifted benign tasks over a malicious one.
pub const NOT_CONTRADICTED: &[&str] = &["lolbin", "task_lolbin"];

/// Train the swap model and the masked ones (one after another; progress counts all three as
/// one training) and combine their rankings.
pub fn train(
    ds: &Dataset,
    config: AeConfig,
    cancel: &AtomicBool,
    on_epoch: &mut dyn FnMut(EpochReport),
) -> Result<Ranking, ModelError> {
    let parts = 1 + AGREEING as usize;
    let mut elapsed_before = 0.0;
    let mut step = |r: EpochReport, part: usize, before: f64| {
        let epochs = r.epochs * parts;
        let epoch = part * r.epochs + r.epoch;
        let elapsed = before + r.elapsed;
        on_epoch(EpochReport {
            epoch,
            epochs,
            loss: r.loss,
            elapsed,
            eta: elapsed / epoch.max(1) as f64 * epochs.saturating_sub(epoch) as f64,
        });
    };
    let mut last = 0.0;
    let swap = Autoencoder::train(
        ds,
        AeConfig {
            objective: Objective::Swap,
            ..config
        },
        cancel,
        &mut |r| {
            last = r.elapsed;
            step(r, 0, elapsed_before);
        },
    )?;
    let base = swap.score(ds)?;
    let mut runs = Vec::new();
    for (part, j) in (1..).zip(0..AGREEING) {
        elapsed_before += last;
        let mut masked = Autoencoder::train(
            ds,
            AeConfig {
                seed: config.seed.wrapping_add(1000 * j),
                objective: Objective::Masked,
                ..config
            },
            cancel,
            &mut |r| {
                last = r.elapsed;
                step(r, part, elapsed_before);
            },
        )?;
        let with = masked.score(ds)?;
        masked.config.contradiction = 0.0;
        let without = masked.score(ds)?;
        runs.push((with, without));
    }
    Ok(combine(ds, base, &runs))
}

/// The swap ranking `base` with, per field, the mean extra weight the masked models (each
/// scored with and without their contradiction weight) give a contradiction all of them make
/// expecting the same value. The field's score gains it and shows the masked models'
/// expectation.
pub fn combine(ds: &Dataset, base: Ranking, runs: &[(Ranking, Ranking)]) -> Ranking {
    let mut scores = base.scores.clone();
    let mut field_scores = base.field_scores.clone();
    let mut expected = base.expected.clone();
    let fields: Vec<usize> = (0..ds.fields.len())
        .filter(|&f| !NOT_CONTRADICTED.contains(&ds.fields[f]))
        .collect();
    for (u, score) in scores.iter_mut().enumerate() {
        for &f in &fields {
            let part = |r: &Ranking| r.field_parts.get(u).and_then(|p| p.get(f)).map(|p| p.0);
            let gains: Vec<f32> = runs
                .iter()
                .filter_map(|(with, without)| Some(part(with)? - part(without)?))
                .collect();
            fn expect(r: &Ranking, u: usize, f: usize) -> Option<&str> {
                r.expected.get(u).and_then(|e| e.get(f)).map(|e| &*e.0)
            }
            let agree = gains.len() == runs.len()
                && !runs.is_empty()
                && gains.iter().all(|&g| g > 0.0)
                && runs
                    .iter()
                    .all(|(w, _)| expect(w, u, f) == expect(&runs[0].0, u, f));
            if !agree {
                continue;
            }
            let gain = gains.iter().sum::<f32>() / gains.len() as f32;
            *score += f64::from(gain);
            if let Some(s) = field_scores.get_mut(u).and_then(|s| s.get_mut(f)) {
                *s += gain;
            }
            if let (Some(e), Some(m)) = (
                expected.get_mut(u).and_then(|e| e.get_mut(f)),
                runs[0].0.expected.get(u).and_then(|e| e.get(f)),
            ) {
                *e = m.clone();
            }
        }
    }
    let mut r = Ranking::from_scores(ModelKind::Ae, ds, scores, field_scores);
    r.field_z = base.field_z;
    r.expected = expected;
    r
}
