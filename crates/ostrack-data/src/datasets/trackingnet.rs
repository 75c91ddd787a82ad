//! TrackingNet (`lib/train/dataset/tracking_net.py`): `<root>/TRAIN_<s>/anno/<vid>.txt` and
//! `<root>/TRAIN_<s>/frames/<vid>/<f>.jpg` (0-based, no padding), chunks s = 0..11.

use std::path::{Path, PathBuf};

use super::annotation::{SequenceAnno, read_boxes};
use super::{DatasetInfo, DatasetKind, TrackingDataset, sorted_files};
use crate::error::DataError;

/// The training chunks of the official release.
pub const CHUNKS: std::ops::Range<usize> = 0..12;

pub struct TrackingNet {
    info: DatasetInfo,
    /// (chunk, video name).
    sequences: Vec<(usize, String)>,
}

impl TrackingNet {
    /// Lists every `anno/*.txt` of the chunks present (sorted by name within a chunk; the
    /// original uses the directory order, which is not reproducible).
    pub fn open(name: &str, root: &Path) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::file(root, "TrackingNet root does not exist"));
        }
        let mut sequences = Vec::new();
        let mut missing = Vec::new();
        for chunk in CHUNKS {
            let anno = root.join(format!("TRAIN_{chunk}")).join("anno");
            if !anno.is_dir() {
                missing.push(format!("TRAIN_{chunk}"));
                continue;
            }
            for file in sorted_files(&anno, &["txt"])? {
                sequences.push((chunk, file.trim_end_matches(".txt").to_string()));
            }
        }
        if sequences.is_empty() {
            return Err(DataError::file(
                root,
                "no TRAIN_<s>/anno/*.txt sequences found",
            ));
        }
        let mut notes = Vec::new();
        if !missing.is_empty() {
            notes.push(format!(
                "chunks not present (skipped): {}",
                missing.join(", ")
            ));
        }
        Ok(Self {
            info: DatasetInfo::new(name, DatasetKind::TrackingNet, root, true, notes),
            sequences,
        })
    }
}

impl TrackingDataset for TrackingNet {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn num_sequences(&self) -> usize {
        self.sequences.len()
    }

    fn sequence_name(&self, seq: usize) -> String {
        let (chunk, vid) = &self.sequences[seq];
        format!("TRAIN_{chunk}/{vid}")
    }

    /// `visible = w > 0 && h > 0`.
    fn load_annotation(&self, seq: usize) -> Result<SequenceAnno, DataError> {
        let (chunk, vid) = &self.sequences[seq];
        let path = self
            .info
            .root
            .join(format!("TRAIN_{chunk}"))
            .join("anno")
            .join(format!("{vid}.txt"));
        Ok(SequenceAnno::new(read_boxes(&path)?, None))
    }

    fn frame_path(&self, seq: usize, frame: usize) -> PathBuf {
        let (chunk, vid) = &self.sequences[seq];
        self.info
            .root
            .join(format!("TRAIN_{chunk}"))
            .join("frames")
            .join(vid)
            .join(format!("{frame}.jpg"))
    }
}
