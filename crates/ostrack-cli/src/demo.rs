//! `ostrack train` without arguments: the demo. It trains the demo network
//! ([`ostrack_train::demo`]) on the synthetic dataset, then runs exactly what `ostrack test` and
//! `ostrack analyze` run: the tracker over the held-out synthetic sequences (GOT-10k `val`
//! layout) with the untrained and the trained weights, scored by the GOT-10k toolkit's rules.
//!
//! Files below the output folder: `demo.yaml` (the config, written by
//! [`ostrack_train::demo::demo_options`]), `untrained.safetensors`
//! (the seeded initial model training starts from; not with `--pretrained`),
//! `held_out/<model>/ostrack/demo/` (result files in the original's layout) and
//! `held_out/report.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::Device;
use ostrack_data::{DataRoots, RootKey};
use ostrack_eval::{AnalysisReport, AnalyzeRequest, DatasetId, TrackerRuns};
use ostrack_model::OSTrackConfig;
use ostrack_track::{TestOptions, run_test};
use ostrack_train::{
    ConfigSource, TrainOptions, TrainSummary, latest_checkpoint, run_training, seeded_model,
};

/// What the demo did: the training run and the held-out scores (`None` when training was
/// interrupted).
pub struct DemoRun {
    pub training: TrainSummary,
    pub held_out: Option<AnalysisReport>,
}

/// Trains (`opts` from [`ostrack_train::demo::demo_options`], or any options with a config
/// file and data settings holding a GOT-10k `val` split), then tracks and scores the held-out
/// sequences with the initial and the trained model on `devices[0]`.
pub fn run_demo(opts: &TrainOptions, devices: &[Device]) -> Result<DemoRun> {
    let Some(device) = devices.first() else {
        bail!("no device given");
    };
    let ConfigSource::File(config) = &opts.config else {
        bail!(
            "the demo tracks with its config file; got {:?}",
            opts.config
        );
    };
    let out = &opts.output_dir;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // The model training starts from, when that is the seeded random one.
    let untrained = out.join("untrained.safetensors");
    let initial = if opts.pretrained.is_none() {
        let model_cfg = OSTrackConfig::from_experiment(&ostrack_config::load_config(config)?);
        let model = seeded_model(&model_cfg, opts.seed, device)?;
        ostrack_weights::write_safetensors(&untrained, &model.try_to_state_dict()?)?;
        Some(("untrained", untrained))
    } else {
        None
    };

    let training = run_training(opts, devices)?;
    if training.interrupted {
        return Ok(DemoRun {
            training,
            held_out: None,
        });
    }
    let trained = match &training.last_checkpoint {
        Some(path) => path.clone(),
        None => {
            latest_checkpoint(&out.join("checkpoints"))?
                .context("training wrote no checkpoint")?
                .path
        }
    };

    let settings = opts
        .data_settings
        .as_ref()
        .context("the demo's options name the synthetic dataset")?;
    let data_root = DataRoots::load(settings)?.resolve(RootKey::Got10kVal)?;
    let held_out = out.join("held_out");
    let mut trackers = Vec::new();
    for (name, weights) in initial.into_iter().chain([("trained", trained)]) {
        let results = held_out.join(name);
        let dir = track_held_out(config, &weights, &data_root, &results, opts.echo, device)?;
        trackers.push(TrackerRuns {
            name: name.to_string(),
            run_dirs: vec![dir],
        });
    }
    let report = ostrack_eval::analyze(&AnalyzeRequest {
        dataset: DatasetId::Got10kVal,
        data_root,
        trackers,
        preset: None,
    })?;
    ostrack_eval::write_report_json(&report, &held_out.join("report.json"))?;
    Ok(DemoRun {
        training,
        held_out: Some(report),
    })
}

/// `ostrack test` of `weights` on the held-out sequences into a fresh `results_root` (old
/// results would be skipped as done); returns the tracker's result folder.
fn track_held_out(
    config: &Path,
    weights: &Path,
    data_root: &Path,
    results_root: &Path,
    progress: bool,
    device: &Device,
) -> Result<PathBuf> {
    if results_root.exists() {
        std::fs::remove_dir_all(results_root)
            .with_context(|| format!("clearing {}", results_root.display()))?;
    }
    let test = TestOptions {
        config: config.to_path_buf(),
        weights: weights.to_path_buf(),
        dataset: DatasetId::Got10kVal,
        data_root: data_root.to_path_buf(),
        results_root: results_root.to_path_buf(),
        threads: 1,
        sequence: None,
        progress,
    };
    run_test(&test, device)?;
    Ok(test.tracker_dir())
}
