//! Broken or unexpected files give errors that name the file and what was expected.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::fixture;
use ostrack_weights::{
    STATE_DICT_KEYS, extract_state_dict, load_state_dict_any, read_safetensors, read_torch_file,
};
use zip::write::{SimpleFileOptions, ZipWriter};

fn copy_with(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A torch-style zip whose `data.pkl` is `pickle`.
fn torch_zip(dir: &Path, name: &str, pickle: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut zip = ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (entry, bytes) in [
        ("archive/data.pkl", pickle),
        ("archive/byteorder", b"little"),
        ("archive/version", b"3\n"),
    ] {
        zip.start_file(entry, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn assert_error_mentions(err: impl std::fmt::Display, parts: &[&str]) {
    let text = err.to_string();
    for part in parts {
        assert!(
            text.contains(part),
            "error {text:?} does not mention {part:?}"
        );
    }
}

#[test]
fn truncated_files_are_reported_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let pth = std::fs::read(fixture("mae_tiny.pth")).unwrap();
    let cut = copy_with(dir.path(), "cut.pth", &pth[..pth.len() / 2]);
    assert_error_mentions(
        read_torch_file(&cut).unwrap_err(),
        &["cut.pth", "truncated or corrupt"],
    );
    assert_error_mentions(load_state_dict_any(&cut, None).unwrap_err(), &["cut.pth"]);

    let st = std::fs::read(fixture("mae_tiny.safetensors")).unwrap();
    let cut = copy_with(dir.path(), "cut.safetensors", &st[..st.len() - 100]);
    assert_error_mentions(
        read_safetensors(&cut).unwrap_err(),
        &["cut.safetensors", "not a valid safetensors file"],
    );
    assert_error_mentions(
        load_state_dict_any(&cut, Some("mae.")).unwrap_err(),
        &["cut.safetensors"],
    );
}

#[test]
fn corrupt_storage_bytes_fail_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let mut pth = std::fs::read(fixture("mae_tiny.pth")).unwrap();
    // The middle of the file lies inside a tensor storage (storages are nearly all of it).
    let middle = pth.len() / 2;
    pth[middle] ^= 0x5a;
    let bad = copy_with(dir.path(), "flipped.pth", &pth);
    assert_error_mentions(
        extract_state_dict(&bad, &STATE_DICT_KEYS).unwrap_err(),
        &["flipped.pth", "/data/"],
    );
}

#[test]
fn random_bytes_are_neither_format() {
    let dir = tempfile::tempdir().unwrap();
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = copy_with(dir.path(), "noise.pth", &noise);
    assert_error_mentions(
        load_state_dict_any(&path, None).unwrap_err(),
        &[
            "noise.pth",
            "not a PyTorch zip checkpoint, a safetensors file or a burnpack file",
        ],
    );
    assert_error_mentions(read_torch_file(&path).unwrap_err(), &["noise.pth", "zip"]);
    assert_error_mentions(read_safetensors(&path).unwrap_err(), &["noise.pth"]);
    let missing = dir.path().join("does_not_exist.pth");
    assert_error_mentions(
        load_state_dict_any(&missing, None).unwrap_err(),
        &["does_not_exist.pth"],
    );
}

#[test]
fn missing_key_and_prefix_name_what_was_found() {
    let err = extract_state_dict(fixture("OSTrack_ep0001.pth.tar"), &["model"]).unwrap_err();
    assert_error_mentions(
        err,
        &[
            "OSTrack_ep0001.pth.tar",
            "model",
            "top-level keys found: [epoch, actor_type",
            "net",
        ],
    );
    let err = load_state_dict_any(fixture("mae_tiny.safetensors"), Some("nothing.")).unwrap_err();
    assert_error_mentions(err, &["mae_tiny.safetensors", "nothing.", "mae"]);
}

#[test]
fn checkpoint_without_a_state_dict_is_an_error_listing_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    // pickle of {'epoch': 3, 'notes': 'x'}
    let mut pickle = vec![0x80, 2, b'}', b'(', b'X', 5, 0, 0, 0];
    pickle.extend(b"epoch");
    pickle.extend([b'K', 3, b'X', 5, 0, 0, 0]);
    pickle.extend(b"notes");
    pickle.extend([b'X', 1, 0, 0, 0, b'x', b'u', b'.']);
    let path = torch_zip(dir.path(), "no_weights.pth", &pickle);
    let ckpt = read_torch_file(&path).unwrap();
    assert_eq!(ckpt.top_level_keys(), ["epoch", "notes"]);
    let err = extract_state_dict(&path, &STATE_DICT_KEYS).unwrap_err();
    assert_error_mentions(
        err,
        &[
            "no_weights.pth",
            "net, model, state_dict",
            "top-level keys found: [epoch, notes]",
        ],
    );
}

#[test]
fn unsupported_pickle_content_names_file_and_opcode() {
    let dir = tempfile::tempdir().unwrap();
    let path = torch_zip(dir.path(), "odd.pth", &[0x80, 2, b'i', b'.']);
    assert_error_mentions(
        read_torch_file(&path).unwrap_err(),
        &["odd.pth", "data.pkl", "INST"],
    );
    // A tensor whose storage entry is missing from the archive.
    let mut pickle = vec![0x80, 2, b'}', b'X', 1, 0, 0, 0, b'w', b'c'];
    pickle.extend(b"torch._utils\n_rebuild_tensor_v2\n");
    pickle.extend([b'(', b'(', b'X', 7, 0, 0, 0]);
    pickle.extend(b"storage");
    pickle.extend(b"ctorch\nFloatStorage\n");
    pickle.extend([b'X', 1, 0, 0, 0, b'0', b'X', 3, 0, 0, 0]);
    pickle.extend(b"cpu");
    pickle.extend([
        b'K', 2, b't', b'Q', b'K', 0, b'K', 2, 0x85, b'K', 1, 0x85, 0x89, b'N', b't', b'R', b's',
        b'.',
    ]);
    let path = torch_zip(dir.path(), "no_storage.pth", &pickle);
    assert_error_mentions(
        extract_state_dict(&path, &[]).unwrap_err(),
        &["no_storage.pth", "archive/data/0", "missing"],
    );
}

#[test]
fn legacy_torch_format_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut legacy = vec![0x80, 0x02, 0x8a, 0x0a];
    legacy.extend([
        0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
    ]);
    let path = copy_with(dir.path(), "old.pth", &legacy);
    assert_error_mentions(
        load_state_dict_any(&path, None).unwrap_err(),
        &["old.pth", "legacy"],
    );
    assert_error_mentions(read_torch_file(&path).unwrap_err(), &["old.pth", "legacy"]);
}
