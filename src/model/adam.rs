//! AdamW with decoupled weight decay, as `candle_nn::AdamW` computes it, in one pass over
//! each parameter.
//!
//! Why not `candle_nn::AdamW`: it updates a parameter with thirteen tensor operations (each a
//! fresh buffer) and three writes; the autoencoder's eleven parameters are a few thousand
//! numbers each, so the optimiser step was a fifth of a training on `samples/` (issue 25,
//! docs/benchmarks.md "Speed"). Here a step reads each gradient once, updates the moments and
//! the parameter in one loop, and writes the parameter back once.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::ModelError;

/// The optimiser's settings (`candle_nn::ParamsAdamW`'s meaning and defaults).
#[derive(Debug, Clone, Copy)]
pub struct AdamParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamParams {
    fn default() -> Self {
        AdamParams {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// One parameter with its two moments.
struct Slot {
    var: Var,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// AdamW over a fixed list of `f32` parameters on the CPU.
pub struct Adam {
    slots: Vec<Slot>,
    params: AdamParams,
    t: i32,
}

impl Adam {
    pub fn new(vars: Vec<Var>, params: AdamParams) -> Adam {
        let slots = vars
            .into_iter()
            .map(|var| {
                let n = var.elem_count();
                Slot {
                    var,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Adam {
            slots,
            params,
            t: 0,
        }
    }

    /// Back-propagate `loss` and take one step.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<(), ModelError> {
        let grads = loss.backward()?;
        self.step(&grads)
    }

    /// One step with the gradients in `grads` (a parameter without one is left as it is).
    pub fn step(&mut self, grads: &GradStore) -> Result<(), ModelError> {
        self.t = self.t.saturating_add(1);
        let p = self.params;
        // The same arithmetic as candle_nn's, in f32 where it computes in the tensors' dtype.
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let (c1, c2) = ((1.0 - p.beta1) as f32, (1.0 - p.beta2) as f32);
        let scale_m = (1.0 / (1.0 - p.beta1.powi(self.t))) as f32;
        let scale_v = (1.0 / (1.0 - p.beta2.powi(self.t))) as f32;
        let decay = (1.0 - p.lr * p.weight_decay) as f32;
        let (lr, eps) = (p.lr as f32, p.eps as f32);
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let g = g.flatten_all()?.to_vec1::<f32>()?;
            let shape = slot.var.shape().clone();
            let mut theta = slot.var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            for (((x, m), v), g) in theta
                .iter_mut()
                .zip(slot.m.iter_mut())
                .zip(slot.v.iter_mut())
                .zip(&g)
            {
                *m = *m * b1 + g * c1;
                *v = *v * b2 + (g * g) * c2;
                let step = (*m * scale_m) / ((*v * scale_v).sqrt() + eps);
                *x = *x * decay - step * lr;
            }
            let device = slot.var.device().clone();
            slot.var.set(&Tensor::from_vec(theta, shape, &device)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};

    /// The same steps as candle_nn's AdamW, to rounding, on a small least-squares problem.
    #[test]
    fn steps_like_candle_adamw() {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..24).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
            (6, 4),
            &dev,
        )
        .unwrap();
        let y = Tensor::from_vec(
            (0..12).map(|i| (i as f32 * 0.11).cos()).collect::<Vec<_>>(),
            (6, 2),
            &dev,
        )
        .unwrap();
        let start = Tensor::from_vec(
            (0..8).map(|i| i as f32 * 0.1 - 0.3).collect::<Vec<_>>(),
            (4, 2),
            &dev,
        )
        .unwrap();
        let (ours, theirs) = (
            Var::from_tensor(&start).unwrap(),
            Var::from_tensor(&start).unwrap(),
        );
        let (lr, weight_decay) = (0.05, 0.01);
        let mut a = Adam::new(
            vec![ours.clone()],
            AdamParams {
                lr,
                weight_decay,
                ..AdamParams::default()
            },
        );
        let mut b = AdamW::new(
            vec![theirs.clone()],
            ParamsAdamW {
                lr,
                weight_decay,
                ..ParamsAdamW::default()
            },
        )
        .unwrap();
        let loss = |w: &Var| {
            x.matmul(w.as_tensor())
                .unwrap()
                .sub(&y)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let first = loss(&ours).to_scalar::<f32>().unwrap();
        for _ in 0..50 {
            a.backward_step(&loss(&ours)).unwrap();
            b.backward_step(&loss(&theirs)).unwrap();
        }
        let diff = crate::model::max_abs_diff(ours.as_tensor(), theirs.as_tensor());
        assert!(diff < 1e-5, "parameters differ by {diff}");
        let last = loss(&ours).to_scalar::<f32>().unwrap();
        assert!(last < first * 0.95, "loss {first} -> {last}");
        assert_eq!(ours.dtype(), DType::F32);
    }
}
