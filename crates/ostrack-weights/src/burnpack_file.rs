//! Burn's own container (burnpack, `.bpk`): named tensors plus string metadata. Our training
//! checkpoints use it (model, optimizer moments, training state and config in one file), and
//! [`crate::load_state_dict_any`] reads the model part of one like any other weight file.

use std::collections::BTreeMap;
use std::path::Path;

use burn_pack::{Bytes, Reader, Shape, Writer};

use crate::dtype_codec::{decode_values, encode_values};
use crate::{DType, HostTensor, StateDict, WeightsError};

/// Metadata entry with the tensor names in state-dict order (burnpack sorts its tensors; the
/// official key order is kept so an export lists keys as PyTorch does).
const ORDER_KEY: &str = "ostrack.tensor_order";

/// The tensors and metadata of a burnpack file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Burnpack {
    pub tensors: StateDict,
    pub metadata: BTreeMap<String, String>,
}

fn to_pack(dtype: DType) -> burn_pack::DType {
    use burn_pack::DType as P;
    match dtype {
        DType::F32 => P::F32,
        DType::F64 => P::F64,
        DType::F16 => P::F16,
        DType::BF16 => P::BF16,
        DType::I64 => P::I64,
        DType::I32 => P::I32,
        DType::U8 => P::U8,
        DType::Bool => P::U8,
    }
}

fn from_pack(dtype: burn_pack::DType) -> Option<DType> {
    use burn_pack::DType as P;
    Some(match dtype {
        P::F32 => DType::F32,
        P::F64 => DType::F64,
        P::F16 => DType::F16,
        P::BF16 => DType::BF16,
        P::I64 => DType::I64,
        P::I32 => DType::I32,
        P::U8 => DType::U8,
        _ => return None,
    })
}

/// Writes `pack` to `path` atomically: the file is built beside the destination, synced and
/// renamed over it, so an interrupted write leaves the previous file untouched.
pub fn write_burnpack(path: impl AsRef<Path>, pack: &Burnpack) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let tensors = pack
        .tensors
        .iter()
        .map(|(name, t)| {
            burn_pack::Tensor::new(
                name.to_string(),
                to_pack(t.dtype),
                Shape::from(t.shape.clone()),
                None,
                Bytes::from_bytes_vec(encode_values(t)),
            )
        })
        .collect();
    let order: Vec<&str> = pack.tensors.keys().collect();
    let mut writer = Writer::new(tensors)
        .auto_extension(false)
        .overwrite(true)
        .with_metadata(ORDER_KEY, &order.join("\n"));
    for (key, value) in &pack.metadata {
        writer = writer.with_metadata(key, value);
    }
    writer
        .write_to_file(path)
        .map_err(|e| WeightsError::Format {
            path: path.to_path_buf(),
            message: format!("cannot write burnpack: {e}"),
        })
}

/// Reads every tensor and the metadata of a burnpack file.
pub fn read_burnpack(path: impl AsRef<Path>) -> Result<Burnpack, WeightsError> {
    let path = path.as_ref();
    let format_err = |e: burn_pack::Error| WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("not a valid burnpack file (truncated or corrupt?): {e}"),
    };
    let reader = Reader::from_file_exact(path).map_err(format_err)?;
    let mut metadata = reader.metadata().clone();
    let order = metadata.remove(ORDER_KEY);
    let mut tensors = StateDict::new();
    for t in reader.into_tensors().map_err(format_err)? {
        let dtype = from_pack(t.dtype).ok_or_else(|| WeightsError::Key {
            path: path.to_path_buf(),
            key: t.name.clone(),
            message: format!("dtype {:?} is not supported", t.dtype),
        })?;
        let shape = t.shape.to_vec();
        let name = t.name.clone();
        let bytes = t.into_bytes().map_err(format_err)?;
        let numel: usize = shape.iter().product();
        if bytes.len() != numel * dtype.size() {
            return Err(WeightsError::Key {
                path: path.to_path_buf(),
                key: name,
                message: format!(
                    "{} bytes for shape {shape:?} of {} (expected {})",
                    bytes.len(),
                    dtype.name(),
                    numel * dtype.size()
                ),
            });
        }
        let values = decode_values(dtype, &bytes);
        tensors.insert(
            name,
            HostTensor {
                shape,
                dtype,
                values,
            },
        );
    }
    if let Some(order) = order {
        let mut ordered = StateDict::new();
        for name in order.lines() {
            if let Some(t) = tensors.remove(name) {
                ordered.insert(name, t);
            }
        }
        for (name, t) in tensors.iter() {
            ordered.insert(name, t.clone());
        }
        tensors = ordered;
    }
    Ok(Burnpack { tensors, metadata })
}

/// Reads only the metadata of a burnpack file (no tensor data).
pub fn read_burnpack_metadata(
    path: impl AsRef<Path>,
) -> Result<BTreeMap<String, String>, WeightsError> {
    let path = path.as_ref();
    let reader = Reader::from_file_exact(path).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("not a valid burnpack file (truncated or corrupt?): {e}"),
    })?;
    let mut metadata = reader.metadata().clone();
    metadata.remove(ORDER_KEY);
    Ok(metadata)
}

/// Whether `head` (a file's first bytes) starts with the burnpack magic number.
pub(crate) fn is_burnpack(head: &[u8]) -> bool {
    head.len() >= 4 && head[..4] == burn_pack::MAGIC_NUMBER.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_dtypes_values_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bpk");
        let mut pack = Burnpack::default();
        pack.tensors.insert(
            "a.weight",
            HostTensor::f32(vec![2, 3], vec![1.5, -2.0, 0.0, 3.25, 1e-8, -7.0]),
        );
        pack.tensors
            .insert("a.num_batches_tracked", HostTensor::i64(vec![], vec![42]));
        pack.metadata
            .insert("state".into(), "{\"epoch\": 3}".into());
        write_burnpack(&path, &pack).unwrap();
        let head = std::fs::read(&path).unwrap();
        assert!(is_burnpack(&head));
        assert_eq!(read_burnpack(&path).unwrap(), pack);

        // A truncated file is an error naming it, never a panic.
        std::fs::write(&path, &head[..head.len() - 5]).unwrap();
        let err = read_burnpack(&path).unwrap_err().to_string();
        assert!(err.contains("x.bpk"), "{err}");
    }
}
