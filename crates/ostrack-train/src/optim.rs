//! The optimizer step of the original, reproduced operation by operation: one global-norm
//! gradient clip over all gradients (`clip_grad_norm_`) and PyTorch 2.4's single-tensor AdamW
//! with its Python-float scalars rounded to f32 (fixtures README §I). Burn's AdamW rounds its
//! scalars differently and its clipping is per tensor, hence this module.

use std::collections::{BTreeMap, HashMap};

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use ostrack_model::OSTrack;
use ostrack_model::readback::{ReadBackError, read_f32};
use ostrack_weights::{HostTensor, StateDict};

use crate::error::TrainError;

/// AdamW hyper-parameters (PyTorch defaults except where the config says otherwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWSettings {
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamWSettings {
    fn default() -> Self {
        Self {
            weight_decay: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Learning rates of the two parameter groups for one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupLr {
    /// Group 0: every parameter whose name does not contain "backbone" (the head).
    pub head: f64,
    /// Group 1: names containing "backbone".
    pub backbone: f64,
}

struct ParamState {
    step: u64,
    /// Flattened moments on the parameter's (non-autodiff) device.
    exp_avg: Tensor<1>,
    exp_avg_sq: Tensor<1>,
}

/// AdamW with state keyed by official parameter names (so checkpoints survive a restart,
/// where Burn's `ParamId`s change).
pub struct ExactAdamW {
    settings: AdamWSettings,
    states: BTreeMap<String, ParamState>,
}

impl ExactAdamW {
    pub fn new(settings: AdamWSettings) -> Self {
        Self {
            settings,
            states: BTreeMap::new(),
        }
    }

    /// Applies one step to every parameter that has a gradient (others are skipped entirely,
    /// as PyTorch skips `grad is None`).
    pub fn step(&mut self, model: OSTrack, grads: &GradientsParams, lr: GroupLr) -> OSTrack {
        let keys = model.official_keys();
        let mut mapper = AdamWMapper {
            keys: &keys,
            grads,
            optim: self,
            lr,
        };
        model.map(&mut mapper)
    }

    /// The number of steps taken so far (the largest per-parameter count).
    pub fn steps(&self) -> u64 {
        self.states.values().map(|s| s.step).max().unwrap_or(0)
    }

    /// `exp_avg.<key>`, `exp_avg_sq.<key>` (flattened, Burn layout) and `step.<key>`.
    pub fn to_state_dict(&self) -> Result<StateDict, ReadBackError> {
        let mut sd = StateDict::new();
        for (key, s) in &self.states {
            for (name, t) in [("exp_avg", &s.exp_avg), ("exp_avg_sq", &s.exp_avg_sq)] {
                let name = format!("{name}.{key}");
                let values = read_f32(t.clone(), &format!("optimizer state `{name}`"))?;
                sd.insert(name, HostTensor::f32(t.dims().to_vec(), values));
            }
            sd.insert(
                format!("step.{key}"),
                HostTensor::i64(vec![1], vec![s.step as i64]),
            );
        }
        Ok(sd)
    }

    /// Restores the state written by [`to_state_dict`](Self::to_state_dict) onto `device`.
    pub fn load_state_dict(
        &mut self,
        sd: &StateDict,
        device: &Device,
        origin: &str,
    ) -> Result<(), TrainError> {
        self.states.clear();
        for key in sd.keys() {
            let Some(name) = key.strip_prefix("step.") else {
                continue;
            };
            let get = |k: String| {
                sd.get(&k).ok_or_else(|| {
                    TrainError::Checkpoint(format!("{origin}: missing optimizer entry `{k}`"))
                })
            };
            let step = get(format!("step.{name}"))?
                .to_i64()
                .first()
                .copied()
                .unwrap_or(0)
                .max(0) as u64;
            let m = get(format!("exp_avg.{name}"))?.to_f32();
            let v = get(format!("exp_avg_sq.{name}"))?.to_f32();
            if m.len() != v.len() {
                return Err(TrainError::Checkpoint(format!(
                    "{origin}: moments of `{name}` differ in length"
                )));
            }
            let n = m.len();
            self.states.insert(
                name.to_string(),
                ParamState {
                    step,
                    exp_avg: Tensor::from_data(TensorData::new(m, [n]), device),
                    exp_avg_sq: Tensor::from_data(TensorData::new(v, [n]), device),
                },
            );
        }
        Ok(())
    }

    fn update<const D: usize>(
        &mut self,
        key: &str,
        param: Tensor<D>,
        grad: Tensor<D>,
        lr: f64,
    ) -> Tensor<D> {
        let AdamWSettings {
            weight_decay,
            beta1,
            beta2,
            eps,
        } = self.settings;
        let dims = param.dims();
        let n: usize = dims.iter().product();
        let device = param.device();
        let p = param.reshape([n]);
        let g = grad.to_device(&device).reshape([n]);
        let state = self
            .states
            .entry(key.to_string())
            .or_insert_with(|| ParamState {
                step: 0,
                exp_avg: Tensor::zeros([n], &device),
                exp_avg_sq: Tensor::zeros([n], &device),
            });
        state.step += 1;
        let t = state.step as i32;
        // param.mul_(1 - lr * weight_decay): the Python float is rounded to f32 by the kernel.
        let p = p.mul_scalar(1.0 - lr * weight_decay);
        // exp_avg.lerp_(grad, 1 - beta1): weight < 0.5 → self + weight * (end - self).
        let m = state.exp_avg.clone() + (g.clone() - state.exp_avg.clone()).mul_scalar(1.0 - beta1);
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2): self + value * g * g.
        let v = state.exp_avg_sq.clone().mul_scalar(beta2) + g.clone().mul_scalar(1.0 - beta2) * g;
        let bias_correction1 = 1.0 - beta1.powi(t);
        let bias_correction2 = 1.0 - beta2.powi(t);
        let step_size = lr / bias_correction1;
        let denom = v
            .clone()
            .sqrt()
            .div_scalar(bias_correction2.sqrt())
            .add_scalar(eps);
        // param.addcdiv_(exp_avg, denom, value=-step_size): self + value * m / denom.
        let p = p + m.clone().mul_scalar(-step_size) / denom;
        state.exp_avg = m;
        state.exp_avg_sq = v;
        p.reshape(dims)
    }
}

/// The original's parameter groups: `"backbone" in name` takes the backbone learning rate.
fn is_backbone(key: &str) -> bool {
    key.contains("backbone")
}

/// The official key of a parameter (every trainable OSTrack parameter has one).
fn key_of<'k>(keys: &'k HashMap<ParamId, String>, id: &ParamId) -> &'k str {
    keys.get(id)
        .map(String::as_str)
        .expect("OSTrack::official_keys covers every parameter")
}

struct AdamWMapper<'a> {
    keys: &'a HashMap<ParamId, String>,
    grads: &'a GradientsParams,
    optim: &'a mut ExactAdamW,
    lr: GroupLr,
}

impl ModuleMapper for AdamWMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.get::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let key = key_of(self.keys, &id);
        let lr = if is_backbone(key) {
            self.lr.backbone
        } else {
            self.lr.head
        };
        let autodiff = tensor.is_autodiff();
        let require_grad = autodiff && tensor.is_require_grad();
        let updated = self.optim.update(key, tensor.inner(), grad, lr);
        let mut updated = if autodiff {
            Tensor::from_inner(updated)
        } else {
            updated
        };
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// A gradient read back: official key, shape (Burn layout) and values.
pub type NamedGradient = (String, Vec<usize>, Vec<f32>);

/// Gradients with their official keys, in model order (for tests and diagnostics; reads every
/// gradient back).
pub fn named_gradients(
    model: &OSTrack,
    grads: &GradientsParams,
) -> Result<Vec<NamedGradient>, ReadBackError> {
    struct Collect<'a> {
        keys: HashMap<ParamId, String>,
        grads: &'a GradientsParams,
        out: Result<Vec<NamedGradient>, ReadBackError>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let (Ok(out), Some(g)) = (&mut self.out, self.grads.get::<D>(param.id)) else {
                return;
            };
            let key = key_of(&self.keys, &param.id).to_string();
            let shape = g.dims().to_vec();
            match read_f32(g, &format!("the gradient of `{key}`")) {
                Ok(values) => out.push((key, shape, values)),
                Err(e) => self.out = Err(e),
            }
        }
    }
    let mut c = Collect {
        keys: model.official_keys(),
        grads,
        out: Ok(Vec::new()),
    };
    model.visit(&mut c);
    c.out
}

/// `clip_grad_norm_`'s total norm, on the device: the 2-norm of the per-tensor 2-norms of every
/// gradient that exists, [1] (0 without gradients). Nothing is read back.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> Tensor<1> {
    struct Norms<'a> {
        grads: &'a GradientsParams,
        norms: Vec<Tensor<1>>,
        device: Option<Device>,
    }
    impl ModuleVisitor for Norms<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.norms.push(g.square().sum().sqrt());
            } else if self.device.is_none() {
                self.device = Some(param.val().device().without_autodiff());
            }
        }
    }
    let mut v = Norms {
        grads,
        norms: Vec::new(),
        device: None,
    };
    module.visit(&mut v);
    let Some(first) = v.norms.first() else {
        let device = v.device.unwrap_or_default(); // a `Device`, not a read-back
        return Tensor::zeros([1], &device);
    };
    let device = first.device();
    let norms: Vec<Tensor<1>> = v.norms.into_iter().map(|t| t.to_device(&device)).collect();
    Tensor::cat(norms, 0).square().sum().sqrt()
}

/// `clamp(max_norm / (total + 1e-6), max=1)` on the device, as torch evaluates it in f32:
/// `reciprocal(total + 1e-6) * max_norm`, then the clamp. [1], nothing read back.
pub fn clip_coefficient(total_norm: Tensor<1>, max_norm: f64) -> Tensor<1> {
    total_norm
        .add_scalar(1e-6)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0)
}

/// Multiplies every gradient by the device scalar `coef` [1] (broadcast; torch multiplies even
/// when the clamped coefficient is 1).
pub fn scale_gradients<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    coef: Tensor<1>,
) -> GradientsParams {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        coef: Tensor<1>,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                let c = self.coef.clone().to_device(&g.device()).unsqueeze::<D>();
                self.grads.register::<D>(param.id, g * c);
            }
        }
    }
    module.visit(&mut Scale {
        grads: &mut grads,
        coef,
    });
    grads
}
