//! GOT-10k (`lib/train/dataset/got10k.py`): `<root>/list.txt`, `<root>/<seq>/00000001.jpg…`,
//! `groundtruth.txt`, `absence.label`, `cover.label`, `meta_info.ini`. The root is the `train`
//! (or `val`) folder itself.

use std::path::{Path, PathBuf};

use super::annotation::{SequenceAnno, check_same_length, read_boxes, read_label_lines};
use super::{DatasetInfo, DatasetKind, TrackingDataset, sorted_subdirs};
use crate::error::{DataError, read_text};

pub struct Got10k {
    info: DatasetInfo,
    sequences: Vec<String>,
}

impl Got10k {
    /// Opens the sequences of `root/list.txt` (generated from the sorted folder names when the
    /// file is missing), restricted to the 0-based indices of `split` when given.
    pub fn open(name: &str, root: &Path, split: Option<&Path>) -> Result<Self, DataError> {
        check_root(root)?;
        let mut notes = Vec::new();
        let all = sequence_list(root, &mut notes)?;
        let sequences = match split {
            None => all,
            Some(split) => select_split(split, &all, root)?,
        };
        Ok(Self {
            info: DatasetInfo::new(name, DatasetKind::Got10k, root, true, notes),
            sequences,
        })
    }

    fn seq_dir(&self, seq: usize) -> PathBuf {
        self.info.root.join(&self.sequences[seq])
    }
}

/// Rejects a root that is not a GOT-10k split folder, pointing at the usual mistake.
fn check_root(root: &Path) -> Result<(), DataError> {
    if !root.is_dir() {
        return Err(DataError::file(
            root,
            "GOT-10k root does not exist (it must be the `train` or `val` folder)",
        ));
    }
    let has_sequences = root.join("list.txt").is_file()
        || sorted_subdirs(root)?
            .iter()
            .any(|s| root.join(s).join("groundtruth.txt").is_file());
    if !has_sequences {
        let hint = ["train", "val"]
            .iter()
            .map(|s| root.join(s))
            .find(|p| p.is_dir())
            .map(|p| format!("; did you mean {}?", p.display()))
            .unwrap_or_default();
        return Err(DataError::file(
            root,
            format!(
                "not a GOT-10k split folder: no list.txt and no sequence folders with groundtruth.txt{hint}"
            ),
        ));
    }
    Ok(())
}

fn sequence_list(root: &Path, notes: &mut Vec<String>) -> Result<Vec<String>, DataError> {
    let list = root.join("list.txt");
    if list.is_file() {
        let text = read_text(&list)?;
        let names: Vec<String> = text
            .lines()
            .map(|l| l.split(',').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if names.is_empty() {
            return Err(DataError::file(&list, "empty sequence list"));
        }
        return Ok(names);
    }
    let names: Vec<String> = sorted_subdirs(root)?
        .into_iter()
        .filter(|s| root.join(s).join("groundtruth.txt").is_file())
        .collect();
    notes.push(format!(
        "{} is missing: generated the sequence order from {} sorted folder names (split files index this order)",
        list.display(),
        names.len()
    ));
    Ok(names)
}

/// The split files hold 0-based indices into the `list.txt` order.
fn select_split(split: &Path, all: &[String], root: &Path) -> Result<Vec<String>, DataError> {
    if !split.is_file() {
        return Err(DataError::file(
            split,
            "split file not found (it belongs to the original repository's lib/train/data_specs; \
             set `data_specs:` in ostrack-data.yaml or pass --data-specs)",
        ));
    }
    let text = read_text(split)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let idx: usize = t.parse().map_err(|_| {
            DataError::line(
                split,
                i + 1,
                format!("expected a sequence index, found {t:?}"),
            )
        })?;
        let name = all.get(idx).ok_or_else(|| {
            DataError::line(
                split,
                i + 1,
                format!(
                    "index {idx} but {} lists {} sequences",
                    root.join("list.txt").display(),
                    all.len()
                ),
            )
        })?;
        out.push(name.clone());
    }
    if out.is_empty() {
        return Err(DataError::file(split, "empty split file"));
    }
    Ok(out)
}

impl TrackingDataset for Got10k {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn num_sequences(&self) -> usize {
        self.sequences.len()
    }

    fn sequence_name(&self, seq: usize) -> String {
        self.sequences[seq].clone()
    }

    /// `visible = absence == 0 && cover > 0 && w > 0 && h > 0`. Without label files visibility
    /// comes from the boxes alone (the doctor reports it).
    fn load_annotation(&self, seq: usize) -> Result<SequenceAnno, DataError> {
        let dir = self.seq_dir(seq);
        let gt = dir.join("groundtruth.txt");
        let boxes = read_boxes(&gt)?;
        let mut flags = vec![true; boxes.len()];
        let mut any = false;
        for (file, max, visible_if) in [
            ("absence.label", 1u8, (|v: u8| v == 0) as fn(u8) -> bool),
            ("cover.label", 8, |v| v > 0),
        ] {
            let path = dir.join(file);
            if !path.is_file() {
                continue;
            }
            any = true;
            let labels = read_label_lines(&path, max)?;
            check_same_length(&path, labels.len(), &gt, boxes.len())?;
            for (f, v) in flags.iter_mut().zip(labels) {
                *f &= visible_if(v);
            }
        }
        Ok(SequenceAnno::new(boxes, any.then_some(flags)))
    }

    fn frame_path(&self, seq: usize, frame: usize) -> PathBuf {
        self.seq_dir(seq).join(format!("{:08}.jpg", frame + 1))
    }
}
