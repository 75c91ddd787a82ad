//! Fixture I: two official training iterations (loss parts, raw gradients, global norm and clip
//! coefficient, parameters and BatchNorm statistics after each AdamW step).

mod common;

use std::collections::BTreeMap;

use burn::optim::GradientsParams;
use burn::prelude::*;
use common::step_fixture::{batch, experiment, roundoff_biases, transpose_2d};
use common::*;
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_testkit::test_device;
use ostrack_train::optim::{clip_coefficient, global_grad_norm, named_gradients, scale_gradients};
use ostrack_train::step::{StepPosition, backward, forward_losses};
use ostrack_train::{AdamWSettings, ExactAdamW, LossWeights, keep_rate_for_epoch, lr_for_epoch};

const LOSS_TOL: f64 = 1e-6;
/// Step 2's losses and IoUs: computed from step-1 parameters, whose sub-eps entries differ by up
/// to a learning rate (fixtures README, "Sub-eps entries").
const INHERITED_LOSS_TOL: f64 = 1e-5;
const TENSOR_TOL: f64 = 1e-5;
const OUTPUT_TOL: f64 = 1e-4;
/// Raw gradients on a GPU test device (Flex: [`TENSOR_TOL`]). A GPU sums in another order (matmul
/// tiles, reductions); measured on wgpu/lavapipe (2026-12-08) every gradient is within 1e-5 but
/// one, `box_head.conv3_ctr.1.bias` at 1.004e-5: a BatchNorm bias's gradient is a sum over
/// B·H·W upstream values that largely cancel, so its relative error is the largest. 3× margin
/// for other GPUs' orders.
const GPU_GRADIENT_TOL: f64 = 3e-5;
/// Per-sample IoUs on a GPU test device (Flex: [`LOSS_TOL`]): IoU divides differences of box
/// coordinates, so the predicted boxes' 5.2e-7 relative difference (GPU forward order) became
/// 2.9e-6 in one sample's IoU on wgpu/lavapipe. The losses themselves keep 1e-6 (1.7e-7 there).
const GPU_IOU_PER_SAMPLE_TOL: f64 = 1e-5;
/// 10 · AdamW's eps: below this a clipped gradient's f32 round-off becomes a change of order lr.
const SUB_EPS: f64 = 1e-7;

fn scalar(st: &ostrack_weights::StateDict, key: &str) -> f32 {
    get(st, key).to_f32()[0]
}

/// The official steps 1..=`steps` on the test device (`OSTRACK_TEST_DEVICE`), with the
/// fixtures README's tolerances: losses 1e-6 relative (step 2: 1e-5), network outputs 1e-4,
/// raw gradients, norm, clip coefficient and parameters 1e-5 relative to each tensor's max, the
/// 12 round-off conv biases (and step 2's following BN `running_mean`) and every entry whose
/// clipped gradient is below 10·eps (at that step or an earlier one) within the group's learning
/// rate. On a GPU test device the raw gradients and per-sample IoUs take the GPU tolerances
/// above. Comparisons are collected, so one run lists every one out of tolerance.
fn official_training_steps(steps: usize) {
    let (st, json) = load_fixture("train_step");
    let cfg = experiment(&json);
    let test_device = test_device();
    let gradient_tol = if test_device.is_gpu() {
        GPU_GRADIENT_TOL
    } else {
        TENSOR_TOL
    };
    let device = test_device.device.clone().autodiff();
    let model_cfg = OSTrackConfig::from_experiment(&cfg);
    let mut model = OSTrack::new(&model_cfg, &device)
        .load_state_dict(&st.strip_prefix("param."), "train_step param.*")
        .unwrap();
    let mut optim = ExactAdamW::new(AdamWSettings {
        weight_decay: cfg.train.weight_decay,
        ..AdamWSettings::default()
    });
    let weights = LossWeights {
        giou: cfg.train.giou_weight,
        l1: cfg.train.l1_weight,
        focal: 1.0,
    };
    let mut failures: Vec<String> = Vec::new();
    let mut worst: BTreeMap<&str, f64> = BTreeMap::new();
    let mut note = |what: &'static str, err: f64| {
        let e = worst.entry(what).or_insert(0.0);
        *e = e.max(err);
    };
    let all_steps = json["steps"].as_array().expect("sidecar steps");
    // Parameter entries that had a sub-eps clipped gradient at some step so far: their value
    // keeps that step's lr-sized difference (step 1's entry [12289] of conv1_ctr.0.weight is
    // 7.9e-6 off after step 2, where its own gradient is no longer sub-eps).
    let mut sub_eps_so_far: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    assert!(
        steps <= all_steps.len(),
        "the fixture has {} steps",
        all_steps.len()
    );

    for (k, meta) in all_steps.iter().take(steps).enumerate() {
        let s = format!("step{}", k + 1);
        let epoch = meta["epoch"].as_u64().unwrap() as usize;
        let loss_tol = if k == 0 { LOSS_TOL } else { INHERITED_LOSS_TOL };
        let iou_per_sample_tol = if test_device.is_gpu() {
            GPU_IOU_PER_SAMPLE_TOL
        } else {
            loss_tol
        };

        // Schedules: keep rate and learning rates of that epoch.
        let keep = keep_rate_for_epoch(&cfg, epoch);
        let expected_keep = meta["ce_keep_rate"].as_f64().unwrap();
        assert_eq!(keep.unwrap_or(1.0), expected_keep, "{s}: CE keep rate");
        assert_eq!(
            keep.is_none(),
            meta["ce_keep_rate_type"] == "int",
            "{s}: integer keep rate 1 = no elimination"
        );
        let lr = lr_for_epoch(&cfg, epoch);
        let lrs = meta["lr_at_optimizer_step"].as_array().unwrap();
        assert_eq!(
            [lr.head, lr.backbone],
            [lrs[0].as_f64().unwrap(), lrs[1].as_f64().unwrap()],
            "{s}: learning rates"
        );
        let group_lr = |key: &str| {
            if key.contains("backbone") {
                lr.backbone
            } else {
                lr.head
            }
        };

        let batch = batch(&st, &cfg, k + 1, &device);

        // Forward (train mode) and losses.
        let at = StepPosition { epoch, step: k + 1 };
        let fwd = forward_losses(&mut model, &batch, keep, weights, true);
        for (name, t) in [
            ("pred_boxes", to_vec(fwd.output.pred_boxes.clone())),
            ("score_map", to_vec(fwd.output.score_map.clone())),
        ] {
            let err = rel_err(&t, &get(&st, &format!("{s}.{name}")).to_f32());
            println!("{s}.{name}: rel err {err:.2e}");
            note("outputs", err);
            if err > OUTPUT_TOL {
                failures.push(format!("{s}.{name}: rel err {err:.3e}"));
            }
        }

        let (v, _) = fwd.read(at).unwrap();
        for (name, ours) in [
            ("total", v.total),
            ("giou", v.giou),
            ("l1", v.l1),
            ("location", v.location),
        ] {
            let expected = scalar(&st, &format!("{s}.loss.{name}"));
            let err = rel_err(&[ours], &[expected]);
            println!("{s} loss.{name}: {ours} vs {expected} (rel {err:.2e})");
            note("losses", err);
            if err > loss_tol {
                failures.push(format!(
                    "{s} loss.{name}: {ours} vs official {expected} (rel err {err:.3e})"
                ));
            }
        }
        let iou_err = rel_err(&[v.iou], &[scalar(&st, &format!("{s}.iou"))]);
        note("losses", iou_err);
        if iou_err > loss_tol {
            failures.push(format!("{s}: mean IoU (rel err {iou_err:.3e})"));
        }
        let per_sample = to_vec(fwd.losses.iou_per_sample.clone());
        let err = rel_err(
            &per_sample,
            &get(&st, &format!("{s}.iou_per_sample")).to_f32(),
        );
        note("IoU per sample", err);
        if err > iou_per_sample_tol {
            failures.push(format!("{s}: IoU per sample (rel err {err:.3e})"));
        }
        // Raw gradients.
        let roundoff = roundoff_biases(meta);
        let grads = GradientsParams::from_grads(backward(&fwd.losses.total).unwrap(), &model);
        let named = named_gradients(&model, &grads).unwrap();
        let prefix = format!("{s}.grad.");
        let expected_keys: Vec<&str> = st
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .collect();
        let mut ours_keys: Vec<&str> = named.iter().map(|(k, _, _)| k.as_str()).collect();
        ours_keys.sort();
        let mut exp_sorted = expected_keys.clone();
        exp_sorted.sort();
        assert_eq!(
            ours_keys, exp_sorted,
            "{s}: the set of parameters with a gradient"
        );
        for (key, shape, values) in &named {
            let values = if shape.len() == 2 {
                transpose_2d(values, shape)
            } else {
                values.clone()
            };
            let expected = get(&st, &format!("{prefix}{key}")).to_f32();
            if roundoff.contains_key(key) {
                // True gradient 0 (BN follows): round-off only, compared after the step.
                continue;
            }
            let err = rel_err(&values, &expected);
            note("gradients", err);
            if err > gradient_tol {
                failures.push(format!("{s}: gradient of {key}: rel err {err:.3e}"));
            }
        }

        // Global norm and clip coefficient.
        let norm_t = global_grad_norm(&model, &grads);
        let norm = to_vec(norm_t.clone())[0];
        let expected_norm = scalar(&st, &format!("{s}.grad_total_norm"));
        let err = rel_err(&[norm], &[expected_norm]);
        note("grad norm", err);
        if err > TENSOR_TOL {
            failures.push(format!("{s}: grad total norm {norm} vs {expected_norm}"));
        }
        let coef_t = clip_coefficient(norm_t, cfg.train.grad_clip_norm);
        let coef = to_vec(coef_t.clone())[0];
        let expected_coef = scalar(&st, &format!("{s}.clip_coef"));
        let err = rel_err(&[coef], &[expected_coef]);
        note("clip coef", err);
        if err > TENSOR_TOL {
            failures.push(format!("{s}: clip coef {coef} vs {expected_coef}"));
        }
        println!(
            "{s}: grad norm {norm} (official {expected_norm}), clip coef {coef:e} (official {expected_coef:e})"
        );

        // AdamW step and the parameters / BN statistics after it.
        let grads = scale_gradients(&model, grads, coef_t);
        model = optim.step(model, &grads, lr);
        let after = model.to_state_dict();
        let prefix = format!("{s}.param.");
        let mut compared = 0;
        let mut sub_eps_entries = 0;
        for key in st.keys().filter_map(|k| k.strip_prefix(prefix.as_str())) {
            let expected = get(&st, &format!("{prefix}{key}"));
            let ours = after
                .get(key)
                .unwrap_or_else(|| panic!("{s}: model lacks {key}"));
            compared += 1;
            if key.ends_with("num_batches_tracked") {
                assert_eq!(ours.to_i64(), expected.to_i64(), "{s}: {key}");
                continue;
            }
            let (a, b) = (ours.to_f32(), expected.to_f32());
            let bn_after_roundoff = k > 0
                && key.ends_with(".running_mean")
                && roundoff
                    .values()
                    .any(|bn| key.strip_suffix(".running_mean") == Some(bn.as_str()));
            if roundoff.contains_key(key) || bn_after_roundoff {
                let d = max_abs_diff(&a, &b);
                note("round-off params (abs / lr)", d / group_lr(key));
                if d > group_lr(key) {
                    failures.push(format!(
                        "{s}: {key} differs by {d:.3e} > lr {}",
                        group_lr(key)
                    ));
                }
                continue;
            }
            // Entries whose official clipped gradient is below 10·eps, at this step or an
            // earlier one: within the group's lr.
            if let Some(g) = st.get(&format!("{s}.grad.{key}")) {
                let seen = sub_eps_so_far
                    .entry(key.to_string())
                    .or_insert_with(|| vec![false; a.len()]);
                for (flag, g) in seen.iter_mut().zip(g.to_f32()) {
                    *flag |= (g as f64 * expected_coef as f64).abs() < SUB_EPS;
                }
            }
            let sub_eps = sub_eps_so_far.get(key);
            let is_sub_eps = |i: usize| sub_eps.is_some_and(|c| c[i]);
            let scale = b
                .iter()
                .fold(0f64, |m, &v| m.max((v as f64).abs()))
                .max(1e-6);
            let mut worst_rel = 0f64;
            let mut worst_at = 0;
            for i in 0..a.len() {
                let d = (a[i] as f64 - b[i] as f64).abs();
                if is_sub_eps(i) {
                    sub_eps_entries += 1;
                    note("sub-eps entries (abs / lr)", d / group_lr(key));
                    if d > group_lr(key) || !a[i].is_finite() {
                        failures.push(format!(
                            "{s}: {key}[{i}] (sub-eps gradient) differs by {d:.3e} > lr {}",
                            group_lr(key)
                        ));
                    }
                } else {
                    let rel = if d.is_nan() { f64::INFINITY } else { d / scale };
                    if rel > worst_rel {
                        worst_rel = rel;
                        worst_at = i;
                    }
                }
            }
            note(
                if key.contains("running_") {
                    "BN running stats"
                } else {
                    "parameters"
                },
                worst_rel,
            );
            if worst_rel > TENSOR_TOL {
                failures.push(format!(
                    "{s}: {key} after the step: rel err {worst_rel:.3e} at [{worst_at}] (ours {}, official {})",
                    a[worst_at], b[worst_at]
                ));
            }
        }
        println!(
            "{s}: {sub_eps_entries} parameter entries with a clipped gradient below {SUB_EPS:e}"
        );
        assert_eq!(compared, after.len(), "{s}: every state entry compared");
    }
    println!("worst errors: {worst:#?}");
    assert!(
        failures.is_empty(),
        "{} comparisons out of tolerance:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn first_official_training_step() {
    official_training_steps(1);
}

#[test]
fn two_official_training_steps() {
    if test_device().is_gpu() {
        // Step 1 above is the GPU check; step 2 repeats it from step-1 parameters (issue 12).
        println!("two steps: Flex only; the GPU run checks step 1");
        return;
    }
    official_training_steps(2);
}

/// torch's `clip_grad_norm_` coefficient in f32, as the host computed it before it moved to the
/// device: `reciprocal(total + 1e-6) * max_norm`, clamped at 1.
fn host_clip_coefficient(total_norm: f32, max_norm: f64) -> f32 {
    let coef = (1.0f32 / (total_norm + 1e-6f32)) * max_norm as f32;
    coef.min(1.0)
}

#[test]
fn device_clip_coefficient_is_bit_identical_to_the_f32_formula() {
    let device = Device::flex();
    let mut norms = vec![
        0.0f32, 1e-9, 1e-6, 0.05, 0.0999999, 0.1, 0.1000001, 0.3, 1.0, 7.25,
    ];
    norms.extend((0..200).map(|i| 1.37f32.powi(i - 60)));
    for max_norm in [0.1f64, 1.0, 5.0, 0.3333] {
        for &n in &norms {
            let t = Tensor::<1>::from_data(TensorData::new(vec![n], [1]), &device);
            let ours = to_vec(clip_coefficient(t, max_norm))[0];
            let host = host_clip_coefficient(n, max_norm);
            assert_eq!(
                ours.to_bits(),
                host.to_bits(),
                "norm {n:e}, max {max_norm}: {ours:e} vs {host:e}"
            );
        }
    }
}

#[test]
fn device_gradient_scaling_is_bit_identical_to_a_scalar_product() {
    let device = Device::flex().autodiff();
    let exp = ostrack_train::demo::demo_config().unwrap();
    let mut m = OSTrack::new(&OSTrackConfig::from_experiment(&exp), &device);
    let batch = ostrack_train::TrainBatch::synthetic(&exp, 2, &device).unwrap();
    let fwd = forward_losses(&mut m, &batch, Some(0.7), LossWeights::default(), true);
    let grads = GradientsParams::from_grads(backward(&fwd.losses.total).unwrap(), &m);
    let norm = global_grad_norm(&m, &grads);
    let coef_t = clip_coefficient(norm, 0.1);
    let coef = to_vec(coef_t.clone())[0];
    assert!(coef < 1.0, "the demo step must clip ({coef})");
    let raw = named_gradients(&m, &grads).unwrap();
    let scaled = named_gradients(&m, &scale_gradients(&m, grads, coef_t)).unwrap();
    assert_eq!(raw.len(), scaled.len());
    for ((key, _, g), (_, _, s)) in raw.iter().zip(&scaled) {
        for (a, b) in g.iter().zip(s) {
            assert_eq!((a * coef).to_bits(), b.to_bits(), "{key}");
        }
    }
}
