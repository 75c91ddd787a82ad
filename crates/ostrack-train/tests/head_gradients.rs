//! The head's train-mode gradients on the test device against Flex, for each of its three maps,
//! through the training step's [`backward`]. It guards against two Burn 0.22.1 fusion bugs seen
//! on wgpu/lavapipe, each in the score branch's gradients through its BatchNorm layers:
//! * the fusion stream optimised across the forward/backward boundary: 0.92 relative off;
//!   `backward` dispatches the forward first (3.2e-7);
//! * `cal_bbox` picking the arg-max cell with `gather`: the gather's backward corrupted the score
//!   branch in the same pass (1.9 relative off in the official step); it uses a one-hot sum now.

mod common;

use burn::optim::GradientsParams;
use burn::prelude::*;
use common::step_fixture::experiment;
use common::*;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_testkit::test_device;
use ostrack_train::optim::named_gradients;
use ostrack_train::step::backward;

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
    let grads = backward(&loss).unwrap();
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
