//! Deterministic mutation fuzzing of `ostrack track`'s file frame sources (animated GIF, and
//! H.264 MP4 with the `video` feature), with the workspace's fuzz harness (`ostrack-fuzz`).
//! Seeds are `ostrack track`'s own annotated output of a short clip; mutations aim at the GIF
//! blocks (little-endian sizes) and the MP4 boxes (big-endian sizes and counts). Every case
//! must open and read its frames, or end in an error naming the file: never a panic, never an
//! allocation over [`MAX_ALLOCATION`].
//!
//! `OSTRACK_FUZZ_CASE=gif:123` reruns one case, `OSTRACK_FUZZ_TRACE=1` prints each case before
//! running it; `cargo test --release -p ostrack-track --features video --test fuzz_sources --
//! --ignored` runs 100 times as many cases.

mod common;
mod source_files;

use ostrack_fuzz::{Endian, Mutator, Run};
use ostrack_track::SaveAnnotated;
use source_files::{read_all, written_by_track};

/// The largest frame within the limits takes 256 MiB as RGBA; nothing needs more at once.
const MAX_ALLOCATION: usize = 512 << 20;
ostrack_fuzz::install_capped_allocator!(MAX_ALLOCATION);

const GIF_CASES: u64 = 3000;
#[cfg(feature = "video")]
const MP4_CASES: u64 = 2000;

const GIF_MUTATOR: Mutator = Mutator {
    widths: &[2],
    // Block introducers, the graphic control extension, the looping extension, the trailer.
    dictionary: &[
        b"\x2c",
        b"\x21",
        b"\x21\xf9\x04",
        b"NETSCAPE2.0",
        b"\x3b",
        b"\x00",
    ],
    landmarks: Some(source_files::gif_blocks),
    max_mutations: 3,
    max_growth: 4 << 10,
    ..Mutator::new(Endian::Little)
};

#[cfg(feature = "video")]
const MP4_MUTATOR: Mutator = Mutator {
    // Box types (inserted where a size field leads to them), zero and "64-bit size" sizes.
    dictionary: &[
        b"moov",
        b"trak",
        b"mdia",
        b"minf",
        b"stbl",
        b"stsd",
        b"avc1",
        b"avcC",
        b"stsz",
        b"stsc",
        b"stco",
        b"co64",
        b"stss",
        b"mvex",
        b"moof",
        b"meta",
        b"udta",
        b"mdat",
        b"\0\0\0\0",
        b"\0\0\0\x01",
        b"\0\0\0\x08",
    ],
    landmarks: Some(source_files::mp4_boxes),
    max_mutations: 3,
    max_growth: 4 << 10,
    ..Mutator::new(Endian::Big)
};

/// Mutated seeds, written as `case.<ext>` and read as a frame source.
fn fuzz(run: Run, seed: &[u8], ext: &str, mutator: &Mutator) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("case.{ext}"));
    let make = |_, rng: &mut _| {
        let (bytes, mutations) = mutator.mutate(seed, rng);
        (bytes, format!("{mutations:?}"))
    };
    let check = |bytes: &Vec<u8>| {
        std::fs::write(&path, bytes).unwrap();
        read_all(&path)
    };
    run.run(make, check).assert_ok_and_err();
}

fn fuzz_gif(run: Run) {
    let seed = written_by_track(SaveAnnotated::Gif);
    fuzz(run, &seed, "gif", &GIF_MUTATOR);
}

#[cfg(feature = "video")]
fn fuzz_mp4(run: Run) {
    let seed = written_by_track(SaveAnnotated::Video);
    fuzz(run, &seed, "mp4", &MP4_MUTATOR);
}

#[test]
fn fuzz_gif_source() {
    fuzz_gif(Run::new("gif", GIF_CASES));
}

#[cfg(feature = "video")]
#[test]
fn fuzz_mp4_source() {
    fuzz_mp4(Run::new("mp4", MP4_CASES));
}

#[test]
#[ignore = "long run: 100x the default cases (cargo test --release -- --ignored)"]
fn fuzz_sources_long() {
    fuzz_gif(Run::new("gif", GIF_CASES).long());
    #[cfg(feature = "video")]
    fuzz_mp4(Run::new("mp4", MP4_CASES).long());
}
