//! Shared by the CLI's tests: the demo config shrunk to a few steps (the data:
//! `ostrack_testkit::tiny_got10k`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// configs/demo.yaml with 6 steps of batch 2 per epoch and 4 epochs (CE starts in epoch 3).
pub fn tiny_config(dir: &Path) -> PathBuf {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/demo.yaml");
    let mut text = std::fs::read_to_string(&demo).unwrap();
    for (from, to) in [
        ("    SAMPLE_PER_EPOCH: 1024", "    SAMPLE_PER_EPOCH: 12"),
        ("    SAMPLE_PER_EPOCH: 64", "    SAMPLE_PER_EPOCH: 4"),
        ("  BATCH_SIZE: 16", "  BATCH_SIZE: 2"),
        ("  EPOCH: 6", "  EPOCH: 4"),
        ("  LR_DROP_EPOCH: 5", "  LR_DROP_EPOCH: 3"),
    ] {
        assert!(
            text.contains(from),
            "configs/demo.yaml no longer has `{from}`"
        );
        text = text.replacen(from, to, 1);
    }
    let path = dir.join("demo-tiny.yaml");
    std::fs::write(&path, text).unwrap();
    path
}
