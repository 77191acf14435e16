//! The DS4N6 blog series' autoencoder, reproduced for comparison (`--model ds4n6`).
//!
//! Each field is label-encoded (its distinct values numbered in sorted order) and min-max
//! scaled to [0, 1]; the network is Dense(3, relu) then Dense(n, linear), trained with mean
//! squared error and Adadelta (Keras' defaults: learning rate 0.001, rho 0.95, epsilon 1e-7),
//! batch 32, 10 epochs, on the unique events; a row's score is its mean squared error.
//! Label encoding imposes an order that means nothing (`cmd.exe` is "between" `at.exe` and
//! `svchost.exe`), which is why this setup ranks attacks about as well as chance.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{EpochReport, ModelError, Ranking};
use crate::frame::Dataset;

const EPOCHS: usize = 10;
const BATCH: usize = 32;
const LR: f64 = 0.001;
const RHO: f64 = 0.95;
const EPS: f64 = 1e-7;

/// Label-encode and min-max scale: `x[row * n + f]`.
fn encode(ds: &Dataset) -> (Vec<f32>, usize) {
    let n = ds.fields.len() + 1;
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(ds.uniques.len()); n];
    for u in &ds.uniques {
        columns[0].push(format!("{}/{}", u.channel, u.event_id));
        for (i, v) in u.values.iter().enumerate() {
            columns[i + 1].push(v.to_string());
        }
    }
    let mut x = vec![0f32; ds.uniques.len() * n];
    for (f, col) in columns.iter().enumerate() {
        let labels: BTreeMap<&str, usize> = col
            .iter()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, i))
            .collect();
        let max = (labels.len().max(2) - 1) as f32;
        for (r, v) in col.iter().enumerate() {
            x[r * n + f] = labels[v.as_str()] as f32 / max;
        }
    }
    (x, n)
}

/// Glorot-uniform, as Keras initialises Dense layers.
fn param(rng: &mut StdRng, rows: usize, cols: usize) -> Result<Var, ModelError> {
    super::ae::init(rng, rows, cols, (6.0 / (rows + cols) as f32).sqrt())
}

pub fn rank(
    ds: &Dataset,
    seed: u64,
    cancel: &AtomicBool,
    on_epoch: &mut dyn FnMut(EpochReport),
) -> Result<Ranking, ModelError> {
    if ds.uniques.is_empty() {
        return Err(ModelError::Empty);
    }
    let (x, n) = encode(ds);
    let rows = ds.uniques.len();
    let dev = Device::Cpu;
    let mut rng = StdRng::seed_from_u64(seed);
    let w1 = param(&mut rng, n, 3)?;
    let b1 = Var::zeros(3, DType::F32, &dev)?;
    let w2 = param(&mut rng, 3, n)?;
    let b2 = Var::zeros(n, DType::F32, &dev)?;
    let vars = [&w1, &b1, &w2, &b2];
    let mut acc_g: Vec<Tensor> = vars
        .iter()
        .map(|v| v.as_tensor().zeros_like())
        .collect::<Result<_, _>>()?;
    let mut acc_d: Vec<Tensor> = acc_g.clone();
    let forward = |xb: &Tensor| -> Result<Tensor, candle_core::Error> {
        let h = xb
            .matmul(w1.as_tensor())?
            .broadcast_add(b1.as_tensor())?
            .relu()?;
        h.matmul(w2.as_tensor())?.broadcast_add(b2.as_tensor())
    };
    let start = Instant::now();
    // Unique events marked benign (`--exclude-benign`) are scored but not learnt from.
    let mut order: Vec<usize> = (0..rows).filter(|&r| ds.trains_on(r)).collect();
    if order.is_empty() {
        return Err(ModelError::Empty);
    }
    for epoch in 1..=EPOCHS {
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for batch in order.chunks(BATCH) {
            if cancel.load(Ordering::Relaxed) {
                return Err(ModelError::Cancelled);
            }
            let data: Vec<f32> = batch
                .iter()
                .flat_map(|&r| x[r * n..(r + 1) * n].iter().copied())
                .collect();
            let xb = Tensor::from_vec(data, (batch.len(), n), &dev)?;
            let loss = (forward(&xb)? - &xb)?.sqr()?.mean_all()?;
            sum += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
            let grads = loss.backward()?;
            for (k, v) in vars.iter().enumerate() {
                let Some(g) = grads.get(v.as_tensor()) else {
                    continue;
                };
                // Adadelta (Zeiler 2012), as Keras implements it.
                acc_g[k] = ((&acc_g[k] * RHO)? + (g.sqr()? * (1.0 - RHO))?)?;
                let delta = ((((&acc_d[k] + EPS)?.sqrt()? / (&acc_g[k] + EPS)?.sqrt()?)?) * g)?;
                acc_d[k] = ((&acc_d[k] * RHO)? + (delta.sqr()? * (1.0 - RHO))?)?;
                v.set(&(v.as_tensor() - (delta * LR)?)?)?;
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        on_epoch(EpochReport {
            epoch,
            epochs: EPOCHS,
            loss: sum / order.len() as f64,
            elapsed,
            eta: elapsed / epoch as f64 * (EPOCHS - epoch) as f64,
        });
    }
    // Score: per-field squared error, mean over fields.
    let xt = Tensor::from_vec(x.clone(), (rows, n), &dev)?;
    let err = (forward(&xt)? - &xt)?.sqr()?.to_vec2::<f32>()?;
    let scores: Vec<f64> = err
        .iter()
        .map(|r| r.iter().map(|&e| f64::from(e)).sum::<f64>() / n as f64)
        .collect();
    let field_scores: Vec<Vec<f32>> = err.iter().map(|r| r[1..].to_vec()).collect();
    let field_z = super::rarity::zscores(&field_scores, n - 1);
    let mut r = Ranking::from_scores(super::ModelKind::Ds4n6, ds, scores, field_scores);
    r.field_z = field_z;
    Ok(r)
}
