//! Shared test helpers: reading parity fixtures and building the tiny fixture model as a config
//! file plus a weights file.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ostrack_weights::{StateDict, load_state_dict_any, save_state_dict};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

/// `$OSTRACK_FIXTURES`, else `../shared/fixtures` relative to the repository root.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("OSTRACK_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
}

pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Tensor {
    pub fn f32(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
            Data::U8(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    pub fn i64(&self) -> Vec<i64> {
        match &self.data {
            Data::I64(v) => v.clone(),
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U8(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    pub fn u8(&self) -> Vec<u8> {
        match &self.data {
            Data::U8(v) => v.clone(),
            _ => panic!("tensor is not uint8"),
        }
    }

    /// Row `i` of the first dimension.
    pub fn row(&self, i: usize) -> Tensor {
        let n: usize = self.shape[1..].iter().product();
        let r = i * n..(i + 1) * n;
        let data = match &self.data {
            Data::F32(v) => Data::F32(v[r].to_vec()),
            Data::I64(v) => Data::I64(v[r].to_vec()),
            Data::U8(v) => Data::U8(v[r].to_vec()),
        };
        Tensor {
            shape: self.shape[1..].to_vec(),
            data,
        }
    }
}

pub struct Fixture {
    pub path: PathBuf,
    pub tensors: HashMap<String, Tensor>,
    pub sidecar: Value,
}

impl Fixture {
    pub fn load(name: &str) -> Fixture {
        let path = fixtures_dir().join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => Data::F32(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
                Dtype::I64 => Data::I64(
                    raw.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
                Dtype::U8 => Data::U8(raw.to_vec()),
                other => panic!("{name}: unsupported dtype {other:?}"),
            };
            tensors.insert(
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        let sidecar_path = path.with_extension("json");
        let sidecar =
            serde_json::from_str(&std::fs::read_to_string(&sidecar_path).unwrap()).unwrap();
        Fixture {
            path,
            tensors,
            sidecar,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    pub fn require(&self, name: &str) -> &Tensor {
        self.get(name)
            .unwrap_or_else(|| panic!("{}: tensor `{name}` missing", self.path.display()))
    }

    pub fn f64s(&self, key: &str) -> Vec<f64> {
        flatten(
            self.sidecar
                .get(key)
                .unwrap_or_else(|| panic!("sidecar has no `{key}`")),
        )
    }
}

pub fn flatten(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flatten).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not a number: {other}"),
    }
}

/// The weights a tracker fixture names in its sidecar (`weights: "<file> param.* ..."`), as an
/// official state dict.
pub fn fixture_weights(fx: &Fixture) -> StateDict {
    let spec = fx.sidecar["weights"].as_str().expect("sidecar `weights`");
    let file = spec.split_whitespace().next().unwrap();
    let prefix = spec
        .split_whitespace()
        .nth(1)
        .map(|p| p.trim_end_matches('*'))
        .unwrap_or("param.");
    load_state_dict_any(fixtures_dir().join(file), Some(prefix)).unwrap()
}

/// The sidecar's `cfg` with the tiny ViT dimensions (`tiny_dims`, position grid from the
/// weights) written into the config's extension keys.
pub fn fixture_config_json(fx: &Fixture, weights: &StateDict) -> Value {
    let mut cfg = fx.sidecar["cfg"].clone();
    let bb = cfg["MODEL"]["BACKBONE"].as_object_mut().unwrap();
    let dims = &fx.sidecar["tiny_dims"];
    for (key, ext) in [
        ("embed_dim", "EMBED_DIM"),
        ("depth", "DEPTH"),
        ("num_heads", "NUM_HEADS"),
        ("mlp_ratio", "MLP_RATIO"),
        ("patch_size", "PATCH_SIZE"),
    ] {
        if let Some(v) = dims.get(key) {
            bb.insert(ext.into(), v.clone());
        }
    }
    if let Some(pe) = weights.get("backbone.pos_embed") {
        let rows = pe.shape[1] - 1;
        bb.insert(
            "PRETRAIN_GRID".into(),
            ((rows as f64).sqrt().round() as usize).into(),
        );
    }
    if let Some(ch) = dims.get("head_channels") {
        cfg["MODEL"]["HEAD"]["NUM_CHANNELS"] = ch.clone();
    }
    cfg
}

/// Writes the tracker fixture's model as `<dir>/tiny.yaml` (JSON is YAML) and
/// `<dir>/tiny.safetensors`; returns both paths.
pub fn write_fixture_model(dir: &Path) -> (PathBuf, PathBuf) {
    let fx = Fixture::load("tracker_seq.safetensors");
    let weights = fixture_weights(&fx);
    let cfg = fixture_config_json(&fx, &weights);
    let config = dir.join("tiny.yaml");
    std::fs::write(&config, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let weights_path = dir.join("tiny.safetensors");
    save_state_dict(&weights_path, &weights).unwrap();
    (config, weights_path)
}
