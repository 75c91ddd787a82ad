//! The tracker's arithmetic around the network (spec §6): crop pre-processing, the Hann
//! window on the score map, mapping the predicted box back to the frame and clipping it.

use ostrack_data::BoxXywh;

/// ImageNet mean used by the tracker's `Preprocessor` (hard-coded there).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation used by the tracker's `Preprocessor`.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// `Preprocessor.process`: HWC RGB bytes → CHW float32 `((v / 255) - mean) / std`, in float32
/// with the original's operation order. `pixels.len()` must be `width * height * 3`.
pub fn normalize_image(
    pixels: &[u8],
    width: usize,
    height: usize,
    mean: [f32; 3],
    std: [f32; 3],
) -> Vec<f32> {
    let plane = width * height;
    let mut out = vec![0f32; 3 * plane];
    for (i, p) in pixels.chunks_exact(3).take(plane).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (p[c] as f32 / 255.0 - mean[c]) / std[c];
        }
    }
    out
}

/// `hann2d(tensor([n, n]), centered=True)`: outer product of `0.5 * (1 - cos(2πk/(n+1)))`,
/// k = 1..n, in float32; `n*n` values, row-major.
pub fn hann2d(n: usize) -> Vec<f32> {
    let step = (2.0 * std::f64::consts::PI / (n as f64 + 1.0)) as f32;
    let w: Vec<f32> = (1..=n)
        .map(|k| 0.5 * (1.0 - (step * k as f32).cos()))
        .collect();
    w.iter()
        .flat_map(|&a| w.iter().map(move |&b| a * b))
        .collect()
}

/// `OSTrack.map_box_back`: a predicted `(cx, cy, w, h)` in search-crop pixels at frame scale
/// (i.e. normalised prediction × `search_size / resize_factor`) → `[x, y, w, h]` in the frame,
/// relative to the previous state's centre and half the crop side `0.5 * search_size / rf`.
pub fn map_box_back(
    state: BoxXywh,
    pred_box: [f64; 4],
    resize_factor: f64,
    search_size: usize,
) -> BoxXywh {
    let cx_prev = state[0] + 0.5 * state[2];
    let cy_prev = state[1] + 0.5 * state[3];
    let [cx, cy, w, h] = pred_box;
    let half_side = 0.5 * search_size as f64 / resize_factor;
    let cx_real = cx + (cx_prev - half_side);
    let cy_real = cy + (cy_prev - half_side);
    [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]
}

/// `clip_box(box, H, W, margin)`: keeps at least `margin` pixels of the box inside the frame.
pub fn clip_box(bb: BoxXywh, height: usize, width: usize, margin: f64) -> BoxXywh {
    let (w_img, h_img) = (width as f64, height as f64);
    let [x1, y1, w, h] = bb;
    let (x2, y2) = (x1 + w, y1 + h);
    let x1 = x1.max(0.0).min(w_img - margin);
    let x2 = x2.max(margin).min(w_img);
    let y1 = y1.max(0.0).min(h_img - margin);
    let y2 = y2.max(margin).min(h_img);
    [x1, y1, (x2 - x1).max(margin), (y2 - y1).max(margin)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_box_keeps_margin() {
        assert_eq!(
            clip_box([-50.0, -50.0, 20.0, 20.0], 100, 200, 10.0),
            [0.0, 0.0, 10.0, 10.0]
        );
        assert_eq!(
            clip_box([195.0, 95.0, 20.0, 20.0], 100, 200, 10.0),
            [190.0, 90.0, 10.0, 10.0]
        );
    }
}
