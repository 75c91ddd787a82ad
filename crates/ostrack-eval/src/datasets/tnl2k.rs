//! TNL2K test set: `<seq>/groundtruth.txt` and `<seq>/imgs/*` (language descriptions are not
//! needed for box evaluation).

use std::path::Path;

use super::{
    ANY_IMAGE, DatasetId, EvalSequence, basic_sequence, list_images, read_ground_truth, sub_dirs,
};
use crate::error::Result;
use crate::textio::NanBoxes;

pub(super) fn list(root: &Path) -> Result<Vec<EvalSequence>> {
    sub_dirs(root)?
        .into_iter()
        .filter(|name| root.join(name).join("groundtruth.txt").is_file())
        .map(|name| {
            let dir = root.join(&name);
            let gt_path = dir.join("groundtruth.txt");
            let ground_truth = read_ground_truth(&gt_path, NanBoxes::Reject)?;
            let frames = list_images(&dir.join("imgs"), &ANY_IMAGE)?;
            Ok(basic_sequence(
                name,
                DatasetId::Tnl2k,
                frames,
                ground_truth,
                gt_path,
            ))
        })
        .collect()
}
