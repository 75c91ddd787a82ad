//! Branch-free scalar math that the compiler vectorises inside the host kernels, and the run-time
//! choice of the instruction set those kernels are compiled for.

/// `simd_dispatch!(vis fn name(args) => portable)` defines `name`, which runs `portable` compiled
/// for AVX-512 or for AVX2 + FMA when the CPU has them (detected at run time) and as plain code
/// otherwise. `portable` must be `#[inline(always)]` so each variant gets its own copy.
macro_rules! simd_dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),*) => $portable:ident) => {
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                fn avx512($($arg: $ty),*) {
                    $portable($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features `avx512` is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above, for `avx2`.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// `exp(x)` for `x ≤ 0`, branch-free (Cephes `expf`): `x = n·ln2 + r`, `|r| ≤ ln2/2`, a degree-6
/// polynomial for `exp(r)` and `2ⁿ` built in the exponent bits; relative error ~1 ulp. Below
/// −87 (`exp` under 1.7e-38, negligible next to the 1 it is added to or the row sums it joins)
/// the argument is clamped there.
#[inline(always)]
pub(crate) fn exp_non_positive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding and subtracting it rounds to the nearest integer (ties to even).
    const ROUND: f32 = 12_582_912.0;
    // A comparison, not `f32::max`: it vectorises and lets a NaN through.
    let x = if x < -87.0 { -87.0 } else { x };
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5e-1;
    let er = p * r * r + r + 1.0;
    // 2ⁿ from the exponent bits. n + 127 (an integer in 1..=127) is read from the low mantissa
    // bits of ROUND + n + 127 instead of a float-to-int cast, whose saturating semantics keep the
    // compiler from vectorising it.
    let biased = (n + (ROUND + 127.0)).to_bits() - ROUND.to_bits();
    let scale = f32::from_bits(biased << 23);
    er * scale
}

/// `max(a, b)` as one vector instruction (`f32::max` adds NaN handling that keeps reductions
/// scalar); a NaN in `b` is skipped.
#[inline(always)]
pub(crate) fn max_skip_nan(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_two_ulp() {
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (ours, exact) = (exp_non_positive(x), (x as f64).exp());
            let rel = ((ours as f64 - exact) / exact).abs();
            assert!(rel < 2.5e-7, "exp({x}) = {ours}, exact {exact}");
            x += 0.0137;
        }
        assert!(exp_non_positive(f32::NAN).is_nan());
        assert!(exp_non_positive(-1e30) < 1e-37);
    }
}
