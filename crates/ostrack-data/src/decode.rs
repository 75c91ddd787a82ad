//! Reading frames from disk into RGB (the original: `cv2.imread` + BGR→RGB).

use std::io::{Cursor, Read};
use std::path::Path;

use image::{ImageReader, Limits};

use crate::error::DataError;
use crate::frames::{EncodedFrame, Rect};
use crate::image::{MAX_FRAME_PIXELS, MAX_FRAME_SIDE, RgbImage, check_frame_size};
use ostrack_jpeg::is_jpeg;

/// The largest frame file read: 256 MiB. The largest frame allowed ([`MAX_FRAME_PIXELS`])
/// stored as uncompressed 8-bit RGB takes 192 MiB, and real frames are a few hundred KB; a
/// bigger file (a video or an archive under a frame's name) is refused without reading it.
pub const MAX_FRAME_FILE_BYTES: u64 = 256 << 20;

/// Reads and decodes an image file (JPEG natively, PNG and others through `image`).
pub fn read_frame(path: &Path) -> Result<RgbImage, DataError> {
    decode_frame(&read_frame_bytes(path)?, path)
}

/// Reads a frame file into memory, refusing files over [`MAX_FRAME_FILE_BYTES`] without
/// allocating for them.
pub fn read_frame_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let too_big = |len: u64| {
        DataError::file(
            path,
            format!("file has {len} bytes; the limit for a frame is {MAX_FRAME_FILE_BYTES}"),
        )
    };
    if len > MAX_FRAME_FILE_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` bounds the read should the file grow after `metadata`.
    file.take(MAX_FRAME_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::io(path, e))?;
    match bytes.len() as u64 {
        n if n > MAX_FRAME_FILE_BYTES => Err(too_big(n)),
        _ => Ok(bytes),
    }
}

/// Decodes an encoded image; `path` only names it in errors.
///
/// Every decoder checks the size in the header against [`MAX_FRAME_SIDE`] and
/// [`MAX_FRAME_PIXELS`] before allocating for it, so a corrupt or hostile file is an error
/// naming it, never a multi-gigabyte allocation.
pub fn decode_frame(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    if !is_jpeg(bytes) {
        return decode_other(bytes, path);
    }
    decode_whole_jpeg(bytes, path, false)
}

/// Decodes the pixels of `[x0, x0 + w) × [y0, y0 + h)`, clamped to the frame, the way the
/// training loader does: JPEGs our decoder supports are decoded only around that rectangle.
pub fn decode_frame_region(
    bytes: &[u8],
    path: &Path,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<RgbImage, DataError> {
    let frame = EncodedFrame::from_bytes(bytes.to_vec(), path)?;
    let x1 = x0.saturating_add(w).min(frame.width);
    let y1 = y0.saturating_add(h).min(frame.height);
    let (x0, y0) = (x0.min(x1), y0.min(y1));
    let rect = Rect {
        x0,
        y0,
        w: x1 - x0,
        h: y1 - y0,
    };
    let decoded = frame.decode(rect)?;
    let view = decoded.view();
    let mut out = RgbImage::new(rect.w, rect.h);
    if out.data.is_empty() {
        return Ok(out);
    }
    for (y, row) in (y0..y1).zip(out.data.chunks_exact_mut(rect.w * 3)) {
        for (x, px) in (x0..x1).zip(row.chunks_exact_mut(3)) {
            px.copy_from_slice(&view.pixel(x, y));
        }
    }
    Ok(out)
}

/// Decodes and also rejects damage that a lenient decoder would paper over (truncated data,
/// missing end-of-image marker); used by the dataset doctor.
pub fn decode_frame_strict(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    if !is_jpeg(bytes) {
        return decode_other(bytes, path);
    }
    decode_whole_jpeg(bytes, path, true)
}

/// A whole JPEG frame: `ostrack_jpeg`'s libjpeg-turbo-exact decoder, or zune-jpeg for the
/// flavours it leaves alone; `strict` as in [`decode_frame_strict`].
fn decode_whole_jpeg(bytes: &[u8], path: &Path, strict: bool) -> Result<RgbImage, DataError> {
    let r = ostrack_jpeg::decode(bytes, strict).map_err(|e| DataError::file(path, e))?;
    RgbImage::from_raw(r.w, r.h, r.into_pixels())
        .ok_or_else(|| DataError::file(path, "internal JPEG size mismatch"))
}

/// PNG and whatever else `image` is built to read, within the frame limits.
fn decode_other(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    let fail = |e: String| DataError::file(path, format!("cannot decode image: {e}"));
    let (w, h) = other_image_size(bytes).map_err(fail)?;
    // `image` bounds each side, the pixel count is ours to check.
    check_frame_size(w, h).map_err(fail)?;
    let img = image_reader(bytes, frame_limits())
        .map_err(fail)?
        .decode()
        .map_err(|e| fail(e.to_string()))?;
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    Ok(RgbImage {
        width: w,
        height: h,
        data: rgb.into_raw(),
    })
}

/// Width and height from the header of a non-JPEG image, without decoding it; sizes beyond
/// the limits are errors.
pub(crate) fn other_image_size(bytes: &[u8]) -> Result<(usize, usize), String> {
    // `image` refuses a PNG whose buffer would exceed its memory limit while reading the header
    // already, with a message that names no size; reading IHDR here first names ours.
    if let Some((w, h)) = png_header_size(bytes) {
        check_frame_size(w, h)?;
    }
    let (w, h) = image_reader(bytes, frame_limits())?
        .into_dimensions()
        .map_err(|e| e.to_string())?;
    Ok((w as usize, h as usize))
}

/// Width and height from a PNG's IHDR chunk, which must come first after the signature.
fn png_header_size(bytes: &[u8]) -> Option<(usize, usize)> {
    let header = bytes.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    if header.get(4..8)? != b"IHDR" {
        return None;
    }
    let field = |at: usize| Some(u32::from_be_bytes(header.get(at..at + 4)?.try_into().ok()?));
    Some((field(8)? as usize, field(12)? as usize))
}

/// `image`'s limits for decoding a frame: our size limit, and room for the largest frame in
/// the widest layout `image` decodes to (16-bit RGBA, 8 bytes per pixel). Every frame source
/// decoded through `image` (frames here, GIFs in ostrack-track) uses these.
pub fn frame_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_FRAME_SIDE as u32);
    limits.max_image_height = Some(MAX_FRAME_SIDE as u32);
    limits.max_alloc = Some(MAX_FRAME_PIXELS as u64 * 8);
    limits
}

/// An `image` reader for in-memory bytes, its format guessed from the content.
fn image_reader(bytes: &[u8], limits: Limits) -> Result<ImageReader<Cursor<&[u8]>>, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    reader.limits(limits);
    Ok(reader)
}

/// Encodes RGB pixels as a baseline JPEG with 4:2:0 chroma subsampling (as typical camera and
/// dataset JPEGs are).
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let (w, h) = (
        u16::try_from(img.width).map_err(|_| "image too wide")?,
        u16::try_from(img.height).map_err(|_| "image too tall")?,
    );
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.encode(&img.data, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_round_trip_and_truncation() {
        let mut img = RgbImage::new(64, 48);
        for (i, p) in img.data.chunks_exact_mut(3).enumerate() {
            p.copy_from_slice(&[(i % 64 * 4) as u8, (i / 64 * 5) as u8, 128]);
        }
        let bytes = encode_jpeg(&img, 95).unwrap();
        let path = Path::new("x.jpg");
        let back = decode_frame_strict(&bytes, path).unwrap();
        assert_eq!((back.width, back.height), (64, 48));
        let err: i32 = back
            .data
            .iter()
            .zip(&img.data)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(err < 24, "max error {err}");
        let cut = &bytes[..bytes.len() / 2];
        assert!(
            decode_frame_strict(cut, path)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(decode_frame(b"not an image", path).is_err());
    }
}
