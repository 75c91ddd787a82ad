//! Writing a state dict as `torch.save(OrderedDict)` would, so PyTorch users can
//! `model.load_state_dict(torch.load(path))` our exports.

use std::io::{BufWriter, Write};
use std::path::Path;

use ostrack_atomic::{Durability, PendingFile};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::dtype_codec::encode_values;
use crate::pickle::{PickledTensor, pickle_state_dict};
use crate::{StateDict, WeightsError};

/// torch aligns every archive entry's data to 64 bytes (so storages can be memory-mapped).
const ENTRY_ALIGNMENT: u16 = 64;

/// Writes `state` as a PyTorch zip checkpoint (a bare ordered dict of tensors; root folder
/// named after the file stem, storages `data/0..n`, `byteorder` little, `version` 3),
/// atomically.
pub fn write_torch_state_dict(
    path: impl AsRef<Path>,
    state: &StateDict,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let root = path
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty() && !s.contains(['/', '\\']))
        .unwrap_or("archive");
    let mut pickled = Vec::with_capacity(state.len());
    for (i, (key, tensor)) in state.iter().enumerate() {
        if tensor.numel() != tensor.values_len() {
            return Err(WeightsError::Key {
                path: path.to_path_buf(),
                key: key.to_string(),
                message: format!(
                    "shape {:?} needs {} values, the tensor holds {}",
                    tensor.shape,
                    tensor.numel(),
                    tensor.values_len()
                ),
            });
        }
        pickled.push(PickledTensor {
            key,
            storage_type: tensor.dtype.torch_storage(),
            storage_key: i.to_string(),
            shape: &tensor.shape,
        });
    }
    let data_pkl = pickle_state_dict(&pickled);
    let zip_err = |e: zip::result::ZipError| WeightsError::Format {
        path: path.to_path_buf(),
        message: format!("writing zip archive: {e}"),
    };
    let io_err = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };

    // Checkpoints are expensive to lose: synced before and after the rename.
    let mut pending = PendingFile::new(path)?;
    {
        let mut zip = ZipWriter::new(BufWriter::new(pending.file()));
        let mut add = |name: String, bytes: &[u8]| -> Result<(), WeightsError> {
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Stored)
                .with_alignment(ENTRY_ALIGNMENT)
                .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
            zip.start_file(name, options).map_err(zip_err)?;
            zip.write_all(bytes).map_err(io_err)
        };
        add(format!("{root}/data.pkl"), &data_pkl)?;
        add(format!("{root}/byteorder"), b"little")?;
        for (entry, (_, tensor)) in pickled.iter().zip(state.iter()) {
            add(
                format!("{root}/data/{}", entry.storage_key),
                &encode_values(tensor),
            )?;
        }
        add(format!("{root}/version"), b"3\n")?;
        let mut out = zip.finish().map_err(zip_err)?;
        out.flush().map_err(io_err)?;
    }
    Ok(pending.commit(Durability::Synced)?)
}
