//! Times training steps on synthetic batches: what `ostrack profile --train`, the step benchmark
//! and the GPU check report. The numbers are a step's wall time with the device synchronised after
//! each step, so a GPU's queued work is inside the step that queued it.

use std::time::Instant;

use burn::prelude::*;
use ostrack_config::ExperimentConfig;
use ostrack_model::{OSTrack, OSTrackConfig};
use serde::Serialize;

use crate::error::TrainError;
use crate::optim::{AdamWSettings, ExactAdamW};
use crate::run::{keep_rate_for_epoch, lr_for_epoch};
use crate::step::{StepPosition, StepSettings, TrainBatch, train_step};

/// Timed training steps of one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct StepProfile {
    pub batch: usize,
    pub warmup: usize,
    pub steps: usize,
    /// The CE keep rate the steps ran at (the epoch after the warm-up, as most of training).
    pub keep_rate: Option<f64>,
    /// The first step alone: kernel compilation and autotuning on GPU backends.
    pub first_step_ms: f64,
    pub step_ms: Vec<f64>,
    pub step_ms_median: f64,
    pub samples_per_s: f64,
}

/// Runs `warmup + steps` training steps (forward in train mode, losses, backward, global clip,
/// AdamW) of `cfg`'s model at `batch` on N(0, 1) images with fixed boxes, on `device` (made an
/// autodiff device here), and times the last `steps`.
pub fn profile_train_steps(
    cfg: &ExperimentConfig,
    batch: usize,
    warmup: usize,
    steps: usize,
    device: &Device,
) -> Result<StepProfile, TrainError> {
    let device = device.clone().autodiff();
    device.seed(0);
    let mut model = OSTrack::new(&OSTrackConfig::from_experiment(cfg), &device);
    let mut optim = ExactAdamW::new(AdamWSettings {
        weight_decay: cfg.train.weight_decay,
        ..AdamWSettings::default()
    });
    let batch_data = TrainBatch::synthetic(cfg, batch, &device)?;
    let epoch = cfg.train.ce_start_epoch + cfg.train.ce_warm_epoch;
    let keep_rate = keep_rate_for_epoch(cfg, epoch);
    let lr = lr_for_epoch(cfg, epoch.clamp(1, cfg.train.lr_drop_epoch.max(1)));
    let settings = StepSettings::from_config(cfg);
    let sync = |what: &str| {
        device
            .sync()
            .map_err(|e| TrainError::Setting(format!("device failed during {what}: {e:?}")))
    };
    let mut first_step_ms = 0.0;
    let mut step_ms = Vec::with_capacity(steps);
    let mut last = None;
    for i in 0..warmup.max(1) + steps {
        let start = Instant::now();
        let at = StepPosition { epoch, step: i + 1 };
        let (next, outcome) =
            train_step(model, &mut optim, &batch_data, keep_rate, lr, settings, at)?;
        model = next;
        last = Some(outcome);
        sync("a training step")?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if i == 0 {
            first_step_ms = ms;
        }
        if i >= warmup.max(1) {
            step_ms.push(ms);
        }
    }
    // One read at the end (outside the timing): the steps must have trained on finite values.
    if let Some(outcome) = last {
        outcome.read()?;
    }
    let mut sorted = step_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let step_ms_median = if sorted.is_empty() {
        f64::NAN
    } else if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        0.5 * (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2])
    };
    Ok(StepProfile {
        batch,
        warmup: warmup.max(1),
        steps,
        keep_rate,
        first_step_ms,
        step_ms,
        step_ms_median,
        samples_per_s: 1e3 * batch as f64 / step_ms_median,
    })
}
