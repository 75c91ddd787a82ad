//! Reading parity fixtures: a safetensors file of named tensors plus its JSON sidecar
//! (`X.safetensors` + `X.json`), as produced from the official code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use safetensors::{Dtype, SafeTensors};

#[derive(Debug, Clone)]
pub enum FixtureData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct FixtureTensor {
    pub shape: Vec<usize>,
    pub data: FixtureData,
}

impl FixtureTensor {
    pub fn f32(&self) -> Vec<f32> {
        match &self.data {
            FixtureData::F32(v) => v.clone(),
            FixtureData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            FixtureData::U8(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    pub fn i64(&self) -> Vec<i64> {
        match &self.data {
            FixtureData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            FixtureData::I64(v) => v.clone(),
            FixtureData::U8(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }
}

#[derive(Debug)]
pub struct Fixture {
    pub path: PathBuf,
    pub tensors: HashMap<String, FixtureTensor>,
    /// The JSON sidecar (`Null` when the file has none).
    pub sidecar: serde_json::Value,
}

impl Fixture {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read fixture", path.display()))?;
        let st = SafeTensors::deserialize(&bytes)
            .with_context(|| format!("{}: not a valid safetensors file", path.display()))?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => FixtureData::F32(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ),
                Dtype::I64 => FixtureData::I64(
                    raw.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
                Dtype::U8 => FixtureData::U8(raw.to_vec()),
                other => bail!(
                    "{}: tensor `{name}` has unsupported dtype {other:?}",
                    path.display()
                ),
            };
            tensors.insert(
                name,
                FixtureTensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        let sidecar_path = path.with_extension("json");
        let sidecar = if sidecar_path.exists() {
            let text = std::fs::read_to_string(&sidecar_path)
                .with_context(|| format!("{}: cannot read sidecar", sidecar_path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: invalid JSON", sidecar_path.display()))?
        } else {
            serde_json::Value::Null
        };
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
            sidecar,
        })
    }

    pub fn get(&self, name: &str) -> Option<&FixtureTensor> {
        self.tensors.get(name)
    }

    pub fn require(&self, name: &str) -> Result<&FixtureTensor> {
        self.get(name)
            .with_context(|| format!("{}: tensor `{name}` is missing", self.path.display()))
    }

    /// Names under `prefix.` with the prefix removed, sorted.
    pub fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix(prefix).map(str::to_string))
            .collect();
        names.sort();
        names
    }
}

/// The fixture directory: `$OSTRACK_FIXTURES`, else `../shared/fixtures` from the repo root.
pub fn fixtures_dir(repo_root: &Path) -> PathBuf {
    std::env::var_os("OSTRACK_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root.join("../shared/fixtures"))
}
