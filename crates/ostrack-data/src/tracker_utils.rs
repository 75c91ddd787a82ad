//! Small pieces of the inference tracker that live next to the crops: pre-processing of crops,
//! the Hann window, mapping a predicted box back to the frame, clipping it, and the CE template
//! masks (spec §1.7, §6).

use crate::crop::BoxXywh;
use ostrack_config::CeTemplateRange;

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

/// Why a CE template mask cannot be built (the original raises `NotImplementedError`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CeMaskError {
    #[error(
        "CE_TEMPLATE_RANGE {range} is defined only for template grids of {supported}, not {grid}x{grid}"
    )]
    UnsupportedGrid {
        range: &'static str,
        grid: usize,
        supported: &'static str,
    },
    #[error("template size {size} is not a positive multiple of the stride {stride}")]
    BadSize { size: usize, stride: usize },
}

/// `generate_mask_cond`: which template tokens score the search tokens in CE blocks.
/// `template_boxes` are normalised `[x, y, w, h]` of the target in the template crop (used by
/// `GT_BOX` only). Returns `None` for `ALL`, else `boxes.len()` rows of `(size/stride)²` flags.
pub fn ce_template_mask(
    range: CeTemplateRange,
    template_size: usize,
    stride: usize,
    template_boxes: &[BoxXywh],
) -> Result<Option<Vec<bool>>, CeMaskError> {
    if stride == 0 || template_size == 0 || !template_size.is_multiple_of(stride) {
        return Err(CeMaskError::BadSize {
            size: template_size,
            stride,
        });
    }
    let fz = template_size / stride;
    let square = |lo: usize, hi: usize| -> Vec<bool> {
        (0..fz * fz)
            .map(|i| (lo..hi).contains(&(i / fz)) && (lo..hi).contains(&(i % fz)))
            .collect()
    };
    let per_sample: Vec<Vec<bool>> = match range {
        CeTemplateRange::All => return Ok(None),
        CeTemplateRange::CtrPoint => {
            let c = match fz {
                8 | 7 => 3,
                12 => 5,
                14 => 6,
                _ => {
                    return Err(CeMaskError::UnsupportedGrid {
                        range: "CTR_POINT",
                        grid: fz,
                        supported: "7, 8, 12, 14",
                    });
                }
            };
            vec![square(c, c + 1); template_boxes.len()]
        }
        CeTemplateRange::CtrRec => {
            let (lo, hi) = match fz {
                8 => (3, 5),
                12 => (5, 7),
                7 => (3, 4),
                _ => {
                    return Err(CeMaskError::UnsupportedGrid {
                        range: "CTR_REC",
                        grid: fz,
                        supported: "7, 8, 12",
                    });
                }
            };
            vec![square(lo, hi); template_boxes.len()]
        }
        CeTemplateRange::GtBox => template_boxes
            .iter()
            .map(|b| gt_box_mask(b, template_size, stride))
            .collect(),
    };
    Ok(Some(per_sample.concat()))
}

/// `GT_BOX`: the box rasterised at full template resolution with the original's
/// `[int(y):int(y+h-1), int(x):int(x+w-1)]` slice, then `F.interpolate(bilinear, 1/stride)` and
/// `bool` (a cell is set when any tap with non-zero weight is set).
fn gt_box_mask(bb: &BoxXywh, size: usize, stride: usize) -> Vec<bool> {
    let b = bb.map(|v| (v as f32 * size as f32) as f64);
    let slice = |start: f64, extent: f64| {
        let (a, z) = (start.trunc() as i64, (start + extent - 1.0).trunc() as i64);
        let norm = |i: i64| {
            if i < 0 {
                (i + size as i64).max(0)
            } else {
                i.min(size as i64)
            }
        };
        let (a, z) = (norm(a), norm(z));
        (a as usize, z.max(a) as usize)
    };
    let (x0, x1) = slice(b[0], b[2]);
    let (y0, y1) = slice(b[1], b[3]);
    let set = |y: usize, x: usize| (y0..y1).contains(&y) && (x0..x1).contains(&x);
    let fz = size / stride;
    let taps = |d: usize| -> (usize, Option<usize>) {
        let src = (stride as f32 * (d as f32 + 0.5) - 0.5).max(0.0);
        let i0 = src.floor() as usize;
        let has_second = i0 + 1 < size && src - i0 as f32 > 0.0;
        (i0.min(size - 1), has_second.then_some(i0 + 1))
    };
    let mut out = Vec::with_capacity(fz * fz);
    for i in 0..fz {
        let (r0, r1) = taps(i);
        for j in 0..fz {
            let (c0, c1) = taps(j);
            let rows = std::iter::once(r0).chain(r1);
            out.push(
                rows.flat_map(|r| std::iter::once(c0).chain(c1).map(move |c| (r, c)))
                    .any(|(r, c)| set(r, c)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_point_is_token_27_for_8x8() {
        let m = ce_template_mask(CeTemplateRange::CtrPoint, 128, 16, &[[0.0; 4]])
            .unwrap()
            .unwrap();
        assert_eq!(m.iter().position(|&v| v), Some(27));
        assert_eq!(m.iter().filter(|&&v| v).count(), 1);
        assert!(
            ce_template_mask(CeTemplateRange::All, 128, 16, &[[0.0; 4]])
                .unwrap()
                .is_none()
        );
        assert!(ce_template_mask(CeTemplateRange::CtrPoint, 160, 16, &[[0.0; 4]]).is_err());
    }

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
