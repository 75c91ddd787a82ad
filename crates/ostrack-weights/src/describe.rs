//! Human-readable summaries of weight files for `ostrack import` / `ostrack convert`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::burnpack_file::read_burnpack;
use crate::dtype_codec::checked_numel;
use crate::load::{WeightFormat, detect_format};
use crate::pickle::PickleValue;
use crate::safetensors_file::read_safetensors;
use crate::torch_file::{STATE_DICT_KEYS, TorchCheckpoint, read_torch_file};
use crate::{StateDict, WeightsError};

/// A multi-line summary of a weight file (format, top-level entries, tensor counts).
pub fn describe(path: impl AsRef<Path>) -> Result<String, WeightsError> {
    let path = path.as_ref();
    match detect_format(path)? {
        WeightFormat::Torch => Ok(read_torch_file(path)?.summary()),
        WeightFormat::SafeTensors => {
            let state = read_safetensors(path)?;
            Ok(format!(
                "{}: safetensors file, {}\n{}",
                path.display(),
                summarize_state_dict(&state),
                key_groups(&state)
            ))
        }
        WeightFormat::Burnpack => {
            let pack = read_burnpack(path)?;
            let mut s = format!(
                "{}: burnpack file, {}\n{}",
                path.display(),
                summarize_state_dict(&pack.tensors),
                key_groups(&pack.tensors)
            );
            for (key, value) in &pack.metadata {
                let first = value.lines().next().unwrap_or("");
                let _ = writeln!(
                    s,
                    "metadata {key}: {first}{}",
                    if value.lines().nth(1).is_some() {
                        " ..."
                    } else {
                        ""
                    }
                );
            }
            Ok(s)
        }
    }
}

impl TorchCheckpoint {
    /// Top-level entries with tensors counted and non-tensor values (epoch, actor type,
    /// optimizer groups, ...) shown.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: PyTorch zip checkpoint (archive root `{}`, {} storages)\n",
            self.path().display(),
            self.archive_root(),
            self.storage_entries()
        );
        match self.root() {
            PickleValue::Dict(items) if !self.root().is_state_dict() => {
                let _ = writeln!(s, "top level: dict with {} keys", items.len());
                for (key, value) in items {
                    let key = match key {
                        PickleValue::Str(k) => k.clone(),
                        other => other.short(),
                    };
                    let _ = writeln!(s, "  {key}: {}", describe_value(value));
                }
            }
            root => {
                let _ = writeln!(s, "top level: {}", describe_value(root));
            }
        }
        let _ = match self.find_state_dict(&STATE_DICT_KEYS) {
            Ok((Some(key), _)) => writeln!(s, "state dict: `{key}`"),
            Ok((None, _)) => writeln!(s, "state dict: the top level"),
            Err(_) => writeln!(
                s,
                "state dict: none found (looked at the top level and keys {})",
                STATE_DICT_KEYS.join(", ")
            ),
        };
        s
    }
}

fn describe_value(value: &PickleValue) -> String {
    if value.is_state_dict() {
        return describe_tensor_dict(value);
    }
    match value {
        PickleValue::Dict(_)
            if value.get("param_groups").is_some() && value.get("state").is_some() =>
        {
            describe_optimizer(value)
        }
        PickleValue::Dict(items) => {
            let keys = value.dict_keys().unwrap_or_default();
            let shown: Vec<&str> = keys.iter().take(10).map(String::as_str).collect();
            let more = if items.len() > shown.len() {
                ", ..."
            } else {
                ""
            };
            format!(
                "dict with {} keys [{}{more}]",
                items.len(),
                shown.join(", ")
            )
        }
        PickleValue::List(items) => format!("list of {} items", items.len()),
        PickleValue::Object(obj) => match obj.state.as_ref().and_then(PickleValue::dict_keys) {
            Some(attrs) => {
                let shown: Vec<&str> = attrs.iter().take(10).map(String::as_str).collect();
                let more = if attrs.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                };
                format!(
                    "<{} object> with attributes [{}{more}]",
                    obj.class,
                    shown.join(", ")
                )
            }
            None => format!(
                "<{} object>{}",
                obj.class,
                if obj.args.is_empty() {
                    String::new()
                } else {
                    format!(" {}", PickleValue::Tuple(obj.args.clone()).short())
                }
            ),
        },
        other => other.short(),
    }
}

fn describe_tensor_dict(value: &PickleValue) -> String {
    let PickleValue::Dict(items) = value else {
        return value.short();
    };
    let mut by_dtype: BTreeMap<String, usize> = BTreeMap::new();
    let mut elements = 0usize;
    for (_, v) in items {
        if let PickleValue::Tensor(t) = v {
            *by_dtype
                .entry(
                    t.storage
                        .dtype
                        .map_or_else(|| t.storage.storage_type.clone(), |d| d.name().to_string()),
                )
                .or_default() += 1;
            // Shapes come straight from the pickle and are not checked until loading.
            let numel = checked_numel(&t.shape).unwrap_or(usize::MAX);
            elements = elements.saturating_add(numel);
        }
    }
    format!(
        "state dict of {} tensors ({}), {elements} elements",
        items.len(),
        dtype_counts(&by_dtype)
    )
}

fn describe_optimizer(value: &PickleValue) -> String {
    let mut s = String::from("optimizer state dict:");
    if let Some(PickleValue::List(groups)) = value.get("param_groups") {
        let _ = write!(s, " {} param groups", groups.len());
        for (i, group) in groups.iter().enumerate() {
            let params = match group.get("params") {
                Some(PickleValue::List(p)) => p.len(),
                _ => 0,
            };
            let mut fields = vec![format!("{params} params")];
            for name in ["lr", "initial_lr", "weight_decay", "betas", "eps"] {
                if let Some(v) = group.get(name) {
                    fields.push(format!("{name} {}", v.short()));
                }
            }
            let _ = write!(s, "; group {i}: {}", fields.join(", "));
        }
    }
    if let Some(PickleValue::Dict(state)) = value.get("state") {
        let _ = write!(s, "; per-parameter state for {} params", state.len());
    }
    s
}

/// "170 tensors (158 float32, 12 int64), 123456 elements".
pub(crate) fn summarize_state_dict(state: &StateDict) -> String {
    let mut by_dtype: BTreeMap<String, usize> = BTreeMap::new();
    let mut elements = 0usize;
    for (_, t) in state.iter() {
        *by_dtype.entry(t.dtype.name().to_string()).or_default() += 1;
        elements += t.numel();
    }
    format!(
        "{} tensors ({}), {elements} elements",
        state.len(),
        dtype_counts(&by_dtype)
    )
}

fn dtype_counts(by_dtype: &BTreeMap<String, usize>) -> String {
    by_dtype
        .iter()
        .map(|(d, n)| format!("{n} {d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tensor counts per first key component (`mae.`, `param.`, `backbone.`, ...).
fn key_groups(state: &StateDict) -> String {
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for key in state.keys() {
        *groups
            .entry(key.split('.').next().unwrap_or(key))
            .or_default() += 1;
    }
    let parts: Vec<String> = groups.iter().map(|(g, n)| format!("{g}.* ({n})")).collect();
    format!("key groups: {}\n", parts.join(", "))
}
