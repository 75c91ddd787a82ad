//! `ostrack train`: with no arguments, the embedded demo (a small tracker trained on a
//! synthetic dataset, then evaluated); with `--config`, a real experiment.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use burn::prelude::Device;
use clap::Args;
use ostrack_train::demo::demo_options;
use ostrack_train::{ConfigSource, ResumeMode, TrainOptions, run_training};

use crate::demo::run_demo;
use crate::device::{Backend, device_for};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Experiment YAML (official schema). Without it: the demo (configs/demo.yaml embedded, on a
    /// synthetic dataset generated on first use).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Dataset roots (`ostrack-data.yaml`; default ./ostrack-data.yaml).
    #[arg(long)]
    pub data_settings: Option<PathBuf>,
    /// Checkpoints, logs and metrics go here.
    #[arg(long, default_value = "output/train")]
    pub output: PathBuf,
    /// Continue from the latest complete checkpoint (the default; announced when it happens).
    #[arg(long, conflicts_with = "no_resume")]
    pub resume: bool,
    /// Start from scratch even if checkpoints exist.
    #[arg(long)]
    pub no_resume: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this epoch.
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Stop after this many optimizer steps (a checkpoint is written).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// MAE encoder weights or a full OSTrack state dict to start from (default: the config's
    /// MODEL.PRETRAIN_FILE, searched next to the config, in pretrained_models/ and weights/;
    /// an empty PRETRAIN_FILE means random initialisation).
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Also write a checkpoint every N epochs (besides the original's policy: every 40 epochs,
    /// 79/159/239 and the last five).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Data loader threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub loader_threads: usize,
    /// Data-parallel devices, comma separated backend names (e.g. `flex,flex` or
    /// `vulkan,vulkan`); the batch is split evenly and gradients are averaged.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub devices: Vec<Backend>,
}

pub fn train(a: &TrainArgs, backend: Backend) -> Result<ExitCode> {
    let mut opts = match &a.config {
        Some(config) => TrainOptions::new(ConfigSource::File(config.clone()), a.output.clone()),
        None => demo_options(a.output.clone(), None, true)?,
    };
    if a.data_settings.is_some() {
        opts.data_settings = a.data_settings.clone();
    }
    opts.resume = if a.no_resume {
        ResumeMode::Fresh
    } else {
        ResumeMode::Latest
    };
    opts.seed = a.seed;
    opts.max_epochs = a.max_epochs;
    opts.max_steps = a.max_steps;
    opts.pretrained = match (&a.pretrained, &a.config) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(config)) => pretrain_file_of(config)?,
        (None, None) => None,
    };
    if a.checkpoint_every.is_some() {
        opts.checkpoint_every = a.checkpoint_every;
    }
    opts.loader_threads = a.loader_threads;
    opts.echo = true;
    let devices: Vec<Device> = if a.devices.is_empty() {
        vec![device_for(backend)?]
    } else {
        a.devices
            .iter()
            .map(|&d| device_for(d))
            .collect::<Result<_>>()?
    };
    let (summary, held_out) = if a.config.is_some() {
        (run_training(&opts, &devices)?, None)
    } else {
        let run = run_demo(&opts, &devices)?;
        (run.training, run.held_out)
    };
    println!(
        "{}: {} epochs, {} steps in {:.1} s; last checkpoint {}; log {}; metrics {}",
        summary.config_name,
        summary.epochs_done,
        summary.global_step,
        summary.wall_time.as_secs_f64(),
        summary
            .last_checkpoint
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string()),
        summary.log_file.display(),
        summary.metrics_file.display(),
    );
    if let Some(report) = &held_out {
        println!(
            "held-out synthetic sequences (GOT-10k rules, `ostrack test` + `ostrack analyze`):"
        );
        print!("{}", ostrack_eval::format_table(report));
    }
    if summary.interrupted {
        println!("interrupted: the checkpoint above holds the progress; rerun to resume");
    }
    Ok(ExitCode::SUCCESS)
}

/// The config's `MODEL.PRETRAIN_FILE`, looked up next to the config, in `pretrained_models/`
/// (the original's folder) and in the current folder. Empty = train from random weights.
fn pretrain_file_of(config: &std::path::Path) -> Result<Option<PathBuf>> {
    let name = ostrack_config::load_config(config)?.model.pretrain_file;
    if name.is_empty() {
        return Ok(None);
    }
    let dir = config.parent().unwrap_or(std::path::Path::new("."));
    let candidates = [
        PathBuf::from(&name),
        dir.join(&name),
        PathBuf::from("pretrained_models").join(&name),
        PathBuf::from("weights").join(&name),
    ];
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => Ok(Some(found.clone())),
        None => bail!(
            "{}: MODEL.PRETRAIN_FILE `{name}` not found (looked in {}); download it (see weights/README.md), \
             pass --pretrained FILE, or set MODEL.PRETRAIN_FILE: \"\" to start from random weights",
            config.display(),
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
