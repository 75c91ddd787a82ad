//! `ostrack profile` on the real-size OSTrack-256 CE model.

use std::path::Path;

use burn::prelude::Device;
use ostrack_cli::profile::{ProfileOptions, run_profile};

#[test]
fn real_size_model_has_the_official_parameter_count_and_token_schedule() {
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/vitb_256_mae_ce_32x4_ep300.yaml");
    let opts = ProfileOptions {
        config: &config,
        runs: 1,
        warmup: 0,
        batch: 1,
        backend_name: "flex".into(),
        end_to_end_frame: Some((320, 240)),
    };
    let report = run_profile(&opts, &Device::flex()).unwrap();
    // spec §1.10: includes the unused cls token and 197-row position table.
    assert_eq!(report.params, 92_518_533);
    let search: Vec<usize> = report.search_tokens_per_block.clone();
    assert_eq!(
        search,
        [256, 256, 256, 180, 180, 180, 126, 126, 126, 89, 89, 89]
    );
    assert_eq!(report.tokens_per_block[11], 64 + 89);
    assert!(report.forward_ms_median.is_finite() && report.forward_ms_median > 0.0);
    let e2e = report
        .end_to_end
        .as_ref()
        .expect("end-to-end step measured");
    assert!(e2e.total_ms >= e2e.forward_ms && e2e.fps > 0.0);
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    for key in [
        "params",
        "tokens_per_block",
        "forward_ms_median",
        "backend",
        "threads",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
}
