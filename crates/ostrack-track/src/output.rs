//! Files `ostrack track` writes: the per-frame box list and the annotated frames (a folder of
//! PNGs or a GIF). Every file appears atomically (temporary file in the same folder + rename).

use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};
use ostrack_atomic::{Durability, PendingFile};

use crate::error::{Result, TrackError};

/// Where the annotated frames go.
pub(crate) enum AnnotatedSink {
    Frames(PathBuf),
    Gif {
        path: PathBuf,
        tmp: PendingFile,
        encoder: GifEncoder<std::fs::File>,
    },
    #[cfg(feature = "video")]
    // Boxed: the encoder state is kilobytes, the other variants a few words.
    Video(Box<crate::video::Mp4Sink>),
}

/// Shown time of one GIF frame.
const GIF_FRAME_MS: u32 = 100;
/// NeuQuant sampling factor: 10 is the encoder's suggested speed/quality balance.
const GIF_SPEED: i32 = 10;

impl AnnotatedSink {
    pub(crate) fn frames(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| TrackError::io(&dir, e))?;
        Ok(Self::Frames(dir))
    }

    pub(crate) fn gif(path: PathBuf) -> Result<Self> {
        let tmp = PendingFile::new(&path)?;
        let file = tmp.try_clone_file()?;
        let mut encoder = GifEncoder::new_with_speed(file, GIF_SPEED);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(|e| TrackError::file(&path, format!("GIF encoder: {e}")))?;
        Ok(Self::Gif { path, tmp, encoder })
    }

    #[cfg(feature = "video")]
    pub(crate) fn video(path: PathBuf) -> Result<Self> {
        let tmp = PendingFile::new(&path)?;
        Ok(Self::Video(Box::new(crate::video::Mp4Sink::create(
            path, tmp,
        )?)))
    }

    /// Adds one annotated frame (`name` is the source frame's name).
    pub(crate) fn push(&mut self, name: &str, img: image::RgbImage) -> Result<()> {
        match self {
            Self::Frames(dir) => {
                let stem = Path::new(name)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let path = dir.join(format!("{stem}.png"));
                let mut bytes = Vec::new();
                img.write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )
                .map_err(|e| TrackError::file(&path, format!("cannot encode PNG: {e}")))?;
                Ok(ostrack_atomic::write(&path, &bytes, Durability::Renamed)?)
            }
            Self::Gif { path, encoder, .. } => {
                let rgba = image::DynamicImage::ImageRgb8(img).into_rgba8();
                let frame =
                    Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(GIF_FRAME_MS, 1));
                encoder
                    .encode_frame(frame)
                    .map_err(|e| TrackError::file(path, format!("cannot encode GIF frame: {e}")))
            }
            #[cfg(feature = "video")]
            Self::Video(sink) => sink.push(&img),
        }
    }

    /// Completes the output; returns the folder or file written.
    pub(crate) fn finish(self) -> Result<PathBuf> {
        match self {
            Self::Frames(dir) => Ok(dir),
            Self::Gif { path, tmp, encoder } => {
                // The GIF trailer is written when the encoder is dropped.
                drop(encoder);
                tmp.commit(Durability::Renamed)?;
                Ok(path)
            }
            #[cfg(feature = "video")]
            Self::Video(sink) => sink.finish(),
        }
    }
}
