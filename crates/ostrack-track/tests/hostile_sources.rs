//! `ostrack track`'s frame sources on crafted hostile files: headers claiming frames far
//! beyond the frame limits, and truncated files. Each must end in an error naming the file
//! (and, for sizes, the limit), never in an abort: this binary refuses single allocations over
//! [`MAX_ALLOCATION`], so a size taken from a header unchecked fails loudly here instead of
//! allocating gigabytes.

mod common;
mod source_files;

use std::path::{Path, PathBuf};

use ostrack_data::image::MAX_FRAME_SIDE;
use ostrack_track::{FrameSource, SaveAnnotated};
use source_files::{read_all, written_by_track};

/// The largest frame within the limits takes 256 MiB as RGBA; nothing needs more at once.
const MAX_ALLOCATION: usize = 512 << 20;
ostrack_fuzz::install_capped_allocator!(MAX_ALLOCATION);

/// Writes `bytes` as `name` in `dir`.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The error opening `path` or reading its frames ends in (it must end in one).
fn first_error(path: &Path) -> String {
    let error = match FrameSource::open(&path.display().to_string()) {
        Err(e) => e,
        Ok(mut frames) => frames
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("{}: every frame decoded", path.display())),
    };
    let text = error.to_string();
    println!("{text}");
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    text
}

/// The error names the size claimed and the limit it exceeds.
fn assert_names_the_limit(error: &str, claimed: &str) {
    assert!(
        error.contains(claimed) && error.contains(&MAX_FRAME_SIDE.to_string()),
        "{error}"
    );
}

/// Every prefix (at a stride) of a seed is read as frames up to an error naming the file,
/// and the first half of it fails.
fn check_truncations(dir: &Path, seed: &[u8], ext: &str) {
    let path = dir.join(format!("cut.{ext}"));
    for len in (0..seed.len()).step_by(seed.len() / 400 + 1) {
        std::fs::write(&path, &seed[..len]).unwrap();
        if let Err(problem) = read_all(&path) {
            panic!("cut at {len} of {} bytes: {problem}", seed.len());
        }
    }
    std::fs::write(&path, &seed[..seed.len() / 2]).unwrap();
    first_error(&path);
}

/// `ostrack track`'s own output reads back as the clip it was written from; `count` is the
/// frame count the source knows before reading (videos know it, GIFs do not).
fn assert_reads_back(save: SaveAnnotated, name: &str, count: Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, &written_by_track(save));
    let source = FrameSource::open(&path.display().to_string()).unwrap();
    assert_eq!(source.frame_count(), count);
    let frames: Vec<_> = source.collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 4);
    assert_eq!((frames[0].image.width, frames[0].image.height), (64, 48));
}

/// The error a file gives once `patch` changed `ostrack track`'s output into it.
fn patched_error(save: SaveAnnotated, name: &str, patch: impl FnOnce(&mut [u8])) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = written_by_track(save);
    patch(&mut bytes);
    first_error(&write(dir.path(), name, &bytes))
}

#[test]
fn gif_written_by_track_reads_back() {
    assert_reads_back(SaveAnnotated::Gif, "clip.gif", None);
}

#[test]
fn gif_screen_of_65535_squared_is_refused() {
    // The logical screen descriptor: width and height, 16-bit little-endian, after "GIF89a".
    let error = patched_error(SaveAnnotated::Gif, "huge.gif", |gif| gif[6..10].fill(0xff));
    assert_names_the_limit(&error, "65535x65535");
}

#[test]
fn gif_frame_beyond_the_limits_is_refused() {
    let error = patched_error(SaveAnnotated::Gif, "huge-frame.gif", |gif| {
        // The first image descriptor: separator, left, top, then width and height.
        let blocks = source_files::gif_blocks(gif);
        let frame = blocks.into_iter().find(|&pos| gif[pos] == 0x2c).unwrap();
        gif[frame + 5..frame + 9].fill(0xff);
    });
    assert!(error.contains("GIF frame 0"), "{error}");
}

#[test]
fn truncated_gifs_end_in_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    check_truncations(dir.path(), &written_by_track(SaveAnnotated::Gif), "gif");
}

#[cfg(feature = "video")]
mod video {
    use super::*;
    use source_files::find_box;

    #[test]
    fn mp4_written_by_track_reads_back() {
        assert_reads_back(SaveAnnotated::Video, "clip.mp4", Some(4));
    }

    #[test]
    fn mp4_sample_entry_claiming_huge_frames_is_refused() {
        let error = patched_error(SaveAnnotated::Video, "huge-avc1.mp4", |mp4| {
            // avc1: box header, 24 bytes of reserved and predefined fields, width, height (u16).
            let avc1 = find_box(mp4, b"avc1");
            mp4[avc1 + 32..avc1 + 36].fill(0xff);
        });
        assert_names_the_limit(&error, "65535x65535");
    }

    #[test]
    fn mp4_track_header_claiming_huge_frames_is_refused() {
        let error = patched_error(SaveAnnotated::Video, "huge-tkhd.mp4", |mp4| {
            // tkhd: width and height (16.16 fixed point) end the box.
            let tkhd = find_box(mp4, b"tkhd");
            let end = tkhd + u32::from_be_bytes(mp4[tkhd..tkhd + 4].try_into().unwrap()) as usize;
            mp4[end - 8..end].copy_from_slice(&[0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0]);
        });
        assert_names_the_limit(&error, "65535x65535");
    }

    #[test]
    fn truncated_mp4s_end_in_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        check_truncations(dir.path(), &written_by_track(SaveAnnotated::Video), "mp4");
    }
}
