//! What the workspace's tests share. Dev-dependency only: nothing here ships in a binary.

pub mod device;
pub mod fixture;
pub mod synthetic;

pub use device::{TestDevice, test_device};
pub use fixture::{Fixture, fixtures_dir, json_f64s};
pub use synthetic::tiny_got10k;
