//! `sample_target` and `transform_image_to_crop` (spec §5.4, §5.3 d) with the original's exact
//! rounding, padding and off-by-one.

use crate::image::ImageView;
use crate::resize::{PixelTaps, RowTaps, Taps, vertical_combine, x_taps, y_taps};
use ostrack_jpeg::BufferPool;

/// A box `[x, y, w, h]` in pixels (or normalised units where stated).
pub type BoxXywh = [f64; 4];

/// The result of [`sample_target`].
#[derive(Debug, Clone, PartialEq)]
pub struct Crop {
    /// Side of the square output in pixels.
    pub size: usize,
    /// `size * size * 3` RGB bytes.
    pub pixels: Vec<u8>,
    /// `size * size` flags, `true` = the output pixel touches padding.
    pub att_mask: Vec<bool>,
    /// `output_sz / crop_sz`.
    pub resize_factor: f64,
}

/// Why a crop cannot be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CropError {
    #[error(
        "box {0:?} is degenerate: the crop side ceil(sqrt(w*h)*factor) must be finite and in [1, 1e9]"
    )]
    Degenerate(BoxXywh),
    #[error("box {0:?} gives a crop with no extent ({1}x{2} after padding)")]
    Empty(BoxXywh, usize, usize),
    #[error("output size must be positive")]
    ZeroOutput,
}

/// Where the padded crop lies in the frame, following the original's arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CropGeometry {
    /// `ceil(sqrt(w*h) * factor)`.
    pub crop_sz: usize,
    /// Padded crop size (rows, columns); equals `crop_sz` unless the crop misses the frame.
    pub rows: usize,
    pub cols: usize,
    /// First crop row / column that comes from the frame, and how many do.
    pub pad_top: usize,
    pub pad_left: usize,
    pub real_rows: usize,
    pub real_cols: usize,
    /// Frame row / column of the first real crop row / column.
    pub frame_y: usize,
    pub frame_x: usize,
}

/// Python's `a[start:stop]` bounds for `start >= 0` on a sequence of length `len`.
fn python_slice(start: i64, stop: i64, len: i64) -> (i64, i64) {
    let norm = |i: i64| if i < 0 { (i + len).max(0) } else { i.min(len) };
    let (a, b) = (norm(start), norm(stop));
    (a, b.max(a))
}

impl CropGeometry {
    pub(crate) fn new(
        frame_w: usize,
        frame_h: usize,
        bb: BoxXywh,
        search_area_factor: f64,
    ) -> Result<Self, CropError> {
        let [x, y, w, h] = bb;
        let side = ((w * h).sqrt() * search_area_factor).ceil();
        // The range test also rejects NaN (negative area or non-finite boxes); the upper bounds
        // keep the integer arithmetic below far from overflow.
        if !(1.0..=1e9).contains(&side) || !(-1e9..=1e9).contains(&x) || !(-1e9..=1e9).contains(&y)
        {
            return Err(CropError::Degenerate(bb));
        }
        let crop_sz = side as i64;
        let x1 = (x + 0.5 * w - crop_sz as f64 * 0.5).round_ties_even() as i64;
        let y1 = (y + 0.5 * h - crop_sz as f64 * 0.5).round_ties_even() as i64;
        let axis = |start: i64, len: usize| {
            let end = start + crop_sz;
            let pad_lo = (-start).max(0);
            // The original pads one pixel too many at the far side (`x2 - W + 1`).
            let pad_hi = (end - len as i64 + 1).max(0);
            let (a, b) = python_slice(start + pad_lo, end - pad_hi, len as i64);
            let real = b - a;
            (
                pad_lo as usize,
                real as usize,
                (real + pad_lo + pad_hi) as usize,
                a as usize,
            )
        };
        let (pad_left, real_cols, cols, frame_x) = axis(x1, frame_w);
        let (pad_top, real_rows, rows, frame_y) = axis(y1, frame_h);
        if rows == 0 || cols == 0 {
            return Err(CropError::Empty(bb, rows, cols));
        }
        Ok(Self {
            crop_sz: crop_sz as usize,
            rows,
            cols,
            pad_top,
            pad_left,
            real_rows,
            real_cols,
            frame_y,
            frame_x,
        })
    }

    /// The frame row of crop row `r`, or `None` for padding.
    fn frame_row(&self, r: usize) -> Option<usize> {
        (r >= self.pad_top && r < self.pad_top + self.real_rows)
            .then(|| self.frame_y + r - self.pad_top)
    }

    fn is_real_col(&self, c: usize) -> bool {
        c >= self.pad_left && c < self.pad_left + self.real_cols
    }

    /// Frame rectangle (x, y, w, h) that the crop reads, in view (possibly mirrored) coordinates.
    pub(crate) fn frame_rect(&self) -> (usize, usize, usize, usize) {
        (self.frame_x, self.frame_y, self.real_cols, self.real_rows)
    }
}

/// Extracts a square crop of side `ceil(sqrt(w*h) * factor)` centred on `target_bb`, pads it with
/// black and resizes it to `output_sz` (spec §5.4). Also returns the padding mask and the resize
/// factor. Equal to the original's `sample_target(im, target_bb, factor, output_sz)`.
pub fn sample_target(
    image: ImageView<'_>,
    target_bb: BoxXywh,
    search_area_factor: f64,
    output_sz: usize,
) -> Result<Crop, CropError> {
    if output_sz == 0 {
        return Err(CropError::ZeroOutput);
    }
    let geo = CropGeometry::new(image.width(), image.height(), target_bb, search_area_factor)?;
    let xt = x_taps(geo.cols, output_sz);
    let yt = y_taps(geo.rows, output_sz);
    let pixels = resize_crop(&image, &geo, &xt, &yt, output_sz);
    let att_mask = resize_mask(&geo, &xt, &yt);
    Ok(Crop {
        size: output_sz,
        pixels,
        att_mask,
        resize_factor: output_sz as f64 / geo.crop_sz as f64,
    })
}

/// The horizontal taps of the crop as pairs of neighbouring stored pixels of a frame row
/// ([`PixelTaps`]): taps on padding get weight 0, and a mirrored view reads its pair in
/// stored order with the weights swapped.
fn column_taps(image: &ImageView<'_>, geo: &CropGeometry, xt: &[Taps]) -> RowTaps {
    let frame_col = |c: usize| geo.frame_x + c - geo.pad_left;
    let tap = |i: usize, w: i32| {
        geo.is_real_col(i)
            .then(|| (image.column_offset(frame_col(i)), w))
    };
    let taps = xt
        .iter()
        .map(|t| match (tap(t.i0, t.w0), tap(t.i1, t.w1)) {
            (Some((o0, w0)), Some((o1, w1))) if w1 != 0 && w0 != 0 => {
                if o1 == o0 + 3 {
                    PixelTaps {
                        base: o0,
                        a: w0,
                        b: w1,
                    }
                } else if o0 == o1 + 3 {
                    PixelTaps {
                        base: o1,
                        a: w1,
                        b: w0,
                    }
                } else {
                    // Bilinear taps are neighbours unless clamped onto one pixel.
                    debug_assert_eq!(o0, o1);
                    PixelTaps {
                        base: o0,
                        a: w0 + w1,
                        b: 0,
                    }
                }
            }
            (Some((o0, w0)), Some((_, 0)) | None) => PixelTaps {
                base: o0,
                a: w0,
                b: 0,
            },
            (Some((_, 0)) | None, Some((o1, w1))) => PixelTaps {
                base: o1,
                a: w1,
                b: 0,
            },
            _ => PixelTaps {
                base: 0,
                a: 0,
                b: 0,
            },
        })
        .collect();
    RowTaps::new(taps)
}

#[inline(always)]
fn horizontal_pass(
    image: &ImageView<'_>,
    frame_row: Option<usize>,
    taps: &RowTaps,
    out: &mut [i32],
) {
    let Some(y) = frame_row else {
        out.fill(0);
        return;
    };
    let row = image.row(y);
    if image.is_gray() {
        let gray = |o: usize| crate::image::rgb_to_gray(row[o], row[o + 1], row[o + 2]) as i32;
        for (t, d) in taps.taps.iter().zip(out.chunks_exact_mut(3)) {
            let second = if t.b != 0 { gray(t.base + 3) * t.b } else { 0 };
            d.fill(gray(t.base) * t.a + second);
        }
    } else {
        taps.apply(row, out);
    }
}

/// The uint8 path of `cv2.resize` applied to the virtual padded crop.
fn resize_crop(
    image: &ImageView<'_>,
    geo: &CropGeometry,
    xt: &[Taps],
    yt: &[Taps],
    out_sz: usize,
) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { resize_crop_avx2(image, geo, xt, yt, out_sz) };
    }
    resize_crop_impl(image, geo, xt, yt, out_sz)
}

/// The same integer code compiled for AVX2 (the vertical pass vectorises 8 lanes wide).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn resize_crop_avx2(
    image: &ImageView<'_>,
    geo: &CropGeometry,
    xt: &[Taps],
    yt: &[Taps],
    out_sz: usize,
) -> Vec<u8> {
    resize_crop_impl(image, geo, xt, yt, out_sz)
}

#[inline(always)]
fn resize_crop_impl(
    image: &ImageView<'_>,
    geo: &CropGeometry,
    xt: &[Taps],
    yt: &[Taps],
    out_sz: usize,
) -> Vec<u8> {
    if geo.real_rows == 0 || geo.real_cols == 0 {
        // Nothing of the frame is in the crop (and nothing of it may have been decoded).
        return vec![0; out_sz * out_sz * 3];
    }
    let taps = column_taps(image, geo, xt);
    let width = out_sz * 3;
    // Every output row is written below.
    let mut out = CROP_BUFFERS.with(|p| p.take(out_sz * width));
    out.truncate(out_sz * width);
    // Two cached horizontal rows, keyed by crop row (OpenCV's ring buffer does the same).
    let mut cache: [(Option<usize>, Vec<i32>); 2] =
        [(None, vec![0; width]), (None, vec![0; width])];
    for (t, dst) in yt.iter().zip(out.chunks_exact_mut(width)) {
        // Moving down, the new first row is usually the old second one: swap instead of recompute.
        if cache[0].0 != Some(t.i0) && cache[1].0 == Some(t.i0) && t.i1 != t.i0 {
            cache.swap(0, 1);
        }
        for (slot, r) in [t.i0, t.i1].into_iter().enumerate() {
            if cache[slot].0 == Some(r) {
                continue;
            }
            let other = 1 - slot;
            if cache[other].0 == Some(r) {
                let (first, second) = cache.split_at_mut(1);
                let (dst, src) = if slot == 0 {
                    (&mut first[0], &second[0])
                } else {
                    (&mut second[0], &first[0])
                };
                dst.1.copy_from_slice(&src.1);
            } else {
                horizontal_pass(image, geo.frame_row(r), &taps, &mut cache[slot].1);
            }
            cache[slot].0 = Some(r);
        }
        vertical_combine(&cache[0].1, &cache[1].1, t.w0, t.w1, dst);
    }
    out
}

thread_local! {
    static CROP_BUFFERS: BufferPool = const { BufferPool::new() };
}

/// Hands the pixels of a crop that is no longer needed back for reuse on this thread.
pub(crate) fn recycle_pixels(pixels: Vec<u8>) {
    CROP_BUFFERS.with(|p| p.give(pixels));
}

/// The float64 path of `cv2.resize` on the 0/1 padding mask followed by `astype(bool)`: an output
/// pixel is padding iff any tap with a non-zero weight is padding.
fn resize_mask(geo: &CropGeometry, xt: &[Taps], yt: &[Taps]) -> Vec<bool> {
    let col_pad: Vec<bool> = xt
        .iter()
        .map(|t| !geo.is_real_col(t.i0) || (t.uses_i1 && !geo.is_real_col(t.i1)))
        .collect();
    let row_pad = |r: usize| geo.frame_row(r).is_none();
    let mut mask = Vec::with_capacity(xt.len() * yt.len());
    for t in yt {
        let row_all_pad = row_pad(t.i0) || (t.uses_i1 && row_pad(t.i1));
        mask.extend(col_pad.iter().map(|&c| row_all_pad || c));
    }
    mask
}

/// Maps `box_in` from frame coordinates into the crop taken around `box_extract`
/// (`transform_image_to_crop`): centre `(crop_sz - 1)/2 + (c_in - c_extract) * rf`, size `wh * rf`;
/// divided by `crop_sz` when `normalize`.
pub fn transform_image_to_crop(
    box_in: BoxXywh,
    box_extract: BoxXywh,
    resize_factor: f64,
    crop_sz: f64,
    normalize: bool,
) -> BoxXywh {
    let c_ex = [
        box_extract[0] + 0.5 * box_extract[2],
        box_extract[1] + 0.5 * box_extract[3],
    ];
    let c_in = [box_in[0] + 0.5 * box_in[2], box_in[1] + 0.5 * box_in[3]];
    let c_out = [
        (crop_sz - 1.0) / 2.0 + (c_in[0] - c_ex[0]) * resize_factor,
        (crop_sz - 1.0) / 2.0 + (c_in[1] - c_ex[1]) * resize_factor,
    ];
    let wh = [box_in[2] * resize_factor, box_in[3] * resize_factor];
    let out = [c_out[0] - 0.5 * wh[0], c_out[1] - 0.5 * wh[1], wh[0], wh[1]];
    if normalize {
        out.map(|v| v / crop_sz)
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_border_drops_the_last_column() {
        // A crop that ends exactly at the right border still gets one column of padding.
        let geo = CropGeometry::new(10, 10, [6.0, 0.0, 4.0, 4.0], 1.0).unwrap();
        assert_eq!(
            (geo.crop_sz, geo.pad_left, geo.real_cols, geo.cols),
            (4, 0, 3, 4)
        );
    }

    #[test]
    fn crop_origin_rounds_half_to_even() {
        // x + w/2 - crop/2 = 2.5 rounds to 2 (Python round), not 3.
        let geo = CropGeometry::new(100, 100, [2.5, 2.5, 3.0, 3.0], 1.0).unwrap();
        assert_eq!((geo.frame_x, geo.pad_left, geo.crop_sz), (2, 0, 3));
    }

    #[test]
    fn crop_left_of_the_frame_is_all_padding_on_the_left() {
        let geo = CropGeometry::new(10, 10, [-20.0, 2.0, 4.0, 4.0], 1.0).unwrap();
        assert_eq!(geo.real_cols, 0);
        let img = crate::image::RgbImage::new(10, 10);
        let crop = sample_target(img.view(), [-20.0, 2.0, 4.0, 4.0], 1.0, 8).unwrap();
        assert!(crop.att_mask.iter().all(|&m| m));
    }

    #[test]
    fn crops_missing_the_frame_read_no_pixels() {
        // A view that stores nothing: a crop entirely outside the frame must not touch it.
        let view = ImageView::region(&[], 0, (0, 0), (10, 10));
        let crop = sample_target(view, [-40.0, 2.0, 4.0, 4.0], 1.0, 8).unwrap();
        assert!(crop.pixels.iter().all(|&p| p == 0) && crop.att_mask.iter().all(|&m| m));
    }

    #[test]
    fn mirrored_and_grey_views_crop_like_materialised_frames() {
        let (w, h) = (61, 47);
        let mut img = crate::image::RgbImage::new(w, h);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i * 7919 % 251) as u8;
        }
        let materialise = |flip: bool, gray: bool| {
            let view = img.view().flipped(flip).grayscale(gray);
            let mut out = crate::image::RgbImage::new(w, h);
            for y in 0..h {
                for x in 0..w {
                    let o = 3 * (y * w + x);
                    out.data[o..o + 3].copy_from_slice(&view.pixel(x, y));
                }
            }
            out
        };
        let boxes = [
            [20.0, 15.0, 12.0, 9.0],
            [-5.0, 30.0, 14.0, 20.0],
            [50.0, -3.0, 9.0, 11.0],
            [1.0, 1.0, 58.0, 44.0],
            [40.3, 20.7, 3.2, 2.9],
        ];
        for flip in [false, true] {
            for gray in [false, true] {
                let frame = materialise(flip, gray);
                for bb in boxes {
                    for (factor, size) in [(2.0, 16), (4.0, 40), (1.0, 7)] {
                        let view = img.view().flipped(flip).grayscale(gray);
                        let got = sample_target(view, bb, factor, size).unwrap();
                        let want = sample_target(frame.view(), bb, factor, size).unwrap();
                        assert_eq!(got, want, "flip {flip} gray {gray} box {bb:?} x{factor}");
                    }
                }
            }
        }
    }

    #[test]
    fn degenerate_boxes_are_errors() {
        let img = crate::image::RgbImage::new(10, 10);
        for bb in [
            [0.0, 0.0, 0.0, 5.0],
            [0.0, 0.0, -1.0, 5.0],
            [f64::NAN, 0.0, 5.0, 5.0],
        ] {
            assert!(sample_target(img.view(), bb, 2.0, 16).is_err(), "{bb:?}");
        }
    }
}
