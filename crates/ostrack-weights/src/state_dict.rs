use std::collections::BTreeMap;
use std::path::PathBuf;

/// Element types that appear in OSTrack checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    U8,
    Bool,
}

/// One tensor held on the host: its values are kept as f32 for float types (the model's
/// dtype) and as i64 for integer types, so conversions happen once, at the file boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    /// The dtype stored in the file (kept so export can write the same dtype back).
    pub dtype: DType,
    pub values: TensorValues,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TensorValues {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

impl HostTensor {
    pub fn f32(shape: Vec<usize>, values: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), values.len());
        Self {
            shape,
            dtype: DType::F32,
            values: TensorValues::F32(values),
        }
    }

    pub fn i64(shape: Vec<usize>, values: Vec<i64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), values.len());
        Self {
            shape,
            dtype: DType::I64,
            values: TensorValues::I64(values),
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of values held (equals [`Self::numel`] for a well-formed tensor).
    pub fn values_len(&self) -> usize {
        match &self.values {
            TensorValues::F32(v) => v.len(),
            TensorValues::I64(v) => v.len(),
        }
    }

    /// Float view of the values (integers are converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.values {
            TensorValues::F32(v) => v.clone(),
            TensorValues::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.values {
            TensorValues::F32(v) => Some(v),
            TensorValues::I64(_) => None,
        }
    }

    pub fn to_i64(&self) -> Vec<i64> {
        match &self.values {
            TensorValues::F32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorValues::I64(v) => v.clone(),
        }
    }
}

pub use self::TensorValues as Values;

/// An ordered map from official state-dict key (e.g. `backbone.blocks.0.attn.qkv.weight`) to
/// tensor. Insertion order is kept because PyTorch state dicts are ordered and export writes
/// keys back in the official order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    order: Vec<String>,
    tensors: BTreeMap<String, HostTensor>,
}

impl StateDict {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces `key`; a new key goes to the end of the order.
    pub fn insert(&mut self, key: impl Into<String>, tensor: HostTensor) {
        let key = key.into();
        if self.tensors.insert(key.clone(), tensor).is_none() {
            self.order.push(key);
        }
    }

    pub fn get(&self, key: &str) -> Option<&HostTensor> {
        self.tensors.get(key)
    }

    pub fn remove(&mut self, key: &str) -> Option<HostTensor> {
        let t = self.tensors.remove(key)?;
        self.order.retain(|k| k != key);
        Some(t)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// (key, tensor) pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &HostTensor)> {
        self.order.iter().map(|k| (k.as_str(), &self.tensors[k]))
    }

    /// A new dict with only the keys that start with `prefix`, the prefix removed.
    pub fn strip_prefix(&self, prefix: &str) -> StateDict {
        let mut out = StateDict::new();
        for (k, t) in self.iter() {
            if let Some(rest) = k.strip_prefix(prefix) {
                out.insert(rest, t.clone());
            }
        }
        out
    }
}

/// Errors of reading, writing and mapping weight files. Every variant names the file and, where
/// there is one, the key.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Key {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A problem with an in-memory state dict (no file involved), e.g. while mapping MAE
    /// weights onto OSTrack.
    #[error("key `{key}`: {message}")]
    Tensor { key: String, message: String },
}

impl From<ostrack_atomic::Error> for WeightsError {
    fn from(e: ostrack_atomic::Error) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
