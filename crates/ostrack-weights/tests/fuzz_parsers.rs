//! Deterministic mutation fuzzing of every weight-file reader, on stable Rust, with the
//! workspace's fuzz harness (`ostrack-fuzz`: PRNG, generic mutations, case runner, allocation
//! cap).
//!
//! Seed files come from the crate's own writers (plus a hand-written training-checkpoint
//! pickle that uses the memo, objects, `BUILD` and nested containers). Each case applies 1 to 4
//! mutations (with the format's tokens as a dictionary) to a seed, writes the result and runs
//! every reader on it. A case passes when each reader returns `Ok` or an error naming the file;
//! a panic is caught and reported with the case index and its mutations. The test binary
//! refuses any single allocation over [`MAX_ALLOCATION`], so a size taken from the file
//! without a bound fails loudly (the case is named, then the process aborts) instead of
//! passing on a machine with memory to spare.
//!
//! * Rerun one case (any index, also one of the long run): `OSTRACK_FUZZ_CASE=pickle:1234
//!   cargo test --release -p ostrack-weights --test fuzz_parsers`.
//! * Find a case that aborts (stack overflow): `OSTRACK_FUZZ_TRACE=1` prints each case first.
//! * The long run (100× the cases): `cargo test --release -p ostrack-weights --test
//!   fuzz_parsers -- --ignored`; `OSTRACK_FUZZ_CASES=<n>` sets the cases per format (the
//!   long run does 100 × n).

use std::io::{Read, Write};
use std::path::Path;

use ostrack_fuzz::{Endian, Mutator, Run, SplitMix64, Tally};
use ostrack_weights::{
    Burnpack, DType, HostTensor, STATE_DICT_KEYS, StateDict, TensorValues, TrackerGeometry,
    WeightsError, describe, load_state_dict_any, mae_to_ostrack_backbone, read_burnpack,
    read_burnpack_metadata, read_safetensors, read_torch_file, write_burnpack, write_safetensors,
    write_torch_state_dict,
};
use zip::write::{SimpleFileOptions, ZipWriter};

/// Cases per format in the default run (the `--ignored` run does 100× as many).
const DEFAULT_CASES: u64 = 3000;

/// No reader needs a single allocation this large for the seeds' few-kilobyte files.
const MAX_ALLOCATION: usize = 512 << 20;
ostrack_fuzz::install_capped_allocator!(MAX_ALLOCATION);

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
    /// Little-endian 4- and 8-byte length fields, and the format's tokens as a dictionary.
    mutator: Mutator,
    /// Runs every reader of the format on `path`; returns the errors they gave.
    exercise: fn(&Path) -> Vec<WeightsError>,
}

const FORMATS: [Format; 4] = [
    Format {
        name: "safetensors",
        extension: "safetensors",
        mutator: mutator(JSON_TOKENS),
        exercise: exercise_safetensors,
    },
    Format {
        name: "torch-zip",
        extension: "pth",
        mutator: mutator(ZIP_TOKENS),
        exercise: exercise_torch,
    },
    Format {
        name: "pickle",
        extension: "pth",
        mutator: mutator(PICKLE_TOKENS),
        exercise: exercise_torch,
    },
    Format {
        name: "burnpack",
        extension: "bpk",
        mutator: mutator(CBOR_TOKENS),
        exercise: exercise_burnpack,
    },
];

const fn mutator(dictionary: &'static [&'static [u8]]) -> Mutator {
    Mutator {
        widths: &[4, 8],
        dictionary,
        ..Mutator::new(Endian::Little)
    }
}

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
// The cases

/// One case: a mutated seed (for `pickle`, zipped with its storages, one of which is
/// sometimes cut or padded), and how it was made.
fn build_case(format: &Format, seeds: &Seeds, rng: &mut SplitMix64) -> (Vec<u8>, String) {
    let seed = rng.below(seeds.inputs.len());
    let (bytes, mutations) = format.mutator.mutate(&seeds.inputs[seed], rng);
    let how = format!("seed {seed}, {mutations:?}");
    if seeds.storages.is_empty() {
        return (bytes, how);
    }
    let mut storages = seeds.storages.clone();
    if !rng.chance(8) {
        return (torch_zip(&bytes, &storages), how);
    }
    let index = rng.below(storages.len());
    let len = rng.below(2 * storages[index].len() + 2);
    storages[index].resize(len, 0x3c);
    let how = format!("{how}, storage {index} resized to {len} bytes");
    (torch_zip(&bytes, &storages), how)
}

/// Runs every reader of `format` on each case: each must load it or give errors naming it.
fn fuzz(format: &Format, run: Run) {
    let seeds = seeds(format.name);
    let dir = tempfile::tempdir().unwrap();
    let file_name = format!("case.{}", format.extension);
    let path = dir.path().join(&file_name);
    run.run(
        |_, rng| build_case(format, &seeds, rng),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            let errors = (format.exercise)(&path);
            let unnamed = errors
                .iter()
                .map(ToString::to_string)
                .find(|e| !e.contains(&file_name));
            match unnamed {
                Some(e) => Err(format!("error does not name the file: {e}")),
                None => Ok(Tally {
                    ok: usize::from(errors.is_empty()),
                    err: errors.len(),
                }),
            }
        },
    );
}

fn fuzz_format(format: usize) {
    let format = &FORMATS[format];
    fuzz(format, Run::new(format.name, DEFAULT_CASES));
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
    for format in &FORMATS {
        fuzz(format, Run::new(format.name, DEFAULT_CASES).long());
    }
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
