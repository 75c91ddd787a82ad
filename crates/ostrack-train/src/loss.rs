//! The OSTrack objective (spec §3): focal loss on the Gaussian heat map + GIoU + L1 on the box
//! taken at the predicted peak, with the GT box clamped to [0, 1] for the box losses only.

use burn::prelude::*;
use ostrack_model::readback::{ReadBackError, read_f32};

/// Loss weights (`TRAIN.GIOU_WEIGHT`, `TRAIN.L1_WEIGHT`; the focal weight is fixed at 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    pub giou: f64,
    pub l1: f64,
    pub focal: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            giou: 2.0,
            l1: 5.0,
            focal: 1.0,
        }
    }
}

/// The loss terms as tensors (scalars, shape [1]); `total` is what is differentiated. Nothing
/// here has been read back: [`LossTensors::read`] does that with one transfer.
#[derive(Debug, Clone)]
pub struct LossTensors {
    pub total: Tensor<1>,
    pub giou: Tensor<1>,
    pub l1: Tensor<1>,
    pub location: Tensor<1>,
    /// Mean IoU of the predicted and the clamped GT boxes (no gradient needed).
    pub iou: Tensor<1>,
    /// Per-sample IoU [B].
    pub iou_per_sample: Tensor<1>,
    /// [1]: 1 where the original's GIoU assertion failed (a box with x2 < x1 or y2 < y1) and
    /// GIoU loss and IoU were set to 0, as its bare `except` does; 0 otherwise. Decided on the
    /// device; counted and reported by the trainer.
    pub giou_fallback: Tensor<1>,
}

/// The loss terms read back to the host.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct LossValues {
    pub total: f32,
    pub giou: f32,
    pub l1: f32,
    pub location: f32,
    pub iou: f32,
}

/// Number of values in [`LossTensors::scalars`].
pub const LOSS_SCALARS: usize = 6;

impl LossValues {
    /// From the first five values of [`LossTensors::scalars`] (total, giou, l1, location, IoU).
    pub fn from_slice(v: &[f32]) -> Self {
        Self {
            total: v[0],
            giou: v[1],
            l1: v[2],
            location: v[3],
            iou: v[4],
        }
    }

    /// Every term is finite.
    pub fn all_finite(&self) -> bool {
        [self.total, self.giou, self.l1, self.location, self.iou]
            .iter()
            .all(|v| v.is_finite())
    }
}

impl LossTensors {
    /// `[total, giou, l1, location, iou, giou_fallback]` on the device (outside autodiff): the
    /// loss scalars in the layout the trainer reads back.
    pub fn scalars(&self) -> Tensor<1> {
        Tensor::cat(
            [
                &self.total,
                &self.giou,
                &self.l1,
                &self.location,
                &self.iou,
                &self.giou_fallback,
            ]
            .map(|t| t.clone().without_autodiff())
            .to_vec(),
            0,
        )
    }

    /// Reads the loss terms and the fallback flag with one device-to-host transfer.
    pub fn read(&self) -> Result<(LossValues, bool), ReadBackError> {
        let v = read_f32(self.scalars(), "the loss scalars")?;
        Ok((LossValues::from_slice(&v), v[5] != 0.0))
    }
}

/// `box_cxcywh_to_xyxy`, unclamped, [B, 4].
pub fn cxcywh_to_xyxy(b: Tensor<2>) -> Tensor<2> {
    let cx = b.clone().slice(s![.., 0..1]);
    let cy = b.clone().slice(s![.., 1..2]);
    let w = b.clone().slice(s![.., 2..3]);
    let h = b.slice(s![.., 3..4]);
    let hw = w.mul_scalar(0.5);
    let hh = h.mul_scalar(0.5);
    Tensor::cat(
        vec![
            cx.clone() - hw.clone(),
            cy.clone() - hh.clone(),
            cx + hw,
            cy + hh,
        ],
        1,
    )
}

/// `box_xywh_to_xyxy` then `clamp(0, 1)`, on host values (the GT is data, not a prediction).
pub fn gt_xyxy_clamped(gt_xywh: &[[f32; 4]]) -> Vec<[f32; 4]> {
    gt_xywh
        .iter()
        .map(|&[x, y, w, h]| [x, y, x + w, y + h].map(|v| v.clamp(0.0, 1.0)))
        .collect()
}

/// Per-sample (IoU, GIoU) of paired boxes [B, 4] in xyxy, as `box_ops.generalized_box_iou`.
pub fn generalized_box_iou(a: Tensor<2>, b: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let n = a.dims()[0];
    let col = |t: &Tensor<2>, i: usize| t.clone().slice(s![.., i..i + 1]).reshape([n]);
    let (ax1, ay1, ax2, ay2) = (col(&a, 0), col(&a, 1), col(&a, 2), col(&a, 3));
    let (bx1, by1, bx2, by2) = (col(&b, 0), col(&b, 1), col(&b, 2), col(&b, 3));
    let area_a = (ax2.clone() - ax1.clone()) * (ay2.clone() - ay1.clone());
    let area_b = (bx2.clone() - bx1.clone()) * (by2.clone() - by1.clone());
    let iw = (ax2.clone().min_pair(bx2.clone()) - ax1.clone().max_pair(bx1.clone())).clamp_min(0.0);
    let ih = (ay2.clone().min_pair(by2.clone()) - ay1.clone().max_pair(by1.clone())).clamp_min(0.0);
    let inter = iw * ih;
    let union = area_a + area_b - inter.clone();
    let iou = inter / union.clone();
    let ew = (ax2.max_pair(bx2) - ax1.min_pair(bx1)).clamp_min(0.0);
    let eh = (ay2.max_pair(by2) - ay1.min_pair(by1)).clamp_min(0.0);
    let enclosing = ew * eh;
    let giou = iou.clone() - (enclosing.clone() - union) / enclosing;
    (iou, giou)
}

/// Whether the original's GIoU assertions (`x2 >= x1`, `y2 >= y1` for both box sets) hold.
pub fn boxes_valid(xyxy: &[[f32; 4]]) -> bool {
    xyxy.iter().all(|b| b[2] >= b[0] && b[3] >= b[1])
}

/// `FocalLoss(alpha=2, beta=4)` over the whole batch. `score_map` [B, 1, F, F] (already in
/// [1e-4, 1-1e-4]), `target` [B, F, F] on the host (positives are cells exactly equal to 1).
pub fn focal_loss(score_map: Tensor<4>, target: &[f32]) -> Tensor<1> {
    let [b, _, h, w] = score_map.dims();
    let device = score_map.device();
    let target_t = Tensor::<4>::from_data(TensorData::new(target.to_vec(), [b, 1, h, w]), &device);
    let pos: Vec<f32> = target
        .iter()
        .map(|&t| if t == 1.0 { 1.0 } else { 0.0 })
        .collect();
    let neg: Vec<f32> = target
        .iter()
        .map(|&t| if t < 1.0 { 1.0 } else { 0.0 })
        .collect();
    let num_pos: f32 = pos.iter().sum();
    let pos_t = Tensor::<4>::from_data(TensorData::new(pos, [b, 1, h, w]), &device);
    let neg_t = Tensor::<4>::from_data(TensorData::new(neg, [b, 1, h, w]), &device);
    let one_minus_t = target_t.neg().add_scalar(1.0);
    let neg_weights = one_minus_t.clone().square().square();
    let pred = score_map.clamp_min(1e-12);
    let one_minus_p = pred.clone().neg().add_scalar(1.0);
    let pos_loss = (pred.clone().log() * one_minus_p.clone().square() * pos_t).sum();
    let neg_loss = (one_minus_p.log() * pred.square() * neg_weights * neg_t).sum();
    if num_pos == 0.0 {
        neg_loss.neg()
    } else {
        (pos_loss + neg_loss).div_scalar(num_pos as f64).neg()
    }
}

/// The original's GIoU assertions (`x2 >= x1`, `y2 >= y1`) over every box of `xyxy` [B, 4], on
/// the device: [1], true when all hold. A NaN coordinate fails them, as in PyTorch.
pub fn boxes_valid_device(xyxy: Tensor<2>) -> Tensor<1, Bool> {
    let [b, _] = xyxy.dims();
    let col = |i: usize| xyxy.clone().slice(s![.., i..i + 1]).reshape([b]);
    let ok_x = col(2).greater_equal(col(0));
    let ok_y = col(3).greater_equal(col(1));
    ok_x.bool_and(ok_y).all()
}

/// The actor's `compute_losses`: `pred_boxes` [B, 1, 4] (cx, cy, w, h), `score_map` [B,1,F,F],
/// `gt_xywh` the search annotation (normalised, unclamped), `heatmap` [B, F, F] its Gaussian
/// label. Nothing is read back: the GIoU fallback (the original's bare `except`, GIoU loss and
/// IoU 0 for the whole batch when a predicted or GT box fails the assertion) is decided on the
/// device. The GT boxes are host data, so their half of the assertion is checked here.
pub fn compute_losses(
    pred_boxes: Tensor<3>,
    score_map: Tensor<4>,
    gt_xywh: &[[f32; 4]],
    heatmap: &[f32],
    weights: LossWeights,
) -> LossTensors {
    let b = pred_boxes.dims()[0];
    let device = pred_boxes.device();
    let pred_xyxy = cxcywh_to_xyxy(pred_boxes.reshape([b, 4]));
    let gt_host = gt_xyxy_clamped(gt_xywh);
    let gt = Tensor::<2>::from_data(TensorData::new(gt_host.concat(), [b, 4]), &device);

    let (giou, iou_per_sample, iou, giou_fallback) = if boxes_valid(&gt_host) {
        let fallback = boxes_valid_device(pred_xyxy.clone().detach()).bool_not(); // [1]
        // The GIoU of the fallback batch is discarded; it is evaluated on a stand-in box (the
        // unit square: positive area, so union and enclosing area are > 0 against any GT) so
        // that no NaN or infinity enters the forward values or, through the masked branch,
        // the gradient. Valid batches take `pred_xyxy` itself, bit for bit.
        let batch_mask = fallback.clone().reshape([1, 1]).expand([b, 4]);
        let unit = Tensor::<2>::from_data(
            TensorData::new([0.0f32, 0.0, 1.0, 1.0].repeat(b), [b, 4]),
            &device,
        );
        let pred_safe = pred_xyxy.clone().mask_where(batch_mask, unit);
        let (iou, giou) = generalized_box_iou(pred_safe, gt.clone());
        let per_sample_mask = fallback.clone().expand([b]);
        let giou = giou
            .neg()
            .add_scalar(1.0)
            .mean()
            .mask_fill(fallback.clone(), 0.0);
        let iou_per_sample = iou.detach().mask_fill(per_sample_mask, 0.0);
        let iou = iou_per_sample
            .clone()
            .mean()
            .mask_fill(fallback.clone(), 0.0);
        (giou, iou_per_sample, iou, fallback.float())
    } else {
        (
            Tensor::<1>::zeros([1], &device),
            Tensor::<1>::zeros([b], &device),
            Tensor::<1>::zeros([1], &device),
            Tensor::<1>::ones([1], &device),
        )
    };
    let l1 = (pred_xyxy - gt).abs().mean();
    let location = focal_loss(score_map, heatmap);
    let total = giou.clone().mul_scalar(weights.giou)
        + l1.clone().mul_scalar(weights.l1)
        + location.clone().mul_scalar(weights.focal);
    LossTensors {
        total,
        giou,
        l1,
        location,
        iou,
        iou_per_sample,
        giou_fallback,
    }
}
