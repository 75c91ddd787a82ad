//! LaSOT and its extension subset: `<class>/<class>-<k>/` folders.

use std::path::Path;

use super::{
    DatasetId, EvalSequence, basic_sequence, numbered_frames, read_frame_labels, read_ground_truth,
    read_name_list, sub_dirs,
};
use crate::error::{EvalError, Result};
use crate::textio::NanBoxes;

/// The 280-sequence test split file shipped with LaSOT (same order as OSTrack's built-in list).
const TEST_SPLIT_FILE: &str = "testing_set.txt";

pub(super) fn list(root: &Path, dataset: DatasetId) -> Result<Vec<EvalSequence>> {
    let split_file = root.join(TEST_SPLIT_FILE);
    let names: Vec<(String, String)> = if dataset == DatasetId::Lasot && split_file.is_file() {
        read_name_list(&split_file)?
            .into_iter()
            .map(|name| (class_of(&name).to_string(), name))
            .collect()
    } else {
        every_sequence(root)?
    };
    names
        .into_iter()
        .map(|(class, name)| read_sequence(root, class, name, dataset))
        .collect()
}

/// LaSOT names its sequences `<class>-<k>`; OSTrack derives the class folder from the name.
fn class_of(name: &str) -> &str {
    name.split('-').next().unwrap_or(name)
}

fn every_sequence(root: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for class in sub_dirs(root)? {
        for seq in sub_dirs(&root.join(&class))? {
            if root
                .join(&class)
                .join(&seq)
                .join("groundtruth.txt")
                .is_file()
            {
                out.push((class.clone(), seq));
            }
        }
    }
    Ok(out)
}

fn read_sequence(
    root: &Path,
    class: String,
    name: String,
    dataset: DatasetId,
) -> Result<EvalSequence> {
    let dir = root.join(&class).join(&name);
    if !dir.is_dir() {
        return Err(EvalError::invalid(&dir, "sequence folder not found"));
    }
    let gt_path = dir.join("groundtruth.txt");
    let ground_truth = read_ground_truth(&gt_path, NanBoxes::Reject)?;
    let n = ground_truth.len();
    let occlusion = read_frame_labels(&dir.join("full_occlusion.txt"), n)?;
    let out_of_view = read_frame_labels(&dir.join("out_of_view.txt"), n)?;
    let frames = numbered_frames(&dir.join("img"), 1, n, 8, "jpg");
    let mut seq = basic_sequence(name, dataset, frames, ground_truth, gt_path);
    seq.visible = Some(
        occlusion
            .iter()
            .zip(&out_of_view)
            .map(|(&o, &v)| o == 0.0 && v == 0.0)
            .collect(),
    );
    seq.object_class = Some(class);
    Ok(seq)
}
