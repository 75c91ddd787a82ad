//! `run_training`: the epoch loop of `LTRTrainer` around [`train_step`], with validation,
//! the checkpoint policy, resume, Ctrl-C handling and progress output.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::prelude::*;
use ostrack_config::{CeTemplateRange, ExperimentConfig};
use ostrack_data::{DataRoots, LoaderOptions, Split, TrainPairLoader};
use ostrack_model::{OSTrack, OSTrackConfig};
use ostrack_weights::StateDict;

use crate::checkpoint::{TrainState, latest_checkpoint, save_checkpoint};
use crate::error::TrainError;
use crate::optim::{AdamWSettings, ExactAdamW, GroupLr};
use crate::parallel::data_parallel_step;
use crate::progress::{
    EpochMeters, EpochRecord, PendingSteps, RunLog, StepRecord, epoch_bar, format_stats_line,
};
use crate::schedule::{adjust_keep_rate, is_checkpoint_epoch, step_lr};
use crate::step::{StepPosition, StepSettings, TrainBatch, forward_losses, train_step};

/// Which experiment to train.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// An experiment YAML (official schema).
    File(PathBuf),
    /// An already loaded configuration (e.g. the demo config adjusted by a program).
    Loaded {
        name: String,
        config: Box<ExperimentConfig>,
    },
}

/// What to do with checkpoints already in the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResumeMode {
    /// Continue from the latest complete checkpoint if there is one (and say so).
    #[default]
    Latest,
    /// Start from scratch; existing checkpoints are left in place and overwritten as the new
    /// run reaches their epochs.
    Fresh,
}

/// Everything `ostrack train` passes in.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub config: ConfigSource,
    /// `ostrack-data.yaml` with the dataset roots; `None` = `./ostrack-data.yaml`.
    pub data_settings: Option<PathBuf>,
    /// Checkpoints, logs and metrics go here.
    pub output_dir: PathBuf,
    pub resume: ResumeMode,
    /// Seeds data sampling, initialisation and drop path.
    pub seed: u64,
    /// Stop after this epoch (the schedules still follow `TRAIN.EPOCH`).
    pub max_epochs: Option<usize>,
    /// Stop after this many optimizer steps in this process (a checkpoint is written).
    pub max_steps: Option<u64>,
    /// Initial weights: an MAE encoder checkpoint (mapped like the original) or a full OSTrack
    /// state dict. `None`: random initialisation.
    pub pretrained: Option<PathBuf>,
    /// Data loader threads (0 = one per core).
    pub loader_threads: usize,
    /// Also checkpoint every N epochs (the demo uses 1).
    pub checkpoint_every: Option<usize>,
    /// Print progress and log lines (off in tests).
    pub echo: bool,
    /// Read the training step's scalars (losses, IoU, grad norm: one transfer) back every this
    /// many steps, and on print, checkpoint and epoch-end steps. `None`: every step on the Flex
    /// CPU backend (a read costs nothing there, and a non-finite value is reported at the exact
    /// step), `TRAIN.PRINT_INTERVAL` on other devices (each read stalls a GPU's queue). Between
    /// reads the epoch averages accumulate on the device; `steps.jsonl` gets the read steps.
    pub readback_every: Option<usize>,
    /// Test hook: end the process's training abruptly (no checkpoint, like `kill -9`) after
    /// this many steps.
    #[doc(hidden)]
    pub crash_after_steps: Option<u64>,
}

impl TrainOptions {
    /// `ostrack train`'s defaults for `config` into `output_dir`: resume from the latest
    /// checkpoint, seed 42, the whole schedule, random initialisation, progress printed.
    pub fn new(config: ConfigSource, output_dir: impl Into<PathBuf>) -> Self {
        Self {
            config,
            data_settings: None,
            output_dir: output_dir.into(),
            resume: ResumeMode::Latest,
            seed: 42,
            max_epochs: None,
            max_steps: None,
            pretrained: None,
            loader_threads: 0,
            checkpoint_every: None,
            echo: true,
            readback_every: None,
            crash_after_steps: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub config_name: String,
    pub epochs_done: usize,
    pub global_step: u64,
    pub resumed_from: Option<PathBuf>,
    pub last_checkpoint: Option<PathBuf>,
    /// Stopped by Ctrl-C (a checkpoint was written).
    pub interrupted: bool,
    /// Steps of this process, in order.
    pub steps: Vec<StepRecord>,
    pub epochs: Vec<EpochRecord>,
    pub wall_time: Duration,
    pub log_file: PathBuf,
    pub metrics_file: PathBuf,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C sets a flag; the loop finishes the current step, saves and returns.
fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another handler is installed (e.g. by the embedding program); then
        // that program owns Ctrl-C and training simply runs on.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

/// splitmix64, for per-step seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Loaded configuration with its name and data roots.
pub struct Experiment {
    pub name: String,
    pub cfg: ExperimentConfig,
    pub roots: DataRoots,
}

/// Reads the config and finds the data settings.
pub fn prepare_experiment(opts: &TrainOptions) -> Result<Experiment, TrainError> {
    let (name, cfg) = match &opts.config {
        ConfigSource::File(p) => {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "experiment".into());
            (name, ostrack_config::load_config(p)?)
        }
        ConfigSource::Loaded { name, config } => (name.clone(), (**config).clone()),
    };
    let settings = opts
        .data_settings
        .clone()
        .unwrap_or_else(|| PathBuf::from(ostrack_data::SETTINGS_FILE));
    if !settings.exists() {
        return Err(TrainError::Setting(format!(
            "dataset settings {} not found: write one (see `ostrack data --help`) or pass --data-settings",
            settings.display()
        )));
    }
    let roots = DataRoots::load(&settings)?;
    Ok(Experiment { name, cfg, roots })
}

/// The keep rate the original passes for 1-based `epoch` (`None` = no elimination).
pub fn keep_rate_for_epoch(cfg: &ExperimentConfig, epoch: usize) -> Option<f64> {
    let bb = &cfg.model.backbone;
    if !bb.is_ce() || bb.ce_loc.is_empty() {
        return None;
    }
    let base = bb.ce_keep_ratio.first().copied().unwrap_or(1.0);
    adjust_keep_rate(
        epoch,
        cfg.train.ce_start_epoch,
        cfg.train.ce_warm_epoch,
        base,
    )
}

/// Learning rates of 1-based `epoch` (StepLR by `LR_DROP_EPOCH`, gamma 0.1).
pub fn lr_for_epoch(cfg: &ExperimentConfig, epoch: usize) -> GroupLr {
    let t = &cfg.train;
    GroupLr {
        head: step_lr(t.lr, epoch - 1, t.lr_drop_epoch, 0.1),
        backbone: step_lr(
            t.lr * t.backbone_multiplier,
            epoch - 1,
            t.lr_drop_epoch,
            0.1,
        ),
    }
}

/// A randomly initialised model that depends on `seed` alone, not on the device: the parameters
/// are drawn by Flex's seeded host RNG and copied to `device` (every GPU backend has an RNG of
/// its own, so the same seed used to give another model there: step-1 loss 53.8 on wgpu against
/// 36.3 on Flex). On Flex the values, and the RNG state after the call, are what drawing on the
/// device itself gave.
pub fn seeded_model(
    model_cfg: &OSTrackConfig,
    seed: u64,
    device: &Device,
) -> Result<OSTrack, TrainError> {
    let host = Device::flex();
    host.seed(seed);
    let drawn = OSTrack::new(model_cfg, &host).try_to_state_dict()?;
    device.seed(seed);
    Ok(OSTrack::new(model_cfg, device).load_state_dict(&drawn, "the seeded initial model")?)
}

fn initial_model(
    cfg: &ExperimentConfig,
    opts: &TrainOptions,
    device: &Device,
) -> Result<OSTrack, TrainError> {
    let model_cfg = OSTrackConfig::from_experiment(cfg);
    let model = seeded_model(&model_cfg, opts.seed, device)?;
    let Some(path) = &opts.pretrained else {
        return Ok(model);
    };
    let origin = path.display().to_string();
    let sd = ostrack_weights::load_state_dict_any(path, None)?;
    if sd.keys().any(|k| k.starts_with("box_head.")) {
        return Ok(model.load_state_dict(&sd, &origin)?);
    }
    let geometry = ostrack_weights::TrackerGeometry {
        template_size: model_cfg.template_size,
        search_size: model_cfg.search_size,
        patch_size: model_cfg.patch_size,
    };
    let mapped = ostrack_weights::mae_to_ostrack_backbone(&sd, &geometry)?;
    let mut full = model.try_to_state_dict()?;
    for (k, t) in mapped.backbone.iter() {
        full.insert(k, t.clone());
    }
    Ok(model.load_state_dict(&full, &origin)?)
}

/// How often the training loop reads the step scalars back (see
/// [`TrainOptions::readback_every`]).
fn readback_every(opts: &TrainOptions, cfg: &ExperimentConfig, device: &Device) -> usize {
    match opts.readback_every {
        Some(k) => k.max(1),
        None if device.clone().without_autodiff() == Device::flex() => 1,
        None => cfg.train.print_interval.max(1),
    }
}

/// Trains as configured on `devices` (one: plain training; several: data parallel, see
/// [`crate::parallel`]; `TRAIN.BATCH_SIZE` is the total batch and must divide evenly).
pub fn run_training(opts: &TrainOptions, devices: &[Device]) -> Result<TrainSummary, TrainError> {
    let started = Instant::now();
    let Some(device) = devices.first() else {
        return Err(TrainError::Setting("no device given".into()));
    };
    let device = device.clone().autodiff();
    let all_devices: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    install_interrupt_handler();
    let exp = prepare_experiment(opts)?;
    let cfg = &exp.cfg;
    let out = &opts.output_dir;
    let ckpt_dir = out.join("checkpoints");
    let mut log = RunLog::open(out, &exp.name, opts.echo)?;
    let mut summary = TrainSummary {
        config_name: exp.name.clone(),
        epochs_done: 0,
        global_step: 0,
        resumed_from: None,
        last_checkpoint: None,
        interrupted: false,
        steps: Vec::new(),
        epochs: Vec::new(),
        wall_time: Duration::ZERO,
        log_file: log.log_path.clone(),
        metrics_file: log.metrics_path.clone(),
    };

    let mut model = initial_model(cfg, opts, &device)?;
    let mut optim = ExactAdamW::new(AdamWSettings {
        weight_decay: cfg.train.weight_decay,
        ..AdamWSettings::default()
    });
    let mut seed = opts.seed;
    let (mut epochs_done, mut skip_steps, mut global_step) = (0usize, 0usize, 0u64);
    let found = latest_checkpoint(&ckpt_dir)?;
    match (opts.resume, found) {
        (ResumeMode::Latest, Some(ck)) => {
            log.line(None, &format!(
                "Resuming from {} (epoch {} done, {} steps into the next); use --no-resume to start fresh",
                ck.path.display(), ck.state.epochs_done, ck.state.steps_into_epoch
            ))?;
            if ck.same_config(cfg) == Some(false) {
                log.line(None, "note: the experiment config differs from the one this checkpoint was trained with; continuing with the current one")?;
            }
            if ck.state.seed != seed {
                log.line(None, &format!("note: continuing with the checkpoint's seed {} (not {seed})", ck.state.seed))?;
                seed = ck.state.seed;
            }
            model = model.load_state_dict(&ck.model()?, &ck.path.display().to_string())?;
            optim.load_state_dict(&ck.optimizer()?, &device.clone().without_autodiff(), &ck.path.display().to_string())?;
            epochs_done = ck.state.epochs_done;
            skip_steps = ck.state.steps_into_epoch;
            global_step = ck.state.global_step;
            summary.resumed_from = Some(ck.path);
        }
        (ResumeMode::Fresh, Some(ck)) => log.line(None, &format!(
            "--no-resume: starting fresh; the checkpoints in {} (latest {}) are ignored and will be overwritten",
            ckpt_dir.display(), ck.path.display()
        ))?,
        (_, None) => log.line(None, &format!("No checkpoint in {}: starting fresh", ckpt_dir.display()))?,
    }
    let loader_opts = LoaderOptions {
        seed,
        threads: opts.loader_threads,
        ..LoaderOptions::default()
    };
    let loader = TrainPairLoader::from_config(cfg, &exp.roots, Split::Train, loader_opts.clone())?;
    let val_loader = if cfg.train.val_epoch_interval > 0 && !cfg.data.val.datasets_name.is_empty() {
        Some(TrainPairLoader::from_config(
            cfg,
            &exp.roots,
            Split::Val,
            loader_opts,
        )?)
    } else {
        None
    };
    log.line(
        None,
        &format!(
            "{}: training data\n{}",
            exp.name,
            loader.describe().trim_end()
        ),
    )?;
    let total_epochs = cfg.train.epoch;
    let last_epoch = opts
        .max_epochs
        .map_or(total_epochs, |m| m.min(total_epochs));
    let checkpoint_every = opts.checkpoint_every;
    let settings = StepSettings::from_config(cfg);
    let range = cfg.model.backbone.ce_template_range;
    let stride = cfg.model.backbone.stride;
    let steps_this_run = |g: u64, start: u64| g - start;
    let start_global = global_step;
    let every = readback_every(opts, cfg, &device);
    let print_interval = cfg.train.print_interval.max(1);
    let mut pending = PendingSteps::new();

    for epoch in (epochs_done + 1)..=last_epoch {
        let keep_rate = keep_rate_for_epoch(cfg, epoch);
        let lr = lr_for_epoch(cfg, epoch);
        let n = loader.batches_per_epoch();
        let bar = epoch_bar("train", epoch, n, opts.echo);
        let skip = std::mem::take(&mut skip_steps);
        bar.set_position(skip as u64);
        let mut meters = EpochMeters::start();
        let mut batches = loader.epoch(epoch);
        let mut t_data = Instant::now();
        let mut i = 0usize;
        for batch in batches.by_ref() {
            let batch = batch?;
            i += 1;
            if i <= skip {
                t_data = Instant::now();
                continue;
            }
            let data_time = t_data.elapsed();
            let t_fwd = Instant::now();
            device.seed(mix(seed ^ mix(global_step)));
            let tb = TrainBatch::from_pair_batch(&batch, range, stride, &device)?;
            let at = StepPosition { epoch, step: i };
            let (m, outcome) = if all_devices.len() > 1 {
                data_parallel_step(
                    model,
                    &all_devices,
                    &mut optim,
                    &tb,
                    keep_rate,
                    lr,
                    settings,
                    at,
                )?
            } else {
                train_step(model, &mut optim, &tb, keep_rate, lr, settings, at)?
            };
            model = m;
            global_step += 1;
            let fwd_time = t_fwd.elapsed();
            let stop_budget = opts
                .max_steps
                .is_some_and(|m| steps_this_run(global_step, start_global) >= m);
            let interrupted = INTERRUPTED.load(Ordering::SeqCst);
            let print = i.is_multiple_of(print_interval) || i == n;
            // One device-to-host transfer on the steps that log (and before any checkpoint);
            // none on the others.
            let values = if every == 1 {
                let v = outcome.read()?;
                meters.add(
                    &v.losses,
                    tb.batch_size(),
                    data_time,
                    fwd_time,
                    v.giou_fallback,
                );
                Some(v)
            } else {
                meters.add_time(data_time, fwd_time);
                pending.push(outcome);
                if i.is_multiple_of(every) || print || interrupted || stop_budget {
                    pending.read(every)?.map(|(v, window)| {
                        meters.add_window(&window);
                        v
                    })
                } else {
                    None
                }
            };
            if let Some(v) = values {
                let rec = StepRecord {
                    epoch,
                    step: i,
                    global_step,
                    loss_total: v.losses.total,
                    loss_giou: v.losses.giou,
                    loss_l1: v.losses.l1,
                    loss_location: v.losses.location,
                    iou: v.losses.iou,
                    grad_norm: v.grad_norm,
                    clip_coef: v.clip_coef,
                };
                log.step(&rec)?;
                summary.steps.push(rec);
                bar.set_message(format!(
                    "loss {:.4} IoU {:.3}",
                    v.losses.total, v.losses.iou
                ));
            }
            bar.set_position(i as u64);
            let batch_fps = tb.batch_size() as f64 / (data_time + fwd_time).as_secs_f64().max(1e-9);
            if print {
                log.line(
                    Some(&bar),
                    &format_stats_line("train", epoch, i, n, &meters, batch_fps),
                )?;
            }
            if opts
                .crash_after_steps
                .is_some_and(|c| steps_this_run(global_step, start_global) >= c)
            {
                bar.finish_and_clear();
                return Err(TrainError::Setting("simulated crash (test hook)".into()));
            }
            if (interrupted || stop_budget) && i < n {
                bar.finish_and_clear();
                let state =
                    train_state(&exp.name, epoch - 1, i, global_step, seed, lr, interrupted);
                let path = save_checkpoint(
                    &ckpt_dir,
                    &state,
                    cfg,
                    &model.try_to_state_dict()?,
                    &optim.to_state_dict()?,
                )?;
                log.line(
                    None,
                    &format!(
                        "{} at epoch {epoch}, step {i}: saved {}",
                        if interrupted {
                            "Interrupted"
                        } else {
                            "Step budget reached"
                        },
                        path.display()
                    ),
                )?;
                summary.last_checkpoint = Some(path);
                summary.interrupted = interrupted;
                summary.epochs_done = epoch - 1;
                summary.global_step = global_step;
                summary.wall_time = started.elapsed();
                return Ok(summary);
            }
            t_data = Instant::now();
        }
        // An epoch that ended early (batches the loader skipped) leaves its last steps here.
        if let Some((_, window)) = pending.read(every)? {
            meters.add_window(&window);
        }
        let skipped = batches.skip_report();
        drop(batches);
        bar.finish_and_clear();
        if skipped.rejected_total() + skipped.errors_total() > 0 {
            log.line(None, &format!("epoch {epoch} data: {skipped}"))?;
        }
        let record = epoch_record("train", epoch, &meters, lr, keep_rate);
        log.line(
            None,
            &format!(
                "Epoch {epoch} done in {:.1}s: Loss/total {:.5}  IoU {:.5}{}",
                record.seconds,
                record.loss_total,
                record.iou,
                if meters.giou_fallbacks > 0 {
                    format!(
                        "  ({} GIoU fallbacks to 0, as the original)",
                        meters.giou_fallbacks
                    )
                } else {
                    String::new()
                }
            ),
        )?;
        log.epoch(&record)?;
        summary.epochs.push(record);

        if let Some(val) = &val_loader
            && epoch % cfg.train.val_epoch_interval == 0
        {
            let rec = validate(
                &model, val, epoch, keep_rate, lr, settings, range, stride, &device, opts.echo,
            )?;
            log.line(
                None,
                &format!(
                    "[val: {epoch}] Loss/total: {:.5}  ,  IoU: {:.5}",
                    rec.loss_total, rec.iou
                ),
            )?;
            log.epoch(&rec)?;
            summary.epochs.push(rec);
        }

        let interrupted = INTERRUPTED.load(Ordering::SeqCst);
        let stop_budget = opts
            .max_steps
            .is_some_and(|m| steps_this_run(global_step, start_global) >= m);
        if is_checkpoint_epoch(epoch, total_epochs, checkpoint_every)
            || interrupted
            || stop_budget
            || epoch == last_epoch
        {
            let state = train_state(&exp.name, epoch, 0, global_step, seed, lr, interrupted);
            let path = save_checkpoint(
                &ckpt_dir,
                &state,
                cfg,
                &model.try_to_state_dict()?,
                &optim.to_state_dict()?,
            )?;
            summary.last_checkpoint = Some(path);
        }
        summary.epochs_done = epoch;
        summary.global_step = global_step;
        if interrupted || stop_budget {
            summary.interrupted = interrupted;
            summary.wall_time = started.elapsed();
            return Ok(summary);
        }
    }
    summary.epochs_done = summary.epochs_done.max(epochs_done);
    summary.global_step = global_step;
    summary.wall_time = started.elapsed();
    log.line(
        None,
        &format!(
            "Finished training in {:.1}s",
            summary.wall_time.as_secs_f64()
        ),
    )?;
    Ok(summary)
}

fn train_state(
    name: &str,
    epochs_done: usize,
    steps: usize,
    global_step: u64,
    seed: u64,
    lr: GroupLr,
    interrupted: bool,
) -> TrainState {
    TrainState {
        format: 1,
        config: name.to_string(),
        epochs_done,
        steps_into_epoch: steps,
        global_step,
        seed,
        lr_head: lr.head,
        lr_backbone: lr.backbone,
        interrupted,
    }
}

fn epoch_record(
    split: &'static str,
    epoch: usize,
    m: &EpochMeters,
    lr: GroupLr,
    keep: Option<f64>,
) -> EpochRecord {
    let [total, giou, l1, loc, iou] = m.averages();
    EpochRecord {
        split,
        epoch,
        samples: m.samples,
        loss_total: total,
        loss_giou: giou,
        loss_l1: l1,
        loss_location: loc,
        iou,
        lr_head: lr.head,
        lr_backbone: lr.backbone,
        ce_keep_rate: keep.unwrap_or(1.0),
        seconds: m.elapsed().as_secs_f64(),
        giou_fallbacks: m.giou_fallbacks,
    }
}

/// The original's validation pass: eval mode, no gradients, the training epoch's keep rate.
#[allow(clippy::too_many_arguments)]
fn validate(
    model: &OSTrack,
    loader: &TrainPairLoader,
    epoch: usize,
    keep_rate: Option<f64>,
    lr: GroupLr,
    settings: StepSettings,
    range: CeTemplateRange,
    stride: usize,
    device: &Device,
    echo: bool,
) -> Result<EpochRecord, TrainError> {
    let mut eval_model = model.valid();
    let inner = device.clone().without_autodiff();
    let n = loader.batches_per_epoch();
    let bar = epoch_bar("val", epoch, n, echo);
    let mut meters = EpochMeters::start();
    for (i, batch) in loader.epoch(epoch).enumerate() {
        let t = Instant::now();
        let tb = TrainBatch::from_pair_batch(&batch?, range, stride, &inner)?;
        let at = StepPosition { epoch, step: i + 1 };
        let fwd = forward_losses(&mut eval_model, &tb, keep_rate, settings.weights, false);
        // One transfer per validation batch (the losses and the fallback flag).
        let (values, fallback) = fwd.read(at)?;
        meters.add(
            &values,
            tb.batch_size(),
            Duration::ZERO,
            t.elapsed(),
            fallback,
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(epoch_record("val", epoch, &meters, lr, keep_rate))
}

/// Reads a checkpoint's model weights (official keys) for tracking or export.
pub fn checkpoint_model_state(checkpoint: &Path) -> Result<StateDict, TrainError> {
    crate::checkpoint::read_checkpoint_state(checkpoint)?.model()
}
