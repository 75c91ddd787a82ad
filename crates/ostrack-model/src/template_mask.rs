//! The CE template mask (`generate_mask_cond`, spec §1.7): which template tokens score the
//! search tokens in the candidate-elimination blocks. A model input, built by the tracker from
//! the template box and by the training step from the batch's template boxes.

use ostrack_config::CeTemplateRange;

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
    template_boxes: &[[f64; 4]],
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
fn gt_box_mask(bb: &[f64; 4], size: usize, stride: usize) -> Vec<bool> {
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
}
