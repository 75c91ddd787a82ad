//! `ostrack import mae` and `ostrack convert`: weight files in, official-layout files out.

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::Device;
use ostrack_config::load_config;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_weights::{
    StateDict, TrackerGeometry, describe, init_center_head, load_state_dict_any,
    mae_to_ostrack_backbone, save_state_dict,
};

/// The OSTrack state dict for `config` started from MAE encoder weights (spec §2.3): backbone
/// copied, `pos_embed_z/x` bicubic-resized, head initialised as the original does.
pub fn mae_initial_state(mae: &StateDict, config: &Path, seed: u64) -> Result<StateDict> {
    let exp = load_config(config)?;
    let cfg = OSTrackConfig::from_experiment(&exp);
    let geometry = TrackerGeometry {
        template_size: cfg.template_size,
        search_size: cfg.search_size,
        patch_size: cfg.patch_size,
    };
    let mapped = mae_to_ostrack_backbone(mae, &geometry)?;
    let mut state = mapped.backbone;
    for (k, t) in init_center_head(cfg.embed_dim, cfg.head_channels, seed)?.iter() {
        state.insert(k, t.clone());
    }
    Ok(state)
}

pub struct ImportSummary {
    pub tensors: usize,
    pub description: String,
}

/// Reads MAE weights (`.pth` with a `model` dict, or safetensors; `prefix` selects a sub-dict),
/// checks the result against the model of `config` and writes it to `output`.
pub fn import_mae(
    input: &Path,
    prefix: Option<&str>,
    config: &Path,
    output: &Path,
    seed: u64,
    device: &Device,
) -> Result<ImportSummary> {
    let mae = load_state_dict_any(input, prefix)?;
    let state = mae_initial_state(&mae, config, seed)
        .with_context(|| format!("{}: cannot import", input.display()))?;
    let exp = load_config(config)?;
    // Loading into the model is the strict shape check (e.g. ViT-B weights with a tiny config).
    OSTrack::new(&OSTrackConfig::from_experiment(&exp), device)
        .load_state_dict(&state, &input.display().to_string())?;
    save_state_dict(output, &state)?;
    Ok(ImportSummary {
        tensors: state.len(),
        description: describe(output)?,
    })
}

/// Any supported weight file to any supported format (by the output's extension).
pub fn convert(input: &Path, prefix: Option<&str>, output: &Path) -> Result<StateDict> {
    let state = load_state_dict_any(input, prefix)?;
    save_state_dict(output, &state)?;
    Ok(state)
}
