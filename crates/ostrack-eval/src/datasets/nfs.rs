//! Need for Speed (30 fps) in the pytracking layout: `anno/nfs_<Seq>.txt` (x, y, w, h) and
//! `sequences/<Seq>/%05d.jpg`.
//!
//! The NfS download itself ships `<Seq>/30/<Seq>.txt` in another format; like OSTrack, this
//! reader expects the converted `anno/` files (the layout issue #77 of the original asks about).

use std::path::Path;

use super::{
    DatasetId, EvalSequence, basic_sequence, dir_entries, numbered_frames, read_ground_truth,
    sort_natural,
};
use crate::error::{EvalError, Result};
use crate::textio::NanBoxes;

pub(super) fn list(root: &Path) -> Result<Vec<EvalSequence>> {
    let anno_dir = root.join("anno");
    if !anno_dir.is_dir() {
        return Err(EvalError::invalid(
            root,
            "NfS layout not found: expected anno/nfs_<Seq>.txt and sequences/<Seq>/",
        ));
    }
    let mut names: Vec<String> = dir_entries(&anno_dir)?
        .into_iter()
        .filter(|(name, is_dir)| !is_dir && name.starts_with("nfs_") && name.ends_with(".txt"))
        .map(|(name, _)| name.trim_end_matches(".txt").to_string())
        .collect();
    sort_natural(&mut names);
    names
        .into_iter()
        .map(|name| {
            let gt_path = anno_dir.join(format!("{name}.txt"));
            let ground_truth = read_ground_truth(&gt_path, NanBoxes::Reject)?;
            let folder = root.join("sequences").join(name.trim_start_matches("nfs_"));
            let frames = numbered_frames(&folder, 1, ground_truth.len(), 5, "jpg");
            Ok(basic_sequence(
                name,
                DatasetId::Nfs,
                frames,
                ground_truth,
                gt_path,
            ))
        })
        .collect()
}
