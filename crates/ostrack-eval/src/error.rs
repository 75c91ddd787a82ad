//! The one error type of the crate: every variant names the file (and line) it is about.

use std::path::PathBuf;

/// Everything that can go wrong while reading benchmarks and results, scoring, plotting or packing.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A text file has a bad line (wrong column count, not a number, NaN, ...).
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A file or directory is well-formed but does not fit the protocol (length, layout, missing part).
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// A request that cannot be served (unknown name, empty tracker list, withheld ground truth).
    #[error("{0}")]
    Request(String),
    /// Writing a zip archive failed.
    #[error("{path}: zip: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    /// Drawing a plot failed.
    #[error("{path}: plot: {message}")]
    Plot { path: PathBuf, message: String },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EvalError>;

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        EvalError::Parse {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EvalError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<ostrack_atomic::Error> for EvalError {
    fn from(e: ostrack_atomic::Error) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
