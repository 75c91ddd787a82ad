//! Parity of crops, masks, box mappings, Hann windows, CE masks and tracker pre-processing with
//! the official code (`crop.safetensors`, fixture E).

mod common;

use common::{Fixture, json_f64s};
use ostrack_config::CeTemplateRange;
use ostrack_data::{
    IMAGENET_MEAN, IMAGENET_STD, ImageView, ce_template_mask, clip_box, hann2d, map_box_back,
    normalize_image, sample_target, transform_image_to_crop,
};

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

        let norm_key = format!("{prefix}.normalized");
        if fx.has(&norm_key) {
            let got = normalize_image(&crop.pixels, size, size, IMAGENET_MEAN, IMAGENET_STD);
            let want_pixels = fx.u8(&format!("{prefix}.crop"));
            let from_official =
                normalize_image(&want_pixels, size, size, IMAGENET_MEAN, IMAGENET_STD);
            let want = fx.f32(&norm_key);
            assert_eq!(
                from_official, want,
                "{norm_key}: Preprocessor.process of the official crop"
            );
            // Through our own crop: within the crop tolerance (1 grey level / 255 / std).
            let tol = 1.0 / 255.0 / IMAGENET_STD.iter().cloned().fold(1.0, f32::min) + 1e-6;
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= tol, "{norm_key}: {a} vs {b}");
            }
        }
    }
    let ratio = exact as f64 / total as f64;
    println!(
        "crop parity: {exact}/{total} uint8 values exact ({:.4}%), max |diff| {worst}",
        100.0 * ratio
    );
    assert!(worst <= 1, "a crop value differs by {worst} grey levels");
    assert!(ratio >= 0.99, "only {:.3}% exact", 100.0 * ratio);
}

#[test]
fn map_box_back_and_clip_box_match_official() {
    let fx = Fixture::open("crop");
    let inputs = &fx.sidecar["info"]["map_inputs_f64"];
    let search_size = inputs["search_size"].as_u64().unwrap() as usize;
    let hw = json_f64s(&inputs["image_hw"]);
    let margin = inputs["margin"].as_f64().unwrap();
    let states = inputs["states"].as_array().unwrap();
    let preds = inputs["preds"].as_array().unwrap();
    let mapped_f64 = fx.sidecar["info"]["map_box_back_f64"].as_array().unwrap();
    let clipped_f64 = fx.sidecar["info"]["clip_box_f64"].as_array().unwrap();
    let mapped_t = fx.f32("map.mapped");
    let batch_t = fx.f32("map.mapped_batch");
    let clipped_t = fx.f32("map.clipped");
    assert_eq!(states.len(), fx.shape("map.state")[0]);
    for (k, (st, pred)) in states.iter().zip(preds).enumerate() {
        let state = json_f64s(&st[0]);
        let rf = st[1].as_f64().unwrap();
        let state = [state[0], state[1], state[2], state[3]];
        let p = json_f64s(pred);
        let mapped = map_box_back(state, [p[0], p[1], p[2], p[3]], rf, search_size);
        assert_box_close(
            &format!("map {k} (f64)"),
            mapped,
            &json_f64s(&mapped_f64[k]),
            1e-9,
        );
        let as_f64 = |t: &[f32]| {
            t[4 * k..4 * k + 4]
                .iter()
                .map(|&v| v as f64)
                .collect::<Vec<_>>()
        };
        assert_box_close(&format!("map.mapped {k}"), mapped, &as_f64(&mapped_t), 1e-3);
        assert_box_close(
            &format!("map.mapped_batch {k}"),
            mapped,
            &as_f64(&batch_t),
            1e-3,
        );
        let clipped = clip_box(mapped, hw[0] as usize, hw[1] as usize, margin);
        assert_box_close(
            &format!("clip {k} (f64)"),
            clipped,
            &json_f64s(&clipped_f64[k]),
            1e-9,
        );
        assert_box_close(
            &format!("map.clipped {k}"),
            clipped,
            &as_f64(&clipped_t),
            1e-3,
        );
    }
}

#[test]
fn hann_windows_match_official() {
    let fx = Fixture::open("crop");
    let names: Vec<String> = fx
        .names()
        .into_iter()
        .filter(|n| n.starts_with("hann2d."))
        .collect();
    assert!(!names.is_empty());
    for name in names {
        let shape = fx.shape(&name);
        let n = shape[shape.len() - 1];
        assert_eq!(shape[shape.len() - 2], n, "{name} must be square");
        let want = fx.f32(&name);
        let got = hann2d(n);
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-6, "{name}[{i}]: {a} vs {b}");
        }
    }
}

#[test]
fn ce_template_masks_match_official() {
    let fx = Fixture::open("crop");
    let boxes_t = fx.f32("cemask.gt_boxes");
    let boxes: Vec<[f64; 4]> = boxes_t
        .chunks_exact(4)
        .map(|b| [b[0] as f64, b[1] as f64, b[2] as f64, b[3] as f64])
        .collect();
    let names: Vec<String> = fx
        .names()
        .into_iter()
        .filter(|n| n.starts_with("cemask.") && n != "cemask.gt_boxes")
        .collect();
    assert!(!names.is_empty());
    for name in names {
        let mut parts = name.split('.').skip(1);
        let (mode, size) = (
            parts.next().unwrap(),
            parts.next().unwrap().parse::<usize>().unwrap(),
        );
        let range = CeTemplateRange::parse(mode).unwrap_or_else(|| panic!("{name}: unknown mode"));
        let shape = fx.shape(&name);
        let grid = (shape[1] as f64).sqrt() as usize;
        assert_eq!(grid * grid, shape[1], "{name}");
        let stride = size / grid;
        let batch = &boxes[..shape[0]];
        let got = ce_template_mask(range, size, stride, batch)
            .unwrap()
            .expect("a mask");
        let got: Vec<f32> = got.iter().map(|&b| b as u8 as f32).collect();
        assert_eq!(got, fx.f32(&name), "{name}");
    }
}
