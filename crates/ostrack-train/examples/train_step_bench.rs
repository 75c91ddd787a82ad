//! Times one training step (train-mode forward, losses, backward, global clip, AdamW) on Flex.
//!
//! `cargo run --release -p ostrack-train --example train_step_bench -- [demo|<config.yaml>] [batch] [steps]`

use std::time::Instant;

use burn::prelude::*;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_train::step::{StepPosition, StepSettings, TrainBatch, train_step};
use ostrack_train::{AdamWSettings, ExactAdamW, keep_rate_for_epoch, lr_for_epoch};

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
    let device = Device::flex().autodiff();
    device.seed(0);
    let mcfg = OSTrackConfig::from_experiment(&cfg);
    let mut model = OSTrack::new(&mcfg, &device);
    let mut optim = ExactAdamW::new(AdamWSettings::default());
    let tb = TrainBatch::synthetic(&cfg, batch, &device)?;
    // Epoch after the warm-up: CE at its final keep rate, as in most of training.
    let epoch = cfg.train.ce_start_epoch + cfg.train.ce_warm_epoch;
    let keep = keep_rate_for_epoch(&cfg, epoch);
    let lr = lr_for_epoch(&cfg, epoch.min(cfg.train.lr_drop_epoch.max(1)));
    let settings = StepSettings::from_config(&cfg);
    let mut times = Vec::new();
    for i in 0..steps + 1 {
        let start = Instant::now();
        let (m, out) = train_step(
            model,
            &mut optim,
            &tb,
            keep,
            lr,
            settings,
            StepPosition { epoch, step: i },
        )?;
        model = m;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!("step {i}: {ms:.1} ms (loss {:.4})", out.losses.total);
        if i > 0 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "{which}: batch {batch}, keep rate {keep:?}: train step mean {mean:.1} ms, median {:.1} ms over {} steps (first step excluded)",
        times[times.len() / 2],
        times.len()
    );
    Ok(())
}
