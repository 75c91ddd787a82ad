//! safetensors files: a JSON header followed by raw little-endian tensors. Dtypes are kept
//! (int64 stays int64) so conversions are lossless.

use std::collections::HashMap;
use std::path::Path;

use safetensors::SafeTensors;
use safetensors::tensor::TensorView;

use crate::atomic::write_bytes_atomically;
use crate::dtype_codec::{decode_values, encode_values};
use crate::{DType, HostTensor, StateDict, WeightsError};

/// Reads every tensor of a safetensors file, in the file's data order.
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<StateDict, WeightsError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let format_err = |e: safetensors::SafeTensorError| WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("not a valid safetensors file (truncated or corrupt?): {e}"),
    };
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(format_err)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(format_err)?;
    let mut out = StateDict::new();
    for name in metadata.offset_keys() {
        let view = tensors.tensor(&name).map_err(format_err)?;
        let dtype = DType::from_safetensors(view.dtype()).ok_or_else(|| WeightsError::Key {
            path: path.to_path_buf(),
            key: name.clone(),
            message: format!("dtype {:?} is not supported", view.dtype()),
        })?;
        let values = decode_values(dtype, view.data());
        out.insert(
            name,
            HostTensor {
                shape: view.shape().to_vec(),
                dtype,
                values,
            },
        );
    }
    Ok(out)
}

/// Writes `state` as safetensors (each tensor in its recorded dtype), atomically.
pub fn write_safetensors(path: impl AsRef<Path>, state: &StateDict) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let encoded: Vec<(&str, &HostTensor, Vec<u8>)> = state
        .iter()
        .map(|(k, t)| (k, t, encode_values(t)))
        .collect();
    let mut views = Vec::with_capacity(encoded.len());
    for (key, tensor, bytes) in &encoded {
        let view = TensorView::new(tensor.dtype.to_safetensors(), tensor.shape.clone(), bytes)
            .map_err(|e| WeightsError::Key {
                path: path.to_path_buf(),
                key: key.to_string(),
                message: format!("cannot be stored: {e}"),
            })?;
        views.push((*key, view));
    }
    // The metadata PyTorch-side tools (transformers, safetensors.torch) expect.
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| WeightsError::Format {
            path: path.to_path_buf(),
            message: format!("serialising safetensors: {e}"),
        })?;
    write_bytes_atomically(path, &bytes)
}
