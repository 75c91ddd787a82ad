//! Mutation fuzzing of the frame decoders: baseline JPEG (our own decoder, whole frames and
//! regions), progressive JPEG (the zune-jpeg fallback) and PNG (through `image`), with the
//! workspace's fuzz harness (`ostrack-fuzz`). Seed files are written here by the workspace's
//! own encoders; mutations aim at the big-endian length and size fields after JPEG markers and
//! PNG chunk starts. Every mutated file must decode or give an error naming the file: never a
//! panic, never an allocation beyond [`MAX_ALLOCATION`].
//!
//! The default runs take a few seconds in release mode; `cargo test --release --test
//! fuzz_decoders -- --ignored` runs 100 times as many cases. A failure names the case index,
//! its seed and its mutations; `OSTRACK_FUZZ_CASE=png:1234` reruns one case, and
//! `OSTRACK_FUZZ_TRACE=1` prints each case before running it.

use std::path::PathBuf;

use image::{ImageEncoder, codecs::png::PngEncoder};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use ostrack_data::decode::{decode_frame, decode_frame_region, decode_frame_strict};
use ostrack_data::image::{MAX_FRAME_PIXELS, MAX_FRAME_SIDE};
use ostrack_fuzz::{Endian, Mutator, Run, SplitMix64, Tally};

/// Any single allocation above this is refused: no decoder may size a buffer from a corrupt
/// header without checking it. Frames within the limits need at most 512 MiB (the `image`
/// decoder's bound for a 2^26-pixel 16-bit RGBA frame).
const MAX_ALLOCATION: usize = 512 << 20;
ostrack_fuzz::install_capped_allocator!(MAX_ALLOCATION);

/// Cases per format in the default run (the `--ignored` run multiplies them by 100).
const BASELINE_CASES: u64 = 20_000;
const PROGRESSIVE_CASES: u64 = 10_000;
const PNG_CASES: u64 = 20_000;

/// Values written over length and size fields besides the harness's: sizes at and just past
/// the frame limits (16384 per side, 8192 x 8192 in all) as pairs of 16-bit fields.
const SIZE_VALUES: [u64; 9] = [
    0xffff,
    0xffff_ffff,
    0x8000_0000,
    0x7fff_ffff,
    0,
    0x4000_4001,
    0x2000_2000,
    0x4000,
    0x2001,
];

const JPEG_MUTATOR: Mutator = Mutator {
    widths: &[2, 4],
    huge_values: &SIZE_VALUES,
    dictionary: &[
        b"\xff\xd8",
        b"\xff\xd9",
        b"\xff\xc0",
        b"\xff\xc2",
        b"\xff\xc4",
        b"\xff\xda",
        b"\xff\xdb",
        b"\xff\xdd",
        b"\xff\xd0",
        b"\xff\x00",
    ],
    landmarks: Some(jpeg_markers),
    max_mutations: 3,
    max_growth: 4 << 10,
    ..Mutator::new(Endian::Big)
};

const PNG_MUTATOR: Mutator = Mutator {
    landmarks: Some(png_chunk_starts),
    dictionary: &[
        b"IHDR",
        b"IDAT",
        b"IEND",
        b"PLTE",
        b"tRNS",
        b"\x00\x00\x00\x00",
    ],
    ..JPEG_MUTATOR
};

const SEED_WIDTH: usize = 48;
const SEED_HEIGHT: usize = 40;

/// Gradients, hard edges and a one-pixel stroke, so every DCT frequency and filter type occurs.
fn seed_pixels(w: usize, h: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let edge = if (x / 7 + y / 5) % 2 == 0 { 60 } else { 0 };
            let stroke = if x == y { 255 } else { 0 };
            v.extend([
                (x * 5 + edge).min(255) as u8,
                (y * 6 + edge / 2) as u8 | stroke,
                (255 - x * 3 - y * 2) as u8,
            ]);
        }
    }
    v
}

fn grey(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3).map(|p| p[1]).collect()
}

struct JpegSeed {
    quality: u8,
    sampling: SamplingFactor,
    restart: u16,
    gray: bool,
}

fn encode_jpeg(s: &JpegSeed, progressive: bool) -> Vec<u8> {
    let rgb = seed_pixels(SEED_WIDTH, SEED_HEIGHT);
    let (pixels, color) = if s.gray {
        (grey(&rgb), ColorType::Luma)
    } else {
        (rgb, ColorType::Rgb)
    };
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, s.quality);
    enc.set_sampling_factor(s.sampling);
    enc.set_progressive(progressive);
    if s.restart > 0 {
        enc.set_restart_interval(s.restart);
    }
    enc.encode(&pixels, SEED_WIDTH as u16, SEED_HEIGHT as u16, color)
        .unwrap();
    out
}

fn jpeg_seeds(progressive: bool) -> Vec<Vec<u8>> {
    let seed = |quality, sampling, restart, gray| JpegSeed {
        quality,
        sampling,
        restart,
        gray,
    };
    [
        seed(90, SamplingFactor::R_4_2_0, 0, false),
        seed(75, SamplingFactor::R_4_2_2, 1, false),
        seed(95, SamplingFactor::R_4_4_4, 2, false),
        seed(50, SamplingFactor::R_4_2_0, 3, false),
        seed(80, SamplingFactor::R_4_4_4, 0, true),
    ]
    .iter()
    .map(|s| encode_jpeg(s, progressive))
    .collect()
}

fn png_seeds() -> Vec<Vec<u8>> {
    let rgb = seed_pixels(SEED_WIDTH, SEED_HEIGHT);
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], p[0] ^ p[2]])
        .collect();
    let rgb16: Vec<u8> = rgb.iter().flat_map(|&v| [v, v ^ 0x5A]).collect();
    let (w, h) = (SEED_WIDTH as u32, SEED_HEIGHT as u32);
    let encode = |data: &[u8], color: image::ExtendedColorType| {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(data, w, h, color)
            .unwrap();
        out
    };
    vec![
        encode(&rgb, image::ExtendedColorType::Rgb8),
        encode(&rgba, image::ExtendedColorType::Rgba8),
        encode(&grey(&rgb), image::ExtendedColorType::L8),
        encode(&rgb16, image::ExtendedColorType::Rgb16),
    ]
}

/// Offsets of the JPEG markers that start a segment (those with a length field).
fn jpeg_markers(b: &[u8]) -> Vec<usize> {
    let standalone = |m: u8| matches!(m, 0x00 | 0x01 | 0xFF | 0xD0..=0xD9);
    (0..b.len().saturating_sub(1))
        .filter(|&i| b[i] == 0xFF && !standalone(b[i + 1]))
        .collect()
}

/// The chunks of a PNG: (offset of the length field, data length), while they fit the file.
fn png_chunks(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 8;
    while let Some(len) = b.get(pos..pos + 4) {
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        if pos + 12 + len > b.len() {
            break;
        }
        out.push((pos, len));
        pos += 12 + len;
    }
    out
}

/// Offsets of the PNG chunks (their length fields).
fn png_chunk_starts(b: &[u8]) -> Vec<usize> {
    png_chunks(b).into_iter().map(|(pos, _)| pos).collect()
}

/// CRC-32 (IEEE) as PNG uses it.
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

/// Rewrites the CRC of every chunk, so that a mutation inside a chunk reaches the decoder
/// instead of stopping at the checksum.
fn fix_png_crcs(b: &mut [u8]) {
    for (pos, len) in png_chunks(b) {
        let crc = crc32(&b[pos + 4..pos + 8 + len]);
        b[pos + 8 + len..pos + 12 + len].copy_from_slice(&crc.to_be_bytes());
    }
}

/// One case: the file's name, its bytes, and the region decoded as the training loader does.
struct DecoderCase {
    name: String,
    bytes: Vec<u8>,
    region: [usize; 4],
}

/// Case `index`: a mutated seed and a random region (which may reach past the frame).
fn make_case(
    mutator: &Mutator,
    seeds: &[Vec<u8>],
    ext: &str,
    index: u64,
    rng: &mut SplitMix64,
) -> (DecoderCase, String) {
    let seed = rng.below(seeds.len());
    let (bytes, mutations) = mutator.mutate(&seeds[seed], rng);
    let region = [
        rng.below(SEED_WIDTH + 8),
        rng.below(SEED_HEIGHT + 8),
        1 + rng.below(SEED_WIDTH),
        1 + rng.below(SEED_HEIGHT),
    ];
    let case = DecoderCase {
        name: format!("case-{index}.{ext}"),
        bytes,
        region,
    };
    (case, format!("seed {seed}, {mutations:?}"))
}

/// Decodes a case as a whole frame, strictly, and as a region; each result must be pixels of
/// a size within the limits, or an error naming the file.
fn check_decoders(case: &DecoderCase) -> Result<Tally, String> {
    let path = PathBuf::from(&case.name);
    let [x0, y0, w, h] = case.region;
    let results = [
        decode_frame(&case.bytes, &path),
        decode_frame_strict(&case.bytes, &path),
        decode_frame_region(&case.bytes, &path, x0, y0, w, h),
    ];
    let mut tally = Tally::default();
    for result in results {
        match result {
            Ok(img) => {
                let size_ok = img.width <= MAX_FRAME_SIDE
                    && img.height <= MAX_FRAME_SIDE
                    && img.width * img.height <= MAX_FRAME_PIXELS
                    && img.data.len() == img.width * img.height * 3;
                if !size_ok {
                    return Err(format!("bad image {}x{}", img.width, img.height));
                }
                tally.ok += 1;
            }
            Err(e) if e.to_string().contains(&case.name) => tally.err += 1,
            Err(e) => return Err(format!("error does not name the file: {e}")),
        }
    }
    Ok(tally)
}

fn fuzz_jpeg(run: Run, progressive: bool) {
    let seeds = jpeg_seeds(progressive);
    let make = |i, rng: &mut SplitMix64| make_case(&JPEG_MUTATOR, &seeds, "jpg", i, rng);
    // The mutations must not be so destructive that nothing decodes any more.
    run.run(make, check_decoders).assert_ok_and_err();
}

fn fuzz_png(run: Run) {
    let seeds = png_seeds();
    let make = |i, rng: &mut SplitMix64| {
        let (mut case, how) = make_case(&PNG_MUTATOR, &seeds, "png", i, rng);
        // Half the cases keep the checksums right, so mutations get past the CRC check.
        if !rng.chance(2) {
            return (case, how);
        }
        fix_png_crcs(&mut case.bytes);
        (case, how + ", CRCs fixed")
    };
    run.run(make, check_decoders).assert_ok_and_err();
}

#[test]
fn seeds_decode_unchanged_in_size() {
    let path = PathBuf::from("seed");
    for seed in jpeg_seeds(false)
        .iter()
        .chain(&jpeg_seeds(true))
        .chain(&png_seeds())
    {
        let img = decode_frame_strict(seed, &path).unwrap();
        assert_eq!((img.width, img.height), (SEED_WIDTH, SEED_HEIGHT));
    }
    // The largest frame in `image`'s widest layout must fit under the allocation cap.
    const { assert!(MAX_FRAME_PIXELS * 8 <= MAX_ALLOCATION) };
}

#[test]
fn fuzz_baseline_jpeg() {
    fuzz_jpeg(Run::new("baseline-jpeg", BASELINE_CASES), false);
}

#[test]
fn fuzz_progressive_jpeg() {
    fuzz_jpeg(Run::new("progressive-jpeg", PROGRESSIVE_CASES), true);
}

#[test]
fn fuzz_png_files() {
    fuzz_png(Run::new("png", PNG_CASES));
}

#[test]
#[ignore = "long run: 100x the default cases (cargo test --release -- --ignored)"]
fn fuzz_all_formats_long() {
    fuzz_jpeg(Run::new("baseline-jpeg", BASELINE_CASES).long(), false);
    fuzz_jpeg(Run::new("progressive-jpeg", PROGRESSIVE_CASES).long(), true);
    fuzz_png(Run::new("png", PNG_CASES).long());
}
