//! Fixture D: every loss term of the official actor for every case in `losses.safetensors`.

mod common;

use burn::prelude::*;
use common::*;
use ostrack_testkit::test_device;
use ostrack_train::loss::{LossWeights, compute_losses, focal_loss};

const TOL: f64 = 1e-6;

fn cases(json: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    json["cases"]
        .as_object()
        .expect("sidecar `cases`")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn losses_match_the_official_actor() {
    let (st, json) = load_fixture("losses");
    let device = test_device().device;
    let w = &json["loss_weight"];
    let weights = LossWeights {
        giou: w["giou"].as_f64().unwrap(),
        l1: w["l1"].as_f64().unwrap(),
        focal: w["focal"].as_f64().unwrap(),
    };
    let mut fallbacks = 0;
    let mut report = Vec::new();
    for (case, meta) in cases(&json) {
        let pred = get(&st, &format!("{case}.pred_boxes"));
        let b = pred.shape[0];
        let pred_t: Tensor<3> = tensor::<2>(pred, &device).reshape([b, 1, 4]);
        let score: Tensor<4> = tensor(get(&st, &format!("{case}.score_map")), &device);
        let gt: Vec<[f32; 4]> = get(&st, &format!("{case}.gt_xywh"))
            .to_f32()
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        let heat = get(&st, &format!("{case}.heatmap"));
        // The label generator of ostrack-data must give exactly the official heat map.
        let feat = heat.shape[1];
        let search_size = meta["search_size"].as_u64().unwrap() as usize;
        let boxes: Vec<[f64; 4]> = gt.iter().map(|g| g.map(f64::from)).collect();
        let ours = ostrack_data::generate_heatmap(&boxes, search_size, search_size / feat);
        assert_eq!(
            ours,
            heat.to_f32(),
            "{case}: heat map differs from the official label"
        );

        let l = compute_losses(pred_t, score, &gt, &heat.to_f32(), weights);
        let (v, fallback) = l.read().unwrap();
        let expect_fallback = !meta["giou_assert_passed"].as_bool().unwrap();
        assert_eq!(fallback, expect_fallback, "{case}: GIoU fallback detection");
        fallbacks += usize::from(fallback);
        let iou_vec = to_vec(l.iou_per_sample.clone());
        let checks = [
            ("focal_loss", vec![v.location]),
            ("giou_loss", vec![v.giou]),
            ("l1_loss", vec![v.l1]),
            ("total_loss", vec![v.total]),
            ("iou", iou_vec),
        ];
        for (name, actual) in checks {
            let expected = get(&st, &format!("{case}.{name}")).to_f32();
            let err = rel_err(&actual, &expected);
            report.push(format!("{case}.{name}: rel err {err:.2e}"));
            assert!(
                err <= TOL,
                "{case}.{name}: {actual:?} vs official {expected:?} (rel err {err:.3e})"
            );
        }
        let status = &meta["status"];
        let mean_iou = status["IoU"].as_f64().unwrap();
        assert!(
            (v.iou as f64 - mean_iou).abs() <= TOL * mean_iou.abs().max(1e-6),
            "{case}: mean IoU {} vs {mean_iou}",
            v.iou
        );
    }
    println!(
        "{}\nGIoU fallbacks to 0 (as the original): {fallbacks}",
        report.join("\n")
    );
}

#[test]
fn focal_loss_without_positives() {
    let (st, _) = load_fixture("losses");
    let device = test_device().device;
    let Some(pred) = st.get("focal_nopos.pred") else {
        return;
    };
    let target = get(&st, "focal_nopos.target").to_f32();
    assert!(
        target.iter().all(|&t| t < 1.0),
        "the case must have no positives"
    );
    let loss = to_vec(focal_loss(tensor(pred, &device), &target));
    let expected = get(&st, "focal_nopos.loss").to_f32();
    let err = rel_err(&loss, &expected);
    assert!(
        err <= TOL,
        "focal (no positives) {loss:?} vs {expected:?} ({err:.2e})"
    );
}

/// Two boxes [2, 1, 4] (cx, cy, w, h) on an autodiff device, tracked for gradients.
fn pred_boxes(values: [f32; 8], device: &Device) -> Tensor<3> {
    Tensor::<3>::from_data(TensorData::new(values.to_vec(), [2, 1, 4]), device).require_grad()
}

/// A 4x4 score map of 0.3 with a one-hot label per sample.
fn score_and_label(device: &Device) -> (Tensor<4>, Vec<f32>) {
    let score = Tensor::<4>::full([2, 1, 4, 4], 0.3, device);
    let mut label = vec![0.2f32; 32];
    label[5] = 1.0;
    label[16 + 10] = 1.0;
    (score, label)
}

#[test]
fn giou_fallback_is_decided_on_the_device_and_leaks_no_nan() {
    let device = test_device().device.autodiff();
    let weights = LossWeights::default();
    // Sample 1 has w < 0 (x2 < x1: the assertion fails) and height 0, against a GT outside the
    // image that clamps to a zero-area box: its GIoU would be 0/0.
    let values = [0.5, 0.5, 0.2, 0.2, 0.9, 0.9, -0.1, 0.0];
    let gt = [[0.4f32, 0.4, 0.2, 0.2], [1.5, 1.2, 0.3, 0.3]];
    let (score, label) = score_and_label(&device);
    let pred = pred_boxes(values, &device);
    let l = compute_losses(pred.clone(), score.clone(), &gt, &label, weights);
    let (v, fallback) = l.read().unwrap();
    assert!(
        fallback,
        "x2 < x1 in a predicted box must take the fallback"
    );
    assert_eq!((v.giou, v.iou), (0.0, 0.0), "GIoU loss and IoU are 0");
    assert_eq!(to_vec(l.iou_per_sample.clone()), vec![0.0, 0.0]);
    assert!(v.all_finite(), "{v:?}");
    let grad = to_vec(pred.grad(&l.total.backward()).unwrap());
    assert!(
        grad.iter().all(|g| g.is_finite()),
        "NaN in the gradient: {grad:?}"
    );

    // The gradient is that of the L1 and focal terms alone, bit for bit.
    let pred2 = pred_boxes(values, &device);
    let l2 = compute_losses(pred2.clone(), score, &gt, &label, weights);
    let without_giou =
        l2.l1.clone().mul_scalar(weights.l1) + l2.location.clone().mul_scalar(weights.focal);
    assert_eq!(to_vec(without_giou.clone()), vec![v.total]);
    let grad2 = to_vec(pred2.grad(&without_giou.backward()).unwrap());
    assert_eq!(grad, grad2);
}

#[test]
fn valid_boxes_take_no_fallback() {
    let device = test_device().device.autodiff();
    let (score, label) = score_and_label(&device);
    let gt = [[0.4f32, 0.4, 0.2, 0.2], [0.6, 0.5, 0.3, 0.1]];
    // A zero-width box still passes (x2 >= x1).
    let pred = pred_boxes([0.5, 0.5, 0.2, 0.2, 0.7, 0.6, 0.0, 0.1], &device);
    let l = compute_losses(pred.clone(), score, &gt, &label, LossWeights::default());
    let (v, fallback) = l.read().unwrap();
    assert!(!fallback);
    assert!(v.giou > 0.0 && v.iou > 0.0, "{v:?}");
    let grad = to_vec(pred.grad(&l.total.backward()).unwrap());
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
}

#[test]
fn device_box_check_agrees_with_the_host_check() {
    use ostrack_train::loss::{boxes_valid, boxes_valid_device};
    let device = test_device().device;
    let cases: [[[f32; 4]; 2]; 5] = [
        [[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.2, 0.9]],
        [[0.1, 0.1, 0.05, 0.5], [0.2, 0.2, 0.3, 0.9]],
        [[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.3, 0.1]],
        [[0.1, 0.1, f32::NAN, 0.5], [0.2, 0.2, 0.3, 0.9]],
        [[0.3, 0.3, 0.3, 0.3], [0.0, 0.0, 0.0, 0.0]],
    ];
    for boxes in cases {
        let t = Tensor::<2>::from_data(TensorData::new(boxes.concat(), [2, 4]), &device);
        let on_device = boxes_valid_device(t).float();
        assert_eq!(
            to_vec(on_device) == vec![1.0],
            boxes_valid(&boxes),
            "{boxes:?}"
        );
    }
}

/// A deterministic score map in (1e-4, 1 - 1e-4), like the head's clamped sigmoid, with a
/// Gaussian-like label holding one positive per sample.
fn smooth_case(b: usize, f: usize) -> (Vec<f32>, Vec<f32>) {
    let n = b * f * f;
    let score = (0..n)
        .map(|i| 1e-4 + (1.0 - 2e-4) * (0.5 + 0.45 * ((i as f32) * 0.7).sin()))
        .collect();
    let label = (0..n)
        .map(|i| {
            let (y, x) = ((i % (f * f)) / f, i % f);
            let d2 = ((x as f32 - 3.0).powi(2) + (y as f32 - 4.0).powi(2)) / 4.0;
            (-d2).exp()
        })
        .collect();
    (score, label)
}

/// The objective's gradients on the test device equal Flex's (the loss value alone would not
/// show a wrong backward kernel).
#[test]
fn loss_gradients_agree_with_flex() {
    let (b, f) = (2, 8);
    let (score, label) = smooth_case(b, f);
    let boxes = [0.45f32, 0.5, 0.2, 0.3, 0.6, 0.4, 0.25, 0.1];
    let gt = [[0.4f32, 0.4, 0.2, 0.2], [0.5, 0.3, 0.3, 0.2]];
    let grads = |device: &Device| {
        let score_t = Tensor::<4>::from_data(TensorData::new(score.clone(), [b, 1, f, f]), device)
            .require_grad();
        let focal = focal_loss(score_t.clone(), &label);
        let focal_grad = to_vec(score_t.grad(&focal.backward()).unwrap());
        let score_t = Tensor::<4>::from_data(TensorData::new(score.clone(), [b, 1, f, f]), device)
            .require_grad();
        let pred = pred_boxes(boxes, device);
        let l = compute_losses(
            pred.clone(),
            score_t.clone(),
            &gt,
            &label,
            LossWeights::default(),
        );
        let g = l.total.backward();
        (
            focal_grad,
            to_vec(score_t.grad(&g).unwrap()),
            to_vec(pred.grad(&g).unwrap()),
        )
    };
    let ours = grads(&test_device().device.autodiff());
    let flex = grads(&Device::flex().autodiff());
    for (name, a, e) in [
        ("focal d/dscore", &ours.0, &flex.0),
        ("total d/dscore", &ours.1, &flex.1),
        ("total d/dboxes", &ours.2, &flex.2),
    ] {
        let err = rel_err(a, e);
        println!("{name}: rel err {err:.2e} against Flex");
        assert!(
            err <= 1e-5,
            "{name}: rel err {err:.3e}\nours {a:?}\nflex {e:?}"
        );
    }
}
