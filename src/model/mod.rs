//! Scoring models. Each turns a [`Dataset`] into a [`Ranking`]: a score per unique event
//! (higher = more unusual) and each field's share of it, so that every front end can say
//! *why* an event ranks where it does.

mod adam;
pub mod ae;
mod cross_entropy;
pub mod ds4n6;
pub mod encode;
pub mod evidence;
pub mod hybrid;
pub mod rarity;
pub mod worker;

use std::sync::Arc;

use crate::frame::{Dataset, RowKind};

/// The models `--model` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// Learns what the events usually look like and ranks first those it cannot reproduce
    /// (the default)
    Ae,
    /// The small neural setup of the DS4N6 blog series, kept for comparison only
    Ds4n6,
    /// Plain counting: how rare each value is, added up over the fields (no learning)
    Rarity,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Ae => "ae",
            ModelKind::Ds4n6 => "ds4n6",
            ModelKind::Rarity => "rarity",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A trained model that `--save-model` writes and `--baseline` scores new logs with.
pub enum Saved {
    Ae(Box<ae::Autoencoder>),
    Hybrid(Box<hybrid::Hybrid>),
}

impl Saved {
    /// Rank `ds` (which must come from the profile the model was trained on), scored by its
    /// evidence ([`evidence::rank`]) as a training ranks.
    pub fn score(&self, ds: &Dataset) -> Result<Ranking, ModelError> {
        let raw = match self {
            Saved::Ae(m) => m.score(ds)?,
            Saved::Hybrid(m) => m.score(ds)?,
        };
        Ok(evidence::rank(ds, raw))
    }

    /// Autoencoders in it.
    pub fn models(&self) -> usize {
        match self {
            Saved::Ae(_) => 1,
            Saved::Hybrid(m) => m.models(),
        }
    }

    /// The model's file (safetensors, everything needed to score in its metadata).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        match self {
            Saved::Ae(m) => m.to_bytes(),
            Saved::Hybrid(m) => m.to_bytes(),
        }
    }

    /// Load a model of either format; refuses other files with a message naming `path`.
    pub fn load(path: &std::path::Path) -> Result<Saved, ModelError> {
        let file = ae::SavedFile::read(path)?;
        match file.format() {
            ae::FORMAT => Ok(Saved::Ae(Box::new(ae::Autoencoder::from_parts(&file, "")?))),
            hybrid::FORMAT => Ok(Saved::Hybrid(Box::new(hybrid::Hybrid::from_file(&file)?))),
            other => Err(file.bad(format!(
                "model format {other}, this anomalog reads {} and {} (train the model again)",
                ae::FORMAT,
                hybrid::FORMAT
            ))),
        }
    }
}

/// Progress of training, once per epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    pub epochs: usize,
    /// Mean training loss of the epoch.
    pub loss: f64,
    /// Seconds since training started.
    pub elapsed: f64,
    /// Estimated seconds left.
    pub eta: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("no events to train on")]
    Empty,
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Incompatible(String),
    #[error("{0}")]
    Io(String),
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

#[derive(Debug, Clone)]
pub struct Ranking {
    /// The model that produced it.
    pub model: ModelKind,
    /// Score per unique event, in dataset order.
    pub scores: Vec<f64>,
    /// Per unique event, per profile field: that field's loss (its share of the score).
    pub field_scores: Vec<Vec<f32>>,
    /// Per unique event, per profile field: the z-score of the field's loss against the
    /// training distribution (empty when the model gives none).
    pub field_z: Vec<Vec<f32>>,
    /// Per unique event, per profile field: the value the model expected and its probability
    /// (empty when the model gives none).
    pub expected: Vec<Vec<(Arc<str>, f32)>>,
    /// Per unique event, per profile field: the field's loss split into the conditional
    /// surprise (`-log p(value | the event's other fields)`; with the hybrid, everything
    /// its models add beyond the rarity) and the plain rarity (the frequency prior's part);
    /// empty when the model gives no split.
    pub field_parts: Vec<Vec<(f32, f32)>>,
    /// Unique-event indices, best (most unusual) first.
    pub order: Vec<usize>,
    /// What each row's task usually holds and how often each value is seen
    /// ([`evidence::rank`]; `None` for rankings not scored by their evidence).
    pub history: Option<Arc<evidence::History>>,
}

impl Ranking {
    /// Sort indices by score, descending; ties broken by fewer occurrences, then earlier first
    /// seen, then dataset order, so that the same input always gives the same ranking.
    pub fn from_scores(
        model: ModelKind,
        ds: &Dataset,
        scores: Vec<f64>,
        field_scores: Vec<Vec<f32>>,
    ) -> Ranking {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| {
            scores[b]
                .total_cmp(&scores[a])
                .then(ds.uniques[a].count().cmp(&ds.uniques[b].count()))
                .then(ds.uniques[a].first_seen.cmp(&ds.uniques[b].first_seen))
                .then(a.cmp(&b))
        });
        Ranking {
            model,
            scores,
            field_scores,
            field_z: Vec::new(),
            expected: Vec::new(),
            field_parts: Vec::new(),
            order,
            history: None,
        }
    }

    /// The fields that contribute most to unique event `u`'s score, highest first.
    pub fn top_fields<'a>(&self, ds: &'a Dataset, u: usize, n: usize) -> Vec<(&'a str, f32)> {
        let mut f: Vec<(&str, f32)> = ds
            .fields
            .iter()
            .zip(&self.field_scores[u])
            .filter(|(_, s)| **s > 0.0)
            .map(|(n, s)| (*n, *s))
            .collect();
        f.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        f.truncate(n);
        f
    }
}

/// Tasks ranked by their events ([`crate::frame::Tasks`]): a task scores what its most
/// unusual event scores, so that a task ranks where its best lead does.
#[derive(Debug, Clone, Default)]
pub struct TaskRanking {
    /// Score per task, in task order.
    pub scores: Vec<f64>,
    /// Per task: its best-ranked unique event.
    pub best: Vec<usize>,
    /// Task indices, best first.
    pub order: Vec<usize>,
    /// Per unique row: its rank (0-based) in its list ([`Ranking::ranks_in_lists`]).
    pub event_rank: Vec<usize>,
}

impl TaskRanking {
    /// The dataset's tasks ranked: a task ranks where its best row (event or definition)
    /// ranks among all rows.
    pub fn new(ds: &Dataset, r: &Ranking) -> TaskRanking {
        let tasks = &ds.tasks;
        let global = r.ranks();
        let event_rank = r.ranks_in_lists(ds);
        let best: Vec<usize> = tasks
            .tasks
            .iter()
            .map(|t| {
                t.uniques
                    .iter()
                    .map(|&u| u as usize)
                    .min_by_key(|&u| global.get(u).copied().unwrap_or(usize::MAX))
                    .unwrap_or(0)
            })
            .collect();
        let scores: Vec<f64> = best
            .iter()
            .map(|&u| r.scores.get(u).copied().unwrap_or(0.0))
            .collect();
        let mut order: Vec<usize> = (0..best.len()).collect();
        order.sort_by_key(|&t| global.get(best[t]).copied().unwrap_or(usize::MAX));
        TaskRanking {
            scores,
            best,
            order,
            event_rank,
        }
    }

    /// Rank (0-based) of each task.
    pub fn ranks(&self) -> Vec<usize> {
        let mut r = vec![0; self.order.len()];
        for (i, &t) in self.order.iter().enumerate() {
            r[t] = i;
        }
        r
    }
}

impl Ranking {
    /// The rows of one list ([`RowKind`]), best first.
    pub fn list(&self, ds: &Dataset, kind: RowKind) -> Vec<usize> {
        self.order
            .iter()
            .copied()
            .filter(|&u| ds.uniques.get(u).is_some_and(|e| e.kind() == kind))
            .collect()
    }

    /// Rank (0-based) of each unique row within its own list (events among events,
    /// definitions among definitions).
    pub fn ranks_in_lists(&self, ds: &Dataset) -> Vec<usize> {
        let mut r = vec![0; self.order.len()];
        let (mut events, mut definitions) = (0, 0);
        for &u in &self.order {
            let next = match ds.uniques.get(u).map(|e| e.kind()) {
                Some(RowKind::Definition) => &mut definitions,
                _ => &mut events,
            };
            if let Some(slot) = r.get_mut(u) {
                *slot = *next;
            }
            *next += 1;
        }
        r
    }

    /// Rank (0-based) of each unique event.
    pub fn ranks(&self) -> Vec<usize> {
        let mut r = vec![0; self.order.len()];
        for (i, &u) in self.order.iter().enumerate() {
            if let Some(slot) = r.get_mut(u) {
                *slot = i;
            }
        }
        r
    }
}

/// The largest absolute difference between two tensors of one shape (tests comparing an
/// operation of ours with candle's own).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
