//! The device a test runs on, chosen by `OSTRACK_TEST_DEVICE`:
//!
//! * unset or `flex`: Burn's Flex CPU backend (what CI's main test run uses);
//! * `gpu`: `Device::default()`, the first GPU backend compiled into the build. Backends are
//!   cargo features of `ostrack-cli` only, so a GPU test build names one there, e.g.
//!   `OSTRACK_TEST_DEVICE=gpu cargo test --release -p ostrack-rs --features ostrack-cli/wgpu`.
//!   A build with no GPU backend is an error, never a silent run on the CPU.
//!
//! Tests whose tolerances differ on a GPU ask [`TestDevice::is_gpu`].

use burn::prelude::Device;

/// The selected device and what it is.
#[derive(Debug, Clone)]
pub struct TestDevice {
    pub device: Device,
    /// `flex` or `gpu`, as selected.
    pub kind: &'static str,
}

impl TestDevice {
    pub fn is_gpu(&self) -> bool {
        self.kind == "gpu"
    }
}

/// Reads `OSTRACK_TEST_DEVICE` and returns the device (panics with the reason on a bad value or
/// a GPU run in a build without a GPU backend: a test must not pass on the wrong device).
pub fn test_device() -> TestDevice {
    let requested = std::env::var("OSTRACK_TEST_DEVICE").unwrap_or_default();
    match requested.as_str() {
        "" | "flex" => TestDevice {
            device: Device::flex(),
            kind: "flex",
        },
        "gpu" => {
            let device = Device::default();
            assert!(
                device != Device::flex(),
                "OSTRACK_TEST_DEVICE=gpu but this test build has no GPU backend; build it with \
                 --features ostrack-cli/wgpu (or vulkan, cuda)"
            );
            println!("test device: {device:?}");
            TestDevice {
                device,
                kind: "gpu",
            }
        }
        other => panic!("OSTRACK_TEST_DEVICE=`{other}`: expected `flex` or `gpu`"),
    }
}
