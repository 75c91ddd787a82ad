//! Resume: an abrupt stop (no checkpoint written, like `kill -9`) or a step-budget stop in the
//! middle of an epoch, followed by a resumed run, gives the same per-step losses as one
//! uninterrupted run with the same seed (demo config, tiny budget).

mod common;

use std::path::Path;

use burn::prelude::*;
use common::tiny_runs::{step_losses, tiny_options, tiny_synth};
use ostrack_train::{ConfigSource, ResumeMode, TrainOptions, run_training};

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
    tiny_options(tiny_demo(), data, out)
}

#[test]
fn interrupted_runs_resume_to_the_same_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = tiny_synth(&tmp.path().join("synth"));
    let device = [Device::flex()];

    let full = run_training(&options(&settings, &tmp.path().join("full")), &device).unwrap();
    let reference = step_losses(&full);
    assert_eq!(reference.len(), 9);
    assert!(reference.iter().all(|l| l.2.is_finite()));

    // Abrupt end after 5 steps (epoch 2, step 2): only the epoch-1 checkpoint exists.
    let out = tmp.path().join("crash");
    let crash = TrainOptions {
        crash_after_steps: Some(5),
        ..options(&settings, &out)
    };
    assert!(run_training(&crash, &device).is_err());
    let latest = ostrack_train::latest_checkpoint(&out.join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.state.epochs_done, latest.state.steps_into_epoch),
        (1, 0)
    );
    let resumed = run_training(&options(&settings, &out), &device).unwrap();
    assert!(resumed.resumed_from.is_some());
    assert_eq!(
        step_losses(&resumed),
        reference[3..].to_vec(),
        "resume after a crash"
    );

    // Step budget reached mid-epoch (epoch 2, step 1): a mid-epoch checkpoint, then resume.
    let out = tmp.path().join("budget");
    let first = run_training(
        &TrainOptions {
            max_steps: Some(4),
            ..options(&settings, &out)
        },
        &device,
    )
    .unwrap();
    assert_eq!(step_losses(&first), reference[..4].to_vec());
    let latest = ostrack_train::latest_checkpoint(&out.join("checkpoints"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.state.epochs_done, latest.state.steps_into_epoch),
        (1, 1)
    );
    let rest = run_training(&options(&settings, &out), &device).unwrap();
    assert_eq!(
        step_losses(&rest),
        reference[4..].to_vec(),
        "resume from a mid-epoch checkpoint"
    );

    // --no-resume starts over and reproduces the reference from the start.
    let fresh = run_training(
        &TrainOptions {
            resume: ResumeMode::Fresh,
            ..options(&settings, &out)
        },
        &device,
    )
    .unwrap();
    assert!(fresh.resumed_from.is_none());
    assert_eq!(step_losses(&fresh), reference);
    println!("per-step losses: {reference:?}");
}
