//! What the workspace's tests share: the device tests run on, the parity fixtures and the model
//! parity harness (also behind `ostrack parity`), tiny synthetic datasets.

pub mod device;
pub mod fixture;
pub mod parity;
pub mod synthetic;

pub use device::{TestDevice, test_device};
pub use fixture::{Fixture, FixtureData, FixtureTensor, fixtures_dir, json_f64s};
pub use synthetic::tiny_got10k;
