//! Entropy decoding of baseline JPEG: the bit reader (byte stuffing, markers) and Huffman
//! tables with an 11-bit lookahead, including a combined run/value table for short AC codes
//! and a multi-symbol table for skipping blocks.

use std::cell::RefCell;
use std::rc::Rc;

/// Bits of lookahead (codes and short AC code+value pairs up to this length decode with one
/// table look-up).
const LOOKAHEAD: u32 = 11;

/// JPEG zig-zag order: natural index of the k-th coefficient.
pub(crate) const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Reads entropy-coded bits, removing stuffed zero bytes and stopping at markers.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
    /// A marker (or the end of the data) was reached; zeros are fed from then on.
    at_marker: bool,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            bits: 0,
            at_marker: false,
        }
    }

    #[inline]
    fn fill(&mut self) {
        // Fast path: eight bytes without any 0xFF (no stuffing, no marker) go in at once.
        if !self.at_marker
            && let Some(chunk) = self.data.get(self.pos..self.pos + 8)
        {
            let word = u64::from_be_bytes(chunk.try_into().unwrap_or([0; 8]));
            let no_ff =
                (!word).wrapping_sub(0x0101_0101_0101_0101) & word & 0x8080_8080_8080_8080 == 0;
            if no_ff {
                let take = (63 - self.bits) / 8;
                self.acc |= (word >> (64 - 8 * take)) << (64 - 8 * take - self.bits);
                self.bits += 8 * take;
                self.pos += take as usize;
                return;
            }
        }
        while self.bits <= 56 {
            let byte = if self.at_marker {
                0
            } else {
                match self.data.get(self.pos) {
                    None => {
                        self.at_marker = true;
                        0
                    }
                    Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0) => {
                        self.pos += 2;
                        0xFF
                    }
                    Some(&0xFF) => {
                        self.at_marker = true;
                        0
                    }
                    Some(&b) => {
                        self.pos += 1;
                        b
                    }
                }
            };
            self.acc |= (byte as u64) << (56 - self.bits);
            self.bits += 8;
        }
    }

    #[inline]
    fn peek(&mut self, n: u32) -> u32 {
        if self.bits < n {
            self.fill();
        }
        (self.acc >> (64 - n)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.bits -= n;
    }

    #[inline]
    fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.peek(s);
        self.consume(s);
        extend(v, s)
    }

    /// Moves to the next restart marker (`RSTn`), dropping the remaining bits.
    pub fn restart(&mut self) -> Result<(), String> {
        self.acc = 0;
        self.bits = 0;
        self.at_marker = false;
        while self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
            (Some(0xFF), Some(m)) if (0xD0..=0xD7).contains(m) => {
                self.pos += 2;
                Ok(())
            }
            _ => Err(format!("expected a restart marker at byte {}", self.pos)),
        }
    }
}

/// Sign extension of an `s`-bit magnitude category value.
#[inline]
fn extend(v: u32, s: u32) -> i32 {
    if v < (1 << (s - 1)) {
        v as i32 - (1i32 << s) + 1
    } else {
        v as i32
    }
}

/// Bits of lookahead of the multi-symbol skipping table (8 KiB per AC table at 12).
const SKIP_LOOKAHEAD: u32 = 12;

/// Tables built recently on this thread, keyed by class and the DHT bytes that define them.
/// Frames from one camera or encoder share their tables, and building the lookup tables costs
/// more than decoding a small region, so rebuilding them for every frame is wasted work.
const TABLE_CACHE_SIZE: usize = 8;

/// A cached table: whether it is an AC table, its `BITS` counts followed by `HUFFVAL`, and
/// the table.
type CachedTable = (bool, Vec<u8>, Rc<HuffmanTable>);

thread_local! {
    static TABLE_CACHE: RefCell<Vec<CachedTable>> = const { RefCell::new(Vec::new()) };
}

/// A decoding table for one Huffman code.
pub(crate) struct HuffmanTable {
    /// `(length << 8) | symbol` for codes of at most `LOOKAHEAD` bits, 0 otherwise.
    fast: [u16; 1 << LOOKAHEAD],
    /// For AC tables: `(value << 16) | (run << 8) | total_bits` when a code and its value bits
    /// fit the lookahead together, 0 otherwise.
    fast_ac: Vec<i32>,
    /// For AC tables: what skipping the next lookahead bits amounts to, as many whole
    /// (code, value) pairs as fit: `eob << 15 | coefficient_advance << 8 | total_bits`, where
    /// `eob` says the last pair is an end-of-block code (not counted in the advance); 0 when
    /// not even one pair fits.
    skip_ac: Vec<u16>,
    maxcode: [i32; 18],
    valoffset: [i32; 17],
    values: Vec<u8>,
}

impl HuffmanTable {
    /// [`HuffmanTable::new`], reusing an identical table built earlier on this thread.
    pub fn cached(counts: &[u8; 16], values: &[u8], is_ac: bool) -> Result<Rc<Self>, String> {
        let same = |(ac, key, _): &CachedTable| {
            *ac == is_ac
                && key.len() == 16 + values.len()
                && key[..16] == counts[..]
                && key[16..] == *values
        };
        let hit = TABLE_CACHE.with_borrow(|c| c.iter().find(|e| same(e)).map(|e| e.2.clone()));
        if let Some(t) = hit {
            return Ok(t);
        }
        let table = Rc::new(Self::new(counts, values, is_ac)?);
        TABLE_CACHE.with_borrow_mut(|c| {
            if c.len() == TABLE_CACHE_SIZE {
                c.remove(0);
            }
            c.push((is_ac, [&counts[..], values].concat(), table.clone()));
        });
        Ok(table)
    }

    /// Builds the table from the `BITS` counts (codes of length 1..=16) and `HUFFVAL`.
    pub fn new(counts: &[u8; 16], values: &[u8], is_ac: bool) -> Result<Self, String> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total != values.len() || total > 256 {
            return Err("inconsistent Huffman table".into());
        }
        let mut fast = [0u16; 1 << LOOKAHEAD];
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = counts[len as usize - 1] as usize;
            valoffset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= (1 << len) {
                    return Err("Huffman table has too many codes".into());
                }
                if len <= LOOKAHEAD {
                    let shift = LOOKAHEAD - len;
                    for e in (code << shift)..((code + 1) << shift) {
                        fast[e as usize] = ((len as u16) << 8) | values[k] as u16;
                    }
                }
                code += 1;
                k += 1;
            }
            maxcode[len as usize] = if n > 0 { code as i32 - 1 } else { -1 };
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let mut fast_ac = Vec::new();
        if is_ac {
            fast_ac = vec![0i32; 1 << LOOKAHEAD];
            for (i, entry) in fast_ac.iter_mut().enumerate() {
                let f = fast[i];
                if f == 0 {
                    continue;
                }
                let (len, rs) = ((f >> 8) as u32, (f & 0xFF) as u32);
                let (run, s) = (rs >> 4, rs & 15);
                if s != 0 && len + s <= LOOKAHEAD {
                    let bits = ((i as u32) >> (LOOKAHEAD - len - s)) & ((1 << s) - 1);
                    let v = extend(bits, s);
                    *entry = (v << 16) | ((run as i32) << 8) | (len + s) as i32;
                }
            }
        }
        let skip_ac = if is_ac {
            (0..1u32 << SKIP_LOOKAHEAD)
                .map(|i| skip_entry(&maxcode, &valoffset, values, i))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            fast,
            fast_ac,
            skip_ac,
            maxcode,
            valoffset,
            values: values.to_vec(),
        })
    }

    /// Decodes one symbol.
    #[inline(always)]
    fn decode(&self, r: &mut BitReader<'_>) -> Result<u32, String> {
        let look = r.peek(LOOKAHEAD);
        let f = self.fast[look as usize];
        if f != 0 {
            r.consume((f >> 8) as u32);
            return Ok((f & 0xFF) as u32);
        }
        let code16 = r.peek(16) as i32;
        for len in (LOOKAHEAD + 1)..=16 {
            let code = code16 >> (16 - len);
            if code <= self.maxcode[len as usize] {
                r.consume(len);
                let idx = (self.valoffset[len as usize] + code) as usize;
                return self
                    .values
                    .get(idx)
                    .map(|&v| v as u32)
                    .ok_or_else(|| "corrupt Huffman code".to_string());
            }
        }
        Err("corrupt Huffman code".into())
    }
}

/// The symbol whose code starts `pos` bits into the `SKIP_LOOKAHEAD` bits of `bits`, with its
/// code length, if the whole code lies within those bits.
fn symbol_at(
    maxcode: &[i32; 18],
    valoffset: &[i32; 17],
    values: &[u8],
    bits: u32,
    pos: u32,
) -> Option<(u32, u8)> {
    for len in 1..=(SKIP_LOOKAHEAD - pos).min(16) {
        let code = ((bits >> (SKIP_LOOKAHEAD - pos - len)) & ((1 << len) - 1)) as i32;
        if code <= maxcode[len as usize] {
            let idx = (valoffset[len as usize] + code) as usize;
            return values.get(idx).map(|&v| (len, v));
        }
    }
    None
}

/// The [`HuffmanTable::skip_ac`] entry of the lookahead bits `bits`.
fn skip_entry(maxcode: &[i32; 18], valoffset: &[i32; 17], values: &[u8], bits: u32) -> u16 {
    let (mut pos, mut advance, mut eob) = (0u32, 0u32, false);
    while let Some((len, rs)) = symbol_at(maxcode, valoffset, values, bits, pos) {
        let (run, s) = ((rs >> 4) as u32, (rs & 15) as u32);
        if s == 0 && run != 15 {
            pos += len;
            eob = true;
            break;
        }
        let step = if s == 0 { 16 } else { run + 1 };
        if pos + len + s > SKIP_LOOKAHEAD || advance + step > 64 {
            break;
        }
        pos += len + s;
        advance += step;
    }
    if pos == 0 {
        return 0;
    }
    ((eob as u16) << 15) | ((advance as u16) << 8) | pos as u16
}

/// Decodes one 8×8 block into `coefs` (natural order, dequantised), updating the DC predictor.
/// `coefs` must be all zero on entry (see [`clear_block`]). Returns the number of coefficients
/// up to the last non-zero one in zig-zag order (1 = DC only).
#[inline]
pub(crate) fn decode_block(
    r: &mut BitReader<'_>,
    dc: &HuffmanTable,
    ac: &HuffmanTable,
    quant: &[i32; 64],
    pred: &mut i32,
    coefs: &mut [i32; 64],
) -> Result<usize, String> {
    let s = dc.decode(r)?;
    if s > 16 {
        return Err("corrupt DC coefficient".into());
    }
    *pred = pred.wrapping_add(r.receive_extend(s));
    // libjpeg keeps coefficients as 16-bit `JCOEF`s; only corrupt files reach beyond that, and
    // the truncation keeps the dequantised value within `i32`.
    coefs[0] = (*pred as i16 as i32) * quant[0];
    let mut last = 1;
    let mut k = 1usize;
    while k < 64 {
        let look = r.peek(LOOKAHEAD);
        let fa = ac.fast_ac[look as usize];
        if fa != 0 {
            k += ((fa >> 8) & 0xFF) as usize;
            r.consume((fa & 0xFF) as u32);
            if k > 63 {
                return Err("corrupt AC run".into());
            }
            coefs[ZIGZAG[k]] = (fa >> 16) * quant[k];
            k += 1;
            last = k;
            continue;
        }
        let rs = ac.decode(r)?;
        let (run, s) = ((rs >> 4) as usize, rs & 15);
        if s == 0 {
            if run != 15 {
                break; // end of block
            }
            k += 16;
            continue;
        }
        k += run;
        if k > 63 {
            return Err("corrupt AC run".into());
        }
        coefs[ZIGZAG[k]] = r.receive_extend(s) * quant[k];
        k += 1;
        last = k;
    }
    Ok(last)
}

/// Zeroes the coefficients [`decode_block`] may have set (cheaper than clearing all 64).
#[inline]
pub(crate) fn clear_block(coefs: &mut [i32; 64], nonzero: usize) {
    for &z in &ZIGZAG[..nonzero.min(64)] {
        coefs[z] = 0;
    }
}

/// Like [`decode_block`] but only keeps the bit position and the DC predictor right.
#[inline]
pub(crate) fn skip_block(
    r: &mut BitReader<'_>,
    dc: &HuffmanTable,
    ac: &HuffmanTable,
    pred: &mut i32,
) -> Result<(), String> {
    let s = dc.decode(r)?;
    if s > 16 {
        return Err("corrupt DC coefficient".into());
    }
    *pred = pred.wrapping_add(r.receive_extend(s));
    let mut k = 1usize;
    while k < 64 {
        let look = r.peek(SKIP_LOOKAHEAD);
        let e = ac.skip_ac[look as usize];
        if e != 0 {
            // Several (code, value) pairs at once, as long as they stay inside the block: the
            // block ends without an end-of-block code once coefficient 63 is reached.
            let advance = ((e >> 8) & 0x7F) as usize;
            let eob = e & 0x8000 != 0;
            if (eob && k + advance < 64) || (!eob && k + advance <= 64) {
                r.consume((e & 0xFF) as u32);
                k += advance;
                if eob {
                    break;
                }
                continue;
            }
        }
        let rs = ac.decode(r)?;
        let (run, s) = ((rs >> 4) as usize, rs & 15);
        if s == 0 {
            if run != 15 {
                break;
            }
            k += 16;
            continue;
        }
        k += run + 1;
        if s > 0 {
            r.peek(s);
            r.consume(s);
        }
    }
    if k > 64 {
        return Err("corrupt AC run".into());
    }
    Ok(())
}
