//! OTB-2015 in its distribution layout: `<Seq>/img/%04d.jpg` and `<Seq>/groundtruth_rect.txt`.
//!
//! Sequences are discovered from the folders (OSTrack carries a 100-entry table instead). A
//! folder with `groundtruth_rect.<k>.txt` files holds several targets and yields sequences
//! `<Seq>_<k>` sharing one image folder (Jogging_1, Jogging_2, Skating2_1, Skating2_2, Human4_2).
//! Frames are generated from the ground-truth length as the original does; the few sequences
//! whose annotation does not start at image 1 or whose images are not `%04d.jpg` are listed in
//! [`IRREGULAR`].

use std::path::Path;

use super::{
    DatasetId, EvalSequence, basic_sequence, dir_entries, numbered_frames, read_ground_truth,
    sort_natural, sub_dirs,
};
use crate::error::{EvalError, Result};
use crate::textio::NanBoxes;

/// Facts of the OTB-2015 distribution that a folder listing cannot reveal.
struct Irregular {
    folder: &'static str,
    /// Number of the image the first annotation belongs to.
    first_image: usize,
    /// Zero padding of the image file names.
    digits: usize,
    /// Leading annotated frames the benchmark protocol skips (`initOmit`).
    omit: usize,
}

const IRREGULAR: [Irregular; 6] = [
    Irregular {
        folder: "BlurCar1",
        first_image: 247,
        digits: 4,
        omit: 0,
    },
    Irregular {
        folder: "BlurCar3",
        first_image: 3,
        digits: 4,
        omit: 0,
    },
    Irregular {
        folder: "BlurCar4",
        first_image: 18,
        digits: 4,
        omit: 0,
    },
    Irregular {
        folder: "David",
        first_image: 300,
        digits: 4,
        omit: 0,
    },
    Irregular {
        folder: "Board",
        first_image: 1,
        digits: 5,
        omit: 0,
    },
    Irregular {
        folder: "Tiger1",
        first_image: 1,
        digits: 4,
        omit: 5,
    },
];

pub(super) fn list(root: &Path) -> Result<Vec<EvalSequence>> {
    let mut out = Vec::new();
    for folder in sub_dirs(root)? {
        let dir = root.join(&folder);
        for (name, anno) in annotation_files(&dir, &folder)? {
            out.push(read_sequence(root, &folder, name, &anno)?);
        }
    }
    Ok(out)
}

/// `(sequence name, annotation file name)` pairs of one folder.
fn annotation_files(dir: &Path, folder: &str) -> Result<Vec<(String, String)>> {
    let mut files: Vec<String> = dir_entries(dir)?
        .into_iter()
        .filter(|(n, is_dir)| !is_dir && n.starts_with("groundtruth_rect") && n.ends_with(".txt"))
        .map(|(n, _)| n)
        .collect();
    sort_natural(&mut files);
    Ok(files
        .into_iter()
        .filter_map(|file| {
            let middle = file
                .strip_prefix("groundtruth_rect")?
                .strip_suffix(".txt")?
                .to_string();
            let name = match middle.strip_prefix('.') {
                None if middle.is_empty() => folder.to_string(),
                Some(target) if !target.is_empty() => format!("{folder}_{target}"),
                _ => return None,
            };
            Some((name, file))
        })
        .collect())
}

fn read_sequence(root: &Path, folder: &str, name: String, anno: &str) -> Result<EvalSequence> {
    let gt_path = root.join(folder).join(anno);
    let irregular = IRREGULAR.iter().find(|s| s.folder == folder);
    let (first_image, digits, omit) = irregular
        .map(|s| (s.first_image, s.digits, s.omit))
        .unwrap_or((1, 4, 0));
    let all = read_ground_truth(&gt_path, NanBoxes::Reject)?;
    if all.len() <= omit {
        return Err(EvalError::invalid(
            &gt_path,
            format!(
                "{} boxes, but the protocol skips the first {omit}",
                all.len()
            ),
        ));
    }
    let ground_truth = all[omit..].to_vec();
    let frames = numbered_frames(
        &root.join(folder).join("img"),
        first_image + omit,
        ground_truth.len(),
        digits,
        "jpg",
    );
    Ok(basic_sequence(
        name,
        DatasetId::Otb,
        frames,
        ground_truth,
        gt_path,
    ))
}
