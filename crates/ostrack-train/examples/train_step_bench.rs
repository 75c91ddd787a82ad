//! Times one training step (train-mode forward, losses, backward, global clip, AdamW) on Flex.
//! The GPU backends are timed with `ostrack --backend <gpu> profile --train`.
//!
//! `cargo run --release -p ostrack-train --example train_step_bench -- [demo|<config.yaml>] [batch] [steps]`

use burn::prelude::*;
use ostrack_train::profile_train_steps;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("demo");
    let batch: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let steps: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let cfg = if which == "demo" {
        ostrack_train::demo::demo_config()?
    } else {
        ostrack_config::load_config(which)?
    };
    let p = profile_train_steps(&cfg, batch, 1, steps, &Device::flex())?;
    for (i, ms) in p.step_ms.iter().enumerate() {
        println!("step {}: {ms:.1} ms", i + 1);
    }
    let mean = p.step_ms.iter().sum::<f64>() / p.step_ms.len().max(1) as f64;
    println!(
        "{which}: batch {batch}, keep rate {:?}: train step mean {mean:.1} ms, median {:.1} ms over {} steps (first step excluded)",
        p.keep_rate, p.step_ms_median, p.steps
    );
    Ok(())
}
