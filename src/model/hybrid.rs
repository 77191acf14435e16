//! The hybrid ranking (the default objective): the swap autoencoder's ranking,
//! plus the confident contradictions that two masked autoencoders of other seeds agree on.
//!
//! Why (docs/benchmarks.md, "Detection"): a masked model separates a broken combination (it was
//! sure of another value) from a merely rare value, but a single one trained on a small,
//! varied set of machines is also confidently wrong about context it cannot know. Counting a
//! contradiction only when two models of different seeds make it, expecting the same value,
//! keeps what is stable; the swap ranking stays the base, so what it found stays found.
//!
//! Cost: three trainings instead of one, side by side on their own threads, with the
//! contradictions read off the pass that also gives each model's loss statistics
//! (docs/benchmarks.md, "Speed", has what that costs).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::ae::{AeConfig, Autoencoder, Contradictions, Objective, SavedFile};
use super::{EpochReport, ModelError, ModelKind, Ranking};
use crate::frame::Dataset;

/// Masked models that must agree on a contradiction.
pub const AGREEING: u64 = 2;

/// Fields whose contradictions never count: built-in Windows tasks run LOLBins such as
/// `rundll32.exe` legitimately (`\Microsoft\Windows\Autochk\Proxy`), and on real logs these
/// contradictions lifted benign tasks over a malicious one.
pub const NOT_CONTRADICTED: &[&str] = &["lolbin", "task_lolbin"];

/// The saved hybrid's file format: the three autoencoders' weights and metadata, prefixed
/// `swap.`, `masked0.`, `masked1.`.
pub const FORMAT: &str = "anomalog-hybrid-1";

/// The three trained autoencoders.
pub struct Hybrid {
    swap: Autoencoder,
    masked: Vec<Autoencoder>,
}

impl Hybrid {
    /// Train the swap model and the masked ones side by side (each on its own thread, one
    /// core for its matrix products: after reading, the cores are free) and rank `ds`.
    /// Progress counts the epochs of all three as one training. Each model is scored by the
    /// pass that gives its loss statistics.
    pub fn train(
        ds: &Dataset,
        config: AeConfig,
        cancel: &AtomicBool,
        on_epoch: &mut dyn FnMut(EpochReport),
    ) -> Result<(Hybrid, Ranking), ModelError> {
        // The models make different numbers of passes (`AeConfig::epochs_for`): progress
        // counts them all, and goes on after the swap model is done until the masked ones are.
        let swap_config = AeConfig {
            objective: Objective::Swap,
            ..config
        };
        let rows = (0..ds.uniques.len()).filter(|&u| ds.trains_on(u)).count();
        let total = swap_config.epochs_for(rows)
            + (0..AGREEING)
                .map(|j| masked_config(config, j).epochs_for(rows))
                .sum::<usize>();
        let done = AtomicUsize::new(0);
        let start = std::time::Instant::now();
        let report = |on_epoch: &mut dyn FnMut(EpochReport), loss: f64| {
            let epoch = done.load(Ordering::Relaxed).clamp(1, total.max(1));
            let elapsed = start.elapsed().as_secs_f64();
            on_epoch(EpochReport {
                epoch,
                epochs: total,
                loss,
                elapsed,
                eta: elapsed / epoch as f64 * total.saturating_sub(epoch) as f64,
            });
        };
        std::thread::scope(|s| {
            // Each masked model's thread holds a sender: when all are dropped (the models are
            // trained, or failed), the wait below ends at once.
            let (alive, finished) = std::sync::mpsc::channel::<()>();
            let masked: Vec<_> = (0..AGREEING)
                .map(|j| {
                    let done = &done;
                    let alive = alive.clone();
                    s.spawn(move || {
                        let _alive = alive;
                        Autoencoder::train_contradicting(
                            ds,
                            masked_config(config, j),
                            cancel,
                            &mut |_| {
                                done.fetch_add(1, Ordering::Relaxed);
                            },
                        )
                    })
                })
                .collect();
            let mut loss = 0.0;
            let swap = Autoencoder::train_and_score(ds, swap_config, cancel, &mut |r| {
                done.fetch_add(1, Ordering::Relaxed);
                loss = r.loss;
                report(&mut *on_epoch, r.loss);
            });
            drop(alive);
            // The masked models' epochs, reported from here (the callback is this thread's).
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                finished.recv_timeout(std::time::Duration::from_millis(50))
            {
                report(&mut *on_epoch, loss);
            }
            let mut models = Vec::with_capacity(masked.len());
            let mut found = Vec::with_capacity(masked.len());
            for h in masked {
                let (m, c) = h
                    .join()
                    .map_err(|_| ModelError::Io("a masked model's training panicked".into()))??;
                models.push(m);
                found.push(c);
            }
            let (swap, base) = swap?;
            Ok((
                Hybrid {
                    swap,
                    masked: models,
                },
                combine(ds, base, found),
            ))
        })
    }

    /// Autoencoders in it: the swap model and the masked ones.
    pub fn models(&self) -> usize {
        1 + self.masked.len()
    }

    /// Rank `ds` (which must come from the profile the models were trained on).
    pub fn score(&self, ds: &Dataset) -> Result<Ranking, ModelError> {
        let base = self.swap.score(ds)?;
        let found = self
            .masked
            .iter()
            .map(|m| m.contradictions(ds))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(combine(ds, base, found))
    }

    /// The file [`super::Saved::load`] reads.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let (mut tensors, mut meta) = self.swap.parts("swap.")?;
        for (j, m) in self.masked.iter().enumerate() {
            let (t, more) = m.parts(&format!("masked{j}."))?;
            tensors.extend(t);
            meta.extend(more);
        }
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("masked".to_string(), self.masked.len().to_string());
        safetensors::serialize(tensors, Some(meta)).map_err(|e| ModelError::Io(e.to_string()))
    }

    /// The hybrid [`Hybrid::to_bytes`] wrote (read by [`super::Saved::load`]); refuses
    /// other files, and parts that do not belong together (objectives, profile, fields).
    pub(crate) fn from_file(file: &SavedFile) -> Result<Hybrid, ModelError> {
        if file.format() != FORMAT {
            return Err(file.bad(format!(
                "model format {}, not a hybrid ({FORMAT})",
                file.format()
            )));
        }
        let n: usize = file
            .meta("masked")?
            .parse()
            .ok()
            .filter(|n| (1..=8).contains(n))
            .ok_or_else(|| file.bad("the number of masked models is not 1 to 8".into()))?;
        let swap = Autoencoder::from_parts(file, "swap.")?;
        let masked = (0..n)
            .map(|j| Autoencoder::from_parts(file, &format!("masked{j}.")))
            .collect::<Result<Vec<_>, _>>()?;
        let together = swap.config.objective == Objective::Swap
            && masked.iter().all(|m| {
                m.config.objective == Objective::Masked
                    && m.encoder.profile == swap.encoder.profile
                    && m.encoder.fields.len() == swap.encoder.fields.len()
            });
        if !together {
            return Err(file.bad("its autoencoders do not belong together".into()));
        }
        Ok(Hybrid { swap, masked })
    }
}

/// The configuration of masked model `j`: seed `s + 1000 j`.
fn masked_config(config: AeConfig, j: u64) -> AeConfig {
    AeConfig {
        seed: config.seed.wrapping_add(1000 * j),
        objective: Objective::Masked,
        ..config
    }
}

/// The swap ranking `base` with, per field, the mean extra weight the masked models give a
/// contradiction all of them make expecting the same value, a value that is not empty: the
/// field's score gains it. Every field's expected value is the first masked model's (what
/// the event's other fields predict). [`NOT_CONTRADICTED`] fields never count.
pub fn combine(ds: &Dataset, base: Ranking, found: Vec<Contradictions>) -> Ranking {
    combine_skipping(ds, base, found, NOT_CONTRADICTED)
}

/// [`combine`] with another list of fields whose contradictions never count (the detection
/// benchmark measures other lists). Takes both by value: at 100 000 unique events each
/// holds per-field tables of tens of megabytes, moved rather than copied.
pub fn combine_skipping(
    ds: &Dataset,
    base: Ranking,
    mut found: Vec<Contradictions>,
    skip: &[&str],
) -> Ranking {
    let Ranking {
        mut scores,
        mut field_scores,
        field_z,
        expected: base_expected,
        ..
    } = base;
    let fields: Vec<usize> = (0..ds.fields.len())
        .filter(|&f| !skip.contains(&ds.fields[f]))
        .collect();
    fn expect(c: &Contradictions, u: usize, f: usize) -> Option<&str> {
        c.expected.get(u).and_then(|e| e.get(f)).map(|e| &*e.0)
    }
    if let Some(first) = found.first() {
        for (u, score) in scores.iter_mut().enumerate() {
            for &f in &fields {
                let expected = expect(first, u, f);
                // "Expected nothing here" says which fields a log source and Windows version
                // fill (on ../shared/evtx: an author or logon type where other machines'
                // events of the task had none), not that a combination is broken: it never
                // counts.
                if expected.is_none_or(str::is_empty) {
                    continue;
                }
                // Every model contradicts the value, expecting the same one.
                let mut sum = 0.0f32;
                let agree = found
                    .iter()
                    .all(|c| match c.gain.get(u).and_then(|g| g.get(f)) {
                        Some(&g) if g > 0.0 && expect(c, u, f) == expected => {
                            sum += g;
                            true
                        }
                        _ => false,
                    });
                if !agree {
                    continue;
                }
                let gain = sum / found.len() as f32;
                *score += f64::from(gain);
                if let Some(s) = field_scores.get_mut(u).and_then(|s| s.get_mut(f)) {
                    *s += gain;
                }
            }
        }
    }
    // The split of each field's share: what the models add beyond the value's plain rarity
    // (the swap model's surprise and the agreed contradictions), and that rarity.
    let field_parts = match found.first() {
        Some(c) if c.rarity.len() == field_scores.len() => field_scores
            .iter()
            .zip(&c.rarity)
            .map(|(s, r)| s.iter().zip(r).map(|(&s, &r)| (s - r, r)).collect())
            .collect(),
        _ => Vec::new(),
    };
    // What the event's other fields predict (the first masked model), not the swap model's
    // expectation, which mostly echoes the value it was shown.
    let expected = match found.first_mut() {
        Some(c) if c.expected.len() == scores.len() => std::mem::take(&mut c.expected),
        _ => base_expected,
    };
    let mut r = Ranking::from_scores(ModelKind::Ae, ds, scores, field_scores);
    r.field_z = field_z;
    r.expected = expected;
    r.field_parts = field_parts;
    r
}
