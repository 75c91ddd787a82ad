//! Measures the training-pair pipeline, like `ostrack bench data` (until the CLI wires it):
//!
//! ```text
//! cargo run --release -p ostrack-data --example bench_data -- \
//!     --config configs/vitb_256_mae_ce_32x4_ep300.yaml --dataset got10k --root DIR \
//!     --samples 1024 --threads 1 [--synth OUT]
//! ```
//! With `--synth OUT`, a synthetic GOT-10k dataset of 640×360 frames (12 sequences × 80 frames)
//! is first written below OUT (skipped when it exists) and `--root` defaults to its train folder.
//! The last line printed is `samples_per_s=<number>`.

use std::path::PathBuf;
use std::process::ExitCode;

use ostrack_data::DatasetKind;
use ostrack_data::bench::{self, BenchOptions};
use ostrack_data::synth::{self, SynthFormat, SynthOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut config, mut dataset, mut root, mut synth_out) =
        (None, "got10k".to_string(), None, None);
    let mut options = BenchOptions {
        samples: 1024,
        threads: 0,
        seed: 1,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--dataset" => dataset = value()?,
            "--root" => root = Some(PathBuf::from(value()?)),
            "--samples" => {
                options.samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?
            }
            "--threads" => {
                options.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?
            }
            "--seed" => options.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--synth" => synth_out = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if let Some(out) = &synth_out {
        let train = out.join("got10k/train");
        if !train.join("list.txt").is_file() {
            let opts = SynthOptions {
                sequences: 12,
                val_sequences: 0,
                frames: 80,
                ..SynthOptions::default()
            };
            let s = synth::generate(SynthFormat::Got10k, out, &opts).map_err(|e| e.to_string())?;
            println!(
                "wrote {} frames below {}",
                s.frames,
                s.dataset_root.display()
            );
        }
        root.get_or_insert(train);
    }
    let config = config.ok_or("--config is required")?;
    let root = root.ok_or("--root (or --synth) is required")?;
    let cfg = ostrack_config::load_config(&config).map_err(|e| e.to_string())?;
    let kind = DatasetKind::parse(&dataset).map_err(|e| e.to_string())?;
    let report = bench::run(&cfg, kind, &root, &options).map_err(|e| e.to_string())?;
    println!("{report}");
    Ok(())
}
