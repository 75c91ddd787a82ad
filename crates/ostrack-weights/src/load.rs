//! Format-independent entry points: pick the reader from the file's content and the writer
//! from the output file's extension.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::burnpack_file::{Burnpack, is_burnpack, read_burnpack, write_burnpack};
use crate::safetensors_file::{read_safetensors, write_safetensors};
use crate::torch_file::{STATE_DICT_KEYS, extract_state_dict, write_torch_state_dict};
use crate::{StateDict, WeightsError};

/// The on-disk formats this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// `torch.save` zip archive (`.pth`, `.pth.tar`, `.pt`).
    Torch,
    SafeTensors,
    /// Burn's container (`.bpk`); our training checkpoints keep the model under `model/`.
    Burnpack,
}

/// Tensor-name prefix of the model in a training checkpoint (`.bpk`).
pub const CHECKPOINT_MODEL_PREFIX: &str = "model/";

impl WeightFormat {
    /// The format an output path asks for: `.safetensors`, `.bpk` or a PyTorch extension
    /// (`.pth`, `.pt`, `.tar`, `.bin`, `.ckpt`).
    pub fn from_extension(path: &Path) -> Result<WeightFormat, WeightsError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "safetensors" => Ok(WeightFormat::SafeTensors),
            "bpk" => Ok(WeightFormat::Burnpack),
            "pth" | "pt" | "tar" | "bin" | "ckpt" => Ok(WeightFormat::Torch),
            _ => Err(WeightsError::Format {
                path: path.to_path_buf(),
                message: "unknown weight file extension: expected .safetensors, .bpk, .pth, .pt, .pth.tar, .bin or .ckpt".into(),
            }),
        }
    }
}

/// Tells a torch zip archive from a safetensors file by their first bytes.
pub fn detect_format(path: impl AsRef<Path>) -> Result<WeightFormat, WeightsError> {
    let path = path.as_ref();
    let io_err = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = Vec::with_capacity(9);
    File::open(path)
        .map_err(io_err)?
        .take(9)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(WeightFormat::Torch);
    }
    if is_burnpack(&head) {
        return Ok(WeightFormat::Burnpack);
    }
    // safetensors: u64 little-endian header length, then a JSON object.
    if head.len() == 9 && head[8] == b'{' {
        return Ok(WeightFormat::SafeTensors);
    }
    if head.starts_with(&[0x80, 0x02]) {
        return Err(WeightsError::Format {
            path: path.to_path_buf(),
            message: "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch >= 1.6".into(),
        });
    }
    Err(WeightsError::Format {
        path: path.to_path_buf(),
        message: format!(
            "not a PyTorch zip checkpoint, a safetensors file or a burnpack file (first bytes {head:02x?})"
        ),
    })
}

/// Loads a state dict from either format. For torch files the state dict is the top level
/// or the first of `net`, `model`, `state_dict`. With `prefix` (e.g. `mae.`) only keys
/// starting with it are kept, with the prefix removed; no such key is an error.
pub fn load_state_dict_any(
    path: impl AsRef<Path>,
    prefix: Option<&str>,
) -> Result<StateDict, WeightsError> {
    let path = path.as_ref();
    let state = match detect_format(path)? {
        WeightFormat::Torch => extract_state_dict(path, &STATE_DICT_KEYS)?,
        WeightFormat::SafeTensors => read_safetensors(path)?,
        WeightFormat::Burnpack => burnpack_model(read_burnpack(path)?),
    };
    let Some(prefix) = prefix else {
        return Ok(state);
    };
    let selected = state.strip_prefix(prefix);
    if selected.is_empty() {
        let mut groups: Vec<&str> = Vec::new();
        for group in state.keys().map(|k| k.split('.').next().unwrap_or(k)) {
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        return Err(WeightsError::Format {
            path: path.to_path_buf(),
            message: format!(
                "no tensor key starts with `{prefix}`; keys start with: {}",
                groups.join(", ")
            ),
        });
    }
    Ok(selected)
}

/// Writes `state` in the format the extension of `path` names (see
/// [`WeightFormat::from_extension`]), atomically.
pub fn save_state_dict(path: impl AsRef<Path>, state: &StateDict) -> Result<(), WeightsError> {
    let path = path.as_ref();
    match WeightFormat::from_extension(path)? {
        WeightFormat::Torch => write_torch_state_dict(path, state),
        WeightFormat::SafeTensors => write_safetensors(path, state),
        WeightFormat::Burnpack => write_burnpack(
            path,
            &Burnpack {
                tensors: state.clone(),
                ..Burnpack::default()
            },
        ),
    }
}

/// The model of a training checkpoint (tensors under `model/`), or every tensor of a plain
/// burnpack state dict.
fn burnpack_model(pack: Burnpack) -> StateDict {
    let model = pack.tensors.strip_prefix(CHECKPOINT_MODEL_PREFIX);
    if model.is_empty() {
        pack.tensors
    } else {
        model
    }
}
