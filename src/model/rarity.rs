//! The frequency baseline: how surprising each value is.
//!
//! score(e) = -log p(channel, event id) + Σ over fields with a value of -log p(value)
//!
//! where p(value) is the share of occurrences, among those where the field has any value,
//! that carry this value. Probabilities count occurrences, not unique events: a benign task
//! that ran ten thousand times makes its values common. Under the assumption that fields are
//! independent this is the event's negative log-likelihood: value-frequency counting done
//! properly, and the baseline any learnt model has to beat.

use std::collections::HashMap;
use std::sync::Arc;

use super::Ranking;
use crate::frame::Dataset;

pub fn rank(ds: &Dataset) -> Ranking {
    let n_fields = ds.fields.len();
    let mut family: HashMap<(&str, u32), u64> = HashMap::new();
    let mut counts: Vec<HashMap<&Arc<str>, u64>> = vec![HashMap::new(); n_fields];
    let mut totals = vec![0u64; n_fields];
    let mut all = 0u64;
    for u in &ds.uniques {
        let c = u.count();
        all += c;
        *family.entry((u.channel.as_str(), u.event_id)).or_default() += c;
        for (i, v) in u.values.iter().enumerate() {
            if !v.is_empty() {
                *counts[i].entry(v).or_default() += c;
                totals[i] += c;
            }
        }
    }
    let surprisal = |n: u64, total: u64| -> f64 { -((n as f64) / (total as f64)).ln() };
    let mut scores = Vec::with_capacity(ds.uniques.len());
    let mut field_scores = Vec::with_capacity(ds.uniques.len());
    for u in &ds.uniques {
        let mut s = surprisal(family[&(u.channel.as_str(), u.event_id)], all);
        let mut per = vec![0f32; n_fields];
        for (i, v) in u.values.iter().enumerate() {
            if !v.is_empty() {
                let x = surprisal(counts[i][v], totals[i]);
                per[i] = x as f32;
                s += x;
            }
        }
        scores.push(s);
        field_scores.push(per);
    }
    Ranking::from_scores("rarity", ds, scores, field_scores)
}
