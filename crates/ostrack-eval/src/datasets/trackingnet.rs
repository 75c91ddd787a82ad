//! TrackingNet TEST split: `TEST/anno/<seq>.txt` (first frame only) and `TEST/frames/<seq>/<i>.jpg`.

use std::path::{Path, PathBuf};

use super::{
    DatasetId, EvalSequence, basic_sequence, dir_entries, list_images, read_ground_truth,
    sort_natural,
};
use crate::error::{EvalError, Result};
use crate::textio::NanBoxes;

fn test_dir(root: &Path) -> Result<PathBuf> {
    if root.join("anno").is_dir() {
        return Ok(root.to_path_buf());
    }
    let nested = root.join("TEST");
    if nested.join("anno").is_dir() {
        return Ok(nested);
    }
    Err(EvalError::invalid(
        root,
        "TrackingNet test split not found: expected TEST/anno/ (or anno/ here)",
    ))
}

pub(super) fn list(root: &Path) -> Result<Vec<EvalSequence>> {
    let base = test_dir(root)?;
    let anno_dir = base.join("anno");
    let mut names: Vec<String> = dir_entries(&anno_dir)?
        .into_iter()
        .filter(|(name, is_dir)| !is_dir && name.ends_with(".txt"))
        .map(|(name, _)| name.trim_end_matches(".txt").to_string())
        .collect();
    sort_natural(&mut names);
    names
        .into_iter()
        .map(|name| {
            let gt_path = anno_dir.join(format!("{name}.txt"));
            let ground_truth = read_ground_truth(&gt_path, NanBoxes::Reject)?;
            let frames = list_images(&base.join("frames").join(&name), &["jpg"])?;
            Ok(basic_sequence(
                name,
                DatasetId::TrackingNet,
                frames,
                ground_truth,
                gt_path,
            ))
        })
        .collect()
}
