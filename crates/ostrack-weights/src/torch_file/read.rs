//! Reading `torch.save` zip archives: `<root>/data.pkl` (the object tree), `<root>/data/<key>`
//! (raw little-endian storages), `<root>/byteorder`, `<root>/version`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use zip::{CompressionMethod, ZipArchive};

use crate::bounded::try_buffer;
use crate::dtype_codec::{checked_numel, decode_values};
use crate::pickle::{PickleValue, StorageRef, TensorRef, unpickle};
use crate::{DType, HostTensor, StateDict, WeightsError};

/// Where a state dict is looked for in a checkpoint when the top level is not one itself:
/// OSTrack training checkpoints use `net`, MAE releases `model`, many others `state_dict`.
pub const STATE_DICT_KEYS: [&str; 3] = ["net", "model", "state_dict"];

/// First bytes of a pre-1.6 (non-zip) `torch.save` file: PROTO 2, LONG1 of the magic number.
const LEGACY_TORCH_MAGIC: [u8; 4] = [0x80, 0x02, 0x8a, 0x0a];

/// Deflate cannot shrink data by more than about 1032:1, so a compressed entry that claims a
/// larger uncompressed size is lying. (`torch.save` stores entries uncompressed; this only
/// matters for re-zipped archives, and keeps a zip bomb from being inflated.)
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Views can repeat storage elements (stride 0) and several tensors can share a storage, so
/// the decoded tensors may be larger than the file; their total is capped at this many times
/// the file size (plus [`VIEW_SLACK_BYTES`]). Real checkpoints decode to at most the file
/// size, or twice it with tied weights; without a cap a few hundred bytes of pickle could
/// ask for terabytes.
const VIEW_BYTES_PER_FILE_BYTE: u64 = 4;

/// Allowance for small broadcast views (an expanded buffer) in tiny files.
const VIEW_SLACK_BYTES: u64 = 16 << 20;

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
    let mut archive = Archive::open(path)?;
    let names: Vec<String> = archive
        .zip
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
    let byteorder = archive.read_opt(&format!("{archive_root}byteorder"))?;
    if let Some(order) = byteorder.filter(|order| order != b"little") {
        let order = String::from_utf8_lossy(&order).into_owned();
        let message = format!(
            "storages are stored with byte order `{order}`; only little-endian files are supported"
        );
        return Err(format_error(path, message));
    }
    let pickle = archive.read(&format!("{archive_root}data.pkl"))?;
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
        let mut archive = Archive::open(&self.path)?;
        let mut view_budget = archive
            .file_len
            .saturating_mul(VIEW_BYTES_PER_FILE_BYTE)
            .saturating_add(VIEW_SLACK_BYTES);
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
                let bytes = self.read_storage(&mut archive, &key, &tensor.storage)?;
                storages.insert(storage_key, bytes);
            }
            let host = self.materialize(&key, tensor, &storages[storage_key], &mut view_budget)?;
            let remaining = uses.get_mut(storage_key).expect("counted above");
            *remaining -= 1;
            if *remaining == 0 {
                storages.remove(storage_key);
            }
            out.insert(key, host);
        }
        Ok(out)
    }

    /// Reads `data/<key>` of `storage` after checking that its size in the archive is the
    /// one the pickle claims, so a lying pickle or zip header never drives an allocation.
    fn read_storage(
        &self,
        archive: &mut Archive<'_>,
        key: &str,
        storage: &StorageRef,
    ) -> Result<Vec<u8>, WeightsError> {
        let dtype = storage_dtype(storage).map_err(|m| self.key_error(key, m))?;
        let expected = dtype.checked_bytes(storage.numel).ok_or_else(|| {
            self.key_error(
                key,
                format!(
                    "storage data/{} claims {} elements of {} bytes, more than any file holds",
                    storage.key,
                    storage.numel,
                    dtype.size()
                ),
            )
        })?;
        let entry = format!("{}data/{}", self.archive_root, storage.key);
        let found = archive.entry_len(&entry)?;
        if found != expected as u64 {
            return Err(self.key_error(
                key,
                format!(
                    "storage data/{} has {found} bytes, expected {} elements of {} bytes",
                    storage.key,
                    storage.numel,
                    dtype.size()
                ),
            ));
        }
        archive.read(&entry)
    }

    /// Gathers the tensor's elements (honouring offset and strides) out of its storage,
    /// charging their size to `view_budget` (see [`VIEW_BYTES_PER_FILE_BYTE`]).
    fn materialize(
        &self,
        key: &str,
        tensor: &TensorRef,
        storage: &[u8],
        view_budget: &mut u64,
    ) -> Result<HostTensor, WeightsError> {
        let s = &tensor.storage;
        let dtype = storage_dtype(s).map_err(|m| self.key_error(key, m))?;
        let size = dtype.size();
        if Some(storage.len()) != dtype.checked_bytes(s.numel) {
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
        let (numel, bytes) = self.check_view(key, tensor, dtype)?;
        *view_budget = view_budget.checked_sub(bytes as u64).ok_or_else(|| {
            self.key_error(
                key,
                format!(
                    "tensor views would decode to more than {VIEW_BYTES_PER_FILE_BYTE} times the file size \
                     (storages shared by too many tensors, or broadcast views); refusing {bytes} more bytes"
                ),
            )
        })?;
        let bytes = if numel == 0 {
            Vec::new()
        } else if is_contiguous(&tensor.shape, &tensor.stride) {
            // A contiguous view's last element is `offset + numel - 1`, checked in range.
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

    /// Checks that every element of the view lies inside its storage, with overflow-checked
    /// index arithmetic; returns the view's element count and size in bytes.
    fn check_view(
        &self,
        key: &str,
        tensor: &TensorRef,
        dtype: DType,
    ) -> Result<(usize, usize), WeightsError> {
        let s = &tensor.storage;
        let past_storage = || {
            self.key_error(
                key,
                format!(
                    "view (offset {}, shape {:?}, stride {:?}) reaches past its storage of {} elements",
                    tensor.offset, tensor.shape, tensor.stride, s.numel
                ),
            )
        };
        let too_big = || {
            self.key_error(
                key,
                format!("shape {:?} has too many elements to hold", tensor.shape),
            )
        };
        let numel = checked_numel(&tensor.shape).ok_or_else(too_big)?;
        let bytes = dtype.checked_bytes(numel).ok_or_else(too_big)?;
        if numel == 0 {
            return Ok((0, 0));
        }
        let last = tensor
            .shape
            .iter()
            .zip(&tensor.stride)
            .try_fold(tensor.offset, |acc, (&n, &st)| {
                (n - 1).checked_mul(st).and_then(|d| acc.checked_add(d))
            })
            .ok_or_else(past_storage)?;
        if last >= s.numel {
            return Err(past_storage());
        }
        Ok((numel, bytes))
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

/// The dtype of a storage, or why it cannot be decoded.
fn storage_dtype(s: &StorageRef) -> Result<DType, String> {
    s.dtype
        .ok_or_else(|| format!("storage type torch.{} is not supported", s.storage_type))
}

/// An open `torch.save` zip, with the file size every entry's claimed size is checked against.
struct Archive<'p> {
    zip: ZipArchive<BufReader<File>>,
    path: &'p Path,
    file_len: u64,
}

impl<'p> Archive<'p> {
    fn open(path: &'p Path) -> Result<Self, WeightsError> {
        let io_err = |source| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        let mut head = [0u8; 4];
        let head_len = file.read(&mut head).map_err(io_err)?;
        if head_len == 4 && head == LEGACY_TORCH_MAGIC {
            return Err(format_error(
                path,
                "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch >= 1.6".into(),
            ));
        }
        let file = File::open(path).map_err(io_err)?;
        let zip = ZipArchive::new(BufReader::new(file)).map_err(|e| {
            format_error(
                path,
                format!(
                    "not a readable PyTorch zip checkpoint (the file may be truncated or corrupt): {e}"
                ),
            )
        })?;
        Ok(Archive {
            zip,
            path,
            file_len,
        })
    }

    /// The uncompressed size the archive claims for entry `name`.
    fn entry_len(&mut self, name: &str) -> Result<u64, WeightsError> {
        let path = self.path;
        match self.zip.by_name(name) {
            Ok(entry) => Ok(entry.size()),
            Err(e) => Err(entry_error(path, name, e)),
        }
    }

    fn read(&mut self, name: &str) -> Result<Vec<u8>, WeightsError> {
        self.read_opt(name)?
            .ok_or_else(|| format_error(self.path, format!("archive entry `{name}` is missing")))
    }

    /// Reads a whole entry, refusing sizes the file cannot hold before allocating; the zip
    /// reader checks its CRC at the end, catching corrupt data.
    fn read_opt(&mut self, name: &str) -> Result<Option<Vec<u8>>, WeightsError> {
        let (path, file_len) = (self.path, self.file_len);
        let entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(entry_error(path, name, e)),
        };
        let declared = entry.size();
        let (limit, why) = size_limit(entry.compression(), entry.compressed_size(), file_len);
        if declared > limit {
            let message = format!(
                "archive entry `{name}` claims {declared} bytes, more than {why} ({limit})"
            );
            return Err(format_error(path, message));
        }
        let unreadable = |e: std::io::Error| {
            format_error(
                path,
                format!("archive entry `{name}` is unreadable (truncated or corrupt file?): {e}"),
            )
        };
        // At most the file's size (inflated data grows the buffer as it arrives).
        let mut bytes = try_buffer(declared.min(file_len)).ok_or_else(|| {
            let message =
                format!("archive entry `{name}` ({declared} bytes) does not fit in memory");
            format_error(path, message)
        })?;
        // One byte past the claim: a longer entry shows up, and the reader reaches the end
        // of the entry, where it verifies the CRC.
        entry
            .take(declared.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 != declared {
            let message = format!(
                "archive entry `{name}` holds {} bytes, its header claims {declared}",
                bytes.len()
            );
            return Err(format_error(path, message));
        }
        Ok(Some(bytes))
    }
}

/// The most bytes an entry can honestly decompress to, and why.
fn size_limit(method: CompressionMethod, compressed: u64, file_len: u64) -> (u64, &'static str) {
    if method == CompressionMethod::Stored {
        (file_len, "the size of the whole file")
    } else {
        let limit = compressed.min(file_len).saturating_mul(MAX_DEFLATE_RATIO);
        (limit, "the best ratio deflate achieves")
    }
}

fn entry_error(path: &Path, name: &str, e: zip::result::ZipError) -> WeightsError {
    let message = match e {
        zip::result::ZipError::FileNotFound => format!("archive entry `{name}` is missing"),
        e => format!("archive entry `{name}`: {e}"),
    };
    format_error(path, message)
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
