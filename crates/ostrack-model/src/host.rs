//! Which devices keep tensors in host memory, where the model may run its own CPU kernels.

use burn::prelude::*;

/// True for the Flex CPU backend (with or without autodiff). Without this crate's `flex`
/// feature the model cannot name that device, so it always uses Burn's ops.
pub(crate) fn is_flex(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        *device == Device::flex()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}
