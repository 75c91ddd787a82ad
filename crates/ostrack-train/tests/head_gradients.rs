//! The head's train-mode gradients on the test device against Flex, for each of its three maps.
//! On wgpu with Burn's fusion (lavapipe, 2026-12-08) the score map's gradient is 0.92 relative
//! off while the size and offset maps' are within 1e-6; without Burn's `fusion` feature it is
//! 3.2e-7. Evaluating `cal_bbox` (its arg-max) in the same forward is what breaks it (issue 12).
//! CI's wgpu run leaves this test out until that is fixed; run it by hand with
//! `OSTRACK_TEST_DEVICE=gpu cargo test --release -p ostrack-rs -p ostrack-train --features ostrack-cli/wgpu --test head_gradients`.

mod common;

use burn::optim::GradientsParams;
use burn::prelude::*;
use common::step_fixture::experiment;
use common::*;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_testkit::test_device;
use ostrack_train::optim::named_gradients;

/// Gradient of `map.sum()` (0: score, 1: size, 2: offset) with respect to the head's input and
/// every head parameter, for the `train_step` fixture's weights on a fixed input.
fn head_gradients(device: Device, map: usize) -> Vec<f32> {
    let (st, json) = load_fixture("train_step");
    let cfg = OSTrackConfig::from_experiment(&experiment(&json));
    let (c, f) = (cfg.embed_dim, cfg.search_grid());
    let input: Vec<f32> = (0..4 * c * f * f)
        .map(|i| ((i as f32) * 0.37).sin())
        .collect();
    let device = device.autodiff();
    let model = OSTrack::new(&cfg, &device)
        .load_state_dict(&st.strip_prefix("param."), "train_step param.*")
        .unwrap();
    let x = Tensor::<4>::from_data(TensorData::new(input, [4, c, f, f]), &device).require_grad();
    let out = model.box_head.forward_traced(x.clone(), None);
    let loss = match map {
        0 => out.score_map.sum(),
        1 => out.size_map.sum(),
        _ => out.offset_map.sum(),
    };
    let grads = loss.backward();
    let mut all = to_vec(x.grad(&grads).unwrap());
    let params = GradientsParams::from_grads(grads, &model);
    for (_, _, g) in named_gradients(&model, &params).unwrap() {
        all.extend(g);
    }
    all
}

#[test]
fn head_gradients_match_flex() {
    for (map, name) in ["score_map", "size_map", "offset_map"].iter().enumerate() {
        let err = rel_err(
            &head_gradients(test_device().device, map),
            &head_gradients(Device::flex(), map),
        );
        println!("{name}: gradients rel err {err:.2e} against Flex");
        assert!(
            err <= 1e-5,
            "{name}: gradients rel err {err:.3e} against Flex"
        );
    }
}
