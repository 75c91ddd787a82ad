//! The object tree an unpickled PyTorch file turns into. Python classes we do not know stay
//! opaque ([`OpaqueObject`]) so a checkpoint that pickles trainer objects still loads.

use crate::DType;

/// A Python value as read from `data.pkl`.
#[derive(Debug, Clone, PartialEq)]
pub enum PickleValue {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too wide for i64: little-endian two's complement bytes, as pickled.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<PickleValue>),
    /// Lists, and also sets (pickle has no order-free container we need to tell apart).
    List(Vec<PickleValue>),
    /// `dict` and `collections.OrderedDict`, in insertion order.
    Dict(Vec<(PickleValue, PickleValue)>),
    /// A class or function reference that was never called.
    Global {
        module: String,
        name: String,
    },
    /// A bare storage (a persistent id that no tensor wraps).
    Storage(StorageRef),
    Tensor(TensorRef),
    Object(Box<OpaqueObject>),
}

/// An instance of a Python class this reader does not model (e.g. `AverageMeter`,
/// `torch.device`): what was passed to build it, kept for display.
#[derive(Debug, Clone, PartialEq)]
pub struct OpaqueObject {
    /// `module.name` of the class (or of the function that was called).
    pub class: String,
    /// Positional arguments given to the constructor / reduce call.
    pub args: Vec<PickleValue>,
    /// What `BUILD` set (usually the instance `__dict__`).
    pub state: Option<PickleValue>,
    /// Items added by `SETITEM(S)` / `APPEND(S)` on dict or list subclasses.
    pub dict_items: Vec<(PickleValue, PickleValue)>,
    pub list_items: Vec<PickleValue>,
}

/// A `torch.*Storage` reference: the archive entry `data/<key>` holding `numel` elements.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub key: String,
    /// Python class name, e.g. `FloatStorage`.
    pub storage_type: String,
    /// `None` for storage types this crate cannot decode (complex, int8, ...).
    pub dtype: Option<DType>,
    pub location: String,
    pub numel: usize,
}

/// A tensor view over a storage, as `torch._utils._rebuild_tensor_v2` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    /// In elements.
    pub offset: usize,
    pub shape: Vec<usize>,
    /// In elements.
    pub stride: Vec<usize>,
}

impl PickleValue {
    /// The value under string key `key` when `self` is a dict.
    pub fn get(&self, key: &str) -> Option<&PickleValue> {
        match self {
            PickleValue::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, PickleValue::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Keys of a dict, in order: strings as they are, other key types rendered.
    pub fn dict_keys(&self) -> Option<Vec<String>> {
        match self {
            PickleValue::Dict(items) => Some(
                items
                    .iter()
                    .map(|(k, _)| match k {
                        PickleValue::Str(s) => s.clone(),
                        other => other.short(),
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// A dict whose values are all tensors (an empty dict does not count).
    pub fn is_state_dict(&self) -> bool {
        match self {
            PickleValue::Dict(items) => {
                !items.is_empty()
                    && items.iter().all(|(k, v)| {
                        matches!(k, PickleValue::Str(_)) && matches!(v, PickleValue::Tensor(_))
                    })
            }
            _ => false,
        }
    }

    /// Python-style type name for summaries.
    pub fn type_name(&self) -> String {
        match self {
            PickleValue::None => "None".into(),
            PickleValue::Bool(_) => "bool".into(),
            PickleValue::Int(_) | PickleValue::BigInt(_) => "int".into(),
            PickleValue::Float(_) => "float".into(),
            PickleValue::Str(_) => "str".into(),
            PickleValue::Bytes(_) => "bytes".into(),
            PickleValue::Tuple(_) => "tuple".into(),
            PickleValue::List(_) => "list".into(),
            PickleValue::Dict(_) => "dict".into(),
            PickleValue::Global { module, name } => format!("{module}.{name}"),
            PickleValue::Storage(s) => format!("torch.{}", s.storage_type),
            PickleValue::Tensor(_) => "tensor".into(),
            PickleValue::Object(o) => o.class.clone(),
        }
    }

    /// A one-line rendering, shortened for containers and tensors.
    pub fn short(&self) -> String {
        const MAX_ITEMS: usize = 6;
        let list = |items: &[PickleValue], open: &str, close: &str| {
            let mut parts: Vec<String> = items.iter().take(MAX_ITEMS).map(|v| v.short()).collect();
            if items.len() > MAX_ITEMS {
                parts.push(format!("... ({} items)", items.len()));
            }
            format!("{open}{}{close}", parts.join(", "))
        };
        match self {
            PickleValue::None => "None".into(),
            PickleValue::Bool(b) => if *b { "True" } else { "False" }.into(),
            PickleValue::Int(i) => i.to_string(),
            PickleValue::BigInt(bytes) => format!("<{}-byte int>", bytes.len()),
            PickleValue::Float(f) => format!("{f:?}"),
            PickleValue::Str(s) => format!("{s:?}"),
            PickleValue::Bytes(b) => format!("<{} bytes>", b.len()),
            PickleValue::Tuple(items) => list(items, "(", ")"),
            PickleValue::List(items) => list(items, "[", "]"),
            PickleValue::Dict(items) => format!("{{{} entries}}", items.len()),
            PickleValue::Global { module, name } => format!("<{module}.{name}>"),
            PickleValue::Storage(s) => format!("<{} of {} elements>", s.storage_type, s.numel),
            PickleValue::Tensor(t) => {
                format!("tensor{:?} {}", t.shape, dtype_label(t.storage.dtype))
            }
            PickleValue::Object(o) => format!("<{} object>", o.class),
        }
    }
}

fn dtype_label(dtype: Option<DType>) -> String {
    dtype.map_or_else(
        || "(unsupported dtype)".to_string(),
        |d| d.name().to_string(),
    )
}
