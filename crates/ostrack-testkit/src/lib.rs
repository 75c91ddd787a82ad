//! What the workspace's tests share. Dev-dependency only: nothing here ships in a binary.

pub mod device;

pub use device::{TestDevice, test_device};
