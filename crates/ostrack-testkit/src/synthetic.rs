//! Tiny synthetic datasets for real training and tracking runs in tests.

use std::path::{Path, PathBuf};

use ostrack_data::synth::{self, SynthFormat, SynthOptions};

/// A 4 + 2 sequence (train + `val`) synthetic GOT-10k layout of 20 frames of 160×120 below
/// `dir`, drawn with `seed`; returns its `ostrack-data.yaml`. Panics with the reason when it
/// cannot be written (a test cannot run without it).
pub fn tiny_got10k(dir: &Path, seed: u64) -> PathBuf {
    let options = SynthOptions {
        sequences: 4,
        val_sequences: 2,
        frames: 20,
        width: 160,
        height: 120,
        seed,
        jpeg_quality: 90,
    };
    synth::generate(SynthFormat::Got10k, dir, &options)
        .unwrap_or_else(|e| panic!("synthetic dataset in {}: {e}", dir.display()))
        .settings
}
