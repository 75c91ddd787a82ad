//! Library side of the `ostrack` command: each subcommand is a function here so tests call
//! exactly what users run. Backends are chosen only in [`device`].

pub mod device;
pub mod fixture;
pub mod parity;
pub mod profile;
