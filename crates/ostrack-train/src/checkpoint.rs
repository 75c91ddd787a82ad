//! Checkpoints: one folder per save with the model (official state-dict keys, safetensors),
//! the optimizer moments and a JSON state (epoch, step, seed, learning rates). A folder is
//! written under a temporary name and renamed when complete, so a crash (even `kill -9`)
//! leaves either the previous checkpoints or a complete new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TrainError;

pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const STATE_FILE: &str = "state.json";

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

/// The folder name: `OSTrack_ep0005`, or `OSTrack_ep0004_step000123` mid-epoch.
pub fn checkpoint_name(state: &TrainState) -> String {
    if state.steps_into_epoch == 0 {
        format!("OSTrack_ep{:04}", state.epochs_done)
    } else {
        format!(
            "OSTrack_ep{:04}_step{:06}",
            state.epochs_done, state.steps_into_epoch
        )
    }
}

/// Writes a checkpoint folder atomically below `dir`; returns its path.
pub fn save_checkpoint(
    dir: &Path,
    state: &TrainState,
    model: &ostrack_weights::StateDict,
    optimizer: &ostrack_weights::StateDict,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let name = checkpoint_name(state);
    let final_dir = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    ostrack_weights::write_safetensors(tmp.join(MODEL_FILE), model)?;
    ostrack_weights::write_safetensors(tmp.join(OPTIMIZER_FILE), optimizer)?;
    let json =
        serde_json::to_string_pretty(state).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    let state_path = tmp.join(STATE_FILE);
    std::fs::write(&state_path, json).map_err(|e| TrainError::io(&state_path, e))?;
    sync_dir_files(&tmp)?;
    if final_dir.exists() {
        // Re-saving the same position (after a resume): move the old one aside first.
        let old = dir.join(format!(".{name}.old{}", std::process::id()));
        std::fs::rename(&final_dir, &old).map_err(|e| TrainError::io(&final_dir, e))?;
        std::fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    } else {
        std::fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    }
    Ok(final_dir)
}

fn sync_dir_files(dir: &Path) -> Result<(), TrainError> {
    for name in [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE] {
        let p = dir.join(name);
        let f = std::fs::File::open(&p).map_err(|e| TrainError::io(&p, e))?;
        f.sync_all().map_err(|e| TrainError::io(&p, e))?;
    }
    Ok(())
}

/// A checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct FoundCheckpoint {
    pub path: PathBuf,
    pub state: TrainState,
}

impl FoundCheckpoint {
    pub fn model(&self) -> Result<ostrack_weights::StateDict, TrainError> {
        Ok(ostrack_weights::read_safetensors(
            self.path.join(MODEL_FILE),
        )?)
    }

    pub fn optimizer(&self) -> Result<ostrack_weights::StateDict, TrainError> {
        Ok(ostrack_weights::read_safetensors(
            self.path.join(OPTIMIZER_FILE),
        )?)
    }
}

/// The latest complete checkpoint below `dir` (by position, not by name); temporary folders of
/// interrupted writes are ignored. A folder with an unreadable state file is an error.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<FoundCheckpoint>, TrainError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut best: Option<FoundCheckpoint> = None;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("OSTrack_ep") || !entry.path().is_dir() {
            continue;
        }
        let state_path = entry.path().join(STATE_FILE);
        let text =
            std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        let state: TrainState = serde_json::from_str(&text)
            .map_err(|e| TrainError::Checkpoint(format!("{}: {e}", state_path.display())))?;
        if best
            .as_ref()
            .is_none_or(|b| state.order_key() > b.state.order_key())
        {
            best = Some(FoundCheckpoint {
                path: entry.path(),
                state,
            });
        }
    }
    Ok(best)
}
