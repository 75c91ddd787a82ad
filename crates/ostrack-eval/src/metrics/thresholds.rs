//! Threshold grids built with the same floating-point steps as the toolkits, so that a value
//! sitting exactly on a threshold is classified the same way.

/// `np.linspace(start, stop, num)`: `i * step + start`, last point set to `stop`.
pub(crate) fn numpy_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// `torch.arange(start, end, step, dtype=float64)` as its CPU kernel fills it: `ceil((end -
/// start) / step)` points, written 4 at a time (`Vectorized<double>::arange`) as
/// `(start + step * i0) + k * step` for the 4-aligned `i0` and `k < 4`, the remainder one by one
/// as `start + step * i`. Hence 0.7500000000000001 (= 0.6000000000000001 + 3 · 0.05) at `i = 15`.
pub(crate) fn torch_arange(start: f64, end: f64, step: f64) -> Vec<f64> {
    const LANES: usize = 4;
    let n = ((end - start) / step).ceil().max(0.0) as usize;
    let vectorized = n / LANES * LANES;
    (0..n)
        .map(|i| {
            if i < vectorized {
                let k = i % LANES;
                let base = start + step * (i - k) as f64;
                if k == 0 { base } else { base + k as f64 * step }
            } else {
                start + step * i as f64
            }
        })
        .collect()
}

/// MATLAB's `a:d:b`: the first half counted up from `a`, the second half down from `b`, the
/// middle point of an even count `(a + b) / 2`.
pub(crate) fn matlab_colon(a: f64, d: f64, b: f64) -> Vec<f64> {
    let tol = 2.0 * f64::EPSILON * a.abs().max(b.abs());
    let n = ((b - a) / d + tol / d.abs()).floor() as usize;
    (0..=n)
        .map(|k| {
            if 2 * k < n {
                a + k as f64 * d
            } else if 2 * k == n {
                (a + b) / 2.0
            } else {
                b - (n - k) as f64 * d
            }
        })
        .collect()
}

/// Index of the threshold that equals `target` after a float32 round trip (how OSTrack's
/// `print_results` picks OP50 / OP75 from thresholds reloaded as float32).
pub(crate) fn index_of_f32(thresholds: &[f64], target: f64) -> Option<usize> {
    thresholds.iter().position(|&t| t as f32 == target as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_match_the_toolkits() {
        let t = torch_arange(0.0, 1.0 + 0.05, 0.05);
        assert_eq!(t.len(), 21);
        assert_eq!(t[3], 0.15000000000000002);
        assert_eq!(t[15], 0.7500000000000001);
        assert_eq!(index_of_f32(&t, 0.75), Some(15));
        let l = numpy_linspace(0.0, 1.0, 101);
        assert_eq!(l.len(), 101);
        assert_eq!(l[100], 1.0);
        assert_eq!(l[75], 75.0 * 0.01);
        let m = matlab_colon(0.0, 0.05, 1.0);
        assert_eq!(m.len(), 21);
        assert_eq!(m[10], 0.5);
        assert_eq!(m[15], 0.75);
        assert_eq!(m[20], 1.0);
        assert_eq!(matlab_colon(0.0, 1.0, 50.0).len(), 51);
    }
}
