//! Official checkpoint → our torch / safetensors exports → read back: bit-exact, keys,
//! order and dtypes (int64 stays int64) kept.

mod common;

use common::{assert_bit_exact, assert_same_tensors, fixture};
use ostrack_weights::{
    DType, HostTensor, StateDict, TensorValues, WeightFormat, detect_format, extract_state_dict,
    load_state_dict_any, read_safetensors, read_torch_file, save_state_dict, write_safetensors,
    write_torch_state_dict,
};

fn official_net() -> StateDict {
    extract_state_dict(fixture("OSTrack_ep0001.pth.tar"), &["net"]).unwrap()
}

fn assert_same_order(a: &StateDict, b: &StateDict) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
}

#[test]
fn torch_export_reads_back_bit_exactly_in_order() {
    let net = official_net();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ostrack_tiny.pth");
    write_torch_state_dict(&path, &net).unwrap();

    let ckpt = read_torch_file(&path).unwrap();
    assert_eq!(ckpt.archive_root(), "ostrack_tiny");
    assert_eq!(ckpt.storage_entries(), net.len());
    assert!(
        ckpt.root().is_state_dict(),
        "the export is a bare state dict, like torch.save(model.state_dict())"
    );
    let back = load_state_dict_any(&path, None).unwrap();
    assert_same_order(&back, &net);
    assert_same_tensors(&back, &net);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn official_to_ours_to_official_is_bit_exact_through_both_formats() {
    let net = official_net();
    let official = read_safetensors(fixture("model_tiny_ce.safetensors"))
        .unwrap()
        .strip_prefix("param.");
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("net.safetensors");
    let pth = dir.path().join("net.pth.tar");
    save_state_dict(&st, &net).unwrap();
    assert_eq!(detect_format(&st).unwrap(), WeightFormat::SafeTensors);
    let from_st = load_state_dict_any(&st, None).unwrap();
    save_state_dict(&pth, &from_st).unwrap();
    assert_eq!(detect_format(&pth).unwrap(), WeightFormat::Torch);
    let from_pth = load_state_dict_any(&pth, None).unwrap();
    assert_same_tensors(&from_st, &official);
    assert_same_tensors(&from_pth, &official);
    let int64 = from_pth
        .iter()
        .filter(|(_, t)| t.dtype == DType::I64)
        .count();
    assert_eq!(
        int64,
        official
            .iter()
            .filter(|(_, t)| t.dtype == DType::I64)
            .count()
    );
    assert!(
        int64 > 0,
        "the fixture has int64 num_batches_tracked entries"
    );
}

#[test]
fn every_dtype_survives_both_writers() {
    let mut sd = StateDict::new();
    let floats = [0.5f32, -1.25, 3.0e-3, 65504.0, -0.0, 1.0e-7];
    for dtype in [DType::F32, DType::F16, DType::BF16, DType::F64] {
        // Values representable in every float dtype here, so the comparison is exact.
        let values = floats.iter().map(|&v| {
            if dtype == DType::F32 || dtype == DType::F64 {
                v
            } else {
                half::f16::from_f32(v).to_f32()
            }
        });
        let values: Vec<f32> = if dtype == DType::BF16 {
            values.map(|v| half::bf16::from_f32(v).to_f32()).collect()
        } else {
            values.collect()
        };
        sd.insert(
            format!("t.{}", dtype.name()),
            HostTensor {
                shape: vec![2, 3],
                dtype,
                values: TensorValues::F32(values),
            },
        );
    }
    for (dtype, values) in [
        (DType::I64, vec![i64::MIN, -1, 0, 7, i64::MAX, 3]),
        (
            DType::I32,
            vec![i32::MIN.into(), -1, 0, 7, i32::MAX.into(), 3],
        ),
        (DType::U8, vec![0, 1, 2, 254, 255, 3]),
        (DType::Bool, vec![0, 1, 1, 0, 0, 1]),
    ] {
        sd.insert(
            format!("t.{}", dtype.name()),
            HostTensor {
                shape: vec![3, 2],
                dtype,
                values: TensorValues::I64(values),
            },
        );
    }
    sd.insert("t.scalar", HostTensor::i64(vec![], vec![42]));
    sd.insert("t.empty", HostTensor::f32(vec![0, 4], vec![]));

    let dir = tempfile::tempdir().unwrap();
    for name in ["all.pth", "all.safetensors"] {
        let path = dir.path().join(name);
        save_state_dict(&path, &sd).unwrap();
        let back = load_state_dict_any(&path, None).unwrap();
        for (key, tensor) in sd.iter() {
            assert_bit_exact(&format!("{name}: {key}"), back.get(key).unwrap(), tensor);
        }
        assert_eq!(back.len(), sd.len());
    }
}

#[test]
fn safetensors_export_keeps_int64_and_reads_back_bit_exactly() {
    let net = official_net();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.safetensors");
    write_safetensors(&path, &net).unwrap();
    let back = read_safetensors(&path).unwrap();
    assert_same_tensors(&back, &net);
    let prefixed = load_state_dict_any(&path, Some("box_head.")).unwrap();
    assert_eq!(
        prefixed.len(),
        net.keys().filter(|k| k.starts_with("box_head.")).count()
    );
    assert!(prefixed.contains("conv1_ctr.1.num_batches_tracked"));
}
