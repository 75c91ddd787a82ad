//! Decoded JPEG pixels against what the original's loader (`cv2.imread`, libjpeg-turbo) returns
//! for the same files (fixture J, `jpeg/`): exact for every baseline file, which our own decoder
//! handles; files it leaves to zune-jpeg (progressive) only need to be close.

mod common;

use std::path::Path;

use common::{Fixture, fixtures_dir};
use ostrack_data::decode::{decode_frame, decode_frame_region, decode_frame_strict};

/// Largest per-byte difference and mean absolute difference.
fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0);
    let sum: u64 = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum();
    (max, sum as f64 / a.len().max(1) as f64)
}

#[test]
fn every_fixture_decodes_like_libjpeg_turbo() {
    let fx = Fixture::open("jpeg/jpeg_decode");
    let cases = fx.sidecar.as_object().expect("sidecar is an object");
    let mut checked = 0;
    for (case, meta) in cases.iter().filter(|(k, _)| !k.starts_with('_')) {
        let file = fixtures_dir()
            .join("jpeg")
            .join(meta["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        let want = fx.u8(case);
        let (w, h) = (
            meta["width"].as_u64().unwrap() as usize,
            meta["height"].as_u64().unwrap() as usize,
        );
        for got in [
            decode_frame(&bytes, &file).unwrap(),
            decode_frame_strict(&bytes, &file).unwrap(),
        ] {
            assert_eq!((got.width, got.height), (w, h), "{case}");
            let (max, mean) = difference(&got.data, &want);
            if meta["progressive"].as_bool() == Some(true) {
                assert!(max <= 8 && mean < 0.8, "{case}: max {max}, mean {mean}");
            } else {
                assert_eq!(max, 0, "{case}: mean difference {mean}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} cases");
}

#[test]
fn regions_of_fixtures_equal_the_libjpeg_turbo_pixels() {
    let fx = Fixture::open("jpeg/jpeg_decode");
    let cases = fx.sidecar.as_object().expect("sidecar is an object");
    for (case, meta) in cases.iter().filter(|(k, _)| !k.starts_with('_')) {
        if meta["progressive"].as_bool() == Some(true) {
            continue;
        }
        let file = fixtures_dir()
            .join("jpeg")
            .join(meta["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        let want = fx.u8(case);
        let w = meta["width"].as_u64().unwrap() as usize;
        let h = meta["height"].as_u64().unwrap() as usize;
        for (x0, y0, rw, rh) in [
            (0, 0, 7, 5),
            (w / 3, h / 4, w / 2, h / 3),
            (w - 9, h - 3, 50, 50),
        ] {
            let got = decode_frame_region(&bytes, Path::new(case), x0, y0, rw, rh).unwrap();
            let (rw, rh) = (rw.min(w - x0), rh.min(h - y0));
            assert_eq!((got.width, got.height), (rw, rh), "{case}");
            for r in 0..rh {
                let at = ((y0 + r) * w + x0) * 3;
                assert_eq!(
                    &got.data[r * rw * 3..(r + 1) * rw * 3],
                    &want[at..at + rw * 3],
                    "{case} region ({x0},{y0},{rw},{rh}) row {r}"
                );
            }
        }
    }
}
