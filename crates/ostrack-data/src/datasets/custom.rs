//! The plain custom layout: `<root>/<sequence>/` holding the frames (`*.jpg`, `*.jpeg`, `*.png`,
//! in file-name order; or in an `img/` sub-folder) and `groundtruth.txt` with one `x,y,w,h` per
//! frame (commas, tabs or spaces). Nothing else is needed: a frame is visible when `w > 0 && h > 0`.

use std::path::{Path, PathBuf};

use super::annotation::{SequenceAnno, read_boxes};
use super::{DatasetInfo, DatasetKind, TrackingDataset, sorted_files, sorted_subdirs};
use crate::error::DataError;

/// Frame file extensions of the custom layout.
pub(crate) const FRAME_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

struct CustomSequence {
    name: String,
    frame_dir: PathBuf,
    frames: Vec<String>,
}

pub struct Custom {
    info: DatasetInfo,
    sequences: Vec<CustomSequence>,
}

impl Custom {
    pub fn open(name: &str, root: &Path) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::file(root, "custom dataset root does not exist"));
        }
        let mut sequences = Vec::new();
        let mut skipped = Vec::new();
        for seq in sorted_subdirs(root)? {
            let dir = root.join(&seq);
            if !dir.join("groundtruth.txt").is_file() {
                skipped.push(seq);
                continue;
            }
            let frame_dir = if dir.join("img").is_dir() {
                dir.join("img")
            } else {
                dir.clone()
            };
            let frames = sorted_files(&frame_dir, &FRAME_EXTENSIONS)?;
            sequences.push(CustomSequence {
                name: seq,
                frame_dir,
                frames,
            });
        }
        if sequences.is_empty() {
            return Err(DataError::file(
                root,
                "no sequence folders with a groundtruth.txt",
            ));
        }
        let mut notes = Vec::new();
        if !skipped.is_empty() {
            notes.push(format!(
                "folders without groundtruth.txt ignored: {}",
                skipped.join(", ")
            ));
        }
        Ok(Self {
            info: DatasetInfo::new(name, DatasetKind::Custom, root, true, notes),
            sequences,
        })
    }
}

impl TrackingDataset for Custom {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn num_sequences(&self) -> usize {
        self.sequences.len()
    }

    fn sequence_name(&self, seq: usize) -> String {
        self.sequences[seq].name.clone()
    }

    /// Boxes from `groundtruth.txt`; the number of frame files must match the number of boxes.
    fn load_annotation(&self, seq: usize) -> Result<SequenceAnno, DataError> {
        let s = &self.sequences[seq];
        let gt = self.info.root.join(&s.name).join("groundtruth.txt");
        let boxes = read_boxes(&gt)?;
        if boxes.len() != s.frames.len() {
            return Err(DataError::file(
                &gt,
                format!(
                    "{} boxes but {} has {} frame files",
                    boxes.len(),
                    s.frame_dir.display(),
                    s.frames.len()
                ),
            ));
        }
        Ok(SequenceAnno::new(boxes, None))
    }

    fn frame_path(&self, seq: usize, frame: usize) -> PathBuf {
        let s = &self.sequences[seq];
        match s.frames.get(frame) {
            Some(f) => s.frame_dir.join(f),
            None => s.frame_dir.join(format!("<frame {frame} missing>")),
        }
    }
}
