//! Tracking datasets in their official on-disk layouts, behind one small trait.

pub mod annotation;
mod coco;
mod custom;
mod got10k;
mod lasot;
mod trackingnet;

use std::path::{Path, PathBuf};

pub use annotation::SequenceAnno;
pub use coco::Coco;
pub use custom::Custom;
pub use got10k::Got10k;
pub use lasot::Lasot;
pub use trackingnet::TrackingNet;

use crate::error::DataError;
use crate::settings::{DataRoots, RootKey};

/// A dataset layout (what `--dataset` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    Got10k,
    Lasot,
    TrackingNet,
    Coco,
    Custom,
}

impl DatasetKind {
    pub const ALL: [DatasetKind; 5] = [
        Self::Got10k,
        Self::Lasot,
        Self::TrackingNet,
        Self::Coco,
        Self::Custom,
    ];

    /// Parses `got10k|lasot|trackingnet|coco|custom`.
    pub fn parse(s: &str) -> Result<Self, DataError> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.to_ascii_lowercase()).ok_or_else(|| {
            DataError::setup(format!("unknown dataset kind `{s}`; expected got10k, lasot, trackingnet, coco or custom"))
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Got10k => "got10k",
            Self::Lasot => "lasot",
            Self::TrackingNet => "trackingnet",
            Self::Coco => "coco",
            Self::Custom => "custom",
        }
    }
}

/// A dataset of sequences (a still-image dataset has one-frame sequences).
/// What every dataset reader knows about itself besides its sequences.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    /// The name it was opened under (the config's `DATASETS_NAME` entry or the layout name).
    pub name: String,
    pub kind: DatasetKind,
    /// The root folder.
    pub root: PathBuf,
    /// Whether sequences are videos (the sampler draws two frames) or single images.
    pub video: bool,
    /// Things the user should know about how the dataset was read (e.g. a generated list).
    pub notes: Vec<String>,
}

impl DatasetInfo {
    pub fn new(
        name: &str,
        kind: DatasetKind,
        root: &Path,
        video: bool,
        notes: Vec<String>,
    ) -> Self {
        Self {
            name: name.to_string(),
            kind,
            root: root.to_path_buf(),
            video,
            notes,
        }
    }
}

pub trait TrackingDataset: Send + Sync {
    fn info(&self) -> &DatasetInfo;
    fn name(&self) -> &str {
        &self.info().name
    }
    fn kind(&self) -> DatasetKind {
        self.info().kind
    }
    fn root(&self) -> &Path {
        &self.info().root
    }
    fn is_video(&self) -> bool {
        self.info().video
    }
    fn notes(&self) -> &[String] {
        &self.info().notes
    }
    fn num_sequences(&self) -> usize;
    /// A human-readable sequence name (folder or annotation id).
    fn sequence_name(&self, seq: usize) -> String;
    /// Reads and validates the sequence's boxes and visibility.
    fn load_annotation(&self, seq: usize) -> Result<SequenceAnno, DataError>;
    /// The image file of 0-based frame `frame`.
    fn frame_path(&self, seq: usize, frame: usize) -> PathBuf;
}

/// The dataset names the original accepts in `DATA.TRAIN/VAL.DATASETS_NAME`, plus `CUSTOM`.
pub const DATASET_NAMES: [&str; 8] = [
    "LASOT",
    "GOT10K_vottrain",
    "GOT10K_votval",
    "GOT10K_train_full",
    "GOT10K_official_val",
    "COCO17",
    "TRACKINGNET",
    "CUSTOM",
];

/// Opens a dataset by its config name (`LASOT`, `GOT10K_vottrain`, …, `CUSTOM`).
pub fn open_dataset(name: &str, roots: &DataRoots) -> Result<Box<dyn TrackingDataset>, DataError> {
    let specs = || roots.resolve(RootKey::DataSpecs);
    let got10k_split = |file: &str| -> Result<Box<dyn TrackingDataset>, DataError> {
        let split = specs()?.join(file);
        Ok(Box::new(Got10k::open(
            name,
            &roots.resolve(RootKey::Got10k)?,
            Some(&split),
        )?))
    };
    match name {
        "LASOT" => {
            let split = specs()?.join("lasot_train_split.txt");
            Ok(Box::new(Lasot::open(
                name,
                &roots.resolve(RootKey::Lasot)?,
                Some(&split),
            )?))
        }
        "GOT10K_vottrain" => got10k_split("got10k_vot_train_split.txt"),
        "GOT10K_votval" => got10k_split("got10k_vot_val_split.txt"),
        "GOT10K_train_full" => got10k_split("got10k_train_full_split.txt"),
        "GOT10K_official_val" => Ok(Box::new(Got10k::open(
            name,
            &roots.resolve(RootKey::Got10kVal)?,
            None,
        )?)),
        "COCO17" => Ok(Box::new(Coco::open(name, &roots.resolve(RootKey::Coco)?)?)),
        "TRACKINGNET" => Ok(Box::new(TrackingNet::open(
            name,
            &roots.resolve(RootKey::TrackingNet)?,
        )?)),
        "CUSTOM" => Ok(Box::new(Custom::open(
            name,
            &roots.resolve(RootKey::Custom)?,
        )?)),
        _ => Err(DataError::setup(format!(
            "unknown dataset name `{name}`; known names: {}",
            DATASET_NAMES.join(", ")
        ))),
    }
}

/// Opens every sequence of a layout at `root`, without split files (used by the doctor, the
/// benchmark and tests).
pub fn open_layout(kind: DatasetKind, root: &Path) -> Result<Box<dyn TrackingDataset>, DataError> {
    let name = kind.as_str();
    Ok(match kind {
        DatasetKind::Got10k => Box::new(Got10k::open(name, root, None)?),
        DatasetKind::Lasot => Box::new(Lasot::open(name, root, None)?),
        DatasetKind::TrackingNet => Box::new(TrackingNet::open(name, root)?),
        DatasetKind::Coco => Box::new(Coco::open(name, root)?),
        DatasetKind::Custom => Box::new(Custom::open(name, root)?),
    })
}

/// Sorted names of the sub-folders of `dir`.
pub(crate) fn sorted_subdirs(dir: &Path) -> Result<Vec<String>, DataError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        if entry
            .file_type()
            .map_err(|e| DataError::io(&entry.path(), e))?
            .is_dir()
        {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Sorted names of the files in `dir` whose extension (lower-case) is in `exts`.
pub(crate) fn sorted_files(dir: &Path, exts: &[&str]) -> Result<Vec<String>, DataError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if path.is_file() && exts.contains(&ext.as_str()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

impl std::str::FromStr for DatasetKind {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        Self::parse(s)
    }
}
