//! The embedded demo: a reduced ViT with the real CE, head and loss (`configs/demo.yaml`),
//! trained on a deterministic synthetic GOT-10k-layout dataset generated on first use, and
//! scored by tracking the held-out synthetic sequences before and after training.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use ostrack_config::{CeTemplateRange, ExperimentConfig};
use ostrack_data::datasets::DatasetKind;
use ostrack_data::{DataRoots, RootKey, SynthFormat, SynthOptions};
use ostrack_model::OSTrack;
use ostrack_model::ostrack::ForwardOptions;
use serde::Serialize;

use crate::error::TrainError;

/// `configs/demo.yaml`, compiled in so `ostrack train` works from any folder.
pub const DEMO_YAML: &str = include_str!("../../../configs/demo.yaml");

/// Bump when the synthetic data recipe changes (a new cache folder is generated).
const SYNTH_VERSION: &str = "synth-demo-v1";

pub fn demo_config() -> Result<ExperimentConfig, TrainError> {
    Ok(ostrack_config::parse_config_yaml(
        DEMO_YAML,
        Path::new("configs/demo.yaml (embedded)"),
    )?)
}

/// The synthetic dataset's size: enough variety to learn from, small enough to generate in
/// seconds on two cores.
pub fn demo_synth_options() -> SynthOptions {
    SynthOptions {
        sequences: 48,
        val_sequences: 8,
        frames: 50,
        width: 320,
        height: 240,
        seed: 2024,
        jpeg_quality: 90,
    }
}

/// `dir` or `$XDG_CACHE_HOME/ostrack-rs` or `$HOME/.cache/ostrack-rs` (else `./.ostrack-cache`).
pub fn cache_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("ostrack-rs");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("ostrack-rs");
    }
    PathBuf::from(".ostrack-cache")
}

/// Generates the synthetic dataset below `cache` unless a complete copy is there; returns its
/// `ostrack-data.yaml`. The data is written to a temporary folder and renamed when complete.
pub fn ensure_synthetic_data(cache: &Path, echo: bool) -> Result<PathBuf, TrainError> {
    let dir = cache.join(SYNTH_VERSION);
    let settings = dir.join(ostrack_data::SETTINGS_FILE);
    if settings.exists() {
        return Ok(settings);
    }
    std::fs::create_dir_all(cache).map_err(|e| TrainError::io(cache, e))?;
    let tmp = cache.join(format!(".{SYNTH_VERSION}.tmp{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    let options = demo_synth_options();
    if echo {
        println!(
            "Generating the synthetic demo dataset ({} + {} sequences of {} frames) in {} ...",
            options.sequences,
            options.val_sequences,
            options.frames,
            dir.display()
        );
    }
    ostrack_data::synth::generate(SynthFormat::Got10k, &tmp, &options)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        // Another process finished first: use its copy.
        Err(_) if settings.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(TrainError::io(&dir, e)),
    }
    Ok(settings)
}

/// Tracking scores on the held-out sequences (GOT-10k style, first frame excluded, frames
/// without a visible target skipped).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeldOutScore {
    /// Average overlap: mean over sequences of the mean IoU.
    pub ao: f64,
    /// Success rate at IoU > 0.5 (mean over sequences).
    pub sr50: f64,
    pub sequences: usize,
    pub frames: usize,
}

/// The demo's before/after comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DemoEvaluation {
    /// The untrained (randomly initialised) model; `None` when the run resumed.
    pub before: Option<HeldOutScore>,
    pub after: HeldOutScore,
}

impl DemoEvaluation {
    pub fn new(before: Option<HeldOutScore>, after: HeldOutScore) -> Self {
        Self { before, after }
    }

    pub fn describe(&self) -> String {
        let fmt = |s: &HeldOutScore| format!("AO {:.3}  SR0.5 {:.3}", s.ao, s.sr50);
        let mut out = format!(
            "Held-out synthetic tracking ({} sequences, {} frames): trained {}",
            self.after.sequences,
            self.after.frames,
            fmt(&self.after)
        );
        if let Some(b) = &self.before {
            out += &format!("  |  untrained {}", fmt(b));
        }
        out
    }
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Crop → normalised CHW tensor [1, 3, S, S].
fn crop_tensor(
    frame: &ostrack_data::RgbImage,
    bbox: [f64; 4],
    factor: f64,
    size: usize,
    cfg: &ExperimentConfig,
    device: &Device,
) -> Result<(Tensor<4>, f64), TrainError> {
    let crop = ostrack_data::sample_target(frame.view(), bbox, factor, size)
        .map_err(|e| TrainError::Setting(format!("tracking crop of box {bbox:?}: {e}")))?;
    let mean = [
        cfg.data.mean[0] as f32,
        cfg.data.mean[1] as f32,
        cfg.data.mean[2] as f32,
    ];
    let std = [
        cfg.data.std[0] as f32,
        cfg.data.std[1] as f32,
        cfg.data.std[2] as f32,
    ];
    let chw = ostrack_data::normalize_image(&crop.pixels, size, size, mean, std);
    Ok((
        Tensor::from_data(TensorData::new(chw, [1, 3, size, size]), device),
        crop.resize_factor,
    ))
}

/// Tracks one sequence with the original tracker's logic (template once, Hann-windowed score
/// map, `map_box_back`, `clip_box` with margin 10); returns the box per frame.
pub fn track_sequence(
    model: &OSTrack,
    cfg: &ExperimentConfig,
    frames: &[PathBuf],
    init: [f64; 4],
    device: &Device,
) -> Result<Vec<[f64; 4]>, TrainError> {
    let t = &cfg.test;
    let stride = cfg.model.backbone.stride;
    let range = CeTemplateRange::parse(&cfg.model.backbone.ce_template_range)
        .unwrap_or(CeTemplateRange::All);
    let first = ostrack_data::decode::read_frame(&frames[0])?;
    let (z, rf_z) = crop_tensor(
        &first,
        init,
        t.template_factor,
        t.template_size,
        cfg,
        device,
    )?;
    let (wn, hn) = (
        init[2] * rf_z / t.template_size as f64,
        init[3] * rf_z / t.template_size as f64,
    );
    let mask = ostrack_data::ce_template_mask(
        range,
        t.template_size,
        stride,
        &[[0.5 - wn / 2.0, 0.5 - hn / 2.0, wn, hn]],
    )
    .map_err(|e| TrainError::Setting(format!("MODEL.BACKBONE.CE_TEMPLATE_RANGE: {e}")))?;
    let lz = (t.template_size / stride).pow(2);
    let mask = mask.map(|m| {
        let v: Vec<f32> = m.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect();
        Tensor::<2>::from_data(TensorData::new(v, [1, lz]), device)
    });
    let z_tokens = model.backbone.embed_template(z, None);
    let feat = t.search_size / cfg.model.backbone.patch_size;
    let window = Tensor::<4>::from_data(
        TensorData::new(ostrack_data::hann2d(feat), [1, 1, feat, feat]),
        device,
    );
    let mut state = init;
    let mut out = vec![init];
    for path in &frames[1..] {
        let frame = ostrack_data::decode::read_frame(path)?;
        let (x, rf) = crop_tensor(&frame, state, t.search_factor, t.search_size, cfg, device)?;
        let o = model.forward_embedded_template(
            z_tokens.clone(),
            x,
            mask.clone(),
            None,
            ForwardOptions {
                attention: false,
                trace: None,
            },
        );
        let boxes = ostrack_model::cal_bbox(o.score_map * window.clone(), o.size_map, o.offset_map);
        let v = ostrack_model::read_f32(boxes, "the predicted box")?;
        let scale = t.search_size as f64 / rf;
        let pred = [
            v[0] as f64 * scale,
            v[1] as f64 * scale,
            v[2] as f64 * scale,
            v[3] as f64 * scale,
        ];
        if pred.iter().any(|p| !p.is_finite()) {
            return Err(TrainError::NonFinite {
                epoch: 0,
                step: 0,
                what: "a tracking prediction".into(),
                detail: format!("{pred:?}"),
            });
        }
        let mapped = ostrack_data::map_box_back(state, pred, rf, t.search_size);
        state = ostrack_data::clip_box(mapped, frame.height, frame.width, 10.0);
        out.push(state);
    }
    Ok(out)
}

/// Tracks every held-out (GOT-10k `val`) sequence of the synthetic set and scores it.
pub fn evaluate_held_out(
    model: &OSTrack,
    cfg: &ExperimentConfig,
    roots: &DataRoots,
    echo: bool,
) -> Result<HeldOutScore, TrainError> {
    let root = roots.resolve(RootKey::Got10kVal)?;
    let ds = ostrack_data::open_layout(DatasetKind::Got10k, &root)?;
    let device = model.backbone.pos_embed_x.val().device();
    let bar = crate::progress::epoch_bar("track", 0, ds.num_sequences(), echo);
    let (mut ao_sum, mut sr_sum, mut frames_scored) = (0.0, 0.0, 0usize);
    for seq in 0..ds.num_sequences() {
        let anno = ds.load_annotation(seq)?;
        // Start at the first frame that shows the target (GOT-10k's first frames always do).
        let Some(first) = anno.visible.iter().position(|&v| v) else {
            continue;
        };
        let paths: Vec<PathBuf> = (first..anno.boxes.len())
            .map(|f| ds.frame_path(seq, f))
            .collect();
        let init = anno.boxes[first].map(f64::from);
        let pred = track_sequence(model, cfg, &paths, init, &device)?;
        let ious: Vec<f64> = (1..pred.len())
            .filter(|&i| anno.visible[first + i])
            .map(|i| iou(pred[i], anno.boxes[first + i].map(f64::from)))
            .collect();
        if !ious.is_empty() {
            ao_sum += ious.iter().sum::<f64>() / ious.len() as f64;
            sr_sum += ious.iter().filter(|&&v| v > 0.5).count() as f64 / ious.len() as f64;
        }
        frames_scored += ious.len();
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = ds.num_sequences().max(1) as f64;
    Ok(HeldOutScore {
        ao: ao_sum / n,
        sr50: sr_sum / n,
        sequences: ds.num_sequences(),
        frames: frames_scored,
    })
}
