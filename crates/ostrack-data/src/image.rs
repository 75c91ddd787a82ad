//! Frames in memory: interleaved RGB `u8`, as the original holds them after `cv2.imread` + BGR→RGB.

// The frame-size limits live with the JPEG codec, the lowest crate that checks them; every
// decoder here (`image` for PNG and others, the frame header reader) applies the same ones.
pub use ostrack_jpeg::{MAX_FRAME_PIXELS, MAX_FRAME_SIDE, check_frame_size};

/// An owned RGB image, row-major, 3 bytes per pixel, no row padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// A black image.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0; width * height * 3],
        }
    }

    /// Wraps pixel data; `None` when the length does not match `width * height * 3`.
    pub fn from_raw(width: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        let len = width.checked_mul(height)?.checked_mul(3)?;
        (data.len() == len).then_some(Self {
            width,
            height,
            data,
        })
    }

    /// A read-only view of the whole image.
    pub fn view(&self) -> ImageView<'_> {
        ImageView::new(&self.data, self.width, self.height)
    }
}

/// How a crop reads a frame: optionally mirrored left-right and/or converted to grey, without
/// copying the frame (the original flips and greys the whole frame before cropping; reading it
/// mirrored gives the same pixels).
///
/// A view may also hold only a rectangle of the frame (region-of-interest decoding); pixels
/// outside that rectangle must never be needed by the crops taken from it.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    data: &'a [u8],
    stride: usize,
    /// Frame column / row of the first stored pixel (unmirrored coordinates).
    origin_x: usize,
    origin_y: usize,
    width: usize,
    height: usize,
    flipped: bool,
    gray: bool,
}

impl<'a> ImageView<'a> {
    /// A view of a whole RGB frame stored without row padding.
    pub fn new(data: &'a [u8], width: usize, height: usize) -> Self {
        Self {
            data,
            stride: width * 3,
            origin_x: 0,
            origin_y: 0,
            width,
            height,
            flipped: false,
            gray: false,
        }
    }

    /// A view of a frame of `width`×`height` of which only the rectangle starting at
    /// (`origin_x`, `origin_y`) is stored in `data` with `stride` bytes per row.
    pub(crate) fn region(
        data: &'a [u8],
        stride: usize,
        origin: (usize, usize),
        frame_size: (usize, usize),
    ) -> Self {
        Self {
            data,
            stride,
            origin_x: origin.0,
            origin_y: origin.1,
            width: frame_size.0,
            height: frame_size.1,
            flipped: false,
            gray: false,
        }
    }

    /// Frame width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Frame height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The same frame mirrored left-right (`np.fliplr`).
    pub fn flipped(mut self, yes: bool) -> Self {
        self.flipped ^= yes;
        self
    }

    /// The same frame converted to grey (OpenCV `COLOR_RGB2GRAY`, replicated to 3 channels).
    pub fn grayscale(mut self, yes: bool) -> Self {
        self.gray |= yes;
        self
    }

    pub(crate) fn is_gray(&self) -> bool {
        self.gray
    }

    /// Byte offset, inside a stored row, of the pixel at (mirrored-frame) column `x`.
    pub(crate) fn column_offset(&self, x: usize) -> usize {
        let physical = if self.flipped { self.width - 1 - x } else { x };
        (physical - self.origin_x) * 3
    }

    /// The stored bytes of frame row `y`.
    pub(crate) fn row(&self, y: usize) -> &'a [u8] {
        let start = (y - self.origin_y) * self.stride;
        &self.data[start..start + self.stride]
    }

    /// The pixel at (mirrored-frame) coordinates, greyed if the view is grey.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let o = self.column_offset(x);
        let p = &self.row(y)[o..o + 3];
        if self.gray {
            let g = rgb_to_gray(p[0], p[1], p[2]);
            [g, g, g]
        } else {
            [p[0], p[1], p[2]]
        }
    }
}

/// OpenCV's fixed-point `COLOR_RGB2GRAY` for 8-bit data (coefficients 0.299/0.587/0.114 in
/// 14-bit fixed point, rounded).
pub fn rgb_to_gray(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 4899 + g as u32 * 9617 + b as u32 * 1868 + (1 << 13)) >> 14) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipped_view_mirrors_columns() {
        let img = RgbImage::from_raw(3, 1, vec![1, 1, 1, 2, 2, 2, 3, 3, 3]).unwrap();
        let v = img.view().flipped(true);
        assert_eq!(v.pixel(0, 0), [3, 3, 3]);
        assert_eq!(v.pixel(2, 0), [1, 1, 1]);
    }

    #[test]
    fn gray_matches_opencv_on_primaries() {
        // cv2.cvtColor(np.uint8([[[255,0,0],[0,255,0],[0,0,255]]]), cv2.COLOR_RGB2GRAY) = 76, 150, 29
        assert_eq!(rgb_to_gray(255, 0, 0), 76);
        assert_eq!(rgb_to_gray(0, 255, 0), 150);
        assert_eq!(rgb_to_gray(0, 0, 255), 29);
        assert_eq!(rgb_to_gray(255, 255, 255), 255);
    }
}
