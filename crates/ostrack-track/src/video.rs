//! H.264 MP4 reading and writing (cargo feature `video`): `mp4` demuxes/muxes, OpenH264
//! (compiled from the source bundled in `openh264-sys2`, so no system library is needed, only a
//! C++ compiler) decodes/encodes. OpenH264 handles the Constrained Baseline profile; streams
//! with B-frames (Main/High) may fail to decode and are reported as errors naming the file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use mp4::{
    AvcConfig, MediaConfig, MediaType, Mp4Config, Mp4Reader, Mp4Sample, Mp4Writer, TrackConfig,
    TrackType,
};
use openh264::decoder::Decoder;
use openh264::encoder::Encoder;
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use ostrack_atomic::{Durability, PendingFile};
use ostrack_data::RgbImage;

use crate::error::{Result, TrackError};

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

/// The frames of the first H.264 track of an MP4 file, decoded in order.
pub(crate) struct Mp4Frames {
    path: PathBuf,
    reader: Mp4Reader<BufReader<File>>,
    track_id: u32,
    samples: u32,
    next_sample: u32,
    length_size: usize,
    /// SPS and PPS in Annex-B form, fed before every sync sample.
    parameter_sets: Vec<u8>,
    decoder: Decoder,
    pending: VecDeque<RgbImage>,
    flushed: bool,
}

impl Mp4Frames {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let bad = |m: String| TrackError::file(path, m);
        let file = File::open(path).map_err(|e| TrackError::io(path, e))?;
        let size = file.metadata().map_err(|e| TrackError::io(path, e))?.len();
        let reader = Mp4Reader::read_header(BufReader::new(file), size)
            .map_err(|e| bad(format!("not a readable MP4 file: {e}")))?;
        let track = reader
            .tracks()
            .values()
            .find(|t| matches!(t.media_type(), Ok(MediaType::H264)))
            .ok_or_else(|| {
                bad("the MP4 file has no H.264 video track (only H.264 is supported)".into())
            })?;
        let mut parameter_sets = Vec::new();
        for set in [
            track.sequence_parameter_set(),
            track.picture_parameter_set(),
        ] {
            let set = set.map_err(|e| bad(format!("H.264 track without parameter sets: {e}")))?;
            parameter_sets.extend_from_slice(&START_CODE);
            parameter_sets.extend_from_slice(set);
        }
        let length_size = track
            .trak
            .mdia
            .minf
            .stbl
            .stsd
            .avc1
            .as_ref()
            .map_or(4, |avc1| (avc1.avcc.length_size_minus_one & 3) as usize + 1);
        let (track_id, samples) = (track.track_id(), track.sample_count());
        let decoder =
            Decoder::new().map_err(|e| bad(format!("cannot start the H.264 decoder: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            track_id,
            samples,
            next_sample: 1,
            length_size,
            parameter_sets,
            decoder,
            pending: VecDeque::new(),
            flushed: false,
        })
    }

    /// Number of video samples (= frames for H.264 without field coding).
    pub(crate) fn len(&self) -> usize {
        self.samples as usize
    }

    fn decode_next_sample(&mut self) -> Result<()> {
        let id = self.next_sample;
        self.next_sample += 1;
        let bad = |m: String| TrackError::file(&self.path, format!("video frame {id}: {m}"));
        let sample = self
            .reader
            .read_sample(self.track_id, id)
            .map_err(|e| bad(format!("cannot read: {e}")))?;
        let Some(sample) = sample else { return Ok(()) };
        let mut packet = Vec::with_capacity(sample.bytes.len() + self.parameter_sets.len() + 16);
        if sample.is_sync {
            packet.extend_from_slice(&self.parameter_sets);
        }
        length_prefixed_to_annex_b(&sample.bytes, self.length_size, &mut packet).map_err(bad)?;
        let decoded = self
            .decoder
            .decode(&packet)
            .map_err(|e| bad(format!("cannot decode H.264: {e}")))?;
        if let Some(yuv) = decoded {
            self.pending.push_back(yuv_to_rgb(&yuv));
        }
        Ok(())
    }

    pub(crate) fn next(&mut self) -> Option<Result<RgbImage>> {
        while self.pending.is_empty() {
            if self.next_sample <= self.samples {
                if let Err(e) = self.decode_next_sample() {
                    self.next_sample = self.samples + 1;
                    self.flushed = true;
                    return Some(Err(e));
                }
            } else if !self.flushed {
                self.flushed = true;
                match self.decoder.flush_remaining() {
                    Ok(rest) => self.pending.extend(rest.iter().map(yuv_to_rgb)),
                    Err(e) => {
                        return Some(Err(TrackError::file(
                            &self.path,
                            format!("cannot flush the H.264 decoder: {e}"),
                        )));
                    }
                }
            } else {
                return None;
            }
        }
        self.pending.pop_front().map(Ok)
    }
}

fn yuv_to_rgb(yuv: &openh264::decoder::DecodedYUV<'_>) -> RgbImage {
    let (width, height) = yuv.dimensions();
    let mut data = vec![0u8; width * height * 3];
    yuv.write_rgb8(&mut data);
    RgbImage {
        width,
        height,
        data,
    }
}

/// MP4 samples hold NAL units behind big-endian lengths; OpenH264 wants start codes.
fn length_prefixed_to_annex_b(
    mut sample: &[u8],
    length_size: usize,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
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
