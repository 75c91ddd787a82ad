//! Gaussian centre heat-map labels (`generate_heatmap`, spec §3.2), computed in the same float32
//! operation order as the original so that rounding of the centre and truncation of the radius
//! agree exactly.

use crate::crop::BoxXywh;

/// The CornerNet overlap used by the original.
const MIN_OVERLAP: f64 = 0.7;

/// Heat maps for a batch of normalised `[x, y, w, h]` search boxes: `boxes.len()` maps of
/// `F×F` with `F = search_size / stride`, row-major, concatenated (`[B, F, F]`).
pub fn generate_heatmap(boxes: &[BoxXywh], search_size: usize, stride: usize) -> Vec<f32> {
    let fs = search_size.checked_div(stride).unwrap_or(0);
    let mut maps = vec![0f32; boxes.len() * fs * fs];
    if fs == 0 {
        return maps;
    }
    for (bb, map) in boxes.iter().zip(maps.chunks_exact_mut(fs * fs)) {
        let f = fs as f32;
        let b = bb.map(|v| v as f32 * f);
        let (w, h) = (b[2], b[3]);
        let cx = (b[0] + w / 2.0).round_ties_even();
        let cy = (b[1] + h / 2.0).round_ties_even();
        if let Some(radius) = gaussian_radius(w, h) {
            draw_gaussian(map, fs, cx as i64, cy as i64, radius);
        }
    }
    maps
}

/// CornerNet's "bug version" radius (divisions by 2 instead of 2a), in float32, truncated to an
/// integer. `None` when it is not a number (negative sizes), where the original raises.
fn gaussian_radius(width: f32, height: f32) -> Option<i64> {
    let mo = MIN_OVERLAP;
    let c = |v: f64| v as f32;

    let b1 = height + width;
    let c1 = width * height * c(1.0 - mo) / c(1.0 + mo);
    let r1 = (b1 + (b1 * b1 - 4.0 * c1).sqrt()) / 2.0;

    let b2 = 2.0 * (height + width);
    let c2 = c(1.0 - mo) * width * height;
    let r2 = (b2 + (b2 * b2 - 16.0 * c2).sqrt()) / 2.0;

    let a3 = 4.0 * mo;
    let b3 = c(-2.0 * mo) * (height + width);
    let c3 = c(mo - 1.0) * width * height;
    let r3 = (b3 + (b3 * b3 - c(4.0 * a3) * c3).sqrt()) / 2.0;

    // torch.min propagates NaN.
    let r = [r1, r2, r3].into_iter().fold(f32::INFINITY, |m, v| {
        if v.is_nan() || m.is_nan() {
            f32::NAN
        } else {
            m.min(v)
        }
    });
    if r.is_nan() {
        return None;
    }
    Some(r.max(0.0) as i64)
}

/// `draw_gaussian`: element-wise max of a `(2r+1)²` Gaussian with σ = (2r+1)/6 into the map,
/// clipped at the borders (nothing is drawn when the centre is too far outside).
fn draw_gaussian(map: &mut [f32], fs: usize, cx: i64, cy: i64, radius: i64) {
    let diameter = 2 * radius + 1;
    let sigma = diameter as f64 / 6.0;
    let g = |dx: i64, dy: i64| (-((dx * dx + dy * dy) as f64) / (2.0 * sigma * sigma)).exp();
    // The original zeroes entries below eps * max; the max is the centre value 1.
    let floor = f64::EPSILON * g(0, 0);
    for dy in -radius..=radius {
        let y = cy + dy;
        if y < 0 || y >= fs as i64 {
            continue;
        }
        for dx in -radius..=radius {
            let x = cx + dx;
            if x < 0 || x >= fs as i64 {
                continue;
            }
            let v = g(dx, dy);
            let v = if v < floor { 0.0 } else { v as f32 };
            let cell = &mut map[y as usize * fs + x as usize];
            *cell = cell.max(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_cell_box_has_radius_one() {
        assert_eq!(gaussian_radius(4.0, 4.0), Some(1));
        assert_eq!(gaussian_radius(0.0, 0.0), Some(0));
        assert_eq!(gaussian_radius(-5.0, 3.0), None);
    }

    #[test]
    fn peak_is_one_and_outside_centres_draw_nothing_or_clip() {
        let m = generate_heatmap(&[[0.25, 0.25, 0.25, 0.25]], 256, 16);
        assert_eq!(m.iter().cloned().fold(0.0, f32::max), 1.0);
        let far = generate_heatmap(&[[3.0, 3.0, 0.1, 0.1]], 256, 16);
        assert!(far.iter().all(|&v| v == 0.0));
    }
}
