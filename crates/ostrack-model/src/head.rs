//! The CENTER box head (`CenterPredictor`, spec §1.9) and `cal_bbox`.

use burn::module::RunningState;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::batch_norm_train;

use crate::host::runs_host_kernels;
use crate::host_conv;

/// Conv3×3 → BatchNorm → ReLU (the official `conv(...)` helper: keys `.0` conv, `.1` BN).
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    /// PyTorch's BN `num_batches_tracked`, kept only so checkpoints round-trip.
    pub num_batches_tracked: usize,
}

impl ConvBnRelu {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
            num_batches_tracked: 0,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if x.device().is_autodiff() && self.bn.training.is_enabled() {
            return self.forward_batch_statistics(x);
        }
        if runs_host_kernels(&x) && self.is_same_3x3() {
            let [b, _, h, w] = x.dims();
            return self.forward_columns(host_conv::columns_3x3(x), [b, h, w]);
        }
        relu(self.bn.forward(self.conv.forward(x)))
    }

    /// A 3×3 convolution with stride 1 and padding 1 (what [`ConvBnRelu::new`] builds).
    fn is_same_3x3(&self) -> bool {
        let c = &self.conv;
        c.kernel_size == [3, 3]
            && c.stride == [1, 1]
            && c.dilation == [1, 1]
            && c.groups == 1
            && matches!(c.padding, PaddingConfig2d::Explicit(1, 1, 1, 1))
    }

    /// Inference from [`host_conv::columns_3x3`] of the input (`[B, C·9, H·W]`): the convolution
    /// is `W[O, C·9] × columns`, then BatchNorm with the running statistics and ReLU.
    fn forward_columns(&self, cols: Tensor<3>, [b, h, w]: [usize; 3]) -> Tensor<4> {
        let [o, c, _, _] = self.conv.weight.dims();
        let mut y = self.conv.weight.val().reshape([1, o, c * 9]).matmul(cols);
        if let Some(bias) = &self.conv.bias {
            y = y + bias.val().reshape([1, o, 1]);
        }
        relu(self.bn.forward(y.reshape([b, o, h, w])))
    }

    /// Train mode (BatchNorm normalises with the batch's own statistics), updating the running
    /// statistics as PyTorch does: momentum 0.1 and the **unbiased** batch variance for
    /// `running_var` (Burn's `BatchNorm` blends in the biased one).
    fn forward_batch_statistics(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        let [b, _, h, w] = y.dims();
        let bn = &self.bn;
        let out = batch_norm_train(y, bn.gamma.val(), bn.beta.val(), bn.epsilon);
        let count = b * h * w;
        let unbiased = if count > 1 {
            count as f64 / (count - 1) as f64
        } else {
            1.0
        };
        let momentum = bn.momentum;
        let blend = |state: &RunningState<Tensor<1>>, batch: Tensor<1>| {
            let old = state.value_sync().to_device(&batch.device());
            let new = old
                .mul_scalar(1.0 - momentum)
                .add(batch.detach().mul_scalar(momentum));
            state.update(new.detach());
            // Fold the per-thread update now: state dicts and checkpoints read the folded value.
            let _ = state.value_sync();
        };
        blend(&bn.running_mean, out.mean);
        blend(&bn.running_var, out.variance.mul_scalar(unbiased));
        relu(out.output)
    }
}

/// One of the three branches (`ctr`, `offset`, `size`): four ConvBnRelu then a 1×1 conv.
#[derive(Module, Debug)]
pub struct Branch {
    pub conv1: ConvBnRelu,
    pub conv2: ConvBnRelu,
    pub conv3: ConvBnRelu,
    pub conv4: ConvBnRelu,
    pub conv5: Conv2d,
}

impl Branch {
    fn new(cin: usize, channels: usize, out: usize, device: &Device) -> Self {
        Self {
            conv1: ConvBnRelu::new(cin, channels, device),
            conv2: ConvBnRelu::new(channels, channels / 2, device),
            conv3: ConvBnRelu::new(channels / 2, channels / 4, device),
            conv4: ConvBnRelu::new(channels / 4, channels / 8, device),
            conv5: Conv2dConfig::new([channels / 8, out], [1, 1])
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device),
        }
    }

    /// Returns the logits and, for tracing, the four intermediate activations.
    pub fn forward(&self, x: Tensor<4>, mut trace: Option<&mut Vec<Tensor<4>>>) -> Tensor<4> {
        let mut x = x;
        for layer in [&self.conv1, &self.conv2, &self.conv3, &self.conv4] {
            x = layer.forward(x);
            if let Some(t) = trace.as_deref_mut() {
                t.push(x.clone());
            }
        }
        self.conv5.forward(x)
    }

    /// Inference with the first layer's input given as its 3×3 columns (shared by the three
    /// branches, see [`host_conv`]).
    fn forward_from_columns(&self, cols: Tensor<3>, dims: [usize; 3]) -> Tensor<4> {
        let mut x = self.conv1.forward_columns(cols, dims);
        for layer in [&self.conv2, &self.conv3, &self.conv4] {
            x = layer.forward(x);
        }
        self.conv5.forward(x)
    }

    pub fn conv_bn_layers_mut(&mut self) -> [&mut ConvBnRelu; 4] {
        [
            &mut self.conv1,
            &mut self.conv2,
            &mut self.conv3,
            &mut self.conv4,
        ]
    }
}

/// Outputs of the head on a [B, C, F, F] feature map.
#[derive(Debug, Clone)]
pub struct HeadOutput {
    /// `clamp(sigmoid(ctr), 1e-4, 1-1e-4)`, [B, 1, F, F].
    pub score_map: Tensor<4>,
    /// `clamp(sigmoid(size), 1e-4, 1-1e-4)`, [B, 2, F, F] (w, h).
    pub size_map: Tensor<4>,
    /// Raw offsets, [B, 2, F, F] (x, y).
    pub offset_map: Tensor<4>,
    /// (cx, cy, w, h) normalised, [B, 1, 4], taken at the score map's first arg-max.
    pub pred_boxes: Tensor<3>,
}

#[derive(Module, Debug)]
pub struct CenterPredictor {
    pub ctr: Branch,
    pub offset: Branch,
    pub size: Branch,
}

impl CenterPredictor {
    pub fn new(in_dim: usize, channels: usize, device: &Device) -> Self {
        Self {
            ctr: Branch::new(in_dim, channels, 1, device),
            offset: Branch::new(in_dim, channels, 2, device),
            size: Branch::new(in_dim, channels, 2, device),
        }
    }

    /// Every Conv+BatchNorm+ReLU layer of the three branches (the layers with BN state).
    pub fn conv_bn_layers_mut(&mut self) -> impl Iterator<Item = &mut ConvBnRelu> {
        [&mut self.ctr, &mut self.offset, &mut self.size]
            .into_iter()
            .flat_map(|b| b.conv_bn_layers_mut())
    }

    /// Branches in the official key order with their key suffix (`conv1_ctr`, ...).
    pub fn branches(&self) -> [(&'static str, &Branch); 3] {
        [
            ("ctr", &self.ctr),
            ("offset", &self.offset),
            ("size", &self.size),
        ]
    }

    pub fn forward(&self, features: Tensor<4>) -> HeadOutput {
        self.forward_traced(features, None)
    }

    /// As [`forward`](Self::forward); fills `trace` (if given) with `conv{1..4}_{branch}` and
    /// `conv5_{branch}_logits`.
    pub fn forward_traced(
        &self,
        features: Tensor<4>,
        mut trace: Option<&mut Vec<(String, Tensor<4>)>>,
    ) -> HeadOutput {
        if trace.is_none() && !features.device().is_autodiff() {
            // Inference: the branches are independent and parts of Flex's small convolutions
            // run on one thread, so run them side by side.
            let [b, _, h, w] = features.dims();
            let input = if runs_host_kernels(&features) && self.ctr.conv1.is_same_3x3() {
                Ok(host_conv::columns_3x3(features))
            } else {
                Err(features)
            };
            let run = |branch: &Branch| match &input {
                Ok(cols) => branch.forward_from_columns(cols.clone(), [b, h, w]),
                Err(features) => branch.forward(features.clone(), None),
            };
            let ((ctr, offset), size) = rayon::join(
                || rayon::join(|| run(&self.ctr), || run(&self.offset)),
                || run(&self.size),
            );
            return head_output(ctr, size, offset);
        }
        let mut logits = Vec::with_capacity(3);
        for (name, branch) in self.branches() {
            let mut inner = Vec::new();
            let out = branch.forward(features.clone(), trace.is_some().then_some(&mut inner));
            if let Some(t) = trace.as_deref_mut() {
                for (i, act) in inner.into_iter().enumerate() {
                    t.push((format!("conv{}_{name}", i + 1), act));
                }
                t.push((format!("conv5_{name}_logits"), out.clone()));
            }
            logits.push(out);
        }
        let size_logits = logits.pop().unwrap();
        let offset_map = logits.pop().unwrap();
        let ctr_logits = logits.pop().unwrap();
        head_output(ctr_logits, size_logits, offset_map)
    }
}

/// Score and size maps from the branch logits, and the decoded boxes.
fn head_output(ctr_logits: Tensor<4>, size_logits: Tensor<4>, offset_map: Tensor<4>) -> HeadOutput {
    let score_map = clamped_sigmoid(ctr_logits);
    let size_map = clamped_sigmoid(size_logits);
    let pred_boxes = cal_bbox(score_map.clone(), size_map.clone(), offset_map.clone());
    HeadOutput {
        score_map,
        size_map,
        offset_map,
        pred_boxes,
    }
}

fn clamped_sigmoid(x: Tensor<4>) -> Tensor<4> {
    sigmoid(x).clamp(1e-4, 1.0 - 1e-4)
}

/// The box at the first arg-max of `score_map` [B,1,F,F]: ((ix + ox)/F, (iy + oy)/F, w, h),
/// [B, 1, 4]. Gradients flow into the size and offset values at that cell only.
pub fn cal_bbox(score_map: Tensor<4>, size_map: Tensor<4>, offset_map: Tensor<4>) -> Tensor<3> {
    let [b, _, h, w] = score_map.dims();
    let idx = score_map.reshape([b, h * w]).argmax(1); // [B, 1]
    let ix = idx.clone().remainder_scalar(w as i64).float();
    let iy = idx.clone().div_scalar(w as i64).float();
    // The values at the arg-max as a one-hot weighted sum instead of a `gather`: the same values
    // (x·1 plus exact zeros) and the same gradient (g·1 at the cell, 0 elsewhere), bit for bit.
    // Why: on Burn 0.22.1's fusion backends (wgpu, cuda) the gather's backward corrupted the
    // score branch's gradients in the same backward pass (tests/head_gradients.rs).
    let cells = Tensor::<1, Int>::arange(0..(h * w) as i64, &idx.device()).reshape([1, h * w]);
    let one_hot = cells.equal(idx).float().reshape([b, 1, h * w]); // [B, 1, HW]
    let at = |map: Tensor<4>| -> Tensor<2> {
        (map.reshape([b, 2, h * w]) * one_hot.clone())
            .sum_dim(2)
            .reshape([b, 2])
    };
    let size = at(size_map);
    let offset = at(offset_map);
    let cx = (ix + offset.clone().slice(s![.., 0..1])).div_scalar(w as f64);
    let cy = (iy + offset.slice(s![.., 1..2])).div_scalar(h as f64);
    Tensor::cat(vec![cx, cy, size], 1).reshape([b, 1, 4])
}
