//! Training-pair pipeline throughput without building the CLI (and Burn): what
//! `ostrack bench data --synth DIR` does.
//!
//! ```text
//! cargo run --release -p ostrack-data --example bench_data -- \
//!     --config configs/vitb_256_mae_ce_32x4_ep300.yaml --synth /tmp/ostrack-bench \
//!     --samples 2048 --threads 1 [--seed N] [--root DIR]
//! ```
//!
//! With `--synth DIR` it writes (once) the benchmark's synthetic GOT-10k set (12 sequences × 80
//! frames of 640×360) below DIR and measures on it; `--root DIR` measures on an existing GOT-10k
//! `train` folder instead. The last line printed is `samples_per_s=...`.

use std::path::PathBuf;
use std::process::ExitCode;

use ostrack_config::load_config;
use ostrack_data::DatasetKind;
use ostrack_data::bench::{self, BenchOptions};

struct Args {
    config: PathBuf,
    synth: Option<PathBuf>,
    root: Option<PathBuf>,
    samples: usize,
    threads: usize,
    seed: u64,
}

const USAGE: &str = "usage: bench_data --config FILE (--synth DIR | --root DIR) [--samples N] \
                     [--threads T] [--seed S]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        config: PathBuf::new(),
        synth: None,
        root: None,
        samples: 1024,
        threads: 0,
        seed: 1,
    };
    let mut have_config = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let number = |v: String, flag: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} expects a non-negative integer, got `{v}`"))
        };
        match flag.as_str() {
            "--config" => {
                a.config = value()?.into();
                have_config = true;
            }
            "--synth" => a.synth = Some(value()?.into()),
            "--root" => a.root = Some(value()?.into()),
            "--samples" => a.samples = number(value()?, "--samples")? as usize,
            "--threads" => a.threads = number(value()?, "--threads")? as usize,
            "--seed" => a.seed = number(value()?, "--seed")?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if !have_config {
        return Err(format!("--config is required\n{USAGE}"));
    }
    Ok(a)
}

fn run() -> Result<(), String> {
    let a = parse_args()?;
    let root = match (&a.root, &a.synth) {
        (Some(root), _) => root.clone(),
        (None, Some(out)) => bench::synthetic_dataset(out).map_err(|e| e.to_string())?,
        (None, None) => return Err(format!("give --root DIR or --synth DIR\n{USAGE}")),
    };
    let cfg = load_config(&a.config).map_err(|e| e.to_string())?;
    let opts = BenchOptions {
        samples: a.samples,
        threads: a.threads,
        seed: a.seed,
    };
    let report = bench::run(&cfg, DatasetKind::Got10k, &root, &opts).map_err(|e| e.to_string())?;
    println!("{report}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
