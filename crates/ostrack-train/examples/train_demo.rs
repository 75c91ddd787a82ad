//! Runs what `ostrack train` runs with no arguments: the demo into `./ostrack-demo-run`.
//!
//! `cargo run --release -p ostrack-train --example train_demo [-- <output dir> [--no-resume]]`

use burn::prelude::*;
use ostrack_train::{ResumeMode, TrainOptions, run_training};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "ostrack-demo-run".into());
    let mut opts = TrainOptions::demo(out);
    if args.iter().any(|a| a == "--no-resume") {
        opts.resume = ResumeMode::Fresh;
    }
    let summary = run_training(&opts, &[Device::flex()])?;
    println!(
        "{} epochs, {} steps in {:.1}s; last checkpoint {:?}",
        summary.epochs_done,
        summary.global_step,
        summary.wall_time.as_secs_f64(),
        summary.last_checkpoint
    );
    if let Some(e) = summary.evaluation {
        println!("{}", e.describe());
    }
    Ok(())
}
