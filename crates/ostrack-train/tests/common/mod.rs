//! Shared helpers of the parity tests: the fixture folder and tensor comparisons.
#![allow(dead_code)]

pub mod step_fixture;
pub mod tiny_runs;

use std::path::PathBuf;

use burn::prelude::*;
use ostrack_weights::{HostTensor, StateDict};

/// `$OSTRACK_FIXTURES`, else `<repo>/../shared/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OSTRACK_FIXTURES") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

pub fn load_fixture(name: &str) -> (StateDict, serde_json::Value) {
    let dir = fixtures_dir();
    let st = ostrack_weights::read_safetensors(dir.join(format!("{name}.safetensors")))
        .unwrap_or_else(|e| panic!("fixture {name}.safetensors in {}: {e}", dir.display()));
    let json_path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&json_path)
        .unwrap_or_else(|e| panic!("{}: {e}", json_path.display()));
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", json_path.display()));
    (st, json)
}

pub fn get<'a>(sd: &'a StateDict, key: &str) -> &'a HostTensor {
    sd.get(key)
        .unwrap_or_else(|| panic!("fixture tensor `{key}` missing"))
}

pub fn tensor<const D: usize>(t: &HostTensor, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(t.to_f32(), t.shape.clone()), device)
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// max |a − b| / max(max |b|, 1e-6) — the fixtures' per-tensor relative error.
pub fn rel_err(actual: &[f32], expected: &[f32]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    let max_b = expected
        .iter()
        .fold(0f64, |m, &b| m.max((b as f64).abs()))
        .max(1e-6);
    let max_d = actual
        .iter()
        .zip(expected)
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    if actual.iter().any(|a| a.is_nan()) != expected.iter().any(|b| b.is_nan()) {
        return f64::INFINITY;
    }
    max_d / max_b
}

pub fn max_abs_diff(actual: &[f32], expected: &[f32]) -> f64 {
    actual
        .iter()
        .zip(expected)
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()))
}
