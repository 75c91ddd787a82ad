//! Annotated frames for `ostrack track`: the box (green, red when the score is below the lost
//! threshold, with a red frame border), and optionally the last block's attention on the kept
//! CE search tokens (red heat; eliminated tokens darkened).

use ostrack_data::{BoxXywh, RgbImage};

use crate::tracker::StepDetails;

const TRACKED: [u8; 3] = [0, 255, 0];
const LOST: [u8; 3] = [255, 0, 0];
const BOX_THICKNESS: i64 = 2;
const LOST_BORDER: i64 = 4;

/// The frame as an `image` buffer with the annotations drawn.
pub fn annotate(
    frame: &RgbImage,
    bbox: BoxXywh,
    lost: bool,
    attention: Option<(&StepDetails, f64)>,
) -> image::RgbImage {
    let mut img =
        image::RgbImage::from_raw(frame.width as u32, frame.height as u32, frame.data.clone())
            .unwrap_or_else(|| image::RgbImage::new(frame.width as u32, frame.height as u32));
    if let Some((details, search_factor)) = attention {
        overlay_attention(&mut img, details, search_factor);
    }
    let color = if lost { LOST } else { TRACKED };
    let [x, y, w, h] = bbox;
    let (x0, y0) = (x.round() as i64, y.round() as i64);
    let (x1, y1) = ((x + w).round() as i64 - 1, (y + h).round() as i64 - 1);
    for t in 0..BOX_THICKNESS {
        hollow_rect(&mut img, x0 - t, y0 - t, x1 + t, y1 + t, color);
    }
    if lost {
        let (w, h) = (img.width() as i64, img.height() as i64);
        for t in 0..LOST_BORDER {
            hollow_rect(&mut img, t, t, w - 1 - t, h - 1 - t, LOST);
        }
    }
    img
}

fn put(img: &mut image::RgbImage, x: i64, y: i64, color: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, image::Rgb(color));
    }
}

fn hollow_rect(img: &mut image::RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, color: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    for x in x0.max(0)..=x1.min(w - 1) {
        put(img, x, y0, color);
        put(img, x, y1, color);
    }
    for y in y0.max(0)..=y1.min(h - 1) {
        put(img, x0, y, color);
        put(img, x1, y, color);
    }
}

/// Blends the per-token attention over the frame region each search token covers. The search
/// region is the square `sample_target` cut around the previous state.
fn overlay_attention(img: &mut image::RgbImage, d: &StepDetails, search_factor: f64) {
    let Some(att) = d.search_attention.as_ref() else {
        return;
    };
    let [x, y, w, h] = d.previous_state;
    let crop_sz = ((w * h).sqrt() * search_factor).ceil();
    // Python's round (half to even), as in sample_target.
    let x1 = (x + 0.5 * w - 0.5 * crop_sz).round_ties_even();
    let y1 = (y + 0.5 * h - 0.5 * crop_sz).round_ties_even();
    let f = d.feat_size;
    let cell = crop_sz / f as f64;
    let peak = att
        .iter()
        .copied()
        .fold(0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let mut kept = vec![false; f * f];
    for &g in &d.global_index {
        if let Some(k) = usize::try_from(g).ok().and_then(|g| kept.get_mut(g)) {
            *k = true;
        }
    }
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    for row in 0..f {
        for col in 0..f {
            let px0 = (x1 + col as f64 * cell).floor().max(0.0) as i64;
            let px1 = ((x1 + (col + 1) as f64 * cell).floor() as i64).min(iw);
            let py0 = (y1 + row as f64 * cell).floor().max(0.0) as i64;
            let py1 = ((y1 + (row + 1) as f64 * cell).floor() as i64).min(ih);
            let i = row * f + col;
            let alpha = 0.7 * (att[i] / peak).clamp(0.0, 1.0);
            for py in py0..py1 {
                for px in px0..px1 {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    if kept[i] {
                        p.0[0] = (p.0[0] as f32 * (1.0 - alpha) + 255.0 * alpha) as u8;
                        p.0[1] = (p.0[1] as f32 * (1.0 - alpha)) as u8;
                        p.0[2] = (p.0[2] as f32 * (1.0 - alpha)) as u8;
                    } else {
                        p.0 = p.0.map(|v| v / 3);
                    }
                }
            }
        }
    }
}
