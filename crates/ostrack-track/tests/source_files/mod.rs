//! Frame-source files for the hostile-file and fuzz tests: seeds written by `ostrack track`
//! itself (its annotated GIF and, with the `video` feature, MP4 output of the tiny fixture
//! model on a short synthetic clip), the block and box layout of those formats, and the
//! check every result of a frame source must pass.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use ostrack_data::image::{MAX_FRAME_PIXELS, MAX_FRAME_SIDE};
use ostrack_data::synth::{SynthFormat, SynthOptions, generate};
use ostrack_fuzz::Tally;
use ostrack_track::{FrameSource, SaveAnnotated, TrackOptions, first_groundtruth_box, run_track};

use crate::common;

/// Frames of the seed clip: enough for GIF frame disposal and H.264 P-frames to occur, few
/// enough to keep each fuzz case fast.
const CLIP_FRAMES: usize = 4;

/// The annotated output `ostrack track` writes for a short synthetic clip (`save` is `Gif` or
/// `Video`), as bytes.
pub fn written_by_track(save: SaveAnnotated) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let (config, weights) = common::write_fixture_model(tmp.path());
    let options = SynthOptions {
        sequences: 1,
        val_sequences: 0,
        frames: 20,
        width: 64,
        height: 48,
        seed: 11,
        jpeg_quality: 90,
    };
    let root = generate(SynthFormat::Custom, &tmp.path().join("data"), &options)
        .unwrap()
        .dataset_root;
    let sequence = root.join("sequence_001");
    let clip = first_frames(&sequence, &tmp.path().join("clip"));
    let truth = [
        sequence.join("groundtruth.txt"),
        root.join("groundtruth.txt"),
    ];
    let truth = truth.iter().find(|p| p.is_file()).unwrap();
    let opts = TrackOptions {
        config,
        weights,
        source: clip.display().to_string(),
        init: Some(first_groundtruth_box(truth).unwrap()),
        output: tmp.path().join("out"),
        lost_threshold: None,
        show_attention: false,
        save,
        progress: false,
    };
    let summary = run_track(&opts, &Device::flex()).unwrap();
    std::fs::read(summary.annotated.unwrap()).unwrap()
}

/// A folder with the first [`CLIP_FRAMES`] frames of `sequence` (no ground truth: the clip
/// is tracked from the sequence's first box).
fn first_frames(sequence: &Path, clip: &Path) -> PathBuf {
    std::fs::create_dir_all(clip).unwrap();
    let frames = FrameSource::folder(sequence).unwrap();
    let source_dir = frames.origin().to_path_buf();
    for frame in frames.take(CLIP_FRAMES) {
        let name = frame.unwrap().name;
        std::fs::copy(source_dir.join(&name), clip.join(&name)).unwrap();
    }
    clip.to_path_buf()
}

/// Opens `path` as a frame source and reads every frame up to the first error. Every error
/// must name the file, every frame must be pixels of a size within the frame limits.
pub fn read_all(path: &Path) -> Result<Tally, String> {
    let named = |e: ostrack_track::TrackError| {
        let text = e.to_string();
        match text.contains(&path.display().to_string()) {
            true => Ok(Tally::ERR),
            false => Err(format!("error does not name the file: {text}")),
        }
    };
    let source = match FrameSource::open(&path.display().to_string()) {
        Ok(source) => source,
        Err(e) => return named(e),
    };
    for frame in source {
        let image = match frame {
            Ok(frame) => frame.image,
            Err(e) => return named(e),
        };
        let (w, h) = (image.width, image.height);
        let fits = w <= MAX_FRAME_SIDE && h <= MAX_FRAME_SIDE && w * h <= MAX_FRAME_PIXELS;
        if !fits || image.data.len() != w * h * 3 {
            return Err(format!("frame of {w}x{h} with {} bytes", image.data.len()));
        }
    }
    Ok(Tally::OK)
}

/// Offsets of a GIF's blocks: the logical screen descriptor, then each extension and image
/// descriptor (their size fields follow), as far as the structure holds.
pub fn gif_blocks(b: &[u8]) -> Vec<usize> {
    let mut starts = vec![6];
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let mut pos = 13 + b.get(10).map_or(0, |&f| table(f));
    while let Some(&kind) = b.get(pos) {
        starts.push(pos);
        pos += match kind {
            0x21 => 2,
            0x2c => 10 + b.get(pos + 9).map_or(0, |&f| table(f)) + 1,
            _ => break,
        };
        // Data sub-blocks: a length byte each, up to an empty one.
        while let Some(&len) = b.get(pos) {
            pos += 1 + len as usize;
            if len == 0 {
                break;
            }
        }
    }
    starts
}

/// Offsets of an MP4's boxes, descending into the containers on the way to the samples.
pub fn mp4_boxes(b: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    walk_boxes(b, 0, b.len(), &mut starts);
    starts
}

fn walk_boxes(b: &[u8], mut pos: usize, end: usize, starts: &mut Vec<usize>) {
    const CONTAINERS: [&[u8; 4]; 6] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta"];
    while pos + 8 <= end {
        starts.push(pos);
        let field = |at: usize, n: usize| b[at..at + n].iter().fold(0, |v, &x| v << 8 | x as usize);
        let size = match field(pos, 4) {
            0 => end - pos,
            1 if pos + 16 <= end => field(pos + 8, 8),
            size => size,
        };
        let kind = &b[pos + 4..pos + 8];
        if CONTAINERS.iter().any(|c| c.as_slice() == kind) && size >= 8 && pos + size <= end {
            walk_boxes(b, pos + 8, pos + size, starts);
        }
        if kind == b"stsd" && size >= 16 && pos + size <= end {
            walk_boxes(b, pos + 16, pos + size, starts);
        }
        if size < 8 {
            break;
        }
        pos += size;
    }
}

/// The offset of the first box of type `kind` (a container on the way to it is descended).
pub fn find_box(b: &[u8], kind: &[u8; 4]) -> usize {
    mp4_boxes(b)
        .into_iter()
        .find(|&pos| &b[pos + 4..pos + 8] == kind)
        .unwrap_or_else(|| panic!("no `{}` box", String::from_utf8_lossy(kind)))
}
