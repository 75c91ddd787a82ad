//! Small real training runs (demo network, a tiny synthetic GOT-10k layout) for the resume and
//! read-back tests.

use std::path::{Path, PathBuf};

use ostrack_train::{ConfigSource, TrainOptions, TrainSummary};

/// The tiny synthetic GOT-10k layout (seed 5) below `dir`; returns its settings file.
pub fn tiny_synth(dir: &Path) -> PathBuf {
    ostrack_testkit::tiny_got10k(dir, 5)
}

/// Options of a quiet run of `config` on `data` into `out`, a checkpoint every epoch.
pub fn tiny_options(config: ConfigSource, data: &Path, out: &Path) -> TrainOptions {
    TrainOptions {
        data_settings: Some(data.to_path_buf()),
        checkpoint_every: Some(1),
        echo: false,
        loader_threads: 2,
        ..TrainOptions::new(config, out)
    }
}

/// (epoch, step, total loss) of every logged step.
pub fn step_losses(s: &TrainSummary) -> Vec<(usize, usize, f32)> {
    s.steps
        .iter()
        .map(|r| (r.epoch, r.step, r.loss_total))
        .collect()
}
