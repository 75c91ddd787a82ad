//! The integer "islow" inverse DCT of libjpeg (`jidctint.c`), which OpenCV's `imread` uses
//! through libjpeg-turbo: same constants, same rounding, same zero-column/row shortcuts.

const CONST_BITS: i32 = 13;
const PASS1_BITS: i32 = 2;

const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

// The arithmetic wraps like the AVX2 lanes: only coefficients of corrupt files can overflow,
// and they must give garbage pixels, not a panic (debug builds check overflow).
#[inline(always)]
fn descale(x: i32, n: i32) -> i32 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// Output sample: the IDCT value plus the 128 level shift, clamped.
#[inline(always)]
fn sample(x: i32) -> u8 {
    x.wrapping_add(128).clamp(0, 255) as u8
}

/// Eight lanes: the IDCT runs one pass over all 8 columns (then all 8 rows) at once, which the
/// compiler turns into vector instructions.
type V = [i32; 8];

#[inline(always)]
fn map2(a: V, b: V, f: impl Fn(i32, i32) -> i32) -> V {
    let mut r = [0; 8];
    for i in 0..8 {
        r[i] = f(a[i], b[i]);
    }
    r
}

#[inline(always)]
fn add(a: V, b: V) -> V {
    map2(a, b, i32::wrapping_add)
}

#[inline(always)]
fn sub(a: V, b: V) -> V {
    map2(a, b, i32::wrapping_sub)
}

#[inline(always)]
fn mul(a: V, k: i32) -> V {
    a.map(|x| x.wrapping_mul(k))
}

#[inline(always)]
fn transpose(m: [V; 8]) -> [V; 8] {
    std::array::from_fn(|j| std::array::from_fn(|i| m[i][j]))
}

/// One 1-D pass of `jidctint.c` on eight lanes; `c[k]` holds input k of every lane. The outputs
/// are not yet descaled.
#[inline(always)]
fn pass(c: [V; 8]) -> [V; 8] {
    // Even part.
    let z1 = mul(add(c[2], c[6]), FIX_0_541196100);
    let tmp2 = add(z1, mul(c[6], -FIX_1_847759065));
    let tmp3 = add(z1, mul(c[2], FIX_0_765366865));
    let tmp0 = add(c[0], c[4]).map(|x| x << CONST_BITS);
    let tmp1 = sub(c[0], c[4]).map(|x| x << CONST_BITS);
    let (tmp10, tmp13) = (add(tmp0, tmp3), sub(tmp0, tmp3));
    let (tmp11, tmp12) = (add(tmp1, tmp2), sub(tmp1, tmp2));
    // Odd part.
    let (t0, t1, t2, t3) = (c[7], c[5], c[3], c[1]);
    let z1 = add(t0, t3);
    let z2 = add(t1, t2);
    let z3 = add(t0, t2);
    let z4 = add(t1, t3);
    let z5 = mul(add(z3, z4), FIX_1_175875602);
    let t0 = mul(t0, FIX_0_298631336);
    let t1 = mul(t1, FIX_2_053119869);
    let t2 = mul(t2, FIX_3_072711026);
    let t3 = mul(t3, FIX_1_501321110);
    let z1 = mul(z1, -FIX_0_899976223);
    let z2 = mul(z2, -FIX_2_562915447);
    let z3 = add(mul(z3, -FIX_1_961570560), z5);
    let z4 = add(mul(z4, -FIX_0_390180644), z5);
    let t0 = add(t0, add(z1, z3));
    let t1 = add(t1, add(z2, z4));
    let t2 = add(t2, add(z2, z3));
    let t3 = add(t3, add(z1, z4));
    [
        add(tmp10, t3),
        add(tmp11, t2),
        add(tmp12, t1),
        add(tmp13, t0),
        sub(tmp13, t0),
        sub(tmp12, t1),
        sub(tmp11, t2),
        sub(tmp10, t3),
    ]
}

/// Inverse DCT of dequantised coefficients (natural order) into 8×8 samples at `out`, rows
/// `stride` bytes apart. `nonzero` is the zig-zag count up to the last non-zero coefficient.
///
/// libjpeg skips columns and rows whose AC terms are zero; the full computation gives the same
/// integers there, so only the all-DC block keeps a shortcut.
pub(crate) fn idct_islow(coefs: &[i32; 64], nonzero: usize, out: &mut [u8], stride: usize) {
    #[cfg(target_arch = "x86_64")]
    if nonzero > 1 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        let px = unsafe { avx2::idct_8x8(coefs) };
        for (r, row) in px.iter().enumerate() {
            out[r * stride..r * stride + 8].copy_from_slice(row);
        }
        return;
    }
    idct_islow_impl(coefs, nonzero, out, stride)
}

#[inline(always)]
fn idct_islow_impl(coefs: &[i32; 64], nonzero: usize, out: &mut [u8], stride: usize) {
    if nonzero <= 1 {
        let v = sample(descale(coefs[0] << PASS1_BITS, PASS1_BITS + 3));
        for r in 0..8 {
            out[r * stride..r * stride + 8].fill(v);
        }
        return;
    }
    let rows: [V; 8] = std::array::from_fn(|k| std::array::from_fn(|i| coefs[8 * k + i]));
    // Pass 1 (columns): lane = column, c[k] = coefficient row k.
    let ws = pass(rows).map(|v| v.map(|x| descale(x, CONST_BITS - PASS1_BITS)));
    // Pass 2 (rows): lane = row, c[j] = column j of the work array.
    let px = pass(transpose(ws)).map(|v| v.map(|x| descale(x, CONST_BITS + PASS1_BITS + 3)));
    let px = transpose(px);
    for (r, row) in px.iter().enumerate() {
        let o = &mut out[r * stride..r * stride + 8];
        for (d, &v) in o.iter_mut().zip(row) {
            *d = sample(v);
        }
    }
}

/// The same two passes with explicit AVX2 instructions (eight columns, then eight rows, per
/// instruction); the arithmetic is identical lane by lane.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    fn pass(c: [__m256i; 8]) -> [__m256i; 8] {
        let k = |v: i32| _mm256_set1_epi32(v);
        let (add, sub, mul) = (_mm256_add_epi32, _mm256_sub_epi32, _mm256_mullo_epi32);
        let z1 = mul(add(c[2], c[6]), k(FIX_0_541196100));
        let tmp2 = add(z1, mul(c[6], k(-FIX_1_847759065)));
        let tmp3 = add(z1, mul(c[2], k(FIX_0_765366865)));
        let tmp0 = _mm256_slli_epi32::<CONST_BITS>(add(c[0], c[4]));
        let tmp1 = _mm256_slli_epi32::<CONST_BITS>(sub(c[0], c[4]));
        let (tmp10, tmp13) = (add(tmp0, tmp3), sub(tmp0, tmp3));
        let (tmp11, tmp12) = (add(tmp1, tmp2), sub(tmp1, tmp2));
        let (t0, t1, t2, t3) = (c[7], c[5], c[3], c[1]);
        let z1 = add(t0, t3);
        let z2 = add(t1, t2);
        let z3 = add(t0, t2);
        let z4 = add(t1, t3);
        let z5 = mul(add(z3, z4), k(FIX_1_175875602));
        let t0 = mul(t0, k(FIX_0_298631336));
        let t1 = mul(t1, k(FIX_2_053119869));
        let t2 = mul(t2, k(FIX_3_072711026));
        let t3 = mul(t3, k(FIX_1_501321110));
        let z1 = mul(z1, k(-FIX_0_899976223));
        let z2 = mul(z2, k(-FIX_2_562915447));
        let z3 = add(mul(z3, k(-FIX_1_961570560)), z5);
        let z4 = add(mul(z4, k(-FIX_0_390180644)), z5);
        let t0 = add(t0, add(z1, z3));
        let t1 = add(t1, add(z2, z4));
        let t2 = add(t2, add(z2, z3));
        let t3 = add(t3, add(z1, z4));
        [
            add(tmp10, t3),
            add(tmp11, t2),
            add(tmp12, t1),
            add(tmp13, t0),
            sub(tmp13, t0),
            sub(tmp12, t1),
            sub(tmp11, t2),
            sub(tmp10, t3),
        ]
    }

    #[target_feature(enable = "avx2")]
    fn transpose(m: [__m256i; 8]) -> [__m256i; 8] {
        let t0 = _mm256_unpacklo_epi32(m[0], m[1]);
        let t1 = _mm256_unpackhi_epi32(m[0], m[1]);
        let t2 = _mm256_unpacklo_epi32(m[2], m[3]);
        let t3 = _mm256_unpackhi_epi32(m[2], m[3]);
        let t4 = _mm256_unpacklo_epi32(m[4], m[5]);
        let t5 = _mm256_unpackhi_epi32(m[4], m[5]);
        let t6 = _mm256_unpacklo_epi32(m[6], m[7]);
        let t7 = _mm256_unpackhi_epi32(m[6], m[7]);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        [
            _mm256_permute2x128_si256::<0x20>(u0, u4),
            _mm256_permute2x128_si256::<0x20>(u1, u5),
            _mm256_permute2x128_si256::<0x20>(u2, u6),
            _mm256_permute2x128_si256::<0x20>(u3, u7),
            _mm256_permute2x128_si256::<0x31>(u0, u4),
            _mm256_permute2x128_si256::<0x31>(u1, u5),
            _mm256_permute2x128_si256::<0x31>(u2, u6),
            _mm256_permute2x128_si256::<0x31>(u3, u7),
        ]
    }

    /// `descale` by `N`: add half, arithmetic shift.
    #[target_feature(enable = "avx2")]
    fn descale_v<const N: i32>(v: __m256i) -> __m256i {
        _mm256_srai_epi32::<N>(_mm256_add_epi32(v, _mm256_set1_epi32(1 << (N - 1))))
    }

    /// 8×8 output samples, row-major.
    #[target_feature(enable = "avx2")]
    pub(super) fn idct_8x8(coefs: &[i32; 64]) -> [[u8; 8]; 8] {
        let rows: [__m256i; 8] = std::array::from_fn(|k| {
            let r = &coefs[8 * k..8 * k + 8];
            _mm256_setr_epi32(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
        });
        let ws = pass(rows).map(|v| descale_v::<{ CONST_BITS - PASS1_BITS }>(v));
        let px = pass(transpose(ws)).map(|v| descale_v::<{ CONST_BITS + PASS1_BITS + 3 }>(v));
        let px = transpose(px).map(|v| _mm256_add_epi32(v, _mm256_set1_epi32(128)));
        // Saturating packs clamp to 0..=255 like the scalar `sample`.
        let mut out = [[0u8; 8]; 8];
        for (pair, o) in px.chunks_exact(2).zip(out.chunks_exact_mut(2)) {
            let w = _mm256_packs_epi32(pair[0], pair[1]); // [r0 lo, r1 lo, r0 hi, r1 hi] as i16
            let w = _mm256_permute4x64_epi64::<0xD8>(w); // [r0, r1]
            let b = _mm256_packus_epi16(w, w); // bytes: r0 r0 (lane 0), r1 r1 (lane 1)
            let v = _mm_cvtsi128_si64(_mm256_castsi256_si128(b)) as u64;
            let v2 = _mm_cvtsi128_si64(_mm256_extracti128_si256::<1>(b)) as u64;
            o[0] = v.to_le_bytes();
            o[1] = v2.to_le_bytes();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floating-point reference IDCT.
    fn reference(coefs: &[i32; 64]) -> [f64; 64] {
        let c = |u: usize| {
            if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        std::array::from_fn(|i| {
            let (y, x) = (i / 8, i % 8);
            let mut s = 0.0;
            for v in 0..8 {
                for u in 0..8 {
                    s += c(u)
                        * c(v)
                        * coefs[8 * v + u] as f64
                        * (((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0).cos()
                        * (((2 * y + 1) * v) as f64 * std::f64::consts::PI / 16.0).cos();
                }
            }
            s / 4.0 + 128.0
        })
    }

    #[test]
    fn vector_and_scalar_paths_agree() {
        let mut seed = 99u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 16) as i32
        };
        for _ in 0..500 {
            let coefs: [i32; 64] = std::array::from_fn(|i| {
                if i == 0 {
                    rnd() % 2000 - 1000
                } else if rnd() % 2 == 0 {
                    rnd() % 600 - 300
                } else {
                    0
                }
            });
            let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
            idct_islow(&coefs, 64, &mut a, 8);
            idct_islow_impl(&coefs, 64, &mut b, 8);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn islow_is_within_one_of_the_exact_idct() {
        let mut seed = 12345u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 16) as i32
        };
        for _ in 0..200 {
            let mut coefs = [0i32; 64];
            for (i, c) in coefs.iter_mut().enumerate() {
                *c = if i == 0 {
                    rnd() % 800 - 400
                } else if rnd() % 3 == 0 {
                    rnd() % 120 - 60
                } else {
                    0
                };
            }
            let mut out = [0u8; 64];
            idct_islow(&coefs, 64, &mut out, 8);
            for (o, r) in out.iter().zip(reference(&coefs)) {
                assert!((*o as f64 - r.clamp(0.0, 255.0)).abs() <= 1.0, "{o} vs {r}");
            }
        }
    }
}
