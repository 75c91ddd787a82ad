//! One training iteration of `LTRTrainer.cycle_dataset`: forward in train mode (BatchNorm
//! batch statistics, drop path), the actor's losses, backward, the global-norm clip and the
//! AdamW step — plus the evaluation-mode forward used by validation.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Gradients;
use ostrack_config::CeTemplateRange;
use ostrack_data::PairBatch;
use ostrack_model::readback::read_f32;
use ostrack_model::{OSTrack, OSTrackOutput};

use crate::error::TrainError;
use crate::loss::{LossTensors, LossValues, LossWeights, compute_losses};
use crate::optim::{ExactAdamW, GroupLr, clip_coefficient, global_grad_norm, scale_gradients};

/// A batch on the training device plus the host copies the losses need.
#[derive(Debug, Clone)]
pub struct TrainBatch {
    pub template: Tensor<4>,
    pub search: Tensor<4>,
    /// [B, Lz] 0/1 template tokens that score CE (`None` = all).
    pub template_mask: Option<Tensor<2>>,
    /// Normalised, unclamped (x, y, w, h) of the target in the search crop.
    pub search_anno: Vec<[f32; 4]>,
    /// [B, F, F] Gaussian labels.
    pub heatmap: Vec<f32>,
}

impl TrainBatch {
    /// A batch of N(0, 1) images with fixed targets (the template box centred at half size, the
    /// search box near the centre): what step benchmarks train on.
    pub fn synthetic(
        cfg: &ostrack_config::ExperimentConfig,
        batch: usize,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let (t, s) = (cfg.data.template.size, cfg.data.search.size);
        let stride = cfg.model.backbone.stride;
        let range = cfg.model.backbone.ce_template_range;
        let search_anno: Vec<[f32; 4]> = (0..batch)
            .map(|i| [0.4 + 0.01 * i as f32, 0.42, 0.2, 0.18])
            .collect();
        let boxes: Vec<[f64; 4]> = search_anno.iter().map(|b| b.map(f64::from)).collect();
        let template_boxes = vec![[0.25, 0.25, 0.5, 0.5]; batch];
        let template_mask = ostrack_model::ce_template_mask(range, t, stride, &template_boxes)
            .map_err(|e| TrainError::Setting(format!("MODEL.BACKBONE.CE_TEMPLATE_RANGE: {e}")))?
            .map(|m| ostrack_model::ce::mask_tensor(&m, batch, device));
        let normal = burn::tensor::Distribution::Normal(0.0, 1.0);
        Ok(Self {
            template: Tensor::random([batch, 3, t, t], normal, device),
            search: Tensor::random([batch, 3, s, s], normal, device),
            template_mask,
            search_anno,
            heatmap: ostrack_data::generate_heatmap(&boxes, s, stride),
        })
    }

    /// Moves a loader batch to `device`, building the CE template mask for `range`.
    pub fn from_pair_batch(
        b: &PairBatch,
        range: CeTemplateRange,
        stride: usize,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let template = Tensor::from_data(
            TensorData::new(b.template_images.clone(), b.template_shape()),
            device,
        );
        let search = Tensor::from_data(
            TensorData::new(b.search_images.clone(), b.search_shape()),
            device,
        );
        let template_boxes: Vec<[f64; 4]> = b
            .template_anno
            .chunks_exact(4)
            .map(|c| [c[0] as f64, c[1] as f64, c[2] as f64, c[3] as f64])
            .collect();
        let mask = ostrack_model::ce_template_mask(range, b.template_size, stride, &template_boxes)
            .map_err(|e| TrainError::Setting(format!("MODEL.BACKBONE.CE_TEMPLATE_RANGE: {e}")))?;
        let template_mask = mask.map(|m| ostrack_model::ce::mask_tensor(&m, b.batch_size, device));
        let search_anno = b
            .search_anno
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        Ok(Self {
            template,
            search,
            template_mask,
            search_anno,
            heatmap: b.search_heatmap.clone(),
        })
    }

    pub fn batch_size(&self) -> usize {
        self.search_anno.len()
    }
}

/// Forward outputs and losses of one batch, all on the device.
pub struct ForwardLosses {
    pub output: OSTrackOutput,
    pub losses: LossTensors,
    /// [1]: 1 when every predicted box coordinate is finite, else 0.
    pub outputs_finite: Tensor<1>,
}

/// Where a step is, for error messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepPosition {
    pub epoch: usize,
    pub step: usize,
}

/// The scalars a step leaves on the device, in the order [`StepOutcome::scalars`] holds them.
pub mod slot {
    pub const TOTAL: usize = 0;
    pub const GIOU: usize = 1;
    pub const L1: usize = 2;
    pub const LOCATION: usize = 3;
    pub const IOU: usize = 4;
    /// 1 when the GIoU fallback was taken.
    pub const GIOU_FALLBACK: usize = 5;
    /// 1 when every predicted box coordinate was finite.
    pub const OUTPUTS_FINITE: usize = 6;
    pub const GRAD_NORM: usize = 7;
    pub const CLIP_COEF: usize = 8;
    /// Number of slots.
    pub const COUNT: usize = 9;
}

fn increment_batches_tracked(model: &mut OSTrack) {
    for layer in model.box_head.conv_bn_layers_mut() {
        layer.num_batches_tracked += 1;
    }
}

impl ForwardLosses {
    /// `[total, giou, l1, location, iou, giou_fallback, outputs_finite]` on the device (slots
    /// `TOTAL..=OUTPUTS_FINITE` of [`slot`]).
    pub fn scalars(&self) -> Tensor<1> {
        Tensor::cat(
            vec![
                self.losses.scalars(),
                self.outputs_finite.clone().without_autodiff(),
            ],
            0,
        )
    }

    /// Reads the losses with one transfer and applies the NaN guard (validation, tests).
    pub fn read(&self, at: StepPosition) -> Result<(LossValues, bool), TrainError> {
        let v = read_f32(self.scalars(), "the loss scalars")?;
        let values = LossValues::from_slice(&v);
        check_finite(&v, at, None)?;
        Ok((values, v[slot::GIOU_FALLBACK] != 0.0))
    }
}

/// Forward + losses, with nothing read back. With `train` the model must be on an autodiff
/// device in training mode: BatchNorm statistics are then updated the PyTorch way and
/// `num_batches_tracked` counts. The NaN guard runs where the scalars are read
/// ([`StepOutcome::read`], [`ForwardLosses::read`]).
pub fn forward_losses(
    model: &mut OSTrack,
    batch: &TrainBatch,
    keep_rate: Option<f64>,
    weights: LossWeights,
    train: bool,
) -> ForwardLosses {
    // Training and validation always pass a keep rate (the schedule's, 1 before CE starts);
    // `None` would mean the inference ratios and eliminate tokens during the warm-up.
    let keep_rate = Some(keep_rate.unwrap_or(1.0));
    let output = model.forward_with(
        batch.template.clone(),
        batch.search.clone(),
        batch.template_mask.clone(),
        keep_rate,
        ostrack_model::ostrack::ForwardOptions {
            attention: false,
            trace: None,
        },
    );
    if train {
        // The head's train-mode forward updated the BN running statistics (PyTorch's way).
        increment_batches_tracked(model);
    }
    let outputs_finite = output.pred_boxes.clone().detach().is_finite().all().float();
    let losses = compute_losses(
        output.pred_boxes.clone(),
        output.score_map.clone(),
        &batch.search_anno,
        &batch.heatmap,
        weights,
    );
    ForwardLosses {
        output,
        losses,
        outputs_finite,
    }
}

/// The original's NaN guard, made loud, on read-back step scalars (`v` in [`slot`] order; the
/// gradient slots may be absent). `every`: the steps are read every that many steps (the
/// message then says where the value may have first appeared).
pub(crate) fn check_finite(
    v: &[f32],
    at: StepPosition,
    every: Option<usize>,
) -> Result<(), TrainError> {
    let losses = LossValues::from_slice(v);
    let (what, detail) = if v[slot::OUTPUTS_FINITE] != 1.0 {
        (
            "the network output",
            "a predicted box has a non-finite coordinate".to_string(),
        )
    } else if !losses.all_finite() {
        ("the loss", format!("{losses:?}"))
    } else if v.len() > slot::GRAD_NORM && !v[slot::GRAD_NORM].is_finite() {
        ("the gradient norm", format!("{}", v[slot::GRAD_NORM]))
    } else {
        return Ok(());
    };
    let detail = match every {
        Some(k) if k > 1 => format!(
            "{detail}; detected at step {}: on this device the step values are read and checked every {k} steps, so it may have first appeared up to {} steps earlier",
            at.step,
            k - 1
        ),
        _ => detail,
    };
    Err(TrainError::NonFinite {
        epoch: at.epoch,
        step: at.step,
        what: what.into(),
        detail,
    })
}

/// What one optimizer step did, still on the device: reading it is one transfer
/// ([`StepOutcome::read`]).
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// [`slot::COUNT`] values in [`slot`] order, detached.
    pub scalars: Tensor<1>,
    /// Samples in the step's batch.
    pub batch_size: usize,
    pub at: StepPosition,
}

/// A step's logged values, read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepValues {
    pub losses: LossValues,
    pub grad_norm: f32,
    pub clip_coef: f32,
    pub giou_fallback: bool,
}

impl StepValues {
    /// From read-back scalars in [`slot`] order.
    pub fn from_slice(v: &[f32]) -> Self {
        Self {
            losses: LossValues::from_slice(v),
            grad_norm: v[slot::GRAD_NORM],
            clip_coef: v[slot::CLIP_COEF],
            giou_fallback: v[slot::GIOU_FALLBACK] != 0.0,
        }
    }
}

impl StepOutcome {
    /// Reads everything logged (losses, IoU, grad norm, clip coefficient, fallback flag) with
    /// one device-to-host transfer and runs the NaN guard on it.
    pub fn read(&self) -> Result<StepValues, TrainError> {
        let v = read_f32(self.scalars.clone(), "the training step's scalars")?;
        check_finite(&v, self.at, None)?;
        Ok(StepValues::from_slice(&v))
    }
}

/// `loss.backward()`, after dispatching the forward work still queued on the device.
///
/// Why the flush: with Burn 0.22.1's fusion (the `wgpu` and `cuda` backends), letting the fusion
/// stream optimise across the forward/backward boundary gives wrong gradients through the head's
/// train-mode BatchNorm branches (the score map's: 0.92 relative off on wgpu, 2.5e-6 with the flush;
/// `tests/head_gradients.rs`). A flush only submits, it does not wait; on Flex it is a no-op.
pub fn backward(loss: &Tensor<1>) -> Result<Gradients, TrainError> {
    loss.device().flush().map_err(|e| TrainError::Device {
        what: "the forward pass",
        reason: e.to_string(),
    })?;
    Ok(loss.backward())
}

/// Backward, clip and AdamW on already computed losses; returns the updated model. Nothing is
/// read back: the global norm, the clip coefficient and the update stay on the device.
pub fn backward_and_step(
    model: OSTrack,
    optim: &mut ExactAdamW,
    fwd: &ForwardLosses,
    lr: GroupLr,
    grad_clip_norm: f64,
    at: StepPosition,
    batch_size: usize,
) -> Result<(OSTrack, StepOutcome), TrainError> {
    let grads = GradientsParams::from_grads(backward(&fwd.losses.total)?, &model);
    let grad_norm = global_grad_norm(&model, &grads);
    let clip_coef = clip_coefficient(grad_norm.clone(), grad_clip_norm);
    let grads = scale_gradients(&model, grads, clip_coef.clone());
    let model = optim.step(model, &grads, lr);
    let device = grad_norm.device();
    let scalars = Tensor::cat(
        vec![fwd.scalars().to_device(&device), grad_norm, clip_coef],
        0,
    );
    Ok((
        model,
        StepOutcome {
            scalars,
            batch_size,
            at,
        },
    ))
}

/// Settings of a training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSettings {
    pub weights: LossWeights,
    pub grad_clip_norm: f64,
}

impl StepSettings {
    /// The loss weights (`TRAIN.GIOU_WEIGHT`, `TRAIN.L1_WEIGHT`, focal 1) and the clip norm.
    pub fn from_config(cfg: &ostrack_config::ExperimentConfig) -> Self {
        Self {
            weights: LossWeights {
                giou: cfg.train.giou_weight,
                l1: cfg.train.l1_weight,
                focal: 1.0,
            },
            grad_clip_norm: cfg.train.grad_clip_norm,
        }
    }
}

/// One full iteration: train-mode forward, losses, backward, clip, AdamW, with nothing read
/// back (the outcome stays on the device until [`StepOutcome::read`]).
pub fn train_step(
    mut model: OSTrack,
    optim: &mut ExactAdamW,
    batch: &TrainBatch,
    keep_rate: Option<f64>,
    lr: GroupLr,
    settings: StepSettings,
    at: StepPosition,
) -> Result<(OSTrack, StepOutcome), TrainError> {
    let fwd = forward_losses(&mut model, batch, keep_rate, settings.weights, true);
    backward_and_step(
        model,
        optim,
        &fwd,
        lr,
        settings.grad_clip_norm,
        at,
        batch.batch_size(),
    )
}
