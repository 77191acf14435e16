//! Scoring models. Each turns a [`Dataset`] into a [`Ranking`]: a score per unique event
//! (higher = more unusual) and each field's share of it, so that every front end can say
//! *why* an event ranks where it does.

pub mod rarity;

use crate::frame::Dataset;

#[derive(Debug, Clone)]
pub struct Ranking {
    /// The model that produced it (`rarity`, ...).
    pub model: &'static str,
    /// Score per unique event, in dataset order.
    pub scores: Vec<f64>,
    /// Per unique event, per profile field: that field's contribution to the score.
    pub field_scores: Vec<Vec<f32>>,
    /// Unique-event indices, best (most unusual) first.
    pub order: Vec<usize>,
}

impl Ranking {
    /// Sort indices by score, descending; ties broken by fewer occurrences, then earlier first
    /// seen, then dataset order, so that the same input always gives the same ranking.
    pub fn from_scores(
        model: &'static str,
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
            order,
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
