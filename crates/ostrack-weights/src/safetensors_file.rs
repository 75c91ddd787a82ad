//! safetensors files: a JSON header followed by raw little-endian tensors. Dtypes are kept
//! (int64 stays int64) so conversions are lossless.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use safetensors::SafeTensors;
use safetensors::tensor::TensorView;

use crate::bounded::try_buffer;
use crate::dtype_codec::{check_byte_len, decode_values, encode_values};
use crate::{DType, HostTensor, StateDict, WeightsError};
use ostrack_atomic::Durability;

/// Reads every tensor of a safetensors file, in the file's data order.
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<StateDict, WeightsError> {
    let path = path.as_ref();
    let bytes = read_checking_header_len(path)?;
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
        // The safetensors crate checks this too; decoding relies on it, so it is not assumed.
        check_byte_len(dtype, view.shape(), view.data().len()).map_err(|message| {
            WeightsError::Key {
                path: path.to_path_buf(),
                key: name.clone(),
                message,
            }
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

/// Reads the whole file after checking that the header length it starts with (a
/// little-endian u64) fits in the file, so a bogus length is reported as such, with the sizes
/// involved, before the file is read.
fn read_checking_header_len(path: &Path) -> Result<Vec<u8>, WeightsError> {
    let io_err = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let format_err = |message: String| WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("not a valid safetensors file: {message}"),
    };
    let mut file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut len_field = [0u8; 8];
    if file_len < 8 {
        return Err(format_err(format!(
            "{file_len} bytes is shorter than the 8-byte header length"
        )));
    }
    file.read_exact(&mut len_field).map_err(io_err)?;
    let header_len = u64::from_le_bytes(len_field);
    if header_len > file_len - 8 {
        return Err(format_err(format!(
            "the header claims {header_len} bytes, but only {} follow its length field",
            file_len - 8
        )));
    }
    // Sized by the file itself; a file larger than memory is an error, not an abort.
    let mut bytes = try_buffer(file_len)
        .ok_or_else(|| format_err(format!("{file_len} bytes do not fit in memory")))?;
    bytes.extend_from_slice(&len_field);
    file.read_to_end(&mut bytes).map_err(io_err)?;
    Ok(bytes)
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
    Ok(ostrack_atomic::write(path, &bytes, Durability::Synced)?)
}
