//! Detection metrics: where planted attacks land in a ranking.
//!
//! An attack is found when any of its unique events surfaces: its *rank* is the best rank of
//! the unique events holding one of its occurrences. Precision at k is the share of the top k
//! unique events that hold a planted occurrence.

use crate::frame::{Dataset, Occurrence};
use crate::model::{Ranking, TaskRanking};

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Best rank (1-based) of each attack; `None` when none of its events is in the dataset.
    pub attack_ranks: Vec<Option<usize>>,
    /// Worst rank (1-based) among each attack's unique events: where its last event lands.
    pub attack_worst: Vec<Option<usize>>,
    /// Best rank (1-based) of each attack's tasks in the task ranking ([`TaskRanking`]); `None`
    /// when its events name no task.
    pub attack_task_ranks: Vec<Option<usize>>,
    pub precision_at_10: f64,
    pub precision_at_20: f64,
}

impl Evaluation {
    /// Ranks of the attacks that are present, sorted.
    pub fn ranks(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.attack_ranks.iter().flatten().copied().collect();
        r.sort_unstable();
        r
    }

    pub fn median_rank(&self) -> f64 {
        let r = self.ranks();
        match r.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => r[n / 2] as f64,
            n => (r[n / 2 - 1] + r[n / 2]) as f64 / 2.0,
        }
    }

    pub fn worst_rank(&self) -> usize {
        self.ranks().last().copied().unwrap_or(0)
    }

    /// Attacks with a unique event in the top `k`.
    pub fn found_in_top(&self, k: usize) -> usize {
        self.ranks().iter().filter(|&&r| r <= k).count()
    }
}

/// Evaluate `ranking` of `ds`; `attack_of` says which attack (if any) an occurrence belongs to.
pub fn evaluate(
    ds: &Dataset,
    ranking: &Ranking,
    attacks: usize,
    attack_of: impl Fn(&Dataset, &Occurrence) -> Option<usize>,
) -> Evaluation {
    let mut attack_ranks = vec![None; attacks];
    let mut attack_worst = vec![None; attacks];
    let mut attack_task_ranks: Vec<Option<usize>> = vec![None; attacks];
    let mut planted_unique = vec![false; ds.uniques.len()];
    let tasks = TaskRanking::new(ds, ranking);
    let task_rank = tasks.ranks();
    for (rank, &u) in ranking.order.iter().enumerate() {
        for &o in &ds.uniques[u].occurrences {
            if let Some(a) = attack_of(ds, &ds.occurrences[o as usize]) {
                planted_unique[u] = true;
                if a < attacks {
                    if attack_ranks[a].is_none() {
                        attack_ranks[a] = Some(rank + 1);
                    }
                    attack_worst[a] = Some(rank + 1);
                    if let Some(t) = ds.tasks.of(u) {
                        let r = task_rank[t] + 1;
                        attack_task_ranks[a] = Some(attack_task_ranks[a].map_or(r, |b| b.min(r)));
                    }
                }
            }
        }
    }
    let precision = |k: usize| {
        let top = ranking.order.iter().take(k);
        top.filter(|&&u| planted_unique[u]).count() as f64 / k as f64
    };
    Evaluation {
        attack_ranks,
        attack_worst,
        attack_task_ranks,
        precision_at_10: precision(10),
        precision_at_20: precision(20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RawEvent;
    use crate::profile::by_name;
    use std::sync::Arc;

    fn ev(task: &str, id: u64) -> RawEvent {
        RawEvent {
            source: Arc::from("t"),
            channel: "Microsoft-Windows-TaskScheduler/Operational".into(),
            event_id: 106,
            provider: String::new(),
            computer: "pc".into(),
            time: Some(id as i64),
            record_id: Some(id),
            data: vec![("TaskName".into(), task.into())],
        }
    }

    #[test]
    fn ranks_medians_and_precision() {
        let profile = by_name("scheduled-tasks").unwrap();
        let mut events: Vec<RawEvent> = (0..30).map(|i| ev(&format!("\\T{}", i % 15), i)).collect();
        events.push(ev("\\Evil", 100));
        let ds = Dataset::build(profile.as_ref(), events);
        let mut ranking = crate::model::rarity::rank(&ds);
        // Put \\Evil second, by hand.
        let evil = (0..ds.uniques.len())
            .find(|&u| ds.value(u, "task_name") == "\\Evil")
            .unwrap();
        ranking.order.retain(|&u| u != evil);
        ranking.order.insert(1, evil);
        let e = evaluate(&ds, &ranking, 2, |ds, o| {
            (ds.value(o.unique as usize, "task_name") == "\\Evil").then_some(0)
        });
        assert_eq!(e.attack_ranks, vec![Some(2), None]);
        assert_eq!(e.ranks(), vec![2]);
        assert_eq!(e.median_rank(), 2.0);
        assert_eq!(e.worst_rank(), 2);
        assert_eq!(e.found_in_top(1), 0);
        assert_eq!(e.found_in_top(10), 1);
        assert!((e.precision_at_10 - 0.1).abs() < 1e-9);
        assert!((e.precision_at_20 - 0.05).abs() < 1e-9);
    }
}
