//! Tracker parameters (the original's `lib/test/parameter/ostrack.py`) and building the network
//! from a config and a checkpoint.

use std::path::Path;

use burn::prelude::Device;
use ostrack_config::{ExperimentConfig, load_config};
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_weights::load_state_dict_any;

use crate::error::{Result, TrackError};

/// Crop factors and sizes of the tracker, from the config's `TEST` block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    pub template_factor: f64,
    pub template_size: usize,
    pub search_factor: f64,
    pub search_size: usize,
}

impl TrackerParams {
    pub fn from_config(cfg: &ExperimentConfig) -> Self {
        let t = &cfg.test;
        Self {
            template_factor: t.template_factor,
            template_size: t.template_size,
            search_factor: t.search_factor,
            search_size: t.search_size,
        }
    }
}

/// A network ready for inference with everything a [`crate::Tracker`] needs to know about it.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub model: OSTrack,
    pub model_config: OSTrackConfig,
    pub params: TrackerParams,
}

/// Loads `config` (YAML) and `weights` (safetensors, or a torch `.pth`/`.pth.tar` whose `net` is
/// taken) strictly, as the original's tracker does (`load_state_dict(..., strict=True)`).
pub fn load_model(config: &Path, weights: &Path, device: &Device) -> Result<LoadedModel> {
    let exp = load_config(config)?;
    let mut model_config = OSTrackConfig::from_experiment(&exp);
    // Inference: stochastic depth is off in eval mode.
    model_config.drop_path_rate = 0.0;
    let state = load_state_dict_any(weights, None)?;
    let model = OSTrack::new(&model_config, device)
        .load_state_dict(&state, &weights.display().to_string())?;
    Ok(LoadedModel {
        model,
        model_config,
        params: TrackerParams::from_config(&exp),
    })
}

/// Checks that the crops the tracker will feed fit the network's position embeddings.
pub(crate) fn check_sizes(model_config: &OSTrackConfig, params: &TrackerParams) -> Result<()> {
    let fits = |name: &str, test: usize, model: usize| {
        if test == model {
            Ok(())
        } else {
            Err(TrackError::Tracker(format!(
                "TEST.{name} is {test} but the network was built for {model} px (DATA.{}.SIZE)",
                if name.starts_with("TEMPLATE") {
                    "TEMPLATE"
                } else {
                    "SEARCH"
                }
            )))
        }
    };
    fits(
        "TEMPLATE_SIZE",
        params.template_size,
        model_config.template_size,
    )?;
    fits("SEARCH_SIZE", params.search_size, model_config.search_size)?;
    for (name, f) in [
        ("TEMPLATE_FACTOR", params.template_factor),
        ("SEARCH_FACTOR", params.search_factor),
    ] {
        if !(f.is_finite() && f > 0.0) {
            return Err(TrackError::Tracker(format!(
                "TEST.{name} must be a positive number, got {f}"
            )));
        }
    }
    Ok(())
}
