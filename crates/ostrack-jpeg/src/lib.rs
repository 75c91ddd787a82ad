//! `ostrack-jpeg` decodes JPEG frames to RGB the way the original's loader does (`cv2.imread`,
//! i.e. libjpeg-turbo with its islow IDCT, fancy upsampling and table YCbCr→RGB), bit for bit,
//! and decodes only a region of a frame when that is all a caller needs.
//!
//! * [`decode_region`]: the pixels around a rectangle, for the files our decoder handles (8-bit
//!   sequential Huffman, greyscale or YCbCr 4:4:4 / 4:2:2 / 4:2:0, restart markers or not);
//!   `Ok(None)` for the rest. [`recycle`] hands a region's buffer back for reuse.
//! * [`decode`]: a whole frame, by our decoder where it can, by zune-jpeg for the flavours it
//!   leaves alone (progressive, 12-bit, CMYK, unusual subsampling).
//! * [`is_jpeg`], [`header_size`]: recognising a JPEG and reading its size without decoding.
//! * The frame-size limits every frame decoder of the workspace shares: [`MAX_FRAME_SIDE`],
//!   [`MAX_FRAME_PIXELS`], [`check_frame_size`].
//! * [`BufferPool`]: the per-thread spare buffers the decoder (and `ostrack-data`'s crops) reuse.
//!
//! Error messages are complete sentences about the file's content; callers add its name.

mod codec;
mod scratch;

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

pub use codec::{Region, recycle};
pub use scratch::BufferPool;

/// The largest width or height any frame decoder accepts. Tracking datasets top out at 4K
/// video (3840×2160) and COCO photos at 640 px, while a JPEG header can claim 65535; 16384 is
/// also zune-jpeg's default, so every decoder shares one limit.
pub const MAX_FRAME_SIDE: usize = 16_384;

/// The largest number of pixels any frame decoder accepts: 2^26 = 64 Mpx (8192×8192; an 8K UHD
/// frame has 33 Mpx, a 61 Mpx camera photo fits). It bounds the decoded RGB buffer at 192 MiB,
/// so a corrupt header cannot make a loader thread allocate gigabytes, and it bounds the time a
/// truncated file claiming the largest size costs: about 0.5 s (baseline) to 0.7 s
/// (progressive) of decoding padding, where 65535×65535 (12 GiB of RGB) would take half a minute.
pub const MAX_FRAME_PIXELS: usize = 1 << 26;

/// Checks a frame size read from a header against [`MAX_FRAME_SIDE`] and [`MAX_FRAME_PIXELS`],
/// before anything is allocated for it. The message names the limit; callers add the file.
pub fn check_frame_size(width: usize, height: usize) -> Result<(), String> {
    if width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Err(format!(
            "image size {width}x{height} exceeds the limit of {MAX_FRAME_SIDE} pixels per side"
        ));
    }
    if width.saturating_mul(height) > MAX_FRAME_PIXELS {
        return Err(format!(
            "image size {width}x{height} exceeds the limit of {MAX_FRAME_PIXELS} pixels (2^26) per frame"
        ));
    }
    Ok(())
}

/// Whether the bytes start like a JPEG file (SOI marker).
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8])
}

/// Walks the JPEG markers up to the first start-of-frame and returns (width, height); `None`
/// when the header is truncated or corrupt. The size is not checked against the limits.
pub fn header_size(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 2;
    loop {
        while *b.get(i)? != 0xFF {
            i += 1;
        }
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        if (0xD0..=0xD9).contains(&marker) || marker == 0x01 {
            continue; // markers without a length
        }
        let len = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize;
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = u16::from_be_bytes([*b.get(i + 3)?, *b.get(i + 4)?]) as usize;
            let w = u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]) as usize;
            return Some((w, h));
        }
        i += len;
    }
}

/// Decodes the pixels of `[x0, x0 + w) × [y0, y0 + h)` (clamped to the frame) or a larger
/// rectangle containing them, with libjpeg-turbo's arithmetic. `Ok(None)`: the file uses
/// features our decoder leaves to [`decode`]'s fallback. The frame size is checked against the
/// limits before anything is allocated for it.
pub fn decode_region(
    bytes: &[u8],
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<Option<Region>, String> {
    codec::decode_region(bytes, x0, y0, w, h).map_err(|e| format!("cannot decode JPEG: {e}"))
}

/// Decodes a whole JPEG frame to RGB: a [`Region`] covering the frame, whose `data` holds
/// exactly `w * h * 3` bytes. Our decoder reproduces libjpeg-turbo (OpenCV) pixels; it leaves
/// rarer JPEG flavours (progressive, 12-bit, CMYK, unusual subsampling) to zune-jpeg. Both
/// check the size in the header against the limits before allocating for it.
///
/// `strict` also rejects damage that a lenient decoder would paper over (truncated data, a
/// missing end-of-image marker), as the dataset doctor wants.
pub fn decode(bytes: &[u8], strict: bool) -> Result<Region, String> {
    if strict && !ends_with_eoi(bytes) {
        return Err("truncated JPEG (no end-of-image marker)".into());
    }
    match decode_region(bytes, 0, 0, usize::MAX, usize::MAX)? {
        Some(mut r) => {
            r.data.truncate(r.w * r.h * 3);
            if r.data.len() != r.w * r.h * 3 {
                return Err("internal JPEG size mismatch".into());
            }
            Ok(r)
        }
        None => decode_with_zune(bytes, strict),
    }
}

/// Whether the last marker-like pair (ignoring trailing zero padding) is FFD9.
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    end >= 2 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xD9
}

fn decode_with_zune(bytes: &[u8], strict: bool) -> Result<Region, String> {
    let fail = |e: String| format!("cannot decode JPEG: {e}");
    let options = DecoderOptions::new_fast()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_strict_mode(strict)
        .set_max_width(MAX_FRAME_SIDE)
        .set_max_height(MAX_FRAME_SIDE);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    // The header alone first: zune only bounds each side, the pixel count is ours to check.
    decoder
        .decode_headers()
        .map_err(|e| fail(format!("{e:?}")))?;
    let info = decoder.info().ok_or_else(|| fail("no header".into()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    check_frame_size(w, h).map_err(fail)?;
    let data = decoder.decode().map_err(|e| fail(format!("{e:?}")))?;
    if data.len() != w * h * 3 {
        return Err(format!(
            "JPEG decoder returned a buffer that is not {w}x{h} RGB"
        ));
    }
    Ok(Region {
        data,
        x0: 0,
        y0: 0,
        w,
        h,
        frame_size: (w, h),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    fn encode(w: u16, h: u16) -> Vec<u8> {
        let mut px = Vec::new();
        for i in 0..w as usize * h as usize {
            px.extend([(i % 64 * 4) as u8, (i / 64 * 5) as u8, 128]);
        }
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 80);
        enc.set_sampling_factor(SamplingFactor::R_4_2_0);
        enc.encode(&px, w, h, ColorType::Rgb).unwrap();
        out
    }

    #[test]
    fn header_size_and_truncation() {
        let bytes = encode(37, 21);
        assert!(is_jpeg(&bytes));
        assert_eq!(header_size(&bytes), Some((37, 21)));
        assert_eq!(header_size(&bytes[..20]), None);
    }

    #[test]
    fn whole_frames_and_strict_mode() {
        let bytes = encode(64, 48);
        let r = decode(&bytes, true).unwrap();
        assert_eq!((r.w, r.h, r.data.len()), (64, 48, 64 * 48 * 3));
        let cut = &bytes[..bytes.len() / 2];
        assert!(decode(cut, true).unwrap_err().contains("truncated"));
        assert!(decode(b"\xFF\xD8\xFF", false).is_err());
    }

    #[test]
    fn limits() {
        assert!(check_frame_size(MAX_FRAME_SIDE, MAX_FRAME_PIXELS / MAX_FRAME_SIDE).is_ok());
        assert!(check_frame_size(MAX_FRAME_SIDE + 1, 1).is_err());
        assert!(check_frame_size(MAX_FRAME_SIDE, MAX_FRAME_SIDE).is_err());
    }
}
