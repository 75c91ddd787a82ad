//! Crop bytes to network input: interleaved RGB `u8` → normalised `f32` planes (CHW), with the
//! per-crop flip, computed exactly as the original's `ToTensorAndJitter` (or `ToTensor`) and
//! `Normalize` in float32.

use std::mem::MaybeUninit;

/// What happens to one byte `v` of channel `c`: with `brightness = Some(f / 255)`,
/// `((v · f/255).clamp(0, 1) - mean[c]) / std[c]`, else `(v / 255 - mean[c]) / std[c]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Normalization {
    pub brightness: Option<f32>,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    #[inline(always)]
    fn apply(&self, v: u8, c: usize) -> f32 {
        match self.brightness {
            Some(scale) => ((v as f32 * scale).clamp(0.0, 1.0) - self.mean[c]) / self.std[c],
            None => (v as f32 / 255.0 - self.mean[c]) / self.std[c],
        }
    }
}

/// Writes the `s × s` interleaved RGB crop `pixels` as three normalised planes, mirrored
/// left-right when `flip`. Every element of the planes is written.
pub(crate) fn to_planes(
    pixels: &[u8],
    s: usize,
    planes: [&mut [MaybeUninit<f32>]; 3],
    norm: &Normalization,
    flip: bool,
) {
    assert!(pixels.len() >= 3 * s * s && planes.iter().all(|p| p.len() >= s * s));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { avx2::to_planes(pixels, s, planes, norm, flip) };
    }
    to_planes_scalar(pixels, s, planes, norm, flip)
}

fn to_planes_scalar(
    pixels: &[u8],
    s: usize,
    planes: [&mut [MaybeUninit<f32>]; 3],
    norm: &Normalization,
    flip: bool,
) {
    for (c, plane) in planes.into_iter().enumerate() {
        for (src, dst) in pixels.chunks_exact(3 * s).zip(plane.chunks_exact_mut(s)) {
            for (d, p) in dst.iter_mut().zip(src.chunks_exact(3)) {
                d.write(norm.apply(p[c], c));
            }
            if flip {
                dst.reverse();
            }
        }
    }
}

/// Eight values of one channel at a time: gathered from the interleaved row by byte shuffles,
/// widened, normalised with the same float32 operations (multiply, clamp by max/min,
/// subtract, divide; no NaN can occur) and stored, lanes reversed for a mirrored crop.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    pub(super) fn to_planes(
        pixels: &[u8],
        s: usize,
        planes: [&mut [MaybeUninit<f32>]; 3],
        norm: &Normalization,
        flip: bool,
    ) {
        let reverse = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
        let (zero, one) = (_mm256_set1_ps(0.0), _mm256_set1_ps(1.0));
        let vector_end = s / 8 * 8;
        let [r, g, b] = planes;
        // The planes (batch arrays of tens of MB) are written once and read much later, by
        // another thread: non-temporal stores save reading every cache line before writing it
        // and keep the frames in cache. They need 16-byte aligned addresses, which every
        // 8-value store has when the planes and the rows start 16-byte aligned.
        let aligned = |p: &[MaybeUninit<f32>]| (p.as_ptr() as usize).is_multiple_of(16);
        let stream = s.is_multiple_of(4) && aligned(r) && aligned(g) && aligned(b);
        // Channel `c` of pixels 0-3 from the bytes at 0.., of pixels 4-7 from those at 8..:
        // both 16-byte loads stay inside the 24 bytes of the 8 pixels.
        let lanes = |c: i8| {
            let (a, b) = (
                _mm_setr_epi8(
                    c,
                    3 + c,
                    6 + c,
                    9 + c,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                ),
                _mm_setr_epi8(
                    4 + c,
                    7 + c,
                    10 + c,
                    13 + c,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                    -1,
                ),
            );
            (a, b)
        };
        let masks = [lanes(0), lanes(1), lanes(2)];
        for (y, src) in pixels.chunks_exact(3 * s).take(s).enumerate() {
            for (c, plane) in [&mut *r, &mut *g, &mut *b].into_iter().enumerate() {
                let dst = &mut plane[y * s..(y + 1) * s];
                let (mean, std) = (_mm256_set1_ps(norm.mean[c]), _mm256_set1_ps(norm.std[c]));
                let (lo_mask, hi_mask) = masks[c];
                for x in (0..vector_end).step_by(8) {
                    // SAFETY: `x + 8 <= s`: the loads read bytes `3x .. 3x + 24` of the row and
                    // the store writes 8 floats of `dst` (at `s - x - 8` when mirrored).
                    unsafe {
                        let at = src.as_ptr().add(3 * x);
                        let lo = _mm_loadu_si128(at as *const __m128i);
                        let hi = _mm_loadu_si128(at.add(8) as *const __m128i);
                        let v = _mm_unpacklo_epi32(
                            _mm_shuffle_epi8(lo, lo_mask),
                            _mm_shuffle_epi8(hi, hi_mask),
                        );
                        let v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
                        let v = match norm.brightness {
                            Some(scale) => {
                                let v = _mm256_mul_ps(v, _mm256_set1_ps(scale));
                                _mm256_min_ps(_mm256_max_ps(v, zero), one)
                            }
                            None => _mm256_div_ps(v, _mm256_set1_ps(255.0)),
                        };
                        let v = _mm256_div_ps(_mm256_sub_ps(v, mean), std);
                        let (v, at) = if flip {
                            (_mm256_permutevar8x32_ps(v, reverse), s - x - 8)
                        } else {
                            (v, x)
                        };
                        let at = dst.as_mut_ptr().add(at) as *mut f32;
                        if stream {
                            _mm_stream_ps(at, _mm256_castps256_ps128(v));
                            _mm_stream_ps(at.add(4), _mm256_extractf128_ps::<1>(v));
                        } else {
                            _mm256_storeu_ps(at, v);
                        }
                    }
                }
                for x in vector_end..s {
                    let at = if flip { s - 1 - x } else { x };
                    dst[at].write(norm.apply(src[3 * x + c], c));
                }
            }
        }
        if stream {
            // Non-temporal stores are weakly ordered: make them visible before the planes are
            // handed to another thread.
            _mm_sfence();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The planes as plain floats, computed one value at a time.
    fn reference(pixels: &[u8], s: usize, norm: &Normalization, flip: bool) -> Vec<f32> {
        let mut out = vec![0.0; 3 * s * s];
        for c in 0..3 {
            for y in 0..s {
                for x in 0..s {
                    let sx = if flip { s - 1 - x } else { x };
                    out[c * s * s + y * s + x] = norm.apply(pixels[3 * (y * s + sx) + c], c);
                }
            }
        }
        out
    }

    #[test]
    fn vector_and_scalar_paths_equal_the_per_value_formula() {
        for s in [1, 7, 8, 13, 24] {
            let pixels: Vec<u8> = (0..3 * s * s).map(|i| (i * 37 % 256) as u8).collect();
            for brightness in [None, Some(1.13 / 255.0), Some(0.8 / 255.0)] {
                let norm = Normalization {
                    brightness,
                    mean: [0.485, 0.456, 0.406],
                    std: [0.229, 0.224, 0.225],
                };
                for flip in [false, true] {
                    let want = reference(&pixels, s, &norm, flip);
                    for scalar in [false, true] {
                        let mut out = vec![MaybeUninit::new(f32::NAN); 3 * s * s];
                        let (r, rest) = out.split_at_mut(s * s);
                        let (g, b) = rest.split_at_mut(s * s);
                        if scalar {
                            to_planes_scalar(&pixels, s, [r, g, b], &norm, flip);
                        } else {
                            to_planes(&pixels, s, [r, g, b], &norm, flip);
                        }
                        // SAFETY: initialised at creation.
                        let got: Vec<f32> =
                            out.iter().map(|v| unsafe { v.assume_init() }).collect();
                        let same = got
                            .iter()
                            .zip(&want)
                            .all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(same, "s {s} {brightness:?} flip {flip} scalar {scalar}");
                    }
                }
            }
        }
    }
}
