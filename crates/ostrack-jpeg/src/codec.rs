//! A baseline JPEG decoder that decodes only a region of interest.
//!
//! Training crops rarely need a whole frame. Entropy decoding is sequential, so every MCU up to
//! the last needed MCU row is Huffman-decoded (rows below it are never touched), but the inverse
//! DCT, upsampling and colour conversion run only for the MCUs around the region. The pixel
//! arithmetic follows libjpeg-turbo's defaults (islow IDCT, fancy upsampling, table YCbCr→RGB),
//! i.e. what OpenCV's `imread` returns.
//!
//! Supported: 8-bit baseline/extended sequential Huffman JPEGs, greyscale or YCbCr with chroma
//! subsampling 4:4:4, 4:2:2 or 4:2:0, with or without restart markers. Anything else returns
//! `Ok(None)` and the caller falls back to a complete decoder.

mod color;
mod huffman;
mod idct;

use std::rc::Rc;

use crate::check_frame_size;
use crate::scratch::BufferPool;

use huffman::{BitReader, HuffmanTable, clear_block, decode_block, skip_block};

/// Decoded pixels of a rectangle of a frame.
#[derive(Debug)]
pub struct Region {
    /// RGB rows of `w * 3` bytes (and possibly unused bytes after the last row).
    pub data: Vec<u8>,
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
    /// The size of the whole frame, as this decoder read it from the frame header.
    pub frame_size: (usize, usize),
}

struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    td: usize,
    ta: usize,
}

struct Frame {
    width: usize,
    height: usize,
    components: Vec<Component>,
    quant: [Option<[i32; 64]>; 4],
    dc: [Option<Rc<HuffmanTable>>; 4],
    ac: [Option<Rc<HuffmanTable>>; 4],
    restart_interval: usize,
    /// Byte offset of the entropy-coded data of the (single) scan.
    scan_start: usize,
}

fn be16(b: &[u8], i: usize) -> Result<usize, String> {
    match (b.get(i), b.get(i + 1)) {
        (Some(&a), Some(&c)) => Ok(u16::from_be_bytes([a, c]) as usize),
        _ => Err("truncated JPEG header".into()),
    }
}

impl Frame {
    fn empty() -> Self {
        Self {
            width: 0,
            height: 0,
            components: Vec::new(),
            quant: [None; 4],
            dc: [None, None, None, None],
            ac: [None, None, None, None],
            restart_interval: 0,
            scan_start: 0,
        }
    }
}

/// Reads the markers up to the start of the scan. `Ok(None)` for unsupported files.
fn parse(b: &[u8]) -> Result<Option<Frame>, String> {
    let mut f = Frame::empty();
    let mut have_sof = false;
    let mut i = 2;
    loop {
        while b.get(i) == Some(&0xFF) && b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if b.get(i) != Some(&0xFF) {
            return Err(format!("expected a marker at byte {i}"));
        }
        let marker = *b.get(i + 1).ok_or("truncated JPEG header")?;
        i += 2;
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            continue;
        }
        let len = be16(b, i)?;
        // The length counts its own two bytes.
        if len < 2 {
            return Err(format!("invalid segment length {len} at byte {i}"));
        }
        let seg = b.get(i + 2..i + len).ok_or("truncated JPEG segment")?;
        match marker {
            0xC0 | 0xC1 if have_sof => return Err("more than one frame header".into()),
            0xC0 | 0xC1 => {
                if !read_frame_header(&mut f, seg)? {
                    return Ok(None);
                }
                have_sof = true;
            }
            0xC2..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                // Progressive, lossless, arithmetic: left to zune-jpeg, but the size limit and
                // its message are the same for every JPEG.
                check_frame_size(be16(seg, 3)?, be16(seg, 1)?)?;
                return Ok(None);
            }
            0xC4 => read_huffman_tables(&mut f, seg)?,
            0xDB => read_quant_tables(&mut f, seg)?,
            0xDD => f.restart_interval = be16(seg, 0)?,
            0xDA if !have_sof => return Err("scan before frame header".into()),
            0xDA => {
                f.scan_start = i + seg.len() + 2;
                return read_scan_header(f, seg);
            }
            0xD9 => return Err("no scan in JPEG".into()),
            _ => {} // APPn, COM, DNL, ...
        }
        i += seg.len() + 2;
    }
}

/// Reads SOF0/SOF1. `Ok(false)` for 12-bit files (left to another decoder). The frame size is
/// checked here, before any buffer is sized from it.
fn read_frame_header(f: &mut Frame, seg: &[u8]) -> Result<bool, String> {
    f.height = be16(seg, 1)?;
    f.width = be16(seg, 3)?;
    check_frame_size(f.width, f.height)?;
    if seg.first() != Some(&8) {
        return Ok(false);
    }
    let n = *seg.get(5).ok_or("truncated SOF")? as usize;
    if !(1..=4).contains(&n) {
        return Err(format!(
            "frame header declares {n} components (1 to 4 supported)"
        ));
    }
    for c in 0..n {
        let p = seg.get(6 + 3 * c..9 + 3 * c).ok_or("truncated SOF")?;
        let (h, v, tq) = ((p[1] >> 4) as usize, (p[1] & 15) as usize, p[2] as usize);
        // The MCU size is a multiple of these; 0 would divide by zero.
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(format!("invalid sampling factors {h}x{v}"));
        }
        if tq > 3 {
            return Err(format!("invalid quantisation table number {tq}"));
        }
        f.components.push(Component {
            id: p[0],
            h,
            v,
            tq,
            td: 0,
            ta: 0,
        });
    }
    Ok(true)
}

/// Reads the tables of a DHT segment (each at most 16 + 256 bytes, bounded by the segment).
fn read_huffman_tables(f: &mut Frame, seg: &[u8]) -> Result<(), String> {
    let mut p = 0;
    while p < seg.len() {
        let (class, slot) = ((seg[p] >> 4) as usize, (seg[p] & 15) as usize);
        if class > 1 || slot > 3 {
            return Err(format!(
                "invalid Huffman table class {class} / number {slot}"
            ));
        }
        let counts: [u8; 16] = seg
            .get(p + 1..p + 17)
            .ok_or("truncated DHT")?
            .try_into()
            .map_err(|_| "truncated DHT")?;
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let values = seg.get(p + 17..p + 17 + total).ok_or("truncated DHT")?;
        let table = HuffmanTable::cached(&counts, values, class == 1)?;
        if class == 0 {
            f.dc[slot] = Some(table)
        } else {
            f.ac[slot] = Some(table)
        }
        p += 17 + total;
    }
    Ok(())
}

/// Reads the tables of a DQT segment (8- or 16-bit entries).
fn read_quant_tables(f: &mut Frame, seg: &[u8]) -> Result<(), String> {
    let mut p = 0;
    while p < seg.len() {
        let (pq, tq) = ((seg[p] >> 4) as usize, (seg[p] & 15) as usize);
        if pq > 1 || tq > 3 {
            return Err(format!(
                "invalid quantisation table precision {pq} / number {tq}"
            ));
        }
        let mut q = [0i32; 64];
        for (k, qk) in q.iter_mut().enumerate() {
            *qk = if pq == 0 {
                *seg.get(p + 1 + k).ok_or("truncated DQT")? as i32
            } else {
                be16(seg, p + 1 + 2 * k)? as i32
            };
        }
        // Stored in zig-zag order, used in zig-zag order by the block decoder.
        f.quant[tq] = Some(q);
        p += 1 + 64 * (1 + pq);
    }
    Ok(())
}

/// Reads the SOS header: which tables each component uses. `Ok(None)` for a scan that does not
/// hold every component (a multi-scan file, left to another decoder).
fn read_scan_header(mut f: Frame, seg: &[u8]) -> Result<Option<Frame>, String> {
    let n = *seg.first().ok_or("truncated SOS")? as usize;
    if n != f.components.len() {
        return Ok(None);
    }
    for k in 0..n {
        let p = seg.get(1 + 2 * k..3 + 2 * k).ok_or("truncated SOS")?;
        let c = f
            .components
            .iter_mut()
            .find(|c| c.id == p[0])
            .ok_or("SOS names an unknown component")?;
        c.td = (p[1] >> 4) as usize & 3;
        c.ta = (p[1] & 15) as usize & 3;
    }
    Ok(Some(f))
}

/// Decodes the pixels of `[x0, x0 + w) × [y0, y0 + h)` (clamped to the image) or a larger
/// rectangle containing them. `Ok(None)`: the file uses features this decoder leaves to others.
pub(crate) fn decode_region(
    b: &[u8],
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<Option<Region>, String> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { decode_region_avx2(b, x0, y0, w, h) };
    }
    decode_region_impl(b, x0, y0, w, h)
}

/// The same code compiled for AVX2, where the IDCT and colour loops vectorise well.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn decode_region_avx2(
    b: &[u8],
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<Option<Region>, String> {
    decode_region_impl(b, x0, y0, w, h)
}

#[inline(always)]
fn decode_region_impl(
    b: &[u8],
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<Option<Region>, String> {
    let Some(f) = parse(b)? else { return Ok(None) };
    let (width, height) = (f.width, f.height);
    if width == 0 || height == 0 {
        return Err("JPEG has no pixels (or uses a DNL marker)".into());
    }
    let gray = f.components.len() == 1;
    if !gray && f.components.len() != 3 {
        return Ok(None);
    }
    let (hmax, vmax) = (f.components[0].h, f.components[0].v);
    if !gray {
        let chroma_ok = f.components[1..].iter().all(|c| c.h == 1 && c.v == 1);
        if !chroma_ok || !matches!((hmax, vmax), (1, 1) | (2, 1) | (2, 2)) {
            return Ok(None);
        }
    }
    // A greyscale file is one 8×8 block per MCU whatever its sampling factors say.
    let (hmax, vmax) = if gray { (1, 1) } else { (hmax, vmax) };
    let (mcu_w, mcu_h) = (8 * hmax, 8 * vmax);
    let (mcus_x, mcus_y) = (width.div_ceil(mcu_w), height.div_ceil(mcu_h));

    let x1 = x0.saturating_add(w).min(width);
    let y1 = y0.saturating_add(h).min(height);
    let (x0, y0) = (x0.min(x1), y0.min(y1));
    if x1 <= x0 || y1 <= y0 {
        return Ok(Some(Region {
            data: Vec::new(),
            x0,
            y0,
            w: 0,
            h: 0,
            frame_size: (width, height),
        }));
    }
    // The MCUs holding the region's pixels and, where chroma is subsampled, the neighbouring
    // chroma samples the triangle upsampling reads (one chroma sample, i.e. 8 per MCU).
    let (mc0, mc1) = mcu_span(x0, x1, hmax, mcus_x);
    let (mr0, mr1) = mcu_span(y0, y1, vmax, mcus_y);

    let comps: Vec<(&Component, [i32; 64], &HuffmanTable, &HuffmanTable)> = f
        .components
        .iter()
        .map(|c| {
            let q = f.quant[c.tq].ok_or("missing quantisation table")?;
            let dc = f.dc[c.td].as_deref().ok_or("missing DC Huffman table")?;
            let ac = f.ac[c.ta].as_deref().ok_or("missing AC Huffman table")?;
            Ok::<_, String>((c, q, dc, ac))
        })
        .collect::<Result<_, _>>()?;
    // Sample planes of the decoded MCU band, one per component.
    let blocks = |c: &Component| if gray { (1, 1) } else { (c.h, c.v) };
    // Every sample of the band is written by an inverse DCT, so the buffers need no clearing.
    let mut planes: Vec<Plane> = comps
        .iter()
        .map(|(c, ..)| {
            let (bh, bv) = blocks(c);
            let stride = (mc1 - mc0 + 1) * 8 * bh;
            let rows = (mr1 - mr0 + 1) * 8 * bv;
            let data = PLANE_BUFFERS.with(|p| p.take(stride * rows));
            Plane { data, stride, rows }
        })
        .collect();

    let mut reader = BitReader::new(b, f.scan_start);
    let mut preds = vec![0i32; comps.len()];
    let mut coefs = [0i32; 64];
    let mut done = 0usize;
    for my in 0..=mr1 {
        for mx in 0..mcus_x {
            if f.restart_interval > 0 && done > 0 && done.is_multiple_of(f.restart_interval) {
                reader.restart()?;
                preds.iter_mut().for_each(|p| *p = 0);
            }
            done += 1;
            let keep = my >= mr0 && (mc0..=mc1).contains(&mx);
            for (ci, (c, q, dc, ac)) in comps.iter().enumerate() {
                let (bh, bv) = blocks(c);
                for by in 0..bv {
                    for bx in 0..bh {
                        if !keep {
                            skip_block(&mut reader, dc, ac, &mut preds[ci])?;
                            continue;
                        }
                        let last =
                            decode_block(&mut reader, dc, ac, q, &mut preds[ci], &mut coefs)?;
                        let plane = &mut planes[ci];
                        let px = ((mx - mc0) * bh + bx) * 8;
                        let py = ((my - mr0) * bv + by) * 8;
                        let at = py * plane.stride + px;
                        idct::idct_islow(&coefs, last, &mut plane.data[at..], plane.stride);
                        clear_block(&mut coefs, last);
                    }
                }
            }
        }
    }
    let band = Band {
        mc0,
        mr0,
        mcu_w,
        mcu_h,
        hmax,
        vmax,
        width,
        height,
    };
    let region = band.to_rgb(&planes, gray, x0, y0, x1 - x0, y1 - y0);
    PLANE_BUFFERS.with(|p| planes.into_iter().for_each(|plane| p.give(plane.data)));
    Ok(Some(region))
}

/// The decoded samples of one component over the MCU band.
struct Plane {
    /// At least `stride * rows` bytes.
    data: Vec<u8>,
    stride: usize,
    rows: usize,
}

thread_local! {
    static PLANE_BUFFERS: BufferPool = const { BufferPool::new() };
    static REGION_BUFFERS: BufferPool = const { BufferPool::new() };
}

/// Hands the pixel buffer of a region that is no longer needed back for reuse on this thread.
pub fn recycle(region_data: Vec<u8>) {
    REGION_BUFFERS.with(|p| p.give(region_data));
}

/// First and last MCU (along one axis) needed for the pixels `[p0, p1)`, where `sub` is the
/// chroma subsampling factor (1 or 2) along that axis and `mcus` the number of MCUs.
fn mcu_span(p0: usize, p1: usize, sub: usize, mcus: usize) -> (usize, usize) {
    // A chroma (or, without subsampling, pixel) index range; each MCU holds 8 of them.
    let (c0, c1) = if sub == 2 {
        ((p0 / 2).saturating_sub(1), (p1 - 1) / 2 + 1)
    } else {
        (p0, p1 - 1)
    };
    (c0 / 8, (c1 / 8).min(mcus - 1))
}

impl Region {
    /// The pixels as exactly `h` rows of `w * 3` bytes.
    pub fn into_pixels(mut self) -> Vec<u8> {
        self.data.truncate(self.w * self.h * 3);
        self.data
    }
}

/// Where the decoded planes sit in the frame.
struct Band {
    mc0: usize,
    mr0: usize,
    mcu_w: usize,
    mcu_h: usize,
    hmax: usize,
    vmax: usize,
    width: usize,
    height: usize,
}

impl Band {
    #[inline(always)]
    fn to_rgb(
        &self,
        planes: &[Plane],
        gray: bool,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
    ) -> Region {
        // Every byte of the region is written below.
        let mut data = REGION_BUFFERS.with(|p| p.take(w * h * 3));
        let (lx, ly) = (self.mc0 * self.mcu_w, self.mr0 * self.mcu_h);
        let (yp, ys) = (&planes[0].data, planes[0].stride);
        if gray {
            for (r, out) in data[..w * h * 3].chunks_exact_mut(w * 3).enumerate() {
                let row = &yp[(y0 + r - ly) * ys + (x0 - lx)..];
                for (o, &v) in out.chunks_exact_mut(3).zip(row) {
                    o.fill(v);
                }
            }
            return Region {
                data,
                x0,
                y0,
                w,
                h,
                frame_size: (self.width, self.height),
            };
        }
        let (h2, v2) = (self.hmax == 2, self.vmax == 2);
        // The chroma grid in the frame, and the part of it held by the decoded band.
        let (cw, ch) = (
            self.width.div_ceil(self.hmax),
            self.height.div_ceil(self.vmax),
        );
        let (cx0, cy0) = (lx / self.hmax, ly / self.vmax);
        let (cs, band_rows) = (planes[1].stride, planes[1].rows);
        // Chroma columns the output needs, neighbours included.
        let x1 = x0 + w;
        let ca = (x0 / self.hmax).saturating_sub(1).max(cx0);
        let cb = ((x1 - 1) / self.hmax + 1).min(cw - 1).min(cx0 + cs - 1);
        let mut sums = [vec![0i32; cb - ca + 1], vec![0i32; cb - ca + 1]];
        let mut up = [vec![0u8; w], vec![0u8; w]];
        let mut tmp = vec![0u8; 2 * (cb - ca + 1)];
        for (r, out) in data[..w * h * 3].chunks_exact_mut(w * 3).enumerate() {
            let y = y0 + r;
            let (near, far) = if v2 {
                let c = y / 2;
                (
                    c,
                    if y.is_multiple_of(2) {
                        c.saturating_sub(1)
                    } else {
                        (c + 1).min(ch - 1)
                    },
                )
            } else {
                (y, y)
            };
            // Rows outside the band only occur at the frame border, where libjpeg replicates.
            let band_row = |c: usize| (c.max(cy0) - cy0).min(band_rows - 1);
            let (rn, rf) = (band_row(near), band_row(far));
            for ci in 0..2 {
                let p = &planes[ci + 1].data;
                let (nr, fr) = (&p[rn * cs + (ca - cx0)..], &p[rf * cs + (ca - cx0)..]);
                for (k, s) in sums[ci].iter_mut().enumerate() {
                    *s = if v2 {
                        3 * nr[k] as i32 + fr[k] as i32
                    } else {
                        nr[k] as i32
                    };
                }
                color::upsample_row(&mut up[ci], x0, ca, cw, h2, v2, &sums[ci], &mut tmp);
            }
            let yrow = &yp[(y - ly) * ys + (x0 - lx)..(y - ly) * ys + (x0 - lx) + w];
            color::ycc_row_to_rgb(yrow, &up[0], &up[1], out);
        }
        Region {
            data,
            x0,
            y0,
            w,
            h,
            frame_size: (self.width, self.height),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    /// A textured test image with sharp edges and smooth gradients.
    fn test_image(w: usize, h: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let t = ((x as f32 * 0.21).sin() * 60.0 + (y as f32 * 0.13).cos() * 50.0) as i32;
                let edge = if (x / 9 + y / 7) % 2 == 0 { 40 } else { -40 };
                v.extend([
                    (128 + t + edge).clamp(0, 255) as u8,
                    (90 + t / 2 + x as i32 % 50) as u8,
                    (200 - t - edge / 2).clamp(0, 255) as u8,
                ]);
            }
        }
        v
    }

    fn encode(
        pixels: &[u8],
        w: usize,
        h: usize,
        sampling: SamplingFactor,
        restart: u16,
        color: ColorType,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 88);
        enc.set_sampling_factor(sampling);
        if restart > 0 {
            enc.set_restart_interval(restart);
        }
        enc.encode(pixels, w as u16, h as u16, color).unwrap();
        out
    }

    fn zune(bytes: &[u8]) -> Vec<u8> {
        use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
        let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
        zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), opts)
            .decode()
            .unwrap()
    }

    #[test]
    fn whole_frames_agree_with_zune_for_every_supported_layout() {
        let (w, h) = (75, 43); // not a multiple of any MCU size
        let px = test_image(w, h);
        for (sampling, restart) in [
            (SamplingFactor::R_4_4_4, 0),
            (SamplingFactor::R_4_2_2, 0),
            (SamplingFactor::R_4_2_0, 0),
            (SamplingFactor::R_4_2_0, 3),
        ] {
            let bytes = encode(&px, w, h, sampling, restart, ColorType::Rgb);
            let ours = decode_region(&bytes, 0, 0, w, h)
                .unwrap()
                .expect("supported");
            assert_eq!((ours.w, ours.h, ours.x0, ours.y0), (w, h, 0, 0));
            let theirs = zune(&bytes);
            let diff = ours
                .data
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (*a as i32 - *b as i32).abs())
                .max()
                .unwrap();
            let mean = ours
                .data
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (*a as i32 - *b as i32).abs())
                .sum::<i32>() as f64
                / theirs.len() as f64;
            // Two correct decoders differ by IDCT/upsampling rounding only.
            assert!(
                diff <= 6 && mean < 0.6,
                "{sampling:?} restart {restart}: max {diff}, mean {mean}"
            );
        }
        let gray: Vec<u8> = px.chunks_exact(3).map(|p| p[1]).collect();
        let bytes = encode(&gray, w, h, SamplingFactor::R_4_4_4, 0, ColorType::Luma);
        let ours = decode_region(&bytes, 0, 0, w, h)
            .unwrap()
            .expect("supported");
        let theirs = zune(&bytes);
        let diff = ours
            .data
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(diff <= 2, "grey: {diff}");
    }

    #[test]
    fn regions_equal_the_same_pixels_of_the_whole_frame() {
        let (w, h) = (203, 117);
        let px = test_image(w, h);
        for sampling in [
            SamplingFactor::R_4_4_4,
            SamplingFactor::R_4_2_2,
            SamplingFactor::R_4_2_0,
        ] {
            let bytes = encode(&px, w, h, sampling, 0, ColorType::Rgb);
            let full = decode_region(&bytes, 0, 0, w, h).unwrap().unwrap();
            for (x0, y0, rw, rh) in [
                (0, 0, 10, 10),
                (37, 21, 50, 33),
                (150, 90, 80, 60),
                (1, 1, 201, 115),
                (101, 0, 1, 117),
            ] {
                let r = decode_region(&bytes, x0, y0, rw, rh).unwrap().unwrap();
                assert!(
                    r.x0 <= x0
                        && r.y0 <= y0
                        && r.x0 + r.w >= (x0 + rw).min(w)
                        && r.y0 + r.h >= (y0 + rh).min(h)
                );
                for y in r.y0..r.y0 + r.h {
                    let a = &r.data[(y - r.y0) * r.w * 3..(y - r.y0 + 1) * r.w * 3];
                    let b = &full.data[(y * w + r.x0) * 3..(y * w + r.x0 + r.w) * 3];
                    assert_eq!(a, b, "{sampling:?} region ({x0},{y0},{rw},{rh}) row {y}");
                }
            }
        }
    }

    /// A greyscale 128×128 frame without entropy data, whose Huffman tables make the zero
    /// padding decode as the largest negative DC difference in every block, with quantiser 255:
    /// the DC value leaves the 16-bit range after a few blocks and `pred * quant` overflows
    /// `i32` (a panic with overflow checks) unless the coefficient is truncated as libjpeg does.
    #[test]
    fn runaway_dc_values_wrap_instead_of_overflowing() {
        let segment = |marker: u8, body: &[u8]| {
            let mut s = vec![0xFF, marker];
            s.extend((body.len() as u16 + 2).to_be_bytes());
            s.extend(body);
            s
        };
        let mut counts_of_one_code = [0u8; 16];
        counts_of_one_code[0] = 1; // a single 1-bit code, `0`
        let mut dht_dc = vec![0x00];
        dht_dc.extend(counts_of_one_code);
        dht_dc.push(16); // DC category 16: 16 zero bits = -65535
        let mut dht_ac = vec![0x10];
        dht_ac.extend(counts_of_one_code);
        dht_ac.push(0x00); // end of block
        let mut dqt = vec![0x00];
        dqt.extend([255u8; 64]);
        let mut bytes = vec![0xFF, 0xD8];
        bytes.extend(segment(0xDB, &dqt));
        bytes.extend(segment(0xC0, &[8, 0, 128, 0, 128, 1, 1, 0x11, 0]));
        bytes.extend(segment(0xC4, &dht_dc));
        bytes.extend(segment(0xC4, &dht_ac));
        bytes.extend(segment(0xDA, &[1, 1, 0x00, 0, 63, 0]));
        bytes.extend([0xFF, 0xD9]);
        let r = decode_region(&bytes, 0, 0, 128, 128).unwrap().unwrap();
        assert_eq!((r.w, r.h, r.frame_size), (128, 128, (128, 128)));
    }

    #[test]
    fn unsupported_layouts_fall_back_and_garbage_is_an_error() {
        let (w, h) = (40, 24);
        let px = test_image(w, h);
        let progressive = {
            let mut out = Vec::new();
            let mut enc = Encoder::new(&mut out, 80);
            enc.set_progressive(true);
            enc.encode(&px, w as u16, h as u16, ColorType::Rgb).unwrap();
            out
        };
        assert!(decode_region(&progressive, 0, 0, w, h).unwrap().is_none());
        let s440 = encode(&px, w, h, SamplingFactor::R_4_4_0, 0, ColorType::Rgb);
        assert!(decode_region(&s440, 0, 0, w, h).unwrap().is_none());
        let good = encode(&px, w, h, SamplingFactor::R_4_2_0, 0, ColorType::Rgb);
        // Truncated entropy data decodes (padded with zeros, the doctor flags the missing
        // end-of-image marker); a truncated header is an error.
        let _ = decode_region(&good[..good.len() * 2 / 3], 0, 0, w, h);
        assert!(decode_region(&good[..40], 0, 0, w, h).is_err());
        let mut bad = good.clone();
        let n = bad.len();
        for b in &mut bad[n / 2..n - 2] {
            *b = 0x5A;
        }
        let _ = decode_region(&bad, 0, 0, w, h); // any result but a panic
        assert!(decode_region(b"\xFF\xD8\xFF", 0, 0, 1, 1).is_err());
    }
}
