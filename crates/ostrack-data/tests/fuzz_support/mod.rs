//! A small deterministic mutation fuzzer for stable Rust: a fixed-seed PRNG, byte-level
//! mutations aimed at the length and size fields of big-endian formats (JPEG, PNG), a runner
//! that catches panics per case and reports each failing case with the mutations that made it,
//! and an allocator that refuses huge allocations so an unbounded one fails loudly.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Any single allocation above this is refused (the allocator returns null, which aborts the
/// test process with "memory allocation failed"): no decoder may size a buffer from a corrupt
/// header without checking it. Frames within the limits need at most 512 MiB (the `image`
/// decoder's bound for a 2^26-pixel 16-bit RGBA frame).
pub const MAX_ALLOCATION: usize = 512 << 20;

/// The case being run, printed when an allocation is refused (the abort that follows gives no
/// other hint). Tests of one binary run in parallel, so this names one of the running cases.
static CURRENT_CASE: AtomicUsize = AtomicUsize::new(usize::MAX);

pub struct CappedAllocator;

fn refuse(size: usize) -> *mut u8 {
    // Formatting integers into stderr does not allocate.
    let case = CURRENT_CASE.load(Ordering::Relaxed);
    eprintln!("fuzz: refused an allocation of {size} bytes (case {case})");
    std::ptr::null_mut()
}

// SAFETY: forwards to the system allocator, or returns null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return refuse(layout.size());
        }
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return refuse(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return refuse(new_size);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// SplitMix64: tiny, fast and good enough to pick mutations reproducibly.
pub struct Rng(u64);

impl Rng {
    /// The generator of one case: every case can be rerun on its own from its index.
    pub fn for_case(stream: u64, case: usize) -> Self {
        let mut r = Rng(stream ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Values written over length and size fields: the largest 16- and 32-bit values, 2^31 (the
/// first value that no longer fits an `i32`), 2^31 - 1, zero, and sizes at and just past the
/// frame limits (16384 per side, 8192 x 8192 in all) as 16-bit pairs.
const HUGE_VALUES: [u32; 7] = [
    0xFFFF,
    0xFFFF_FFFF,
    0x8000_0000,
    0x7FFF_FFFF,
    0,
    0x4000_4001,
    0x2000_2000,
];

/// One change to a seed file.
#[derive(Debug, Clone)]
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
    /// A copy of `len` bytes from `from` inserted at `at`.
    InsertCopy {
        at: usize,
        from: usize,
        len: usize,
    },
    /// The `len` bytes at `at` repeated `times` more times.
    Repeat {
        at: usize,
        len: usize,
        times: usize,
    },
    /// A big-endian `width`-byte field at `at` overwritten with `value` (truncated to width).
    HugeField {
        at: usize,
        width: usize,
        value: u32,
    },
}

impl Mutation {
    /// A random mutation of `data`. `landmarks` are the offsets where the format's segments
    /// (JPEG markers, PNG chunks) start: length and size fields follow them, and copying whole
    /// segments elsewhere makes duplicate headers and tables.
    pub fn pick(rng: &mut Rng, data: &[u8], landmarks: &[usize]) -> Mutation {
        let n = data.len().max(1);
        let near_landmark = |rng: &mut Rng, span: usize| {
            if landmarks.is_empty() || rng.chance(4) {
                rng.below(n)
            } else {
                landmarks[rng.below(landmarks.len())] + rng.below(span)
            }
        };
        match rng.below(8) {
            0 | 1 => Mutation::FlipBit {
                at: rng.below(n),
                bit: rng.below(8) as u8,
            },
            2 => Mutation::SetByte {
                at: near_landmark(rng, 12),
                value: [0, 0xFF, 0x7F, 0x80, rng.below(256) as u8][rng.below(5)],
            },
            3 => Mutation::Truncate { len: rng.below(n) },
            4 => Mutation::InsertCopy {
                at: near_landmark(rng, 1),
                from: near_landmark(rng, 1),
                len: 1 + rng.below(128),
            },
            5 => Mutation::Repeat {
                at: rng.below(n),
                len: 1 + rng.below(32),
                times: 1 + rng.below(8),
            },
            _ => Mutation::HugeField {
                at: near_landmark(rng, 10),
                width: if rng.chance(2) { 2 } else { 4 },
                value: HUGE_VALUES[rng.below(HUGE_VALUES.len())],
            },
        }
    }

    pub fn apply(&self, data: &mut Vec<u8>) {
        let n = data.len();
        match *self {
            Mutation::FlipBit { at, bit } if at < n => data[at] ^= 1 << bit,
            Mutation::SetByte { at, value } if at < n => data[at] = value,
            Mutation::Truncate { len } => data.truncate(len),
            Mutation::InsertCopy { at, from, len } if at <= n && from < n => {
                let chunk = data[from..(from + len).min(n)].to_vec();
                data.splice(at..at, chunk);
            }
            Mutation::Repeat { at, len, times } if at < n => {
                let chunk = data[at..(at + len).min(n)].repeat(times);
                data.splice(at..at, chunk);
            }
            Mutation::HugeField { at, width, value } => {
                let bytes = value.to_be_bytes();
                for (k, &b) in bytes[4 - width..].iter().enumerate() {
                    if let Some(d) = data.get_mut(at + k) {
                        *d = b;
                    }
                }
            }
            _ => {}
        }
    }
}

/// One fuzz case: the seed it started from and what was done to it.
pub struct Case {
    pub index: usize,
    pub seed: usize,
    pub mutations: Vec<Mutation>,
    pub bytes: Vec<u8>,
}

/// Case `index` of a run: a seed and one to three mutations of it.
pub fn make_case(
    stream: u64,
    index: usize,
    seeds: &[Vec<u8>],
    landmarks: &dyn Fn(&[u8]) -> Vec<usize>,
) -> Case {
    let mut rng = Rng::for_case(stream, index);
    let seed = rng.below(seeds.len());
    let mut bytes = seeds[seed].clone();
    let mut mutations = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let m = Mutation::pick(&mut rng, &bytes, &landmarks(&bytes));
        m.apply(&mut bytes);
        mutations.push(m);
    }
    Case {
        index,
        seed,
        mutations,
        bytes,
    }
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Summary {
    pub cases: usize,
    pub ok: usize,
    pub err: usize,
    pub slowest: Duration,
    pub slowest_case: usize,
    pub elapsed: Duration,
}

/// Runs `check` on every case; `check` returns how many results were `Ok` and `Err`, or a
/// description of a wrong result. Panics (caught per case) and wrong results are collected and
/// reported together, each with its case index, seed and mutations.
pub fn run(
    label: &str,
    cases: usize,
    make: impl Fn(usize) -> Case,
    check: impl Fn(&Case) -> Result<(usize, usize), String>,
) -> Summary {
    let start = Instant::now();
    let mut summary = Summary::default();
    let mut failures = String::new();
    let mut failed = 0;
    for index in 0..cases {
        let case = make(index);
        CURRENT_CASE.store(index, Ordering::Relaxed);
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&case)));
        let took = t.elapsed();
        if took > summary.slowest {
            (summary.slowest, summary.slowest_case) = (took, index);
        }
        let problem = match outcome {
            Ok(Ok((ok, err))) => {
                summary.ok += ok;
                summary.err += err;
                None
            }
            Ok(Err(wrong)) => Some(wrong),
            Err(payload) => Some(format!("panic: {}", panic_message(&*payload))),
        };
        if let Some(p) = problem {
            failed += 1;
            if failed <= 20 {
                let _ = writeln!(
                    failures,
                    "{label} case {index} (seed {}, mutations {:?}): {p}",
                    case.seed, case.mutations
                );
            }
        }
    }
    CURRENT_CASE.store(usize::MAX, Ordering::Relaxed);
    summary.cases = cases;
    summary.elapsed = start.elapsed();
    eprintln!("{label}: {summary:?}");
    assert!(
        failed == 0,
        "{failed} of {cases} {label} cases failed:\n{failures}"
    );
    summary
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".into()
    }
}
