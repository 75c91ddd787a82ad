//! `ostrack profile`: builds the real-size model of a config and reports what users of the
//! original keep asking for: parameters, tokens per block, model-only forward time.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use burn::tensor::Distribution;
use ostrack_config::load_config;
use ostrack_model::ostrack::ForwardOptions;
use ostrack_model::{OSTrack, OSTrackConfig, ce};
use ostrack_track::{Tracker, TrackerParams, TrackingProfile, profile_tracking};
use ostrack_train::{StepProfile, profile_train_steps};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ProfileReport {
    pub config: String,
    pub backend: String,
    pub threads: usize,
    /// Trainable parameters, counted like `sum(p.numel() for p in model.parameters())`
    /// (includes the unused cls token and 197-row position table, excludes BN buffers).
    pub params: usize,
    pub template_tokens: usize,
    /// Template + search tokens alive at the output of each block (inference keep ratios).
    pub tokens_per_block: Vec<usize>,
    pub search_tokens_per_block: Vec<usize>,
    pub batch: usize,
    pub runs: usize,
    pub warmup: usize,
    pub forward_ms_median: f64,
    pub forward_ms_min: f64,
    pub forward_ms_mean: f64,
    pub forward_fps: f64,
    /// One full tracking step on a synthetic frame (crop + preprocess + forward +
    /// post-process), the number the original's per-sequence FPS reports; `None` with
    /// `--model-only`.
    pub end_to_end: Option<TrackingProfile>,
}

pub struct ProfileOptions<'a> {
    pub config: &'a Path,
    pub runs: usize,
    pub warmup: usize,
    pub batch: usize,
    pub backend_name: String,
    /// Frame size of the end-to-end measurement (`None`: model only).
    pub end_to_end_frame: Option<(usize, usize)>,
}

/// Parameter count in PyTorch's sense (BatchNorm running statistics are buffers).
pub fn count_params(model: &OSTrack) -> usize {
    model
        .expected_keys()
        .iter()
        .filter(|(k, _)| {
            !(k.ends_with("running_mean")
                || k.ends_with("running_var")
                || k.ends_with("num_batches_tracked"))
        })
        .map(|(_, shape)| shape.iter().product::<usize>())
        .sum()
}

pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let n = samples.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        0.5 * (samples[n / 2 - 1] + samples[n / 2])
    }
}

pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Builds the model (random weights: timing does not depend on values) and times the forward.
pub fn run_profile(opts: &ProfileOptions<'_>, device: &Device) -> Result<ProfileReport> {
    let exp = load_config(opts.config)?;
    let mut cfg = OSTrackConfig::from_experiment(&exp);
    cfg.drop_path_rate = 0.0;
    let model = OSTrack::new(&cfg, device);
    let params = count_params(&model);
    let lz = cfg.template_grid().pow(2);
    let search_tokens = cfg.search_tokens_per_block(None);
    let b = opts.batch.max(1);

    let t = cfg.template_size;
    let s = cfg.search_size;
    let template = Tensor::<4>::random([b, 3, t, t], Distribution::Normal(0.0, 1.0), device);
    let search = Tensor::<4>::random([b, 3, s, s], Distribution::Normal(0.0, 1.0), device);
    // Box-independent for CTR_POINT/CTR_REC; a centred box for GT_BOX, as a template crop has.
    let boxes = vec![[0.25, 0.25, 0.5, 0.5]; b];
    let mask = ostrack_model::ce_template_mask(cfg.ce_template_range, t, cfg.patch_size, &boxes)?
        .map(|m| ce::mask_tensor(&m, b, device));
    let forward = || {
        let out = model.forward_with(
            template.clone(),
            search.clone(),
            mask.clone(),
            None,
            ForwardOptions::default(),
        );
        // Reading the result back waits for the device.
        let _ = out.pred_boxes.into_data();
    };
    for _ in 0..opts.warmup {
        forward();
    }
    let mut times = Vec::with_capacity(opts.runs);
    for _ in 0..opts.runs.max(1) {
        let start = Instant::now();
        forward();
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let end_to_end = match opts.end_to_end_frame {
        Some((w, h)) => {
            let mut tracker = Tracker::new(model, &cfg, TrackerParams::from_config(&exp), device)?;
            Some(profile_tracking(
                &mut tracker,
                w,
                h,
                opts.warmup,
                opts.runs.max(1),
            )?)
        }
        None => None,
    };
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let med = median(&mut times);
    Ok(ProfileReport {
        config: opts.config.display().to_string(),
        backend: opts.backend_name.clone(),
        threads: threads(),
        params,
        template_tokens: lz,
        tokens_per_block: search_tokens.iter().map(|s| s + lz).collect(),
        search_tokens_per_block: search_tokens,
        batch: b,
        runs: times.len(),
        warmup: opts.warmup,
        forward_ms_median: med,
        forward_ms_min: min,
        forward_ms_mean: mean,
        forward_fps: 1000.0 * b as f64 / med,
        end_to_end,
    })
}

/// The lines both reports start with.
fn write_header(
    f: &mut std::fmt::Formatter<'_>,
    config: &str,
    backend: &str,
    threads: usize,
    params: usize,
) -> std::fmt::Result {
    writeln!(f, "config:      {config}")?;
    writeln!(f, "backend:     {backend} ({threads} threads)")?;
    writeln!(f, "parameters:  {params} ({:.2} M)", params as f64 / 1e6)
}

impl std::fmt::Display for ProfileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_header(f, &self.config, &self.backend, self.threads, self.params)?;
        writeln!(
            f,
            "tokens per block (template {} + search):",
            self.template_tokens
        )?;
        for (i, (all, s)) in self
            .tokens_per_block
            .iter()
            .zip(&self.search_tokens_per_block)
            .enumerate()
        {
            writeln!(f, "  block {i:>2}: {all:>4} ({s} search)")?;
        }
        write!(
            f,
            "model-only forward, batch {}: median {:.1} ms (min {:.1}, mean {:.1}) over {} runs after {} warm-up = {:.2} FPS",
            self.batch,
            self.forward_ms_median,
            self.forward_ms_min,
            self.forward_ms_mean,
            self.runs,
            self.warmup,
            self.forward_fps
        )?;
        if let Some(e) = &self.end_to_end {
            write!(
                f,
                "\nend-to-end tracking step on a {}x{} frame: median {:.1} ms = {:.2} FPS \
                 (crop {:.2} ms, preprocess {:.2} ms, forward {:.1} ms, post-process {:.2} ms)",
                e.frame_width,
                e.frame_height,
                e.total_ms,
                e.fps,
                e.crop_ms,
                e.preprocess_ms,
                e.forward_ms,
                e.postprocess_ms
            )?;
        }
        Ok(())
    }
}

/// `profile --train`: timed training steps of a config's model.
#[derive(Debug, Clone, Serialize)]
pub struct TrainProfileReport {
    pub config: String,
    pub backend: String,
    pub threads: usize,
    pub params: usize,
    pub train: StepProfile,
}

pub fn run_train_profile(
    config: &Path,
    batch: usize,
    warmup: usize,
    steps: usize,
    backend_name: String,
    device: &Device,
) -> Result<TrainProfileReport> {
    let exp = load_config(config)?;
    let params = count_params(&OSTrack::new(&OSTrackConfig::from_experiment(&exp), device));
    let train = profile_train_steps(&exp, batch.max(1), warmup, steps.max(1), device)?;
    Ok(TrainProfileReport {
        config: config.display().to_string(),
        backend: backend_name,
        threads: threads(),
        params,
        train,
    })
}

impl std::fmt::Display for TrainProfileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.train;
        write_header(f, &self.config, &self.backend, self.threads, self.params)?;
        write!(
            f,
            "training step, batch {}, keep rate {:?}: median {:.1} ms over {} steps after {} warm-up \
             (first step {:.1} ms) = {:.2} samples/s",
            t.batch,
            t.keep_rate,
            t.step_ms_median,
            t.steps,
            t.warmup,
            t.first_step_ms,
            t.samples_per_s
        )
    }
}
