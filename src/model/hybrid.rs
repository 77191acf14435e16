//! The hybrid ranking (`--objective hybrid`, issue 14): the swap autoencoder's ranking, plus
//! the confident contradictions that two masked autoencoders of other seeds agree on.
//!
//! Why (README "Detection benchmark"): a masked model separates a broken combination (it was
//! sure of another value) from a merely rare value, but a single one trained on a small,
//! varied set of machines is also confidently wrong about context it cannot know. Counting a
//! contradiction only when two models of different seeds make it, expecting the same value,
//! keeps what is stable; the swap ranking stays the base, so what it found stays found.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::ae::{AeConfig, Autoencoder, Objective};
use super::{EpochReport, ModelError, ModelKind, Ranking};
use crate::frame::Dataset;

/// Masked models that must agree on a contradiction.
pub const AGREEING: u64 = 2;

/// Fields whose contradictions never count: built-in Windows tasks run LOLBins such as
/// `rundll32.exe` legitimately (`\Microsoft\Windows\Autochk\Proxy`), and on real logs these
/// contradictions lifted benign tasks over a malicious one.
pub const NOT_CONTRADICTED: &[&str] = &["lolbin", "task_lolbin"];

/// Train the swap model and the masked ones side by side (each on its own thread, one core
/// for its matrix products: after reading, the cores are free) and combine their rankings.
/// Progress counts the epochs of all three as one training.
pub fn train(
    ds: &Dataset,
    config: AeConfig,
    cancel: &AtomicBool,
    on_epoch: &mut dyn FnMut(EpochReport),
) -> Result<Ranking, ModelError> {
    let parts = 1 + AGREEING as usize;
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let masked: Vec<_> = (0..AGREEING)
            .map(|j| {
                let done = &done;
                s.spawn(move || -> Result<(Ranking, Ranking), ModelError> {
                    let mut m = Autoencoder::train(
                        ds,
                        AeConfig {
                            seed: config.seed.wrapping_add(1000 * j),
                            objective: Objective::Masked,
                            ..config
                        },
                        cancel,
                        &mut |_| {
                            done.fetch_add(1, Ordering::Relaxed);
                        },
                    )?;
                    let with = m.score(ds)?;
                    m.config.contradiction = 0.0;
                    Ok((with, m.score(ds)?))
                })
            })
            .collect();
        let swap = Autoencoder::train(
            ds,
            AeConfig {
                objective: Objective::Swap,
                ..config
            },
            cancel,
            &mut |r| {
                let epoch = done.fetch_add(1, Ordering::Relaxed) + 1;
                let epochs = r.epochs * parts;
                on_epoch(EpochReport {
                    epoch: epoch.min(epochs),
                    epochs,
                    loss: r.loss,
                    elapsed: r.elapsed,
                    eta: r.elapsed / epoch.max(1) as f64 * epochs.saturating_sub(epoch) as f64,
                });
            },
        );
        let runs: Vec<(Ranking, Ranking)> = masked
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| ModelError::Io("a masked model's training panicked".into()))?
            })
            .collect::<Result<_, _>>()?;
        let base = swap?.score(ds)?;
        Ok(combine(ds, base, &runs))
    })
}

/// The swap ranking `base` with, per field, the mean extra weight the masked models (each
/// scored with and without their contradiction weight) give a contradiction all of them make
/// expecting the same value. The field's score gains it and shows the masked models'
/// expectation. [`NOT_CONTRADICTED`] fields never count.
pub fn combine(ds: &Dataset, base: Ranking, runs: &[(Ranking, Ranking)]) -> Ranking {
    combine_skipping(ds, base, runs, NOT_CONTRADICTED)
}

/// [`combine`] with another list of fields whose contradictions never count (the detection
/// benchmark measures other lists).
pub fn combine_skipping(
    ds: &Dataset,
    base: Ranking,
    runs: &[(Ranking, Ranking)],
    skip: &[&str],
) -> Ranking {
    let mut scores = base.scores.clone();
    let mut field_scores = base.field_scores.clone();
    let mut expected = base.expected.clone();
    let fields: Vec<usize> = (0..ds.fields.len())
        .filter(|&f| !skip.contains(&ds.fields[f]))
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
