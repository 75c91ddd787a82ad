//! Progress output: an `indicatif` bar per epoch, the original's log line
//! (`LTRTrainer._print_stats`, spec §4.5) on stdout and in the log file, and machine-readable
//! per-epoch (`metrics.jsonl`) and per-step (`steps.jsonl`) records.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::error::TrainError;
use crate::loss::LossValues;

/// Batch-size-weighted running averages of one epoch (the original's `AverageMeter`s).
#[derive(Debug, Clone, Default)]
pub struct EpochMeters {
    pub samples: usize,
    pub batches: usize,
    sums: [f64; 5],
    pub data_time: Duration,
    pub forward_time: Duration,
    pub giou_fallbacks: usize,
    pub started: Option<Instant>,
}

impl EpochMeters {
    pub fn start() -> Self {
        Self {
            started: Some(Instant::now()),
            ..Self::default()
        }
    }

    pub fn add(
        &mut self,
        v: &LossValues,
        batch: usize,
        data: Duration,
        forward: Duration,
        fallback: bool,
    ) {
        let n = batch as f64;
        for (s, x) in self
            .sums
            .iter_mut()
            .zip([v.total, v.giou, v.l1, v.location, v.iou])
        {
            *s += x as f64 * n;
        }
        self.samples += batch;
        self.batches += 1;
        self.data_time += data;
        self.forward_time += forward;
        self.giou_fallbacks += usize::from(fallback);
    }

    /// Averages: total, giou, l1, location, IoU.
    pub fn averages(&self) -> [f64; 5] {
        let n = self.samples.max(1) as f64;
        self.sums.map(|s| s / n)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }
}

/// `[train: 3, 50 / 100] FPS: 12.3 (14.1)  ,  DataTime: ...  ,  Loss/total: 1.23456  ,  ...`
pub fn format_stats_line(
    split: &str,
    epoch: usize,
    i: usize,
    n: usize,
    m: &EpochMeters,
    batch_fps: f64,
) -> String {
    let secs = m.elapsed().as_secs_f64().max(1e-9);
    let b = m.batches.max(1) as f64;
    let [total, giou, l1, loc, iou] = m.averages();
    let parts = [
        format!("FPS: {:.1} ({:.1})", m.samples as f64 / secs, batch_fps),
        format!(
            "DataTime: {:.3} ({:.3})",
            m.data_time.as_secs_f64() / b,
            0.0
        ),
        format!("ForwardTime: {:.3}", m.forward_time.as_secs_f64() / b),
        format!("TotalTime: {:.3}", secs / b),
        format!("Loss/total: {total:.5}"),
        format!("Loss/giou: {giou:.5}"),
        format!("Loss/l1: {l1:.5}"),
        format!("Loss/location: {loc:.5}"),
        format!("IoU: {iou:.5}"),
    ];
    format!("[{split}: {epoch}, {i} / {n}] {}", parts.join("  ,  "))
}

/// One epoch's summary in `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub split: &'static str,
    pub epoch: usize,
    pub samples: usize,
    pub loss_total: f64,
    pub loss_giou: f64,
    pub loss_l1: f64,
    pub loss_location: f64,
    pub iou: f64,
    pub lr_head: f64,
    pub lr_backbone: f64,
    pub ce_keep_rate: f64,
    pub seconds: f64,
    /// Batches where the GIoU assertion failed and the original's fallback (0) was used.
    pub giou_fallbacks: usize,
}

/// One optimizer step in `steps.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub epoch: usize,
    pub step: usize,
    pub global_step: u64,
    pub loss_total: f32,
    pub loss_giou: f32,
    pub loss_l1: f32,
    pub loss_location: f32,
    pub iou: f32,
    pub grad_norm: f32,
    pub clip_coef: f32,
}

/// Writes the text log and the JSON-lines files (appending, so a resumed run continues them).
pub struct RunLog {
    log: File,
    metrics: File,
    steps: File,
    pub log_path: PathBuf,
    pub metrics_path: PathBuf,
    pub steps_path: PathBuf,
    /// Print to stdout (off in tests).
    pub echo: bool,
}

fn append(path: &Path) -> Result<File, TrainError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))
}

impl RunLog {
    pub fn open(out_dir: &Path, config_name: &str, echo: bool) -> Result<Self, TrainError> {
        let log_path = out_dir
            .join("logs")
            .join(format!("ostrack-{config_name}.log"));
        let metrics_path = out_dir.join("metrics.jsonl");
        let steps_path = out_dir.join("steps.jsonl");
        Ok(Self {
            log: append(&log_path)?,
            metrics: append(&metrics_path)?,
            steps: append(&steps_path)?,
            log_path,
            metrics_path,
            steps_path,
            echo,
        })
    }

    /// A line for the user: stdout (above the progress bar) and the log file.
    pub fn line(&mut self, bar: Option<&ProgressBar>, text: &str) -> Result<(), TrainError> {
        if self.echo {
            match bar {
                Some(b) if !b.is_hidden() => b.println(text),
                _ => println!("{text}"),
            }
        }
        writeln!(self.log, "{text}").map_err(|e| TrainError::io(&self.log_path, e))
    }

    pub fn epoch(&mut self, r: &EpochRecord) -> Result<(), TrainError> {
        let s = serde_json::to_string(r).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
        writeln!(self.metrics, "{s}").map_err(|e| TrainError::io(&self.metrics_path, e))
    }

    pub fn step(&mut self, r: &StepRecord) -> Result<(), TrainError> {
        let s = serde_json::to_string(r).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
        writeln!(self.steps, "{s}").map_err(|e| TrainError::io(&self.steps_path, e))
    }
}

/// A progress bar for one epoch (hidden when not echoing).
pub fn epoch_bar(split: &str, epoch: usize, total: usize, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total as u64),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{split} {epoch}"));
    bar
}
