//! PyTorch's `F.interpolate(mode='bicubic', align_corners=False)` (no antialias) on a token
//! grid, reproducing ATen's CPU kernel (`upsample_generic_Nd` + `HelperInterpCubic`): scale,
//! source index and the four cubic-convolution weights (A = -0.75) are computed in f32, taps
//! are clamped into the input, and each output is a 4-tap sum over rows of 4-tap sums along
//! the width.
//!
//! x86 builds of PyTorch are compiled by GCC with FMA contraction, which fuses `a*b + c` into
//! one rounding and, for `a*b + c*d`, fuses the *first* product: `fma(a, b, c*d)`. Mirroring
//! those fusions makes the result bit-identical to the official position embeddings (checked
//! on all four resizes of the MAE fixture); without them it is off by up to ~1e-6.

const A: f32 = -0.75;

/// One output coordinate: four clamped input indices and their weights.
struct Taps {
    index: [usize; 4],
    weight: [f32; 4],
}

/// ATen `cubic_convolution1`: `((A + 2) * x - (A + 3)) * x * x + 1`, as GCC contracts it.
fn cubic_near(x: f32) -> f32 {
    ((A + 2.0).mul_add(x, -(A + 3.0)) * x).mul_add(x, 1.0)
}

/// ATen `cubic_convolution2`: `((A * x - 5A) * x + 8A) * x - 4A`, as GCC contracts it.
fn cubic_far(x: f32) -> f32 {
    A.mul_add(x, -5.0 * A)
        .mul_add(x, 8.0 * A)
        .mul_add(x, -4.0 * A)
}

/// ATen `Interpolate::eval`: `out = v0*w0; out += v1*w1; out += v2*w2; out += v3*w3`, with
/// the first two products fused as `fma(v0, w0, v1*w1)`.
fn sum4(v: [f32; 4], w: [f32; 4]) -> f32 {
    let s = v[0].mul_add(w[0], v[1] * w[1]);
    let s = v[2].mul_add(w[2], s);
    v[3].mul_add(w[3], s)
}

fn taps(n_in: usize, n_out: usize) -> Vec<Taps> {
    // ATen: area_pixel_compute_scale (input/output in the tensor's float type), then
    // area_pixel_compute_source_index(cubic=true) = scale * (o + 0.5) - 0.5, unclamped.
    let scale = n_in as f32 / n_out as f32;
    let last = n_in as i64 - 1;
    (0..n_out)
        .map(|o| {
            let src = scale.mul_add(o as f32 + 0.5, -0.5);
            let i0 = (src.floor() as i64).min(last);
            let t = (src - i0 as f32).clamp(0.0, 1.0);
            let weight = [
                cubic_far(t + 1.0),
                cubic_near(t),
                cubic_near(1.0 - t),
                cubic_far((1.0 - t) + 1.0),
            ];
            let index = std::array::from_fn(|j| (i0 - 1 + j as i64).clamp(0, last) as usize);
            Taps { index, weight }
        })
        .collect()
}

/// Resizes a token grid stored token-major (`values[(y * in_w + x) * channels + c]`, the
/// layout of a ViT position embedding) to `out_h × out_w`, returned in the same layout.
pub(crate) fn resize_token_grid(
    values: &[f32],
    channels: usize,
    (in_h, in_w): (usize, usize),
    (out_h, out_w): (usize, usize),
) -> Vec<f32> {
    debug_assert_eq!(values.len(), in_h * in_w * channels);
    let rows = taps(in_h, out_h);
    let cols = taps(in_w, out_w);
    let mut out = Vec::with_capacity(out_h * out_w * channels);
    for ry in &rows {
        for cx in &cols {
            for c in 0..channels {
                let at = |y: usize, x: usize| values[(y * in_w + x) * channels + c];
                let row_sums = ry
                    .index
                    .map(|y| sum4(cx.index.map(|x| at(y, x)), cx.weight));
                out.push(sum4(row_sums, ry.weight));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_identity_size_is_exact() {
        for (n_in, n_out) in [(14, 8), (14, 16), (14, 24), (14, 12), (7, 7)] {
            for t in taps(n_in, n_out) {
                let sum: f32 = t.weight.iter().sum();
                assert!((sum - 1.0).abs() < 1e-6, "{n_in}->{n_out}: {sum}");
            }
        }
        let grid: Vec<f32> = (0..5 * 5 * 2).map(|i| (i as f32 * 0.37).sin()).collect();
        assert_eq!(resize_token_grid(&grid, 2, (5, 5), (5, 5)), grid);
    }

    #[test]
    fn upsampling_matches_a_hand_computed_value() {
        // 1-D along x: input row [0, 1, 2, 3], 4 -> 8. Output 0 has src = -0.25: floor -1,
        // t = 0.75, taps (-2,-1,0,1) clamped to (0,0,0,1).
        let grid = [0.0f32, 1.0, 2.0, 3.0];
        let out = resize_token_grid(&grid, 1, (1, 4), (1, 8));
        let t = 0.75f64;
        let a = -0.75f64;
        let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
        let expected = far(2.0 - t) * 1.0; // only the last tap (index 1) is non-zero
        assert!(
            ((out[0] as f64) - expected).abs() < 1e-6,
            "{} vs {expected}",
            out[0]
        );
    }
}
