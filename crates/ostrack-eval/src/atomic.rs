//! Atomic file output: a temporary file in the destination directory, renamed over the target.
//!
//! Readers (a resumed tracker run, an evaluation running next to it) never see half-written files.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{EvalError, Result};

/// Directory a file will be created in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))
}

/// A temporary file next to `path` whose name ends like `path` (plotters picks the image
/// encoder from the extension).
pub(crate) fn temp_file_for(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    create_dir_all(&dir)?;
    let suffix = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(".ostrack-eval-")
        .suffix(&suffix)
        .tempfile_in(&dir)
        .map_err(|e| EvalError::io(&dir, e))
}

/// Moves a finished temporary file over `path`.
pub(crate) fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file()
        .sync_all()
        .map_err(|e| EvalError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| EvalError::io(path, e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically, creating the parent directories.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = temp_file_for(path)?;
    tmp.write_all(bytes).map_err(|e| EvalError::io(path, e))?;
    persist(tmp, path)
}
