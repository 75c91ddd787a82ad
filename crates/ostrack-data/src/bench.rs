//! Throughput of the full training-pair pipeline (sampling, file reading, JPEG decoding, crops,
//! augmentation, labels, batch assembly) on one dataset.

use std::path::Path;
use std::time::Instant;

use crate::datasets::{DatasetKind, open_layout};
use crate::error::DataError;
use crate::loader::{LoaderOptions, LoaderSetup, SkipReport, TrainPairLoader};
use crate::processing::{ProcessingParams, Split};
use ostrack_config::ExperimentConfig;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Samples to produce (rounded up to whole batches of `TRAIN.BATCH_SIZE`).
    pub samples: usize,
    /// Loader threads; 0 = one per core.
    pub threads: usize,
    pub seed: u64,
}

/// The measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub dataset: String,
    pub root: String,
    pub threads: usize,
    pub batch_size: usize,
    pub samples: usize,
    pub seconds: f64,
    /// CPU time of the whole process during the run (all threads), when the OS reports it.
    pub cpu_seconds: Option<f64>,
    pub samples_per_s: f64,
    pub skips: SkipReport,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "dataset: {} at {}", self.dataset, self.root)?;
        writeln!(
            f,
            "threads: {}, batch size: {}",
            self.threads, self.batch_size
        )?;
        writeln!(f, "skips: {}", self.skips)?;
        write!(f, "{} samples in {:.3} s", self.samples, self.seconds)?;
        if let Some(cpu) = self.cpu_seconds {
            write!(
                f,
                " ({:.3} s CPU, {:.1} samples per CPU-second)",
                cpu,
                self.samples as f64 / cpu.max(1e-9)
            )?;
        }
        write!(f, "\nsamples_per_s={:.1}", self.samples_per_s)
    }
}

/// The synthetic GOT-10k set the benchmark is defined on (12 sequences × 80 frames of
/// 640×360), written below `out` unless already there; returns its train root.
pub fn synthetic_dataset(out: &Path) -> Result<std::path::PathBuf, DataError> {
    let train = out.join("got10k/train");
    if !train.join("list.txt").is_file() {
        let opts = crate::synth::SynthOptions {
            sequences: 12,
            val_sequences: 0,
            frames: 80,
            ..crate::synth::SynthOptions::default()
        };
        crate::synth::generate(crate::synth::SynthFormat::Got10k, out, &opts)?;
    }
    Ok(train)
}

/// Runs the benchmark on every sequence of the layout at `root`, with the crop settings of
/// `cfg` (`DATA.TEMPLATE/SEARCH`, `TRAIN.BATCH_SIZE`, `DATA.MAX_SAMPLE_INTERVAL`). Opening the
/// dataset and reading its annotations is not timed.
pub fn run(
    cfg: &ExperimentConfig,
    kind: DatasetKind,
    root: &Path,
    options: &BenchOptions,
) -> Result<BenchReport, DataError> {
    let dataset = open_layout(kind, root)?;
    let bs = cfg.train.batch_size.max(1);
    let batches = options.samples.div_ceil(bs).max(1);
    let setup = LoaderSetup {
        datasets: vec![dataset],
        ratios: vec![1.0],
        params: ProcessingParams::from_config(cfg, Split::Train),
        max_sample_interval: cfg.data.max_sample_interval,
        batch_size: bs,
        samples_per_epoch: batches * bs,
        heatmap_stride: cfg.model.backbone.stride,
    };
    let loader = TrainPairLoader::new(
        setup,
        LoaderOptions {
            seed: options.seed,
            threads: options.threads,
            ..LoaderOptions::default()
        },
    )?;
    let cpu0 = process_cpu_seconds();
    let start = Instant::now();
    let mut epoch = loader.epoch(0);
    let mut samples = 0;
    for batch in epoch.by_ref() {
        samples += batch?.batch_size;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu0.and_then(|c0| process_cpu_seconds().map(|c1| c1 - c0));
    Ok(BenchReport {
        dataset: kind.as_str().to_string(),
        root: root.display().to_string(),
        threads: loader.threads(),
        batch_size: bs,
        samples,
        seconds,
        cpu_seconds,
        samples_per_s: samples as f64 / seconds.max(1e-9),
        skips: epoch.skip_report(),
    })
}

/// User + system CPU time of this process (Linux `/proc/self/stat`), if available.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
