//! The other three numbers of issue 7 besides the model forward (`benches/forward.rs`), on the
//! CPU (Flex), each next to its `ostrack` command in BENCHMARKS.md:
//! * `tracker_step`: one end-to-end tracking step of OSTrack-256 CE on a 640×360 frame (search
//!   crop + normalise + forward + Hann window + box decode), random weights;
//! * `train_step`: one training step of the demo config at batch 2 (train-mode forward, losses,
//!   backward, global clip, AdamW);
//! * `data_pipeline`: 64 training pairs (sampling, JPEG decode, crops, augmentation, labels) from
//!   a synthetic GOT-10k set of 640×360 frames, one loader thread.
//!
//! `cargo bench --bench pipeline` (all) or `cargo bench --bench pipeline -- tracker_step`.

use std::path::Path;

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use ostrack_config::load_config;
use ostrack_data::bench::BenchOptions;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_track::{Tracker, TrackerParams};
use ostrack_train::step::{StepPosition, StepSettings, TrainBatch, train_step};
use ostrack_train::{AdamWSettings, ExactAdamW, keep_rate_for_epoch, lr_for_epoch};

fn config(name: &str) -> ostrack_config::ExperimentConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(format!("{name}.yaml"));
    load_config(&path).expect("config")
}

fn tracker_step(c: &mut Criterion) {
    let device = Device::flex();
    let exp = config("vitb_256_mae_ce_32x4_ep300");
    let mut mcfg = OSTrackConfig::from_experiment(&exp);
    mcfg.drop_path_rate = 0.0;
    let model = OSTrack::new(&mcfg, &device);
    let params = TrackerParams::from_config(&exp);
    let mut tracker = Tracker::new(model, &mcfg, params, &device).expect("tracker");
    let img = ostrack_track::synthetic_frame(640, 360);
    tracker
        .initialize(img.view(), [256.0, 144.0, 128.0, 72.0])
        .expect("initialize");
    let mut group = c.benchmark_group("tracker_step_flex");
    group.sample_size(10);
    group.bench_function("vitb_256_mae_ce_32x4_ep300_640x360", |b| {
        b.iter(|| tracker.track(img.view()).expect("track"))
    });
    group.finish();
}

fn demo_train_step(c: &mut Criterion) {
    let cfg = ostrack_train::demo::demo_config().expect("demo config");
    let device = Device::flex().autodiff();
    device.seed(0);
    let mcfg = OSTrackConfig::from_experiment(&cfg);
    let tb = TrainBatch::synthetic(&cfg, 2, &device).expect("batch");
    let epoch = cfg.train.ce_start_epoch + cfg.train.ce_warm_epoch;
    let keep = keep_rate_for_epoch(&cfg, epoch);
    let lr = lr_for_epoch(&cfg, epoch);
    let settings = StepSettings::from_config(&cfg);
    let mut model = Some(OSTrack::new(&mcfg, &device));
    let mut optim = ExactAdamW::new(AdamWSettings::default());
    let mut group = c.benchmark_group("train_step_flex");
    group.sample_size(20);
    group.bench_function("demo_b2", |b| {
        b.iter(|| {
            let at = StepPosition { epoch, step: 1 };
            let m = model.take().expect("model");
            let (m, out) = train_step(m, &mut optim, &tb, keep, lr, settings, at).expect("step");
            model = Some(m);
            out.read().expect("step scalars").losses.total
        })
    });
    group.finish();
}

fn data_pipeline(c: &mut Criterion) {
    let root = std::env::temp_dir().join("ostrack-bench-pipeline");
    let train = ostrack_data::bench::synthetic_dataset(&root).expect("synthetic dataset");
    let cfg = config("vitb_256_mae_ce_32x4_ep300");
    let mut group = c.benchmark_group("data_pipeline");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(64));
    group.bench_function("got10k_640x360_64_pairs_1_thread", |b| {
        b.iter(|| {
            let opts = BenchOptions {
                samples: 64,
                threads: 1,
                seed: 1,
            };
            ostrack_data::bench::run(&cfg, ostrack_data::DatasetKind::Got10k, &train, &opts)
                .expect("data bench")
                .samples
        })
    });
    group.finish();
}

criterion_group!(benches, tracker_step, demo_train_step, data_pipeline);
criterion_main!(benches);
