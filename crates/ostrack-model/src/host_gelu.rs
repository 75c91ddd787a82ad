//! Exact-form GELU for tensors in host memory (the Flex CPU backend), vectorised.
//!
//! Flex evaluates GELU with a scalar `libm::erff` per element on one thread (~9 ns each), which
//! made GELU about a tenth of the OSTrack-256 forward. PyTorch's CPU kernel computes
//! `0.5·x·(1 + erf(x/√2))` with a vectorised erf: Abramowitz & Stegun 7.1.26,
//! `1 − (a1·t + a2·t² + … + a5·t⁵)·exp(−x²)` with `t = 1/(1 + p·|x|)` (absolute error ≤ 1.5e-7).
//! The same formula here, written branch-free so it compiles to AVX-512 or AVX2 code selected at
//! run time, and split over the rayon pool.

use rayon::prelude::*;

use crate::host_math::{exp_non_positive, simd_dispatch};

const P: f32 = 0.327_591_1;
const A1: f32 = 0.254_829_6;
const A2: f32 = -0.284_496_74;
const A3: f32 = 1.421_413_7;
const A4: f32 = -1.453_152;
const A5: f32 = 1.061_405_4;

/// Elements per parallel task: large enough to amortise scheduling, small enough that even the
/// smallest MLP activation (153 tokens × 3072) splits into dozens of tasks for the threads.
const CHUNK: usize = 16 * 1024;

/// `x ← 0.5·x·(1 + erf(x/√2))` for every element.
pub fn gelu_in_place(values: &mut [f32]) {
    values.par_chunks_mut(CHUNK).for_each(gelu_chunk);
}

simd_dispatch!(fn gelu_chunk(values: &mut [f32]) => gelu_portable);

#[inline(always)]
fn gelu_portable(values: &mut [f32]) {
    for x in values.iter_mut() {
        *x = gelu(*x);
    }
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// A&S 7.1.26, as PyTorch's vectorised `erf`.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (P * a + 1.0);
    let r = (((A5 * t + A4) * t + A3) * t + A2) * t + A1;
    let e = exp_non_positive(-(x * x));
    (1.0 - r * t * e).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_the_exact_formula() {
        let xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 2.5e-3).collect();
        let mut ours = xs.clone();
        gelu_in_place(&mut ours);
        for (&x, &g) in xs.iter().zip(&ours) {
            let exact = 0.5 * x as f64 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2));
            // A&S 7.1.26: |Δerf| ≤ 1.5e-7, plus ~1 f32 ulp of 1 where erf is evaluated as
            // 1 − r·t·e; GELU multiplies that by 0.5·|x|.
            let bound = 0.5 * (x.abs() as f64) * 3e-7 + 2.0 * f32::EPSILON as f64 * exact.abs();
            assert!(
                (g as f64 - exact).abs() <= bound + 1e-12,
                "gelu({x}) = {g}, exact {exact}"
            );
        }
        // Far tails: GELU(x) = x for large x, 0 for very negative x; no NaN from exp underflow.
        let mut tails = [-200.0f32, -30.0, 30.0, 200.0, 0.0, -0.0];
        gelu_in_place(&mut tails);
        assert_eq!(tails, [-0.0, -0.0, 30.0, 200.0, 0.0, -0.0]);
    }
}
