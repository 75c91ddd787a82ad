//! ViT building blocks with timm's module names (`patch_embed.proj`, `blocks.N.attn.qkv`, ...).

use burn::module::{Flag, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use crate::host::is_flex;
use crate::host::runs_host_kernels;
use crate::{host_attention, host_gelu};

/// timm/OSTrack use LayerNorm eps 1e-6 everywhere (Burn's default is 1e-5).
pub const LAYER_NORM_EPS: f64 = 1e-6;

/// timm's `trunc_normal_(std=.02)` for linear weights and position embeddings.
pub(crate) fn vit_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

pub(crate) fn layer_norm(dim: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(dim)
        .with_epsilon(LAYER_NORM_EPS)
        .init(device)
}

/// One Conv2d(3 → C, kernel = stride = patch) shared by template and search.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    pub proj: Conv2d,
}

impl PatchEmbed {
    pub fn new(patch: usize, dim: usize, device: &Device) -> Self {
        Self {
            proj: Conv2dConfig::new([3, dim], [patch, patch])
                .with_stride([patch, patch])
                .init(device),
        }
    }

    /// [B, 3, H, W] → [B, (H/p)·(W/p), C], raster order.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        self.proj.forward(images).flatten::<3>(2, 3).swap_dims(1, 2)
    }
}

/// Multi-head self-attention with timm's fused `qkv` projection.
#[derive(Module, Debug)]
pub struct Attention {
    pub qkv: Linear,
    pub proj: Linear,
    pub num_heads: usize,
}

impl Attention {
    pub fn new(dim: usize, num_heads: usize, device: &Device) -> Self {
        Self {
            qkv: LinearConfig::new(dim, dim * 3)
                .with_initializer(vit_init())
                .init(device),
            proj: LinearConfig::new(dim, dim)
                .with_initializer(vit_init())
                .init(device),
            num_heads,
        }
    }

    /// Returns the projected output and the softmaxed attention rows `map` asks for
    /// ([B, H, rows, N]); candidate elimination needs only the template queries' rows, a fifth
    /// of the map. At inference on Flex one host kernel ([`host_attention`]) computes both;
    /// elsewhere the output comes from Burn's fused kernel unless the full map is needed.
    pub fn forward(&self, x: Tensor<3>, map: AttentionMap) -> (Tensor<3>, Option<Tensor<4>>) {
        let [b, n, c] = x.dims();
        let h = self.num_heads;
        let head_dim = c / h;
        let qkv = self.qkv.forward(x);
        if runs_host_kernels(&qkv) {
            let rows = match map {
                AttentionMap::None => 0,
                AttentionMap::FirstRows(r) => r.min(n),
                AttentionMap::Full => n,
            };
            let (out, map) = host_attention::attention(qkv, h, rows);
            return (self.proj.forward(out), map);
        }
        // [B,N,3C] -> [B,N,3,H,hd] -> [3,B,H,N,hd]: q, k, v are the first, second, third C outputs.
        let qkv = qkv.reshape([b, n, 3, h, head_dim]).permute([2, 0, 3, 1, 4]);
        let q = qkv.clone().slice(s![0..1]).squeeze_dim::<4>(0);
        let k = qkv.clone().slice(s![1..2]).squeeze_dim::<4>(0);
        let v = qkv.slice(s![2..3]).squeeze_dim::<4>(0);
        // The original multiplies by the scale after q·kᵀ.
        let scale = (head_dim as f64).powf(-0.5);
        let rows =
            |q: Tensor<4>, k: Tensor<4>| softmax(q.matmul(k.swap_dims(2, 3)).mul_scalar(scale), 3);
        let (out, map) = match map {
            AttentionMap::Full => {
                let attn = rows(q, k);
                (attn.clone().matmul(v), Some(attn))
            }
            AttentionMap::FirstRows(r) => {
                let attn = rows(q.clone().slice(s![.., .., 0..r.min(n)]), k.clone());
                let out = attention(q, k, v, None, None, AttentionModuleOptions::default());
                (out, Some(attn))
            }
            AttentionMap::None => (
                attention(q, k, v, None, None, AttentionModuleOptions::default()),
                None,
            ),
        };
        let out = out.swap_dims(1, 2).reshape([b, n, c]);
        (self.proj.forward(out), map)
    }
}

/// Which softmaxed attention rows a block returns besides its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionMap {
    None,
    /// The rows of the first `r` queries (the template tokens), [B, H, r, N].
    FirstRows(usize),
    /// Every row, [B, H, N, N].
    Full,
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(dim: usize, hidden: usize, device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(dim, hidden)
                .with_initializer(vit_init())
                .init(device),
            fc2: LinearConfig::new(hidden, dim)
                .with_initializer(vit_init())
                .init(device),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2.forward(mlp_gelu(self.fc1.forward(x)))
    }
}

/// Exact GELU. At inference on the Flex CPU backend it runs on the host buffer with a
/// vectorised, multi-threaded kernel ([`crate::host_gelu`]: PyTorch's erf approximation); Flex's
/// own op is a scalar `erf` on one thread. Training on other backends: [`gelu_from_erf`].
/// Otherwise: Burn's op.
fn mlp_gelu(x: Tensor<3>) -> Tensor<3> {
    if !runs_host_kernels(&x) {
        let device = x.device();
        if device.is_autodiff() && !is_flex(&device) {
            return gelu_from_erf(x);
        }
        return gelu(x);
    }
    let device = x.device();
    // A unique, contiguous Flex tensor (the fc1 output) moves into `TensorData` and back
    // without copies.
    let mut data = x.into_data();
    let values = data
        .as_mut_slice::<f32>()
        .expect("host GELU takes f32 tensors");
    host_gelu::gelu_in_place(values);
    Tensor::from_data(data, &device)
}

/// `x · ½ (1 + erf(x/√2))` from elementary ops, so that autodiff takes the exact derivative.
/// Why: Burn 0.22.1's default `gelu_backward`, which the GPU backends use, is the derivative of
/// the *tanh approximation* (~1e-3 relative off in the official step's fc1 gradients on wgpu);
/// only Flex overrides it with the exact one.
fn gelu_from_erf(x: Tensor<3>) -> Tensor<3> {
    let cdf = x
        .clone()
        .div_scalar(std::f64::consts::SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5);
    x * cdf
}

/// timm's stochastic depth: a whole sample's residual branch is dropped with probability `prob`
/// and survivors are scaled by 1/(1-prob). Active only while training on an autodiff device.
#[derive(Module, Debug)]
pub struct DropPath {
    pub prob: f64,
    pub training: Param<Flag>,
}

impl DropPath {
    pub fn new(prob: f64) -> Self {
        Self {
            prob,
            training: Param::from_bool(true),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        if self.prob == 0.0 || !self.training.is_enabled() || !x.device().is_autodiff() {
            return x;
        }
        let keep = 1.0 - self.prob;
        let [b, _, _] = x.dims();
        let mask = Tensor::<3>::random([b, 1, 1], Distribution::Bernoulli(keep), &x.device());
        x * mask.div_scalar(keep)
    }
}

/// Pre-norm transformer block. The CE step (if any) runs between the attention and MLP halves,
/// so the block is exposed as two halves.
#[derive(Module, Debug)]
pub struct Block {
    pub norm1: LayerNorm,
    pub attn: Attention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
    pub drop_path: DropPath,
}

impl Block {
    pub fn new(
        dim: usize,
        num_heads: usize,
        mlp_hidden: usize,
        drop_path: f64,
        device: &Device,
    ) -> Self {
        Self {
            norm1: layer_norm(dim, device),
            attn: Attention::new(dim, num_heads, device),
            norm2: layer_norm(dim, device),
            mlp: Mlp::new(dim, mlp_hidden, device),
            drop_path: DropPath::new(drop_path),
        }
    }

    /// `x + DropPath(Attn(LN1(x)))`, plus the attention rows `map` asks for.
    pub fn attention_half(
        &self,
        x: Tensor<3>,
        map: AttentionMap,
    ) -> (Tensor<3>, Option<Tensor<4>>) {
        let (a, map) = self.attn.forward(self.norm1.forward(x.clone()), map);
        (x + self.drop_path.forward(a), map)
    }

    /// `x + DropPath(MLP(LN2(x)))`.
    pub fn mlp_half(&self, x: Tensor<3>) -> Tensor<3> {
        x.clone()
            + self
                .drop_path
                .forward(self.mlp.forward(self.norm2.forward(x)))
    }
}
