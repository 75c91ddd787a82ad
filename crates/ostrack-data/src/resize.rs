//! OpenCV's `cv::resize(..., INTER_LINEAR)` for 8-bit images, reproduced to the bit.
//!
//! OpenCV computes bilinear weights in 11-bit fixed point (`INTER_RESIZE_COEF_BITS`), sums the
//! horizontal pass exactly in 32-bit integers, and rounds the vertical pass with its SIMD kernel
//! (`VResizeLinearVec_32s8u`: `>>4`, 16-bit `mulhi`, saturating add, `(v+2)>>2`); only a row tail
//! shorter than one 8-lane vector uses the plain `(v + 2^21) >> 22`. The x weights are clamped at
//! the borders, the y weights are not (rows are clamped instead). Reproducing all of this makes
//! our crops equal to the original's, not merely close.
//!
//! The resize reads a *virtual* source: a padded crop whose rows and columns map either to pixels
//! of a frame or to zero padding (see [`crate::crop`]), so no intermediate crop is materialised.

/// OpenCV's fixed-point weight scale (`1 << INTER_RESIZE_COEF_BITS`).
const COEF_SCALE: f32 = 2048.0;
/// Width of the vectorised part of OpenCV's vertical pass, in 16-bit lanes (SSE baseline).
const SIMD_LANES_I16: usize = 8;

/// Two source taps of one output position along one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Taps {
    /// First source index (already clamped into the source).
    pub i0: usize,
    /// Second source index (clamped; equal to `i0` at the borders).
    pub i1: usize,
    /// Fixed-point weight of `i0`.
    pub w0: i32,
    /// Fixed-point weight of `i1`.
    pub w1: i32,
    /// Whether the floating-point weight of `i1` is non-zero (decides the float mask path).
    pub uses_i1: bool,
}

/// `cvFloor` of a float.
fn cv_floor(v: f32) -> i64 {
    v.floor() as i64
}

/// `saturate_cast<short>(float)`: round half to even, then clamp.
fn fixed_weight(v: f32) -> i32 {
    (v * COEF_SCALE)
        .round_ties_even()
        .clamp(i16::MIN as f32, i16::MAX as f32) as i32
}

/// The source position OpenCV samples for output index `d`.
fn source_position(d: usize, scale: f64) -> (i64, f32) {
    let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
    let s = cv_floor(f);
    (s, f - s as f32)
}

/// Scale factor as `cv::resize` derives it: `1 / (dst / src)` in double precision.
fn opencv_scale(n_src: usize, n_dst: usize) -> f64 {
    1.0 / (n_dst as f64 / n_src as f64)
}

/// Horizontal taps: positions left of the source or at/after its last pixel collapse onto the
/// border pixel with weights (2048, 0), as in OpenCV's x-table set-up.
pub(crate) fn x_taps(n_src: usize, n_dst: usize) -> Vec<Taps> {
    let scale = opencv_scale(n_src, n_dst);
    let last = n_src as i64 - 1;
    (0..n_dst)
        .map(|d| {
            let (mut s, mut f) = source_position(d, scale);
            if s < 0 {
                s = 0;
                f = 0.0;
            }
            if s >= last {
                s = last;
                f = 0.0;
            }
            let i0 = s as usize;
            Taps {
                i0,
                i1: (i0 + 1).min(last as usize),
                w0: fixed_weight(1.0 - f),
                w1: fixed_weight(f),
                uses_i1: f != 0.0,
            }
        })
        .collect()
}

/// Vertical taps: the weights are never clamped, only the two row indices are.
pub(crate) fn y_taps(n_src: usize, n_dst: usize) -> Vec<Taps> {
    let scale = opencv_scale(n_src, n_dst);
    let clip = |r: i64| r.clamp(0, n_src as i64 - 1) as usize;
    (0..n_dst)
        .map(|d| {
            let (s, f) = source_position(d, scale);
            Taps {
                i0: clip(s),
                i1: clip(s + 1),
                w0: fixed_weight(1.0 - f),
                w1: fixed_weight(f),
                uses_i1: f != 0.0,
            }
        })
        .collect()
}

/// One output pixel of the horizontal pass over interleaved RGB, with its two taps expressed as
/// neighbouring stored pixels: channel `c` is `row[base + c] * a + row[base + 3 + c] * b`.
/// Taps on padding have weight 0 and a tap pair that is not adjacent collapses onto one pixel,
/// so the sums are the same integers as OpenCV's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PixelTaps {
    pub base: usize,
    pub a: i32,
    pub b: i32,
}

/// The horizontal taps of a crop, with each output pixel's weights also laid out for the
/// vector kernel.
pub(crate) struct RowTaps {
    pub taps: Vec<PixelTaps>,
    /// Per output pixel: `[a, b, a, b, a, b, 0, 0]`.
    lane_weights: Vec<[i16; 8]>,
}

impl RowTaps {
    pub fn new(taps: Vec<PixelTaps>) -> Self {
        let lane_weights = taps
            .iter()
            .map(|t| {
                let (a, b) = (t.a as i16, t.b as i16);
                [a, b, a, b, a, b, 0, 0]
            })
            .collect();
        Self { taps, lane_weights }
    }

    /// Exact horizontal sums of one stored row into `out` (`3 * taps.len()` values).
    #[inline(always)]
    pub fn apply(&self, row: &[u8], out: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.apply_avx2(row, out) };
        }
        for (k, t) in self.taps.iter().enumerate() {
            pixel_sums(row, t, &mut out[3 * k..3 * k + 3]);
        }
    }

    /// Two output pixels per step, one per 128-bit half: each pixel's 8-byte load is shuffled
    /// into `(tap0, tap1)` channel pairs, widened to 16 bits and multiply-added with its
    /// weights (exact: the sums stay far below 2^31), then the six sums are packed together.
    /// Pixels whose 8-byte load would leave the row, and a last pixel pair whose 8-lane store
    /// would leave `out`, go one by one.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn apply_avx2(&self, row: &[u8], out: &mut [i32]) {
        use std::arch::x86_64::*;
        let n = self.taps.len();
        assert!(out.len() >= 3 * n);
        let shuffle = _mm_setr_epi8(0, 3, 1, 4, 2, 5, -1, -1, 8, 11, 9, 12, 10, 13, -1, -1);
        let pack = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
        let mut k = 0;
        while k < n {
            let t0 = &self.taps[k];
            let fits = k + 1 < n
                && 3 * k + 8 <= out.len()
                && t0.base + 8 <= row.len()
                && self.taps[k + 1].base + 8 <= row.len();
            if !fits {
                pixel_sums(row, t0, &mut out[3 * k..3 * k + 3]);
                k += 1;
                continue;
            }
            let t1 = &self.taps[k + 1];
            // SAFETY: both pixel loads read 8 bytes inside `row`, the weight load reads the
            // entries of pixels `k` and `k + 1 < n`, and the store writes 8 values inside `out`
            // (all checked just above).
            unsafe {
                let lo = _mm_loadl_epi64(row.as_ptr().add(t0.base) as *const __m128i);
                let hi = _mm_loadl_epi64(row.as_ptr().add(t1.base) as *const __m128i);
                let bytes = _mm_shuffle_epi8(_mm_unpacklo_epi64(lo, hi), shuffle);
                let weights =
                    _mm256_loadu_si256(self.lane_weights.as_ptr().add(k) as *const __m256i);
                let sums = _mm256_madd_epi16(_mm256_cvtepu8_epi16(bytes), weights);
                let sums = _mm256_permutevar8x32_epi32(sums, pack);
                _mm256_storeu_si256(out.as_mut_ptr().add(3 * k) as *mut __m256i, sums);
            }
            k += 2;
        }
    }
}

/// One output pixel of the horizontal pass (never reads the second pixel when its weight is 0,
/// which is where it may lie outside the row).
#[inline(always)]
fn pixel_sums(row: &[u8], t: &PixelTaps, out: &mut [i32]) {
    let px = &row[t.base..];
    for c in 0..3 {
        let second = if t.b != 0 { px[3 + c] as i32 * t.b } else { 0 };
        out[c] = px[c] as i32 * t.a + second;
    }
}

/// OpenCV's vertical combination of two horizontally resized rows into 8-bit output.
#[inline(always)]
pub(crate) fn vertical_combine(row0: &[i32], row1: &[i32], w0: i32, w1: i32, out: &mut [u8]) {
    let n = out.len();
    let simd_end = n / SIMD_LANES_I16 * SIMD_LANES_I16;
    // OpenCV packs `row >> 4` to i16 with saturation, multiplies with `mulhi` and adds with
    // saturation. With 8-bit pixels the horizontal sums are at most 255 * 2049, so `>> 4` fits
    // i16 and the sums cannot saturate: plain truncation is exact and vectorises better.
    let (b0, b1) = (w0 as i16, w1 as i16);
    let (r0, r1) = (&row0[..n], &row1[..n]);
    for ((o, &a), &b) in out[..simd_end]
        .iter_mut()
        .zip(&r0[..simd_end])
        .zip(&r1[..simd_end])
    {
        debug_assert!((0..=255 * 2049).contains(&a) && (0..=255 * 2049).contains(&b));
        let (s0, s1) = ((a >> 4) as i16, (b >> 4) as i16);
        let t0 = ((s0 as i32 * b0 as i32) >> 16) as i16;
        let t1 = ((s1 as i32 * b1 as i32) >> 16) as i16;
        let v = t0.saturating_add(t1).saturating_add(2) >> 2;
        *o = v.clamp(0, 255) as u8;
    }
    for x in simd_end..n {
        let v = r0[x] as i64 * w0 as i64 + r1[x] as i64 * w1 as i64;
        out[x] = ((v + (1 << 21)) >> 22).clamp(0, 255) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_horizontal_pass_equals_the_per_pixel_sums() {
        let mut seed = 7u32;
        let mut rnd = |n: u32| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) % n
        };
        for width in [1usize, 2, 3, 5, 17, 64] {
            let row: Vec<u8> = (0..3 * width).map(|_| rnd(256) as u8).collect();
            for n in [1usize, 2, 3, 8, 33] {
                let taps: Vec<PixelTaps> = (0..n)
                    .map(|_| {
                        let px = rnd(width as u32) as usize;
                        let last = px + 1 == width;
                        let a = rnd(2049) as i32;
                        let b = if last || rnd(3) == 0 {
                            0
                        } else {
                            rnd(2049) as i32
                        };
                        PixelTaps { base: 3 * px, a, b }
                    })
                    .collect();
                let mut want = Vec::new();
                for t in &taps {
                    for c in 0..3 {
                        let second = if t.b != 0 {
                            row[t.base + 3 + c] as i32 * t.b
                        } else {
                            0
                        };
                        want.push(row[t.base + c] as i32 * t.a + second);
                    }
                }
                let mut got = vec![-1; 3 * n];
                RowTaps::new(taps).apply(&row, &mut got);
                assert_eq!(got, want, "width {width}, {n} pixels");
            }
        }
    }

    #[test]
    fn exact_2x_downscale_equals_area_average() {
        // OpenCV switches to INTER_AREA for an exact 2x downscale; the linear kernel must agree.
        let taps = x_taps(8, 4);
        for t in &taps {
            assert_eq!((t.w0, t.w1), (1024, 1024));
        }
        let rows = [[(10 + 20) * 1024, 0], [(30 + 41) * 1024, 0]];
        let mut out = [0u8; 1];
        vertical_combine(&rows[0][..1], &rows[1][..1], 1024, 1024, &mut out);
        assert_eq!(out[0], ((10 + 20 + 30 + 41 + 2) >> 2) as u8);
    }

    #[test]
    fn identity_scale_copies() {
        let taps = x_taps(5, 5);
        for (i, t) in taps.iter().enumerate() {
            assert_eq!((t.i0, t.w0, t.w1), (i, 2048, 0));
        }
        let row: Vec<i32> = (0..16).map(|v| v * 15 * 2048).collect();
        let mut out = vec![0u8; 16];
        vertical_combine(&row, &row, 2048, 0, &mut out);
        assert_eq!(out, (0..16).map(|v| (v * 15) as u8).collect::<Vec<_>>());
    }

    #[test]
    fn upscale_y_weights_are_not_clamped() {
        // Output row 0 of a 4x upscale samples source row -0.375: both taps clamp to row 0,
        // the weights keep their unclamped values.
        let t = y_taps(2, 8)[0];
        assert_eq!((t.i0, t.i1), (0, 0));
        assert_eq!((t.w0, t.w1), (fixed_weight(0.375), fixed_weight(0.625)));
    }
}
