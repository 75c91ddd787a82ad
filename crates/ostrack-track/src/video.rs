//! H.264 MP4 reading and writing (cargo feature `video`): OpenH264 (compiled from the source
//! bundled in `openh264-sys2`, so no system library is needed, only a C++ compiler)
//! decodes/encodes, `mp4` muxes, and the demuxer below reads. OpenH264 handles the Constrained
//! Baseline profile; streams with B-frames (Main/High) may fail to decode and are reported as
//! errors naming the file.
//!
//! The `mp4` crate's reader is not used on input files: fuzzing found it looping forever on a
//! malformed box inside `moov` (a zero size makes it seek back to the box it just read), and
//! its source sizes buffers from unchecked fields (children of `meta`, `emsg`, samples of up to
//! 4 GiB) and unwraps while reading samples. What the tracker needs of a file is small: the
//! first H.264 track's sample entry (`avc1`/`avcC`), its sample tables and the samples, each
//! read below with its size checked against its parent box, the file, and the frame limits.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mp4::{AvcConfig, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig, TrackType};
use openh264::decoder::{DecodedYUV, Decoder};
use openh264::encoder::Encoder;
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use ostrack_atomic::{Durability, PendingFile};
use ostrack_data::RgbImage;
use ostrack_data::decode::MAX_FRAME_FILE_BYTES;
use ostrack_data::image::check_frame_size;

use crate::error::{Result, TrackError};

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

/// The frames of the first H.264 track of an MP4 file, decoded in order.
pub(crate) struct Mp4Frames {
    path: PathBuf,
    file: File,
    file_len: u64,
    samples: Samples,
    length_size: usize,
    /// SPS and PPS in Annex-B form, fed before every sync sample.
    parameter_sets: Vec<u8>,
    decoder: Decoder,
    pending: VecDeque<RgbImage>,
    /// Samples are exhausted (or failed) and the decoder was flushed.
    flushed: bool,
}

impl Mp4Frames {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let bad = |m: String| TrackError::file(path, m);
        let mut file = File::open(path).map_err(|e| TrackError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| TrackError::io(path, e))?.len();
        let moov = read_moov(&mut file, file_len)
            .map_err(|e| bad(format!("not a readable MP4 file: {e}")))?;
        let track = H264Track::find(&moov, file_len).map_err(bad)?;
        let decoder =
            Decoder::new().map_err(|e| bad(format!("cannot start the H.264 decoder: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            file_len,
            samples: Samples::new(track.table),
            length_size: track.length_size,
            parameter_sets: track.parameter_sets,
            decoder,
            pending: VecDeque::new(),
            flushed: false,
        })
    }

    /// Number of video samples (= frames for H.264 without field coding).
    pub(crate) fn len(&self) -> usize {
        self.samples.table.count
    }

    fn decode_next_sample(&mut self) -> Result<()> {
        let number = self.samples.next + 1;
        let bad = |m: String| TrackError::file(&self.path, format!("video frame {number}: {m}"));
        let Some(sample) = self.samples.next_sample().map_err(bad)? else {
            return Ok(());
        };
        let bytes = read_sample(&mut self.file, self.file_len, &sample).map_err(bad)?;
        let mut packet = Vec::with_capacity(bytes.len() + self.parameter_sets.len() + 16);
        if sample.is_sync {
            packet.extend_from_slice(&self.parameter_sets);
        }
        length_prefixed_to_annex_b(&bytes, self.length_size, &mut packet).map_err(bad)?;
        let decoded = self
            .decoder
            .decode(&packet)
            .map_err(|e| bad(format!("cannot decode H.264: {e}")))?;
        if let Some(yuv) = decoded {
            self.pending.push_back(yuv_to_rgb(&yuv).map_err(bad)?);
        }
        Ok(())
    }

    /// The frames still buffered in the decoder, once every sample was fed.
    fn flush(&mut self) -> Result<()> {
        self.flushed = true;
        let bad = |m: String| TrackError::file(&self.path, m);
        let rest = self
            .decoder
            .flush_remaining()
            .map_err(|e| bad(format!("cannot flush the H.264 decoder: {e}")))?;
        for yuv in &rest {
            self.pending.push_back(yuv_to_rgb(yuv).map_err(bad)?);
        }
        Ok(())
    }

    pub(crate) fn next(&mut self) -> Option<Result<RgbImage>> {
        while self.pending.is_empty() {
            let step = if self.samples.next < self.samples.table.count {
                self.decode_next_sample()
            } else if !self.flushed {
                self.flush()
            } else {
                return None;
            };
            if let Err(e) = step {
                // A damaged stream ends the source: nothing after the error is trusted.
                self.samples.next = self.samples.table.count;
                self.flushed = true;
                return Some(Err(e));
            }
        }
        self.pending.pop_front().map(Ok)
    }
}

/// Converts a decoded picture to RGB. Its size comes from the stream's SPS, which can claim
/// more than the sample entry did, so it is checked before the buffer is allocated.
fn yuv_to_rgb(yuv: &DecodedYUV<'_>) -> Result<RgbImage, String> {
    let (width, height) = yuv.dimensions();
    check_frame_size(width, height).map_err(|e| format!("decoded picture: {e}"))?;
    let mut data = vec![0u8; width * height * 3];
    yuv.write_rgb8(&mut data);
    Ok(RgbImage {
        width,
        height,
        data,
    })
}

// ---------------------------------------------------------------------------------------------
// Demuxing: boxes, the H.264 track, its sample tables

type FourCc = [u8; 4];

fn name(kind: &[u8]) -> String {
    String::from_utf8_lossy(kind).into_owned()
}

/// A big-endian unsigned integer of up to 8 bytes.
fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |v, &b| (v << 8) | u64::from(b))
}

/// Parses a box header from the box's first bytes (`head`: 8 of them, or 16 with a 64-bit
/// size); `room` is what is left of the parent (or file) from the box's start. Returns the
/// type and the header and box lengths; a box must hold its header and fit in its parent.
fn parse_header(head: &[u8], room: u64) -> Result<(FourCc, u64, u64), String> {
    let short = || format!("truncated box header ({room} bytes left)");
    let mut kind: FourCc = [0; 4];
    kind.copy_from_slice(head.get(4..8).ok_or_else(short)?);
    let (header, size) = match be(&head[..4]) {
        // Size 0: the box extends to the end of its parent.
        0 => (8, room),
        1 => (16, be(head.get(8..16).ok_or_else(short)?)),
        size => (8, size),
    };
    if size < header || size > room {
        return Err(format!(
            "box `{}` claims {size} bytes, but its header takes {header} and {room} are left",
            name(&kind)
        ));
    }
    Ok((kind, header, size))
}

/// The boxes in a box's body, in order; the first malformed one ends them with an error.
struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<(FourCc, &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..).filter(|r| !r.is_empty())?;
        let parsed = parse_header(&rest[..rest.len().min(16)], rest.len() as u64);
        let Ok((kind, header, size)) = parsed else {
            self.pos = self.data.len();
            return parsed.err().map(Err);
        };
        // `parse_header` bounded both by `rest.len()`, a usize.
        self.pos += size as usize;
        Some(Ok((kind, &rest[header as usize..size as usize])))
    }
}

fn boxes(data: &[u8]) -> Boxes<'_> {
    Boxes { data, pos: 0 }
}

/// The body of the first box of type `kind` in `data`.
fn child<'a>(data: &'a [u8], kind: &FourCc) -> Result<Option<&'a [u8]>, String> {
    for item in boxes(data) {
        let (found, body) = item?;
        if &found == kind {
            return Ok(Some(body));
        }
    }
    Ok(None)
}

/// The body of a box that must be there.
fn required<'a>(data: &'a [u8], kind: &FourCc) -> Result<&'a [u8], String> {
    child(data, kind)?.ok_or_else(|| format!("no `{}` box", name(kind)))
}

/// Reads the body of the top-level `moov` box (the movie header: tracks and sample tables),
/// skipping the others (`mdat` holds the samples) by their sizes.
fn read_moov(file: &mut File, file_len: u64) -> Result<Vec<u8>, String> {
    let mut pos = 0;
    while pos < file_len {
        let mut head = Vec::with_capacity(16);
        read_at(file, pos, 16, &mut head)?;
        let (kind, header, size) =
            parse_header(&head, file_len - pos).map_err(|e| format!("at offset {pos}: {e}"))?;
        if &kind == b"moov" {
            // Read whole like a frame file: a real `moov` holds a few bytes per frame.
            if size - header > MAX_FRAME_FILE_BYTES {
                return Err(format!(
                    "the `moov` box claims {size} bytes; the limit is {MAX_FRAME_FILE_BYTES}"
                ));
            }
            let mut body = Vec::new();
            read_at(file, pos + header, size - header, &mut body)?;
            return Ok(body);
        }
        pos += size;
    }
    Err("no `moov` box (the movie header): not an MP4 file, or one cut before its end".into())
}

/// Appends up to `len` bytes of `file` from `offset` to `out` (fewer at the end of the file).
fn read_at(file: &mut File, offset: u64, len: u64, out: &mut Vec<u8>) -> Result<(), String> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.take(len).read_to_end(out))
        .map(|_| ())
        .map_err(|e| format!("cannot read at offset {offset}: {e}"))
}

const FRAGMENTED: &str = "fragmented MP4 (movie fragments) is not supported; remux it into a \
                          plain one, e.g. `ffmpeg -i in.mp4 -c copy out.mp4`";

/// What decoding the first H.264 track takes.
struct H264Track {
    length_size: usize,
    parameter_sets: Vec<u8>,
    table: SampleTable,
}

impl H264Track {
    /// The first track of `moov` whose sample entry is `avc1` (H.264).
    fn find(moov: &[u8], file_len: u64) -> Result<Self, String> {
        if child(moov, b"mvex")?.is_some() {
            return Err(FRAGMENTED.into());
        }
        for item in boxes(moov) {
            let (kind, trak) = item?;
            let track = match &kind {
                b"trak" => Self::read(trak, file_len)?,
                _ => None,
            };
            if let Some(track) = track {
                return Ok(track);
            }
        }
        Err("the MP4 file has no H.264 video track (only H.264 is supported)".into())
    }

    /// The track, when its sample entry is `avc1`; its sizes checked against the frame limits.
    fn read(trak: &[u8], file_len: u64) -> Result<Option<Self>, String> {
        let stbl = required(required(required(trak, b"mdia")?, b"minf")?, b"stbl")?;
        // `stsd`: version, flags and entry count, then the sample entries.
        let entries = required(stbl, b"stsd")?.get(8..).unwrap_or_default();
        let Some(avc1) = child(entries, b"avc1")? else {
            return Ok(None);
        };
        check_track_size(trak, avc1)?;
        // `avc1`: 78 bytes of visual sample entry fields, then boxes (`avcC` among them).
        let avcc = required(avc1.get(78..).unwrap_or_default(), b"avcC")?;
        let (length_size, parameter_sets) = parse_avcc(avcc)?;
        Ok(Some(Self {
            length_size,
            parameter_sets,
            table: SampleTable::read(stbl, file_len)?,
        }))
    }
}

/// The frame size the sample entry (`avc1`) and the track header (`tkhd`, 16.16 fixed point)
/// claim, checked against the frame limits before anything is decoded.
fn check_track_size(trak: &[u8], avc1: &[u8]) -> Result<(), String> {
    let field = |b: &[u8], at: usize, n: usize| b.get(at..at + n).map_or(0, be) as usize;
    check_frame_size(field(avc1, 24, 2), field(avc1, 26, 2))
        .map_err(|e| format!("sample entry (`avc1`): {e}"))?;
    let tkhd = required(trak, b"tkhd")?;
    // Width and height follow 76 bytes of fields (88 in version 1, with 64-bit times).
    let at = if tkhd.first() == Some(&1) { 88 } else { 76 };
    check_frame_size(field(tkhd, at, 2), field(tkhd, at + 4, 2))
        .map_err(|e| format!("track header (`tkhd`): {e}"))
}

/// The NAL length size and the parameter sets (Annex-B) of an `avcC` box.
fn parse_avcc(avcc: &[u8]) -> Result<(usize, Vec<u8>), String> {
    let bad = || "truncated H.264 configuration (`avcC`)".to_string();
    let length_size = (avcc.get(4).ok_or_else(bad)? & 3) as usize + 1;
    let mut pos = 5;
    let mut sets = Vec::new();
    // Sequence parameter sets (count in 5 bits), then picture parameter sets (8 bits).
    for mask in [0x1f, 0xff] {
        let count = avcc.get(pos).ok_or_else(bad)? & mask;
        if count == 0 {
            return Err("H.264 track without parameter sets (SPS and PPS)".into());
        }
        pos += 1;
        for _ in 0..count {
            let len = avcc.get(pos..pos + 2).map(be).ok_or_else(bad)? as usize;
            let set = avcc.get(pos + 2..pos + 2 + len).ok_or_else(bad)?;
            sets.extend_from_slice(&START_CODE);
            sets.extend_from_slice(set);
            pos += 2 + len;
        }
    }
    Ok((length_size, sets))
}

/// The `count` entries of `width` bytes of a sample table box (after version, flags and the
/// count), checked to fit in it.
fn table<'a>(
    body: &'a [u8],
    width: usize,
    kind: &FourCc,
) -> Result<std::slice::ChunksExact<'a, u8>, String> {
    let count = body.get(4..8).map_or(0, be) as usize;
    let entries = body.get(8..).unwrap_or_default();
    if entries.len() / width < count {
        return Err(format!(
            "`{}` claims {count} entries of {width} bytes, but holds {} bytes",
            name(kind),
            entries.len()
        ));
    }
    Ok(entries[..count * width].chunks_exact(width))
}

/// Where a track's samples are: sizes (`stsz`), chunks (`stco`/`co64`), samples per chunk
/// (`stsc`) and sync samples (`stss`).
struct SampleTable {
    count: usize,
    /// Every sample's size, `count` of them (`stsz` lists them unless all share one size).
    sizes: Vec<u32>,
    /// The size of every sample, when `stsz` gives one for all.
    fixed_size: Option<u32>,
    chunk_offsets: Vec<u64>,
    /// (first chunk, samples per chunk) runs, chunks numbered from 1.
    runs: Vec<(u64, u32)>,
    /// Sync samples, numbered from 1; `None`: every sample is one.
    sync: Option<Vec<u32>>,
}

impl SampleTable {
    fn read(stbl: &[u8], file_len: u64) -> Result<Self, String> {
        let stsz = required(stbl, b"stsz")?;
        let fixed = stsz.get(4..8).map_or(0, be) as u32;
        let count = stsz.get(8..12).map_or(0, be) as usize;
        let sizes = match fixed {
            0 => table(stsz.get(4..).unwrap_or_default(), 4, b"stsz")?
                .map(|e| be(e) as u32)
                .collect(),
            _ => Vec::new(),
        };
        let table = Self {
            count,
            sizes,
            fixed_size: (fixed > 0).then_some(fixed),
            chunk_offsets: chunk_offsets(stbl)?,
            runs: table(required(stbl, b"stsc")?, 12, b"stsc")?
                .map(|e| (be(&e[..4]), be(&e[4..8]) as u32))
                .collect(),
            sync: match child(stbl, b"stss")? {
                Some(stss) => Some(table(stss, 4, b"stss")?.map(|e| be(e) as u32).collect()),
                None => None,
            },
        };
        table.check(file_len)?;
        Ok(table)
    }

    /// The samples fit in the file and in the frame file limit, and the chunk runs start at
    /// the first chunk and go forward.
    fn check(&self, file_len: u64) -> Result<(), String> {
        let largest = u64::from(self.fixed_size.unwrap_or(0))
            .max(self.sizes.iter().copied().max().map_or(0, u64::from));
        if largest > MAX_FRAME_FILE_BYTES {
            return Err(format!(
                "a sample of {largest} bytes; the limit for a frame is {MAX_FRAME_FILE_BYTES}"
            ));
        }
        let total = match self.fixed_size {
            Some(size) => u64::from(size).saturating_mul(self.count as u64),
            None => self.sizes.iter().map(|&s| u64::from(s)).sum(),
        };
        if total > file_len {
            return Err(format!(
                "{} samples of {total} bytes in all, more than the file's {file_len}",
                self.count
            ));
        }
        let forward = self.runs.windows(2).all(|w| w[0].0 < w[1].0);
        if self.count > 0 && (self.runs.first().map(|r| r.0) != Some(1) || !forward) {
            return Err(
                "the samples-per-chunk table (`stsc`) does not start at chunk 1 and go forward"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Chunk offsets: 32-bit (`stco`) or 64-bit (`co64`).
fn chunk_offsets(stbl: &[u8]) -> Result<Vec<u64>, String> {
    if let Some(stco) = child(stbl, b"stco")? {
        return Ok(table(stco, 4, b"stco")?.map(be).collect());
    }
    let co64 = child(stbl, b"co64")?.ok_or("no chunk offsets (`stco` or `co64` box)")?;
    Ok(table(co64, 8, b"co64")?.map(be).collect())
}

/// One sample: where it is, how long, and whether decoding can start at it.
struct Sample {
    offset: u64,
    size: u64,
    is_sync: bool,
}

/// Walks a sample table in order: chunk by chunk, each holding its run's samples back to back.
struct Samples {
    table: SampleTable,
    /// The next sample, from 0.
    next: usize,
    /// The next chunk to enter, from 0, and the run it belongs to.
    chunk: usize,
    run: usize,
    left_in_chunk: u32,
    offset: u64,
}

impl Samples {
    fn new(table: SampleTable) -> Self {
        Self {
            table,
            next: 0,
            chunk: 0,
            run: 0,
            left_in_chunk: 0,
            offset: 0,
        }
    }

    fn next_sample(&mut self) -> Result<Option<Sample>, String> {
        if self.next >= self.table.count {
            return Ok(None);
        }
        while self.left_in_chunk == 0 {
            self.enter_next_chunk()?;
        }
        let size = u64::from(
            self.table
                .fixed_size
                .unwrap_or_else(|| self.table.sizes[self.next]),
        );
        let number = self.next as u32 + 1;
        let sample = Sample {
            offset: self.offset,
            size,
            is_sync: self
                .table
                .sync
                .as_ref()
                .is_none_or(|s| s.binary_search(&number).is_ok()),
        };
        self.offset = self.offset.saturating_add(size);
        self.left_in_chunk -= 1;
        self.next += 1;
        Ok(Some(sample))
    }

    fn enter_next_chunk(&mut self) -> Result<(), String> {
        let chunks = &self.table.chunk_offsets;
        let offset = *chunks.get(self.chunk).ok_or_else(|| {
            format!(
                "the sample lies past the last of the {} chunks",
                chunks.len()
            )
        })?;
        let runs = &self.table.runs;
        // Chunks are numbered from 1 in `stsc`.
        while runs
            .get(self.run + 1)
            .is_some_and(|r| r.0 <= self.chunk as u64 + 1)
        {
            self.run += 1;
        }
        // `SampleTable::check` made sure a run starts at chunk 1.
        self.left_in_chunk = runs[self.run].1;
        self.offset = offset;
        self.chunk += 1;
        Ok(())
    }
}

/// Reads one sample, which must lie within the file.
fn read_sample(file: &mut File, file_len: u64, sample: &Sample) -> Result<Vec<u8>, String> {
    let end = sample
        .offset
        .checked_add(sample.size)
        .filter(|&end| end <= file_len);
    if end.is_none() {
        return Err(format!(
            "sample of {} bytes at offset {} lies past the end of the file ({file_len} bytes)",
            sample.size, sample.offset
        ));
    }
    let mut bytes = Vec::with_capacity(sample.size as usize);
    read_at(file, sample.offset, sample.size, &mut bytes)?;
    if bytes.len() as u64 != sample.size {
        return Err("the file ended inside the sample".into());
    }
    Ok(bytes)
}

/// MP4 samples hold NAL units behind big-endian lengths; OpenH264 wants start codes.
fn length_prefixed_to_annex_b(
    mut sample: &[u8],
    length_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    while !sample.is_empty() {
        if sample.len() < length_size {
            return Err("truncated NAL unit length".into());
        }
        let len = sample[..length_size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        sample = &sample[length_size..];
        if len > sample.len() {
            return Err(format!(
                "NAL unit of {len} bytes but only {} left in the sample",
                sample.len()
            ));
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(&sample[..len]);
        sample = &sample[len..];
    }
    Ok(())
}

/// NAL units of an Annex-B stream (start codes removed).
fn annex_b_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(stream.len(), |&n| n - 3);
        // A 4-byte start code leaves its leading zero at the end of the previous unit.
        while end > s && k + 1 < starts.len() && stream[end - 1] == 0 {
            end -= 1;
        }
        units.push(&stream[s..end]);
    }
    units
}

/// Shown time of one frame of the written video (10 fps, as the GIF).
const FRAME_MS: u32 = 100;
const TIMESCALE: u32 = 1000;

/// Writes annotated frames as an H.264 MP4 (`--save-video`), atomically.
pub(crate) struct Mp4Sink {
    path: PathBuf,
    tmp: PendingFile,
    encoder: Encoder,
    writer: Option<Mp4Writer<BufWriter<File>>>,
    frames: u64,
}

impl Mp4Sink {
    pub(crate) fn create(path: PathBuf, tmp: PendingFile) -> Result<Self> {
        let encoder = Encoder::new()
            .map_err(|e| TrackError::file(&path, format!("cannot start the H.264 encoder: {e}")))?;
        Ok(Self {
            path,
            tmp,
            encoder,
            writer: None,
            frames: 0,
        })
    }

    pub(crate) fn push(&mut self, img: &image::RgbImage) -> Result<()> {
        let bad = |m: String| TrackError::file(&self.path, m);
        // YUV 4:2:0 needs even sides: drop the last odd column/row.
        let (w, h) = ((img.width() & !1) as usize, (img.height() & !1) as usize);
        if w == 0 || h == 0 {
            return Err(bad("frames smaller than 2x2 cannot be encoded".into()));
        }
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in img.as_raw().chunks_exact(img.width() as usize * 3).take(h) {
            rgb.extend_from_slice(&row[..w * 3]);
        }
        let yuv = YUVBuffer::from_rgb8_source(RgbSliceU8::new(&rgb, (w, h)));
        let stream = self
            .encoder
            .encode(&yuv)
            .map_err(|e| bad(format!("cannot encode frame {}: {e}", self.frames)))?
            .to_vec();
        let units = annex_b_units(&stream);
        if self.writer.is_none() {
            let find = |t: u8| {
                units
                    .iter()
                    .find(|u| u.first().is_some_and(|b| b & 0x1f == t))
                    .map(|u| u.to_vec())
            };
            let (Some(sps), Some(pps)) = (find(NAL_SPS), find(NAL_PPS)) else {
                return Err(bad("the encoder's first frame has no SPS/PPS".into()));
            };
            self.writer = Some(self.start(yuv.dimensions(), sps, pps)?);
        }
        let mut sample = Vec::with_capacity(stream.len() + 4 * units.len());
        let mut is_sync = false;
        for unit in units {
            let kind = unit.first().map_or(0, |b| b & 0x1f);
            if kind == NAL_SPS || kind == NAL_PPS {
                continue;
            }
            is_sync |= kind == NAL_IDR;
            sample.extend_from_slice(&(unit.len() as u32).to_be_bytes());
            sample.extend_from_slice(unit);
        }
        let start_time = self.frames * FRAME_MS as u64;
        self.frames += 1;
        if sample.is_empty() {
            // The encoder skipped the frame (rate control); nothing to store.
            return Ok(());
        }
        let sample = Mp4Sample {
            start_time,
            duration: FRAME_MS,
            rendering_offset: 0,
            is_sync,
            bytes: mp4::Bytes::from(sample),
        };
        let writer = self.writer.as_mut().expect("started above");
        writer
            .write_sample(1, &sample)
            .map_err(|e| TrackError::file(&self.path, format!("cannot write MP4 sample: {e}")))
    }

    fn start(
        &self,
        (w, h): (usize, usize),
        sps: Vec<u8>,
        pps: Vec<u8>,
    ) -> Result<Mp4Writer<BufWriter<File>>> {
        let bad = |m: String| TrackError::file(&self.path, m);
        let file = self.tmp.try_clone_file()?;
        let brand = |s: &[u8; 4]| mp4::FourCC::from(*s);
        let config = Mp4Config {
            major_brand: brand(b"isom"),
            minor_version: 512,
            compatible_brands: vec![
                brand(b"isom"),
                brand(b"iso2"),
                brand(b"avc1"),
                brand(b"mp41"),
            ],
            timescale: TIMESCALE,
        };
        let mut writer = Mp4Writer::write_start(BufWriter::new(file), &config)
            .map_err(|e| bad(format!("cannot start MP4: {e}")))?;
        let avc = AvcConfig {
            width: w as u16,
            height: h as u16,
            seq_param_set: sps,
            pic_param_set: pps,
        };
        let track = TrackConfig {
            track_type: TrackType::Video,
            timescale: TIMESCALE,
            language: "und".into(),
            media_conf: MediaConfig::AvcConfig(avc),
        };
        writer
            .add_track(&track)
            .map_err(|e| bad(format!("cannot add the video track: {e}")))?;
        Ok(writer)
    }

    pub(crate) fn finish(self) -> Result<PathBuf> {
        let Self {
            path, tmp, writer, ..
        } = self;
        let mut writer = writer.ok_or_else(|| TrackError::file(&path, "no frame to write"))?;
        writer
            .write_end()
            .map_err(|e| TrackError::file(&path, format!("cannot finish MP4: {e}")))?;
        let mut inner = writer.into_writer();
        std::io::Write::flush(&mut inner).map_err(|e| TrackError::io(&path, e))?;
        drop(inner);
        tmp.commit(Durability::Renamed)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_round_trip() {
        let mut out = Vec::new();
        length_prefixed_to_annex_b(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41], 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 1, 0, 0, 0, 1, 0x41]);
        assert_eq!(annex_b_units(&out), vec![&[0x65u8, 1][..], &[0x41][..]]);
        assert!(length_prefixed_to_annex_b(&[0, 0, 0, 9, 1], 4, &mut out).is_err());
    }

    /// A smooth gradient with a bright square moving right: easy content for H.264, so the
    /// decoded frames must come back close to it.
    fn synthetic_frame(t: u32, width: u32, height: u32) -> image::RgbImage {
        image::RgbImage::from_fn(width, height, |x, y| {
            let inside = (10 + 6 * t..30 + 6 * t).contains(&x) && (20..40).contains(&y);
            if inside {
                image::Rgb([250, 250, 40])
            } else {
                image::Rgb([(x * 2) as u8, (y * 3) as u8, 90])
            }
        })
    }

    fn write_clip(path: &Path, frames: &[image::RgbImage]) {
        let tmp = PendingFile::new(path).unwrap();
        let mut sink = Mp4Sink::create(path.to_path_buf(), tmp).unwrap();
        for f in frames {
            sink.push(f).unwrap();
        }
        assert_eq!(sink.finish().unwrap(), path);
    }

    #[test]
    fn encoded_frames_decode_back_close_to_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        // Odd sides: the encoder drops the last column and row (YUV 4:2:0).
        let frames: Vec<_> = (0..8).map(|t| synthetic_frame(t, 97, 65)).collect();
        write_clip(&path, &frames);

        let mut decoded = Mp4Frames::open(&path).unwrap();
        assert_eq!(decoded.len(), frames.len());
        let mut count = 0;
        while let Some(image) = decoded.next() {
            let image = image.unwrap();
            assert_eq!((image.width, image.height), (96, 64));
            let source = &frames[count];
            let mut abs_diff = 0u64;
            for y in 0..64 {
                for x in 0..96 {
                    let i = (y as usize * 96 + x as usize) * 3;
                    let decoded = &image.data[i..i + 3];
                    for (&a, &b) in source.get_pixel(x, y).0.iter().zip(decoded) {
                        abs_diff += u64::from(a.abs_diff(b));
                    }
                }
            }
            let mean = abs_diff as f64 / (96.0 * 64.0 * 3.0);
            println!("frame {count}: mean |decoded - source| = {mean:.2}");
            assert!(mean < 6.0, "frame {count}: mean abs difference {mean}");
            // The square is where it was drawn (it moves 6 px per frame): its red channel is 250,
            // the background's at most 2 * 95 = 190.
            let centre_x = 20 + 6 * count;
            let red = image.data[(30 * 96 + centre_x) * 3];
            assert!(red > 220, "frame {count}: square missing (red {red})");
            count += 1;
        }
        assert_eq!(count, frames.len());
    }

    #[test]
    fn damaged_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        write_clip(
            &path,
            &[synthetic_frame(0, 64, 48), synthetic_frame(1, 64, 48)],
        );
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.mp4");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let garbage = dir.path().join("garbage.mp4");
        std::fs::write(&garbage, b"not a video at all").unwrap();
        for bad in [&cut, &garbage] {
            // Either the header or a frame fails; every error names the file.
            let error = match Mp4Frames::open(bad) {
                Err(e) => e,
                Ok(mut frames) => std::iter::from_fn(|| frames.next())
                    .find_map(|f| f.err())
                    .expect("a damaged file must fail somewhere"),
            };
            let text = error.to_string();
            assert!(text.starts_with(&bad.display().to_string()), "{text}");
        }
    }
}
