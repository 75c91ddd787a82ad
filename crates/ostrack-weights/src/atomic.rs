//! Output files appear complete or not at all: written to a temporary sibling, then renamed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::WeightsError;

/// Runs `write` on a buffered temporary file next to `path` and renames it to `path` once
/// `write` and the flush succeeded; on any error the temporary file is removed.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), WeightsError>,
) -> Result<(), WeightsError> {
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| WeightsError::Io { path: p, source }
    };
    let temp = temp_path(path);
    let result = (|| {
        let mut out = BufWriter::new(File::create(&temp).map_err(io_err(&temp))?);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| io_err(&temp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&temp))?;
        std::fs::rename(&temp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    write_atomically(path, |out| {
        out.write_all(bytes).map_err(|source| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}
