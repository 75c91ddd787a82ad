//! The user workflow end to end: synthetic benchmark → `test` (tracker over every sequence, the
//! original's result layout) → `analyze` (toolkit metrics) → `pack` (submission archive).
//! The network is fixture A's tiny model, so the scores only have to exist and be sane.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use ostrack_data::synth::{self, SynthFormat, SynthOptions};
use ostrack_eval::{AnalyzeRequest, DatasetId, TrackerRuns, analyze, pack_got10k};
use ostrack_testkit::parity::fixture_state_dict;
use ostrack_testkit::{Fixture, fixtures_dir};
use ostrack_track::{TestOptions, run_test};

/// A config + weights file for fixture A's tiny model (dims from its sidecar).
fn tiny_model(dir: &Path) -> (PathBuf, PathBuf) {
    let fx_path = fixtures_dir().join("model_tiny_ce.safetensors");
    let fx = Fixture::load(&fx_path).unwrap();
    let cfg = ostrack_testkit::parity::fixture_model_config(&fx).unwrap();
    let cfg_json = &fx.sidecar["cfg"];
    let list = |v: &serde_json::Value| v.to_string();
    let yaml = format!(
        "MODEL:\n  BACKBONE:\n    TYPE: vit_base_patch16_224_ce\n    CE_LOC: {}\n    CE_KEEP_RATIO: {}\n    \
         CE_TEMPLATE_RANGE: {}\n    EMBED_DIM: {}\n    DEPTH: {}\n    NUM_HEADS: {}\n  HEAD:\n    NUM_CHANNELS: {}\n\
         DATA:\n  TEMPLATE:\n    SIZE: {}\n  SEARCH:\n    SIZE: {}\n\
         TEST:\n  TEMPLATE_SIZE: {}\n  SEARCH_SIZE: {}\n  TEMPLATE_FACTOR: {}\n  SEARCH_FACTOR: {}\n",
        list(&cfg_json["MODEL"]["BACKBONE"]["CE_LOC"]),
        list(&cfg_json["MODEL"]["BACKBONE"]["CE_KEEP_RATIO"]),
        cfg_json["MODEL"]["BACKBONE"]["CE_TEMPLATE_RANGE"]
            .as_str()
            .unwrap(),
        cfg.embed_dim,
        cfg.depth,
        cfg.num_heads,
        cfg.head_channels,
        cfg.template_size,
        cfg.search_size,
        cfg.template_size,
        cfg.search_size,
        cfg_json["TEST"]["TEMPLATE_FACTOR"],
        cfg_json["TEST"]["SEARCH_FACTOR"],
    );
    let config = dir.join("tiny.yaml");
    std::fs::write(&config, yaml).unwrap();
    let weights = dir.join("tiny.safetensors");
    ostrack_weights::write_safetensors(&weights, &fixture_state_dict(&fx, "param.")).unwrap();
    (config, weights)
}

fn small_synth(format: SynthFormat, out: &Path) -> PathBuf {
    let opts = SynthOptions {
        sequences: 2,
        val_sequences: 2,
        frames: 20,
        width: 160,
        height: 120,
        ..SynthOptions::default()
    };
    synth::generate(format, out, &opts).unwrap().dataset_root
}

#[test]
fn test_analyze_pack_on_synthetic_got10k_val() {
    let dir = tempfile::tempdir().unwrap();
    let (config, weights) = tiny_model(dir.path());
    small_synth(SynthFormat::Got10k, &dir.path().join("data"));
    let val_root = dir.path().join("data/got10k/val");
    let opts = TestOptions {
        config,
        weights,
        dataset: DatasetId::Got10kVal,
        data_root: val_root.clone(),
        results_root: dir.path().join("results"),
        threads: 2,
        sequence: None,
        progress: false,
    };
    let summary = run_test(&opts, &Device::flex()).unwrap();
    assert_eq!(summary.tracked.len(), 2);
    let got10k_dir = summary.tracker_dir.join("got10k");
    assert!(
        got10k_dir.is_dir(),
        "the original writes GOT-10k results into a got10k/ subfolder"
    );

    let report = analyze(&AnalyzeRequest {
        dataset: DatasetId::Got10kVal,
        data_root: val_root,
        trackers: vec![TrackerRuns::from_dir(&got10k_dir)],
        preset: None,
    })
    .unwrap();
    let ao = report.trackers[0]
        .scores
        .iter()
        .find(|s| s.name.contains("AO"))
        .expect("AO reported");
    assert!((0.0..=1.0).contains(&ao.value), "AO {}", ao.value);

    let zip = dir.path().join("submit.zip");
    let packed = pack_got10k(&got10k_dir, &zip, None).unwrap();
    assert_eq!(packed.sequences.len(), 2);
    assert!(std::fs::metadata(&zip).unwrap().len() > 0);

    // A second run resumes: nothing is tracked again.
    let again = run_test(&opts, &Device::flex()).unwrap();
    assert!(again.tracked.is_empty() && again.skipped.len() == 2);
}

#[test]
fn test_and_analyze_on_synthetic_lasot() {
    let dir = tempfile::tempdir().unwrap();
    let (config, weights) = tiny_model(dir.path());
    let root = small_synth(SynthFormat::Lasot, &dir.path().join("data"));
    let opts = TestOptions {
        config,
        weights,
        dataset: DatasetId::Lasot,
        data_root: root.clone(),
        results_root: dir.path().join("results"),
        threads: 1,
        sequence: None,
        progress: false,
    };
    let summary = run_test(&opts, &Device::flex()).unwrap();
    assert!(!summary.tracked.is_empty());
    let report = analyze(&AnalyzeRequest {
        dataset: DatasetId::Lasot,
        data_root: root,
        trackers: vec![TrackerRuns::from_dir(&summary.tracker_dir)],
        preset: None,
    })
    .unwrap();
    let auc = report.trackers[0]
        .scores
        .iter()
        .find(|s| s.name.contains("AUC"))
        .expect("AUC reported");
    assert!((0.0..=100.0).contains(&auc.value), "AUC {}", auc.value);
}
