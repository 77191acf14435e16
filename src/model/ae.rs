//! The autoencoder (candle, CPU): a denoising autoencoder over categorical fields, in the
//! design of dfencoder / NVIDIA Morpheus.
//!
//! - Input: every field's value index (rare values share one bucket) looks up an embedding in
//!   one shared table; two numeric features (`log1p(count)`, `log1p(hosts)`) are appended.
//! - Encoder `in -> hidden -> bottleneck`, decoder `bottleneck -> hidden`, then one softmax
//!   head per field (cross-entropy) and one linear head for the numeric features (MSE).
//! - Swap noise: during training a share of each row's fields is replaced by the value of the
//!   same field in another row, so the model must predict a field from the others instead of
//!   copying it through.
//!
//! A field's loss is `-log p(value | the row)`; for a value in the rare bucket the frequency
//! of the value among the rare ones is added (`-log p(value | rare)`), so a one-off value
//! still costs more than one seen twice. The row's score is the sum over fields.
//! Parameters are initialised from the seed (candle's CPU generator cannot be seeded), so a
//! seed fixes the model and the ranking.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::adam::{Adam, AdamParams};
use super::cross_entropy::FieldCrossEntropy;
use super::encode::{EncodeConfig, Encoded, Encoder, RARE, TOKEN_BUCKETS};
use super::{EpochReport, ModelError, Ranking};
use crate::frame::Dataset;

/// How much each unique event counts in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Weighting {
    /// Every unique event once.
    Unique,
    /// By the logarithm of its occurrences (`1 + ln count`).
    LogCount,
    /// By its occurrences.
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AeConfig {
    /// Epochs; 0 picks them from the data (see [`AeConfig::epochs_for`]).
    pub epochs: usize,
    pub batch_size: usize,
    pub embed_dim: usize,
    pub hidden: usize,
    pub bottleneck: usize,
    pub learning_rate: f64,
    /// Share of fields replaced per row during training.
    pub swap_noise: f64,
    pub seed: u64,
    pub weighting: Weighting,
    pub encode: EncodeConfig,
    /// Weight of each value's unconditional rarity (`-log p(value)`) added to its field's
    /// loss: the score is then `-log [p(value | row) * p(value)^w]`, the autoencoder's
    /// conditional surprise times a frequency prior (see the README's benchmark).
    #[serde(default = "one")]
    pub prior_weight: f32,
    /// What the model learns and how a field is scored (see [`Objective`]).
    #[serde(default)]
    pub objective: Objective,
    /// [`Objective::Masked`]: share of fields hidden behind their mask token per training row
    /// (at least one per row).
    #[serde(default = "mask_rate")]
    pub mask_rate: f64,
    /// [`Objective::Masked`]: how much more a confident contradiction weighs (a field whose
    /// value the other fields predicted otherwise with at least [`CONFIDENT`] probability
    /// `p` counts `1 + contradiction * p` times its surprise; docs/benchmarks.md, "Detection").
    #[serde(default = "contradiction")]
    pub contradiction: f32,
}

/// The probability from which a prediction the value contradicts is a contradiction.
pub const CONFIDENT: f32 = 0.8;

fn contradiction() -> f32 {
    4.0
}

fn one() -> f32 {
    1.0
}

fn mask_rate() -> f64 {
    0.3
}

/// How a field's loss is learnt and scored. The command line's default is
/// [`Objective::Hybrid`]; `Default` (a single model's, and what files from before the field
/// existed hold) is [`Objective::Swap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
pub enum Objective {
    /// Asks of each field what the rest of the event predicts there, and ranks first the
    /// values that contradict it (a user this task never runs as); one training
    Masked,
    /// Learns the usual events and ranks first those it cannot reproduce; one training
    #[default]
    Swap,
    /// The default: `swap`, plus the contradictions two `masked` models agree on; three
    /// trainings side by side (docs/models.md)
    Hybrid,
}

impl Default for AeConfig {
    fn default() -> Self {
        AeConfig {
            epochs: 0,
            batch_size: 512,
            embed_dim: 8,
            hidden: 64,
            bottleneck: 16,
            learning_rate: 0.01,
            swap_noise: 0.15,
            seed: 1,
            weighting: Weighting::LogCount,
            encode: EncodeConfig::default(),
            prior_weight: 1.0,
            objective: Objective::Swap,
            mask_rate: 0.3,
            contradiction: contradiction(),
        }
    }
}

/// Passes over the data a training makes at most when the epochs are chosen from it: the
/// fixed 60 000-sample budget made 200 passes over a few hundred unique events (issue 25:
/// 2.3 s for the hybrid's three models on `samples/`, against 0.05 s of reading). Since the
/// evidence scoring reads each value against its task's history, 30 passes (and 50 for a
/// masked model, at least [`MIN_STEPS`] steps) rank as well as 40 / 80 / 120 on every
/// family of the detection benchmark, in two thirds of the time (docs/benchmarks.md,
/// "Fewer passes").
pub const PASSES: usize = 30;
/// The same for a masked model, which learns what each field's value is given the others
/// (the conditional plants need more passes to be seen). 120 passes in batches of 64 ranked
/// no better on the detection benchmark than 80 in batches of 128, at three times the steps
/// (docs/benchmarks.md, "Speed"); 50 no worse than 80 since the evidence scoring.
pub const MASKED_PASSES: usize = 50;
/// Optimiser steps a training makes at least when the epochs are chosen from the data.
pub const MIN_STEPS: usize = 60;
/// The smallest batch.
pub const MIN_BATCH: usize = 64;
/// The smallest batch of a masked model: a step of 128 rows costs about 1.5 times one of 64
/// (the operations' overhead, not their arithmetic, decides at this size), and
/// [`AeConfig::epochs_for`] keeps at least [`MIN_STEPS`] steps. The swap model keeps
/// batches of 64: with 128, a real plant on the DC's log fell from 26th to 44th
/// (`tests/it/evidence.rs`).
pub const MASKED_MIN_BATCH: usize = 128;

impl AeConfig {
    /// The batch size for `rows` training rows: smaller batches for small datasets, so that
    /// they still get enough optimiser steps, down to [`MIN_BATCH`] ([`MASKED_MIN_BATCH`]).
    pub fn batch_for(&self, rows: usize) -> usize {
        let lo = match self.objective {
            Objective::Masked => MASKED_MIN_BATCH,
            _ => MIN_BATCH,
        };
        (rows / 16).clamp(lo, self.batch_size.max(lo))
    }

    /// Epochs: the configured number, or a budget that grows with the data: [`PASSES`]
    /// passes over it, at most about 60 000 samples, and at least [`MIN_STEPS`] optimiser
    /// steps (between 6 and 200 epochs). A few hundred unique events train in a fraction of a
    /// second; past 1 500 the sample budget decides, as before.
    pub fn epochs_for(&self, rows: usize) -> usize {
        if self.epochs > 0 {
            return self.epochs;
        }
        let rows = rows.max(1);
        let batches = rows.div_ceil(self.batch_for(rows));
        let passes = match self.objective {
            Objective::Masked => MASKED_PASSES,
            _ => PASSES,
        };
        (60_000 / rows)
            .min(passes)
            .max(MIN_STEPS.div_ceil(batches))
            .clamp(6, 200)
    }
}

/// Per row and field (row-major), what [`Autoencoder::field_losses`] computes.
struct FieldLosses {
    /// `conditional + rarity`: the field's share of the score.
    total: Vec<f32>,
    /// `-log p(value | the event's other fields)` (plus the value's rarity among rare
    /// values when no prior is added).
    conditional: Vec<f32>,
    /// The frequency prior's part: `prior_weight * -log p(value)`.
    rarity: Vec<f32>,
    /// The index the model finds most probable...
    expect: Vec<u32>,
    /// ...and its probability.
    probs: Vec<f32>,
    /// What the contradiction weight added to `conditional` (0 where the value contradicts no
    /// confident prediction, and always without [`Objective::Masked`]).
    gain: Vec<f32>,
}

/// What a masked model's confident contradictions add, per unique event and profile field
/// (the event kind left out): the input of the hybrid ranking ([`crate::model::hybrid`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Contradictions {
    /// What the contradiction weight added to the field's conditional surprise (0: none).
    pub gain: Vec<Vec<f32>>,
    /// The value the other fields predicted, and its probability.
    pub expected: Vec<Vec<(Arc<str>, f32)>>,
    /// The frequency prior's part of the field's loss (`prior_weight * -log p(value)`): the
    /// same for every model of one dataset and encoder configuration.
    pub rarity: Vec<Vec<f32>>,
}

/// Per-field loss statistics over the training rows, for z-scores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LossStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// A trained autoencoder with its encoder.
pub struct Autoencoder {
    pub encoder: Encoder,
    pub config: AeConfig,
    pub stats: LossStats,
    /// `emb`, `w1`, `b1`, `w2`, `b2`, `w3`, `b3`, `wo`, `bo`, `wn`, `bn`.
    vars: Vec<(String, Var)>,
    /// The largest vocabulary. The embedding table gives every field `vmax` rows (with the
    /// masked objective `vmax + 1`: row `vmax` of a field is its mask token).
    vmax: usize,
    /// Where each field's logits sit in the output layer.
    heads: Heads,
    /// Per output slot, `0` for a real slot and a large negative number for padding: added
    /// to the logits.
    pad: Arc<[f32]>,
    /// Per field, its first output slot and its number of slots ([`Heads::span`]), shared
    /// with every training step's loss ([`FieldCrossEntropy`]).
    spans: Arc<[(usize, usize)]>,
}

/// The output layer's layout. Fields of about the same vocabulary size share a width and
/// go through one softmax and one gather together; a field's slots past its vocabulary are
/// padding. Padding every field to the largest vocabulary cost six times the logits on a
/// real fleet (33 fields, vocabularies of 2 to 64: 2 112 slots against 440), and the output
/// layer is most of a training's arithmetic.
#[derive(Debug, Clone)]
struct Heads {
    classes: Vec<HeadClass>,
    /// Per field: its class and its position among the class's fields.
    place: Vec<(usize, usize)>,
    /// Output slots in all.
    total: usize,
}

#[derive(Debug, Clone)]
struct HeadClass {
    /// Slots per field.
    width: usize,
    fields: Vec<usize>,
    /// The class's first slot in the output layer.
    offset: usize,
}

impl Heads {
    /// Widths: powers of two to 16, then multiples of 8 (at most a third is padding past 16).
    fn width(len: usize) -> usize {
        let len = len.max(1);
        if len <= 16 {
            len.next_power_of_two()
        } else {
            len.div_ceil(8) * 8
        }
    }

    fn new(lens: &[usize]) -> Heads {
        let mut widths: Vec<usize> = lens.iter().map(|&l| Heads::width(l)).collect();
        widths.sort_unstable();
        widths.dedup();
        let mut classes: Vec<HeadClass> = widths
            .into_iter()
            .map(|width| HeadClass {
                width,
                fields: Vec::new(),
                offset: 0,
            })
            .collect();
        let mut place = Vec::with_capacity(lens.len());
        for (f, &l) in lens.iter().enumerate() {
            let c = classes
                .iter()
                .position(|c| c.width == Heads::width(l))
                .expect("every width has its class");
            place.push((c, classes[c].fields.len()));
            classes[c].fields.push(f);
        }
        let mut total = 0;
        for c in &mut classes {
            c.offset = total;
            total += c.width * c.fields.len();
        }
        Heads {
            classes,
            place,
            total,
        }
    }

    /// The output slot of field `f`'s value `i`.
    fn slot(&self, f: usize, i: usize) -> usize {
        let (c, j) = self.place[f];
        let class = &self.classes[c];
        class.offset + j * class.width + i
    }

    /// Field `f`'s slots: first and how many.
    fn span(&self, f: usize) -> (usize, usize) {
        let (c, _) = self.place[f];
        (self.slot(f, 0), self.classes[c].width)
    }
}

/// The saved-model format this build reads and writes.
pub const FORMAT: &str = "anomalog-ae-6";

/// A `rows x cols` parameter drawn from Uniform(-scale, scale) with the seeded generator
/// (candle's CPU generator cannot be seeded).
pub(crate) fn init(
    rng: &mut StdRng,
    rows: usize,
    cols: usize,
    scale: f32,
) -> Result<Var, ModelError> {
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-scale..scale))
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        data,
        (rows, cols),
        &Device::Cpu,
    )?)?)
}

/// Added to the logits of a field's padding slots. Low enough that a padding slot never
/// counts (`e^-80` is 1.8e-35 of the softmax's mass), high enough that its exponential stays
/// a normal float: `-1e9` sent every padding slot down libm's slow underflow path (17 % of a
/// training's time on a 1 M-record fleet). Training's loss leaves padding out altogether
/// (its gradient there would be subnormal: `cross_entropy::FieldCrossEntropy`); scoring's
/// log-softmax adds the mask.
const MASKED: f32 = -80.0;

/// Embedding rows per field: its vocabulary (padded to `vmax`), and with the masked objective
/// its mask token after it.
fn stride(config: &AeConfig, vmax: usize) -> usize {
    match config.objective {
        Objective::Masked => vmax + 1,
        Objective::Swap | Objective::Hybrid => vmax,
    }
}

/// The output layer's weights, drawn as they were when every field had `vmax` slots (the
/// same draws, the same order) and placed in the [`Heads`] layout: a field's real slots start
/// from the weights they always had, so packing the layout changed no ranking's substance.
fn output_init(
    rng: &mut StdRng,
    hidden: usize,
    heads: &Heads,
    lens: &[usize],
    vmax: usize,
) -> Result<Var, ModelError> {
    let padded = lens.len() * vmax;
    let scale = (6.0 / (hidden + padded) as f32).sqrt();
    let drawn: Vec<f32> = (0..hidden * padded)
        .map(|_| rng.random_range(-scale..scale))
        .collect();
    let mut w = vec![0f32; hidden * heads.total];
    for row in 0..hidden {
        for (f, &len) in lens.iter().enumerate() {
            let from = row * padded + f * vmax;
            let to = row * heads.total + heads.slot(f, 0);
            w[to..to + len].copy_from_slice(&drawn[from..from + len]);
        }
    }
    Ok(Var::from_tensor(&Tensor::from_vec(
        w,
        (hidden, heads.total),
        &Device::Cpu,
    )?)?)
}

/// `log softmax` along `dim`, as `candle_nn::ops::log_softmax` computes it, with the shift by
/// the maximum kept out of the gradient: it cancels exactly (the shift's derivative is
/// `-1 + sum softmax = 0`), and back-propagating through `max` (a comparison and a reduction
/// per step) cost about a tenth of training.
fn log_softmax(xs: &Tensor, dim: usize) -> Result<Tensor, ModelError> {
    let max = xs.max_keepdim(dim)?.detach();
    let diff = xs.broadcast_sub(&max)?;
    let sum_exp = diff.exp()?.sum_keepdim(dim)?;
    Ok(diff.broadcast_sub(&sum_exp.log()?)?)
}

fn zeros(cols: usize) -> Result<Var, ModelError> {
    Ok(Var::zeros(cols, DType::F32, &Device::Cpu)?)
}

impl Autoencoder {
    fn var(&self, name: &str) -> &Tensor {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_tensor())
            .expect("known parameter")
    }

    fn new(encoder: Encoder, config: AeConfig) -> Result<Self, ModelError> {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let nf = encoder.fields.len();
        let lens: Vec<usize> = encoder.fields.iter().map(|f| f.len()).collect();
        let vmax = lens.iter().copied().max().unwrap_or(1);
        let heads = Heads::new(&lens);
        let mut mask = vec![MASKED; heads.total];
        for (f, &len) in lens.iter().enumerate() {
            let at = heads.slot(f, 0);
            mask[at..at + len].fill(0.0);
        }
        let spans: Arc<[(usize, usize)]> = (0..nf).map(|f| heads.span(f)).collect();
        let pad: Arc<[f32]> = Arc::from(mask);
        let n_in =
            nf * config.embed_dim + 2 + encoder.token_fields.len() * super::encode::TOKEN_BUCKETS;
        let g = |a: usize, b: usize| (6.0 / (a + b) as f32).sqrt();
        let (h, z) = (config.hidden, config.bottleneck);
        let vars = vec![
            (
                "emb".to_string(),
                init(&mut rng, nf * stride(&config, vmax), config.embed_dim, 0.5)?,
            ),
            ("w1".into(), init(&mut rng, n_in, h, g(n_in, h))?),
            ("b1".into(), zeros(h)?),
            ("w2".into(), init(&mut rng, h, z, g(h, z))?),
            ("b2".into(), zeros(z)?),
            ("w3".into(), init(&mut rng, z, h, g(z, h))?),
            ("b3".into(), zeros(h)?),
            ("wo".into(), output_init(&mut rng, h, &heads, &lens, vmax)?),
            ("bo".into(), zeros(heads.total)?),
            ("wn".into(), init(&mut rng, h, 2, g(h, 2))?),
            ("bn".into(), zeros(2)?),
        ];
        Ok(Autoencoder {
            encoder,
            config,
            stats: LossStats {
                mean: Vec::new(),
                std: Vec::new(),
            },
            vars,
            vmax,
            heads,
            pad,
            spans,
        })
    }

    /// The decoder's last hidden layer `(B, hidden)` for `b` rows (`idx` may hold a field's
    /// mask token, index `vmax`).
    fn hidden(
        &self,
        idx: &[u32],
        numeric: &[f32],
        tokens: &[f32],
        b: usize,
    ) -> Result<Tensor, ModelError> {
        let nf = self.encoder.fields.len();
        let dev = &Device::Cpu;
        // Shift each field's index into its slice of the shared embedding table.
        let stride = stride(&self.config, self.vmax);
        let shifted: Vec<u32> = idx
            .iter()
            .enumerate()
            .map(|(k, &i)| i.min(self.vmax as u32) + ((k % nf) * stride) as u32)
            .collect();
        let ids = Tensor::from_vec(shifted, b * nf, dev)?;
        let emb = self
            .var("emb")
            .index_select(&ids, 0)?
            .reshape((b, nf * self.config.embed_dim))?;
        let num = Tensor::from_vec(numeric.to_vec(), (b, 2), dev)?;
        let tok = Tensor::from_vec(tokens.to_vec(), (b, tokens.len() / b.max(1)), dev)?;
        let x = Tensor::cat(&[&emb, &num, &tok], 1)?;
        let ones = Tensor::ones((b, 1), DType::F32, dev)?;
        let h1 = self.affine(&x, "w1", "b1", &ones)?.relu()?;
        let z = self.affine(&h1, "w2", "b2", &ones)?.relu()?;
        Ok(self.affine(&z, "w3", "b3", &ones)?.relu()?)
    }

    /// `x · w + b` for the `b` rows of `x` (`ones` is their `(b, 1)` column of ones). The
    /// bias enters as `ones · b`, exactly `b` on every row: its gradient is then a matrix
    /// product, where a broadcast's gradient is a strided reduction over the batch that
    /// cost about a fifth of training.
    fn affine(&self, x: &Tensor, w: &str, b: &str, ones: &Tensor) -> Result<Tensor, ModelError> {
        let bias = self.var(b);
        let bias = ones.matmul(&bias.reshape((1, bias.dim(0)?))?)?;
        Ok(x.matmul(self.var(w))?.add(&bias)?)
    }

    /// The output layers on the `b` hidden states `h3`: the logits `(B, slots)`, padding not
    /// yet masked, and the numeric output `(B, 2)`.
    fn outputs(&self, h3: &Tensor, b: usize) -> Result<(Tensor, Tensor), ModelError> {
        let ones = Tensor::ones((b, 1), DType::F32, &Device::Cpu)?;
        let logits = self.affine(h3, "wo", "bo", &ones)?;
        let nout = self.affine(h3, "wn", "bn", &ones)?;
        Ok((logits, nout))
    }

    /// The padding mask of output slots `lo..lo + n`, as a tensor.
    fn mask(&self, lo: usize, n: usize) -> Result<Tensor, ModelError> {
        Ok(Tensor::from_slice(&self.pad[lo..lo + n], n, &Device::Cpu)?)
    }

    /// Forward pass: per class of [`Heads`], log-probabilities `(B, fields, width)`, and the
    /// numeric output `(B, 2)`.
    fn forward(
        &self,
        idx: &[u32],
        numeric: &[f32],
        tokens: &[f32],
        b: usize,
    ) -> Result<(Vec<Tensor>, Tensor), ModelError> {
        let h3 = self.hidden(idx, numeric, tokens, b)?;
        let (logits, nout) = self.outputs(&h3, b)?;
        let logits = logits.broadcast_add(&self.mask(0, self.pad.len())?)?;
        let lp = self
            .heads
            .classes
            .iter()
            .map(|c| {
                let n = c.fields.len();
                let part = logits
                    .narrow(1, c.offset, n * c.width)?
                    .reshape((b, n, c.width))?;
                log_softmax(&part, 2)
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok((lp, nout))
    }

    /// Per class of [`Heads`], the `(B, fields, 1)` tensor of `values[row * nf + field]`.
    fn by_class<T: candle_core::WithDType>(
        &self,
        values: &[T],
        b: usize,
    ) -> Result<Vec<Tensor>, ModelError> {
        let nf = self.encoder.fields.len();
        self.heads
            .classes
            .iter()
            .map(|c| {
                let v: Vec<T> = (0..b)
                    .flat_map(|r| c.fields.iter().map(move |&f| values[r * nf + f]))
                    .collect();
                Ok(Tensor::from_vec(v, (b, c.fields.len(), 1), &Device::Cpu)?)
            })
            .collect()
    }

    /// Log-probabilities `(B, width)` of field `f`'s head alone, from hidden states.
    fn head(&self, h3: &Tensor, f: usize) -> Result<Tensor, ModelError> {
        let (lo, n) = self.spans[f];
        let logits = h3
            .matmul(&self.var("wo").narrow(1, lo, n)?)?
            .broadcast_add(&self.var("bo").narrow(0, lo, n)?)?
            .broadcast_add(&self.mask(lo, n)?)?;
        log_softmax(&logits, 1)
    }

    /// Weighted training loss of a batch: `input` is what the model sees (mask tokens
    /// included), `target` the true indices, `field_w` the weight of each (row, field)'s
    /// cross-entropy and `weights` each row's weight (for the numeric head).
    ///
    /// The cross-entropy is [`Autoencoder::forward`]'s log-softmax per field and the
    /// target's log-probability, computed by [`FieldCrossEntropy`] in one operation.
    #[allow(clippy::too_many_arguments)]
    fn loss(
        &self,
        input: &[u32],
        target: &[u32],
        numeric: &[f32],
        tokens: &[f32],
        field_w: &[f32],
        weights: &[f32],
        b: usize,
    ) -> Result<Tensor, ModelError> {
        let dev = &Device::Cpu;
        let nf = self.encoder.fields.len();
        let h3 = self.hidden(input, numeric, tokens, b)?;
        let (logits, nout) = self.outputs(&h3, b)?;
        let targets = target
            .chunks(nf.max(1))
            .flat_map(|row| {
                row.iter().zip(self.spans.iter()).map(|(&t, &(lo, n))| {
                    // A target past its field's slots (never from the encoder) reads the last.
                    (lo + (t as usize).min(n.saturating_sub(1))) as u32
                })
            })
            .collect();
        let ce = logits.apply_op1(FieldCrossEntropy::new(
            self.spans.clone(),
            self.pad.clone(),
            targets,
            field_w.to_vec(),
        ))?;
        let w = Tensor::from_vec(weights.to_vec(), (b, 1), dev)?;
        let target = Tensor::from_vec(numeric.to_vec(), (b, 2), dev)?;
        let mse = (nout - target)?.sqr()?.broadcast_mul(&w)?.sum_all()?;
        Ok((ce + mse)?)
    }

    /// Train on `ds`. `on_epoch` hears about every epoch; `cancel` stops training within a
    /// batch.
    pub fn train(
        ds: &Dataset,
        config: AeConfig,
        cancel: &AtomicBool,
        on_epoch: &mut dyn FnMut(EpochReport),
    ) -> Result<Autoencoder, ModelError> {
        Ok(Autoencoder::fit(ds, config, cancel, on_epoch)?.0)
    }

    /// [`Autoencoder::train`] and [`Autoencoder::score`] in one: the pass that gives the loss
    /// statistics also gives the ranking.
    pub fn train_and_score(
        ds: &Dataset,
        config: AeConfig,
        cancel: &AtomicBool,
        on_epoch: &mut dyn FnMut(EpochReport),
    ) -> Result<(Autoencoder, Ranking), ModelError> {
        let (model, data, losses) = Autoencoder::fit(ds, config, cancel, on_epoch)?;
        let ranking = model.ranking(ds, &data, losses);
        Ok((model, ranking))
    }

    /// [`Autoencoder::train`] and [`Autoencoder::contradictions`] in one pass.
    pub fn train_contradicting(
        ds: &Dataset,
        config: AeConfig,
        cancel: &AtomicBool,
        on_epoch: &mut dyn FnMut(EpochReport),
    ) -> Result<(Autoencoder, Contradictions), ModelError> {
        let (model, data, losses) = Autoencoder::fit(ds, config, cancel, on_epoch)?;
        let found = model.contradictions_of(ds, &data, losses);
        Ok((model, found))
    }

    /// The model learnt from `ds`, `ds` encoded, and its field losses on `ds`: the one
    /// scoring pass that gives the loss statistics, which the callers also rank or read
    /// contradictions from.
    fn fit(
        ds: &Dataset,
        config: AeConfig,
        cancel: &AtomicBool,
        on_epoch: &mut dyn FnMut(EpochReport),
    ) -> Result<(Autoencoder, Encoded, FieldLosses), ModelError> {
        if ds.uniques.is_empty() {
            return Err(ModelError::Empty);
        }
        let encoder = Encoder::fit(ds, config.encode);
        let data = encoder.encode(ds);
        let mut model = Autoencoder::new(encoder, config)?;
        let vars: Vec<Var> = model.vars.iter().map(|(_, v)| v.clone()).collect();
        let mut opt = Adam::new(
            vars,
            AdamParams {
                lr: config.learning_rate,
                weight_decay: 1e-5,
                ..AdamParams::default()
            },
        );
        let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(0x5EED));
        let rows = data.rows;
        let nf = data.n_fields;
        let weight_of = |c: u64| match config.weighting {
            Weighting::Unique => 1.0f32,
            Weighting::LogCount => 1.0 + (c as f32).ln(),
            Weighting::Count => c as f32,
        };
        let row_w: Vec<f32> = data.counts.iter().map(|&c| weight_of(c)).collect();
        // Unique events marked benign (`--exclude-benign`) are scored but not learnt from.
        let mut order: Vec<usize> = (0..rows).filter(|&r| ds.trains_on(r)).collect();
        if order.is_empty() {
            return Err(ModelError::Empty);
        }
        let mean_w = order.iter().map(|&r| row_w[r]).sum::<f32>() / order.len() as f32;
        let groups = model.encoder.group_list();
        let epochs = config.epochs_for(order.len());
        let start = Instant::now();
        for epoch in 1..=epochs {
            order.shuffle(&mut rng);
            let mut sum = 0.0f64;
            for batch in order.chunks(config.batch_for(order.len())) {
                if cancel.load(Ordering::Relaxed) {
                    return Err(ModelError::Cancelled);
                }
                let corrupt = Corruption {
                    config: &config,
                    groups: &groups,
                    token_fields: &model.encoder.token_fields,
                    mask_index: model.vmax as u32,
                };
                let Batch {
                    idx,
                    target,
                    field_w,
                    num,
                    w,
                    tok,
                } = corrupt.batch(&data, batch, &row_w, mean_w, &mut rng);
                let b = batch.len();
                let loss = model.loss(&idx, &target, &num, &tok, &field_w, &w, b)?;
                opt.backward_step(&loss)?;
                sum += f64::from(loss.to_scalar::<f32>()?) * b as f64;
            }
            let elapsed = start.elapsed().as_secs_f64();
            on_epoch(EpochReport {
                epoch,
                epochs,
                loss: sum / order.len() as f64,
                elapsed,
                eta: elapsed / epoch as f64 * (epochs - epoch) as f64,
            });
        }
        let losses = model.field_losses(&data, ds)?;
        model.stats = loss_stats(&losses.total, nf);
        Ok((model, data, losses))
    }

    /// Per row and field: the loss and its two parts, the expected index and its
    /// probability. With [`Objective::Masked`] each field is scored with that field hidden
    /// (and its token bag emptied): one pass of the network per field, each reading one head.
    fn field_losses(&self, data: &Encoded, ds: &Dataset) -> Result<FieldLosses, ModelError> {
        let nf = data.n_fields;
        let masked = self.config.objective == Objective::Masked;
        let n = data.rows * nf;
        let mut out = FieldLosses {
            total: vec![0f32; n],
            conditional: vec![0f32; n],
            rarity: vec![0f32; n],
            expect: vec![0u32; n],
            probs: vec![0f32; n],
            gain: vec![0f32; n],
        };
        let nt = data.n_tokens;
        let chunk = 2048;
        for start in (0..data.rows).step_by(chunk) {
            let b = chunk.min(data.rows - start);
            let idx = &data.indices[start * nf..(start + b) * nf];
            let num = &data.numeric[start * 2..(start + b) * 2];
            let tok = &data.tokens[start * nt..(start + b) * nt];
            // Per field: log p(target), the best index and its log-probability, per row.
            let mut per_field: Vec<(Vec<f32>, Vec<u32>, Vec<f32>)> = Vec::with_capacity(nf);
            match self.config.objective {
                Objective::Masked => {
                    // One pass per group of fields hidden together, reading each member's
                    // head.
                    per_field.resize(nf, (Vec::new(), Vec::new(), Vec::new()));
                    for group in self.encoder.group_list() {
                        let mut hidden_idx = idx.to_vec();
                        let mut hidden_tok = tok.to_vec();
                        for &f in &group {
                            for r in 0..b {
                                hidden_idx[r * nf + f] = self.vmax as u32;
                            }
                            if let Some(k) = self.encoder.token_fields.iter().position(|&t| t == f)
                            {
                                for r in 0..b {
                                    let at = r * nt + k * TOKEN_BUCKETS;
                                    hidden_tok[at..at + TOKEN_BUCKETS].fill(0.0);
                                }
                            }
                        }
                        let h3 = self.hidden(&hidden_idx, num, &hidden_tok, b)?;
                        for &f in &group {
                            let lp = self.head(&h3, f)?; // (B, vmax)
                            let target: Vec<u32> = (0..b).map(|r| idx[r * nf + f]).collect();
                            let target = Tensor::from_vec(target, (b, 1), &Device::Cpu)?;
                            let picked = lp.gather(&target, 1)?.squeeze(1)?.to_vec1::<f32>()?;
                            let best = lp.argmax_keepdim(1)?.squeeze(1)?.to_vec1::<u32>()?;
                            let best_lp = lp.max_keepdim(1)?.squeeze(1)?.to_vec1::<f32>()?;
                            per_field[f] = (picked, best, best_lp);
                        }
                    }
                }
                Objective::Swap | Objective::Hybrid => {
                    per_field.resize(nf, (Vec::new(), Vec::new(), Vec::new()));
                    let (lp, _) = self.forward(idx, num, tok, b)?;
                    let targets = self.by_class(idx, b)?;
                    for ((lp, target), class) in lp.iter().zip(&targets).zip(&self.heads.classes) {
                        let picked = lp.gather(target, 2)?.squeeze(2)?.to_vec2::<f32>()?;
                        let best = lp.argmax_keepdim(2)?.squeeze(2)?.to_vec2::<u32>()?;
                        let best_lp = lp.max_keepdim(2)?.squeeze(2)?.to_vec2::<f32>()?;
                        for (j, &f) in class.fields.iter().enumerate() {
                            per_field[f] = (
                                (0..b).map(|r| picked[r][j]).collect(),
                                (0..b).map(|r| best[r][j]).collect(),
                                (0..b).map(|r| best_lp[r][j]).collect(),
                            );
                        }
                    }
                }
            }
            for (f, (picked, best, best_lp)) in per_field.iter().enumerate() {
                for r in 0..b {
                    let at = (start + r) * nf + f;
                    let target = idx[r * nf + f];
                    let value = Encoder::value_of(ds, start + r, f);
                    let field = &self.encoder.fields[f];
                    let mut conditional = -picked[r];
                    let mut rarity = 0.0;
                    if self.config.prior_weight > 0.0 {
                        rarity = self.config.prior_weight * field.surprisal(&value);
                    } else if target == RARE {
                        conditional += field.within_rare_surprisal(&value);
                    }
                    // A confident contradiction: the other fields named another value with
                    // at least CONFIDENT probability. Its surprise weighs 1 + w·p times: a
                    // rare value the model could not have predicted (a diffuse guess) is not
                    // a contradiction, a combination it was sure of and that did not happen
                    // is (field 0, the event kind, never is).
                    let p_best = best_lp[r].exp();
                    if masked && f > 0 && best[r] != target && p_best >= CONFIDENT {
                        let plain = conditional;
                        conditional *= 1.0 + self.config.contradiction * p_best;
                        out.gain[at] = conditional - plain;
                    }
                    out.conditional[at] = conditional;
                    out.rarity[at] = rarity;
                    out.total[at] = conditional + rarity;
                    out.expect[at] = best[r];
                    out.probs[at] = best_lp[r].exp();
                }
            }
        }
        Ok(out)
    }

    /// Score every unique event of `ds` (which must come from the profile the model was
    /// trained on).
    pub fn score(&self, ds: &Dataset) -> Result<Ranking, ModelError> {
        self.check_fits(ds)?;
        let data = self.encoder.encode(ds);
        let losses = self.field_losses(&data, ds)?;
        Ok(self.ranking(ds, &data, losses))
    }

    /// Refuse events of another profile or other fields than the model learnt.
    fn check_fits(&self, ds: &Dataset) -> Result<(), ModelError> {
        if ds.profile != self.encoder.profile {
            return Err(ModelError::Incompatible(format!(
                "the model was trained on the {} profile, these events are {}",
                self.encoder.profile, ds.profile
            )));
        }
        if !self.encoder.fits(ds) {
            return Err(ModelError::Incompatible(
                "the model was trained on other fields (an older anomalog?); train it again".into(),
            ));
        }
        Ok(())
    }

    /// What the masked model's confident contradictions add on `ds` (which must come from
    /// the profile the model was trained on); all zero for other objectives.
    pub fn contradictions(&self, ds: &Dataset) -> Result<Contradictions, ModelError> {
        self.check_fits(ds)?;
        let data = self.encoder.encode(ds);
        let losses = self.field_losses(&data, ds)?;
        Ok(self.contradictions_of(ds, &data, losses))
    }

    fn contradictions_of(
        &self,
        ds: &Dataset,
        data: &Encoded,
        losses: FieldLosses,
    ) -> Contradictions {
        let rows = data.rows;
        let nf = self.encoder.fields.len();
        Contradictions {
            gain: (0..rows)
                .map(|r| losses.gain[r * nf + 1..(r + 1) * nf].to_vec())
                .collect(),
            expected: self.expected_values(ds, data, &losses.expect, &losses.probs),
            rarity: (0..rows)
                .map(|r| losses.rarity[r * nf + 1..(r + 1) * nf].to_vec())
                .collect(),
        }
    }

    /// Per row and profile field, the most probable value (by its index in `expect`) and its
    /// probability. Where that is the event's own value's index, the event's value; where it
    /// is the rare bucket, what the bucket holds in words ("a value seen fewer than 3
    /// times"), never the event's own rare value posing as the expectation.
    fn expected_values(
        &self,
        ds: &Dataset,
        data: &Encoded,
        expect: &[u32],
        probs: &[f32],
    ) -> Vec<Vec<(Arc<str>, f32)>> {
        let nf = self.encoder.fields.len();
        let vocab: Vec<Vec<Arc<str>>> = self
            .encoder
            .fields
            .iter()
            .map(|f| {
                f.values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Arc::from(if i == 0 { "(rare)" } else { v.as_str() }))
                    .collect()
            })
            .collect();
        let min = self.encoder.config.min_count;
        let most = self.encoder.config.max_vocab;
        let rare: Vec<Arc<str>> = self
            .encoder
            .fields
            .iter()
            .map(|f| {
                Arc::from(if f.values.len() >= most {
                    format!(
                        "(a rare value: seen fewer than {min} times, or not among the {most} most common)"
                    )
                } else {
                    format!("(a value seen fewer than {min} times)")
                })
            })
            .collect();
        (0..data.rows)
            .map(|r| {
                (1..nf)
                    .map(|f| {
                        let at = r * nf + f;
                        let v = if expect[at] == RARE {
                            rare[f].clone()
                        } else if data.indices.get(at) == Some(&expect[at]) {
                            ds.uniques
                                .get(r)
                                .and_then(|u| u.values.get(f - 1))
                                .cloned()
                                .unwrap_or_else(|| Arc::from(""))
                        } else {
                            // The head is masked to each field's vocabulary; a damaged
                            // model's weights could still point past it: then the rare
                            // bucket.
                            vocab[f]
                                .get(expect[at] as usize)
                                .or_else(|| vocab[f].first())
                                .cloned()
                                .unwrap_or_else(|| Arc::from(""))
                        };
                        (v, probs[at])
                    })
                    .collect()
            })
            .collect()
    }

    /// The ranking of `rows` unique events from their field losses.
    fn ranking(&self, ds: &Dataset, data: &Encoded, losses: FieldLosses) -> Ranking {
        let rows = data.rows;
        let nf = self.encoder.fields.len();
        let FieldLosses {
            total: losses,
            conditional,
            rarity,
            expect,
            probs,
            ..
        } = losses;
        let mut scores = Vec::with_capacity(rows);
        let mut field_scores = Vec::with_capacity(rows);
        let mut field_z = Vec::with_capacity(rows);
        for r in 0..rows {
            let row = &losses[r * nf..(r + 1) * nf];
            scores.push(row.iter().map(|&l| f64::from(l)).sum());
            // Field 0 is the event kind; the profile's fields follow.
            field_scores.push(row[1..].to_vec());
            field_z.push(
                (1..nf)
                    .map(|f| (row[f] - self.stats.mean[f]) / self.stats.std[f].max(1e-3))
                    .collect(),
            );
        }
        let mut ranking = Ranking::from_scores(super::ModelKind::Ae, ds, scores, field_scores);
        ranking.field_z = field_z;
        ranking.expected = self.expected_values(ds, data, &expect, &probs);
        // Field 0 is the event kind; the profile's fields follow. With the masked objective
        // the first part is the surprise of the field predicted without seeing itself; with
        // the swap objective everything beyond the value's rarity.
        {
            ranking.field_parts = (0..rows)
                .map(|r| {
                    (1..nf)
                        .map(|f| (conditional[r * nf + f], rarity[r * nf + f]))
                        .collect()
                })
                .collect();
        }
        ranking
    }

    /// Save weights (safetensors) with the encoder, configuration and loss statistics as JSON
    /// in the file's metadata: one file holds everything needed to score new logs. Not
    /// atomic: the command line writes [`Autoencoder::to_bytes`] through a temporary file.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        std::fs::write(path, self.to_bytes()?)
            .map_err(|e| ModelError::Io(format!("{}: {e}", path.display())))
    }

    /// The file [`Autoencoder::save`] writes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let (tensors, mut meta) = self.parts("")?;
        meta.insert("format".to_string(), FORMAT.to_string());
        serialize(tensors, meta)
    }

    /// Load a model saved by [`Autoencoder::save`] ([`super::Saved::load`], which reads
    /// either format); refuses other files, a hybrid's included.
    pub fn load(path: &Path) -> Result<Autoencoder, ModelError> {
        match super::Saved::load(path)? {
            super::Saved::Ae(m) => Ok(*m),
            super::Saved::Hybrid(_) => Err(ModelError::Incompatible(format!(
                "{}: a hybrid model (three autoencoders): `rank --baseline` reads it",
                path.display()
            ))),
        }
    }

    /// The weights, named `{prefix}{name}`, and the metadata, keyed `{prefix}{key}`, that
    /// rebuild this model ([`Autoencoder::from_parts`]).
    pub(crate) fn parts(&self, prefix: &str) -> Result<Parts, ModelError> {
        let mut meta = HashMap::new();
        meta.insert(
            "anomalog_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        );
        meta.insert(format!("{prefix}encoder"), json(&self.encoder)?);
        meta.insert(format!("{prefix}config"), json(&self.config)?);
        meta.insert(format!("{prefix}stats"), json(&self.stats)?);
        let tensors = self
            .vars
            .iter()
            .map(|(n, v)| (format!("{prefix}{n}"), v.as_tensor().clone()))
            .collect();
        Ok((tensors, meta))
    }

    /// The model whose [`Autoencoder::parts`] `file` holds under `prefix`. Every length
    /// the model indexes by, and every weight, is checked: a file is input.
    pub(crate) fn from_parts(file: &SavedFile, prefix: &str) -> Result<Autoencoder, ModelError> {
        let bad = |why: String| file.bad(why);
        let get = |k: &str| file.meta(&format!("{prefix}{k}"));
        let mut encoder: Encoder =
            serde_json::from_str(get("encoder")?).map_err(|e| bad(e.to_string()))?;
        encoder
            .validate()
            .map_err(|e| bad(format!("a damaged encoder: {e}")))?;
        encoder.rebuild();
        let config: AeConfig =
            serde_json::from_str(get("config")?).map_err(|e| bad(e.to_string()))?;
        let stats: LossStats =
            serde_json::from_str(get("stats")?).map_err(|e| bad(e.to_string()))?;
        let mut model = Autoencoder::new(encoder, config)?;
        for (name, var) in &mut model.vars {
            let t = file.tensor(&format!("{prefix}{name}"))?;
            if t.dims() != var.as_tensor().dims() {
                return Err(bad(format!(
                    "{name} has shape {:?}, expected {:?}",
                    t.dims(),
                    var.as_tensor().dims()
                )));
            }
            let finite = t
                .to_dtype(candle_core::DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .all(|x| x.is_finite());
            if !finite {
                return Err(bad(format!("{name} holds values that are not finite")));
            }
            var.set(t)?;
        }
        if stats.mean.len() != model.encoder.fields.len()
            || stats.std.len() != model.encoder.fields.len()
            || !stats.mean.iter().chain(&stats.std).all(|x| x.is_finite())
        {
            return Err(bad("loss statistics do not match the fields".into()));
        }
        model.stats = stats;
        Ok(model)
    }
}

/// Named weights and metadata entries, as a safetensors file holds them.
pub(crate) type Parts = (Vec<(String, Tensor)>, HashMap<String, String>);

fn json<T: Serialize>(v: &T) -> Result<String, ModelError> {
    serde_json::to_string(v).map_err(|e| ModelError::Io(e.to_string()))
}

/// A safetensors file with its metadata.
fn serialize(
    tensors: Vec<(String, Tensor)>,
    meta: HashMap<String, String>,
) -> Result<Vec<u8>, ModelError> {
    safetensors::serialize(tensors, Some(meta)).map_err(|e| ModelError::Io(e.to_string()))
}

/// The largest model file read: a model of 100 000 unique events is a few megabytes.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// A saved model's file, read and checked to be an anomalog model of some format.
pub(crate) struct SavedFile {
    path: String,
    meta: HashMap<String, String>,
    tensors: HashMap<String, Tensor>,
}

impl SavedFile {
    pub(crate) fn read(path: &Path) -> Result<SavedFile, ModelError> {
        let name = path.display().to_string();
        let bad = |why: String| ModelError::Incompatible(format!("{name}: {why}"));
        let io = |e: std::io::Error| ModelError::Io(format!("{name}: {e}"));
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_MODEL_BYTES {
            return Err(bad(format!(
                "{size} bytes, more than any anomalog model ({MAX_MODEL_BYTES})"
            )));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not an anomalog model ({e})")))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| bad("not an anomalog model (no metadata)".into()))?;
        if !meta.contains_key("format") {
            return Err(bad("not an anomalog model".into()));
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?;
        Ok(SavedFile {
            path: name,
            meta,
            tensors,
        })
    }

    pub(crate) fn format(&self) -> &str {
        self.meta.get("format").map_or("", String::as_str)
    }

    /// An error about this file.
    pub(crate) fn bad(&self, why: String) -> ModelError {
        ModelError::Incompatible(format!("{}: {why}", self.path))
    }

    pub(crate) fn meta(&self, key: &str) -> Result<&str, ModelError> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.bad(format!("metadata lacks {key}")))
    }

    fn tensor(&self, name: &str) -> Result<&Tensor, ModelError> {
        self.tensors
            .get(name)
            .ok_or_else(|| self.bad(format!("weights lack {name}")))
    }
}

fn loss_stats(losses: &[f32], nf: usize) -> LossStats {
    let rows = losses.len() / nf.max(1);
    let mut mean = vec![0f32; nf];
    let mut std = vec![0f32; nf];
    for f in 0..nf {
        let vals = (0..rows).map(|r| losses[r * nf + f]);
        let m = vals.clone().sum::<f32>() / rows.max(1) as f32;
        let v = vals.map(|x| (x - m) * (x - m)).sum::<f32>() / rows.max(1) as f32;
        mean[f] = m;
        std[f] = v.sqrt();
    }
    LossStats { mean, std }
}

/// One training batch: per row and field the input index and the target, each field's loss
/// weight; per row the two numbers, its weight and its token bags.
struct Batch {
    idx: Vec<u32>,
    target: Vec<u32>,
    field_w: Vec<f32>,
    num: Vec<f32>,
    w: Vec<f32>,
    tok: Vec<f32>,
}

/// How training corrupts a batch's rows: the masked objective hides groups of fields behind
/// their mask token (and scores only those), the swap objective swaps fields with another
/// row's. The random draws come in a fixed order, so a seed gives one model.
struct Corruption<'a> {
    config: &'a AeConfig,
    /// The groups of fields hidden together (a raw value and what is derived from it).
    groups: &'a [Vec<usize>],
    /// The fields with token bags, in the order of their bags.
    token_fields: &'a [usize],
    /// The mask token's index.
    mask_index: u32,
}

impl Corruption<'_> {
    /// The batch of `rows` (weights normalised so that a batch's average `1 / b`).
    fn batch(
        &self,
        data: &Encoded,
        rows: &[usize],
        row_w: &[f32],
        mean_w: f32,
        rng: &mut StdRng,
    ) -> Batch {
        let (b, nf, nt) = (rows.len(), data.n_fields, data.n_tokens);
        let mut out = Batch {
            idx: Vec::with_capacity(b * nf),
            target: Vec::with_capacity(b * nf),
            field_w: Vec::with_capacity(b * nf),
            num: Vec::with_capacity(b * 2),
            w: Vec::with_capacity(b),
            tok: Vec::with_capacity(b * nt),
        };
        for &r in rows {
            let row_tokens = out.tok.len();
            out.tok
                .extend_from_slice(&data.tokens[r * nt..(r + 1) * nt]);
            let rw = row_w[r] / mean_w / b as f32;
            if self.config.objective == Objective::Masked {
                self.masked_row(data, r, row_tokens, rw, rng, &mut out);
            } else {
                self.swapped_row(data, r, row_tokens, rw, rng, &mut out);
            }
            out.num.extend_from_slice(&data.numeric[r * 2..r * 2 + 2]);
            out.w.push(rw);
        }
        out
    }

    /// Where field `f`'s token bag lies in the batch's tokens, for the row whose bags start
    /// at `row_tokens`.
    fn token_slot(&self, f: usize, row_tokens: usize) -> Option<usize> {
        self.token_fields
            .iter()
            .position(|&t| t == f)
            .map(|k| row_tokens + k * TOKEN_BUCKETS)
    }

    /// Which fields a row hides: each group with the mask rate, at least one group.
    fn hidden(&self, nf: usize, rng: &mut StdRng) -> Vec<bool> {
        let mut h = vec![false; nf];
        let mut any = false;
        for g in self.groups {
            if rng.random_bool(self.config.mask_rate) {
                any = true;
                for &f in g {
                    h[f] = true;
                }
            }
        }
        if !any {
            for &f in &self.groups[rng.random_range(0..self.groups.len())] {
                h[f] = true;
            }
        }
        h
    }

    /// A masked row: its hidden fields behind the mask token (their token bags emptied: they
    /// would give the value away), scored alone and sharing the row's weight.
    fn masked_row(
        &self,
        data: &Encoded,
        r: usize,
        row_tokens: usize,
        rw: f32,
        rng: &mut StdRng,
        out: &mut Batch,
    ) {
        let nf = data.n_fields;
        let hide = self.hidden(nf, rng);
        let n_hidden = hide.iter().filter(|&&x| x).count().max(1) as f32;
        for (f, &hidden) in hide.iter().enumerate() {
            let truth = data.indices[r * nf + f];
            out.target.push(truth);
            if hidden {
                out.idx.push(self.mask_index);
                if let Some(to) = self.token_slot(f, row_tokens) {
                    out.tok[to..to + TOKEN_BUCKETS].fill(0.0);
                }
                out.field_w.push(rw * nf as f32 / n_hidden);
            } else {
                out.idx.push(truth);
                out.field_w.push(0.0);
            }
        }
    }

    /// A swap-noised row: each field, with the swap rate, another row's (its token bag
    /// along), reconstructed as given.
    fn swapped_row(
        &self,
        data: &Encoded,
        r: usize,
        row_tokens: usize,
        rw: f32,
        rng: &mut StdRng,
        out: &mut Batch,
    ) {
        let (nf, nt) = (data.n_fields, data.n_tokens);
        for f in 0..nf {
            let v = if rng.random_bool(self.config.swap_noise) {
                let other = rng.random_range(0..data.rows);
                if let Some(k) = self.token_fields.iter().position(|&t| t == f) {
                    let (from, to) = (
                        other * nt + k * TOKEN_BUCKETS,
                        row_tokens + k * TOKEN_BUCKETS,
                    );
                    out.tok[to..to + TOKEN_BUCKETS]
                        .copy_from_slice(&data.tokens[from..from + TOKEN_BUCKETS]);
                }
                data.indices[other * nf + f]
            } else {
                data.indices[r * nf + f]
            };
            out.idx.push(v);
            out.target.push(v);
            out.field_w.push(rw);
        }
    }
}
