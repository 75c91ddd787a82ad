//! "Bring your own sequences": one folder per sequence holding its frames and `groundtruth.txt`.
//!
//! * Sequences: the names in `<root>/list.txt` when present, else every sub-folder with a
//!   `groundtruth.txt`, naturally sorted.
//! * Frames: images (jpg, jpeg, png, bmp, webp) in `<seq>/img/`, `<seq>/imgs/` or `<seq>/`
//!   itself (first of these that has any), naturally sorted (`2.jpg` before `10.jpg`).
//! * Ground truth: `x, y, w, h` per frame, comma, tab or space separated.
//! * Optional `absence.label` (1 = target absent) and `cover.label` (GOT-10k style 0–8), one value
//!   per frame; missing files are fine (original issue #66).

use std::path::{Path, PathBuf};

use super::{
    ANY_IMAGE, DatasetId, EvalSequence, basic_sequence, list_images, read_frame_labels,
    read_ground_truth, read_name_list, sub_dirs,
};
use crate::error::Result;
use crate::textio::NanBoxes;

pub(super) fn list(root: &Path) -> Result<Vec<EvalSequence>> {
    let list_file = root.join("list.txt");
    let names = if list_file.is_file() {
        read_name_list(&list_file)?
    } else {
        sub_dirs(root)?
            .into_iter()
            .filter(|name| root.join(name).join("groundtruth.txt").is_file())
            .collect()
    };
    names
        .into_iter()
        .map(|name| read_sequence(root, name))
        .collect()
}

fn frames_of(dir: &Path) -> Result<Vec<PathBuf>> {
    for candidate in [dir.join("img"), dir.join("imgs"), dir.to_path_buf()] {
        let frames = list_images(&candidate, &ANY_IMAGE)?;
        if !frames.is_empty() {
            return Ok(frames);
        }
    }
    Ok(Vec::new())
}

fn read_sequence(root: &Path, name: String) -> Result<EvalSequence> {
    let dir = root.join(&name);
    let gt_path = dir.join("groundtruth.txt");
    let ground_truth = read_ground_truth(&gt_path, NanBoxes::Reject)?;
    let n = ground_truth.len();
    let frames = frames_of(&dir)?;
    let mut seq = basic_sequence(name, DatasetId::Custom, frames, ground_truth, gt_path);
    let absence = dir.join("absence.label");
    if absence.is_file() {
        seq.visible = Some(
            read_frame_labels(&absence, n)?
                .iter()
                .map(|&a| a == 0.0)
                .collect(),
        );
    }
    let cover = dir.join("cover.label");
    if cover.is_file() {
        seq.cover = Some(
            read_frame_labels(&cover, n)?
                .iter()
                .map(|&c| c.clamp(0.0, 255.0) as u8)
                .collect(),
        );
    }
    Ok(seq)
}
