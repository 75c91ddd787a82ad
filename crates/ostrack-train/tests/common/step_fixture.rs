//! Reading fixture I (`train_step`): its experiment config with the tiny dims, and its batches.

use burn::prelude::*;
use ostrack_config::ExperimentConfig;
use ostrack_train::step::TrainBatch;
use ostrack_weights::StateDict;

use super::{get, tensor};

/// The sidecar's `cfg` with `tiny_dims` written into the backbone extension keys.
pub fn experiment(json: &serde_json::Value) -> ExperimentConfig {
    let mut cfg = json["cfg"].clone();
    let dims = &json["tiny_dims"];
    let bb = cfg["MODEL"]["BACKBONE"]
        .as_object_mut()
        .expect("cfg.MODEL.BACKBONE");
    for (key, dim) in [
        ("EMBED_DIM", "embed_dim"),
        ("DEPTH", "depth"),
        ("NUM_HEADS", "num_heads"),
        ("MLP_RATIO", "mlp_ratio"),
        ("PATCH_SIZE", "patch_size"),
    ] {
        bb.insert(key.into(), dims[dim].clone());
    }
    ostrack_config::parse_config_json(&cfg, std::path::Path::new("train_step.json cfg"))
        .expect("fixture cfg")
}

/// Batch `input{k}` with the heat map built by ostrack-data (checked against `step{k}.gt_heatmap`).
pub fn batch(st: &StateDict, cfg: &ExperimentConfig, k: usize, device: &Device) -> TrainBatch {
    let inp = format!("input{k}");
    let search_anno: Vec<[f32; 4]> = get(st, &format!("{inp}.search_anno"))
        .to_f32()
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    let boxes: Vec<[f64; 4]> = search_anno.iter().map(|b| b.map(f64::from)).collect();
    let heatmap =
        ostrack_data::generate_heatmap(&boxes, cfg.data.search.size, cfg.model.backbone.stride);
    assert_eq!(
        heatmap,
        get(st, &format!("step{k}.gt_heatmap")).to_f32(),
        "step{k}: heat map"
    );
    TrainBatch {
        template: tensor(get(st, &format!("{inp}.template")), device),
        search: tensor(get(st, &format!("{inp}.search")), device),
        template_mask: st
            .get(&format!("{inp}.ce_template_mask"))
            .map(|t| tensor(t, device)),
        search_anno,
        heatmap,
    }
}

/// Burn stores linear weights [in, out]; PyTorch [out, in].
pub fn transpose_2d(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let (r, c) = (shape[0], shape[1]);
    let mut out = vec![0f32; values.len()];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = values[i * c + j];
        }
    }
    out
}

/// The conv biases whose true gradient is 0 (a train-mode BatchNorm follows), mapped to that
/// BatchNorm: the sidecar's `roundoff_only_gradients` of step `meta`.
pub fn roundoff_biases(meta: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    meta["roundoff_only_gradients"]["params"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v["followed_by"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
