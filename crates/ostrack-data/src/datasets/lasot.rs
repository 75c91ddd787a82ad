//! LaSOT (`lib/train/dataset/lasot.py`): `<root>/<class>/<class>-<k>/img/%08d.jpg`,
//! `groundtruth.txt`, `full_occlusion.txt`, `out_of_view.txt` (one comma-separated line each).

use std::path::{Path, PathBuf};

use super::annotation::{SequenceAnno, check_same_length, read_boxes, read_label_row};
use super::{DatasetInfo, DatasetKind, TrackingDataset, sorted_subdirs};
use crate::error::{DataError, read_text};

pub struct Lasot {
    info: DatasetInfo,
    /// `<class>-<k>` names.
    sequences: Vec<String>,
}

impl Lasot {
    /// Opens the sequences named in `split` (e.g. `lasot_train_split.txt`), or every
    /// `<class>/<class>-<k>` folder when `split` is `None`.
    pub fn open(name: &str, root: &Path, split: Option<&Path>) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::file(root, "LaSOT root does not exist"));
        }
        let sequences = match split {
            Some(split) => {
                if !split.is_file() {
                    return Err(DataError::file(
                        split,
                        "split file not found (it belongs to the original repository's lib/train/data_specs; \
                         set `data_specs:` in ostrack-data.yaml or pass --data-specs)",
                    ));
                }
                let names: Vec<String> = read_text(split)?
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
                if let Some((i, bad)) = names.iter().enumerate().find(|(_, n)| !n.contains('-')) {
                    return Err(DataError::line(
                        split,
                        i + 1,
                        format!("expected <class>-<k>, found {bad:?}"),
                    ));
                }
                names
            }
            None => {
                let mut names = Vec::new();
                for class in sorted_subdirs(root)? {
                    let prefix = format!("{class}-");
                    names.extend(
                        sorted_subdirs(&root.join(&class))?
                            .into_iter()
                            .filter(|s| s.starts_with(&prefix)),
                    );
                }
                if names.is_empty() {
                    return Err(DataError::file(
                        root,
                        "no <class>/<class>-<k> sequence folders found",
                    ));
                }
                names
            }
        };
        Ok(Self {
            info: DatasetInfo::new(name, DatasetKind::Lasot, root, true, Vec::new()),
            sequences,
        })
    }

    fn seq_dir(&self, seq: usize) -> PathBuf {
        let name = &self.sequences[seq];
        let class = name.split('-').next().unwrap_or(name);
        self.info.root.join(class).join(name)
    }
}

impl TrackingDataset for Lasot {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn num_sequences(&self) -> usize {
        self.sequences.len()
    }

    fn sequence_name(&self, seq: usize) -> String {
        self.sequences[seq].clone()
    }

    /// `visible = !full_occlusion && !out_of_view && w > 0 && h > 0`.
    fn load_annotation(&self, seq: usize) -> Result<SequenceAnno, DataError> {
        let dir = self.seq_dir(seq);
        let gt = dir.join("groundtruth.txt");
        let boxes = read_boxes(&gt)?;
        let mut flags = vec![true; boxes.len()];
        for file in ["full_occlusion.txt", "out_of_view.txt"] {
            let path = dir.join(file);
            let labels = read_label_row(&path, 1)?;
            check_same_length(&path, labels.len(), &gt, boxes.len())?;
            for (f, v) in flags.iter_mut().zip(labels) {
                *f &= v == 0;
            }
        }
        Ok(SequenceAnno::new(boxes, Some(flags)))
    }

    fn frame_path(&self, seq: usize, frame: usize) -> PathBuf {
        self.seq_dir(seq)
            .join("img")
            .join(format!("{:08}.jpg", frame + 1))
    }
}
