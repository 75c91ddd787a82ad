//! Generic byte mutations: the changes that break binary and text readers alike (flipped bits,
//! cut files, copied and repeated runs, syntax tokens, huge length fields). A [`Mutator`] tunes
//! them to one format: its byte order, its syntax tokens and where its segments start.

use crate::rng::SplitMix64;

/// Byte order of a format's length and size fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Big,
    Little,
}

/// Values that break length, size and offset fields: the largest 16-, 31- and 32-bit values,
/// 2^31 (the first that no longer fits an `i32`), 2^32, 2^40, 2^62, `i64::MAX`, `u64::MAX` and
/// zero. A field narrower than 8 bytes gets the low bytes.
pub const HUGE_VALUES: [u64; 10] = [
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    u64::MAX,
    0,
];

/// Values written over single bytes besides random ones.
const EXTREME_BYTES: [u8; 4] = [0x00, 0xff, 0x7f, 0x80];

/// One change to a file, with everything needed to apply it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        value: u8,
    },
    Truncate {
        len: usize,
    },
    /// Copies `len` bytes from `from` and inserts them at `at` (duplicate headers, tables).
    InsertChunk {
        at: usize,
        from: usize,
        len: usize,
    },
    /// Repeats the `len` bytes at `from` `times` times in place (deep nesting, long runs).
    RepeatChunk {
        from: usize,
        len: usize,
        times: usize,
    },
    /// Inserts a token of the format's dictionary `times` times at `at`.
    InsertToken {
        at: usize,
        token: &'static [u8],
        times: usize,
    },
    /// Overwrites the `width`-byte field at `at` with the low bytes of `value`.
    HugeField {
        at: usize,
        width: usize,
        value: u64,
        endian: Endian,
    },
}

impl Mutation {
    /// Applies the mutation; positions past the end of `bytes` are clamped or skipped, so a
    /// mutation drawn for other bytes still applies.
    pub fn apply(&self, bytes: &mut Vec<u8>) {
        let n = bytes.len();
        match *self {
            Mutation::FlipBit { at, bit } if at < n => bytes[at] ^= 1 << (bit & 7),
            Mutation::SetByte { at, value } if at < n => bytes[at] = value,
            Mutation::Truncate { len } => bytes.truncate(len),
            Mutation::InsertChunk { at, from, len } if from < n => {
                let chunk = bytes[from..(from + len).min(n)].to_vec();
                bytes.splice(at.min(n)..at.min(n), chunk);
            }
            Mutation::RepeatChunk { from, len, times } if from < n => {
                let chunk = bytes[from..(from + len).min(n)].repeat(times.saturating_sub(1));
                bytes.splice(from..from, chunk);
            }
            Mutation::InsertToken { at, token, times } => {
                bytes.splice(at.min(n)..at.min(n), token.repeat(times));
            }
            Mutation::HugeField {
                at,
                width,
                value,
                endian,
            } => write_field(bytes, at, width, value, endian),
            _ => {}
        }
    }
}

/// Writes the low `width` bytes of `value` at `at`, as far as they fit.
fn write_field(bytes: &mut [u8], at: usize, width: usize, value: u64, endian: Endian) {
    let width = width.min(8);
    let field: Vec<u8> = match endian {
        Endian::Big => value.to_be_bytes()[8 - width..].to_vec(),
        Endian::Little => value.to_le_bytes()[..width].to_vec(),
    };
    for (k, b) in field.into_iter().enumerate() {
        if let Some(slot) = bytes.get_mut(at + k) {
            *slot = b;
        }
    }
}

/// Finds where a file's segments start (offsets into it).
pub type Landmarks = fn(&[u8]) -> Vec<usize>;

/// How one format is mutated. Build it from [`Mutator::new`] with struct update syntax:
/// `Mutator { dictionary: TOKENS, ..Mutator::new(Endian::Little) }`.
#[derive(Debug, Clone, Copy)]
pub struct Mutator {
    /// Byte order of the format's length fields.
    pub endian: Endian,
    /// Widths of the length fields overwritten with huge values; empty for text formats.
    pub widths: &'static [usize],
    /// Values written over length fields (besides "just past the end of the file").
    pub huge_values: &'static [u64],
    /// Syntax tokens of the format, as fuzzers' dictionaries hold them; one-byte tokens are
    /// also written over single bytes.
    pub dictionary: &'static [&'static [u8]],
    /// Offsets where the format's segments start (chunks, markers): length fields follow them,
    /// so most positions of byte and field mutations are drawn near one.
    pub landmarks: Option<Landmarks>,
    /// A case gets 1 to `max_mutations` mutations.
    pub max_mutations: usize,
    /// The most one repetition or token run may add (rarely drawn: deep nesting needs long
    /// runs of the same opcode, everything else is slower with them).
    pub max_growth: usize,
}

impl Mutator {
    /// Defaults: 2-, 4- and 8-byte fields, [`HUGE_VALUES`], no dictionary or landmarks, up to
    /// 4 mutations, runs of up to 256 KiB.
    pub const fn new(endian: Endian) -> Self {
        Self {
            endian,
            widths: &[2, 4, 8],
            huge_values: &HUGE_VALUES,
            dictionary: &[],
            landmarks: None,
            max_mutations: 4,
            max_growth: 256 << 10,
        }
    }

    /// 1 to `max_mutations` mutations of `seed`, each drawn for the bytes as the previous ones
    /// left them.
    pub fn mutate(&self, seed: &[u8], rng: &mut SplitMix64) -> (Vec<u8>, Vec<Mutation>) {
        let mut bytes = seed.to_vec();
        let count = 1 + rng.below(self.max_mutations);
        let mutations = (0..count)
            .map(|_| {
                let mutation = self.draw(rng, &bytes);
                mutation.apply(&mut bytes);
                mutation
            })
            .collect();
        (bytes, mutations)
    }

    /// One mutation of `bytes`.
    pub fn draw(&self, rng: &mut SplitMix64, bytes: &[u8]) -> Mutation {
        if bytes.is_empty() {
            return match self.dictionary {
                [] => Mutation::Truncate { len: 0 },
                _ => self.insert_token(rng, 0),
            };
        }
        let landmarks = self.landmarks.map(|find| find(bytes)).unwrap_or_default();
        let near = |rng: &mut SplitMix64, span: usize| near(rng, bytes.len(), &landmarks, span);
        // Length fields get two shares in eight: they are what readers size buffers from.
        match rng.below(8) {
            0 => Mutation::FlipBit {
                at: rng.below(bytes.len()),
                bit: rng.below(8) as u8,
            },
            1 => Mutation::SetByte {
                at: near(rng, 12),
                value: self.byte_value(rng),
            },
            2 => Mutation::Truncate {
                len: rng.below(bytes.len()),
            },
            3 => {
                let from = near(rng, 1);
                Mutation::InsertChunk {
                    at: near(rng, 1),
                    from,
                    len: 1 + rng.below((bytes.len() - from).min(128)),
                }
            }
            4 => self.repeat_chunk(rng, bytes.len()),
            5 if !self.dictionary.is_empty() => {
                let at = rng.below(bytes.len() + 1);
                self.insert_token(rng, at)
            }
            _ => {
                let at = near(rng, 10);
                self.huge_field(rng, bytes.len(), at)
            }
        }
    }

    fn byte_value(&self, rng: &mut SplitMix64) -> u8 {
        let one_byte: Vec<u8> = self
            .dictionary
            .iter()
            .filter_map(|t| (t.len() == 1).then_some(t[0]))
            .collect();
        match rng.below(3) {
            0 => rng.next_u64() as u8,
            1 if !one_byte.is_empty() => rng.pick(&one_byte),
            _ => rng.pick(&EXTREME_BYTES),
        }
    }

    fn repeat_chunk(&self, rng: &mut SplitMix64, len: usize) -> Mutation {
        let from = rng.below(len);
        let chunk = 1 + rng.below((len - from).min(32));
        let most = if rng.chance(8) {
            self.max_growth / chunk
        } else {
            64
        };
        Mutation::RepeatChunk {
            from,
            len: chunk,
            times: 2 + rng.below(most),
        }
    }

    /// A token of the (non-empty) dictionary, a few times or, rarely, a long run of it.
    fn insert_token(&self, rng: &mut SplitMix64, at: usize) -> Mutation {
        let token = rng.pick(self.dictionary);
        let times = if rng.chance(8) {
            1 + rng.below(self.max_growth / token.len().max(1))
        } else {
            1 + rng.below(4)
        };
        Mutation::InsertToken { at, token, times }
    }

    /// A huge value over a length field; for text formats (no widths), a token (or a flipped
    /// bit) there instead.
    fn huge_field(&self, rng: &mut SplitMix64, len: usize, at: usize) -> Mutation {
        if self.widths.is_empty() {
            return match self.dictionary {
                [] => Mutation::FlipBit {
                    at,
                    bit: rng.below(8) as u8,
                },
                _ => self.insert_token(rng, at),
            };
        }
        let width = rng.pick(self.widths);
        // A quarter of the values point just past the end: off-by-a-few offsets and lengths.
        let value = if rng.chance(4) || self.huge_values.is_empty() {
            (len + 1 + rng.below(64)) as u64
        } else {
            rng.pick(self.huge_values)
        };
        Mutation::HugeField {
            at: at.min(len.saturating_sub(width)),
            width,
            value,
            endian: self.endian,
        }
    }
}

/// A position in `0..len`: near a landmark (within `span` bytes after it) three times in four
/// where there are landmarks, anywhere otherwise.
fn near(rng: &mut SplitMix64, len: usize, landmarks: &[usize], span: usize) -> usize {
    if landmarks.is_empty() || rng.chance(4) {
        return rng.below(len);
    }
    (rng.pick(landmarks) + rng.below(span)).min(len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_in_the_format_byte_order() {
        let field = |endian, width| {
            let mut bytes = vec![0xaa; 6];
            Mutation::HugeField {
                at: 1,
                width,
                value: 0x0102_0304,
                endian,
            }
            .apply(&mut bytes);
            bytes
        };
        assert_eq!(field(Endian::Big, 4), [0xaa, 1, 2, 3, 4, 0xaa]);
        assert_eq!(field(Endian::Little, 4), [0xaa, 4, 3, 2, 1, 0xaa]);
        assert_eq!(field(Endian::Big, 2), [0xaa, 3, 4, 0xaa, 0xaa, 0xaa]);
        // A field running past the end is cut there.
        assert_eq!(field(Endian::Little, 8).len(), 6);
    }

    #[test]
    fn chunks_and_tokens_grow_the_file() {
        let (from, len, times, at, token) = (1, 2, 3, 0, b"[".as_slice());
        let steps = [
            (Mutation::RepeatChunk { from, len, times }, "abcbcbcdef"),
            (Mutation::InsertToken { at, token, times }, "[[[abcbcbcdef"),
            // Past the end: clamped to it.
            (
                Mutation::InsertChunk { at: 99, from, len },
                "[[[abcbcbcdef[[",
            ),
        ];
        let mut bytes = b"abcdef".to_vec();
        for (mutation, expected) in steps {
            mutation.apply(&mut bytes);
            assert_eq!(String::from_utf8_lossy(&bytes), expected, "{mutation:?}");
        }
    }

    #[test]
    fn mutations_are_reproducible_and_bounded() {
        let mutator = Mutator {
            dictionary: &[b"(", b"}}"],
            max_growth: 1 << 10,
            ..Mutator::new(Endian::Little)
        };
        let seed = vec![7u8; 300];
        for case in 0..2000 {
            let make = || mutator.mutate(&seed, &mut SplitMix64::for_case("test", case));
            let (bytes, mutations) = make();
            assert_eq!((bytes.clone(), mutations.clone()), make());
            assert!((1..=4).contains(&mutations.len()));
            // A mutation adds at most max_growth, or 65 repeats of a 32-byte chunk.
            assert!(
                bytes.len() <= seed.len() + 4 * ((1 << 10) + 65 * 32),
                "{mutations:?}"
            );
        }
    }

    #[test]
    fn text_formats_get_no_binary_fields() {
        let mutator = Mutator {
            widths: &[],
            ..Mutator::new(Endian::Big)
        };
        let mut rng = SplitMix64::new(3);
        for _ in 0..500 {
            let m = mutator.draw(&mut rng, b"key: value\n");
            assert!(!matches!(m, Mutation::HugeField { .. }), "{m:?}");
        }
    }
}
