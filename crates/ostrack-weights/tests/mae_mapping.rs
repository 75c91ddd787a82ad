//! Fixture C: MAE pretrain weights → the backbone the official pretrained path builds.

mod common;

use common::{assert_bit_exact, assert_same_tensors, fixture, sidecar};
use ostrack_weights::{
    StateDict, TrackerGeometry, load_state_dict_any, mae_to_ostrack_backbone, read_safetensors,
};
use serde_json::Value;

/// Copied MAE tensors must be exact; interpolated position embeddings within this.
const POS_EMBED_TOLERANCE: f32 = 1e-6;

/// The OSTrack variants the sidecar describes (`ostrack256`, `ostrack384`, ...) with the
/// geometry of each.
fn variants() -> Vec<(String, TrackerGeometry)> {
    let meta = sidecar("mae_tiny.json");
    let patch_size = meta["tiny_dims"]["patch_size"].as_u64().unwrap() as usize;
    let cfgs = meta["cfgs"].as_object().unwrap();
    assert!(!cfgs.is_empty());
    cfgs.iter()
        .map(|(name, cfg): (&String, &Value)| {
            let size = |part: &str| cfg["DATA"][part]["SIZE"].as_u64().unwrap() as usize;
            assert_eq!(
                cfg["MODEL"]["BACKBONE"]["STRIDE"].as_u64().unwrap() as usize,
                patch_size
            );
            (
                name.clone(),
                TrackerGeometry {
                    template_size: size("TEMPLATE"),
                    search_size: size("SEARCH"),
                    patch_size,
                },
            )
        })
        .collect()
}

fn check_against_fixture(mae: &StateDict, source: &str) {
    let expected_all = read_safetensors(fixture("mae_tiny.safetensors")).unwrap();
    for (variant, geometry) in variants() {
        let expected = expected_all
            .strip_prefix(&format!("{variant}."))
            .strip_prefix("backbone.");
        let mapped = mae_to_ostrack_backbone(mae, &geometry).unwrap();
        assert!(
            mapped.ignored_keys.is_empty(),
            "{source}: {:?}",
            mapped.ignored_keys
        );
        let produced = mapped.backbone.strip_prefix("backbone.");
        let mut produced_keys: Vec<&str> = produced.keys().collect();
        let mut expected_keys: Vec<&str> = expected.keys().collect();
        produced_keys.sort_unstable();
        expected_keys.sort_unstable();
        assert_eq!(
            produced_keys, expected_keys,
            "{source} {variant}: backbone keys"
        );
        for (key, want) in expected.iter() {
            let got = produced.get(key).unwrap();
            if key == "pos_embed_z" || key == "pos_embed_x" {
                assert_eq!(
                    (got.shape.as_slice(), got.dtype),
                    (want.shape.as_slice(), want.dtype),
                    "{key}"
                );
                let pairs = || got.as_f32().unwrap().iter().zip(want.as_f32().unwrap());
                let max_diff = pairs().map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                let differing = pairs().filter(|(a, b)| a.to_bits() != b.to_bits()).count();
                println!(
                    "{source} {variant} {key} {:?}: max |diff| = {max_diff:e}, {differing} values not bit-identical",
                    got.shape
                );
                assert!(
                    max_diff <= POS_EMBED_TOLERANCE,
                    "{source} {variant} {key}: max |diff| {max_diff:e}"
                );
            } else {
                assert_bit_exact(&format!("{source} {variant} {key}"), got, want);
            }
        }
    }
}

#[test]
fn mae_pth_maps_to_the_official_backbones() {
    let mae = load_state_dict_any(fixture("mae_tiny.pth"), None).unwrap();
    check_against_fixture(&mae, "mae_tiny.pth");
}

#[test]
fn mae_safetensors_maps_to_the_official_backbones() {
    let mae = load_state_dict_any(fixture("mae_tiny.safetensors"), Some("mae.")).unwrap();
    check_against_fixture(&mae, "mae_tiny.safetensors");
}

#[test]
fn pth_and_safetensors_hold_the_same_mae_weights() {
    let meta = sidecar("mae_tiny.json");
    let from_pth = load_state_dict_any(fixture("mae_tiny.pth"), None).unwrap();
    let from_st = load_state_dict_any(fixture("mae_tiny.safetensors"), Some("mae.")).unwrap();
    assert_same_tensors(&from_pth, &from_st);
    let listed = meta["tensors"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("mae."))
        .count();
    assert_eq!(from_pth.len(), listed);
}
