//! `ostrack data check`, `ostrack synth`, `ostrack bench data`: thin wrappers over ostrack-data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use ostrack_config::load_config;
use ostrack_data::bench::{self, BenchOptions};
use ostrack_data::synth::{self, SynthFormat, SynthOptions};
use ostrack_data::{
    DataRoots, DatasetKind, DoctorOptions, RootKey, SETTINGS_FILE, check_config, check_dataset,
};

/// Where the datasets are: a settings file plus per-dataset overrides.
#[derive(Debug, Args, Clone, Default)]
pub struct RootArgs {
    /// Settings file with dataset roots (default: ./ostrack-data.yaml if it exists).
    #[arg(long)]
    pub data_settings: Option<PathBuf>,
    /// Folder holding got10k/, lasot/, trackingnet/, coco/, data_specs/ in the usual layout.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    #[arg(long)]
    pub got10k: Option<PathBuf>,
    #[arg(long)]
    pub got10k_val: Option<PathBuf>,
    #[arg(long)]
    pub lasot: Option<PathBuf>,
    #[arg(long)]
    pub trackingnet: Option<PathBuf>,
    #[arg(long)]
    pub coco: Option<PathBuf>,
    #[arg(long)]
    pub custom: Option<PathBuf>,
    /// Folder of the split files (`got10k_vot_train_split.txt`, ...).
    #[arg(long)]
    pub data_specs: Option<PathBuf>,
}

impl RootArgs {
    pub fn resolve(&self) -> Result<DataRoots> {
        let settings = self.data_settings.clone().or_else(|| {
            let default = PathBuf::from(SETTINGS_FILE);
            default.is_file().then_some(default)
        });
        let mut roots = match settings {
            Some(path) => DataRoots::load(&path)?,
            None => DataRoots::default(),
        };
        if let Some(root) = &self.data_root {
            roots.root = Some(root.clone());
        }
        for (key, value) in [
            (RootKey::Got10k, &self.got10k),
            (RootKey::Got10kVal, &self.got10k_val),
            (RootKey::Lasot, &self.lasot),
            (RootKey::TrackingNet, &self.trackingnet),
            (RootKey::Coco, &self.coco),
            (RootKey::Custom, &self.custom),
            (RootKey::DataSpecs, &self.data_specs),
        ] {
            if let Some(p) = value {
                roots.set(key, p.clone());
            }
        }
        Ok(roots)
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check every dataset this experiment config trains and validates on.
    #[arg(long, conflicts_with_all = ["dataset", "root"])]
    pub config: Option<PathBuf>,
    /// got10k, lasot, trackingnet, coco or custom.
    #[arg(long, requires = "root")]
    pub dataset: Option<DatasetKind>,
    /// The dataset's folder (for got10k: the `train` folder holding list.txt).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Also decode every frame (finds truncated or corrupt images).
    #[arg(long)]
    pub deep: bool,
    #[command(flatten)]
    pub roots: RootArgs,
}

pub fn check(a: &CheckArgs) -> Result<ExitCode> {
    let opts = DoctorOptions { deep: a.deep };
    let report = match (&a.config, &a.dataset, &a.root) {
        (Some(config), _, _) => check_config(&load_config(config)?, &a.roots.resolve()?, opts),
        (None, Some(kind), Some(root)) => check_dataset(*kind, root, opts),
        _ => bail!("give either --config CONFIG or --dataset NAME --root DIR"),
    };
    println!("{report}");
    Ok(if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// got10k, lasot, trackingnet or custom.
    #[arg(long)]
    pub format: SynthFormat,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = SynthOptions::default().sequences)]
    pub sequences: usize,
    /// Extra GOT-10k `val` sequences.
    #[arg(long, default_value_t = SynthOptions::default().val_sequences)]
    pub val_sequences: usize,
    #[arg(long, default_value_t = SynthOptions::default().frames)]
    pub frames: usize,
    #[arg(long, default_value_t = SynthOptions::default().width)]
    pub width: usize,
    #[arg(long, default_value_t = SynthOptions::default().height)]
    pub height: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn synth(a: &SynthArgs) -> Result<ExitCode> {
    let opts = SynthOptions {
        sequences: a.sequences,
        val_sequences: a.val_sequences,
        frames: a.frames,
        width: a.width,
        height: a.height,
        seed: a.seed,
        ..SynthOptions::default()
    };
    let summary = synth::generate(a.format, &a.out, &opts)?;
    println!(
        "wrote {} frames; dataset root: {}",
        summary.frames,
        summary.dataset_root.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct BenchDataArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, default_value = "got10k")]
    pub dataset: DatasetKind,
    /// The dataset folder; with `--synth DIR` it defaults to a synthetic set written there.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Write (once) a synthetic GOT-10k set of 640×360 frames below DIR and measure on it.
    #[arg(long)]
    pub synth: Option<PathBuf>,
    #[arg(long, default_value_t = 1024)]
    pub samples: usize,
    /// Loader threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn bench_data(a: &BenchDataArgs) -> Result<ExitCode> {
    let root = match (&a.root, &a.synth) {
        (Some(root), _) => root.clone(),
        (None, Some(out)) => bench::synthetic_dataset(out)?,
        (None, None) => bail!("give --root DIR (or --synth DIR to measure on a synthetic set)"),
    };
    let cfg = load_config(&a.config)?;
    let opts = BenchOptions {
        samples: a.samples,
        threads: a.threads,
        seed: a.seed,
    };
    let report = bench::run(&cfg, a.dataset, &root, &opts)?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}
