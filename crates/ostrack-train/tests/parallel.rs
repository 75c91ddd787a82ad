//! Data parallel step on two devices (two handles of the one Flex device, run concurrently):
//! with identical shards, the averaged gradients equal one shard's, so the update must equal a
//! single-device step on one shard, and the master keeps its own BatchNorm statistics.

use burn::prelude::*;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_train::parallel::data_parallel_step;
use ostrack_train::step::{StepPosition, StepSettings, TrainBatch, train_step};
use ostrack_train::{AdamWSettings, ExactAdamW, GroupLr, LossWeights};

fn batch(copies: usize, cfg: &OSTrackConfig, device: &Device) -> TrainBatch {
    let (t, s) = (cfg.template_size, cfg.search_size);
    device.seed(11);
    let z: Tensor<4> = Tensor::random(
        [1, 3, t, t],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    );
    let x: Tensor<4> = Tensor::random(
        [1, 3, s, s],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    );
    let anno = [0.41f32, 0.37, 0.22, 0.19];
    let heat = ostrack_data::generate_heatmap(&[anno.map(f64::from)], s, cfg.patch_size);
    TrainBatch {
        template: Tensor::cat(vec![z; copies], 0),
        search: Tensor::cat(vec![x; copies], 0),
        template_mask: ostrack_model::ce_template_mask(
            cfg.ce_template_range,
            cfg.template_size,
            cfg.patch_size,
            &vec![[0.25, 0.25, 0.5, 0.5]; copies],
        )
        .unwrap()
        .map(|m| ostrack_model::ce::mask_tensor(&m, copies, device)),
        search_anno: vec![anno; copies],
        heatmap: heat.repeat(copies),
    }
}

#[test]
fn two_devices_with_identical_shards_match_one_device() {
    let mut exp = ostrack_train::demo::demo_config().unwrap();
    exp.train.drop_path_rate = 0.0;
    let cfg = OSTrackConfig::from_experiment(&exp);
    let device = Device::flex().autodiff();
    device.seed(3);
    let init = OSTrack::new(&cfg, &device).to_state_dict();
    let fresh = || {
        OSTrack::new(&cfg, &device)
            .load_state_dict(&init, "init")
            .unwrap()
    };
    let settings = StepSettings {
        weights: LossWeights::default(),
        grad_clip_norm: 0.1,
    };
    let lr = GroupLr {
        head: 1e-3,
        backbone: 1e-3,
    };
    let at = StepPosition { epoch: 5, step: 1 };

    let mut single_optim = ExactAdamW::new(AdamWSettings::default());
    let (single, s_out) = train_step(
        fresh(),
        &mut single_optim,
        &batch(1, &cfg, &device),
        Some(0.8),
        lr,
        settings,
        at,
    )
    .unwrap();

    let devices = [device.clone(), Device::flex().autodiff()];
    let mut dp_optim = ExactAdamW::new(AdamWSettings::default());
    let (dp, d_out) = data_parallel_step(
        fresh(),
        &devices,
        &mut dp_optim,
        &batch(2, &cfg, &device),
        Some(0.8),
        lr,
        settings,
        at,
    )
    .unwrap();

    let (s_out, d_out) = (s_out.read().unwrap(), d_out.read().unwrap());
    assert_eq!(s_out.losses.total, d_out.losses.total, "shard loss");
    assert_eq!(s_out.losses.iou, d_out.losses.iou, "shard IoU");
    assert_eq!(s_out.giou_fallback, d_out.giou_fallback);
    let rel = ((s_out.grad_norm - d_out.grad_norm) / s_out.grad_norm).abs();
    assert!(
        rel < 1e-6,
        "grad norm {} vs {}",
        s_out.grad_norm,
        d_out.grad_norm
    );
    let (a, b) = (single.to_state_dict(), dp.to_state_dict());
    for (key, t) in a.iter() {
        let (x, y) = (t.to_f32(), b.get(key).unwrap().to_f32());
        let d = x
            .iter()
            .zip(&y)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(d <= 1e-6, "{key}: max diff {d}");
    }
}
