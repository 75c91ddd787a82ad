//! Small real training runs (demo network, a tiny synthetic GOT-10k layout) for the resume and
//! read-back tests.

use std::path::{Path, PathBuf};

use ostrack_data::{SynthFormat, SynthOptions};
use ostrack_train::{ConfigSource, TrainOptions, TrainSummary};

/// Writes a 4 + 2 sequence synthetic dataset (20 frames of 160×120) and returns its settings file.
pub fn tiny_synth(dir: &Path) -> PathBuf {
    ostrack_data::synth::generate(
        SynthFormat::Got10k,
        dir,
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
    .unwrap()
    .settings
}

/// Options of a quiet run of `config` on `data` into `out`, a checkpoint every epoch.
pub fn tiny_options(config: ConfigSource, data: &Path, out: &Path) -> TrainOptions {
    TrainOptions {
        config,
        data_settings: Some(data.to_path_buf()),
        checkpoint_every: Some(1),
        echo: false,
        evaluate: false,
        loader_threads: 2,
        ..TrainOptions::demo(out)
    }
}

/// (epoch, step, total loss) of every logged step.
pub fn step_losses(s: &TrainSummary) -> Vec<(usize, usize, f32)> {
    s.steps
        .iter()
        .map(|r| (r.epoch, r.step, r.loss_total))
        .collect()
}
