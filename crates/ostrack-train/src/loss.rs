//! The OSTrack objective (spec §3): focal loss on the Gaussian heat map + GIoU + L1 on the box
//! taken at the predicted peak, with the GT box clamped to [0, 1] for the box losses only.

use burn::prelude::*;

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

/// The loss terms as tensors (scalars, shape [1]); `total` is what is differentiated.
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
    /// The original's GIoU assertion failed (a box with x2 < x1 or y2 < y1): GIoU loss and IoU
    /// were set to 0, as its bare `except` does. Counted and reported by the trainer.
    pub giou_fallback: bool,
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

impl LossTensors {
    /// Reads the five scalars with one device sync.
    pub fn values(&self) -> LossValues {
        let all = Tensor::cat(
            vec![
                self.total.clone().detach(),
                self.giou.clone().detach(),
                self.l1.clone().detach(),
                self.location.clone().detach(),
                self.iou.clone().detach(),
            ],
            0,
        );
        let v = all
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        LossValues {
            total: v[0],
            giou: v[1],
            l1: v[2],
            location: v[3],
            iou: v[4],
        }
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

/// The actor's `compute_losses`: `pred_boxes` [B, 1, 4] (cx, cy, w, h), `score_map` [B,1,F,F],
/// `gt_xywh` the search annotation (normalised, unclamped), `heatmap` [B, F, F] its Gaussian
/// label. `pred_host` are the predicted boxes already read back (the caller checks them for
/// NaN), so the GIoU validity check needs no further sync.
pub fn compute_losses(
    pred_boxes: Tensor<3>,
    pred_host: &[[f32; 4]],
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

    let pred_xyxy_host: Vec<[f32; 4]> = pred_host
        .iter()
        .map(|&[cx, cy, w, h]| [cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h])
        .collect();
    let giou_fallback = !(boxes_valid(&pred_xyxy_host) && boxes_valid(&gt_host));
    let (giou, iou_per_sample) = if giou_fallback {
        (
            Tensor::<1>::zeros([1], &device),
            Tensor::<1>::zeros([b], &device),
        )
    } else {
        let (iou, giou) = generalized_box_iou(pred_xyxy.clone(), gt.clone());
        (giou.neg().add_scalar(1.0).mean(), iou.detach())
    };
    let iou = if giou_fallback {
        Tensor::<1>::zeros([1], &device)
    } else {
        iou_per_sample.clone().mean()
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
