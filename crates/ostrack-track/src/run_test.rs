//! `ostrack test`: the tracker over a benchmark, writing result files exactly as the original's
//! `lib/test/evaluation/running.py`: `<results>/ostrack/<cfg>/[got10k/|trackingnet/]<seq>.txt`
//! (tab-separated integer boxes, frame 0 = init box) and `<seq>_time.txt` (seconds per frame,
//! image reading excluded). Sequences whose box file exists are skipped (resume); sequences run
//! in parallel on `threads` workers, each with its own tracker over the shared network.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Device;
use ostrack_data::decode::read_frame;
use ostrack_eval::results::{sequence_result_exists, write_sequence_result};
use ostrack_eval::{DatasetId, EvalSequence, list_sequences};
use rayon::prelude::*;

use crate::error::{Result, TrackError};
use crate::params::{LoadedModel, load_model};
use crate::run_track::progress_bar;
use crate::tracker::Tracker;

/// Everything `ostrack test` takes.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub config: PathBuf,
    pub weights: PathBuf,
    pub dataset: DatasetId,
    pub data_root: PathBuf,
    /// The original's `results_path` (`<save_dir>/test/tracking_results`); results go to
    /// `<results_root>/ostrack/<config file stem>/`.
    pub results_root: PathBuf,
    /// Sequences tracked at the same time (at least 1).
    pub threads: usize,
    /// Track only this sequence.
    pub sequence: Option<String>,
    pub progress: bool,
}

impl TestOptions {
    /// `<results_root>/ostrack/<config stem>`, the tracker's result directory.
    pub fn tracker_dir(&self) -> PathBuf {
        let name = self
            .config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ostrack".into());
        self.results_root.join("ostrack").join(name)
    }
}

/// One tracked sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceRun {
    pub name: String,
    pub frames: usize,
    /// `frames / Σ per-frame times`, as the original prints it.
    pub fps: f64,
    pub result_file: PathBuf,
}

/// What a `test` run did.
#[derive(Debug, Clone)]
pub struct TestSummary {
    pub tracker_dir: PathBuf,
    pub tracked: Vec<SequenceRun>,
    /// Sequences skipped because their result file already existed.
    pub skipped: Vec<String>,
}

impl std::fmt::Display for TestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let frames: usize = self.tracked.iter().map(|s| s.frames).sum();
        let seconds: f64 = self
            .tracked
            .iter()
            .map(|s| s.frames as f64 / s.fps.max(1e-12))
            .sum();
        writeln!(f, "results: {}", self.tracker_dir.display())?;
        write!(
            f,
            "tracked {} sequences ({frames} frames, {:.2} FPS), skipped {} already done",
            self.tracked.len(),
            if seconds > 0.0 {
                frames as f64 / seconds
            } else {
                0.0
            },
            self.skipped.len()
        )
    }
}

/// Runs the benchmark (see [`TestOptions`]).
pub fn run_test(opts: &TestOptions, device: &Device) -> Result<TestSummary> {
    let mut sequences = list_sequences(opts.dataset, &opts.data_root)?;
    if let Some(name) = &opts.sequence {
        sequences.retain(|s| &s.name == name);
        if sequences.is_empty() {
            return Err(TrackError::flag(
                "--sequence",
                format!(
                    "no sequence `{name}` in {} under {}",
                    opts.dataset,
                    opts.data_root.display()
                ),
            ));
        }
    }
    let tracker_dir = opts.tracker_dir();
    let (done, todo): (Vec<_>, Vec<_>) = sequences
        .into_iter()
        .partition(|s| sequence_result_exists(&tracker_dir, opts.dataset, &s.name));
    let skipped = done.into_iter().map(|s| s.name).collect();
    let loaded = load_model(&opts.config, &opts.weights, device)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| {
            TrackError::flag(
                "--threads",
                format!("cannot start {} workers: {e}", opts.threads),
            )
        })?;
    let bar = progress_bar(opts.progress, Some(todo.len()));
    let tracked = pool.install(|| {
        todo.par_iter()
            .map(|seq| {
                let run = track_sequence(&loaded, seq, &tracker_dir, device)
                    .map_err(|e| e.in_sequence(&seq.name))?;
                bar.println(format!(
                    "{}: {} frames, FPS: {:.2}",
                    run.name, run.frames, run.fps
                ));
                bar.inc(1);
                Ok(run)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    bar.finish_and_clear();
    Ok(TestSummary {
        tracker_dir,
        tracked,
        skipped,
    })
}

fn track_sequence(
    loaded: &LoadedModel,
    seq: &EvalSequence,
    tracker_dir: &Path,
    device: &Device,
) -> Result<SequenceRun> {
    let gt = &seq.ground_truth_path;
    let init = *seq
        .ground_truth
        .first()
        .ok_or_else(|| TrackError::file(gt, "ground truth has no first box"))?;
    if seq.frames.is_empty() {
        return Err(TrackError::file(gt, "no frames found for this sequence"));
    }
    let mut tracker = Tracker::from_loaded(loaded, device)?;
    let mut boxes = Vec::with_capacity(seq.frames.len());
    let mut times = Vec::with_capacity(seq.frames.len());
    for (i, path) in seq.frames.iter().enumerate() {
        let image = read_frame(path)?;
        let start = Instant::now();
        let bbox = if i == 0 {
            tracker
                .initialize(image.view(), init)
                .map_err(|e| match e {
                    TrackError::Flag { message, .. } => TrackError::File {
                        path: gt.clone(),
                        line: Some(1),
                        message,
                    },
                    other => other,
                })?;
            init
        } else {
            tracker.track(image.view())?.bbox
        };
        times.push(start.elapsed().as_secs_f64());
        boxes.push(bbox);
    }
    let result_file = write_sequence_result(tracker_dir, seq.dataset, &seq.name, &boxes, &times)?;
    let total: f64 = times.iter().sum();
    Ok(SequenceRun {
        name: seq.name.clone(),
        frames: boxes.len(),
        fps: boxes.len() as f64 / total.max(1e-12),
        result_file,
    })
}
