//! Crafted hostile files: sizes no file can honour, nesting built to overflow the stack,
//! reference cycles and memo "billion laughs". Each must be a clean error that names the file
//! (and what was expected), never an abort, a hang or an allocation sized by the lie.

use std::io::Write;
use std::path::{Path, PathBuf};

use ostrack_weights::{
    Burnpack, HostTensor, STATE_DICT_KEYS, StateDict, TrackerGeometry, describe,
    extract_state_dict, load_state_dict_any, mae_to_ostrack_backbone, read_burnpack,
    read_burnpack_metadata, read_safetensors, read_torch_file, write_burnpack,
};
use zip::write::{SimpleFileOptions, ZipWriter};

fn assert_error_mentions(err: impl std::fmt::Display, parts: &[&str]) {
    let text = err.to_string();
    for part in parts {
        assert!(
            text.contains(part),
            "error {text:?} does not mention {part:?}"
        );
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A torch-style zip (stored entries) holding `archive/data.pkl` and the given storages.
fn torch_zip(dir: &Path, name: &str, pickle: &[u8], storages: &[(&str, &[u8])]) -> PathBuf {
    zip_with(zip::CompressionMethod::Stored, dir, name, pickle, storages)
}

fn zip_with(
    method: zip::CompressionMethod,
    dir: &Path,
    name: &str,
    pickle: &[u8],
    storages: &[(&str, &[u8])],
) -> PathBuf {
    let path = dir.join(name);
    let mut zip = ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default().compression_method(method);
    zip.start_file("archive/data.pkl", options).unwrap();
    zip.write_all(pickle).unwrap();
    for (key, bytes) in storages {
        zip.start_file(format!("archive/data/{key}"), options)
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// Protocol-2 pickle ops building `{key: tensor}` where the tensor is a float view
/// `(offset, size, stride)` over storage `0` that claims `numel` elements.
fn tensor_dict_pickle(key: &str, numel: u64, offset: u64, size: &[u64], stride: &[u64]) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}'];
    unicode(&mut p, key);
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
    unicode(&mut p, "storage");
    p.extend(b"ctorch\nFloatStorage\n");
    unicode(&mut p, "0");
    unicode(&mut p, "cpu");
    long(&mut p, numel);
    p.extend(b"tQ");
    long(&mut p, offset);
    for dims in [size, stride] {
        p.push(b'(');
        dims.iter().for_each(|&d| long(&mut p, d));
        p.push(b't');
    }
    p.extend(b"\x89NtRs.");
    p
}

fn unicode(p: &mut Vec<u8>, s: &str) {
    p.push(b'X');
    p.extend((s.len() as u32).to_le_bytes());
    p.extend(s.as_bytes());
}

/// LONG1 with 8 bytes: any non-negative i64.
fn long(p: &mut Vec<u8>, v: u64) {
    assert!(v <= i64::MAX as u64);
    p.extend([0x8a, 8]);
    p.extend(v.to_le_bytes());
}

fn pickle_error(dir: &Path, name: &str, pickle: &[u8]) -> String {
    let path = torch_zip(dir, name, pickle, &[]);
    read_torch_file(&path).unwrap_err().to_string()
}

// ---------------------------------------------------------------------------------------------
// safetensors

#[test]
fn safetensors_header_longer_than_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = (1u64 << 60).to_le_bytes().to_vec();
    bytes.extend(b"{}");
    let path = write_file(dir.path(), "huge_header.safetensors", &bytes);
    assert_error_mentions(
        read_safetensors(&path).unwrap_err(),
        &[
            "huge_header.safetensors",
            "header claims 1152921504606846976 bytes",
        ],
    );
    assert_error_mentions(
        load_state_dict_any(&path, None).unwrap_err(),
        &["huge_header.safetensors"],
    );
}

fn safetensors_with_header(header: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.resize(bytes.len() + data_len, 0);
    bytes
}

#[test]
fn safetensors_tensor_extents_must_match_dtype_shape_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // 2^30 × 2^30 × 4 bytes claimed for 16 present.
        (
            "overflow.safetensors",
            r#"{"w":{"dtype":"F32","shape":[1073741824,1073741824],"data_offsets":[0,16]}}"#,
        ),
        // Shape product overflows usize.
        (
            "product.safetensors",
            r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}"#,
        ),
        // Extent past the end of the file.
        (
            "extent.safetensors",
            r#"{"w":{"dtype":"U8","shape":[1099511627776],"data_offsets":[0,1099511627776]}}"#,
        ),
        // Shape and byte range disagree.
        (
            "mismatch.safetensors",
            r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#,
        ),
    ];
    for (name, header) in cases {
        let path = write_file(dir.path(), name, &safetensors_with_header(header, 16));
        assert_error_mentions(read_safetensors(&path).unwrap_err(), &[name]);
        assert_error_mentions(describe(&path).unwrap_err(), &[name]);
    }
}

#[test]
fn deeply_nested_safetensors_json_hits_the_recursion_limit() {
    let dir = tempfile::tempdir().unwrap();
    // Keys other than `__metadata__` are buffered as arbitrary JSON before they are typed.
    let depth = 100_000;
    let header = format!(r#"{{"w":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let path = write_file(
        dir.path(),
        "deep.safetensors",
        &safetensors_with_header(&header, 0),
    );
    assert_error_mentions(
        read_safetensors(&path).unwrap_err(),
        &["deep.safetensors", "recursion limit"],
    );
}

// ---------------------------------------------------------------------------------------------
// torch zip archives and storages

#[test]
fn storage_entry_shorter_than_the_tensor_claims_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let pickle = tensor_dict_pickle("w", 6, 0, &[6], &[1]);
    let path = torch_zip(dir.path(), "short.pth", &pickle, &[("0", &[0u8; 16])]);
    assert_error_mentions(
        extract_state_dict(&path, &STATE_DICT_KEYS).unwrap_err(),
        &[
            "short.pth",
            "key `w`",
            "data/0 has 16 bytes, expected 6 elements of 4 bytes",
        ],
    );
}

#[test]
fn storage_sizes_no_file_can_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // 2^62 float elements: the byte count overflows.
    let pickle = tensor_dict_pickle("w", 1 << 62, 0, &[1], &[1]);
    let path = torch_zip(dir.path(), "numel.pth", &pickle, &[("0", &[0u8; 4])]);
    assert_error_mentions(
        extract_state_dict(&path, &STATE_DICT_KEYS).unwrap_err(),
        &["numel.pth", "key `w`", "more than any file holds"],
    );
    // A view whose element count overflows.
    let pickle = tensor_dict_pickle("w", 1, 0, &[1 << 32, 1 << 32], &[0, 0]);
    let path = torch_zip(dir.path(), "view.pth", &pickle, &[("0", &[0u8; 4])]);
    assert_error_mentions(
        extract_state_dict(&path, &STATE_DICT_KEYS).unwrap_err(),
        &["view.pth", "key `w`", "too many elements"],
    );
    // A view whose index arithmetic overflows: offset + 2 × stride > u64::MAX.
    let big = i64::MAX as u64;
    let pickle = tensor_dict_pickle("w", 1, big, &[3], &[big]);
    let path = torch_zip(dir.path(), "offset.pth", &pickle, &[("0", &[0u8; 4])]);
    assert_error_mentions(
        extract_state_dict(&path, &STATE_DICT_KEYS).unwrap_err(),
        &["offset.pth", "key `w`", "reaches past its storage"],
    );
}

#[test]
fn broadcast_views_may_not_expand_a_small_file_into_gigabytes() {
    let dir = tempfile::tempdir().unwrap();
    // One float repeated 2^28 times (1 GiB) by zero strides.
    let pickle = tensor_dict_pickle("w", 1, 0, &[1 << 14, 1 << 14], &[0, 0]);
    let path = torch_zip(dir.path(), "broadcast.pth", &pickle, &[("0", &[0u8; 4])]);
    assert_error_mentions(
        extract_state_dict(&path, &STATE_DICT_KEYS).unwrap_err(),
        &["broadcast.pth", "key `w`", "times the file size"],
    );
    // A small broadcast view is fine.
    let pickle = tensor_dict_pickle("w", 1, 0, &[4, 4], &[0, 0]);
    let path = torch_zip(
        dir.path(),
        "small.pth",
        &pickle,
        &[("0", &1f32.to_le_bytes())],
    );
    let sd = extract_state_dict(&path, &STATE_DICT_KEYS).unwrap();
    assert_eq!(sd.get("w").unwrap().to_f32(), vec![1.0; 16]);
}

/// Overwrites the uncompressed-size field of the entry named `name` in both its local and its
/// central header.
fn patch_uncompressed_size(zip: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        // (offset of the size field, offset of the name) in a local or a central header
        let (field, name_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (at + 22, at + 30),
            b"PK\x01\x02" => (at + 24, at + 46),
            _ => continue,
        };
        if zip[name_at..].starts_with(name.as_bytes()) {
            zip[field..field + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local and central header of {name}");
}

#[test]
fn zip_entry_claiming_more_than_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pickle = tensor_dict_pickle("w", 1, 0, &[1], &[1]);
    let path = torch_zip(dir.path(), "entry.pth", &pickle, &[("0", &[0u8; 4])]);
    let mut bytes = std::fs::read(&path).unwrap();
    patch_uncompressed_size(&mut bytes, "archive/data.pkl", u32::MAX);
    let path = write_file(dir.path(), "entry.pth", &bytes);
    assert_error_mentions(
        read_torch_file(&path).unwrap_err(),
        &["entry.pth", "archive/data.pkl"],
    );
}

#[test]
fn deflated_entries_may_not_claim_more_than_deflate_can_expand_to() {
    let dir = tempfile::tempdir().unwrap();
    let deflated = zip::CompressionMethod::Deflated;
    // An honest deflated archive (re-zipped by some tool) loads.
    let pickle = tensor_dict_pickle("w", 1, 0, &[1], &[1]);
    let storage = 2.5f32.to_le_bytes();
    let path = zip_with(
        deflated,
        dir.path(),
        "deflated.pth",
        &pickle,
        &[("0", &storage)],
    );
    let sd = extract_state_dict(&path, &STATE_DICT_KEYS).unwrap();
    assert_eq!(sd.get("w").unwrap().to_f32(), vec![2.5]);
    // A data.pkl claiming 4 GiB from a few hundred compressed bytes is refused before
    // inflating (and before allocating for it).
    let mut bytes = std::fs::read(&path).unwrap();
    patch_uncompressed_size(&mut bytes, "archive/data.pkl", u32::MAX);
    let path = write_file(dir.path(), "bomb.pth", &bytes);
    assert_error_mentions(
        read_torch_file(&path).unwrap_err(),
        &[
            "bomb.pth",
            "archive/data.pkl",
            "claims 4294967295 bytes, more than the best ratio deflate achieves",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// pickle lengths

#[test]
fn pickle_length_arguments_beyond_the_data_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "binunicode.pth",
            [&[0x80, 2, b'X'][..], &[0xff; 4], b"ab."].concat(),
        ),
        (
            "binbytes.pth",
            [&[0x80, 3, b'B'][..], &[0xff; 4], b"ab."].concat(),
        ),
        (
            "binunicode8.pth",
            [&[0x80, 4, 0x8d][..], &(1u64 << 62).to_le_bytes(), b"."].concat(),
        ),
        (
            "binbytes8.pth",
            [&[0x80, 4, 0x8e][..], &u64::MAX.to_le_bytes(), b"."].concat(),
        ),
        (
            "long4.pth",
            [&[0x80, 2, 0x8b][..], &[0xff, 0xff, 0xff, 0x7f], b"."].concat(),
        ),
    ];
    for (name, pickle) in cases {
        let err = pickle_error(dir.path(), name, &pickle);
        assert_error_mentions(&err, &[name, "data.pkl", "byte 2"]);
        assert!(
            err.contains("more bytes") || err.contains("too large"),
            "{err}"
        );
    }
    let err = pickle_error(
        dir.path(),
        "get.pth",
        &[0x80, 2, b'j', 0xff, 0xff, 0xff, 0xff, b'.'],
    );
    assert_error_mentions(
        &err,
        &[
            "get.pth",
            "LONG_BINGET",
            "memo entry 4294967295 was never stored",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// pickle nesting, cycles and expansion

/// `depth` lists, each inside the previous, built with a stack of at most 3 items: the
/// memo's slot 1 always holds the innermost list, slot 0 the outermost.
fn memo_nested_lists(depth: usize) -> Vec<u8> {
    let mut p = vec![0x80, 2, b']', b'q', 0, b'q', 1, b'0'];
    for _ in 0..depth {
        // inner = []; outer.append(inner); slot 1 = inner
        p.extend([b'h', 1, b']', b'q', 2, b'a', b'0', b'h', 2, b'q', 1, b'0']);
    }
    p.extend([b'h', 0, b'.']);
    p
}

#[test]
fn memo_built_deep_nesting_is_an_error_and_drops_without_recursion() {
    let dir = tempfile::tempdir().unwrap();
    // Dropping 100000 nested lists recursively would overflow the test thread's stack.
    let err = pickle_error(dir.path(), "deep.pth", &memo_nested_lists(100_000));
    assert_error_mentions(&err, &["deep.pth", "data.pkl", "nesting deeper than 256"]);
    // Legitimate nesting well within the bound loads.
    let path = torch_zip(dir.path(), "nested.pth", &memo_nested_lists(200), &[]);
    let root = read_torch_file(&path).unwrap().root().clone();
    let mut depth = 0;
    let mut node = &root;
    while let ostrack_weights::pickle::PickleValue::List(items) = node {
        match items.first() {
            Some(inner) => node = inner,
            None => break,
        }
        depth += 1;
    }
    assert_eq!(depth, 200);
}

#[test]
fn deep_tuples_from_a_constant_stack_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut pickle = vec![0x80, 2, b'N'];
    pickle.extend(std::iter::repeat_n(0x85, 100_000)); // TUPLE1, again and again
    pickle.push(b'.');
    let err = pickle_error(dir.path(), "tuples.pth", &pickle);
    assert_error_mentions(&err, &["tuples.pth", "nesting deeper than 256"]);
}

#[test]
fn self_containing_containers_are_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    // l = []; l.append(l)
    let list = [0x80, 2, b']', b'q', 0, b'h', 0, b'a', b'.'];
    let err = pickle_error(dir.path(), "cycle.pth", &list);
    assert_error_mentions(&err, &["cycle.pth", "a reference cycle?"]);
    // d = {}; d['d'] = d, and an object whose state is itself.
    let mut dict = vec![0x80, 2, b'}', b'q', 0];
    unicode(&mut dict, "d");
    dict.extend([b'h', 0, b's', b'.']);
    let err = pickle_error(dir.path(), "dict_cycle.pth", &dict);
    assert_error_mentions(&err, &["dict_cycle.pth", "a reference cycle?"]);
    let mut object = vec![0x80, 2];
    object.extend(b"cbuiltins\nobject\n)\x81q\x00h\x00b.");
    let err = pickle_error(dir.path(), "object_cycle.pth", &object);
    assert_error_mentions(&err, &["object_cycle.pth", "a reference cycle?"]);
    // A cycle that is built and then discarded: the result loads, the cycle is freed.
    let mut discarded = list[..8].to_vec();
    discarded.extend([b'0', b'N', b'.']);
    let path = torch_zip(dir.path(), "discarded.pth", &discarded, &[]);
    assert!(matches!(
        read_torch_file(&path).unwrap().root(),
        ostrack_weights::pickle::PickleValue::None
    ));
}

#[test]
fn memo_references_may_not_expand_the_tree_exponentially() {
    let dir = tempfile::tempdir().unwrap();
    // l0 = ['x' * 1000]; l(i+1) = [li, li]: 2^40 copies of the string once frozen.
    let mut p = vec![0x80, 2, b']'];
    unicode(&mut p, &"x".repeat(1000));
    p.extend([b'a', b'q', 0, b'0']);
    for _ in 0..40 {
        p.extend([b'(', b'h', 0, b'h', 0, b'l', b'q', 0, b'0']);
    }
    p.extend([b'h', 0, b'.']);
    let err = pickle_error(dir.path(), "laughs.pth", &p);
    assert_error_mentions(&err, &["laughs.pth", "data.pkl", "expands to more than"]);
}

#[test]
fn dicts_with_many_keys_load_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    // 200000 distinct int keys: a scan per SETITEMS took about a minute for this.
    let mut p = vec![0x80, 2, b'}', b'('];
    for i in 0..200_000u32 {
        p.push(b'J');
        p.extend(i.to_le_bytes());
        p.push(b'N');
    }
    p.extend(b"u.");
    let path = torch_zip(dir.path(), "many_keys.pth", &p, &[]);
    let started = std::time::Instant::now();
    let ckpt = read_torch_file(&path).unwrap();
    assert_eq!(ckpt.top_level_keys().len(), 200_000);
    let seconds = started.elapsed().as_secs_f64();
    assert!(seconds < 10.0, "{seconds:.1} s for 200000 keys");
}

// ---------------------------------------------------------------------------------------------
// burnpack

fn small_pack(tensors: usize, floats_each: usize) -> Burnpack {
    let mut pack = Burnpack::default();
    for i in 0..tensors {
        pack.tensors.insert(
            format!("t{i}"),
            HostTensor::f32(vec![floats_each], vec![i as f32; floats_each]),
        );
    }
    pack.metadata.insert("note".into(), "x".into());
    pack
}

#[test]
fn burnpack_metadata_longer_than_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.bpk");
    write_burnpack(&path, &small_pack(1, 4)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = write_file(dir.path(), "meta.bpk", &bytes);
    for err in [
        read_burnpack(&path).unwrap_err(),
        read_burnpack_metadata(&path).unwrap_err(),
    ] {
        assert_error_mentions(err, &["meta.bpk", "claims 4294967295 bytes of metadata"]);
    }
}

#[test]
fn deeply_nested_burnpack_metadata_hits_the_recursion_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut metadata = vec![0x81u8; 100_000]; // CBOR: array of one element, nested
    metadata.push(0);
    let mut bytes = burn_pack::MAGIC_NUMBER.to_le_bytes().to_vec();
    bytes.extend(burn_pack::FORMAT_VERSION.to_le_bytes());
    bytes.extend((metadata.len() as u32).to_le_bytes());
    bytes.extend(metadata);
    let path = write_file(dir.path(), "deep.bpk", &bytes);
    assert_error_mentions(read_burnpack(&path).unwrap_err(), &["deep.bpk"]);
}

/// CBOR of `[start, end]` with both numbers as 2-byte integers (`0x19 hi lo`).
fn cbor_range(start: u16, end: u16) -> Vec<u8> {
    let mut out = vec![0x82, 0x19];
    out.extend(start.to_be_bytes());
    out.push(0x19);
    out.extend(end.to_be_bytes());
    out
}

#[test]
fn overlapping_burnpack_ranges_may_not_multiply_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overlap.bpk");
    // Three 4 KiB tensors at data offsets 0, 4096 and 8192.
    write_burnpack(&path, &small_pack(3, 1024)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let replace = |bytes: &mut Vec<u8>, from: &[u8], to: &[u8]| {
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("range in the metadata");
        bytes[at..at + from.len()].copy_from_slice(to);
    };
    // Point the second and third at the first's bytes (same encoded length), then cut the
    // data the file no longer needs.
    replace(&mut bytes, &cbor_range(4096, 8192), &cbor_range(0, 4096));
    replace(&mut bytes, &cbor_range(8192, 12288), &cbor_range(0, 4096));
    let data_end = bytes.len() - 2 * 4096;
    bytes.truncate(data_end);
    let path = write_file(dir.path(), "overlap.bpk", &bytes);
    assert_error_mentions(
        read_burnpack(&path).unwrap_err(),
        &[
            "overlap.bpk",
            "more bytes of tensor data than the file holds",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// MAE mapping

#[test]
fn mae_pos_embed_values_must_match_its_shape() {
    let mut mae = StateDict::new();
    // Shape [1, 5, 4] claims 20 values; only 8 are held.
    mae.insert(
        "pos_embed",
        HostTensor {
            shape: vec![1, 5, 4],
            ..HostTensor::f32(vec![8], vec![0.0; 8])
        },
    );
    let geometry = TrackerGeometry {
        template_size: 4,
        search_size: 8,
        patch_size: 2,
    };
    assert_error_mentions(
        mae_to_ostrack_backbone(&mae, &geometry).unwrap_err(),
        &["pos_embed", "holds 8 values", "needs 5×4"],
    );
    // An empty embedding claiming usize::MAX tokens: the grid check must not overflow.
    mae.insert("pos_embed", HostTensor::f32(vec![1, usize::MAX, 0], vec![]));
    assert_error_mentions(
        mae_to_ostrack_backbone(&mae, &geometry).unwrap_err(),
        &["pos_embed", "square grid"],
    );
}
