//! `STARKProcessing` in `sequence` mode for one template + one search frame (spec §5.3):
//! joint grey/flip, box jitter, `sample_target`, box into crop coordinates, per-crop brightness
//! and flip, normalisation and the validity checks.

use std::mem::MaybeUninit;

use rand::RngExt;
use rand::rngs::StdRng;

use crate::crop::{BoxXywh, CropError, CropGeometry, sample_target, transform_image_to_crop};
use crate::error::DataError;
use crate::frames::{EncodedFrame, Rect};
use crate::image::ImageView;
use crate::planes::{Normalization, to_planes};
use ostrack_config::{CropSection, ExperimentConfig};

/// Crop settings of one branch (`DATA.TEMPLATE` / `DATA.SEARCH`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BranchParams {
    pub size: usize,
    pub factor: f64,
    pub center_jitter: f64,
    pub scale_jitter: f64,
}

impl From<&CropSection> for BranchParams {
    fn from(c: &CropSection) -> Self {
        Self {
            size: c.size,
            factor: c.factor,
            center_jitter: c.center_jitter,
            scale_jitter: c.scale_jitter,
        }
    }
}

/// Training applies brightness jitter and per-crop flips; validation only normalises (the joint
/// grey/flip transform runs in both, as in the original).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Val,
}

/// Everything the processing needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingParams {
    pub template: BranchParams,
    pub search: BranchParams,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub split: Split,
    /// Validity grid stride (the original hard-codes 16).
    pub validity_stride: usize,
}

/// `ToGrayscale(0.05)`, `RandomHorizontalFlip(0.5)`, `ToTensorAndJitter(0.2)`,
/// `RandomHorizontalFlip_Norm(0.5)` as built in `build_dataloaders`.
const GRAYSCALE_PROB: f64 = 0.05;
const JOINT_FLIP_PROB: f64 = 0.5;
const BRIGHTNESS_JITTER: f64 = 0.2;
const CROP_FLIP_PROB: f64 = 0.5;
const VALIDITY_STRIDE: usize = 16;

impl ProcessingParams {
    pub fn from_config(cfg: &ExperimentConfig, split: Split) -> Self {
        let f = |v: &[f64]| [v[0] as f32, v[1] as f32, v[2] as f32];
        Self {
            template: (&cfg.data.template).into(),
            search: (&cfg.data.search).into(),
            mean: f(&cfg.data.mean),
            std: f(&cfg.data.std),
            split,
            validity_stride: VALIDITY_STRIDE,
        }
    }
}

/// One processed crop: normalised CHW float image, normalised box and padding mask.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedCrop {
    pub image: Vec<f32>,
    pub anno: [f32; 4],
    pub att: Vec<bool>,
}

/// Why a drawn pair was rejected (the original silently draws again).
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// `ceil(sqrt(w*h) * factor) < 1` after jitter, or a crop that cannot be taken.
    Crop(CropError),
    /// The crop is padding only.
    AllPadding,
    /// Every validity-grid sample of the padding mask is padding.
    GridAllPadding,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Crop(e) => write!(f, "{e}"),
            Self::AllPadding => write!(f, "crop is all padding"),
            Self::GridAllPadding => write!(f, "down-sampled padding mask is all padding"),
        }
    }
}

/// Template and search crops of one training pair.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedPair {
    pub template: ProcessedCrop,
    pub search: ProcessedCrop,
}

/// `_get_jittered_box`: log-normal size jitter, uniform centre jitter of ±`sqrt(w'h')·cj/2`.
fn jitter_box(b: BoxXywh, p: &BranchParams, rng: &mut StdRng) -> BoxXywh {
    let (n0, n1) = (standard_normal(rng), standard_normal(rng));
    let w = b[2] * (n0 * p.scale_jitter).exp();
    let h = b[3] * (n1 * p.scale_jitter).exp();
    let max_offset = (w * h).sqrt() * p.center_jitter;
    let cx = b[0] + 0.5 * b[2] + max_offset * (rng.random::<f64>() - 0.5);
    let cy = b[1] + 0.5 * b[3] + max_offset * (rng.random::<f64>() - 0.5);
    [cx - 0.5 * w, cy - 0.5 * h, w, h]
}

/// Box–Muller (one value per call).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One branch before decoding: its frame, ground-truth box (after the joint flip) and the
/// jittered box the crop is taken around.
struct BranchPlan {
    gt: BoxXywh,
    jittered: BoxXywh,
    geometry: CropGeometry,
}

fn plan_branch(
    frame: &EncodedFrame,
    gt: [f32; 4],
    flip: bool,
    p: &BranchParams,
    rng: &mut StdRng,
) -> Result<BranchPlan, Rejection> {
    let mut gt = gt.map(f64::from);
    if flip {
        // Corners map with the `W - 1` convention: x' = (W - 1) - x - w.
        gt[0] = (frame.width as f64 - 1.0) - gt[0] - gt[2];
    }
    let jittered = jitter_box(gt, p, rng);
    let geometry = CropGeometry::new(frame.width, frame.height, jittered, p.factor)
        .map_err(Rejection::Crop)?;
    Ok(BranchPlan {
        gt,
        jittered,
        geometry,
    })
}

fn needed_rect(plan: &BranchPlan, frame_w: usize, flip: bool) -> Rect {
    let (x0, y0, w, h) = plan.geometry.frame_rect();
    Rect { x0, y0, w, h }.unmirrored(frame_w, flip)
}

/// Where one branch's outputs go: a `3 × S × S` image and an `S × S` padding mask. The slots
/// may start uninitialised (batch arrays are not zeroed first); a branch that succeeds writes
/// every element of both.
pub(crate) struct CropSlot<'a> {
    pub image: &'a mut [MaybeUninit<f32>],
    pub att: &'a mut [MaybeUninit<bool>],
}

/// Crops, transforms and checks one branch, writing into `slot`; returns the normalised box.
fn finish_branch(
    view: ImageView<'_>,
    plan: &BranchPlan,
    p: &BranchParams,
    params: &ProcessingParams,
    rng: &mut StdRng,
    slot: CropSlot<'_>,
) -> Result<[f32; 4], Rejection> {
    let mut crop = sample_target(view, plan.jittered, p.factor, p.size).map_err(Rejection::Crop)?;
    let mut anno = transform_image_to_crop(
        plan.gt,
        plan.jittered,
        crop.resize_factor,
        p.size as f64,
        true,
    );
    let s = p.size;
    let (brightness, flip) = match params.split {
        Split::Train => {
            let lo = (1.0 - BRIGHTNESS_JITTER).max(0.0);
            let f = lo + rng.random::<f64>() * (1.0 + BRIGHTNESS_JITTER - lo);
            (
                Some((f / 255.0) as f32),
                rng.random::<f64>() < CROP_FLIP_PROB,
            )
        }
        Split::Val => (None, false),
    };
    if flip {
        anno[0] = 1.0 - anno[0] - anno[2];
        crop.att_mask
            .chunks_exact_mut(s)
            .for_each(<[bool]>::reverse);
    }
    check_validity(&crop.att_mask, s, params.validity_stride)?;
    let plane = s * s;
    let (r, rest) = slot.image.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let norm = Normalization {
        brightness,
        mean: params.mean,
        std: params.std,
    };
    to_planes(&crop.pixels, s, [r, g, b], &norm, flip);
    slot.att.write_copy_of_slice(&crop.att_mask);
    crate::crop::recycle_pixels(crop.pixels);
    Ok(anno.map(|v| v as f32))
}

/// The original's two checks on the (transformed) padding mask: not all padding, and not all
/// padding at the nearest-neighbour samples `(⌊i·S/F⌋, ⌊j·S/F⌋)` with `F = S / stride`.
fn check_validity(att: &[bool], s: usize, stride: usize) -> Result<(), Rejection> {
    if att.iter().all(|&a| a) {
        return Err(Rejection::AllPadding);
    }
    let f = s / stride;
    if f > 0 {
        let scale = s as f32 / f as f32;
        let idx = |d: usize| ((d as f32 * scale).floor() as usize).min(s - 1);
        let all = (0..f).all(|i| (0..f).all(|j| att[idx(i) * s + idx(j)]));
        if all {
            return Err(Rejection::GridAllPadding);
        }
    }
    Ok(())
}

/// The normalised template and search boxes of a processed pair, or why it was rejected.
pub(crate) type PairOutcome = Result<([f32; 4], [f32; 4]), Rejection>;

/// Processes one drawn pair into `template` and `search`, returning their normalised boxes.
/// `search_frame` is `None` when both crops come from the same image (still-image datasets),
/// which is then decoded once. I/O and decoding problems are errors; degenerate crops are
/// rejections.
pub(crate) fn process_pair(
    template_frame: &EncodedFrame,
    search_frame: Option<&EncodedFrame>,
    boxes: ([f32; 4], [f32; 4]),
    params: &ProcessingParams,
    rng: &mut StdRng,
    template: CropSlot<'_>,
    search: CropSlot<'_>,
) -> Result<PairOutcome, DataError> {
    let sf = search_frame.unwrap_or(template_frame);
    let gray = rng.random::<f64>() < GRAYSCALE_PROB;
    let flip = rng.random::<f64>() < JOINT_FLIP_PROB;
    let t_plan = match plan_branch(template_frame, boxes.0, flip, &params.template, rng) {
        Ok(p) => p,
        Err(r) => return Ok(Err(r)),
    };
    let s_plan = match plan_branch(sf, boxes.1, flip, &params.search, rng) {
        Ok(p) => p,
        Err(r) => return Ok(Err(r)),
    };
    let t_rect = needed_rect(&t_plan, template_frame.width, flip);
    let s_rect = needed_rect(&s_plan, sf.width, flip);
    let (t_dec, s_dec) = match search_frame {
        None => (template_frame.decode(t_rect.union(s_rect))?, None),
        Some(sf) => (template_frame.decode(t_rect)?, Some(sf.decode(s_rect)?)),
    };
    let t_view = t_dec.view().flipped(flip).grayscale(gray);
    let s_view = s_dec
        .as_ref()
        .map_or(t_view, |d| d.view().flipped(flip).grayscale(gray));
    let t_anno = match finish_branch(t_view, &t_plan, &params.template, params, rng, template) {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let s_anno = match finish_branch(s_view, &s_plan, &params.search, params, rng, search) {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    Ok(Ok((t_anno, s_anno)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_grid_uses_every_stride_th_pixel() {
        let s = 32;
        let mut att = vec![true; s * s];
        assert_eq!(check_validity(&att, s, 16), Err(Rejection::AllPadding));
        att[1] = false; // not on the grid
        assert_eq!(check_validity(&att, s, 16), Err(Rejection::GridAllPadding));
        att[16] = false; // (0, 16) is on the grid
        assert_eq!(check_validity(&att, s, 16), Ok(()));
    }
}
