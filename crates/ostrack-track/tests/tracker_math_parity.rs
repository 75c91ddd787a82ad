//! The tracker's arithmetic against the official code on the crop fixture (`crop.safetensors`,
//! fixture E): `Preprocessor.process` of crops, `map_box_back`, `clip_box` and `hann2d`.

use ostrack_data::{ImageView, sample_target};
use ostrack_testkit::{Fixture, json_f64s};
use ostrack_track::tracker_math::{
    IMAGENET_MEAN, IMAGENET_STD, clip_box, hann2d, map_box_back, normalize_image,
};

fn assert_box_close(what: &str, got: [f64; 4], want: &[f64], tol: f64) {
    let worst = (0..4).map(|k| (got[k] - want[k]).abs()).fold(0.0, f64::max);
    assert!(
        worst <= tol,
        "{what}: got {got:?} want {want:?} (tol {tol})"
    );
}

/// Every `box{i}.{kind}.normalized`: the official crop normalised exactly, and our own crop
/// within one grey level.
#[test]
fn normalized_crops_match_official() {
    let fx = Fixture::open("crop");
    let shape = fx.shape("image");
    let image = fx.u8("image");
    let frame = ImageView::new(&image, shape[1], shape[0]);
    let boxes = fx.sidecar["info"]["boxes"].as_array().unwrap();
    let cases: Vec<String> = fx
        .names()
        .into_iter()
        .filter_map(|n| n.strip_suffix(".normalized").map(str::to_string))
        .collect();
    assert!(!cases.is_empty(), "no normalized crops in the fixture");
    // One grey level through our crop, divided by the smallest std.
    let tol = 1.0 / 255.0 / IMAGENET_STD.iter().cloned().fold(1.0, f32::min) + 1e-6;
    for prefix in cases {
        let (index, kind) = prefix
            .strip_prefix("box")
            .and_then(|r| r.split_once('.'))
            .unwrap_or_else(|| panic!("{prefix}: expected box<i>.<kind>"));
        let params = &fx.sidecar[kind];
        let size = params["size"].as_u64().unwrap() as usize;
        let bb = json_f64s(&boxes[index.parse::<usize>().unwrap()]);
        let want = fx.f32(&format!("{prefix}.normalized"));
        let official_crop = fx.u8(&format!("{prefix}.crop"));
        let from_official =
            normalize_image(&official_crop, size, size, IMAGENET_MEAN, IMAGENET_STD);
        assert_eq!(
            from_official, want,
            "{prefix}: Preprocessor.process of the official crop"
        );
        let factor = params["factor"].as_f64().unwrap();
        let crop = sample_target(frame, [bb[0], bb[1], bb[2], bb[3]], factor, size).unwrap();
        let ours = normalize_image(&crop.pixels, size, size, IMAGENET_MEAN, IMAGENET_STD);
        for (a, b) in ours.iter().zip(&want) {
            assert!((a - b).abs() <= tol, "{prefix}.normalized: {a} vs {b}");
        }
    }
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
