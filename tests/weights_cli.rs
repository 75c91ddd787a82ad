//! `ostrack import mae` / `ostrack convert` as users run them, on the fixture files.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use ostrack_cli::weights_cmd::{convert, import_mae};
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_testkit::{Fixture, fixtures_dir};
use ostrack_weights::{StateDict, load_state_dict_any};

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// A config with the MAE fixture's tiny ViT (dims from its sidecar) and the given sizes.
fn tiny_config(dir: &Path, template: usize, search: usize) -> PathBuf {
    let fx = Fixture::load(&fixture("mae_tiny.safetensors")).unwrap();
    let pe = fx.require("mae.pos_embed").unwrap();
    let dim = pe.shape[2];
    let depth = fx
        .names_with_prefix("mae.blocks.")
        .iter()
        .filter(|k| k.ends_with(".norm1.weight"))
        .count();
    let heads = fx.sidecar["tiny_dims"]["num_heads"].as_u64().unwrap_or(4);
    let head_channels = fx.sidecar["tiny_dims"]["head_channels"]
        .as_u64()
        .unwrap_or(32);
    let yaml = format!(
        "MODEL:\n  BACKBONE:\n    TYPE: vit_base_patch16_224_ce\n    CE_LOC: [1]\n    CE_KEEP_RATIO: [0.7]\n    \
         EMBED_DIM: {dim}\n    DEPTH: {depth}\n    NUM_HEADS: {heads}\n  HEAD:\n    NUM_CHANNELS: {head_channels}\n\
         DATA:\n  TEMPLATE:\n    SIZE: {template}\n  SEARCH:\n    SIZE: {search}\n"
    );
    let path = dir.join(format!("tiny_{search}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The OSTrack variants of the MAE fixture (its sidecar's `cfgs`): tensor prefix, template and
/// search size.
fn mae_variants(fx: &Fixture) -> Vec<(String, usize, usize)> {
    let cfgs = fx.sidecar["cfgs"]
        .as_object()
        .expect("mae_tiny.json lists its variants under `cfgs`");
    let size = |cfg: &serde_json::Value, which: &str| {
        cfg["DATA"][which]["SIZE"]
            .as_u64()
            .unwrap_or_else(|| panic!("cfgs: DATA.{which}.SIZE")) as usize
    };
    let variants: Vec<_> = cfgs
        .iter()
        .map(|(name, cfg)| {
            (
                format!("{name}."),
                size(cfg, "TEMPLATE"),
                size(cfg, "SEARCH"),
            )
        })
        .collect();
    assert!(!variants.is_empty(), "mae_tiny.json: no variants in `cfgs`");
    variants
}

#[test]
fn import_mae_pth_reproduces_the_official_backbone() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::load(&fixture("mae_tiny.safetensors")).unwrap();
    for (prefix, template, search) in mae_variants(&fx) {
        let prefix = prefix.as_str();
        let config = tiny_config(dir.path(), template, search);
        let out = dir.path().join(format!("{prefix}safetensors"));
        import_mae(
            &fixture("mae_tiny.pth"),
            None,
            &config,
            &out,
            7,
            &Device::flex(),
        )
        .unwrap();
        let ours = load_state_dict_any(&out, None).unwrap();
        let mut compared = 0;
        for key in fx
            .names_with_prefix(prefix)
            .iter()
            .filter(|k| k.starts_with("backbone."))
        {
            let expected = fx.tensors[&format!("{prefix}{key}")].f32();
            let got = ours
                .get(key)
                .unwrap_or_else(|| panic!("missing {key}"))
                .to_f32();
            let max = got
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            let tol = if key.contains("pos_embed_") {
                1e-6
            } else {
                0.0
            };
            assert!(max <= tol, "{prefix}{key}: max |diff| {max}");
            compared += 1;
        }
        assert!(compared > 10, "{prefix}: compared only {compared} tensors");
        // The imported file is a complete, loadable model.
        let exp = ostrack_config::load_config(&config).unwrap();
        OSTrack::new(&OSTrackConfig::from_experiment(&exp), &Device::flex())
            .load_state_dict(&ours, "import")
            .unwrap();
    }
}

#[test]
fn weights_for_another_variant_are_refused_with_shapes() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture checkpoint into a model of another search size (a MAE fixture variant): the
    // error names the position embeddings with both shapes.
    let sd = load_state_dict_any(fixture("OSTrack_ep0001.pth.tar"), None).unwrap();
    let found = sd
        .get("backbone.pos_embed_x")
        .expect("a checkpoint")
        .shape
        .clone();
    let fx = Fixture::load(&fixture("mae_tiny.safetensors")).unwrap();
    let (prefix, template, search) = mae_variants(&fx)
        .into_iter()
        .find(|(prefix, ..)| fx.tensors[&format!("{prefix}backbone.pos_embed_x")].shape != found)
        .expect("a MAE fixture variant of another size than OSTrack_ep0001");
    let expected = &fx.tensors[&format!("{prefix}backbone.pos_embed_x")].shape;
    let exp = ostrack_config::load_config(tiny_config(dir.path(), template, search)).unwrap();
    let err = OSTrack::new(&OSTrackConfig::from_experiment(&exp), &Device::flex())
        .load_state_dict(&sd, "OSTrack_ep0001.pth.tar")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OSTrack_ep0001.pth.tar") && err.contains("backbone.pos_embed_x"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{expected:?}")) && err.contains(&format!("{found:?}")),
        "{err}"
    );
}

#[test]
fn convert_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("net.safetensors");
    let bpk = dir.path().join("net.bpk");
    let pth = dir.path().join("net.pth");
    let original = load_state_dict_any(fixture("OSTrack_ep0001.pth.tar"), None).unwrap();
    convert(&fixture("OSTrack_ep0001.pth.tar"), None, &st).unwrap();
    convert(&st, None, &bpk).unwrap();
    convert(&bpk, None, &pth).unwrap();
    let back = load_state_dict_any(&pth, None).unwrap();
    // safetensors does not keep key order (PyTorch's load_state_dict does not need it); every
    // tensor must come back bit-exact with its dtype.
    assert_eq!(original.len(), back.len());
    for (key, t) in original.iter() {
        assert_eq!(back.get(key), Some(t), "{key} changed in the round trip");
    }
    // And through our model: official → model → official, also via a training checkpoint.
    let fx = Fixture::load(&fixture("model_tiny_ce.safetensors")).unwrap();
    let cfg = ostrack_testkit::parity::fixture_model_config(&fx).unwrap();
    let model = OSTrack::new(&cfg, &Device::flex())
        .load_state_dict(&original, "ckpt")
        .unwrap();
    let exported = model.to_state_dict();
    for (key, t) in original.iter() {
        let e = exported
            .get(key)
            .unwrap_or_else(|| panic!("export lacks {key}"));
        assert_eq!(e.shape, t.shape, "{key}");
        assert_eq!(e.to_f32(), t.to_f32(), "{key} not bit-exact");
    }
    assert_eq!(exported.len(), original.len());
    let ckpt = ostrack_train::save_checkpoint(
        dir.path(),
        &ostrack_train::TrainState {
            format: 1,
            config: "roundtrip".into(),
            epochs_done: 1,
            steps_into_epoch: 0,
            global_step: 1,
            seed: 0,
            lr_head: 0.0,
            lr_backbone: 0.0,
            interrupted: false,
        },
        &ostrack_train::demo::demo_config().unwrap(),
        &exported,
        &StateDict::new(),
    )
    .unwrap();
    let out = dir.path().join("from_checkpoint.pth");
    convert(&ckpt, None, &out).unwrap();
    let back = load_state_dict_any(&out, None).unwrap();
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        original.keys().collect::<Vec<_>>()
    );
    for (key, t) in original.iter() {
        assert_eq!(back.get(key).map(|b| b.to_f32()), Some(t.to_f32()), "{key}");
    }
}
