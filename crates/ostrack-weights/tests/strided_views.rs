//! Tensors that share a storage, start at an offset or are non-contiguous views (what
//! `torch.save` writes for slices and transposes) are gathered into row-major values.

use std::io::Write;

use ostrack_weights::{DType, STATE_DICT_KEYS, TensorValues, extract_state_dict};
use zip::write::{SimpleFileOptions, ZipWriter};

/// Pickle ops for `key: _rebuild_tensor_v2(storage '0' (12 floats), offset, size, stride, ...)`.
fn tensor_entry(p: &mut Vec<u8>, key: &str, offset: u8, size: &[u8], stride: &[u8]) {
    p.push(b'X');
    p.extend((key.len() as u32).to_le_bytes());
    p.extend(key.as_bytes());
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    p.extend(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x0ctQ");
    p.extend([b'K', offset]);
    for dims in [size, stride] {
        p.push(b'(');
        for &d in dims {
            p.extend([b'K', d]);
        }
        p.push(b't');
    }
    p.extend(b"\x89ccollections\nOrderedDict\n)RtR");
}

#[test]
fn shared_offset_and_transposed_views_are_gathered() {
    let mut pickle = vec![0x80, 2];
    pickle.extend(b"ccollections\nOrderedDict\n)R(");
    tensor_entry(&mut pickle, "whole", 0, &[12], &[1]);
    // A 3×4 matrix starting at element 0, viewed transposed: shape [4, 3], stride [1, 4].
    tensor_entry(&mut pickle, "transposed", 0, &[4, 3], &[1, 4]);
    // Elements 5, 7, 9 (a strided slice starting at an offset).
    tensor_entry(&mut pickle, "slice", 5, &[3], &[2]);
    // A broadcast-like view of element 11 with a zero stride.
    tensor_entry(&mut pickle, "repeated", 11, &[2, 2], &[0, 0]);
    pickle.extend(b"u.");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("views.pth");
    let mut zip = ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let storage: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect();
    for (entry, bytes) in [
        ("views/data.pkl", &pickle[..]),
        ("views/byteorder", b"little"),
        ("views/data/0", &storage),
    ] {
        zip.start_file(entry, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();

    let sd = extract_state_dict(&path, &STATE_DICT_KEYS).unwrap();
    let values = |k: &str| match &sd.get(k).unwrap().values {
        TensorValues::F32(v) => v.clone(),
        TensorValues::I64(_) => panic!("{k} is not float"),
    };
    assert_eq!(
        values("whole"),
        (0..12).map(|i| i as f32).collect::<Vec<_>>()
    );
    assert_eq!(
        values("transposed"),
        vec![0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]
    );
    assert_eq!(values("slice"), vec![5., 7., 9.]);
    assert_eq!(values("repeated"), vec![11.; 4]);
    assert_eq!(sd.get("transposed").unwrap().shape, vec![4, 3]);
    assert_eq!(sd.get("slice").unwrap().dtype, DType::F32);
}

#[test]
fn a_view_past_its_storage_is_an_error() {
    let mut pickle = vec![0x80, 2, b'}', b'('];
    tensor_entry(&mut pickle, "too_long", 6, &[3, 3], &[3, 1]);
    pickle.extend(b"u.");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_view.pth");
    let mut zip = ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let storage = vec![0u8; 48];
    for (entry, bytes) in [("v/data.pkl", &pickle[..]), ("v/data/0", &storage)] {
        zip.start_file(entry, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    let err = extract_state_dict(&path, &STATE_DICT_KEYS)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad_view.pth")
            && err.contains("too_long")
            && err.contains("past its storage"),
        "{err}"
    );
}
