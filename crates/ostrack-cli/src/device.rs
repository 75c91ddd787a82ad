//! Backend selection: the only place that knows which cargo features are compiled in.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use anyhow::{Result, bail};
use burn::prelude::{Device, Tensor};

/// `--backend`: which compute backend runs the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The first backend compiled in, GPU first.
    Auto,
    /// CPU, pure Rust.
    Flex,
    /// GPU through wgpu (WGSL kernels; also Mesa's software Vulkan).
    Wgpu,
    /// GPU through Vulkan (SPIR-V kernels).
    Vulkan,
    /// NVIDIA GPU through CUDA.
    Cuda,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Flex => "flex",
            Self::Wgpu => "wgpu",
            Self::Vulkan => "vulkan",
            Self::Cuda => "cuda",
        }
    }
}

/// Backends compiled into this binary, in preference order.
pub fn available_backends() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "vulkan") {
        v.push("vulkan");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "flex") {
        v.push("flex");
    }
    v
}

/// The device of a backend (`auto` = the first compiled-in backend), started and checked: a
/// backend that is not compiled in or cannot start (no driver, no adapter, no `libcuda`) is an
/// error here.
pub fn device_for(backend: Backend) -> Result<Device> {
    let name = backend.name();
    let name = if name == "auto" {
        match available_backends().first() {
            Some(n) => *n,
            None => {
                bail!("no backend compiled in; build with --features flex, wgpu, vulkan or cuda")
            }
        }
    } else {
        name
    };
    let device = match name {
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        #[cfg(feature = "vulkan")]
        "vulkan" => Device::vulkan(Default::default()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(Default::default()),
        #[cfg(feature = "flex")]
        "flex" => Device::flex(),
        other => bail!(
            "backend `{other}` is not compiled into this binary (available: {}); rebuild with --features {other}",
            available_backends().join(", ")
        ),
    };
    start(name, &device)?;
    Ok(device)
}

/// How long a backend may take to run its first operation (`OSTRACK_BACKEND_START_TIMEOUT`,
/// seconds). A cold start compiles one kernel: seconds on a GPU or on lavapipe.
const START_TIMEOUT_S: u64 = 60;

/// Runs one tiny operation and reads it back. Burn's devices are lazy and a runtime that cannot
/// start panics inside the first kernel launch (cudarc when `libcuda.so` is missing, wgpu when
/// no adapter exists) or, on a machine whose only adapter is a broken OpenGL driver, never
/// returns (wgpu's GL fallback deadlocks). This turns either into a one-line error naming the
/// backend. The probe runs on its own thread so that a hang is bounded.
fn start(name: &str, device: &Device) -> Result<()> {
    let timeout = std::env::var("OSTRACK_BACKEND_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(START_TIMEOUT_S);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (send, receive) = std::sync::mpsc::channel();
    let probe_device = device.clone();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            Tensor::<1>::from_floats([1.0, 2.0], &probe_device)
                .sum()
                .try_into_data()
        }));
        let _ = send.send(outcome);
    });
    let outcome = receive.recv_timeout(Duration::from_secs(timeout));
    let cause = match outcome {
        Err(_) => {
            // The probe thread is stuck inside the driver; leave the panic hook quiet so its
            // eventual panic does not print over the error, which ends the process.
            bail!(
                "backend `{name}` cannot start: {} (its first operation did not finish within {timeout} s; OSTRACK_BACKEND_START_TIMEOUT sets the limit)",
                what_it_needs(name)
            )
        }
        Ok(Ok(Ok(data))) if data.try_to_vec::<f32>().ok() == Some(vec![3.0]) => {
            std::panic::set_hook(quiet);
            return Ok(());
        }
        Ok(Ok(Ok(data))) => format!("a test sum returned {data:?} instead of 3"),
        Ok(Ok(Err(e))) => format!("{e:?}"),
        Ok(Err(panic)) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into()),
    };
    std::panic::set_hook(quiet);
    let cause = cause.lines().next().unwrap_or_default().trim().to_string();
    bail!(
        "backend `{name}` cannot start: {} (the runtime said: {cause})",
        what_it_needs(name)
    )
}

fn what_it_needs(name: &str) -> &'static str {
    match name {
        "cuda" => "it needs an NVIDIA GPU and its driver: libcuda.so must be loadable",
        "vulkan" => {
            "it needs a Vulkan driver with a GPU adapter (or Mesa's lavapipe, package mesa-vulkan-drivers)"
        }
        "wgpu" => {
            "it needs a GPU adapter through Vulkan, Metal or DX12 (or Mesa's lavapipe, package mesa-vulkan-drivers)"
        }
        _ => "see README.md, section Install",
    }
}
