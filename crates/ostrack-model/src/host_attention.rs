//! Multi-head self-attention in host memory (the Flex CPU backend), from timm's fused `qkv`
//! output, in the original's order: `softmax((q·kᵀ)·scale)·v`.
//!
//! One task per (sample, head) on the rayon pool: two single-threaded matrix products that read
//! q, k and v where the `qkv` projection left them (strided, no copies), a vectorised softmax
//! in between, and the head's output written straight into the merged `[B, N, C]` layout. The
//! softmaxed rows that candidate elimination scores come out of the same computation.

use burn::prelude::*;
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use crate::host_math::{exp_non_positive, max_skip_nan, simd_dispatch};

/// The attention output `[B, N, C]` (heads merged, before `proj`) and, when `map_rows > 0`,
/// the first `map_rows` softmaxed query rows `[B, H, map_rows, N]`. `qkv` is `[B, N, 3C]`, f32.
pub fn attention(qkv: Tensor<3>, heads: usize, map_rows: usize) -> (Tensor<3>, Option<Tensor<4>>) {
    let [b, n, c3] = qkv.dims();
    let (c, rows) = (c3 / 3, map_rows.min(n));
    let hd = c / heads;
    let device = qkv.device();
    let data = qkv.into_data();
    let src = data
        .as_slice::<f32>()
        .expect("host attention takes f32 tensors");
    let scale = (hd as f64).powf(-0.5) as f32;

    let per_head: Vec<(Vec<f32>, Vec<f32>)> = (0..b * heads)
        .into_par_iter()
        .map(|task| {
            let (sample, head) = (task / heads, task % heads);
            let base = sample * n * c3 + head * hd;
            let (q, k, v) = (&src[base..], &src[base + c..], &src[base + 2 * c..]);
            let mut probs = vec![0f32; n * n];
            let mut out = vec![0f32; n * hd];
            // probs = q·kᵀ (kᵀ is k read with its strides swapped), then out = probs·v.
            let qm = Strided {
                data: q,
                rows: n,
                cols: hd,
                row_stride: c3,
                col_stride: 1,
            };
            let kt = Strided {
                data: k,
                rows: hd,
                cols: n,
                row_stride: 1,
                col_stride: c3,
            };
            product(&qm, &kt, &mut probs);
            softmax_rows(&mut probs, n, scale);
            let pm = Strided {
                data: &probs,
                rows: n,
                cols: n,
                row_stride: n,
                col_stride: 1,
            };
            let vm = Strided {
                data: v,
                rows: n,
                cols: hd,
                row_stride: c3,
                col_stride: 1,
            };
            product(&pm, &vm, &mut out);
            probs.truncate(rows * n);
            (out, probs)
        })
        .collect();

    let mut merged = vec![0f32; b * n * c];
    let mut maps = Vec::with_capacity(b * heads * rows * n);
    for (task, (out, probs)) in per_head.into_iter().enumerate() {
        let (sample, head) = (task / heads, task % heads);
        for (i, row) in out.chunks_exact(hd).enumerate() {
            let at = (sample * n + i) * c + head * hd;
            merged[at..at + hd].copy_from_slice(row);
        }
        maps.extend_from_slice(&probs);
    }
    let out = Tensor::from_data(TensorData::new(merged, [b, n, c]), &device);
    let map =
        (rows > 0).then(|| Tensor::from_data(TensorData::new(maps, [b, heads, rows, n]), &device));
    (out, map)
}

/// A matrix view into a slice.
struct Strided<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl Strided<'_> {
    /// Whether every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = lhs·rhs` on the calling thread, `dst` row-major.
fn product(lhs: &Strided, rhs: &Strided, dst: &mut [f32]) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(rhs.rows == k && dst.len() == m * n && lhs.in_bounds() && rhs.in_bounds());
    // SAFETY: the assertion keeps every element gemm reads or writes inside its slice.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

simd_dispatch!(fn softmax_rows(x: &mut [f32], n: usize, scale: f32) => softmax_portable);

/// Each row of the `n`-column matrix `x` becomes `softmax(row·scale)`.
#[inline(always)]
fn softmax_portable(x: &mut [f32], n: usize, scale: f32) {
    for row in x.chunks_exact_mut(n) {
        // Scaled first, as the original's `(q @ k.transpose(-2, -1)) * self.scale`.
        for v in row.iter_mut() {
            *v *= scale;
        }
        let max = lanes_reduce(row, f32::NEG_INFINITY, max_skip_nan);
        for v in row.iter_mut() {
            *v = exp_non_positive(*v - max);
        }
        let inv = 1.0 / lanes_reduce(row, 0.0, |a, b| a + b);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// A reduction over 16 independent lanes (which the compiler keeps in one vector register; a
/// single running value would be a serial chain, as float reductions may not be reordered),
/// then across the lanes.
#[inline(always)]
fn lanes_reduce(values: &[f32], init: f32, op: impl Fn(f32, f32) -> f32 + Copy) -> f32 {
    const LANES: usize = 16;
    let mut acc = [init; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = op(*a, v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a = op(*a, v);
    }
    acc.into_iter().fold(init, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::softmax;

    #[test]
    fn equals_the_reference_attention() {
        let device = Device::flex();
        let (b, n, heads, hd) = (2, 37, 3, 8);
        let c = heads * hd;
        let normal = burn::tensor::Distribution::Normal(0.0, 1.0);
        let qkv = Tensor::<3>::random([b, n, 3 * c], normal, &device);
        let split = qkv
            .clone()
            .reshape([b, n, 3, heads, hd])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| split.clone().slice(s![i..i + 1]).squeeze_dim::<4>(0);
        let scale = (hd as f64).powf(-0.5);
        let probs = softmax(part(0).matmul(part(1).swap_dims(2, 3)).mul_scalar(scale), 3);
        let expected = probs
            .clone()
            .matmul(part(2))
            .swap_dims(1, 2)
            .reshape([b, n, c]);
        let (out, map) = attention(qkv, heads, 5);
        let max_diff = |a: Tensor<3>, e: Tensor<3>| (a - e).abs().max().into_scalar::<f32>();
        assert!(max_diff(out, expected) < 1e-5);
        let rows = probs.slice(s![.., .., 0..5]).reshape([b, heads * 5, n]);
        let map = map.unwrap().reshape([b, heads * 5, n]);
        assert!(max_diff(map, rows) < 1e-6);
    }
}
