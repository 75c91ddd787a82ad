//! Burn's own container (burnpack, `.bpk`): named tensors plus string metadata. Our training
//! checkpoints use it (model, optimizer moments, training state and config in one file), and
//! [`crate::load_state_dict_any`] reads the model part of one like any other weight file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use burn_pack::{Bytes, Reader, Shape, Writer};

use crate::dtype_codec::{check_byte_len, checked_numel, decode_values, encode_values};
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
    let (reader, file_len) = open_reader(path)?;
    let mut metadata = reader.metadata().clone();
    let order = metadata.remove(ORDER_KEY);
    let mut by_name = BTreeMap::new();
    // Valid files hold each tensor's bytes once, so together they fit in the file; burn-pack
    // does not reject overlapping ranges, which could make a small file decode to terabytes.
    let mut unclaimed = file_len;
    for t in reader.into_tensors().map_err(|e| pack_error(path, e))? {
        let name = t.name.clone();
        by_name.insert(name, host_tensor(path, t, &mut unclaimed)?);
    }
    let tensors = in_recorded_order(by_name, order.as_deref());
    Ok(Burnpack { tensors, metadata })
}

/// Reads only the metadata of a burnpack file (no tensor data).
pub fn read_burnpack_metadata(
    path: impl AsRef<Path>,
) -> Result<BTreeMap<String, String>, WeightsError> {
    let (reader, _) = open_reader(path.as_ref())?;
    let mut metadata = reader.metadata().clone();
    metadata.remove(ORDER_KEY);
    Ok(metadata)
}

/// Size of burnpack's fixed header: magic (4 bytes), version (2), metadata length (4, LE).
const HEADER_LEN: u64 = 10;

/// Opens a burnpack reader once the metadata length in the header is known to fit in the
/// file (burn-pack allocates that length, up to 100 MB, before reading, even for a file of a
/// few bytes); also returns the file's size.
fn open_reader(path: &Path) -> Result<(Reader, u64), WeightsError> {
    let io_err = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut header = [0u8; HEADER_LEN as usize];
    if file.read_exact(&mut header).is_ok() && is_burnpack(&header) {
        let metadata_len = u32::from_le_bytes(header[6..10].try_into().expect("4 bytes"));
        if u64::from(metadata_len) > file_len.saturating_sub(HEADER_LEN) {
            return Err(WeightsError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "not a valid burnpack file: the header claims {metadata_len} bytes of metadata, \
                     but only {} follow it",
                    file_len.saturating_sub(HEADER_LEN)
                ),
            });
        }
    }
    // Anything else wrong with the header is burn-pack's to report.
    let reader = Reader::from_file_exact(path).map_err(|e| pack_error(path, e))?;
    Ok((reader, file_len))
}

fn pack_error(path: &Path, e: burn_pack::Error) -> WeightsError {
    WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("not a valid burnpack file (truncated or corrupt?): {e}"),
    }
}

/// Decodes one tensor, checking (with overflow-checked arithmetic) that its bytes match its
/// shape and dtype, and that they fit in the `unclaimed` bytes of the file before reading them.
fn host_tensor(
    path: &Path,
    t: burn_pack::Tensor,
    unclaimed: &mut u64,
) -> Result<HostTensor, WeightsError> {
    let key_error = |key: String, message: String| WeightsError::Key {
        path: path.to_path_buf(),
        key,
        message,
    };
    let Some(dtype) = from_pack(t.dtype) else {
        let message = format!("dtype {:?} is not supported", t.dtype);
        return Err(key_error(t.name, message));
    };
    let shape = t.shape.to_vec();
    let Some(expected) = checked_numel(&shape).and_then(|n| dtype.checked_bytes(n)) else {
        let message = format!(
            "shape {shape:?} of {} needs more bytes than memory can hold",
            dtype.name()
        );
        return Err(key_error(t.name, message));
    };
    let Some(left) = unclaimed.checked_sub(expected as u64) else {
        let message = format!(
            "{expected} more bytes of tensor data than the file holds (overlapping data ranges?)"
        );
        return Err(key_error(t.name, message));
    };
    *unclaimed = left;
    let (name, _, _, _, bytes) = t.into_parts().map_err(|e| pack_error(path, e))?;
    check_byte_len(dtype, &shape, bytes.len()).map_err(|message| key_error(name, message))?;
    Ok(HostTensor {
        values: decode_values(dtype, &bytes),
        shape,
        dtype,
    })
}

/// The tensors in the order recorded under [`ORDER_KEY`]; any it does not list follow in
/// name order. (Built from a map: removing from a [`StateDict`] one by one is quadratic.)
fn in_recorded_order(mut by_name: BTreeMap<String, HostTensor>, order: Option<&str>) -> StateDict {
    let mut ordered = StateDict::new();
    for name in order.unwrap_or_default().lines() {
        if let Some(t) = by_name.remove(name) {
            ordered.insert(name, t);
        }
    }
    for (name, t) in by_name {
        ordered.insert(name, t);
    }
    ordered
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
