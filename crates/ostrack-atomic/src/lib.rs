//! Output files appear complete or not at all. Everything this project writes (checkpoints,
//! weights, result files, reports, plots, synthetic datasets) goes through a temporary file in
//! the target's folder, created by the `tempfile` crate (a unique name, removed again when
//! anything fails or the file is dropped), and renamed over the target when complete.
//!
//! [`Durability::Synced`] also flushes the file to the disk before the rename and the folder
//! after it, so that a crash or power loss right after the call cannot leave a renamed but empty
//! file: for checkpoints and weights, whose loss costs a training run. Result files and reports
//! use [`Durability::Renamed`]: readers never see half a file, and a rerun rewrites them.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A failed write, naming the file (the target, or the temporary file or folder at fault).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct Error {
    pub path: PathBuf,
    pub source: io::Error,
}

pub type Result<T> = std::result::Result<T, Error>;

fn at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error {
        path: path.to_path_buf(),
        source,
    }
}

/// How hard to make sure the bytes reached the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Rename only: atomic for readers, may be lost by a power failure.
    Renamed,
    /// fsync the file before the rename and the folder after it.
    Synced,
}

/// Writes `bytes` to `path` atomically, creating missing parent folders.
pub fn write(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    let mut pending = PendingFile::new(path)?;
    pending.file().write_all(bytes).map_err(at(path))?;
    pending.commit(durability)
}

/// A file being written: a temporary sibling of its target until [`PendingFile::commit`].
/// Dropping it without a commit removes the temporary file and leaves the target untouched.
#[derive(Debug)]
pub struct PendingFile {
    temp: NamedTempFile,
    target: PathBuf,
}

impl PendingFile {
    /// A temporary file next to `target` (missing parent folders are created) whose name ends
    /// like the target's, for writers that pick a format from the extension.
    pub fn new(target: &Path) -> Result<Self> {
        let folder = folder_of(target);
        std::fs::create_dir_all(&folder).map_err(at(&folder))?;
        let suffix = target
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(".ostrack-")
            .suffix(&suffix)
            .tempfile_in(&folder)
            .map_err(at(&folder))?;
        Ok(Self {
            temp,
            target: target.to_path_buf(),
        })
    }

    /// The temporary file, for writing.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// A second handle to the temporary file, for writers that take ownership of one.
    pub fn try_clone_file(&self) -> Result<File> {
        self.temp
            .as_file()
            .try_clone()
            .map_err(at(self.temp.path()))
    }

    /// The temporary file's path, for writers that open the file themselves.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Renames the temporary file over the target.
    pub fn commit(self, durability: Durability) -> Result<()> {
        let target = self.target;
        if durability == Durability::Synced {
            self.temp.as_file().sync_all().map_err(at(&target))?;
        }
        self.temp
            .persist(&target)
            .map_err(|e| at(&target)(e.error))?;
        if durability == Durability::Synced {
            let folder = folder_of(&target);
            sync_folder(&folder).map_err(at(&folder))?;
        }
        Ok(())
    }
}

/// The folder a file is created in (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes the rename itself durable (POSIX: the folder entry is data of the folder).
#[cfg(unix)]
fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_appears_complete_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out.txt");
        write(&target, b"first", Durability::Synced).unwrap();
        write(&target, b"second", Durability::Renamed).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[test]
    fn an_uncommitted_file_leaves_the_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        write(&target, b"old", Durability::Renamed).unwrap();
        let mut pending = PendingFile::new(&target).unwrap();
        assert!(pending.temp_path().to_string_lossy().ends_with(".png"));
        pending.file().write_all(b"half").unwrap();
        drop(pending);
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
