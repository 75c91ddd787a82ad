//! The box-head initialisation against the official one of fixture C (`ostrack*.box_head.*`,
//! torch's RNG): same keys, shapes, dtypes and constants; random tensors within the same
//! bounds and with the same spread.

mod common;

use common::{fixture, sidecar};
use ostrack_weights::{DType, StateDict, extract_state_dict, init_center_head, read_safetensors};

fn official_head(variant: &str) -> StateDict {
    read_safetensors(fixture("mae_tiny.safetensors"))
        .unwrap()
        .strip_prefix(&format!("{variant}."))
}

/// Xavier bound for conv weights, default-init bound for conv biases (from the weight shape).
fn bound(key: &str, head: &StateDict) -> f32 {
    let weight_key = key.replace(".bias", ".weight");
    let shape = &head.get(&weight_key).unwrap().shape;
    let receptive: usize = shape[2..].iter().product();
    let (fan_in, fan_out) = (shape[1] * receptive, shape[0] * receptive);
    if key.ends_with(".weight") {
        (6.0 / (fan_in + fan_out) as f32).sqrt()
    } else {
        1.0 / (fan_in as f32).sqrt()
    }
}

fn variance(values: &[f32]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n
}

/// Conv parameters: the `.0.` of a Conv+BN block, or the final 1×1 conv5.
fn is_conv(key: &str) -> bool {
    key.contains(".0.") || key.contains("conv5_")
}

#[test]
fn head_init_matches_the_official_layout_and_distribution() {
    let meta = sidecar("mae_tiny.json");
    let in_channels = meta["tiny_dims"]["embed_dim"].as_u64().unwrap() as usize;
    for (variant, cfg) in meta["cfgs"].as_object().unwrap() {
        let num_channels = cfg["MODEL"]["HEAD"]["NUM_CHANNELS"].as_u64().unwrap() as usize;
        let official = official_head(variant).strip_prefix("box_head.");
        let ours_full = init_center_head(in_channels, num_channels, 3000).unwrap();
        let ours = ours_full.strip_prefix("box_head.");
        assert_eq!(
            ours.len(),
            ours_full.len(),
            "every key starts with box_head."
        );

        let mut a: Vec<&str> = ours.keys().collect();
        let mut b: Vec<&str> = official.keys().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "{variant}: head keys");

        for (key, want) in official.iter() {
            let got = ours.get(key).unwrap();
            assert_eq!(
                (&got.shape, got.dtype),
                (&want.shape, want.dtype),
                "{variant} {key}"
            );
            if !is_conv(key) {
                // BatchNorm constants: weight 1, bias 0, running stats 0 / 1, count 0.
                assert_eq!(got, want, "{variant} {key}");
                continue;
            }
            let limit = bound(key, &official);
            let (ours_v, theirs_v) = (got.as_f32().unwrap(), want.as_f32().unwrap());
            for (name, values) in [("ours", ours_v), ("official", theirs_v)] {
                let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(
                    max <= limit,
                    "{variant} {key} ({name}): max |v| {max} > bound {limit}"
                );
            }
            // Uniform(±b) has variance b²/3; with ≥ 1000 draws both sides agree closely.
            if ours_v.len() >= 1000 {
                let expected = f64::from(limit).powi(2) / 3.0;
                for (name, values) in [("ours", ours_v), ("official", theirs_v)] {
                    let ratio = variance(values) / expected;
                    assert!(
                        (ratio - 1.0).abs() < 0.1,
                        "{variant} {key} ({name}): variance ratio {ratio}"
                    );
                }
            }
        }
    }
}

#[test]
fn head_keys_come_in_the_official_registration_order() {
    let net = extract_state_dict(fixture("OSTrack_ep0001.pth.tar"), &["net"]).unwrap();
    let official: Vec<&str> = net.keys().filter(|k| k.starts_with("box_head.")).collect();
    let embed = net.get("backbone.pos_embed").unwrap().shape[2];
    let channels = net.get("box_head.conv1_ctr.0.weight").unwrap().shape[0];
    let ours = init_center_head(embed, channels, 1).unwrap();
    assert_eq!(ours.keys().collect::<Vec<_>>(), official);
    assert_eq!(
        ours.get("box_head.conv1_ctr.1.num_batches_tracked")
            .unwrap()
            .dtype,
        DType::I64
    );
}

#[test]
fn head_init_is_deterministic_per_seed() {
    let a = init_center_head(64, 32, 7).unwrap();
    assert_eq!(a, init_center_head(64, 32, 7).unwrap());
    assert_ne!(a, init_center_head(64, 32, 8).unwrap());
    assert!(init_center_head(64, 4, 7).is_err());
}
