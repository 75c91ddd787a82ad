//! Benchmark sequence listings for evaluation and tracker runs.
//!
//! Each reader follows the on-disk layout that OSTrack's own `lib/test/evaluation/*dataset.py`
//! (or the benchmark's toolkit) expects, and returns ground truth, per-frame labels and frame
//! paths. Scoring never opens an image: frame lists come from a directory listing where the
//! original lists the directory (GOT-10k, TrackingNet, TNL2K, custom) and are generated from the
//! ground-truth length where the original generates them (LaSOT, OTB, UAV123, NfS), so a missing
//! image folder is not an error.

mod custom;
mod got10k;
mod lasot;
mod nfs;
mod otb;
mod tnl2k;
mod trackingnet;
mod uav123;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{EvalError, Result};
use crate::metrics::Preset;
use crate::textio::{self, NanBoxes};

/// The benchmarks this crate can list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetId {
    /// GOT-10k validation split (`val/list.txt`, full ground truth, cover labels, resolution).
    Got10kVal,
    /// GOT-10k test split (ground truth withheld: first frame only).
    Got10kTest,
    /// LaSOT (`testing_set.txt` if present, else every sequence found).
    Lasot,
    /// LaSOT extension subset (same layout, every sequence found).
    LasotExt,
    /// TrackingNet TEST split (ground truth withheld: first frame only).
    TrackingNet,
    /// OTB-2015 / OTB-100 in its distribution layout.
    Otb,
    /// UAV123 in its distribution layout (`anno/UAV123`, `data_seq/UAV123`).
    Uav123,
    /// Need for Speed (30 fps) in the pytracking layout (`anno/nfs_*.txt`, `sequences/`).
    Nfs,
    /// TNL2K test set.
    Tnl2k,
    /// Plain folders: one per sequence with frames and `groundtruth.txt`.
    Custom,
}

impl DatasetId {
    /// Every dataset, in documentation order.
    pub const ALL: [DatasetId; 10] = [
        DatasetId::Got10kVal,
        DatasetId::Got10kTest,
        DatasetId::Lasot,
        DatasetId::LasotExt,
        DatasetId::TrackingNet,
        DatasetId::Otb,
        DatasetId::Uav123,
        DatasetId::Nfs,
        DatasetId::Tnl2k,
        DatasetId::Custom,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            DatasetId::Got10kVal => "got10k-val",
            DatasetId::Got10kTest => "got10k-test",
            DatasetId::Lasot => "lasot",
            DatasetId::LasotExt => "lasot-ext",
            DatasetId::TrackingNet => "trackingnet",
            DatasetId::Otb => "otb",
            DatasetId::Uav123 => "uav123",
            DatasetId::Nfs => "nfs",
            DatasetId::Tnl2k => "tnl2k",
            DatasetId::Custom => "custom",
        }
    }

    /// Whether the public ground truth is only the initialisation box (scored by a server).
    pub fn ground_truth_withheld(self) -> bool {
        matches!(self, DatasetId::Got10kTest | DatasetId::TrackingNet)
    }

    /// The scoring protocol the benchmark's numbers are normally reported with; `None` where
    /// the ground truth is withheld.
    pub fn default_preset(self) -> Option<Preset> {
        match self {
            DatasetId::Got10kVal => Some(Preset::Got10k),
            DatasetId::Got10kTest | DatasetId::TrackingNet => None,
            _ => Some(Preset::Pytracking),
        }
    }

    /// OSTrack writes results of these datasets into a `<dataset>/` subfolder of the tracker's
    /// result directory (`running.py`); the folder name is the pytracking dataset name.
    pub fn results_subfolder(self) -> Option<&'static str> {
        match self {
            DatasetId::Got10kVal | DatasetId::Got10kTest => Some("got10k"),
            DatasetId::TrackingNet => Some("trackingnet"),
            _ => None,
        }
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetId {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        let id = match key.as_str() {
            "got10k-val" | "got10k" | "got-10k-val" => DatasetId::Got10kVal,
            "got10k-test" | "got-10k-test" => DatasetId::Got10kTest,
            "lasot" => DatasetId::Lasot,
            "lasot-ext" | "lasot-extension-subset" | "lasotext" => DatasetId::LasotExt,
            "trackingnet" | "trackingnet-test" => DatasetId::TrackingNet,
            "otb" | "otb100" | "otb2015" => DatasetId::Otb,
            "uav123" | "uav" => DatasetId::Uav123,
            "nfs" | "nfs30" => DatasetId::Nfs,
            "tnl2k" => DatasetId::Tnl2k,
            "custom" => DatasetId::Custom,
            _ => {
                let known: Vec<&str> = DatasetId::ALL.iter().map(|d| d.name()).collect();
                return Err(EvalError::Request(format!(
                    "unknown dataset {s:?}; expected one of {}",
                    known.join(", ")
                )));
            }
        };
        Ok(id)
    }
}

/// One benchmark sequence as the evaluation needs it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalSequence {
    /// Name used for result files (`<name>.txt`), as in OSTrack (e.g. `uav_bird1_1`, `nfs_Gymnastics`).
    pub name: String,
    /// Benchmark the sequence belongs to (some protocols treat benchmarks differently).
    pub dataset: DatasetId,
    /// Frame image paths in tracking order (may be empty where the images are not present).
    pub frames: Vec<PathBuf>,
    /// Ground-truth `x, y, w, h` per frame (UAV123 has NaN rows where the target is absent).
    pub ground_truth: Vec<[f64; 4]>,
    /// File the ground truth was read from (for error messages).
    pub ground_truth_path: PathBuf,
    /// Per-frame target visibility where the benchmark labels it (LaSOT: not fully occluded and
    /// not out of view; GOT-10k and custom: `absence.label == 0`).
    pub visible: Option<Vec<bool>>,
    /// GOT-10k `cover.label` (0 = fully occluded/absent … 8 = fully visible).
    pub cover: Option<Vec<u8>>,
    /// Image size `(width, height)` from GOT-10k's `meta_info.ini`.
    pub image_size: Option<[f64; 2]>,
    /// Object class where the benchmark names one.
    pub object_class: Option<String>,
}

/// Lists the sequences of `dataset` found under `root`.
///
/// Layouts (paths relative to `root`):
/// * `got10k-val` / `got10k-test`: `list.txt` and `<seq>/{groundtruth.txt, absence.label,
///   cover.label, meta_info.ini, *.jpg}`; `root` may also be the GOT-10k root holding `val/` / `test/`.
/// * `lasot` / `lasot-ext`: `<class>/<class>-<k>/{groundtruth.txt, full_occlusion.txt,
///   out_of_view.txt, img/%08d.jpg}`; LaSOT uses `testing_set.txt` in `root` when present.
/// * `trackingnet`: `TEST/anno/<seq>.txt`, `TEST/frames/<seq>/<i>.jpg` (`root` may be `TEST` itself).
/// * `otb`: `<Seq>/groundtruth_rect.txt` (or `groundtruth_rect.<k>.txt` → sequence `<Seq>_<k>`),
///   frames `<Seq>/img/%04d.jpg`.
/// * `uav123`: `anno/UAV123/<seq>.txt`, frames `data_seq/UAV123/<seq>/%06d.jpg`.
/// * `nfs`: `anno/nfs_<Seq>.txt`, frames `sequences/<Seq>/%05d.jpg`.
/// * `tnl2k`: `<seq>/{groundtruth.txt, imgs/*}`.
/// * `custom`: `<seq>/groundtruth.txt` with frames in `<seq>/`, `<seq>/img/` or `<seq>/imgs/`,
///   optional `absence.label`; `list.txt` in `root` selects and orders sequences.
pub fn list_sequences(dataset: DatasetId, root: &Path) -> Result<Vec<EvalSequence>> {
    if !root.is_dir() {
        return Err(EvalError::invalid(
            root,
            format!("{dataset} data root is not a directory"),
        ));
    }
    let sequences = match dataset {
        DatasetId::Got10kVal => got10k::list(root, got10k::Split::Val)?,
        DatasetId::Got10kTest => got10k::list(root, got10k::Split::Test)?,
        DatasetId::Lasot => lasot::list(root, DatasetId::Lasot)?,
        DatasetId::LasotExt => lasot::list(root, DatasetId::LasotExt)?,
        DatasetId::TrackingNet => trackingnet::list(root)?,
        DatasetId::Otb => otb::list(root)?,
        DatasetId::Uav123 => uav123::list(root)?,
        DatasetId::Nfs => nfs::list(root)?,
        DatasetId::Tnl2k => tnl2k::list(root)?,
        DatasetId::Custom => custom::list(root)?,
    };
    if sequences.is_empty() {
        return Err(EvalError::invalid(
            root,
            format!("no {dataset} sequences found"),
        ));
    }
    Ok(sequences)
}

// ---- helpers shared by the readers -------------------------------------------------------

/// Sorts names the way people number frames and sequences (`2.jpg` before `10.jpg`).
pub(crate) fn sort_natural(names: &mut [String]) {
    alphanumeric_sort::sort_str_slice(names);
}

/// Entries of a directory (file or directory names), unsorted.
pub(crate) fn dir_entries(dir: &Path) -> Result<Vec<(String, bool)>> {
    let read = std::fs::read_dir(dir).map_err(|e| EvalError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| EvalError::io(dir, e))?;
        let is_dir = entry.path().is_dir();
        out.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    Ok(out)
}

/// Sub-directory names of `dir`, naturally sorted.
pub(crate) fn sub_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = dir_entries(dir)?
        .into_iter()
        .filter(|(_, is_dir)| *is_dir)
        .map(|(name, _)| name)
        .collect();
    sort_natural(&mut names);
    Ok(names)
}

/// Image extensions accepted where the original lists a folder of arbitrary images.
pub(crate) const ANY_IMAGE: [&str; 5] = ["jpg", "jpeg", "png", "bmp", "webp"];

/// Image files directly inside `dir` with one of `extensions`, naturally sorted; an absent
/// directory gives an empty list.
pub(crate) fn list_images(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = dir_entries(dir)?
        .into_iter()
        .filter(|(name, is_dir)| {
            !is_dir
                && Path::new(name)
                    .extension()
                    .map(|e| {
                        extensions.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
                    })
                    .unwrap_or(false)
        })
        .map(|(name, _)| name)
        .collect();
    sort_natural(&mut names);
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// Frame paths `dir/{first..first+count}` zero-padded to `digits` (how the original generates
/// LaSOT, OTB, UAV123 and NfS frame lists).
pub(crate) fn numbered_frames(
    dir: &Path,
    first: usize,
    count: usize,
    digits: usize,
    ext: &str,
) -> Vec<PathBuf> {
    (first..first + count)
        .map(|i| dir.join(format!("{i:0digits$}.{ext}")))
        .collect()
}

/// Reads a ground-truth file.
pub(crate) fn read_ground_truth(path: &Path, nan: NanBoxes) -> Result<Vec<[f64; 4]>> {
    if !path.is_file() {
        return Err(EvalError::invalid(path, "ground-truth file not found"));
    }
    let table = textio::read_boxes(path, nan)?;
    if table.boxes.is_empty() {
        return Err(EvalError::invalid(path, "ground-truth file has no boxes"));
    }
    Ok(table.boxes)
}

/// Reads a per-frame label file (one value per line or one comma-separated line) and checks
/// that it has one value per ground-truth frame.
pub(crate) fn read_frame_labels(path: &Path, frames: usize) -> Result<Vec<f64>> {
    let values = textio::read_numbers(path)?;
    if values.len() != frames {
        return Err(EvalError::invalid(
            path,
            format!(
                "{} labels, but the ground truth has {frames} frames",
                values.len()
            ),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::invalid(
            path,
            format!("label {} is not a finite number", i + 1),
        ));
    }
    Ok(values)
}

/// A sequence with only ground truth and frames known; readers fill in the rest.
pub(crate) fn basic_sequence(
    name: String,
    dataset: DatasetId,
    frames: Vec<PathBuf>,
    ground_truth: Vec<[f64; 4]>,
    ground_truth_path: PathBuf,
) -> EvalSequence {
    EvalSequence {
        name,
        dataset,
        frames,
        ground_truth,
        ground_truth_path,
        visible: None,
        cover: None,
        image_size: None,
        object_class: None,
    }
}

/// Reads a `list.txt`-style file: one name per line, blank lines ignored.
pub(crate) fn read_name_list(path: &Path) -> Result<Vec<String>> {
    Ok(textio::read_text(path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}
