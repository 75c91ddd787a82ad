//! Crafted hostile and damaged files: each must give a clean error that names the file (and,
//! for sizes, the limit), before anything is allocated for the size a header claims.

use std::path::{Path, PathBuf};

use ostrack_data::decode::{
    MAX_FRAME_FILE_BYTES, decode_frame, decode_frame_region, decode_frame_strict, read_frame,
    read_frame_bytes,
};
use ostrack_data::image::{MAX_FRAME_PIXELS, MAX_FRAME_SIDE, RgbImage};
use ostrack_data::{DataRoots, DatasetKind, open_layout};

fn test_image(w: usize, h: usize) -> RgbImage {
    let mut img = RgbImage::new(w, h);
    for (i, p) in img.data.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % w, i / w);
        p.copy_from_slice(&[(x * 5) as u8, (y * 6) as u8, ((x + y) % 2 * 200) as u8]);
    }
    img
}

fn baseline_jpeg() -> Vec<u8> {
    ostrack_data::decode::encode_jpeg(&test_image(48, 40), 90).unwrap()
}

fn progressive_jpeg() -> Vec<u8> {
    let img = test_image(48, 40);
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
    enc.set_progressive(true);
    enc.encode(&img.data, 48, 40, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// The offset of the first `FF <marker>` pair.
fn find_marker(bytes: &[u8], marker: u8) -> usize {
    bytes
        .windows(2)
        .position(|w| w == [0xFF, marker])
        .expect("marker present")
}

/// The JPEG with its frame header (`marker`) claiming `width` x `height`.
fn with_frame_size(mut bytes: Vec<u8>, marker: u8, width: u16, height: u16) -> Vec<u8> {
    let sof = find_marker(&bytes, marker);
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// Every entry point (in memory and from disk) must fail, naming the file and each of `want`.
fn assert_every_decoder_rejects(bytes: &[u8], name: &str, want: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let results = [
        ("decode_frame", decode_frame(bytes, &path)),
        ("decode_frame_strict", decode_frame_strict(bytes, &path)),
        (
            "decode_frame_region",
            decode_frame_region(bytes, &path, 3, 4, 20, 10),
        ),
        ("read_frame", read_frame(&path)),
    ];
    for (what, result) in results {
        let msg = result.expect_err(what).to_string();
        assert!(msg.contains(name), "{what}: {msg}");
        for w in want {
            assert!(msg.contains(w), "{what}: `{w}` missing from: {msg}");
        }
    }
}

#[test]
fn jpeg_frame_headers_beyond_the_limits() {
    let side = MAX_FRAME_SIDE.to_string();
    let pixels = MAX_FRAME_PIXELS.to_string();
    let huge = with_frame_size(baseline_jpeg(), 0xC0, 65535, 65535);
    assert_every_decoder_rejects(&huge, "huge.jpg", &["65535x65535", &side]);
    let wide = with_frame_size(baseline_jpeg(), 0xC0, 16385, 8);
    assert_every_decoder_rejects(&wide, "wide.jpg", &["16385x8", &side]);
    // Each side within the limit, the pixel count not.
    let square = with_frame_size(baseline_jpeg(), 0xC0, 16384, 16384);
    assert_every_decoder_rejects(&square, "square.jpg", &["16384x16384", &pixels]);
    // Progressive files go to zune-jpeg; the same check comes first.
    let progressive = with_frame_size(progressive_jpeg(), 0xC2, 65535, 65535);
    assert_every_decoder_rejects(&progressive, "progressive.jpg", &["65535x65535", &side]);
}

#[test]
fn truncated_jpegs_are_errors_or_padded_frames() {
    for bytes in [baseline_jpeg(), progressive_jpeg()] {
        for cut in [0, 1, 2, 3, 10, 100, bytes.len() / 2, bytes.len() - 2] {
            let path = PathBuf::from(format!("cut{cut}.jpg"));
            let part = &bytes[..cut];
            // Without the end-of-image marker the strict decoder (the doctor's) always fails.
            let msg = decode_frame_strict(part, &path).unwrap_err().to_string();
            assert!(msg.contains("cut"), "{msg}");
            for result in [
                decode_frame(part, &path),
                decode_frame_region(part, &path, 0, 0, 48, 40),
            ] {
                match result {
                    Ok(img) => assert_eq!((img.width, img.height), (48, 40)),
                    Err(e) => assert!(e.to_string().contains("cut"), "{e}"),
                }
            }
        }
    }
}

/// A JPEG where a size scan that skips a stray `FF D8` finds a different frame header than the
/// decoder: the crops are planned on the first, the pixels come from the second.
#[test]
fn jpeg_whose_headers_disagree_is_an_error_not_a_panic() {
    let good = baseline_jpeg();
    let decoy = [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x03, 0xE8, 0x03, 0xE8];
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xD8, 0x00, 2 + decoy.len() as u8];
    bytes.extend(decoy);
    bytes.extend(&good[2..]);
    let path = Path::new("decoy.jpg");
    let err = decode_frame_region(&bytes, path, 500, 500, 100, 100).unwrap_err();
    assert!(err.to_string().contains("decoy.jpg"), "{err}");
}

/// A PNG of just a signature, an IHDR claiming `width` x `height` (with a correct CRC) and IEND.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend(crc32(&c[4..]).to_be_bytes());
        c
    }
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, adaptive filters, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[test]
fn png_headers_beyond_the_limits() {
    let side = MAX_FRAME_SIDE.to_string();
    // 2^31 is beyond what PNG allows at all; the decoder's own error is fine there.
    assert_every_decoder_rejects(&png_claiming(1 << 31, 1 << 31), "2pow31.png", &[]);
    assert_every_decoder_rejects(
        &png_claiming((1 << 31) - 1, (1 << 31) - 1),
        "max.png",
        &[&side],
    );
    assert_every_decoder_rejects(&png_claiming(16385, 1), "wide.png", &[&side]);
    assert_every_decoder_rejects(
        &png_claiming(9000, 9000),
        "many.png",
        &[&MAX_FRAME_PIXELS.to_string()],
    );
}

#[test]
fn oversized_frame_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video-named-as-frame.jpg");
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: no disk space or time spent on the 256 MiB.
    file.set_len(MAX_FRAME_FILE_BYTES + 1).unwrap();
    for msg in [
        read_frame(&path).unwrap_err().to_string(),
        read_frame_bytes(&path).unwrap_err().to_string(),
    ] {
        assert!(msg.contains("video-named-as-frame.jpg"), "{msg}");
        assert!(msg.contains(&MAX_FRAME_FILE_BYTES.to_string()), "{msg}");
    }
}

#[test]
fn raw_image_sizes_cannot_overflow() {
    assert!(RgbImage::from_raw(usize::MAX, 3, Vec::new()).is_none());
    assert!(RgbImage::from_raw(1 << 62, 1 << 2, Vec::new()).is_none());
}

#[test]
fn settings_files_that_are_not_a_mapping_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = {
        let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (k, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip("abcdefgh".chars())
        {
            y += &format!("{k}: &{k} [{}]\n", vec![format!("*{prev}"); 9].join(", "));
        }
        y
    };
    let cases = [
        ("empty.yaml", String::new(), "mapping"),
        ("comments.yaml", "# root: /data\n".into(), "mapping"),
        ("list.yaml", "- /data\n".into(), "mapping"),
        ("deep.yaml", "[".repeat(100_000), "nests"),
        ("bomb.yaml", bomb, "limit"),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let msg = DataRoots::load(&path).unwrap_err().to_string();
        assert!(msg.contains(name) && msg.contains(want), "{msg}");
    }
}

#[test]
fn deeply_nested_coco_annotations_are_an_error() {
    let root = tempfile::tempdir().unwrap();
    let annotations = root.path().join("annotations");
    std::fs::create_dir_all(&annotations).unwrap();
    let file = annotations.join("instances_train2017.json");
    let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
    // A typed field stops at the first bracket of the wrong type, a key the loader skips is
    // skipped without recursion, and serde_json's recursion limit (128, see ostrack-config's
    // `json_keeps_its_recursion_limit`) bounds the rest: a clean error, never a stack overflow.
    for text in [
        format!("{{\"images\": [{{\"id\": 1, \"file_name\": {open}"),
        format!("{{\"info\": {open}"),
        format!("{{\"info\": {open}{close}}}"),
    ] {
        std::fs::write(&file, text).unwrap();
        let err = open_layout(DatasetKind::Coco, root.path())
            .err()
            .expect("an error");
        let msg = err.to_string();
        assert!(msg.contains("instances_train2017.json"), "{msg}");
    }
}
