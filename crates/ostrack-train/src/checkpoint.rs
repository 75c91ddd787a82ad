//! Checkpoints: one burnpack file (`.bpk`, Burn's container) per save, holding the model
//! (official state-dict keys under `model/`), the optimizer moments (under `optimizer/`), the
//! training state (epoch, step, seed, learning rates: the step schedule is a function of the
//! epoch) and the experiment config as JSON metadata. burn-pack builds the file beside its
//! destination, syncs it and renames it into place, so a crash (even `kill -9`) leaves either
//! the previous checkpoints or a complete new one; scratch files never match `*.bpk`.

use std::path::{Path, PathBuf};

use ostrack_config::ExperimentConfig;
use ostrack_weights::{Burnpack, CHECKPOINT_MODEL_PREFIX, StateDict};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

pub const EXTENSION: &str = "bpk";
const OPTIMIZER_PREFIX: &str = "optimizer/";
const STATE_KEY: &str = "ostrack.train_state";
const CONFIG_KEY: &str = "ostrack.config";

/// Where training stands: `epochs_done` full epochs plus `steps_into_epoch` optimizer steps of
/// the next one (non-zero only for a checkpoint written on interrupt).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    pub format: u32,
    pub config: String,
    pub epochs_done: usize,
    pub steps_into_epoch: usize,
    pub global_step: u64,
    /// All randomness (data sampling, drop path) is derived from this seed and the position.
    pub seed: u64,
    pub lr_head: f64,
    pub lr_backbone: f64,
    pub interrupted: bool,
}

impl TrainState {
    fn order_key(&self) -> (usize, usize) {
        (self.epochs_done, self.steps_into_epoch)
    }
}

/// The file name: `OSTrack_ep0005.bpk`, or `OSTrack_ep0004_step000123.bpk` mid-epoch.
pub fn checkpoint_name(state: &TrainState) -> String {
    if state.steps_into_epoch == 0 {
        format!("OSTrack_ep{:04}.{EXTENSION}", state.epochs_done)
    } else {
        format!(
            "OSTrack_ep{:04}_step{:06}.{EXTENSION}",
            state.epochs_done, state.steps_into_epoch
        )
    }
}

/// Writes a checkpoint file atomically into `dir`; returns its path.
pub fn save_checkpoint(
    dir: &Path,
    state: &TrainState,
    config: &ExperimentConfig,
    model: &StateDict,
    optimizer: &StateDict,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let path = dir.join(checkpoint_name(state));
    let mut pack = Burnpack::default();
    for (prefix, part) in [
        (CHECKPOINT_MODEL_PREFIX, model),
        (OPTIMIZER_PREFIX, optimizer),
    ] {
        for (key, t) in part.iter() {
            pack.tensors.insert(format!("{prefix}{key}"), t.clone());
        }
    }
    pack.metadata.insert(STATE_KEY.into(), to_json(state)?);
    pack.metadata.insert(CONFIG_KEY.into(), to_json(config)?);
    ostrack_weights::write_burnpack(&path, &pack)?;
    Ok(path)
}

fn to_json(value: &impl Serialize) -> Result<String, TrainError> {
    serde_json::to_string_pretty(value).map_err(|e| TrainError::Checkpoint(e.to_string()))
}

/// A checkpoint found on disk (its state read; tensors are read on demand).
#[derive(Debug, Clone)]
pub struct FoundCheckpoint {
    pub path: PathBuf,
    pub state: TrainState,
    /// The experiment config the run had when it saved (JSON), if recorded.
    pub config_json: Option<String>,
}

impl FoundCheckpoint {
    fn tensors(&self) -> Result<StateDict, TrainError> {
        Ok(ostrack_weights::read_burnpack(&self.path)?.tensors)
    }

    pub fn model(&self) -> Result<StateDict, TrainError> {
        Ok(self.tensors()?.strip_prefix(CHECKPOINT_MODEL_PREFIX))
    }

    pub fn optimizer(&self) -> Result<StateDict, TrainError> {
        Ok(self.tensors()?.strip_prefix(OPTIMIZER_PREFIX))
    }

    /// Whether the recorded config equals `config` (`None` when none was recorded).
    pub fn same_config(&self, config: &ExperimentConfig) -> Option<bool> {
        let recorded: ExperimentConfig = serde_json::from_str(self.config_json.as_ref()?).ok()?;
        Some(&recorded == config)
    }
}

/// Reads only the metadata of a checkpoint file.
pub fn read_checkpoint_state(path: &Path) -> Result<FoundCheckpoint, TrainError> {
    let metadata = ostrack_weights::read_burnpack_metadata(path)?;
    let text = metadata.get(STATE_KEY).ok_or_else(|| {
        TrainError::Checkpoint(format!(
            "{}: not an ostrack training checkpoint (no `{STATE_KEY}` metadata)",
            path.display()
        ))
    })?;
    let state: TrainState = serde_json::from_str(text)
        .map_err(|e| TrainError::Checkpoint(format!("{}: {STATE_KEY}: {e}", path.display())))?;
    Ok(FoundCheckpoint {
        path: path.to_path_buf(),
        state,
        config_json: metadata.get(CONFIG_KEY).cloned(),
    })
}

/// The latest complete checkpoint in `dir` (by position, not by name); scratch files of
/// interrupted writes are ignored. A `.bpk` whose metadata cannot be read is an error naming it.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<FoundCheckpoint>, TrainError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut best: Option<FoundCheckpoint> = None;
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with("OSTrack_ep") || !name.ends_with(&format!(".{EXTENSION}")) {
            continue;
        }
        let found = read_checkpoint_state(&path)?;
        if best
            .as_ref()
            .is_none_or(|b| found.state.order_key() > b.state.order_key())
        {
            best = Some(found);
        }
    }
    Ok(best)
}
