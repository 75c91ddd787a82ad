//! Loading from and exporting to the official state-dict layout (`backbone.*`, `box_head.*`,
//! spec §2.1). Loading is strict: every missing, unexpected or mis-shaped key is reported.

use std::collections::HashMap;
use std::fmt;

use burn::module::{Param, ParamId, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, LayerNorm, Linear};
use burn::prelude::*;
use ostrack_weights::{HostTensor, StateDict};

use crate::head::{Branch, ConvBnRelu};
use crate::ostrack::OSTrack;
use crate::readback::{ReadBackError, read_f32};
use crate::vit::Block;

/// A key that could not be loaded, with the expected and the found shape.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyProblem {
    Missing {
        key: String,
        expected: Vec<usize>,
    },
    Unexpected {
        key: String,
        found: Vec<usize>,
    },
    WrongShape {
        key: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { key, expected } => {
                write!(f, "missing key `{key}` (expected shape {expected:?})")
            }
            Self::Unexpected { key, found } => {
                write!(f, "unexpected key `{key}` (shape {found:?})")
            }
            Self::WrongShape {
                key,
                expected,
                found,
            } => {
                write!(
                    f,
                    "key `{key}`: expected shape {expected:?}, found {found:?}"
                )
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{source_name}: the state dict does not match the model ({} problems):\n  {}",
        problems.len(),
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Mismatch {
        source_name: String,
        problems: Vec<KeyProblem>,
    },
}

/// Walks the model in official key order; the same walk drives loading, exporting and the
/// expected-key list, so the three can never disagree.
trait Visitor {
    fn float<const D: usize>(
        &mut self,
        key: &str,
        param: &mut Param<Tensor<D>>,
        torch_transposed: bool,
    );
    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<D>>);
    fn counter(&mut self, key: &str, value: &mut usize);
}

fn visit_linear<V: Visitor>(v: &mut V, prefix: &str, l: &mut Linear) {
    v.float(&format!("{prefix}.weight"), &mut l.weight, true);
    if let Some(b) = l.bias.as_mut() {
        v.float(&format!("{prefix}.bias"), b, false);
    }
}

fn visit_layer_norm<V: Visitor>(v: &mut V, prefix: &str, n: &mut LayerNorm) {
    v.float(&format!("{prefix}.weight"), &mut n.gamma, false);
    if let Some(b) = n.beta.as_mut() {
        v.float(&format!("{prefix}.bias"), b, false);
    }
}

fn visit_conv<V: Visitor>(v: &mut V, prefix: &str, c: &mut Conv2d) {
    v.float(&format!("{prefix}.weight"), &mut c.weight, false);
    if let Some(b) = c.bias.as_mut() {
        v.float(&format!("{prefix}.bias"), b, false);
    }
}

fn visit_batch_norm<V: Visitor>(v: &mut V, prefix: &str, bn: &mut BatchNorm, tracked: &mut usize) {
    v.float(&format!("{prefix}.weight"), &mut bn.gamma, false);
    v.float(&format!("{prefix}.bias"), &mut bn.beta, false);
    v.running(&format!("{prefix}.running_mean"), &mut bn.running_mean);
    v.running(&format!("{prefix}.running_var"), &mut bn.running_var);
    v.counter(&format!("{prefix}.num_batches_tracked"), tracked);
}

fn visit_block<V: Visitor>(v: &mut V, prefix: &str, b: &mut Block) {
    visit_layer_norm(v, &format!("{prefix}.norm1"), &mut b.norm1);
    visit_linear(v, &format!("{prefix}.attn.qkv"), &mut b.attn.qkv);
    visit_linear(v, &format!("{prefix}.attn.proj"), &mut b.attn.proj);
    visit_layer_norm(v, &format!("{prefix}.norm2"), &mut b.norm2);
    visit_linear(v, &format!("{prefix}.mlp.fc1"), &mut b.mlp.fc1);
    visit_linear(v, &format!("{prefix}.mlp.fc2"), &mut b.mlp.fc2);
}

fn visit_branch<V: Visitor>(v: &mut V, name: &str, br: &mut Branch) {
    let layers: [&mut ConvBnRelu; 4] = [&mut br.conv1, &mut br.conv2, &mut br.conv3, &mut br.conv4];
    for (i, layer) in layers.into_iter().enumerate() {
        let prefix = format!("box_head.conv{}_{name}", i + 1);
        visit_conv(v, &format!("{prefix}.0"), &mut layer.conv);
        visit_batch_norm(
            v,
            &format!("{prefix}.1"),
            &mut layer.bn,
            &mut layer.num_batches_tracked,
        );
    }
    visit_conv(v, &format!("box_head.conv5_{name}"), &mut br.conv5);
}

fn visit_model<V: Visitor>(v: &mut V, m: &mut OSTrack) {
    let bb = &mut m.backbone;
    v.float("backbone.cls_token", &mut bb.cls_token, false);
    v.float("backbone.pos_embed", &mut bb.pos_embed, false);
    v.float("backbone.pos_embed_z", &mut bb.pos_embed_z, false);
    v.float("backbone.pos_embed_x", &mut bb.pos_embed_x, false);
    visit_conv(v, "backbone.patch_embed.proj", &mut bb.patch_embed.proj);
    for (i, block) in bb.blocks.iter_mut().enumerate() {
        visit_block(v, &format!("backbone.blocks.{i}"), block);
    }
    visit_layer_norm(v, "backbone.norm", &mut bb.norm);
    let head = &mut m.box_head;
    visit_branch(v, "ctr", &mut head.ctr);
    visit_branch(v, "offset", &mut head.offset);
    visit_branch(v, "size", &mut head.size);
}

/// Official shape of a Burn parameter (Linear weights are stored transposed in Burn).
fn torch_shape(shape: &[usize], transposed: bool) -> Vec<usize> {
    if transposed {
        shape.iter().rev().copied().collect()
    } else {
        shape.to_vec()
    }
}

struct ShapeCollector(Vec<(String, Vec<usize>)>);

impl Visitor for ShapeCollector {
    fn float<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<D>>, transposed: bool) {
        self.0.push((
            key.to_string(),
            torch_shape(&param.shape().dims::<D>(), transposed),
        ));
    }
    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<D>>) {
        self.0
            .push((key.to_string(), state.value().dims().to_vec()));
    }
    fn counter(&mut self, key: &str, _: &mut usize) {
        self.0.push((key.to_string(), vec![]));
    }
}

/// Official key of every parameter by its Burn id.
struct KeyCollector(HashMap<ParamId, String>);

impl Visitor for KeyCollector {
    fn float<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<D>>, _: bool) {
        self.0.insert(param.id, key.to_string());
    }
    fn running<const D: usize>(&mut self, _: &str, _: &mut RunningState<Tensor<D>>) {}
    fn counter(&mut self, _: &str, _: &mut usize) {}
}

struct Loader<'a> {
    sd: &'a StateDict,
    device: Device,
}

impl Loader<'_> {
    fn tensor<const D: usize>(&self, key: &str, transposed: bool) -> Tensor<D> {
        let t = &self.sd.get(key).expect("checked before loading");
        let data = TensorData::new(t.to_f32(), t.shape.clone());
        let tensor = Tensor::<D>::from_data(data, &self.device);
        if transposed {
            tensor.transpose()
        } else {
            tensor
        }
    }
}

impl Visitor for Loader<'_> {
    fn float<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<D>>, transposed: bool) {
        *param = Param::from_tensor(self.tensor::<D>(key, transposed));
    }
    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<D>>) {
        *state = RunningState::new(self.tensor::<D>(key, false));
    }
    fn counter(&mut self, key: &str, value: &mut usize) {
        *value = self
            .sd
            .get(key)
            .map(|t| t.to_i64().first().copied().unwrap_or(0).max(0) as usize)
            .unwrap_or(0);
    }
}

struct Exporter {
    sd: StateDict,
    /// The first read-back that failed (the walk cannot stop early).
    error: Option<ReadBackError>,
}

impl Exporter {
    fn insert_f32<const D: usize>(&mut self, key: &str, t: Tensor<D>) {
        if self.error.is_some() {
            return;
        }
        let shape = t.dims().to_vec();
        match read_f32(t, key) {
            Ok(values) => self.sd.insert(key, HostTensor::f32(shape, values)),
            Err(e) => self.error = Some(e),
        }
    }
}

impl Visitor for Exporter {
    fn float<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<D>>, transposed: bool) {
        let t = param.val();
        let t = if transposed { t.transpose() } else { t };
        self.insert_f32(key, t);
    }
    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<D>>) {
        self.insert_f32(key, state.value());
    }
    fn counter(&mut self, key: &str, value: &mut usize) {
        self.sd
            .insert(key, HostTensor::i64(vec![], vec![*value as i64]));
    }
}

impl OSTrack {
    /// Official keys and shapes this model expects, in state-dict order.
    pub fn expected_keys(&self) -> Vec<(String, Vec<usize>)> {
        let mut collector = ShapeCollector(Vec::new());
        visit_model(&mut collector, &mut self.clone());
        collector.0
    }

    /// The official key of every trainable parameter, by Burn parameter id: the one key table
    /// for loading, export, gradients and optimizer state (all follow the same walk).
    pub fn official_keys(&self) -> HashMap<ParamId, String> {
        let mut collector = KeyCollector(HashMap::new());
        visit_model(&mut collector, &mut self.clone());
        collector.0
    }

    /// Loads every parameter and BatchNorm statistic from an official-layout state dict.
    /// `source_name` (usually the file path) prefixes the error.
    pub fn load_state_dict(mut self, sd: &StateDict, source_name: &str) -> Result<Self, LoadError> {
        let expected = self.expected_keys();
        let mut problems = Vec::new();
        for (key, shape) in &expected {
            match sd.get(key) {
                None => problems.push(KeyProblem::Missing {
                    key: key.clone(),
                    expected: shape.clone(),
                }),
                Some(t) if !same_shape(&t.shape, shape) => problems.push(KeyProblem::WrongShape {
                    key: key.clone(),
                    expected: shape.clone(),
                    found: t.shape.clone(),
                }),
                Some(_) => {}
            }
        }
        for (key, t) in sd.iter() {
            if !expected.iter().any(|(k, _)| k == key) {
                problems.push(KeyProblem::Unexpected {
                    key: key.to_string(),
                    found: t.shape.clone(),
                });
            }
        }
        if !problems.is_empty() {
            return Err(LoadError::Mismatch {
                source_name: source_name.to_string(),
                problems,
            });
        }
        let device = self.backbone.pos_embed_x.val().device();
        visit_model(&mut Loader { sd, device }, &mut self);
        Ok(self)
    }

    /// Every parameter and BatchNorm statistic under its official key, in official order, in
    /// PyTorch layout (Linear weights [out, in]).
    ///
    /// Panics, naming the tensor, when a device read fails; [`Self::try_to_state_dict`]
    /// returns that error instead.
    pub fn to_state_dict(&self) -> StateDict {
        self.try_to_state_dict().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::to_state_dict`], with a failed device read as an error that names the key.
    pub fn try_to_state_dict(&self) -> Result<StateDict, ReadBackError> {
        let mut exporter = Exporter {
            sd: StateDict::new(),
            error: None,
        };
        visit_model(&mut exporter, &mut self.clone());
        match exporter.error {
            Some(e) => Err(e),
            None => Ok(exporter.sd),
        }
    }
}

/// A `num_batches_tracked` scalar may be stored as shape [] or [1].
fn same_shape(found: &[usize], expected: &[usize]) -> bool {
    found == expected || (expected.is_empty() && found == [1])
}
