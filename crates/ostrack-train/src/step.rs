//! One training iteration of `LTRTrainer.cycle_dataset`: forward in train mode (BatchNorm
//! batch statistics, drop path), the actor's losses, backward, the global-norm clip and the
//! AdamW step — plus the evaluation-mode forward used by validation.

use burn::optim::GradientsParams;
use burn::prelude::*;
use ostrack_config::CeTemplateRange;
use ostrack_data::PairBatch;
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
        let range = CeTemplateRange::parse(&cfg.model.backbone.ce_template_range)
            .unwrap_or(CeTemplateRange::All);
        let search_anno: Vec<[f32; 4]> = (0..batch)
            .map(|i| [0.4 + 0.01 * i as f32, 0.42, 0.2, 0.18])
            .collect();
        let boxes: Vec<[f64; 4]> = search_anno.iter().map(|b| b.map(f64::from)).collect();
        let template_boxes = vec![[0.25, 0.25, 0.5, 0.5]; batch];
        let template_mask = ostrack_data::ce_template_mask(range, t, stride, &template_boxes)
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
        let mask = ostrack_data::ce_template_mask(range, b.template_size, stride, &template_boxes)
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

/// Forward outputs and losses of one batch.
pub struct ForwardLosses {
    pub output: OSTrackOutput,
    pub losses: LossTensors,
    pub values: LossValues,
    pub pred_boxes: Vec<[f32; 4]>,
}

/// Where a step is, for error messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepPosition {
    pub epoch: usize,
    pub step: usize,
}

fn increment_batches_tracked(model: &mut OSTrack) {
    for layer in model.box_head.conv_bn_layers_mut() {
        layer.num_batches_tracked += 1;
    }
}

fn read_boxes(pred: &Tensor<3>) -> Vec<[f32; 4]> {
    let v = pred
        .clone()
        .detach()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    v.chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

/// Forward + losses. With `train` the model must be on an autodiff device in training mode:
/// BatchNorm statistics are then updated the PyTorch way and `num_batches_tracked` counts.
/// A non-finite prediction or loss is an error (the original's NaN guard, made loud).
pub fn forward_losses(
    model: &mut OSTrack,
    batch: &TrainBatch,
    keep_rate: Option<f64>,
    weights: LossWeights,
    train: bool,
    at: StepPosition,
) -> Result<ForwardLosses, TrainError> {
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
    let pred_boxes = read_boxes(&output.pred_boxes);
    if let Some(bad) = pred_boxes
        .iter()
        .position(|b| b.iter().any(|v| !v.is_finite()))
    {
        return Err(TrainError::NonFinite {
            epoch: at.epoch,
            step: at.step,
            what: "the network output".into(),
            detail: format!("pred_boxes[{bad}] = {:?}", pred_boxes[bad]),
        });
    }
    let losses = compute_losses(
        output.pred_boxes.clone(),
        &pred_boxes,
        output.score_map.clone(),
        &batch.search_anno,
        &batch.heatmap,
        weights,
    );
    let values = losses.values();
    if ![values.total, values.giou, values.l1, values.location]
        .iter()
        .all(|v| v.is_finite())
    {
        return Err(TrainError::NonFinite {
            epoch: at.epoch,
            step: at.step,
            what: "the loss".into(),
            detail: format!("{values:?}"),
        });
    }
    Ok(ForwardLosses {
        output,
        losses,
        values,
        pred_boxes,
    })
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    pub losses: LossValues,
    pub grad_norm: f32,
    pub clip_coef: f32,
    pub giou_fallback: bool,
}

/// Backward, clip and AdamW on already computed losses; returns the updated model.
pub fn backward_and_step(
    model: OSTrack,
    optim: &mut ExactAdamW,
    fwd: &ForwardLosses,
    lr: GroupLr,
    grad_clip_norm: f64,
    at: StepPosition,
) -> Result<(OSTrack, StepOutcome), TrainError> {
    let grads = GradientsParams::from_grads(fwd.losses.total.backward(), &model);
    let grad_norm = global_grad_norm(&model, &grads);
    if !grad_norm.is_finite() {
        return Err(TrainError::NonFinite {
            epoch: at.epoch,
            step: at.step,
            what: "the gradient norm".into(),
            detail: format!("{grad_norm}"),
        });
    }
    let clip_coef = clip_coefficient(grad_norm, grad_clip_norm);
    let grads = scale_gradients(&model, grads, clip_coef);
    let model = optim.step(model, &grads, lr);
    Ok((
        model,
        StepOutcome {
            losses: fwd.values,
            grad_norm,
            clip_coef,
            giou_fallback: fwd.losses.giou_fallback,
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

/// One full iteration: train-mode forward, losses, backward, clip, AdamW.
pub fn train_step(
    mut model: OSTrack,
    optim: &mut ExactAdamW,
    batch: &TrainBatch,
    keep_rate: Option<f64>,
    lr: GroupLr,
    settings: StepSettings,
    at: StepPosition,
) -> Result<(OSTrack, StepOutcome), TrainError> {
    let fwd = forward_losses(&mut model, batch, keep_rate, settings.weights, true, at)?;
    backward_and_step(model, optim, &fwd, lr, settings.grad_clip_norm, at)
}
