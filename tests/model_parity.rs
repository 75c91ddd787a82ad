//! The acceptance test of the network: every model fixture (`model_tiny_*.safetensors`) run
//! through our model must match the official outputs and traces (see the fixtures README).

use std::path::Path;

use burn::prelude::Device;
use ostrack_cli::fixture::fixtures_dir;
use ostrack_cli::parity::run_model_parity;

fn fixture(name: &str) -> std::path::PathBuf {
    fixtures_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).join(name)
}

fn assert_parity(name: &str) {
    let report = run_model_parity(&fixture(name), &Device::flex()).unwrap_or_else(|e| panic!("{e:#}"));
    println!("{report}");
    assert!(report.passed(), "{report}");
}

#[test]
fn model_tiny_ce_matches_the_official_forward() {
    assert_parity("model_tiny_ce.safetensors");
}

#[test]
fn model_tiny_noce_matches_the_official_forward() {
    assert_parity("model_tiny_noce.safetensors");
}

#[test]
fn released_checkpoint_expected_outputs_match() {
    // Same model format; its weights live in the checkpoint, so the fixture's own `param.*`
    // are absent: this file is covered by the weights tests. Here we only check the CE fixture
    // format detection does not silently pass an empty comparison.
    let path = fixture("OSTrack_ep0001.expected.safetensors");
    let err = run_model_parity(&path, &Device::flex());
    assert!(err.is_err(), "a fixture without weights must be an error, not a pass");
}
