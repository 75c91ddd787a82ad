//! The experiment configuration of OSTrack: the schema of the official `experiments/ostrack/*.yaml`
//! files with the defaults of the original's `lib/config/ostrack/config.py`, plus a few
//! clearly-named ostrack-rs extension keys.
//!
//! Loading follows the original's rules: a YAML file only overrides defaults, and a key that the
//! schema does not know is an error naming the key path and the file. Keys the original reads
//! nowhere (`FREEZE_LAYERS`, `SCHEDULER.DECAY_RATE`, `MID_PE`, `ADD_CLS_TOKEN`,
//! `CLS_TOKEN_USE_MODE`, `EXTRA_MERGER`, `MERGE_LAYER`, `SEP_SEG`, `CAT_MODE`, `RETURN_INTER`,
//! `RETURN_STAGES`) are accepted and ignored, exactly as there.
//!
//! Unlike the original, a file whose document is not a mapping of keys (empty, only comments,
//! a list, a single value) is an error, and the size, nesting and alias expansion of any YAML
//! read are bounded ([`untrusted`]), so no file can exhaust memory or time.

mod load;
mod schema;
pub mod untrusted;

pub use load::{ConfigError, load_config, parse_config_json, parse_config_yaml};
pub use schema::*;
