//! libjpeg's default output stage: "fancy" (triangle) chroma upsampling (`jdsample.c`) and the
//! table-driven YCbCr→RGB conversion (`jdcolor.c`).

const SCALEBITS: i32 = 16;
const ONE_HALF: i32 = 1 << (SCALEBITS - 1);

const fn fix(x: f64) -> i32 {
    (x * (1 << SCALEBITS) as f64 + 0.5) as i32
}

/// A row of YCbCr samples to interleaved RGB: the table formulas of `jdcolor.c` evaluated
/// directly (same integers), so that the loop vectorises.
#[inline(always)]
pub(crate) fn ycc_row_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    let (k_r, k_b) = (fix(1.40200), fix(1.77200));
    let (k_gb, k_gr) = (fix(0.34414), fix(0.71414));
    for (((o, &yv), &cbv), &crv) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        let (yv, cb, cr) = (yv as i32, cbv as i32 - 128, crv as i32 - 128);
        let r = yv + ((k_r * cr + ONE_HALF) >> SCALEBITS);
        let g = yv + ((-k_gb * cb + ONE_HALF - k_gr * cr) >> SCALEBITS);
        let b = yv + ((k_b * cb + ONE_HALF) >> SCALEBITS);
        o[0] = r.clamp(0, 255) as u8;
        o[1] = g.clamp(0, 255) as u8;
        o[2] = b.clamp(0, 255) as u8;
    }
}

/// Upsampled chroma for the luma columns `x0 .. x0 + out.len()` of one output row
/// (`h2v1_fancy_upsample` / `h2v2_fancy_upsample`, or a copy when not subsampled).
///
/// `sums[k]` is chroma column `ca + k` of the row; for h2v2 it is already the vertical
/// combination `3 * nearest + next_nearest` (biases 8/7, shift 4), for h2v1 the sample itself
/// (biases 1/2, shift 2). `width` is the chroma width of the frame (its first and last columns
/// use libjpeg's edge rules). `tmp` is scratch space of `2 * sums.len()` bytes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn upsample_row(
    out: &mut [u8],
    x0: usize,
    ca: usize,
    width: usize,
    h2: bool,
    v2: bool,
    sums: &[i32],
    tmp: &mut [u8],
) {
    if !h2 {
        for (o, &v) in out.iter_mut().zip(&sums[x0 - ca..]) {
            *o = v as u8;
        }
        return;
    }
    let n = sums.len();
    let (b_even, b_odd, shift) = if v2 { (8, 7, 4) } else { (1, 2, 2) };
    let edge = |k: usize, odd: bool| -> u8 {
        let c = ca + k;
        let s = sums[k];
        let (prev, next) = (sums[k.saturating_sub(1)], sums[(k + 1).min(n - 1)]);
        let v = if !odd {
            if c == 0 {
                if v2 { s * 4 + 8 } else { s << 2 }
            } else {
                3 * s + prev + b_even
            }
        } else if c + 1 >= width {
            if v2 { s * 4 + 7 } else { s << 2 }
        } else {
            3 * s + next + b_odd
        };
        (v >> shift) as u8
    };
    if n >= 3 {
        let (mid, s) = (&mut tmp[2..2 * n - 2], sums);
        for (k, pair) in mid.chunks_exact_mut(2).enumerate() {
            let (p, t, q) = (s[k], s[k + 1], s[k + 2]);
            pair[0] = ((3 * t + p + b_even) >> shift) as u8;
            pair[1] = ((3 * t + q + b_odd) >> shift) as u8;
        }
    }
    for k in [0, n - 1] {
        tmp[2 * k] = edge(k, false);
        tmp[2 * k + 1] = edge(k, true);
    }
    let start = x0 - 2 * ca;
    out.copy_from_slice(&tmp[start..start + out.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversion tables of `build_ycc_rgb_table`.
    struct YccTables {
        cr_r: [i32; 256],
        cb_b: [i32; 256],
        cr_g: [i32; 256],
        cb_g: [i32; 256],
    }

    impl YccTables {
        pub fn new() -> Self {
            let x = |i: usize| i as i32 - 128;
            Self {
                cr_r: std::array::from_fn(|i| (fix(1.40200) * x(i) + ONE_HALF) >> SCALEBITS),
                cb_b: std::array::from_fn(|i| (fix(1.77200) * x(i) + ONE_HALF) >> SCALEBITS),
                cr_g: std::array::from_fn(|i| -fix(0.71414) * x(i)),
                cb_g: std::array::from_fn(|i| -fix(0.34414) * x(i) + ONE_HALF),
            }
        }

        #[inline]
        pub fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
            let (y, cb, cr) = (y as i32, cb as usize, cr as usize);
            let clamp = |v: i32| v.clamp(0, 255) as u8;
            [
                clamp(y + self.cr_r[cr]),
                clamp(y + ((self.cb_g[cb] + self.cr_g[cr]) >> SCALEBITS)),
                clamp(y + self.cb_b[cb]),
            ]
        }
    }

    #[test]
    fn arithmetic_conversion_equals_libjpeg_tables() {
        let t = YccTables::new();
        for y in (0..=255u8).step_by(5) {
            for cb in 0..=255u8 {
                for cr in (0..=255u8).step_by(3) {
                    let mut out = [0u8; 3];
                    ycc_row_to_rgb(&[y], &[cb], &[cr], &mut out);
                    assert_eq!(out, t.rgb(y, cb, cr), "{y} {cb} {cr}");
                }
            }
        }
    }
}
