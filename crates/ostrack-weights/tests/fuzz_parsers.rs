//! Deterministic mutation fuzzing of every weight-file reader, on stable Rust.
//!
//! Seed files come from the crate's own writers (plus a hand-written training-checkpoint
//! pickle that uses the memo, objects, `BUILD` and nested containers). Each case applies 1 to 4
//! mutations drawn from a SplitMix64 seeded by (format, case index), writes the result and runs
//! every reader on it. A case passes when each reader returns `Ok` or an error naming the file;
//! a panic is caught and reported with the case index and its mutations. The global allocator
//! below refuses any single allocation over [`MAX_ALLOCATION`], so a size taken from the file
//! without a bound fails loudly (the case is named, then the process aborts) instead of
//! passing on a machine with memory to spare.
//!
//! * Rerun one case (any index, also one of the long run): `OSTRACK_FUZZ_CASE=pickle:1234
//!   cargo test --release -p ostrack-weights --test fuzz_parsers`.
//! * Find a case that aborts (stack overflow): `OSTRACK_FUZZ_TRACE=1` prints each case first.
//! * The long run (100× the cases): `cargo test --release -p ostrack-weights --test
//!   fuzz_parsers -- --ignored`; `OSTRACK_FUZZ_CASES=<n>` sets the cases per format (the
//!   long run does 100 × n).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use ostrack_weights::{
    Burnpack, DType, HostTensor, STATE_DICT_KEYS, StateDict, TensorValues, TrackerGeometry,
    WeightsError, describe, load_state_dict_any, mae_to_ostrack_backbone, read_burnpack,
    read_burnpack_metadata, read_safetensors, read_torch_file, write_burnpack, write_safetensors,
    write_torch_state_dict,
};
use zip::write::{SimpleFileOptions, ZipWriter};

/// Cases per format in the default run (the `--ignored` run does 100× as many).
const DEFAULT_CASES: u64 = 3000;

// ---------------------------------------------------------------------------------------------
// Allocation cap

/// No reader needs a single allocation this large for the seeds' few-kilobyte files.
const MAX_ALLOCATION: usize = 512 << 20;

struct CappedAllocator;

thread_local! {
    /// (format, case) this thread is running, for the allocator's report.
    static CURRENT_CASE: Cell<Option<(usize, u64)>> = const { Cell::new(None) };
    /// Allocations refused on this thread (fallible ones return an error instead of aborting,
    /// so they are counted and fail the case).
    static REFUSED: Cell<usize> = const { Cell::new(0) };
}

impl CappedAllocator {
    /// Names the case on stderr (without allocating) before the allocation is refused.
    fn refuse(size: usize) -> *mut u8 {
        let _ = REFUSED.try_with(|r| r.set(r.get() + 1));
        let case = CURRENT_CASE.try_with(Cell::get).ok().flatten();
        if let Some((format, case)) = case {
            let _ = std::io::stderr().write_fmt(format_args!(
                "fuzz: refused an allocation of {size} bytes in {} case {case} \
                 (rerun with OSTRACK_FUZZ_CASE={}:{case})\n",
                FORMATS[format].name, FORMATS[format].name
            ));
        }
        std::ptr::null_mut()
    }
}

// SAFETY: every call is forwarded unchanged to `System`, or refused by returning null, which
// the `GlobalAlloc` contract allows.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return Self::refuse(layout.size());
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return Self::refuse(layout.size());
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return Self::refuse(new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

// ---------------------------------------------------------------------------------------------
// Random numbers and mutations

/// SplitMix64 (Steele, Lea & Flood): tiny, fast, and good enough to pick mutations.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Values that break length and offset fields: around 2^31, 2^32, 2^62 and 2^64.
const HUGE_VALUES: [u64; 8] = [
    0xffff_ffff,
    0x7fff_ffff,
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    u64::MAX,
];

/// Bytes worth writing besides random ones: extremes and pickle opcodes that build containers,
/// use the memo or call things.
const INTERESTING_BYTES: [u8; 24] = [
    0x00, 0xff, 0x7f, 0x80, b'(', b')', b']', b'}', b'a', b'e', b's', b'u', b't', b'l', b'd', b'h',
    b'j', b'q', b'r', b'0', b'2', b'b', b'R', 0x85,
];

#[derive(Debug, Clone)]
enum Mutation {
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
    /// Copies `len` bytes from `from` and inserts them at `at`.
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
    /// Overwrites a `width`-byte little-endian field at `at` with `value`.
    HugeLength {
        at: usize,
        width: usize,
        value: u64,
    },
    /// Inserts a token of the format's dictionary `times` times at `at` (a few times, or up
    /// to hundreds of thousands: deep nesting needs long runs of the same opcode).
    InsertToken {
        at: usize,
        token: &'static [u8],
        times: usize,
    },
    /// Cuts or pads one storage entry of a pickle case to `len` bytes.
    ResizeStorage {
        index: usize,
        len: usize,
    },
}

/// Mutations never grow a case by more than this.
const MAX_GROWTH: usize = 256 << 10;

impl Mutation {
    fn draw(rng: &mut SplitMix64, len: usize, dictionary: &[&'static [u8]]) -> Mutation {
        if len == 0 {
            return Mutation::InsertChunk {
                at: 0,
                from: 0,
                len: 0,
            };
        }
        match rng.below(7) {
            0 => Mutation::FlipBit {
                at: rng.below(len),
                bit: rng.below(8) as u8,
            },
            1 => Mutation::SetByte {
                at: rng.below(len),
                value: if rng.below(2) == 0 {
                    rng.next() as u8
                } else {
                    rng.pick(&INTERESTING_BYTES)
                },
            },
            2 => Mutation::Truncate {
                len: rng.below(len),
            },
            3 => {
                let from = rng.below(len);
                Mutation::InsertChunk {
                    at: rng.below(len + 1),
                    from,
                    len: 1 + rng.below((len - from).min(32)),
                }
            }
            4 => {
                let from = rng.below(len);
                let most = if rng.below(8) == 0 {
                    MAX_GROWTH / 16
                } else {
                    64
                };
                Mutation::RepeatChunk {
                    from,
                    len: 1 + rng.below((len - from).min(16)),
                    times: 2 + rng.below(most),
                }
            }
            5 => {
                let token = rng.pick(dictionary);
                let times = if rng.below(8) == 0 {
                    1 + rng.below(MAX_GROWTH / token.len())
                } else {
                    1 + rng.below(4)
                };
                Mutation::InsertToken {
                    at: rng.below(len + 1),
                    token,
                    times,
                }
            }
            _ => {
                let width = if len >= 8 && rng.below(2) == 0 { 8 } else { 4 };
                if len < width {
                    return Mutation::Truncate { len: 0 };
                }
                let value = if rng.below(4) == 0 {
                    len as u64 + 1 + rng.below(64) as u64
                } else {
                    rng.pick(&HUGE_VALUES)
                };
                Mutation::HugeLength {
                    at: rng.below(len - width + 1),
                    width,
                    value,
                }
            }
        }
    }

    /// Applies the mutation to the file's `bytes`, or to the `storages` a pickle is zipped with.
    fn apply(&self, bytes: &mut Vec<u8>, storages: &mut [Vec<u8>]) {
        match *self {
            Mutation::FlipBit { at, bit } => bytes[at] ^= 1 << bit,
            Mutation::SetByte { at, value } => bytes[at] = value,
            Mutation::Truncate { len } => bytes.truncate(len),
            Mutation::InsertChunk { at, from, len } => {
                let chunk = bytes[from..from + len].to_vec();
                bytes.splice(at..at, chunk);
            }
            Mutation::RepeatChunk { from, len, times } => {
                let chunk = bytes[from..from + len].repeat(times - 1);
                bytes.splice(from..from, chunk);
            }
            Mutation::HugeLength { at, width, value } => {
                bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            Mutation::InsertToken { at, token, times } => {
                bytes.splice(at..at, token.repeat(times));
            }
            Mutation::ResizeStorage { index, len } => storages[index].resize(len, 0x3c),
        }
    }
}

/// 1 to 4 mutations of `seed`, each drawn for the bytes as the previous ones left them.
fn mutate(
    seed: &[u8],
    dictionary: &[&'static [u8]],
    rng: &mut SplitMix64,
) -> (Vec<u8>, Vec<Mutation>) {
    let mut bytes = seed.to_vec();
    let mut applied = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let mutation = Mutation::draw(rng, bytes.len(), dictionary);
        mutation.apply(&mut bytes, &mut []);
        applied.push(mutation);
    }
    (bytes, applied)
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// A tiny MAE-style encoder state dict in every dtype the readers decode, so that intact
/// cases also reach the MAE mapping.
fn seed_state() -> StateDict {
    let floats = |n: usize| (0..n).map(|i| i as f32 * 0.25 - 1.0).collect::<Vec<_>>();
    let mut sd = StateDict::new();
    sd.insert("cls_token", HostTensor::f32(vec![1, 1, 4], floats(4)));
    sd.insert("pos_embed", HostTensor::f32(vec![1, 5, 4], floats(20)));
    let mut typed = |key: &str, dtype: DType, shape: Vec<usize>| {
        let n = shape.iter().product();
        let values = if dtype.is_float() {
            TensorValues::F32(floats(n))
        } else {
            TensorValues::I64((0..n as i64).collect())
        };
        sd.insert(
            key,
            HostTensor {
                shape,
                dtype,
                values,
            },
        );
    };
    typed("patch_embed.proj.weight", DType::F16, vec![4, 3, 2, 2]);
    typed("blocks.0.norm1.weight", DType::BF16, vec![4]);
    typed("blocks.0.norm1.bias", DType::F64, vec![4]);
    typed("blocks.0.steps", DType::I64, vec![]);
    typed("blocks.0.index", DType::I32, vec![2, 2]);
    typed("norm.mask", DType::U8, vec![3]);
    sd
}

const GEOMETRY: TrackerGeometry = TrackerGeometry {
    template_size: 4,
    search_size: 8,
    patch_size: 2,
};

fn written_by(write: impl FnOnce(&Path), name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    write(&path);
    std::fs::read(&path).unwrap()
}

/// The entries of a zip archive, in order.
fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().unwrap().into_owned(), data)
        })
        .collect()
}

fn rezip(bytes: &[u8], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, data) in zip_entries(bytes) {
        zip.start_file(name, options).unwrap();
        zip.write_all(&data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A protocol-2 training checkpoint as the official trainer pickles one (sizes written as
/// 4- and 8-byte integers, which length mutations can turn huge), with the model
/// under `net` (tensors on the storages `data/<i>` of the torch seed), an optimizer state,
/// trainer objects, and memo references: shared globals, a dict referenced twice, a tuple.
fn checkpoint_pickle(state: &StateDict) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'q', 0, b'('];
    key(&mut p, "epoch");
    p.extend([b'K', 3]);
    key(&mut p, "net");
    p.extend(b"ccollections\nOrderedDict\nq\x01)Rq\x02(");
    for (i, (name, t)) in state.iter().enumerate() {
        key(&mut p, name);
        if i == 0 {
            p.extend(b"ctorch._utils\n_rebuild_tensor_v2\nq\x03");
        } else {
            p.extend(b"h\x03");
        }
        p.extend(b"((");
        key(&mut p, "storage");
        p.extend(format!("ctorch\n{}\n", storage_class(t.dtype)).as_bytes());
        key(&mut p, &i.to_string());
        key(&mut p, "cpu");
        p.extend(b"J");
        p.extend((t.numel() as u32).to_le_bytes());
        p.extend(b"tQ");
        long8(&mut p, 0); // storage offset
        let mut stride = vec![1; t.shape.len()];
        for d in (0..t.shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * t.shape[d + 1];
        }
        p.push(b'(');
        for &d in &t.shape {
            p.push(b'J');
            p.extend((d as u32).to_le_bytes());
        }
        p.push(b't');
        p.push(b'(');
        stride.iter().for_each(|&d| long8(&mut p, d as u64));
        p.push(b't');
        p.extend(b"\x89h\x01)RtR");
    }
    p.push(b'u');
    key(&mut p, "optimizer");
    p.extend(b"}(");
    key(&mut p, "state");
    p.extend(b"}K\x00}(");
    key(&mut p, "step");
    p.extend(b"K\x05us");
    key(&mut p, "param_groups");
    p.extend(b"](}(");
    key(&mut p, "lr");
    p.extend(b"G?\xb9\x99\x99\x99\x99\x99\x9a");
    key(&mut p, "params");
    p.extend(b"](K\x00K\x01eueu");
    key(&mut p, "stats");
    p.extend(b"clib.train.admin.stats\nAverageMeter\n)\x81}(");
    key(&mut p, "avg");
    p.extend(b"G?\xf8\x00\x00\x00\x00\x00\x00");
    key(&mut p, "count");
    p.extend(b"K\x02ub");
    key(&mut p, "settings");
    p.extend(b"cargparse\nNamespace\n)R}(");
    key(&mut p, "x");
    p.extend(b"Nub");
    key(&mut p, "nested");
    p.extend(b"]]]]]aaaa");
    key(&mut p, "shared_net");
    p.extend(b"h\x02");
    key(&mut p, "pair");
    p.extend(b"K\x01K\x02\x86u.");
    p
}

/// LONG1 with 8 bytes, so that 8-byte "huge length" mutations can hit the whole value.
fn long8(p: &mut Vec<u8>, v: u64) {
    p.extend([0x8a, 8]);
    p.extend(v.to_le_bytes());
}

fn key(p: &mut Vec<u8>, s: &str) {
    p.push(b'X');
    p.extend((s.len() as u32).to_le_bytes());
    p.extend(s.as_bytes());
}

fn storage_class(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "FloatStorage",
        DType::F64 => "DoubleStorage",
        DType::F16 => "HalfStorage",
        DType::BF16 => "BFloat16Storage",
        DType::I64 => "LongStorage",
        DType::I32 => "IntStorage",
        DType::U8 => "ByteStorage",
        DType::Bool => "BoolStorage",
    }
}

/// A torch zip (stored entries, like `torch.save`) of `pickle` plus `storages`.
fn torch_zip(pickle: &[u8], storages: &[Vec<u8>]) -> Vec<u8> {
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut add = |name: String, bytes: &[u8]| {
        zip.start_file(name, options).unwrap();
        zip.write_all(bytes).unwrap();
    };
    add("case/data.pkl".into(), pickle);
    add("case/byteorder".into(), b"little");
    for (i, storage) in storages.iter().enumerate() {
        add(format!("case/data/{i}"), storage);
    }
    zip.finish().unwrap().into_inner()
}

// ---------------------------------------------------------------------------------------------
// Formats

struct Format {
    name: &'static str,
    extension: &'static str,
    /// Tokens of the format's syntax for [`Mutation::InsertToken`], as fuzzers' dictionaries.
    dictionary: &'static [&'static [u8]],
    /// Runs every reader of the format on `path`; returns the errors they gave.
    exercise: fn(&Path) -> Vec<WeightsError>,
}

const FORMATS: [Format; 4] = [
    Format {
        name: "safetensors",
        extension: "safetensors",
        dictionary: JSON_TOKENS,
        exercise: exercise_safetensors,
    },
    Format {
        name: "torch-zip",
        extension: "pth",
        dictionary: ZIP_TOKENS,
        exercise: exercise_torch,
    },
    Format {
        name: "pickle",
        extension: "pth",
        dictionary: PICKLE_TOKENS,
        exercise: exercise_torch,
    },
    Format {
        name: "burnpack",
        extension: "bpk",
        dictionary: CBOR_TOKENS,
        exercise: exercise_burnpack,
    },
];

const JSON_TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b",",
    b":",
    b"-",
    b"0",
    b"1e400",
    b"18446744073709551616",
    b"\"dtype\"",
    b"\"shape\"",
    b"\"data_offsets\"",
    b"\"F32\"",
    b"\"BOOL\"",
    b"null",
    b"\"__metadata__\"",
    b"\\ud800",
];

const ZIP_TOKENS: &[&[u8]] = &[
    b"PK\x01\x02",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x06\x06",
    b"PK\x06\x07",
    b"\xff\xff",
    b"\xff\xff\xff\xff",
    b"\x01\x00\x10\x00",
    b"\x08\x00",
    b"\x00\x00",
];

const PICKLE_TOKENS: &[&[u8]] = &[
    b"(",
    b")",
    b"]",
    b"}",
    b"a",
    b"e",
    b"s",
    b"u",
    b"t",
    b"l",
    b"d",
    b"\x85",
    b"\x86",
    b"0",
    b"1",
    b"2",
    b"b",
    b"R",
    b"\x81",
    b"Q",
    b".",
    b"N",
    b"K\x07",
    b"\x94",
    b"\x8f",
    b"\x90",
    b"q\x00",
    b"h\x00",
    b"q\x01",
    b"h\x01",
    b"r\xff\xff\xff\xff",
    b"j\xff\xff\xff\xff",
    b"X\xff\xff\xff\xff",
    b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"ccollections\nOrderedDict\n",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"]q\x01h\x01a",
    b"(h\x00h\x00lq\x00",
];

const CBOR_TOKENS: &[&[u8]] = &[
    b"\x81",
    b"\x82",
    b"\x9f",
    b"\xbf",
    b"\xff",
    b"\xa1",
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x1a\xff\xff\xff\xff",
    b"\x7b\x00\x00\x00\x01\x00\x00\x00\x00",
    b"\x5a\xff\xff\xff\xff",
    b"\xc0",
    b"\xf6",
    b"\x65shape",
    b"\x6cdata_offsets",
];

/// What is mutated for each format: the file itself, except for `pickle`, whose cases mutate
/// `data.pkl` and zip it again (the zip CRC would reject almost every mutated pickle).
struct Seeds {
    inputs: Vec<Vec<u8>>,
    /// The storages a mutated pickle is zipped with (`pickle` only).
    storages: Vec<Vec<u8>>,
}

fn seeds(format: &str) -> Seeds {
    let state = seed_state();
    let torch = written_by(|p| write_torch_state_dict(p, &state).unwrap(), "seed.pth");
    let plain = |input: Vec<u8>| Seeds {
        inputs: vec![input],
        storages: Vec::new(),
    };
    match format {
        "safetensors" => plain(written_by(
            |p| write_safetensors(p, &state).unwrap(),
            "seed.safetensors",
        )),
        // As torch writes it (stored), and re-zipped with deflate by some other tool.
        "torch-zip" => {
            let deflated = rezip(&torch, zip::CompressionMethod::Deflated);
            Seeds {
                inputs: vec![torch, deflated],
                storages: Vec::new(),
            }
        }
        "pickle" => {
            let entries = zip_entries(&torch);
            let entry = |suffix: &str| {
                let (_, data) = entries.iter().find(|(n, _)| n.ends_with(suffix)).unwrap();
                data.clone()
            };
            Seeds {
                inputs: vec![entry("/data.pkl"), checkpoint_pickle(&state)],
                storages: (0..state.len())
                    .map(|i| entry(&format!("/data/{i}")))
                    .collect(),
            }
        }
        "burnpack" => {
            let mut pack = Burnpack {
                tensors: state,
                ..Burnpack::default()
            };
            pack.metadata
                .insert("state".into(), "{\"epoch\": 3}".into());
            plain(written_by(
                |p| write_burnpack(p, &pack).unwrap(),
                "seed.bpk",
            ))
        }
        other => panic!("no seeds for {other}"),
    }
}

/// Walks everything a loaded state dict offers, and maps it as MAE weights.
fn use_state(state: &StateDict) {
    for (key, t) in state.iter() {
        let numel = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        assert_eq!(
            numel,
            Some(t.values_len()),
            "`{key}`: values disagree with shape"
        );
    }
    let _ = format!("{state:?}");
    let _ = mae_to_ostrack_backbone(state, &GEOMETRY);
}

fn exercise_safetensors(path: &Path) -> Vec<WeightsError> {
    let mut errors = Vec::new();
    match read_safetensors(path) {
        Ok(state) => use_state(&state),
        Err(e) => errors.push(e),
    }
    errors.extend(describe(path).err());
    errors.extend(load_state_dict_any(path, Some("blocks.")).err());
    errors
}

fn exercise_torch(path: &Path) -> Vec<WeightsError> {
    let mut errors = Vec::new();
    match read_torch_file(path) {
        Ok(ckpt) => {
            // Debug and the summary walk the whole object tree.
            let _ = format!("{:?}", ckpt.root());
            let _ = ckpt.summary();
            match ckpt.state_dict(&STATE_DICT_KEYS) {
                Ok(state) => use_state(&state),
                Err(e) => errors.push(e),
            }
        }
        Err(e) => errors.push(e),
    }
    errors.extend(describe(path).err());
    errors.extend(load_state_dict_any(path, None).err());
    errors
}

fn exercise_burnpack(path: &Path) -> Vec<WeightsError> {
    let mut errors = Vec::new();
    match read_burnpack(path) {
        Ok(pack) => {
            use_state(&pack.tensors);
            let _ = format!("{:?}", pack.metadata);
        }
        Err(e) => errors.push(e),
    }
    errors.extend(read_burnpack_metadata(path).err());
    errors.extend(describe(path).err());
    errors.extend(load_state_dict_any(path, None).err());
    errors
}

// ---------------------------------------------------------------------------------------------
// The harness

/// One case: its file bytes and the mutations that made them.
fn build_case(format: usize, case: u64, seeds: &Seeds) -> (Vec<u8>, Vec<Mutation>) {
    let mut rng = SplitMix64((format as u64) << 48 ^ case);
    let seed = &seeds.inputs[case as usize % seeds.inputs.len()];
    let (bytes, mut mutations) = mutate(seed, FORMATS[format].dictionary, &mut rng);
    if seeds.storages.is_empty() {
        return (bytes, mutations);
    }
    let mut storages = seeds.storages.clone();
    if rng.below(8) == 0 {
        let index = rng.below(storages.len());
        let len = rng.below(2 * storages[index].len() + 2);
        let mutation = Mutation::ResizeStorage { index, len };
        mutation.apply(&mut Vec::new(), &mut storages);
        mutations.push(mutation);
    }
    (torch_zip(&bytes, &storages), mutations)
}

/// `OSTRACK_FUZZ_CASE=<format>:<case>`: run only that case.
fn only_case(format: &str) -> Option<Option<u64>> {
    let wanted = std::env::var("OSTRACK_FUZZ_CASE").ok()?;
    let (name, case) = wanted.split_once(':')?;
    Some((name == format).then(|| case.parse().ok()).flatten())
}

/// Runs `cases` cases of `FORMATS[format]`, starting at case `first`; returns the failures.
fn fuzz(format: usize, first: u64, cases: u64) -> Vec<String> {
    let Format {
        name,
        extension,
        exercise,
        ..
    } = FORMATS[format];
    let seeds = seeds(name);
    let dir = tempfile::tempdir().unwrap();
    let file_name = format!("case.{extension}");
    let path = dir.path().join(&file_name);
    let trace = std::env::var_os("OSTRACK_FUZZ_TRACE").is_some();
    let range: Vec<u64> = match only_case(name) {
        Some(Some(case)) => vec![case],
        Some(None) => Vec::new(),
        None => (first..first + cases).collect(),
    };
    let started = std::time::Instant::now();
    let (mut failures, mut loaded) = (Vec::new(), 0);
    let count = range.len();
    for case in range {
        let (bytes, mutations) = build_case(format, case, &seeds);
        if trace {
            eprintln!("fuzz: {name} case {case}: {mutations:?}");
        }
        std::fs::write(&path, &bytes).unwrap();
        CURRENT_CASE.set(Some((format, case)));
        REFUSED.set(0);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&path)));
        CURRENT_CASE.set(None);
        let problem = match outcome {
            Err(panic) => Some(format!("panicked: {}", panic_message(&panic))),
            Ok(_) if REFUSED.get() > 0 => Some("asked for more than 512 MiB at once".into()),
            Ok(errors) if errors.is_empty() => {
                loaded += 1;
                None
            }
            Ok(errors) => errors
                .iter()
                .map(ToString::to_string)
                .find(|e| !e.contains(&file_name))
                .map(|e| format!("error does not name the file: {e}")),
        };
        if let Some(problem) = problem {
            failures.push(format!("{name} case {case} {mutations:?}: {problem}"));
        }
    }
    eprintln!(
        "fuzz: {name}: {count} cases ({loaded} still loaded), {} failed, {:.1} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    failures
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

fn assert_no_failures(failures: &[String], cases: u64) {
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed (rerun one with OSTRACK_FUZZ_CASE=<format>:<case>):\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Cases per format: [`DEFAULT_CASES`], or `OSTRACK_FUZZ_CASES` for a longer or shorter run.
fn case_count() -> u64 {
    std::env::var("OSTRACK_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn fuzz_format(format: usize) {
    let cases = case_count();
    assert_no_failures(&fuzz(format, 0, cases), cases);
}

#[test]
fn fuzz_safetensors() {
    fuzz_format(0);
}

#[test]
fn fuzz_torch_zip() {
    fuzz_format(1);
}

#[test]
fn fuzz_pickle() {
    fuzz_format(2);
}

#[test]
fn fuzz_burnpack() {
    fuzz_format(3);
}

/// 100× the default cases of every format, continuing after the default ones.
#[test]
#[ignore = "long: run on demand with --ignored"]
fn fuzz_all_formats_long() {
    let cases = 100 * case_count();
    let failures: Vec<String> = (0..FORMATS.len())
        .flat_map(|format| fuzz(format, DEFAULT_CASES, cases))
        .collect();
    assert_no_failures(&failures, cases * FORMATS.len() as u64);
}

/// Unmutated seeds load without any error, so mutations start from files that reach every
/// stage of every reader (and the checkpoint pickle really exercises memo and objects).
#[test]
fn seeds_load_cleanly() {
    for format in &FORMATS {
        let seeds = seeds(format.name);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("seed.{}", format.extension));
        for input in &seeds.inputs {
            let bytes = if seeds.storages.is_empty() {
                input.clone()
            } else {
                torch_zip(input, &seeds.storages)
            };
            std::fs::write(&path, bytes).unwrap();
            let errors = (format.exercise)(&path);
            assert!(errors.is_empty(), "{}: {errors:?}", format.name);
        }
        let state = match format.name {
            "burnpack" => read_burnpack(&path).unwrap().tensors,
            _ => load_state_dict_any(&path, None).unwrap(),
        };
        mae_to_ostrack_backbone(&state, &GEOMETRY).unwrap();
    }
    // The hand-written checkpoint holds what it claims to.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.pth");
    let seeds = seeds("pickle");
    std::fs::write(&path, torch_zip(&seeds.inputs[1], &seeds.storages)).unwrap();
    let ckpt = read_torch_file(&path).unwrap();
    let keys = [
        "epoch",
        "net",
        "optimizer",
        "stats",
        "settings",
        "nested",
        "shared_net",
        "pair",
    ];
    assert_eq!(ckpt.top_level_keys(), keys);
    assert_eq!(ckpt.root().get("shared_net"), ckpt.root().get("net"));
    let stats = ckpt.root().get("stats").unwrap();
    assert_eq!(stats.type_name(), "lib.train.admin.stats.AverageMeter");
}

/// The cap is installed: an allocation over it is refused (fallibly here, since an
/// infallible one aborts the process) and counted against the running case.
#[test]
fn allocations_over_the_cap_are_refused() {
    REFUSED.set(0);
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve_exact(MAX_ALLOCATION + 1).is_err());
    assert_eq!(REFUSED.get(), 1);
    assert!(v.try_reserve_exact(1 << 20).is_ok());
}
