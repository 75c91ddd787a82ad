//! Frames on their way from disk to crops: read once, sized from the header, decoded once, and
//! only as much as the crops need.

use std::path::{Path, PathBuf};

use crate::decode;
use crate::error::DataError;
use crate::image::{ImageView, check_frame_size};

/// A pixel rectangle `[x0, x0 + w) × [y0, y0 + h)` of a frame, in stored (unmirrored) coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

impl Rect {
    pub fn union(self, o: Rect) -> Rect {
        if self.w == 0 || self.h == 0 {
            return o;
        }
        if o.w == 0 || o.h == 0 {
            return self;
        }
        let (x0, y0) = (self.x0.min(o.x0), self.y0.min(o.y0));
        let x1 = (self.x0 + self.w).max(o.x0 + o.w);
        let y1 = (self.y0 + self.h).max(o.y0 + o.h);
        Rect {
            x0,
            y0,
            w: x1 - x0,
            h: y1 - y0,
        }
    }

    /// The rectangle as stored when the view mirrors a frame of width `frame_w`.
    pub fn unmirrored(self, frame_w: usize, mirrored: bool) -> Rect {
        if mirrored && self.w > 0 {
            Rect {
                x0: frame_w - self.x0 - self.w,
                ..self
            }
        } else {
            self
        }
    }
}

/// A frame file read into memory, with its size taken from the header.
pub(crate) struct EncodedFrame {
    pub path: PathBuf,
    bytes: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

impl EncodedFrame {
    pub fn read(path: &Path) -> Result<Self, DataError> {
        Self::from_bytes(decode::read_frame_bytes(path)?, path)
    }

    /// A frame already in memory; `path` names it in errors.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self, DataError> {
        let (width, height) = image_size(&bytes, path)?;
        if width == 0 || height == 0 {
            return Err(DataError::file(
                path,
                format!("image has no pixels ({width}x{height})"),
            ));
        }
        check_frame_size(width, height).map_err(|e| DataError::file(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            width,
            height,
        })
    }

    /// Decodes at least the pixels of `needed`: only that region (plus a margin) for the JPEGs
    /// the region decoder supports, the whole frame otherwise.
    pub fn decode(&self, needed: Rect) -> Result<DecodedFrame, DataError> {
        if ostrack_jpeg::is_jpeg(&self.bytes) {
            let region =
                ostrack_jpeg::decode_region(&self.bytes, needed.x0, needed.y0, needed.w, needed.h)
                    .map_err(|e| DataError::file(&self.path, e))?;
            if let Some(r) = region {
                // The crops index the view by the header's size; a file whose frame header
                // disagrees with the one `header_size` found (several SOFs, junk between markers)
                // must not yield a view smaller than that.
                let size = (self.width, self.height);
                if r.frame_size != size {
                    return Err(self.size_mismatch(r.frame_size));
                }
                return Ok(DecodedFrame {
                    len: r.w * 3 * r.h,
                    data: r.data,
                    stride: r.w * 3,
                    origin: (r.x0, r.y0),
                    size,
                });
            }
        }
        let img = decode::decode_frame(&self.bytes, &self.path)?;
        if (img.width, img.height) != (self.width, self.height) {
            return Err(self.size_mismatch((img.width, img.height)));
        }
        Ok(DecodedFrame {
            stride: img.width * 3,
            len: img.data.len(),
            data: img.data,
            origin: (0, 0),
            size: (self.width, self.height),
        })
    }

    fn size_mismatch(&self, decoded: (usize, usize)) -> DataError {
        DataError::file(
            &self.path,
            format!(
                "header says {}x{} but decoded {}x{}",
                self.width, self.height, decoded.0, decoded.1
            ),
        )
    }
}

/// Decoded pixels of (a part of) a frame.
pub(crate) struct DecodedFrame {
    /// Rows of `stride` bytes: `len` bytes, possibly followed by unused ones.
    data: Vec<u8>,
    len: usize,
    stride: usize,
    origin: (usize, usize),
    size: (usize, usize),
}

impl DecodedFrame {
    pub fn view(&self) -> ImageView<'_> {
        ImageView::region(&self.data[..self.len], self.stride, self.origin, self.size)
    }
}

impl Drop for DecodedFrame {
    fn drop(&mut self) {
        ostrack_jpeg::recycle(std::mem::take(&mut self.data));
    }
}

/// Width and height from the file header, without decoding.
fn image_size(bytes: &[u8], path: &Path) -> Result<(usize, usize), DataError> {
    if ostrack_jpeg::is_jpeg(bytes) {
        return ostrack_jpeg::header_size(bytes)
            .ok_or_else(|| DataError::file(path, "truncated or corrupt JPEG header"));
    }
    decode::other_image_size(bytes)
        .map_err(|e| DataError::file(path, format!("cannot read image header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_union_and_mirror() {
        let a = Rect {
            x0: 2,
            y0: 3,
            w: 4,
            h: 5,
        };
        let b = Rect {
            x0: 10,
            y0: 1,
            w: 2,
            h: 2,
        };
        assert_eq!(
            a.union(b),
            Rect {
                x0: 2,
                y0: 1,
                w: 10,
                h: 7
            }
        );
        assert_eq!(
            a.unmirrored(20, true),
            Rect {
                x0: 14,
                y0: 3,
                w: 4,
                h: 5
            }
        );
    }
}
