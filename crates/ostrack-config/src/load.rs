use std::path::{Path, PathBuf};

use crate::schema::ExperimentConfig;
use crate::untrusted::{check_yaml_mapping, read_yaml_text};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: key `{key}`: {message}")]
    Parse {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads an experiment YAML file (the original's own files load unchanged).
pub fn load_config(path: impl AsRef<Path>) -> Result<ExperimentConfig, ConfigError> {
    let path = path.as_ref();
    let text = read_yaml_text(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config_yaml(&text, path)
}

/// What the top-level keys of a config are, for the error about a document that is not a
/// mapping of them.
const CONFIG_KEYS: &str = "config keys (MODEL, TRAIN, DATA, TEST)";

/// Parses YAML text; `origin` names the file in errors.
///
/// The document must be a mapping: an empty file, one with only comments, a list or a single
/// value is an error: taking it as all defaults, as the original does, would hide a truncated
/// download or the wrong file. Size, nesting and alias expansion are bounded first
/// (see [`crate::untrusted`]).
pub fn parse_config_yaml(text: &str, origin: &Path) -> Result<ExperimentConfig, ConfigError> {
    check_yaml_mapping(text, CONFIG_KEYS).map_err(|message| ConfigError::Invalid {
        path: origin.to_path_buf(),
        message,
    })?;
    let de = yaml_serde::Deserializer::from_str(text);
    let cfg: ExperimentConfig =
        serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    validated(cfg, origin)
}

/// Parses the JSON form of a config (the fixture sidecars' `cfg`).
pub fn parse_config_json(
    value: &serde_json::Value,
    origin: &Path,
) -> Result<ExperimentConfig, ConfigError> {
    let cfg: ExperimentConfig =
        serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    validated(cfg, origin)
}

fn validated(cfg: ExperimentConfig, origin: &Path) -> Result<ExperimentConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: origin.to_path_buf(),
        message,
    };
    for (section, mix) in [("DATA.TRAIN", &cfg.data.train), ("DATA.VAL", &cfg.data.val)] {
        if mix.datasets_name.len() != mix.datasets_ratio.len() {
            return Err(invalid(format!(
                "{section}.DATASETS_NAME has {} entries {:?} but {section}.DATASETS_RATIO has {} {:?}; \
                 give one ratio per dataset",
                mix.datasets_name.len(),
                mix.datasets_name,
                mix.datasets_ratio.len(),
                mix.datasets_ratio
            )));
        }
        if let Some(r) = mix
            .datasets_ratio
            .iter()
            .find(|r| !(r.is_finite() && **r >= 0.0))
        {
            return Err(invalid(format!(
                "{section}.DATASETS_RATIO contains {r}; ratios must be finite and >= 0"
            )));
        }
    }
    let bb = &cfg.model.backbone;
    if bb.stride != bb.patch_size {
        return Err(invalid(format!(
            "MODEL.BACKBONE.STRIDE ({}) must equal the patch size ({})",
            bb.stride, bb.patch_size
        )));
    }
    if bb.is_ce() && bb.ce_loc.len() != bb.ce_keep_ratio.len() {
        return Err(invalid(format!(
            "MODEL.BACKBONE.CE_LOC has {} entries but CE_KEEP_RATIO has {}",
            bb.ce_loc.len(),
            bb.ce_keep_ratio.len()
        )));
    }
    if let Some(l) = bb.ce_loc.iter().find(|&&l| l >= bb.depth) {
        return Err(invalid(format!(
            "MODEL.BACKBONE.CE_LOC contains block {l} but the depth is {}",
            bb.depth
        )));
    }
    if let Some(r) = bb.ce_keep_ratio.iter().find(|r| !(**r > 0.0 && **r <= 1.0)) {
        return Err(invalid(format!(
            "MODEL.BACKBONE.CE_KEEP_RATIO contains {r}; expected 0 < r <= 1"
        )));
    }
    if bb.embed_dim == 0 || bb.num_heads == 0 || !bb.embed_dim.is_multiple_of(bb.num_heads) {
        return Err(invalid(format!(
            "MODEL.BACKBONE.EMBED_DIM ({}) must be a positive multiple of NUM_HEADS ({})",
            bb.embed_dim, bb.num_heads
        )));
    }
    if cfg.model.head.num_channels < 8 || !cfg.model.head.num_channels.is_multiple_of(8) {
        return Err(invalid(format!(
            "MODEL.HEAD.NUM_CHANNELS is {}; expected a multiple of 8 (the head halves it three times)",
            cfg.model.head.num_channels
        )));
    }
    for (key, size) in [
        ("DATA.TEMPLATE.SIZE", cfg.data.template.size),
        ("DATA.SEARCH.SIZE", cfg.data.search.size),
        ("TEST.TEMPLATE_SIZE", cfg.test.template_size),
        ("TEST.SEARCH_SIZE", cfg.test.search_size),
    ] {
        if size == 0 || size % bb.patch_size != 0 {
            return Err(invalid(format!(
                "{key} is {size}; expected a positive multiple of the patch size {}",
                bb.patch_size
            )));
        }
    }
    if cfg.data.mean.len() != 3 || cfg.data.std.len() != 3 {
        return Err(invalid("DATA.MEAN and DATA.STD need 3 values (RGB)".into()));
    }
    Ok(cfg)
}
