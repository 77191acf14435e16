//! The autoencoder's training loss over its output layer as one tensor operation with its own
//! gradient: every field's log-softmax over its slots, the target's negative log-probability,
//! weighted and summed.
//!
//! Why: done with candle's operations, a field's cross-entropy took eight to ten of them per
//! class of heads (narrow, copy, max, subtract, exponential, sum, logarithm, gather), each a
//! fresh buffer and each again in the gradient; at a few hundred unique events those
//! operations, not the arithmetic, were most of a training's time (issue 25,
//! docs/benchmarks.md "Speed"). Here the forward pass and the gradient are each one loop over
//! the logits, and fields whose weight is zero (the masked objective's visible fields) are
//! skipped in both.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

/// `sum over rows r and fields f of weight[r, f] * -log softmax_f(logits[r])[target[r, f]]`,
/// where `softmax_f` runs over field `f`'s real slots: those whose padding mask is 0 (a
/// padding slot's is a large negative number, and it takes no part). The result is a scalar.
pub struct FieldCrossEntropy {
    /// Per field: its first slot and its number of slots in a row of logits.
    spans: Arc<[(usize, usize)]>,
    /// Per slot: the padding mask.
    pad: Arc<[f32]>,
    /// Per row and field (row-major): the target's slot in the row.
    targets: Vec<u32>,
    /// Per row and field: the weight of its cross-entropy.
    weights: Vec<f32>,
    /// The gradient of the loss with respect to the logits, `(rows, slots)` row-major, left
    /// by the forward pass (which computes every softmax anyway) for the backward one to
    /// scale: no exponential is computed twice.
    grad: std::sync::Mutex<Option<Vec<f32>>>,
}

impl FieldCrossEntropy {
    pub fn new(
        spans: Arc<[(usize, usize)]>,
        pad: Arc<[f32]>,
        targets: Vec<u32>,
        weights: Vec<f32>,
    ) -> Self {
        FieldCrossEntropy {
            spans,
            pad,
            targets,
            weights,
            grad: std::sync::Mutex::new(None),
        }
    }

    /// Rows, checked against the logits' shape `(rows, slots)`.
    fn rows(&self, shape: &Shape) -> candle_core::Result<usize> {
        let (b, total) = shape.dims2()?;
        let nf = self.spans.len();
        if total != self.pad.len()
            || self.targets.len() != b * nf
            || self.weights.len() != b * nf
            || self.spans.iter().any(|&(lo, n)| n == 0 || lo + n > total)
        {
            candle_core::bail!(
                "field cross-entropy: logits {b}x{total} do not match {nf} fields over {} slots",
                self.pad.len()
            );
        }
        Ok(b)
    }

    /// The loss of `b` rows of `logits` and its gradient with respect to them.
    fn loss_and_grad(&self, logits: &[f32], b: usize) -> (f32, Vec<f32>) {
        let (nf, total) = (self.spans.len(), self.pad.len());
        let mut loss = 0f32;
        let mut grad = vec![0f32; b * total];
        for r in 0..b {
            let row = &logits[r * total..(r + 1) * total];
            let out = &mut grad[r * total..(r + 1) * total];
            for (f, &(lo, n)) in self.spans.iter().enumerate() {
                let w = self.weights[r * nf + f];
                if w == 0.0 {
                    continue;
                }
                let (xs, pad) = (&row[lo..lo + n], &self.pad[lo..lo + n]);
                let max = xs
                    .iter()
                    .zip(pad)
                    .filter(|&(_, &m)| !is_padding(m))
                    .map(|(&x, _)| x)
                    .fold(f32::NEG_INFINITY, f32::max);
                // The exponentials of the real slots, kept where the gradient goes, then
                // normalised there. Padding slots stay exactly zero: see `is_padding`.
                let ps = &mut out[lo..lo + n];
                let mut sum = 0f32;
                for ((p, x), &m) in ps.iter_mut().zip(xs).zip(pad) {
                    if !is_padding(m) {
                        *p = (x - max).exp();
                        sum += *p;
                    }
                }
                let t = self.targets[r * nf + f] as usize;
                loss -= w * (row[t] + self.pad[t] - max - sum.ln());
                let scale = w / sum;
                for p in ps.iter_mut() {
                    *p *= scale;
                }
                out[t] -= w;
            }
        }
        (loss, grad)
    }
}

/// Whether a slot whose mask is `m` is padding. A padding slot is no part of its field's
/// distribution: it gets no probability in the loss and exactly zero gradient. Its
/// `e^-80` share used to give it gradients of about 1e-37, and the matrix products of the
/// backward pass carried those subnormal numbers at a fraction of normal speed: they were
/// most of a training's time (`samples/`: the swap model 0.31 s -> 0.12 s; issue 25,
/// docs/benchmarks.md "Subnormal gradients"). How slow a subnormal is depends on the
/// processor, so the same training took two to three times longer on some machines.
fn is_padding(m: f32) -> bool {
    m != 0.0
}

fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(all) = storage else {
        candle_core::bail!("field cross-entropy: logits must be f32");
    };
    match layout.contiguous_offsets() {
        Some((lo, hi)) => Ok(&all[lo..hi]),
        None => candle_core::bail!("field cross-entropy: logits must be contiguous"),
    }
}

impl CustomOp1 for FieldCrossEntropy {
    fn name(&self) -> &'static str {
        "field-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let b = self.rows(layout.shape())?;
        let logits = contiguous(storage, layout)?;
        let (loss, grad) = self.loss_and_grad(logits, b);
        *self.grad.lock().unwrap_or_else(|e| e.into_inner()) = Some(grad);
        Ok((CpuStorage::F32(vec![loss]), Shape::from(())))
    }

    /// `d loss / d logit = grad * weight * (softmax - [slot is the target])` over each
    /// weighted field's slots; zero elsewhere.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let b = self.rows(arg.shape())?;
        let g = grad_res.flatten_all()?.to_vec1::<f32>()?;
        let g = g.first().copied().unwrap_or(0.0);
        // The forward pass's gradient (taken: a graph runs its backward pass once), else
        // computed again.
        let kept = self.grad.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut grad = match kept {
            Some(grad) if grad.len() == arg.elem_count() => grad,
            _ => {
                let logits = arg.flatten_all()?.to_vec1::<f32>()?;
                self.loss_and_grad(&logits, b).1
            }
        };
        if g != 1.0 {
            grad.iter_mut().for_each(|x| *x *= g);
        }
        Ok(Some(Tensor::from_vec(grad, arg.shape(), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Var};

    /// Two fields of 3 and 2 slots (the second's last slot padding), two rows.
    fn op(weights: Vec<f32>) -> FieldCrossEntropy {
        FieldCrossEntropy::new(
            Arc::from(vec![(0, 3), (3, 2)]),
            Arc::from(vec![0.0, 0.0, 0.0, 0.0, -80.0]),
            vec![2, 3, 0, 3],
            weights,
        )
    }

    /// The same loss and gradient as candle's own operations (log-softmax per field, gather).
    #[test]
    fn matches_candle_ops() {
        let dev = Device::Cpu;
        let values: Vec<f32> = (0..10).map(|i| (i as f32 * 0.7).sin() * 3.0).collect();
        let weights = vec![0.5, 2.0, 1.5, 0.0];
        let ours = Var::from_vec(values.clone(), (2, 5), &dev).unwrap();
        let theirs = Var::from_vec(values, (2, 5), &dev).unwrap();
        let loss = ours.as_tensor().apply_op1(op(weights.clone())).unwrap();
        // Reference: per field, log_softmax of (logits + pad), the target's entry, weighted.
        let pad = Tensor::new(&[0f32, 0.0, 0.0, 0.0, -80.0], &dev).unwrap();
        let x = theirs.as_tensor().broadcast_add(&pad).unwrap();
        let a = candle_nn::ops::log_softmax(&x.narrow(1, 0, 3).unwrap(), D::Minus1).unwrap();
        let c = candle_nn::ops::log_softmax(&x.narrow(1, 3, 2).unwrap(), D::Minus1).unwrap();
        let picked = |lp: &Tensor, idx: &[u32]| {
            lp.gather(&Tensor::new(idx, &dev).unwrap().reshape((2, 1)).unwrap(), 1)
                .unwrap()
        };
        let both = Tensor::cat(&[picked(&a, &[2, 0]), picked(&c, &[0, 0])], 1).unwrap();
        let w = Tensor::from_vec(weights, (2, 2), &dev).unwrap();
        let reference = (both * w).unwrap().sum_all().unwrap().neg().unwrap();
        let (l1, l2) = (
            loss.to_scalar::<f32>().unwrap(),
            reference.to_scalar::<f32>().unwrap(),
        );
        assert!((l1 - l2).abs() < 1e-5, "{l1} vs {l2}");
        // Scaled, so that the upstream gradient is not 1.
        let g1 = (loss * 3.0).unwrap().backward().unwrap();
        let g2 = (reference * 3.0).unwrap().backward().unwrap();
        let (g1, g2) = (
            g1.get(ours.as_tensor()).unwrap().flatten_all().unwrap(),
            g2.get(theirs.as_tensor()).unwrap().flatten_all().unwrap(),
        );
        let diff = crate::model::max_abs_diff(&g1, &g2);
        assert!(diff < 1e-5, "gradients differ by {diff}");
    }

    /// Padding slots get exactly zero gradient, and no gradient is subnormal (they made the
    /// backward pass's matrix products several times slower).
    #[test]
    fn padding_gets_no_gradient() {
        let dev = Device::Cpu;
        // The second field's padding slot with a logit that would otherwise weigh.
        let x = Var::from_vec(
            vec![0.5f32, 1.0, -2.0, 3.0, 79.0, 0.1, 0.2, 0.3, -1.0, 60.0],
            (2, 5),
            &dev,
        )
        .unwrap();
        let loss = x
            .as_tensor()
            .apply_op1(op(vec![1.0, 1.0, 1.0, 1.0]))
            .unwrap();
        let grads = loss.backward().unwrap();
        let g = grads
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!((g[4], g[9]), (0.0, 0.0), "{g:?}");
        assert!(g.iter().all(|v| v.is_normal() || *v == 0.0), "{g:?}");
        // One real slot in the second field: it is certain, so its loss and gradient are 0.
        assert!(g[3].abs() < 1e-6 && g[8].abs() < 1e-6, "{g:?}");
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let x = Tensor::zeros((3, 5), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(x.apply_op1(op(vec![1.0; 4])).is_err());
    }
}
