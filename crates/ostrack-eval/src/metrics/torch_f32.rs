//! Float32 reductions in the exact order PyTorch's CPU `sum` kernel (`SumKernel.cpp`,
//! `cascade_sum`) adds numbers, so that OSTrack's float32 curves and AUCs are reproduced to
//! the last bit.
//!
//! `mean` on CPU is `sum(...).div_(n)`. The summation order depends on the memory layout of
//! the reduced tensor and on the SIMD width the kernel was built for; [`SIMD_LANES`] is the
//! width of `Vectorized<float>` on the machine that produced the reference numbers
//! (AVX2: 8 lanes), checked by the fixture tests (16 lanes changes the fixture AUC by 7.6e-6).
//!
//! Limit: PyTorch splits reductions of more than 32768 elements (e.g. 280 LaSOT sequences ×
//! 3 trackers × 51 bins) over its threads, which moves the column blocks by a thread-count
//! dependent offset; there the last float32 bit of a curve point may differ (≈ 1e-5 on a
//! percent score), far below the run-to-run variance of the tracker itself.

/// Lanes of `at::vec::Vectorized<float>` (AVX2 / NEON builds: 8).
pub(crate) const SIMD_LANES: usize = 8;

/// `c10::utils::CeilLog2` (with its `x <= 2 → 1` special case).
fn ceil_log2(x: usize) -> u32 {
    if x <= 2 {
        return 1;
    }
    usize::BITS - (x - 1).leading_zeros()
}

/// `multi_row_sum<float, NROWS>`: sums `size` rows of `NROWS` columns at once with a 4-level
/// cascade of accumulators; `load(i, k)` returns element `k` of row `i`.
fn multi_row_sum<const NROWS: usize>(
    size: usize,
    load: impl Fn(usize, usize) -> f32,
) -> [f32; NROWS] {
    const LEVELS: usize = 4;
    let level_power = (ceil_log2(size) / LEVELS as u32).max(4);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [[0f32; NROWS]; LEVELS];
    let mut i = 0usize;
    while i + level_step <= size {
        for _ in 0..level_step {
            for (k, a) in acc[0].iter_mut().enumerate() {
                *a += load(i, k);
            }
            i += 1;
        }
        for j in 1..LEVELS {
            let (lower, upper) = acc.split_at_mut(j);
            for (up, low) in upper[0].iter_mut().zip(lower[j - 1].iter_mut()) {
                *up += *low;
                *low = 0.0;
            }
            let mask = level_mask << (j as u32 * level_power);
            if i & mask != 0 {
                break;
            }
        }
    }
    while i < size {
        for (k, a) in acc[0].iter_mut().enumerate() {
            *a += load(i, k);
        }
        i += 1;
    }
    let (first, rest) = acc.split_at_mut(1);
    for level in rest.iter() {
        for (a, b) in first[0].iter_mut().zip(level) {
            *a += *b;
        }
    }
    first[0]
}

/// `row_sum<float>`: the row viewed as `(-1, 4)`, column partial sums, tail, then the partials.
fn row_sum(values: &[f32]) -> f32 {
    const ILP: usize = 4;
    let size_ilp = values.len() / ILP;
    let mut partial = multi_row_sum::<ILP>(size_ilp, |i, k| values[i * ILP + k]);
    for v in &values[size_ilp * ILP..] {
        partial[0] += v;
    }
    for k in 1..ILP {
        partial[0] += partial[k];
    }
    partial[0]
}

/// Sum of one contiguous row (`tensor.sum(-1)` / `mean(-1)` on a contiguous last dimension):
/// `vectorized_inner_sum` when the row fills a SIMD vector, else `scalar_inner_sum`.
pub(crate) fn inner_sum(values: &[f32]) -> f32 {
    let w = SIMD_LANES;
    if values.len() < w {
        return row_sum(values);
    }
    let vec_size = values.len() / w;
    // Each lane runs `row_sum` over the vectors, independently of the other lanes.
    let lanes: Vec<f32> = (0..w)
        .map(|lane| {
            let column: Vec<f32> = (0..vec_size).map(|v| values[v * w + lane]).collect();
            row_sum(&column)
        })
        .collect();
    let mut total = 0f32;
    for v in &values[vec_size * w..] {
        total += v;
    }
    for l in lanes {
        total += l;
    }
    total
}

/// `row.mean()` over a contiguous row.
pub(crate) fn inner_mean(values: &[f32]) -> f32 {
    inner_sum(values) / values.len() as f32
}

/// `matrix.sum(0)` of a contiguous `[rows, cols]` tensor (reduction over the outer dimension).
/// Columns are processed in blocks by `vectorized_outer_sum` (or `scalar_outer_sum` when a row
/// is narrower than a SIMD vector), and the block a column falls in decides its summation order.
pub(crate) fn outer_sum(matrix: &[Vec<f32>]) -> Vec<f32> {
    let rows = matrix.len();
    let cols = matrix.first().map_or(0, Vec::len);
    let column = |j: usize| -> Vec<f32> { matrix.iter().map(|r| r[j]).collect() };
    let cascade = |j: usize| multi_row_sum::<1>(rows, |i, _| matrix[i][j])[0];
    let w = SIMD_LANES;
    let mut out = vec![0f32; cols];
    if cols >= w {
        // Blocks of 4 vectors: multi_row_sum over all rows; then single vectors and the
        // scalar tail: row_sum.
        let wide = (cols / (4 * w)) * 4 * w;
        for (j, o) in out.iter_mut().enumerate() {
            *o = if j < wide {
                cascade(j)
            } else {
                row_sum(&column(j))
            };
        }
    } else {
        // scalar_outer_sum: groups of 4 columns via multi_row_sum, the rest via row_sum.
        let grouped = (cols / 4) * 4;
        for (j, o) in out.iter_mut().enumerate() {
            *o = if j < grouped {
                cascade(j)
            } else {
                row_sum(&column(j))
            };
        }
    }
    out
}

/// `matrix.mean(0)` of a contiguous `[rows, cols]` float32 tensor.
pub(crate) fn outer_mean(matrix: &[Vec<f32>]) -> Vec<f32> {
    let n = matrix.len() as f32;
    outer_sum(matrix).into_iter().map(|s| s / n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sums_are_sequential() {
        let v = [0.1f32, 0.2, 0.3];
        assert_eq!(row_sum(&v), ((0.0f32 + 0.1) + 0.2) + 0.3);
        assert_eq!(inner_sum(&v), row_sum(&v));
    }

    #[test]
    fn long_sums_are_close_to_exact() {
        let v: Vec<f32> = (0..1000).map(|i| 1.0 / (i as f32 + 1.0)).collect();
        let exact: f64 = v.iter().map(|&x| x as f64).sum();
        assert!((inner_sum(&v) as f64 - exact).abs() < 1e-5);
        assert!((row_sum(&v) as f64 - exact).abs() < 1e-5);
        let m: Vec<Vec<f32>> = v.iter().map(|&x| vec![x; 40]).collect();
        for s in outer_sum(&m) {
            assert!((s as f64 - exact).abs() < 1e-5);
        }
    }

    #[test]
    fn inner_sum_order_for_21_values() {
        // vectorized_inner_sum with 8 lanes: lanes l = x[l] + x[8 + l], tail x[16..21] first.
        let v: Vec<f32> = (0..21).map(|i| 1.0 / (3.0 + i as f32)).collect();
        let mut expected = 0f32;
        for x in &v[16..] {
            expected += x;
        }
        for l in 0..8 {
            expected += (0.0f32 + v[l]) + v[8 + l];
        }
        assert_eq!(inner_sum(&v), expected);
    }
}
