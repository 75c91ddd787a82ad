use std::path::{Path, PathBuf};

use ostrack_config::{ConfigError, load_config, parse_config_yaml};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn official_dir() -> PathBuf {
    repo_root().join("../shared/official_configs")
}

#[test]
fn every_official_yaml_loads_unchanged() {
    let dir = official_dir();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("official configs dir") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let cfg = load_config(&path).unwrap_or_else(|e| panic!("{e}"));
            let name = path.file_stem().unwrap().to_str().unwrap();
            let (t, s) = if name.contains("384") {
                (192, 384)
            } else {
                (128, 256)
            };
            assert_eq!(
                (cfg.data.template.size, cfg.data.search.size),
                (t, s),
                "{name}"
            );
            assert_eq!(cfg.model.backbone.is_ce(), name.contains("_ce_"), "{name}");
            n += 1;
        }
    }
    assert_eq!(n, 6, "expected the six official files in {}", dir.display());
}

#[test]
fn our_configs_equal_the_official_ones() {
    for entry in std::fs::read_dir(official_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let ours = repo_root().join("configs").join(path.file_name().unwrap());
            let a = load_config(&path).unwrap();
            let b = load_config(&ours).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a, b, "{} differs from the official file", ours.display());
        }
    }
}

#[test]
fn spec_values_of_the_384_ep300_file() {
    let cfg = load_config(official_dir().join("vitb_384_mae_ce_32x4_ep300.yaml")).unwrap();
    // This file omits CE_START_EPOCH / CE_WARM_EPOCH and inherits the defaults.
    assert_eq!(
        (cfg.train.ce_start_epoch, cfg.train.ce_warm_epoch),
        (20, 80)
    );
    assert_eq!(cfg.model.backbone.ce_loc, vec![3, 6, 9]);
    assert_eq!(cfg.data.search.factor, 5.0);
    assert_eq!(cfg.data.search.center_jitter, 4.5);
    assert_eq!(cfg.test.epoch, 300);
}

#[test]
fn unknown_key_names_key_and_file() {
    let err = parse_config_yaml(
        "MODEL:\n  BACKBONE:\n    CE_LOCS: [1]\n",
        Path::new("x.yaml"),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("x.yaml") && msg.contains("MODEL.BACKBONE") && msg.contains("CE_LOCS"),
        "{msg}"
    );
}

#[test]
fn ratio_length_mismatch_is_reported_at_load() {
    let yaml = "DATA:\n  TRAIN:\n    DATASETS_NAME: [GOT10K_train_full]\n    DATASETS_RATIO: [1, 1, 1, 1]\n";
    let err = parse_config_yaml(yaml, Path::new("single.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("DATASETS_NAME")
            && msg.contains("DATASETS_RATIO")
            && msg.contains("GOT10K_train_full"),
        "{msg}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let err = parse_config_yaml("TRAIN:\n  LR: fast\n", Path::new("t.yaml")).unwrap_err();
    assert!(err.to_string().contains("TRAIN.LR"), "{err}");
}

/// Enum-valued keys are parsed once, at load: a value outside the set names the file, the key
/// and the values it could have been.
#[test]
fn unknown_enum_values_name_the_key_and_the_choices() {
    for (yaml, key, choice) in [
        (
            "MODEL:\n  BACKBONE:\n    TYPE: vit_large\n",
            "MODEL.BACKBONE.TYPE",
            "vit_base_patch16_224_ce",
        ),
        (
            "MODEL:\n  BACKBONE:\n    CE_TEMPLATE_RANGE: CENTRE\n",
            "MODEL.BACKBONE.CE_TEMPLATE_RANGE",
            "CTR_POINT",
        ),
        (
            "MODEL:\n  HEAD:\n    TYPE: CORNER\n",
            "MODEL.HEAD.TYPE",
            "CENTER",
        ),
        ("TRAIN:\n  OPTIMIZER: SGD\n", "TRAIN.OPTIMIZER", "ADAMW"),
        (
            "TRAIN:\n  SCHEDULER:\n    TYPE: Mstep\n",
            "TRAIN.SCHEDULER.TYPE",
            "step",
        ),
        (
            "DATA:\n  SAMPLER_MODE: trident_pro\n",
            "DATA.SAMPLER_MODE",
            "causal",
        ),
    ] {
        let err = parse_config_yaml(yaml, Path::new("e.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("e.yaml") && err.contains(key) && err.contains(choice),
            "{yaml}: {err}"
        );
    }
}
