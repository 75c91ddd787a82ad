//! The official initial state of OSTrack's `CenterPredictor` box head (spec §1.9, §2.1):
//! Xavier-uniform conv weights (gain 1), PyTorch-default conv biases U(±1/√fan_in), BatchNorm
//! weight 1 / bias 0 / running mean 0 / running var 1 / `num_batches_tracked` 0 (int64).
//! Drawn from a seeded Rust RNG, so it matches PyTorch in distribution, not bit-wise.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::{HostTensor, StateDict, WeightsError};

/// Branches in the order their modules are registered (and written to checkpoints), with
/// their output channels.
const BRANCHES: [(&str, usize); 3] = [("ctr", 1), ("offset", 2), ("size", 2)];

/// Initial `box_head.*` tensors for a head reading `in_channels` backbone channels, with
/// conv widths `num_channels`, /2, /4, /8 (`MODEL.HEAD.NUM_CHANNELS`).
pub fn init_center_head(
    in_channels: usize,
    num_channels: usize,
    seed: u64,
) -> Result<StateDict, WeightsError> {
    if in_channels == 0 || num_channels / 8 == 0 {
        return Err(WeightsError::Tensor {
            key: "box_head".into(),
            message: format!(
                "need in_channels ≥ 1 and num_channels ≥ 8, got {in_channels} and {num_channels}"
            ),
        });
    }
    let widths = [
        in_channels,
        num_channels,
        num_channels / 2,
        num_channels / 4,
        num_channels / 8,
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut head = StateDict::new();
    for (branch, outputs) in BRANCHES {
        for layer in 1..=4 {
            let prefix = format!("box_head.conv{layer}_{branch}");
            let (c_in, c_out) = (widths[layer - 1], widths[layer]);
            let (weight, bias) = conv(&mut rng, c_out, c_in, 3);
            head.insert(format!("{prefix}.0.weight"), weight);
            head.insert(format!("{prefix}.0.bias"), bias);
            head.insert(
                format!("{prefix}.1.weight"),
                HostTensor::f32(vec![c_out], vec![1.0; c_out]),
            );
            head.insert(
                format!("{prefix}.1.bias"),
                HostTensor::f32(vec![c_out], vec![0.0; c_out]),
            );
            head.insert(
                format!("{prefix}.1.running_mean"),
                HostTensor::f32(vec![c_out], vec![0.0; c_out]),
            );
            head.insert(
                format!("{prefix}.1.running_var"),
                HostTensor::f32(vec![c_out], vec![1.0; c_out]),
            );
            head.insert(
                format!("{prefix}.1.num_batches_tracked"),
                HostTensor::i64(vec![], vec![0]),
            );
        }
        let (weight, bias) = conv(&mut rng, outputs, widths[4], 1);
        head.insert(format!("box_head.conv5_{branch}.weight"), weight);
        head.insert(format!("box_head.conv5_{branch}.bias"), bias);
    }
    Ok(head)
}

/// A conv layer's `[out, in, k, k]` weight (Xavier-uniform) and `[out]` bias (default init).
fn conv(rng: &mut StdRng, c_out: usize, c_in: usize, k: usize) -> (HostTensor, HostTensor) {
    let (fan_in, fan_out) = (c_in * k * k, c_out * k * k);
    let xavier = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    let bias_bound = (1.0 / (fan_in as f64).sqrt()) as f32;
    let mut uniform = |n: usize, bound: f32| {
        (0..n)
            .map(|_| rng.random_range(-bound..bound))
            .collect::<Vec<f32>>()
    };
    let weight = HostTensor::f32(vec![c_out, c_in, k, k], uniform(c_out * fan_in, xavier));
    let bias = HostTensor::f32(vec![c_out], uniform(c_out, bias_bound));
    (weight, bias)
}
