//! The acceptance test of the tracker: the official tracker's run on fixture F (template crop,
//! CE mask, every search crop, score map, windowed response, removed tokens and every box)
//! reproduced within the fixtures README's tolerances. Sizes, factors and frame counts come
//! from the fixture and its sidecar. Runs on the device `OSTRACK_TEST_DEVICE` selects (Flex by
//! default, see `ostrack-testkit`) with the same tolerances.

mod common;

use common::{Fixture, fixture_config_json, fixture_weights};
use ostrack_config::parse_config_json;
use ostrack_data::ImageView;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_testkit::test_device;
use ostrack_track::tracker_math::hann2d;
use ostrack_track::{StepRequest, Tracker, TrackerParams};

/// `max |a - b| / max(max |b|, 1e-6)`.
fn rel_err(ours: &[f32], theirs: &[f32]) -> f32 {
    assert_eq!(ours.len(), theirs.len(), "length");
    let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    ours.iter()
        .zip(theirs)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

/// uint8 crops: every value within ±1 and at least 99% exact.
fn assert_crop(name: &str, ours: &[u8], theirs: &[u8]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    let exact = ours.iter().zip(theirs).filter(|(a, b)| a == b).count() as f64 / ours.len() as f64;
    println!("{name}: max |diff| {worst}, exact {:.4}%", exact * 100.0);
    assert!(
        worst <= 1 && exact >= 0.99,
        "{name}: max |diff| {worst}, exact fraction {exact}"
    );
}

fn assert_mask(name: &str, ours: &[bool], theirs: &[f32]) {
    let ours: Vec<f32> = ours.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
    assert_eq!(ours, theirs, "{name}");
}

fn assert_close(name: &str, ours: &[f32], theirs: &[f32]) {
    let e = rel_err(ours, theirs);
    println!("{name}: rel err {e:.3e}");
    assert!(e <= 1e-4, "{name}: relative error {e}");
}

#[test]
fn tracker_reproduces_the_official_sequence() {
    let device = test_device().device;
    let fx = Fixture::open("tracker_seq");
    let weights = fixture_weights(&fx);
    let cfg_json = fixture_config_json(&fx, &weights);
    let exp = parse_config_json(&cfg_json, &fx.path.with_extension("json")).unwrap();
    let mut model_config = OSTrackConfig::from_experiment(&exp);
    model_config.drop_path_rate = 0.0;
    let model = OSTrack::new(&model_config, &device)
        .load_state_dict(&weights, "fixture weights")
        .unwrap();
    let params = TrackerParams::from_config(&exp);
    let mut tracker = Tracker::new(model, &model_config, params, &device).unwrap();

    let frames = fx.tensor("frames");
    let (n_frames, height, width) = (frames.shape[0], frames.shape[1], frames.shape[2]);
    let frame = |i: usize| frames.row(i).u8();
    let init: [f64; 4] = fx.f64s("init_bbox_f64").try_into().unwrap();

    // Template.
    let pixels = frame(0);
    let info = tracker
        .initialize(ImageView::new(&pixels, width, height), init)
        .unwrap();
    assert_crop(
        "template.crop",
        &info.crop.pixels,
        &fx.tensor("template.crop").u8(),
    );
    assert_mask(
        "template.att_mask",
        &info.crop.att_mask,
        &fx.tensor("template.att_mask").f32(),
    );
    let rf = fx.f64s("template_resize_factor_f64")[0];
    assert!(
        (info.crop.resize_factor - rf).abs() <= 1e-12,
        "template resize factor {} vs {rf}",
        info.crop.resize_factor
    );
    assert_close(
        "template.normalized",
        &info.normalized,
        &fx.tensor("template.normalized").f32(),
    );
    if let Some(mask) = fx.get("template.box_mask_z") {
        assert_mask(
            "template.box_mask_z",
            info.box_mask_z.as_deref().expect("CE template mask"),
            &mask.f32(),
        );
    }
    if let Some(window) = fx.get("output_window") {
        assert_close("output_window", &hann2d(tracker.feat_size()), &window.f32());
    }

    // Every tracked frame.
    let expected_boxes = fx.f64s("pred_boxes_f64");
    let expected_rf = fx.f64s("search_resize_factor_f64");
    let removed_names: Vec<String> = (0..)
        .map(|k| format!("removed_indexes_s.{k}"))
        .take_while(|n| fx.get(n).is_some())
        .collect();
    assert_eq!(
        expected_boxes.len(),
        4 * (n_frames - 1),
        "pred_boxes_f64 covers frames 1.."
    );
    let request = StepRequest {
        details: true,
        attention: false,
        sync_forward: false,
    };
    let mut worst_box = 0f64;
    for i in 1..n_frames {
        let t = i - 1;
        let pixels = frame(i);
        let (out, details) = tracker
            .track_with(ImageView::new(&pixels, width, height), request)
            .unwrap();
        let d = details.unwrap();
        assert_crop(
            &format!("search.crop[{t}]"),
            &d.search.pixels,
            &fx.tensor("search.crop").row(t).u8(),
        );
        assert_mask(
            &format!("search.att_mask[{t}]"),
            &d.search.att_mask,
            &fx.tensor("search.att_mask").row(t).f32(),
        );
        assert!(
            (d.search.resize_factor - expected_rf[t]).abs() <= 1e-12,
            "frame {i}: resize factor {} vs {}",
            d.search.resize_factor,
            expected_rf[t]
        );
        assert_close(
            &format!("score_map[{t}]"),
            &d.score_map,
            &fx.tensor("score_map").row(t).f32(),
        );
        assert_close(
            &format!("response[{t}]"),
            &d.response,
            &fx.tensor("response").row(t).f32(),
        );
        if let Some(p) = fx.get("pred_norm") {
            assert_close(&format!("pred_norm[{t}]"), &d.pred_norm, &p.row(t).f32());
        }
        assert_eq!(
            d.removed_indexes.len(),
            removed_names.len(),
            "frame {i}: number of CE blocks"
        );
        for (ours, name) in d.removed_indexes.iter().zip(&removed_names) {
            let mut ours = ours.clone();
            let mut theirs = fx.tensor(name).row(t).i64();
            ours.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "frame {i}: {name} as sets");
        }
        let expected = &expected_boxes[4 * t..4 * t + 4];
        let err = out
            .bbox
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f64, f64::max);
        worst_box = worst_box.max(err);
        println!(
            "frame {i}: box {:?} vs {expected:?} (max |diff| {err:.3e} px), score {:.4}",
            out.bbox, out.score
        );
        assert!(err <= 1e-3, "frame {i}: box {:?} vs {expected:?}", out.bbox);
        let peak = d
            .score_map
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(out.score, peak, "score is the raw score-map peak");
    }
    println!(
        "worst box error over {} frames: {worst_box:.3e} px",
        n_frames - 1
    );
}
