//! Errors of tracking runs: each names the file, flag or sequence at fault.

use std::path::{Path, PathBuf};

/// Everything that can stop a tracker or a run.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error(transparent)]
    Config(#[from] ostrack_config::ConfigError),
    #[error(transparent)]
    Weights(#[from] ostrack_weights::WeightsError),
    #[error(transparent)]
    Load(#[from] ostrack_model::LoadError),
    #[error(transparent)]
    Data(#[from] ostrack_data::DataError),
    #[error(transparent)]
    Eval(#[from] ostrack_eval::EvalError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file (frame, video, ground truth) that cannot be used; `line` is 1-based where known.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    File {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A command-line value that cannot be used, named by its flag.
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    /// The tracker cannot run (not initialised, sizes that do not fit the model, ...).
    #[error("{0}")]
    Tracker(String),
    /// A sequence failed; `source` says why.
    #[error("sequence {sequence}: {source}")]
    Sequence {
        sequence: String,
        #[source]
        source: Box<TrackError>,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = TrackError> = std::result::Result<T, E>;

impl TrackError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::File {
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }

    pub(crate) fn flag(flag: &'static str, message: impl Into<String>) -> Self {
        Self::Flag {
            flag,
            message: message.into(),
        }
    }

    pub(crate) fn in_sequence(self, sequence: &str) -> Self {
        Self::Sequence {
            sequence: sequence.to_string(),
            source: Box::new(self),
        }
    }
}

impl From<ostrack_atomic::Error> for TrackError {
    fn from(e: ostrack_atomic::Error) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
