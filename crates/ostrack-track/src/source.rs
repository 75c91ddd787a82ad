//! Where `ostrack track` reads frames from: a folder of images (natural order), a glob
//! pattern, an animated GIF, or (with the `video` feature) an H.264 MP4 file.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder, ImageDecoder, ImageError};
use ostrack_data::RgbImage;
use ostrack_data::decode::read_frame;
use ostrack_data::image::{MAX_FRAME_PIXELS, MAX_FRAME_SIDE, check_frame_size};

use crate::error::{Result, TrackError};

/// Image files a folder or glob source picks up.
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];
/// Files recognised as videos (decoded with the `video` feature).
const VIDEO_EXTENSIONS: [&str; 3] = ["mp4", "m4v", "mov"];

/// One frame of a source.
#[derive(Debug, Clone)]
pub struct SourceFrame {
    /// 0-based position in the source.
    pub index: usize,
    /// File name, or `frame_%06d` for frames inside a GIF or video.
    pub name: String,
    pub image: RgbImage,
}

enum Kind {
    Files(Vec<PathBuf>),
    Gif(image::Frames<'static>),
    #[cfg(feature = "video")]
    // Boxed: the demuxer and decoder state is far larger than the other variants.
    Video(Box<crate::video::Mp4Frames>),
}

/// A sequence of frames read in order (`Iterator<Item = Result<SourceFrame>>`).
pub struct FrameSource {
    origin: PathBuf,
    kind: Kind,
    len: Option<usize>,
    next: usize,
    /// `groundtruth.txt` next to the frames, when there is one.
    groundtruth: Option<PathBuf>,
}

impl std::fmt::Debug for FrameSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSource")
            .field("origin", &self.origin)
            .field("len", &self.len)
            .finish()
    }
}

impl FrameSource {
    /// Opens `spec`: a directory, a glob pattern (`*`, `?`, `[`), a `.gif`, or a video file.
    pub fn open(spec: &str) -> Result<Self> {
        let path = PathBuf::from(spec);
        if path.is_dir() {
            return Self::folder(&path);
        }
        if spec.contains(['*', '?', '[']) && !path.exists() {
            return Self::glob(spec);
        }
        if !path.exists() {
            return Err(TrackError::flag(
                "--source",
                format!("{spec}: no such file, folder or glob match"),
            ));
        }
        let ext = extension(&path);
        if ext == "gif" {
            return Self::gif(&path);
        }
        if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
            return Self::video(&path);
        }
        if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            return Ok(Self::files(path.clone(), vec![path], None));
        }
        Err(TrackError::file(
            &path,
            format!(
                "not a frame source: expected a folder of {} images, a glob, a .gif or a video ({})",
                IMAGE_EXTENSIONS.join("/"),
                VIDEO_EXTENSIONS.join("/")
            ),
        ))
    }

    /// Every image of `dir`, sorted naturally (`2.jpg` before `10.jpg`).
    pub fn folder(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|e| TrackError::io(dir, e))?;
        let mut frames = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| TrackError::io(dir, e))?.path();
            if path.is_file() && IMAGE_EXTENSIONS.contains(&extension(&path).as_str()) {
                frames.push(path);
            }
        }
        if frames.is_empty() {
            return Err(TrackError::file(
                dir,
                format!("folder holds no {} frames", IMAGE_EXTENSIONS.join("/")),
            ));
        }
        alphanumeric_sort::sort_path_slice(&mut frames);
        // LaSOT-style `seq/img/` keeps its ground truth one level up.
        let groundtruth = [dir.join("groundtruth.txt"), dir.join("../groundtruth.txt")]
            .into_iter()
            .find(|p| p.is_file());
        Ok(Self::files(dir.to_path_buf(), frames, groundtruth))
    }

    /// Files matching a glob pattern, sorted naturally.
    pub fn glob(pattern: &str) -> Result<Self> {
        let paths = glob::glob(pattern)
            .map_err(|e| TrackError::flag("--source", format!("bad glob `{pattern}`: {e}")))?;
        let mut frames = Vec::new();
        for path in paths {
            let path =
                path.map_err(|e| TrackError::flag("--source", format!("glob `{pattern}`: {e}")))?;
            if path.is_file() {
                frames.push(path);
            }
        }
        if frames.is_empty() {
            return Err(TrackError::flag(
                "--source",
                format!("glob `{pattern}` matches no file"),
            ));
        }
        alphanumeric_sort::sort_path_slice(&mut frames);
        Ok(Self::files(PathBuf::from(pattern), frames, None))
    }

    fn files(origin: PathBuf, frames: Vec<PathBuf>, groundtruth: Option<PathBuf>) -> Self {
        let len = Some(frames.len());
        Self {
            origin,
            kind: Kind::Files(frames),
            len,
            next: 0,
            groundtruth,
        }
    }

    /// The frames of an (animated) GIF, fully composited. The logical screen (the size of
    /// every frame) is checked against the frame limits before the decoder allocates for it.
    pub fn gif(path: &Path) -> Result<Self> {
        let bad = |m: String| TrackError::file(path, m);
        let file = File::open(path).map_err(|e| TrackError::io(path, e))?;
        let mut decoder = GifDecoder::new(BufReader::new(file))
            .map_err(|e| bad(format!("cannot decode GIF: {e}")))?;
        let (width, height) = decoder.dimensions();
        check_frame_size(width as usize, height as usize)
            .map_err(|e| bad(format!("GIF logical screen: {e}")))?;
        if width == 0 || height == 0 {
            return Err(bad(format!(
                "GIF logical screen is {width}x{height}: no pixels"
            )));
        }
        decoder
            .set_limits(ostrack_data::decode::frame_limits())
            .map_err(|e| bad(format!("cannot decode GIF: {e}")))?;
        Ok(Self {
            origin: path.to_path_buf(),
            kind: Kind::Gif(decoder.into_frames()),
            len: None,
            next: 0,
            groundtruth: None,
        })
    }

    #[cfg(feature = "video")]
    fn video(path: &Path) -> Result<Self> {
        let frames = crate::video::Mp4Frames::open(path)?;
        let len = Some(frames.len());
        Ok(Self {
            origin: path.to_path_buf(),
            kind: Kind::Video(Box::new(frames)),
            len,
            next: 0,
            groundtruth: None,
        })
    }

    #[cfg(not(feature = "video"))]
    fn video(path: &Path) -> Result<Self> {
        Err(TrackError::file(
            path,
            "video files need ostrack built with the `video` cargo feature (H.264 MP4); \
             otherwise extract the frames into a folder or pass an animated GIF",
        ))
    }

    /// The folder, file or pattern the frames come from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Number of frames, where known before reading (folders, globs, videos).
    pub fn frame_count(&self) -> Option<usize> {
        self.len
    }

    /// `groundtruth.txt` beside the frames (the init box when `--init` is omitted, and the
    /// per-frame overlap of `ostrack track`'s chart).
    pub fn groundtruth(&self) -> Option<&Path> {
        self.groundtruth.as_deref()
    }
}

impl Iterator for FrameSource {
    type Item = Result<SourceFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.next;
        let item = match &mut self.kind {
            Kind::Files(paths) => {
                let path = paths.get(index)?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                read_frame(path)
                    .map(|image| SourceFrame { index, name, image })
                    .map_err(TrackError::from)
            }
            Kind::Gif(frames) => {
                let frame = frames.next()?;
                frame
                    .map(|f| SourceFrame {
                        index,
                        name: format!("frame_{index:06}"),
                        image: rgba_to_rgb(f.into_buffer()),
                    })
                    .map_err(|e| gif_frame_error(&self.origin, index, e))
            }
            #[cfg(feature = "video")]
            Kind::Video(frames) => {
                let image = frames.next()?;
                image.map(|image| SourceFrame {
                    index,
                    name: format!("frame_{index:06}"),
                    image,
                })
            }
        };
        self.next += 1;
        Some(item)
    }
}

/// `image`'s limits for the GIF decoder: every frame within the side limit, and the canvas it
/// keeps between frames plus one frame's buffers (the frame, and a composite when the frame is
/// smaller than the screen; RGBA each) within 8 bytes per pixel of the largest frame
/// (512 MiB), the budget the data crate's decoders give `image`.
fn gif_frame_error(path: &Path, index: usize, e: ImageError) -> TrackError {
    let limit = match e {
        ImageError::Limits(_) => format!(
            " (frames are limited to {MAX_FRAME_SIDE} pixels per side and {MAX_FRAME_PIXELS} \
             pixels in all)"
        ),
        _ => String::new(),
    };
    TrackError::file(path, format!("cannot decode GIF frame {index}: {e}{limit}"))
}

fn rgba_to_rgb(rgba: image::RgbaImage) -> RgbImage {
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let data = rgba
        .into_raw()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    RgbImage {
        width: w,
        height: h,
        data,
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The first box of a ground-truth file (`x,y,w,h`, separated by commas, tabs or spaces).
pub fn first_groundtruth_box(path: &Path) -> Result<[f64; 4]> {
    first_groundtruth_row(path).map(|(_, b)| b)
}

/// [`first_groundtruth_box`] with its 1-based line number.
fn first_groundtruth_row(path: &Path) -> Result<(usize, [f64; 4])> {
    let text = std::fs::read_to_string(path).map_err(|e| TrackError::io(path, e))?;
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())
        .ok_or_else(|| TrackError::file(path, "ground-truth file is empty"))?;
    let line_no = index + 1;
    parse_box(line)
        .map(|b| (line_no, b))
        .map_err(|message| TrackError::File {
            path: path.to_path_buf(),
            line: Some(line_no),
            message,
        })
}

/// Parses `x,y,w,h` (commas, tabs or spaces).
pub fn parse_box(text: &str) -> std::result::Result<[f64; 4], String> {
    let parts: Vec<&str> = text
        .split([',', '\t', ' '])
        .filter(|s| !s.is_empty())
        .collect();
    if parts.len() != 4 {
        return Err(format!(
            "expected 4 numbers x,y,w,h, found {} in `{}`",
            parts.len(),
            text.trim()
        ));
    }
    let mut out = [0f64; 4];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p
            .trim()
            .parse()
            .map_err(|_| format!("`{p}` is not a number (in `{}`)", text.trim()))?;
    }
    Ok(out)
}
