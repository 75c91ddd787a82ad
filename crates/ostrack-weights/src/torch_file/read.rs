//! Reading `torch.save` zip archives: `<root>/data.pkl` (the object tree), `<root>/data/<key>`
//! (raw little-endian storages), `<root>/byteorder`, `<root>/version`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::dtype_codec::decode_values;
use crate::pickle::{PickleValue, TensorRef, unpickle};
use crate::{HostTensor, StateDict, WeightsError};

/// Where a state dict is looked for in a checkpoint when the top level is not one itself:
/// OSTrack training checkpoints use `net`, MAE releases `model`, many others `state_dict`.
pub const STATE_DICT_KEYS: [&str; 3] = ["net", "model", "state_dict"];

/// First bytes of a pre-1.6 (non-zip) `torch.save` file: PROTO 2, LONG1 of the magic number.
const LEGACY_TORCH_MAGIC: [u8; 4] = [0x80, 0x02, 0x8a, 0x0a];

/// A parsed `torch.save` file: its object tree, with tensors left in the archive until a
/// state dict is extracted.
#[derive(Debug, Clone)]
pub struct TorchCheckpoint {
    path: PathBuf,
    /// Archive folder that holds `data.pkl`, with trailing `/`.
    archive_root: String,
    storage_entries: usize,
    root: PickleValue,
}

/// Opens a PyTorch zip checkpoint (`.pth`, `.pth.tar`, `.pt`) and unpickles its object tree.
pub fn read_torch_file(path: impl AsRef<Path>) -> Result<TorchCheckpoint, WeightsError> {
    let path = path.as_ref();
    let mut archive = open_archive(path)?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format_error(path, format!("unreadable zip entry name: {e}")))?;
    let archive_root = names
        .iter()
        .filter_map(|n| n.strip_suffix("data.pkl"))
        .find(|root| root.is_empty() || (root.ends_with('/') && root.matches('/').count() == 1))
        .map(str::to_string)
        .ok_or_else(|| {
            let message = format!(
                "zip archive has no `<root>/data.pkl`, so it is not a torch.save file; entries: {}",
                preview(&names)
            );
            format_error(path, message)
        })?;
    let byteorder = read_entry_opt(&mut archive, path, &format!("{archive_root}byteorder"))?;
    if let Some(order) = byteorder.filter(|order| order != b"little") {
        let order = String::from_utf8_lossy(&order).into_owned();
        let message = format!(
            "storages are stored with byte order `{order}`; only little-endian files are supported"
        );
        return Err(format_error(path, message));
    }
    let pickle = read_entry(&mut archive, path, &format!("{archive_root}data.pkl"))?;
    let root = unpickle(&pickle)
        .map_err(|e| format_error(path, format!("{archive_root}data.pkl: {e}")))?;
    let data_prefix = format!("{archive_root}data/");
    let storage_entries = names.iter().filter(|n| n.starts_with(&data_prefix)).count();
    Ok(TorchCheckpoint {
        path: path.to_path_buf(),
        archive_root,
        storage_entries,
        root,
    })
}

/// Reads the state dict of a checkpoint: the top level if it is a dict of tensors, otherwise
/// the first of `keys` that holds one (pass [`STATE_DICT_KEYS`] for the usual places).
pub fn extract_state_dict(
    path: impl AsRef<Path>,
    keys: &[&str],
) -> Result<StateDict, WeightsError> {
    read_torch_file(path)?.state_dict(keys)
}

impl TorchCheckpoint {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The unpickled top-level object (usually a dict).
    pub fn root(&self) -> &PickleValue {
        &self.root
    }

    /// Name of the archive's root folder (torch names it after the file it saved to).
    pub fn archive_root(&self) -> &str {
        self.archive_root.trim_end_matches('/')
    }

    /// Number of `data/<key>` storage entries in the archive.
    pub fn storage_entries(&self) -> usize {
        self.storage_entries
    }

    /// Top-level dict keys (empty when the top level is not a dict).
    pub fn top_level_keys(&self) -> Vec<String> {
        self.root.dict_keys().unwrap_or_default()
    }

    /// Locates the state dict like [`extract_state_dict`]; returns where it was found
    /// (`None` = the top level) and the dict.
    pub fn find_state_dict(
        &self,
        keys: &[&str],
    ) -> Result<(Option<String>, &PickleValue), WeightsError> {
        if self.root.is_state_dict() {
            return Ok((None, &self.root));
        }
        for key in keys {
            if let Some(value) = self.root.get(key).filter(|v| v.is_state_dict()) {
                return Ok((Some(key.to_string()), value));
            }
        }
        let found = match self.root.dict_keys() {
            Some(found) => format!("top-level keys found: [{}]", found.join(", ")),
            None => format!("the top level is a {}", self.root.type_name()),
        };
        Err(format_error(
            &self.path,
            format!(
                "no state dict (a dict of tensors) at the top level or under any of the keys [{}]; {found}",
                keys.join(", ")
            ),
        ))
    }

    /// Loads the tensors of the state dict located as in [`Self::find_state_dict`].
    pub fn state_dict(&self, keys: &[&str]) -> Result<StateDict, WeightsError> {
        let (_, dict) = self.find_state_dict(keys)?;
        self.load_tensors(dict)
    }

    /// Loads every tensor of `dict` (a value of this checkpoint's tree) from the archive.
    pub fn load_tensors(&self, dict: &PickleValue) -> Result<StateDict, WeightsError> {
        let PickleValue::Dict(items) = dict else {
            return Err(format_error(
                &self.path,
                format!("expected a dict of tensors, found a {}", dict.type_name()),
            ));
        };
        // Storages shared by several tensors are read once and dropped after their last use,
        // so at most the tensors' own bytes are held twice.
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for (_, value) in items {
            if let PickleValue::Tensor(t) = value {
                *uses.entry(t.storage.key.as_str()).or_default() += 1;
            }
        }
        let mut archive = open_archive(&self.path)?;
        let mut storages: HashMap<&str, Vec<u8>> = HashMap::new();
        let mut out = StateDict::new();
        for (key, value) in items {
            let key = match key {
                PickleValue::Str(s) => s.clone(),
                other => other.short(),
            };
            let PickleValue::Tensor(tensor) = value else {
                return Err(self.key_error(
                    &key,
                    format!("expected a tensor, found a {}", value.type_name()),
                ));
            };
            let storage_key = tensor.storage.key.as_str();
            if !storages.contains_key(storage_key) {
                let entry = format!("{}data/{storage_key}", self.archive_root);
                let bytes = read_entry(&mut archive, &self.path, &entry)?;
                storages.insert(storage_key, bytes);
            }
            let host = self.materialize(&key, tensor, &storages[storage_key])?;
            let remaining = uses.get_mut(storage_key).expect("counted above");
            *remaining -= 1;
            if *remaining == 0 {
                storages.remove(storage_key);
            }
            out.insert(key, host);
        }
        Ok(out)
    }

    /// Gathers the tensor's elements (honouring offset and strides) out of its storage.
    fn materialize(
        &self,
        key: &str,
        tensor: &TensorRef,
        storage: &[u8],
    ) -> Result<HostTensor, WeightsError> {
        let s = &tensor.storage;
        let dtype = s.dtype.ok_or_else(|| {
            self.key_error(
                key,
                format!("storage type torch.{} is not supported", s.storage_type),
            )
        })?;
        let size = dtype.size();
        if storage.len() != s.numel * size {
            return Err(self.key_error(
                key,
                format!(
                    "storage data/{} has {} bytes, expected {} elements of {} bytes",
                    s.key,
                    storage.len(),
                    s.numel,
                    size
                ),
            ));
        }
        let numel: usize = tensor.shape.iter().product();
        if numel > 0 {
            let last = tensor
                .shape
                .iter()
                .zip(&tensor.stride)
                .map(|(&n, &st)| (n - 1) * st)
                .sum::<usize>()
                + tensor.offset;
            if last >= s.numel {
                return Err(self.key_error(
                    key,
                    format!("view (offset {}, shape {:?}, stride {:?}) reaches past its storage of {} elements", tensor.offset, tensor.shape, tensor.stride, s.numel),
                ));
            }
        }
        let bytes = if numel == 0 {
            Vec::new()
        } else if is_contiguous(&tensor.shape, &tensor.stride) {
            storage[tensor.offset * size..(tensor.offset + numel) * size].to_vec()
        } else {
            gather(storage, size, tensor)
        };
        Ok(HostTensor {
            shape: tensor.shape.clone(),
            dtype,
            values: decode_values(dtype, &bytes),
        })
    }

    fn key_error(&self, key: &str, message: String) -> WeightsError {
        WeightsError::Key {
            path: self.path.clone(),
            key: key.to_string(),
            message,
        }
    }
}

/// Dimensions of size 1 may carry any stride.
fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&n, &st) in shape.iter().zip(stride).rev() {
        if n != 1 && st != expected {
            return false;
        }
        expected *= n;
    }
    true
}

/// Copies the elements of a strided view into row-major order.
fn gather(storage: &[u8], size: usize, tensor: &TensorRef) -> Vec<u8> {
    let numel: usize = tensor.shape.iter().product();
    let mut out = Vec::with_capacity(numel * size);
    let mut index = vec![0usize; tensor.shape.len()];
    for _ in 0..numel {
        let elem = tensor.offset
            + index
                .iter()
                .zip(&tensor.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        out.extend_from_slice(&storage[elem * size..(elem + 1) * size]);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < tensor.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

fn open_archive(path: &Path) -> Result<ZipArchive<BufReader<File>>, WeightsError> {
    let mut file = File::open(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = [0u8; 4];
    let head_len = file.read(&mut head).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if head_len == 4 && head == LEGACY_TORCH_MAGIC {
        return Err(format_error(
            path,
            "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch >= 1.6".into(),
        ));
    }
    let file = File::open(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| {
        format_error(
            path,
            format!(
                "not a readable PyTorch zip checkpoint (the file may be truncated or corrupt): {e}"
            ),
        )
    })
}

fn read_entry(
    archive: &mut ZipArchive<BufReader<File>>,
    path: &Path,
    name: &str,
) -> Result<Vec<u8>, WeightsError> {
    read_entry_opt(archive, path, name)?
        .ok_or_else(|| format_error(path, format!("archive entry `{name}` is missing")))
}

/// Reads a whole entry; the zip reader checks its CRC at the end, catching corrupt data.
fn read_entry_opt(
    archive: &mut ZipArchive<BufReader<File>>,
    path: &Path,
    name: &str,
) -> Result<Option<Vec<u8>>, WeightsError> {
    let mut entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(format_error(path, format!("archive entry `{name}`: {e}"))),
    };
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.read_to_end(&mut bytes).map_err(|e| {
        format_error(
            path,
            format!("archive entry `{name}` is unreadable (truncated or corrupt file?): {e}"),
        )
    })?;
    Ok(Some(bytes))
}

fn format_error(path: &Path, message: String) -> WeightsError {
    WeightsError::Format {
        path: path.to_path_buf(),
        message,
    }
}

fn preview(names: &[String]) -> String {
    let mut shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    if names.len() > 8 {
        shown.push("...");
    }
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::StorageRef;

    #[test]
    fn gathers_a_transposed_view() {
        // Storage 0..6 as a 2x3 matrix; the view is its transpose (shape 3x2, stride 1,3).
        let storage: Vec<u8> = (0u8..6).collect();
        let t = TensorRef {
            storage: StorageRef {
                key: "0".into(),
                storage_type: "ByteStorage".into(),
                dtype: Some(crate::DType::U8),
                location: "cpu".into(),
                numel: 6,
            },
            offset: 0,
            shape: vec![3, 2],
            stride: vec![1, 3],
        };
        assert!(!is_contiguous(&t.shape, &t.stride));
        assert_eq!(gather(&storage, 1, &t), vec![0, 3, 1, 4, 2, 5]);
        assert!(is_contiguous(&[1, 4], &[99, 1]));
    }
}
