//! Parity of crops, their masks and boxes with the official code (`crop.safetensors`, fixture E).
//! The tracker's arithmetic on the same fixture is tested in `ostrack-track`
//! (`tracker_math_parity.rs`), the CE template masks in `ostrack-model`.

use ostrack_data::{ImageView, sample_target, transform_image_to_crop};
use ostrack_testkit::{Fixture, json_f64s};

/// `box{i}.{kind}.crop` → (i, kind) for every crop in the file.
fn crop_cases(fx: &Fixture) -> Vec<(usize, String)> {
    fx.names()
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix("box")?.strip_suffix(".crop")?;
            let (i, kind) = rest.split_once('.')?;
            Some((i.parse().ok()?, kind.to_string()))
        })
        .collect()
}

fn assert_box_close(what: &str, got: [f64; 4], want: &[f64], tol: f64) {
    for k in 0..4 {
        assert!(
            (got[k] - want[k]).abs() <= tol,
            "{what}[{k}]: got {} want {} (tol {tol})",
            got[k],
            want[k]
        );
    }
}

#[test]
fn sample_target_matches_official_crops_masks_and_boxes() {
    let fx = Fixture::open("crop");
    let shape = fx.shape("image");
    let (h, w) = (shape[0], shape[1]);
    let image = fx.u8("image");
    let info = &fx.sidecar["info"];
    let boxes = info["boxes"].as_array().unwrap();
    let gt_boxes = info["gt_boxes_f64"].as_array().unwrap();
    let cases = crop_cases(&fx);
    assert!(!cases.is_empty(), "no crops in the fixture");
    let (mut total, mut exact, mut worst) = (0usize, 0usize, 0i32);
    for (i, kind) in &cases {
        let params = &fx.sidecar[kind.as_str()];
        let factor = params["factor"].as_f64().unwrap();
        let size = params["size"].as_u64().unwrap() as usize;
        let bb: Vec<f64> = json_f64s(&boxes[*i]);
        let bb = [bb[0], bb[1], bb[2], bb[3]];
        let crop = sample_target(ImageView::new(&image, w, h), bb, factor, size).unwrap();
        let prefix = format!("box{i}.{kind}");

        let want = fx.u8(&format!("{prefix}.crop"));
        assert_eq!(fx.shape(&format!("{prefix}.crop")), vec![size, size, 3]);
        let (mut case_exact, mut case_worst) = (0usize, 0i32);
        for (a, b) in crop.pixels.iter().zip(&want) {
            let d = (*a as i32 - *b as i32).abs();
            case_worst = case_worst.max(d);
            case_exact += (d == 0) as usize;
        }
        println!(
            "{prefix}: {case_exact}/{} exact, max |diff| {case_worst}",
            want.len()
        );
        worst = worst.max(case_worst);
        exact += case_exact;
        total += want.len();
        let mask = fx.f32(&format!("{prefix}.att_mask"));
        let got_mask: Vec<f32> = crop.att_mask.iter().map(|&m| m as u8 as f32).collect();
        assert_eq!(got_mask, mask, "{prefix}.att_mask");

        let rf_key = format!("{kind}_resize_factor");
        let want_rf = info["crops"][*i][rf_key.as_str()].as_f64().unwrap();
        assert_eq!(crop.resize_factor, want_rf, "{prefix} resize factor");

        let self_norm = transform_image_to_crop(bb, bb, crop.resize_factor, size as f64, true);
        let want = fx.f32(&format!("{prefix}.box_self_norm"));
        let want: Vec<f64> = want.iter().map(|&v| v as f64 * size as f64).collect();
        assert_box_close(
            &format!("{prefix}.box_self_norm"),
            self_norm.map(|v| v * size as f64),
            &want,
            1e-3,
        );

        let gt = json_f64s(&gt_boxes[*i]);
        let gt = [gt[0], gt[1], gt[2], gt[3]];
        let in_crop = transform_image_to_crop(gt, bb, crop.resize_factor, size as f64, false);
        let want: Vec<f64> = fx
            .f32(&format!("{prefix}.gt_in_crop"))
            .iter()
            .map(|&v| v as f64)
            .collect();
        assert_box_close(&format!("{prefix}.gt_in_crop"), in_crop, &want, 1e-3);
        let in_crop_norm = transform_image_to_crop(gt, bb, crop.resize_factor, size as f64, true);
        let want: Vec<f64> = fx
            .f32(&format!("{prefix}.gt_in_crop_norm"))
            .iter()
            .map(|&v| v as f64 * size as f64)
            .collect();
        assert_box_close(
            &format!("{prefix}.gt_in_crop_norm"),
            in_crop_norm.map(|v| v * size as f64),
            &want,
            1e-3,
        );
    }
    let ratio = exact as f64 / total as f64;
    println!(
        "crop parity: {exact}/{total} uint8 values exact ({:.4}%), max |diff| {worst}",
        100.0 * ratio
    );
    assert!(worst <= 1, "a crop value differs by {worst} grey levels");
    assert!(ratio >= 0.99, "only {:.3}% exact", 100.0 * ratio);
}
