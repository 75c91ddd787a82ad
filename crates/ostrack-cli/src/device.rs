//! Backend selection: the only place that knows which cargo features are compiled in.

use anyhow::{Result, bail};
use burn::prelude::Device;

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

/// The device for a backend name (`auto` = the first compiled-in backend).
pub fn device_from_name(name: &str) -> Result<Device> {
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
    Ok(match name {
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
    })
}
