//! Resume: an abrupt stop (no checkpoint written, like `kill -9`) or a step-budget stop in the
//! middle of an epoch, followed by a resumed run, gives the same per-step losses as one
//! uninterrupted run with the same seed (demo config, tiny budget).

use std::path::Path;

use burn::prelude::*;
use ostrack_data::{SynthFormat, SynthOptions};
use ostrack_train::{ConfigSource, ResumeMode, TrainOptions, TrainSummary, run_training};

fn tiny_demo() -> ConfigSource {
    let mut cfg = ostrack_train::demo::demo_config().unwrap();
    cfg.train.batch_size = 2;
    cfg.data.train.sample_per_epoch = 6; // 3 steps per epoch
    cfg.data.val.sample_per_epoch = 4;
    cfg.train.epoch = 3;
    cfg.train.ce_start_epoch = 2; // CE active in epochs 2 and 3
    cfg.train.ce_warm_epoch = 1;
    cfg.train.val_epoch_interval = 2;
    cfg.train.lr_drop_epoch = 2;
    ConfigSource::Loaded {
        name: "demo-tiny".into(),
        config: Box::new(cfg),
    }
}

fn options(data: &Path, out: &Path) -> TrainOptions {
    TrainOptions {
        config: tiny_demo(),
        data_settings: Some(data.to_path_buf()),
        checkpoint_every: Some(1),
        echo: false,
        evaluate: false,
        loader_threads: 2,
        ..TrainOptions::demo(out)
    }
}

fn losses(s: &TrainSummary) -> Vec<(usize, usize, f32)> {
    s.steps
        .iter()
        .map(|r| (r.epoch, r.step, r.loss_total))
        .collect()
}

#[test]
fn interrupted_runs_resume_to_the_same_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let synth = ostrack_data::synth::generate(
        SynthFormat::Got10k,
        &tmp.path().join("synth"),
        &SynthOptions {
            sequences: 4,
            val_sequences: 2,
            frames: 20,
            width: 160,
            height: 120,
            seed: 5,
            jpeg_quality: 90,
        },
    )
    .unwrap();
    let device = [Device::flex()];

    let full = run_training(&options(&synth.settings, &tmp.path().join("full")), &device).unwrap();
    let reference = losses(&full);
    assert_eq!(reference.len(), 9);
    assert!(reference.iter().all(|l| l.2.is_finite()));

    // Abrupt end after 5 steps (epoch 2, step 2): only the epoch-1 checkpoint exists.
    let out = tmp.path().join("crash");
    let crash = TrainOptions {
        crash_after_steps: Some(5),
        ..options(&synth.settings, &out)
    };
    assert!(run_training(&crash, &device).is_err());
    let latest = ostrack_train::latest_checkpoint(&out.join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.state.epochs_done, latest.state.steps_into_epoch),
        (1, 0)
    );
    let resumed = run_training(&options(&synth.settings, &out), &device).unwrap();
    assert!(resumed.resumed_from.is_some());
    assert_eq!(
        losses(&resumed),
        reference[3..].to_vec(),
        "resume after a crash"
    );

    // Step budget reached mid-epoch (epoch 2, step 1): a mid-epoch checkpoint, then resume.
    let out = tmp.path().join("budget");
    let first = run_training(
        &TrainOptions {
            max_steps: Some(4),
            ..options(&synth.settings, &out)
        },
        &device,
    )
    .unwrap();
    assert_eq!(losses(&first), reference[..4].to_vec());
    let latest = ostrack_train::latest_checkpoint(&out.join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.state.epochs_done, latest.state.steps_into_epoch),
        (1, 1)
    );
    let rest = run_training(&options(&synth.settings, &out), &device).unwrap();
    assert_eq!(
        losses(&rest),
        reference[4..].to_vec(),
        "resume from a mid-epoch checkpoint"
    );

    // --no-resume starts over and reproduces the reference from the start.
    let fresh = run_training(
        &TrainOptions {
            resume: ResumeMode::Fresh,
            ..options(&synth.settings, &out)
        },
        &device,
    )
    .unwrap();
    assert!(fresh.resumed_from.is_none());
    assert_eq!(losses(&fresh), reference);
    println!("per-step losses: {reference:?}");
}
