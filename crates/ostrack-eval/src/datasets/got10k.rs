//! GOT-10k `val` / `test` (toolkit layout, also what OSTrack's `got10kdataset.py` reads).

use std::path::{Path, PathBuf};

use super::{
    DatasetId, EvalSequence, basic_sequence, list_images, read_frame_labels, read_ground_truth,
    read_name_list,
};
use crate::error::{EvalError, Result};
use crate::textio::{self, NanBoxes};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Split {
    Val,
    Test,
}

impl Split {
    fn folder(self) -> &'static str {
        match self {
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    fn dataset(self) -> DatasetId {
        match self {
            Split::Val => DatasetId::Got10kVal,
            Split::Test => DatasetId::Got10kTest,
        }
    }
}

/// `root` is the split folder (holding `list.txt`) or the GOT-10k root holding `val/` / `test/`.
fn split_dir(root: &Path, split: Split) -> Result<PathBuf> {
    if root.join("list.txt").is_file() {
        return Ok(root.to_path_buf());
    }
    let nested = root.join(split.folder());
    if nested.join("list.txt").is_file() {
        return Ok(nested);
    }
    Err(EvalError::invalid(
        root,
        format!(
            "GOT-10k {} split not found: expected list.txt here or in {}/",
            split.folder(),
            split.folder()
        ),
    ))
}

pub(super) fn list(root: &Path, split: Split) -> Result<Vec<EvalSequence>> {
    let base = split_dir(root, split)?;
    let names = read_name_list(&base.join("list.txt"))?;
    names
        .into_iter()
        .map(|name| read_sequence(&base, name, split))
        .collect()
}

fn read_sequence(base: &Path, name: String, split: Split) -> Result<EvalSequence> {
    let dir = base.join(&name);
    let gt_path = dir.join("groundtruth.txt");
    let ground_truth = read_ground_truth(&gt_path, NanBoxes::Reject)?;
    let frames = list_images(&dir, &["jpg"])?;
    let mut seq = basic_sequence(name, split.dataset(), frames, ground_truth, gt_path);
    if split == Split::Test {
        return Ok(seq);
    }
    let n = seq.ground_truth.len();
    let cover = read_frame_labels(&dir.join("cover.label"), n)?;
    seq.cover = Some(cover.iter().map(|&c| c.clamp(0.0, 255.0) as u8).collect());
    let absence_path = dir.join("absence.label");
    if absence_path.is_file() {
        let absence = read_frame_labels(&absence_path, n)?;
        seq.visible = Some(absence.iter().map(|&a| a == 0.0).collect());
    }
    let meta_path = dir.join("meta_info.ini");
    let meta = MetaInfo::read(&meta_path)?;
    seq.image_size = Some(meta.resolution(&meta_path)?);
    seq.object_class = meta.get("object_class").map(str::to_string);
    Ok(seq)
}

/// `meta_info.ini`: a `[METAINFO]` header followed by `key: value` lines.
struct MetaInfo {
    entries: Vec<(String, String)>,
}

impl MetaInfo {
    fn read(path: &Path) -> Result<MetaInfo> {
        let text = textio::read_text(path)?;
        let entries = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(MetaInfo { entries })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `resolution: (W, H)` — the image bound the GOT-10k toolkit clips boxes to.
    fn resolution(&self, path: &Path) -> Result<[f64; 2]> {
        let raw = self
            .get("resolution")
            .ok_or_else(|| EvalError::invalid(path, "no `resolution: (W, H)` entry"))?;
        let inner = raw.trim().trim_start_matches('(').trim_end_matches(')');
        let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
        let parsed: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok()).collect();
        match parsed.as_deref() {
            Some([w, h]) if *w > 0.0 && *h > 0.0 => Ok([*w, *h]),
            _ => Err(EvalError::invalid(
                path,
                format!("resolution {raw:?} is not `(W, H)` with positive numbers"),
            )),
        }
    }
}
