//! Where the datasets live: a small YAML settings file (`ostrack-data.yaml`) and/or CLI flags,
//! never paths in source code (the original's generated `local.py`).
//!
//! ```yaml
//! root: /data                  # optional base; every missing entry defaults below it
//! got10k: /data/got10k/train   # folder holding list.txt and GOT-10k_Train_* (default <root>/got10k/train)
//! got10k_val: /data/got10k/val # default <root>/got10k/val
//! lasot: /data/lasot           # <class>/<class>-<k>/ (default <root>/lasot)
//! trackingnet: /data/trackingnet  # TRAIN_0 .. TRAIN_11 (default <root>/trackingnet)
//! coco: /data/coco             # annotations/ and images/train2017/ (default <root>/coco)
//! custom: /data/my_sequences   # one folder per sequence (default <root>/custom)
//! data_specs: /data/data_specs # split files of the original repository (default <root>/data_specs)
//! ```
//! Relative paths are resolved against the settings file's folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use ostrack_config::untrusted::{check_yaml_mapping, read_yaml_text};

use crate::error::DataError;

/// Dataset locations.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRoots {
    pub root: Option<PathBuf>,
    pub got10k: Option<PathBuf>,
    pub got10k_val: Option<PathBuf>,
    pub lasot: Option<PathBuf>,
    pub trackingnet: Option<PathBuf>,
    pub coco: Option<PathBuf>,
    pub custom: Option<PathBuf>,
    pub data_specs: Option<PathBuf>,
}

/// The settings file name looked for by default.
pub const SETTINGS_FILE: &str = "ostrack-data.yaml";

/// One root the datasets use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKey {
    Got10k,
    Got10kVal,
    Lasot,
    TrackingNet,
    Coco,
    Custom,
    DataSpecs,
}

impl RootKey {
    /// The settings key (also the CLI flag without `--`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Got10k => "got10k",
            Self::Got10kVal => "got10k_val",
            Self::Lasot => "lasot",
            Self::TrackingNet => "trackingnet",
            Self::Coco => "coco",
            Self::Custom => "custom",
            Self::DataSpecs => "data_specs",
        }
    }

    fn default_below_root(self) -> &'static str {
        match self {
            Self::Got10k => "got10k/train",
            Self::Got10kVal => "got10k/val",
            Self::Lasot => "lasot",
            Self::TrackingNet => "trackingnet",
            Self::Coco => "coco",
            Self::Custom => "custom",
            Self::DataSpecs => "data_specs",
        }
    }
}

impl DataRoots {
    /// Reads a settings file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let invalid = |e: String| DataError::file(path, format!("invalid settings: {e}"));
        // Bounded like configs: size, nesting and alias expansion, and a mapping of keys.
        let text = read_yaml_text(path).map_err(|e| DataError::io(path, e))?;
        check_yaml_mapping(&text, "dataset roots (root, got10k, lasot, ...)").map_err(invalid)?;
        let mut roots: DataRoots =
            yaml_serde::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        for slot in roots.slots_mut() {
            if let Some(p) = slot.as_mut().filter(|p| p.is_relative()) {
                *p = base.join(&*p);
            }
        }
        Ok(roots)
    }

    fn slots_mut(&mut self) -> [&mut Option<PathBuf>; 8] {
        [
            &mut self.root,
            &mut self.got10k,
            &mut self.got10k_val,
            &mut self.lasot,
            &mut self.trackingnet,
            &mut self.coco,
            &mut self.custom,
            &mut self.data_specs,
        ]
    }

    fn slot(&self, key: RootKey) -> &Option<PathBuf> {
        match key {
            RootKey::Got10k => &self.got10k,
            RootKey::Got10kVal => &self.got10k_val,
            RootKey::Lasot => &self.lasot,
            RootKey::TrackingNet => &self.trackingnet,
            RootKey::Coco => &self.coco,
            RootKey::Custom => &self.custom,
            RootKey::DataSpecs => &self.data_specs,
        }
    }

    /// Sets one root (CLI flags override the file).
    pub fn set(&mut self, key: RootKey, path: PathBuf) {
        *match key {
            RootKey::Got10k => &mut self.got10k,
            RootKey::Got10kVal => &mut self.got10k_val,
            RootKey::Lasot => &mut self.lasot,
            RootKey::TrackingNet => &mut self.trackingnet,
            RootKey::Coco => &mut self.coco,
            RootKey::Custom => &mut self.custom,
            RootKey::DataSpecs => &mut self.data_specs,
        } = Some(path);
    }

    /// The configured folder for `key`, or its default below `root`; an error says how to set it.
    pub fn resolve(&self, key: RootKey) -> Result<PathBuf, DataError> {
        if let Some(p) = self.slot(key) {
            return Ok(p.clone());
        }
        if let Some(root) = &self.root {
            return Ok(root.join(key.default_below_root()));
        }
        Err(DataError::setup(format!(
            "no folder for `{}`: set `{}:` (or `root:`) in {SETTINGS_FILE} or pass --{}",
            key.key(),
            key.key(),
            key.key()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SETTINGS_FILE);
        std::fs::write(&file, "root: data\nlasot: /abs/lasot\n").unwrap();
        let roots = DataRoots::load(&file).unwrap();
        assert_eq!(
            roots.resolve(RootKey::Lasot).unwrap(),
            PathBuf::from("/abs/lasot")
        );
        assert_eq!(
            roots.resolve(RootKey::Got10k).unwrap(),
            dir.path().join("data/got10k/train")
        );
        assert_eq!(
            roots.resolve(RootKey::DataSpecs).unwrap(),
            dir.path().join("data/data_specs")
        );
        assert!(
            DataRoots::default()
                .resolve(RootKey::Coco)
                .unwrap_err()
                .to_string()
                .contains("--coco")
        );
        std::fs::write(&file, "got10: x\n").unwrap();
        assert!(
            DataRoots::load(&file)
                .unwrap_err()
                .to_string()
                .contains("got10")
        );
    }
}
