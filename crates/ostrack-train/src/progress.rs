//! Progress output: an `indicatif` bar per epoch, the original's log line
//! (`LTRTrainer._print_stats`, spec §4.5) on stdout and in the log file, and machine-readable
//! per-epoch (`metrics.jsonl`) and per-step (`steps.jsonl`) records.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::prelude::*;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ostrack_model::readback::read_f32;
use serde::Serialize;

use crate::error::TrainError;
use crate::loss::LossValues;
use crate::step::{StepOutcome, StepPosition, StepValues, check_finite, slot};

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

    /// Time of a step whose values are still on the device (they arrive with
    /// [`EpochMeters::add_window`]).
    pub fn add_time(&mut self, data: Duration, forward: Duration) {
        self.data_time += data;
        self.forward_time += forward;
    }

    /// Steps read back together by [`PendingSteps::read`] (their times were added one by one).
    pub fn add_window(&mut self, w: &WindowTotals) {
        for (s, x) in self.sums.iter_mut().zip(w.weighted_sums) {
            *s += x as f64;
        }
        self.samples += w.samples;
        self.batches += w.steps;
        self.giou_fallbacks += w.giou_fallbacks;
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

/// Totals of the steps one [`PendingSteps::read`] covered.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowTotals {
    /// Sums over the steps of total, giou, l1, location and IoU, each times its batch size.
    pub weighted_sums: [f32; 5],
    pub steps: usize,
    pub samples: usize,
    pub giou_fallbacks: usize,
}

/// Layout of the window sums kept on the device: the five loss terms times the batch size,
/// then the fallback flags, the finite-output flags and the gradient norms, summed.
const WINDOW: usize = 8;

/// Training steps whose scalars stay on the device between reads (on devices where a read
/// stalls the queue). Each step adds its values to sums on the device; [`PendingSteps::read`]
/// fetches the last step's values and the sums in one transfer. A NaN or infinity in any step
/// of the window reaches the sums, so the guard still sees every step, only later.
#[derive(Debug, Default)]
pub struct PendingSteps {
    sums: Option<Tensor<1>>,
    last: Option<StepOutcome>,
    steps: usize,
    samples: usize,
    first: Option<StepPosition>,
}

impl PendingSteps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps added since the last read.
    pub fn len(&self) -> usize {
        self.steps
    }

    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }

    /// Adds a step (device operations only).
    pub fn push(&mut self, outcome: StepOutcome) {
        let n = outcome.batch_size as f64;
        let v = outcome.scalars.clone();
        let row = Tensor::cat(
            vec![
                v.clone().slice(s![0..slot::GIOU_FALLBACK]).mul_scalar(n),
                v.slice(s![slot::GIOU_FALLBACK..slot::GRAD_NORM + 1]),
            ],
            0,
        );
        self.sums = Some(match self.sums.take() {
            Some(sum) => sum + row,
            None => row,
        });
        self.first.get_or_insert(outcome.at);
        self.steps += 1;
        self.samples += outcome.batch_size;
        self.last = Some(outcome);
    }

    /// Reads the last step's values and the window's sums with one transfer and runs the NaN
    /// guard on both (`every`: the read interval, for the error message); empties the window.
    /// `None` when no step is pending.
    pub fn read(&mut self, every: usize) -> Result<Option<(StepValues, WindowTotals)>, TrainError> {
        let (Some(sums), Some(last)) = (self.sums.take(), self.last.take()) else {
            return Ok(None);
        };
        let (steps, samples) = (self.steps, self.samples);
        let first = self.first.take().unwrap_or(last.at);
        self.steps = 0;
        self.samples = 0;
        let v = read_f32(
            Tensor::cat(vec![last.scalars.clone(), sums], 0),
            "the training steps' scalars",
        )?;
        let (step, window) = v.split_at(slot::COUNT);
        check_finite(step, last.at, Some(every))?;
        let weighted_sums = [window[0], window[1], window[2], window[3], window[4]];
        let (fallbacks, finite, norms) = (window[5], window[6], window[7]);
        debug_assert_eq!(window.len(), WINDOW);
        if finite != steps as f32
            || !weighted_sums.iter().all(|x| x.is_finite())
            || !norms.is_finite()
        {
            return Err(TrainError::NonFinite {
                epoch: last.at.epoch,
                step: last.at.step,
                what: "a loss, a network output or a gradient norm".into(),
                detail: format!(
                    "in one of steps {}..={} of epoch {}: on this device the step values are read and checked every {every} steps; detected at step {}",
                    first.step, last.at.step, first.epoch, last.at.step
                ),
            });
        }
        Ok(Some((
            StepValues::from_slice(step),
            WindowTotals {
                weighted_sums,
                steps,
                samples,
                giou_fallbacks: fallbacks.round() as usize,
            },
        )))
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
