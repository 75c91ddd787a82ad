//! How often the training loop reads the step scalars back. On Flex it reads every step (the
//! per-step log is complete and a NaN is reported at its step); with a read interval (what GPUs
//! use) it reads only on interval, print and epoch-end steps: the same training, the read steps
//! logged, epoch averages from sums kept on the device, and a NaN still caught, with the interval
//! in the message.

mod common;

use std::path::Path;
use std::sync::Mutex;

use burn::prelude::*;
use common::tiny_runs::{step_losses, tiny_options, tiny_synth};
use ostrack_train::{ConfigSource, TrainError, TrainOptions, TrainSummary, run_training};

/// The tests of this file train on the one Flex device, whose random generator is global: they
/// take turns so that each run's seeding is its own.
static SERIAL: Mutex<()> = Mutex::new(());

fn tiny_demo(lr: Option<f64>) -> ConfigSource {
    let mut cfg = ostrack_train::demo::demo_config().unwrap();
    cfg.train.batch_size = 2;
    cfg.data.train.sample_per_epoch = 6; // 3 steps per epoch
    cfg.data.val.sample_per_epoch = 4;
    cfg.train.epoch = 2;
    cfg.train.ce_start_epoch = 1;
    cfg.train.ce_warm_epoch = 1;
    cfg.train.val_epoch_interval = 2;
    if let Some(lr) = lr {
        cfg.train.lr = lr;
    }
    ConfigSource::Loaded {
        name: "demo-tiny".into(),
        config: Box::new(cfg),
    }
}

fn options(data: &Path, out: &Path, every: Option<usize>, lr: Option<f64>) -> TrainOptions {
    TrainOptions {
        readback_every: every,
        ..tiny_options(tiny_demo(lr), data, out)
    }
}

#[test]
fn reading_every_k_steps_trains_the_same_and_averages_every_step() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let data = tiny_synth(&tmp.path().join("synth"));
    let device = [Device::flex()];
    let every_step =
        run_training(&options(&data, &tmp.path().join("a"), None, None), &device).unwrap();
    let reference = step_losses(&every_step);
    assert_eq!(reference.len(), 6, "Flex reads every step");

    let sparse = run_training(
        &options(&data, &tmp.path().join("b"), Some(2), None),
        &device,
    )
    .unwrap();
    // Steps 2 (the interval) and 3 (the epoch's end) of each epoch are read.
    let expected: Vec<_> = reference.iter().copied().filter(|l| l.1 != 1).collect();
    assert_eq!(step_losses(&sparse), expected);
    let steps = std::fs::read_to_string(sparse.metrics_file.with_file_name("steps.jsonl")).unwrap();
    assert_eq!(steps.lines().count(), 4, "steps.jsonl has the read steps");

    assert_eq!(every_step.epochs.len(), sparse.epochs.len());
    for (a, b) in every_step.epochs.iter().zip(&sparse.epochs) {
        assert_eq!((a.split, a.epoch, a.samples), (b.split, b.epoch, b.samples));
        assert_eq!(a.giou_fallbacks, b.giou_fallbacks);
        for (name, x, y) in [
            ("total", a.loss_total, b.loss_total),
            ("giou", a.loss_giou, b.loss_giou),
            ("l1", a.loss_l1, b.loss_l1),
            ("location", a.loss_location, b.loss_location),
            ("iou", a.iou, b.iou),
        ] {
            // f32 sums on the device against f64 sums on the host.
            assert!(
                (x - y).abs() <= 1e-6 * x.abs().max(1e-6),
                "{} epoch {}: {name} {x} vs {y}",
                a.split,
                a.epoch
            );
        }
    }
}

fn non_finite(r: Result<TrainSummary, TrainError>) -> (usize, usize, String) {
    match r {
        Err(e @ TrainError::NonFinite { epoch, step, .. }) => (epoch, step, e.to_string()),
        Err(e) => panic!("expected a non-finite error, got {e}"),
        Ok(_) => panic!("training with lr 1e35 must diverge"),
    }
}

#[test]
fn a_diverging_run_stops_at_the_step_it_is_detected() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let data = tiny_synth(&tmp.path().join("synth"));
    let device = [Device::flex()];
    // The first update moves every weight by ~lr; the second forward overflows.
    let lr = Some(1e35);
    let (epoch, step, msg) = non_finite(run_training(
        &options(&data, &tmp.path().join("a"), None, lr),
        &device,
    ));
    assert_eq!((epoch, step), (1, 2), "{msg}");
    assert!(!msg.contains("every"), "{msg}");
    println!("read every step: {msg}");

    let (epoch, step, msg) = non_finite(run_training(
        &options(&data, &tmp.path().join("b"), Some(3), lr),
        &device,
    ));
    assert_eq!((epoch, step), (1, 3), "{msg}");
    assert!(msg.contains("detected at step 3"), "{msg}");
    assert!(msg.contains("every 3 steps"), "{msg}");
    println!("read every 3 steps: {msg}");
    // No checkpoint was written after the non-finite step.
    let latest =
        ostrack_train::latest_checkpoint(&tmp.path().join("b").join("checkpoints")).unwrap();
    assert!(
        latest.is_none(),
        "a checkpoint was written after the divergence"
    );
}
