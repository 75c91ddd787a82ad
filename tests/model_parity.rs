//! The acceptance test of the network: every model fixture run through our model must match the
//! official outputs and traces (tolerances in the fixtures README). Runs on the device
//! `OSTRACK_TEST_DEVICE` selects (Flex by default; see `ostrack-testkit`), with the same tolerances.

use std::path::PathBuf;

use ostrack_testkit::fixtures_dir;
use ostrack_testkit::parity::{run_model_parity, run_model_parity_with_weights};
use ostrack_testkit::test_device;

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

fn assert_passes(report: ostrack_testkit::parity::ParityReport) {
    println!("{report}");
    assert!(report.passed(), "{report}");
    // A report that compared nothing must not count as a pass.
    assert!(
        report.checks.iter().any(|c| c.name == "output.pred_boxes"),
        "{report}"
    );
}

#[test]
fn model_tiny_ce_matches_the_official_forward() {
    let report = run_model_parity(&fixture("model_tiny_ce.safetensors"), &test_device().device)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(report.checks.iter().any(|c| c.name == "output.attn"));
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.name == "eliminated tokens exactly zero")
    );
    assert_passes(report);
}

#[test]
fn model_tiny_noce_matches_the_official_forward() {
    let report = run_model_parity(
        &fixture("model_tiny_noce.safetensors"),
        &test_device().device,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_passes(report);
}

#[test]
fn released_checkpoint_reproduces_its_expected_outputs() {
    // The official trainer's checkpoint (pickled Settings/AverageMeter objects included) loads
    // without Python and its forward matches what PyTorch computed from it.
    let report = run_model_parity_with_weights(
        &fixture("OSTrack_ep0001.expected.safetensors"),
        Some(&fixture("OSTrack_ep0001.pth.tar")),
        &test_device().device,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_passes(report);
}

#[test]
fn a_fixture_without_weights_is_an_error_not_a_pass() {
    let err = run_model_parity(
        &fixture("OSTrack_ep0001.expected.safetensors"),
        &test_device().device,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("--weights"), "{err:#}");
}
