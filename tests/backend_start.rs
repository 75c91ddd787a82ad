//! A GPU backend that cannot start is a one-line error naming the backend and what it needs,
//! never a panic or a hang. Here the machine's Vulkan and EGL drivers are hidden from their
//! loaders, so wgpu finds no adapter. (With Vulkan alone hidden, wgpu falls back to OpenGL on
//! Mesa's llvmpipe, which sometimes starts and sometimes deadlocks in its context lock: the start
//! check's time limit bounds that case.) Runs where the build has the wgpu backend
//! (`--features ostrack-cli/wgpu`, as CI's GPU-path step); a Flex-only build has nothing to try.

use ostrack_cli::device::{Backend, available_backends, device_for};

#[test]
fn a_gpu_backend_without_a_driver_is_a_clear_error() {
    if !available_backends().contains(&"wgpu") {
        println!("no wgpu backend in this build: nothing to try");
        return;
    }
    // SAFETY: this test binary holds this one test, so no other thread reads the environment.
    unsafe {
        std::env::set_var("VK_ICD_FILENAMES", "/nonexistent/icd.json");
        std::env::set_var("VK_DRIVER_FILES", "/nonexistent/icd.json");
        std::env::set_var("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json");
        std::env::set_var("OSTRACK_BACKEND_START_TIMEOUT", "20");
    }
    let err = match device_for(Backend::Wgpu) {
        Ok(device) => panic!("{device:?} started without a Vulkan driver"),
        Err(e) => format!("{e:#}"),
    };
    println!("{err}");
    assert!(
        err.starts_with("backend `wgpu` cannot start: it needs a GPU adapter"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
