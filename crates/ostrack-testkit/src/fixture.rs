//! Reading parity fixtures: a safetensors file of named tensors plus its JSON sidecar
//! (`X.safetensors` + `X.json`), as produced from the official code (`$OSTRACK_FIXTURES`, see
//! `../shared/fixtures/README.md`). [`Fixture::load`] returns errors (the `ostrack parity`
//! command); [`Fixture::open`] and the accessors without `Result` panic naming the file and
//! tensor (tests: a test must not pass without its fixture).

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

    /// The bytes of a `uint8` tensor (panics on another dtype).
    pub fn u8(&self) -> Vec<u8> {
        match &self.data {
            FixtureData::U8(v) => v.clone(),
            _ => panic!("tensor is not uint8"),
        }
    }

    /// Row `i` of the first dimension.
    pub fn row(&self, i: usize) -> FixtureTensor {
        let n: usize = self.shape[1..].iter().product();
        let r = i * n..(i + 1) * n;
        let data = match &self.data {
            FixtureData::F32(v) => FixtureData::F32(v[r].to_vec()),
            FixtureData::I64(v) => FixtureData::I64(v[r].to_vec()),
            FixtureData::U8(v) => FixtureData::U8(v[r].to_vec()),
        };
        FixtureTensor {
            shape: self.shape[1..].to_vec(),
            data,
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
    /// `<fixtures_dir>/<name>.safetensors` (`name` with or without the extension); panics with
    /// the reason when it cannot be read.
    pub fn open(name: &str) -> Self {
        let file = if name.ends_with(".safetensors") {
            name.to_string()
        } else {
            format!("{name}.safetensors")
        };
        Self::load(&fixtures_dir().join(file)).unwrap_or_else(|e| panic!("{e:#}"))
    }

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

    /// The tensor `name`; panics naming the file when it is missing.
    pub fn tensor(&self, name: &str) -> &FixtureTensor {
        self.require(name).unwrap_or_else(|e| panic!("{e:#}"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn shape(&self, name: &str) -> Vec<usize> {
        self.tensor(name).shape.clone()
    }

    pub fn f32(&self, name: &str) -> Vec<f32> {
        self.tensor(name).f32()
    }

    pub fn u8(&self, name: &str) -> Vec<u8> {
        self.tensor(name).u8()
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.names_with_prefix("")
    }

    /// The numbers of sidecar entry `key`, nested arrays flattened; panics when it is missing.
    pub fn f64s(&self, key: &str) -> Vec<f64> {
        let value = self
            .sidecar
            .get(key)
            .unwrap_or_else(|| panic!("{}: sidecar has no `{key}`", self.path.display()));
        json_f64s(value)
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

/// The fixture directory: `$OSTRACK_FIXTURES`, else `../shared/fixtures`. A relative path is
/// taken from the repository root (the testkit lives in `<repo>/crates/ostrack-testkit`), not
/// from the directory a test happens to run in (each crate's own).
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

/// The numbers in a JSON value, nested arrays flattened (panics on anything else).
pub fn json_f64s(value: &serde_json::Value) -> Vec<f64> {
    match value {
        serde_json::Value::Array(items) => items.iter().flat_map(json_f64s).collect(),
        serde_json::Value::Number(n) => vec![n.as_f64().expect("a finite number")],
        other => panic!("not a number: {other}"),
    }
}
