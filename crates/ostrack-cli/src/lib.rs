//! Library side of the `ostrack` command: each subcommand is a function here so tests call
//! exactly what users run. Backends are chosen only in [`device`].

pub mod cli;
pub mod data_cmd;
pub mod demo;
pub mod device;
pub mod eval_cmd;
pub mod profile;
pub mod track_cmd;
pub mod train_cmd;
pub mod weights_cmd;
