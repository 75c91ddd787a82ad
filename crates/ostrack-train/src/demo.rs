//! The demo experiment's training inputs: a reduced ViT with the real CE, head and loss
//! (`configs/demo.yaml`, compiled in) and a deterministic synthetic GOT-10k-layout dataset
//! generated on first use. Tracking and scoring the held-out sequences is the CLI's demo
//! (`ostrack train` without arguments), above training, tracking and evaluation.

use std::path::{Path, PathBuf};

use ostrack_atomic::Durability;
use ostrack_config::ExperimentConfig;
use ostrack_data::{SynthFormat, SynthOptions};

use crate::error::TrainError;
use crate::run::{ConfigSource, TrainOptions};

/// `configs/demo.yaml`, compiled in so `ostrack train` works from any folder.
pub const DEMO_YAML: &str = include_str!("../../../configs/demo.yaml");

/// Bump when the synthetic data recipe changes (a new cache folder is generated).
const SYNTH_VERSION: &str = "synth-demo-v1";

/// The demo's experiment name (its log, metrics and result folders are named after it).
pub const DEMO_NAME: &str = "demo";

pub fn demo_config() -> Result<ExperimentConfig, TrainError> {
    Ok(ostrack_config::parse_config_yaml(
        DEMO_YAML,
        Path::new("configs/demo.yaml (embedded)"),
    )?)
}

/// The synthetic dataset's size: enough variety to learn from, small enough to generate in
/// seconds on two cores.
pub fn demo_synth_options() -> SynthOptions {
    SynthOptions {
        sequences: 48,
        val_sequences: 8,
        frames: 50,
        width: 320,
        height: 240,
        seed: 2024,
        jpeg_quality: 90,
    }
}

/// `dir` or `$XDG_CACHE_HOME/ostrack-rs` or `$HOME/.cache/ostrack-rs` (else `./.ostrack-cache`).
pub fn cache_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("ostrack-rs");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("ostrack-rs");
    }
    PathBuf::from(".ostrack-cache")
}

/// Generates the synthetic dataset below `cache` unless a complete copy is there; returns its
/// `ostrack-data.yaml`. The data is written to a temporary folder and renamed when complete.
pub fn ensure_synthetic_data(cache: &Path, echo: bool) -> Result<PathBuf, TrainError> {
    let dir = cache.join(SYNTH_VERSION);
    let settings = dir.join(ostrack_data::SETTINGS_FILE);
    if settings.exists() {
        return Ok(settings);
    }
    std::fs::create_dir_all(cache).map_err(|e| TrainError::io(cache, e))?;
    let tmp = cache.join(format!(".{SYNTH_VERSION}.tmp{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    let options = demo_synth_options();
    if echo {
        println!(
            "Generating the synthetic demo dataset ({} + {} sequences of {} frames) in {} ...",
            options.sequences,
            options.val_sequences,
            options.frames,
            dir.display()
        );
    }
    ostrack_data::synth::generate(SynthFormat::Got10k, &tmp, &options)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        // Another process finished first: use its copy.
        Err(_) if settings.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(TrainError::io(&dir, e)),
    }
    Ok(settings)
}

/// Training options of the demo into `output_dir`: the embedded config, written there as
/// `demo.yaml` (training and the held-out tracking read that one file), on the synthetic dataset
/// in `cache` (see [`cache_dir`]; generated here on first use), a checkpoint every epoch.
pub fn demo_options(
    output_dir: impl Into<PathBuf>,
    cache: Option<&Path>,
    echo: bool,
) -> Result<TrainOptions, TrainError> {
    let output_dir = output_dir.into();
    std::fs::create_dir_all(&output_dir).map_err(|e| TrainError::io(&output_dir, e))?;
    let config = output_dir.join(format!("{DEMO_NAME}.yaml"));
    ostrack_atomic::write(&config, DEMO_YAML.as_bytes(), Durability::Renamed)
        .map_err(|e| TrainError::io(&e.path, e.source))?;
    Ok(TrainOptions {
        data_settings: Some(ensure_synthetic_data(&cache_dir(cache), echo)?),
        checkpoint_every: Some(1),
        echo,
        ..TrainOptions::new(ConfigSource::File(config), output_dir)
    })
}
