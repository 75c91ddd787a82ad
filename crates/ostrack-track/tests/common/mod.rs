//! Shared test helpers: the tiny tracker-fixture model as a config file plus a weights file
//! (fixtures are read with `ostrack_testkit::Fixture`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use ostrack_testkit::{Fixture, fixtures_dir};
use ostrack_weights::{StateDict, load_state_dict_any, save_state_dict};
use serde_json::Value;

/// The weights a tracker fixture names in its sidecar (`weights: "<file> param.* ..."`), as an
/// official state dict.
pub fn fixture_weights(fx: &Fixture) -> StateDict {
    let spec = fx.sidecar["weights"].as_str().expect("sidecar `weights`");
    let file = spec.split_whitespace().next().unwrap();
    let prefix = spec
        .split_whitespace()
        .nth(1)
        .map(|p| p.trim_end_matches('*'))
        .unwrap_or("param.");
    load_state_dict_any(fixtures_dir().join(file), Some(prefix)).unwrap()
}

/// The sidecar's `cfg` with the tiny ViT dimensions (`tiny_dims`, position grid from the
/// weights) written into the config's extension keys.
pub fn fixture_config_json(fx: &Fixture, weights: &StateDict) -> Value {
    let mut cfg = fx.sidecar["cfg"].clone();
    let bb = cfg["MODEL"]["BACKBONE"].as_object_mut().unwrap();
    let dims = &fx.sidecar["tiny_dims"];
    for (key, ext) in [
        ("embed_dim", "EMBED_DIM"),
        ("depth", "DEPTH"),
        ("num_heads", "NUM_HEADS"),
        ("mlp_ratio", "MLP_RATIO"),
        ("patch_size", "PATCH_SIZE"),
    ] {
        if let Some(v) = dims.get(key) {
            bb.insert(ext.into(), v.clone());
        }
    }
    if let Some(pe) = weights.get("backbone.pos_embed") {
        let rows = pe.shape[1] - 1;
        bb.insert(
            "PRETRAIN_GRID".into(),
            ((rows as f64).sqrt().round() as usize).into(),
        );
    }
    if let Some(ch) = dims.get("head_channels") {
        cfg["MODEL"]["HEAD"]["NUM_CHANNELS"] = ch.clone();
    }
    cfg
}

/// Writes the tracker fixture's model as `<dir>/tiny.yaml` (JSON is YAML) and
/// `<dir>/tiny.safetensors`; returns both paths.
pub fn write_fixture_model(dir: &Path) -> (PathBuf, PathBuf) {
    let fx = Fixture::open("tracker_seq");
    let weights = fixture_weights(&fx);
    let cfg = fixture_config_json(&fx, &weights);
    let config = dir.join("tiny.yaml");
    std::fs::write(&config, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let weights_path = dir.join("tiny.safetensors");
    save_state_dict(&weights_path, &weights).unwrap();
    (config, weights_path)
}
