//! Fixture D: every loss term of the official actor for every case in `losses.safetensors`.

mod common;

use burn::prelude::*;
use common::*;
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
    let device = Device::flex();
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
        let pred_host: Vec<[f32; 4]> = pred
            .to_f32()
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
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

        let l = compute_losses(pred_t, &pred_host, score, &gt, &heat.to_f32(), weights);
        let v = l.values();
        let expect_fallback = !meta["giou_assert_passed"].as_bool().unwrap();
        assert_eq!(
            l.giou_fallback, expect_fallback,
            "{case}: GIoU fallback detection"
        );
        fallbacks += usize::from(l.giou_fallback);
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
    let device = Device::flex();
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
