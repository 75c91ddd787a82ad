//! UAV123 in its distribution layout: `anno/UAV123/<seq>.txt`, `data_seq/UAV123/<seq>/%06d.jpg`.
//!
//! Sequences are discovered from the annotation files and named `uav_<seq>` as in OSTrack.
//! Long videos are split into parts `<video>_<k>` that share the image folder `<video>`; the
//! image each part starts at is a fact of the benchmark ([`PART_STARTS`], parts after the first;
//! first parts start at image 1). Ground truth may contain `NaN` rows (target absent).

use std::path::Path;

use super::{
    DatasetId, EvalSequence, basic_sequence, dir_entries, numbered_frames, read_ground_truth,
    sort_natural,
};
use crate::error::{EvalError, Result};
use crate::textio::NanBoxes;

/// First image of every part after the first, for the videos UAV123 splits.
const PART_STARTS: [(&str, usize); 29] = [
    ("bird1_2", 775),
    ("bird1_3", 1573),
    ("car1_2", 751),
    ("car1_3", 1627),
    ("car16_2", 415),
    ("car6_2", 487),
    ("car6_3", 1807),
    ("car6_4", 2953),
    ("car6_5", 3925),
    ("car8_2", 1357),
    ("group1_2", 1333),
    ("group1_3", 2515),
    ("group1_4", 3925),
    ("group2_2", 907),
    ("group2_3", 1771),
    ("group3_2", 1567),
    ("group3_3", 2827),
    ("group3_4", 4369),
    ("person12_2", 601),
    ("person14_2", 847),
    ("person14_3", 1813),
    ("person17_2", 1501),
    ("person19_2", 1243),
    ("person19_3", 2791),
    ("person2_2", 1189),
    ("person4_2", 1501),
    ("person5_2", 877),
    ("person7_2", 1249),
    ("person8_2", 1075),
];

pub(super) fn list(root: &Path) -> Result<Vec<EvalSequence>> {
    let anno_dir = root.join("anno").join("UAV123");
    if !anno_dir.is_dir() {
        return Err(EvalError::invalid(
            root,
            "UAV123 layout not found: expected anno/UAV123/",
        ));
    }
    let mut stems: Vec<String> = dir_entries(&anno_dir)?
        .into_iter()
        .filter(|(name, is_dir)| !is_dir && name.ends_with(".txt"))
        .map(|(name, _)| name.trim_end_matches(".txt").to_string())
        .collect();
    sort_natural(&mut stems);
    let images = root.join("data_seq").join("UAV123");
    stems
        .into_iter()
        .map(|stem| {
            let gt_path = anno_dir.join(format!("{stem}.txt"));
            let ground_truth = read_ground_truth(&gt_path, NanBoxes::Allow)?;
            let (folder, first) = image_range(&images, &stem, &gt_path)?;
            let frames = numbered_frames(&images.join(folder), first, ground_truth.len(), 6, "jpg");
            Ok(basic_sequence(
                format!("uav_{stem}"),
                DatasetId::Uav123,
                frames,
                ground_truth,
                gt_path,
            ))
        })
        .collect()
}

/// Image folder and first image number of a sequence.
fn image_range<'a>(images: &Path, stem: &'a str, gt_path: &Path) -> Result<(&'a str, usize)> {
    if images.join(stem).is_dir() {
        return Ok((stem, 1));
    }
    let Some((video, part)) = stem.rsplit_once('_') else {
        return Ok((stem, 1));
    };
    if part == "1" {
        return Ok((video, 1));
    }
    if let Some((_, first)) = PART_STARTS.iter().find(|(name, _)| *name == stem) {
        return Ok((video, *first));
    }
    if part.chars().all(|c| c.is_ascii_digit()) && images.join(video).is_dir() {
        return Err(EvalError::invalid(
            gt_path,
            format!(
                "part {part} of video {video}: its first image in data_seq/UAV123/{video} is unknown"
            ),
        ));
    }
    Ok((stem, 1))
}
