//! Shared helpers for the fixture-driven tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ostrack_weights::{HostTensor, StateDict, TensorValues};

/// The fixture directory: `$OSTRACK_FIXTURES`, else `../shared/fixtures`; a relative path is
/// taken relative to the repository root (tests run inside the crate directory).
pub fn fixtures_dir() -> PathBuf {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("OSTRACK_FIXTURES")
        .map_or_else(|| PathBuf::from("../shared/fixtures"), PathBuf::from);
    if dir.is_absolute() {
        dir
    } else {
        repo_root.join(dir)
    }
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

pub fn sidecar(name: &str) -> serde_json::Value {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Same shape, dtype and bit pattern of every value.
pub fn assert_bit_exact(key: &str, actual: &HostTensor, expected: &HostTensor) {
    assert_eq!(actual.shape, expected.shape, "{key}: shape");
    assert_eq!(actual.dtype, expected.dtype, "{key}: dtype");
    match (&actual.values, &expected.values) {
        (TensorValues::F32(a), TensorValues::F32(b)) => {
            assert_eq!(a.len(), b.len(), "{key}: length");
            let first_diff = a
                .iter()
                .zip(b)
                .position(|(x, y)| x.to_bits() != y.to_bits());
            assert!(
                first_diff.is_none(),
                "{key}: element {first_diff:?} differs"
            );
        }
        (TensorValues::I64(a), TensorValues::I64(b)) => assert_eq!(a, b, "{key}: values"),
        _ => panic!("{key}: value kinds differ"),
    }
}

/// Both dicts hold the same keys with bit-identical tensors (order not compared).
pub fn assert_same_tensors(actual: &StateDict, expected: &StateDict) {
    let mut a: Vec<&str> = actual.keys().collect();
    let mut e: Vec<&str> = expected.keys().collect();
    a.sort_unstable();
    e.sort_unstable();
    assert_eq!(a, e, "key sets differ");
    for (key, tensor) in expected.iter() {
        assert_bit_exact(key, actual.get(key).unwrap(), tensor);
    }
}
