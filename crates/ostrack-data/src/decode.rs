//! Reading frames from disk into RGB (the original: `cv2.imread` + BGR→RGB).

use std::path::Path;

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use crate::error::DataError;
use crate::image::RgbImage;

/// Reads and decodes an image file (JPEG natively, PNG and others through `image`).
pub fn read_frame(path: &Path) -> Result<RgbImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_frame(&bytes, path)
}

/// Decodes an encoded image; `path` only names it in errors.
pub fn decode_frame(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    if !is_jpeg(bytes) {
        return decode_other(bytes, path);
    }
    // Our decoder reproduces libjpeg-turbo (OpenCV) pixels; it leaves rarer JPEG flavours
    // (progressive, 12-bit, CMYK, unusual subsampling) to zune-jpeg.
    match crate::jpeg::decode_region(bytes, 0, 0, usize::MAX / 4, usize::MAX / 4) {
        Ok(Some(r)) => RgbImage::from_raw(r.w, r.h, r.into_pixels())
            .ok_or_else(|| DataError::file(path, "internal JPEG size mismatch")),
        Ok(None) => decode_jpeg(bytes, path, false),
        Err(e) => Err(DataError::file(path, format!("cannot decode JPEG: {e}"))),
    }
}

/// Decodes and also rejects damage that a lenient decoder would paper over (truncated data,
/// missing end-of-image marker); used by the dataset doctor.
pub fn decode_frame_strict(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    if !is_jpeg(bytes) {
        return decode_other(bytes, path);
    }
    if !ends_with_eoi(bytes) {
        return Err(DataError::file(
            path,
            "truncated JPEG (no end-of-image marker)",
        ));
    }
    match crate::jpeg::decode_region(bytes, 0, 0, usize::MAX / 4, usize::MAX / 4) {
        Ok(Some(r)) => RgbImage::from_raw(r.w, r.h, r.into_pixels())
            .ok_or_else(|| DataError::file(path, "internal JPEG size mismatch")),
        Ok(None) => decode_jpeg(bytes, path, true),
        Err(e) => Err(DataError::file(path, format!("cannot decode JPEG: {e}"))),
    }
}

pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8])
}

/// Whether the last marker-like pair (ignoring trailing zero padding) is FFD9.
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    end >= 2 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xD9
}

fn decode_jpeg(bytes: &[u8], path: &Path, strict: bool) -> Result<RgbImage, DataError> {
    let options = DecoderOptions::new_fast()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_strict_mode(strict);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let pixels = decoder
        .decode()
        .map_err(|e| DataError::file(path, format!("cannot decode JPEG: {e:?}")))?;
    let info = decoder
        .info()
        .ok_or_else(|| DataError::file(path, "cannot decode JPEG: no header"))?;
    let (w, h) = (info.width as usize, info.height as usize);
    RgbImage::from_raw(w, h, pixels).ok_or_else(|| {
        DataError::file(
            path,
            format!("JPEG decoder returned a buffer that is not {w}x{h} RGB"),
        )
    })
}

fn decode_other(bytes: &[u8], path: &Path) -> Result<RgbImage, DataError> {
    let img = image::load_from_memory(bytes)
        .map_err(|e| DataError::file(path, format!("cannot decode image: {e}")))?;
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    Ok(RgbImage {
        width: w,
        height: h,
        data: rgb.into_raw(),
    })
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
