//! Decoded JPEG pixels against what the original's loader (`cv2.imread`, libjpeg-turbo) returns
//! for the same files (fixture J, `jpeg/`), through this crate's API: exact for every file our
//! decoder handles (all but the progressive ones), whole frames and regions alike; progressive
//! files, which go to zune-jpeg, only need to be close.

use ostrack_jpeg::{Region, decode, decode_region};
use ostrack_testkit::{Fixture, fixtures_dir};

/// Largest difference between zune-jpeg's and libjpeg-turbo's pixels over the progressive
/// fixture files, as measured (public set: 4 on `q80_progressive_420_256x192`, mean 0.33). Both
/// decoders are correct; zune-jpeg's IDCT and chroma upsampling round differently from
/// libjpeg-turbo's islow IDCT and fancy upsampling, which only our own decoder reproduces.
const PROGRESSIVE_MAX_DIFF: u8 = 4;
/// The bound on the mean absolute difference per byte (measured 0.33, see above).
const PROGRESSIVE_MEAN_DIFF: f64 = 0.4;

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

/// One case of the sidecar: its name, file bytes, size, whether progressive, expected pixels.
struct Case {
    name: String,
    bytes: Vec<u8>,
    w: usize,
    h: usize,
    progressive: bool,
    want: Vec<u8>,
}

/// Every case listed in `jpeg/jpeg_decode.json` (keys starting with `_` are notes).
fn cases() -> Vec<Case> {
    let fx = Fixture::open("jpeg/jpeg_decode");
    let listed = fx.sidecar.as_object().expect("sidecar is an object");
    let cases: Vec<Case> = listed
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(name, meta)| {
            let file = fixtures_dir()
                .join("jpeg")
                .join(meta["file"].as_str().unwrap());
            Case {
                name: name.clone(),
                bytes: std::fs::read(&file).unwrap(),
                w: meta["width"].as_u64().unwrap() as usize,
                h: meta["height"].as_u64().unwrap() as usize,
                progressive: meta["progressive"].as_bool() == Some(true),
                want: fx.u8(name),
            }
        })
        .collect();
    assert!(!cases.is_empty(), "no cases in jpeg/jpeg_decode.json");
    cases
}

#[test]
fn every_fixture_decodes_like_libjpeg_turbo() {
    for c in cases() {
        for strict in [false, true] {
            let got = decode(&c.bytes, strict).unwrap();
            let name = &c.name;
            assert_eq!(
                (got.w, got.h, got.frame_size),
                (c.w, c.h, (c.w, c.h)),
                "{name}"
            );
            let (max, mean) = difference(&got.data, &c.want);
            if c.progressive {
                assert!(
                    max <= PROGRESSIVE_MAX_DIFF && mean < PROGRESSIVE_MEAN_DIFF,
                    "{name}: max {max}, mean {mean}"
                );
            } else {
                assert_eq!(got.data.len(), c.want.len(), "{name}");
                assert_eq!(max, 0, "{name}: mean difference {mean}");
            }
        }
    }
}

/// Checks that `r` covers the requested rectangle and that every pixel it holds equals the
/// stored frame's.
fn assert_region_matches(c: &Case, r: &Region, (x0, y0, rw, rh): (usize, usize, usize, usize)) {
    let name = &c.name;
    assert_eq!(r.frame_size, (c.w, c.h), "{name}");
    let (x1, y1) = ((x0 + rw).min(c.w), (y0 + rh).min(c.h));
    assert!(
        r.x0 <= x0 && r.y0 <= y0 && r.x0 + r.w >= x1 && r.y0 + r.h >= y1,
        "{name}: region ({x0},{y0},{rw},{rh}) decoded as ({},{},{},{})",
        r.x0,
        r.y0,
        r.w,
        r.h
    );
    assert!(r.x0 + r.w <= c.w && r.y0 + r.h <= c.h, "{name}");
    for row in 0..r.h {
        let at = ((r.y0 + row) * c.w + r.x0) * 3;
        assert_eq!(
            &r.data[row * r.w * 3..(row + 1) * r.w * 3],
            &c.want[at..at + r.w * 3],
            "{name} region ({x0},{y0},{rw},{rh}) row {}",
            r.y0 + row
        );
    }
}

#[test]
fn regions_of_fixtures_equal_the_libjpeg_turbo_pixels() {
    for c in cases() {
        let (w, h) = (c.w, c.h);
        for rect in [
            (0, 0, 7, 5),
            (w / 3, h / 4, w / 2, h / 3),
            (w - 9, h - 3, 50, 50),
            (w / 2, h / 2, 1, 1),
            (0, 0, w, h),
        ] {
            let region = decode_region(&c.bytes, rect.0, rect.1, rect.2, rect.3).unwrap();
            match region {
                // Progressive files are left to `decode`'s fallback, compared above.
                None => assert!(c.progressive, "{}: our decoder declined it", c.name),
                Some(r) => {
                    assert!(!c.progressive, "{}: progressive but decoded", c.name);
                    assert_region_matches(&c, &r, rect);
                    ostrack_jpeg::recycle(r.data);
                }
            }
        }
    }
}
