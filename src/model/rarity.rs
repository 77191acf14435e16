//! The frequency baseline: how surprising each value is.
//!
//! score(e) = -log p(channel, event id) + Σ over fields with a value of -log p(value)
//!
//! where p(value) is the share of occurrences, among those where the field has any value,
//! that carry this value (for the context fields, whose empty value is the normal case, among
//! all occurrences: having a lifecycle flag at all is what is rare). Probabilities count
//! occurrences, not unique events: a benign task
//! that ran ten thousand times makes its values common. Under the assumption that fields are
//! independent this is the event's negative log-likelihood: value-frequency counting done
//! properly, and the baseline any learnt model has to beat.
//!
//! The "expected" value of a field is its most frequent value among events of the same
//! channel and event id; z-scores compare a field's surprisal with its mean over all unique
//! events.

use std::collections::HashMap;
use std::sync::Arc;

use super::Ranking;
use crate::frame::Dataset;

/// A channel and event id.
type Family<'a> = (&'a str, u32);

pub fn rank(ds: &Dataset) -> Ranking {
    let n_fields = ds.fields.len();
    let mut family: HashMap<Family, u64> = HashMap::new();
    let mut counts: Vec<HashMap<&Arc<str>, u64>> = vec![HashMap::new(); n_fields];
    let mut by_family: Vec<HashMap<(Family, &Arc<str>), u64>> = vec![HashMap::new(); n_fields];
    let mut totals = vec![0u64; n_fields];
    let mut all = 0u64;
    for (k, u) in ds.uniques.iter().enumerate() {
        // Unique events marked benign (`--exclude-benign`) are scored but not counted.
        if !ds.trains_on(k) {
            continue;
        }
        let c = u.count();
        let fam = (u.channel.as_str(), u.event_id);
        // Counts come from input (a summary may claim anything): sums saturate, so that a
        // part never outweighs its whole.
        all = all.saturating_add(c);
        let f = family.entry(fam).or_default();
        *f = f.saturating_add(c);
        for (i, v) in u.values.iter().enumerate() {
            if !v.is_empty() || ds.empty_is_value(i) {
                let n = counts[i].entry(v).or_default();
                *n = n.saturating_add(c);
                totals[i] = totals[i].saturating_add(c);
            }
            let n = by_family[i].entry((fam, v)).or_default();
            *n = n.saturating_add(c);
        }
    }
    // The most frequent value of each field per family (ties: the smaller value).
    let mut mode: Vec<HashMap<Family, (&Arc<str>, u64)>> = vec![HashMap::new(); n_fields];
    for (i, m) in by_family.iter().enumerate() {
        for (&(fam, v), &c) in m {
            let e = mode[i].entry(fam).or_insert((v, 0));
            if c > e.1 || (c == e.1 && v < e.0) {
                *e = (v, c);
            }
        }
    }
    // `+ 0.0` turns the -0.0 of a certain value into 0.0; never below 0 (a part cannot
    // outweigh its whole, even where counts saturate).
    // A value only excluded events carry counts as seen once.
    let surprisal = |n: u64, total: u64| -> f64 {
        (-((n.max(1) as f64) / (total.max(1) as f64)).ln()).max(0.0) + 0.0
    };
    let mut scores = Vec::with_capacity(ds.uniques.len());
    let mut field_scores = Vec::with_capacity(ds.uniques.len());
    let mut expected = Vec::with_capacity(ds.uniques.len());
    for u in &ds.uniques {
        let fam = (u.channel.as_str(), u.event_id);
        let fam_n = family.get(&fam).copied().unwrap_or(0);
        let mut s = surprisal(fam_n, all);
        let mut per = vec![0f32; n_fields];
        for (i, v) in u.values.iter().enumerate() {
            if !v.is_empty() || ds.empty_is_value(i) {
                let x = surprisal(counts[i].get(v).copied().unwrap_or(0), totals[i]);
                per[i] = x as f32;
                s += x;
            }
        }
        scores.push(s);
        field_scores.push(per);
        expected.push(
            (0..n_fields)
                .map(|i| match mode[i].get(&fam) {
                    Some((v, c)) => ((*v).clone(), (*c as f64 / fam_n.max(1) as f64) as f32),
                    None => (Arc::from(""), 0.0),
                })
                .collect(),
        );
    }
    let field_z = zscores(&field_scores, n_fields);
    let mut r = Ranking::from_scores(super::ModelKind::Rarity, ds, scores, field_scores);
    r.field_z = field_z;
    r.expected = expected;
    r
}

/// z-scores of each field's loss against its mean and deviation over all rows.
pub fn zscores(field_scores: &[Vec<f32>], n_fields: usize) -> Vec<Vec<f32>> {
    let n = field_scores.len().max(1) as f32;
    let mean: Vec<f32> = (0..n_fields)
        .map(|f| field_scores.iter().map(|r| r[f]).sum::<f32>() / n)
        .collect();
    let std: Vec<f32> = (0..n_fields)
        .map(|f| {
            (field_scores
                .iter()
                .map(|r| (r[f] - mean[f]).powi(2))
                .sum::<f32>()
                / n)
                .sqrt()
                .max(1e-3)
        })
        .collect();
    field_scores
        .iter()
        .map(|r| (0..n_fields).map(|f| (r[f] - mean[f]) / std[f]).collect())
        .collect()
}
