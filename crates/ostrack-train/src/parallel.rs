//! Data parallel training over several devices, with the original's DDP semantics: the batch
//! is split into equal shards, every device runs the forward and backward pass of its shard on
//! its own replica (BatchNorm statistics per device, no SyncBN; the first device's statistics
//! are kept, as DDP broadcasts rank 0's buffers), the gradients are averaged (all-reduce mean)
//! on the first device, then one global clip and one AdamW step update the weights, which are
//! copied back to every replica. Shards run concurrently, one thread per device.

use burn::module::{ModuleVisitor, Param, RunningState};
use burn::optim::GradientsParams;
use burn::prelude::*;
use ostrack_model::OSTrack;

use crate::error::TrainError;
use crate::optim::{ExactAdamW, GroupLr, clip_coefficient, global_grad_norm, scale_gradients};
use crate::step::{
    StepOutcome, StepPosition, StepSettings, TrainBatch, backward, forward_losses, slot,
};

/// Splits a batch into `parts` equal shards along the batch dimension.
pub fn split_batch(batch: &TrainBatch, parts: usize) -> Result<Vec<TrainBatch>, TrainError> {
    let b = batch.batch_size();
    if parts == 0 || !b.is_multiple_of(parts) {
        return Err(TrainError::Setting(format!(
            "TRAIN.BATCH_SIZE {b} must be a multiple of the number of devices ({parts})"
        )));
    }
    let n = b / parts;
    let hw = batch.heatmap.len() / b.max(1);
    Ok((0..parts)
        .map(|p| {
            let r = p * n..(p + 1) * n;
            TrainBatch {
                template: batch.template.clone().slice(s![r.clone()]),
                search: batch.search.clone().slice(s![r.clone()]),
                template_mask: batch.template_mask.clone().map(|m| m.slice(s![r.clone()])),
                search_anno: batch.search_anno[r.clone()].to_vec(),
                heatmap: batch.heatmap[r.start * hw..r.end * hw].to_vec(),
            }
        })
        .collect())
}

/// Sums the replicas' gradients on `main`'s device and divides by their number.
fn average_gradients(
    main: &OSTrack,
    all: Vec<GradientsParams>,
    device: &Device,
) -> GradientsParams {
    struct Avg<'a> {
        all: &'a [GradientsParams],
        out: GradientsParams,
        device: &'a Device,
    }
    impl ModuleVisitor for Avg<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let mut sum: Option<Tensor<D>> = None;
            for g in self.all {
                if let Some(t) = g.get::<D>(param.id) {
                    let t = t.to_device(self.device);
                    sum = Some(match sum.take() {
                        Some(s) => s + t,
                        None => t,
                    });
                }
            }
            if let Some(s) = sum {
                self.out
                    .register::<D>(param.id, s.div_scalar(self.all.len() as f64));
            }
        }
    }
    let mut v = Avg {
        all: &all,
        out: GradientsParams::new(),
        device,
    };
    main.visit(&mut v);
    v.out
}

/// A copy of `master` on `device` with BatchNorm running statistics of its own. (Burn's
/// `RunningState` is shared between clones and `fork` moves it in place, so the statistics are
/// re-created before the copy is moved.)
fn replica(master: &OSTrack, device: &Device) -> OSTrack {
    let mut r = master.clone();
    for layer in r.box_head.conv_bn_layers_mut() {
        layer.bn.running_mean = RunningState::new(layer.bn.running_mean.value());
        layer.bn.running_var = RunningState::new(layer.bn.running_var.value());
    }
    r.fork(device)
}

/// One data-parallel iteration over `devices` (autodiff; `master` lives on the first).
/// Returns the updated master model.
#[allow(clippy::too_many_arguments)]
pub fn data_parallel_step(
    master: OSTrack,
    devices: &[Device],
    optim: &mut ExactAdamW,
    batch: &TrainBatch,
    keep_rate: Option<f64>,
    lr: GroupLr,
    settings: StepSettings,
    at: StepPosition,
) -> Result<(OSTrack, StepOutcome), TrainError> {
    let shards = split_batch(batch, devices.len())?;
    let mut replicas: Vec<OSTrack> = devices[1..].iter().map(|d| replica(&master, d)).collect();
    replicas.insert(0, master);
    let results: Vec<Result<(OSTrack, GradientsParams, Tensor<1>), TrainError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = replicas
                .into_iter()
                .zip(shards)
                .zip(devices)
                .map(|((mut model, shard), device)| {
                    scope.spawn(move || {
                        let shard = TrainBatch {
                            template: shard.template.to_device(device),
                            search: shard.search.to_device(device),
                            template_mask: shard.template_mask.map(|m| m.to_device(device)),
                            ..shard
                        };
                        let fwd =
                            forward_losses(&mut model, &shard, keep_rate, settings.weights, true);
                        let grads =
                            GradientsParams::from_grads(backward(&fwd.losses.total)?, &model);
                        Ok((model, grads, fwd.scalars()))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(TrainError::Setting("a device worker panicked".into()))
                    })
                })
                .collect()
        });
    let mut models = Vec::new();
    let mut grads = Vec::new();
    let mut shard_scalars = Vec::new();
    for r in results {
        let (m, g, v) = r?;
        models.push(m);
        grads.push(g);
        shard_scalars.push(v);
    }
    let main_device = devices[0].clone();
    let inner = main_device.clone().without_autodiff();
    let mut models = models.into_iter();
    let main = models
        .next()
        .ok_or_else(|| TrainError::Setting("no replica".into()))?;
    let grads = average_gradients(&main, grads, &inner);
    let grad_norm = global_grad_norm(&main, &grads);
    let clip_coef = clip_coefficient(grad_norm.clone(), settings.grad_clip_norm);
    let grads = scale_gradients(&main, grads, clip_coef.clone());
    let main = optim.step(main, &grads, lr);
    let forward = combine_shards(shard_scalars, &inner);
    let scalars = Tensor::cat(
        vec![
            forward,
            grad_norm.to_device(&inner),
            clip_coef.to_device(&inner),
        ],
        0,
    );
    Ok((
        main,
        StepOutcome {
            scalars,
            batch_size: batch.batch_size(),
            at,
        },
    ))
}

/// The shards' forward scalars ([`crate::step::ForwardLosses::scalars`]) as one step's, on
/// `device`: losses and IoU averaged over the shards (summed in shard order, then divided), the
/// GIoU fallback taken if any shard took it, the outputs finite if all shards' are.
fn combine_shards(shards: Vec<Tensor<1>>, device: &Device) -> Tensor<1> {
    let n = shards.len();
    let shards: Vec<Tensor<1>> = shards.into_iter().map(|t| t.to_device(device)).collect();
    let losses = shards
        .iter()
        .map(|t| t.clone().slice(s![0..slot::GIOU_FALLBACK]))
        .reduce(|a, b| a + b)
        .map(|sum| sum.div_scalar(n as f64));
    let flags = Tensor::stack::<2>(
        shards
            .iter()
            .map(|t| t.clone().slice(s![slot::GIOU_FALLBACK..slot::GRAD_NORM]))
            .collect(),
        0,
    );
    let fallback = flags.clone().slice(s![.., 0..1]).max().reshape([1]);
    let finite = flags.slice(s![.., 1..2]).min().reshape([1]);
    match losses {
        Some(l) => Tensor::cat(vec![l, fallback, finite], 0),
        None => Tensor::zeros([slot::GRAD_NORM], device),
    }
}
