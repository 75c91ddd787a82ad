//! Errors of the training crate; each names the file, key or value at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ostrack_config::ConfigError),
    #[error(transparent)]
    Data(#[from] ostrack_data::DataError),
    #[error(transparent)]
    Weights(#[from] ostrack_weights::WeightsError),
    #[error(transparent)]
    Model(#[from] ostrack_model::LoadError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A tensor could not be read back from the device (the error names it).
    #[error(transparent)]
    ReadBack(#[from] ostrack_model::ReadBackError),
    /// The device could not dispatch queued work (a poisoned or lost GPU).
    #[error("the device failed during {what}: {reason}")]
    Device { what: &'static str, reason: String },
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("invalid setting: {0}")]
    Setting(String),
    /// The original raises "Network outputs is NAN! Stop Training" and its fail-safe then ends
    /// training silently; here training stops with this error and the last good checkpoint.
    #[error(
        "training stopped at epoch {epoch}, step {step}: {what} is not finite ({detail}); the last good checkpoint is kept"
    )]
    NonFinite {
        epoch: usize,
        step: usize,
        what: String,
        detail: String,
    },
}

impl TrainError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
