//! Shared helpers of the integration tests: fixture location and small file builders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `OSTRACK_FIXTURES`, default `../shared/fixtures`, relative paths taken from the repo root.
pub fn fixtures_dir() -> PathBuf {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let configured = std::env::var_os("OSTRACK_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/fixtures"));
    let dir = if configured.is_absolute() {
        configured
    } else {
        repo_root.join(configured)
    };
    assert!(
        dir.is_dir(),
        "fixture directory {} not found (set OSTRACK_FIXTURES)",
        dir.display()
    );
    dir
}

/// Sub-directories of `dir`, sorted.
pub fn sub_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Writes `text` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Asserts `|actual - expected| <= tol` with a message naming the value.
pub fn assert_close(what: &str, actual: f64, expected: f64, tol: f64) {
    assert!(
        (actual - expected).abs() <= tol || (actual.is_nan() && expected.is_nan()),
        "{what}: got {actual}, expected {expected} (tolerance {tol})"
    );
}
