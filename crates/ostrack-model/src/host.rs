//! When the model runs its own CPU kernels on a tensor's host memory instead of Burn's ops.

use burn::prelude::*;
use burn::tensor::DType;

/// True for an f32 tensor on the Flex CPU backend outside autodiff (inference): the host
/// kernels (`host_attention`, `host_conv`, `host_gelu`) take exactly these. Without this crate's
/// `flex` feature the model cannot name the Flex device, so it always uses Burn's ops.
pub(crate) fn runs_host_kernels<const D: usize>(tensor: &Tensor<D>) -> bool {
    let device = tensor.device();
    !device.is_autodiff() && is_flex(&device) && tensor.dtype() == DType::F32
}

/// The Flex CPU backend (with or without autodiff).
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
