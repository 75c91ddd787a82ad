//! GOT-10k toolkit (`got10k` 0.1.3, `ExperimentGOT10k.report` for `subset='val'`).
//!
//! Per sequence, every repetition file must have one box per ground-truth frame. Frame 0 is
//! dropped, both boxes are clipped to the image (`bound = resolution`), IoU uses `x + w` corners
//! with `eps` in the denominator and is clipped to [0, 1], and only frames with `cover > 0` are
//! kept. AO / SR pool the IoUs of all frames of all repetitions of all sequences; the success
//! curve has 101 thresholds (strict `>`); speed is `mean(1 / t)` over the positive times.
//! Without `cover.label` every frame is kept; without a resolution nothing is clipped.

use super::thresholds::numpy_linspace;
use super::{curve, mean, nan_max, nan_min, positive_times, speed_fps};
use crate::datasets::EvalSequence;
use crate::error::{EvalError, Result};
use crate::report::{CurveKind, Score, SequenceReport, TrackerReport, TrackerRuns};
use crate::results::read_sequence_results;
use crate::textio::NanBoxes;

const BINS: usize = 101;

/// `np.clip(a, lo, hi)` = `minimum(maximum(a, lo), hi)`.
fn clip(a: f64, lo: f64, hi: f64) -> f64 {
    nan_min(nan_max(a, lo), hi)
}

fn clip_to_image(b: &[f64; 4], bound: [f64; 2]) -> [f64; 4] {
    let x = clip(b[0], 0.0, bound[0]);
    let y = clip(b[1], 0.0, bound[1]);
    [
        x,
        y,
        clip(b[2], 0.0, bound[0] - x),
        clip(b[3], 0.0, bound[1] - y),
    ]
}

/// `got10k.utils.metrics.rect_iou` for one pair of (already bounded) boxes.
pub(crate) fn rect_iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let x1 = nan_max(a[0], b[0]);
    let y1 = nan_max(a[1], b[1]);
    let x2 = nan_min(a[0] + a[2], b[0] + b[2]);
    let y2 = nan_min(a[1] + a[3], b[1] + b[3]);
    let w = nan_max(x2 - x1, 0.0);
    let h = nan_max(y2 - y1, 0.0);
    let inter = w * h;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    clip(inter / (union + f64::EPSILON), 0.0, 1.0)
}

struct Pooled {
    ious: Vec<f64>,
    times: Vec<f64>,
}

fn sequence_ious(seq: &EvalSequence, tracker: &TrackerRuns) -> Result<(Vec<f64>, Vec<f64>, usize)> {
    let result = read_sequence_results(&tracker.run_dirs, &seq.name, NanBoxes::Reject)?;
    let n = seq.ground_truth.len();
    let mut ious = Vec::new();
    for run in &result.runs {
        if run.boxes.len() != n {
            return Err(EvalError::invalid(
                &run.path,
                format!(
                    "{} boxes, but the ground truth ({}) has {n} frames; the GOT-10k toolkit requires one box per frame",
                    run.boxes.len(),
                    seq.ground_truth_path.display()
                ),
            ));
        }
        for i in 1..n {
            if let Some(cover) = &seq.cover
                && cover[i] == 0
            {
                continue;
            }
            let (p, g) = match seq.image_size {
                Some(bound) => (
                    clip_to_image(&run.boxes[i], bound),
                    clip_to_image(&seq.ground_truth[i], bound),
                ),
                None => (run.boxes[i], seq.ground_truth[i]),
            };
            ious.push(rect_iou(&p, &g));
        }
    }
    Ok((ious, positive_times(&result.times), result.runs.len()))
}

fn success_rate(ious: &[f64], threshold: f64) -> f64 {
    ious.iter().filter(|&&v| v > threshold).count() as f64 / ious.len() as f64
}

pub(crate) fn evaluate(sequences: &[EvalSequence], tracker: &TrackerRuns) -> Result<TrackerReport> {
    let mut pooled = Pooled {
        ious: Vec::new(),
        times: Vec::new(),
    };
    let mut per_sequence = Vec::with_capacity(sequences.len());
    let mut runs = 0;
    let thresholds = numpy_linspace(0.0, 1.0, BINS);
    for seq in sequences {
        let (ious, times, n_runs) = sequence_ious(seq, tracker)?;
        runs = runs.max(n_runs);
        let seq_curve: Vec<f64> = thresholds.iter().map(|&t| success_rate(&ious, t)).collect();
        per_sequence.push(SequenceReport {
            name: seq.name.clone(),
            // The toolkit's `length`: frames after the initialisation frame.
            frames: seq.ground_truth.len().saturating_sub(1),
            speed_fps: speed_fps(&times),
            scores: vec![
                Score {
                    name: "AO".into(),
                    value: mean(&ious),
                },
                Score {
                    name: "SR0.50".into(),
                    value: success_rate(&ious, 0.5),
                },
                Score {
                    name: "SR0.75".into(),
                    value: success_rate(&ious, 0.75),
                },
            ],
            curves: vec![curve(
                CurveKind::Success,
                &thresholds,
                seq_curve,
                "AO",
                mean(&ious),
            )],
        });
        pooled.ious.extend(ious);
        pooled.times.extend(times);
    }
    let pooled_curve: Vec<f64> = thresholds
        .iter()
        .map(|&t| success_rate(&pooled.ious, t))
        .collect();
    let ao = mean(&pooled.ious);
    Ok(TrackerReport {
        name: tracker.name.clone(),
        runs,
        frames: pooled.ious.len(),
        speed_fps: speed_fps(&pooled.times),
        scores: vec![
            Score {
                name: "AO".into(),
                value: ao,
            },
            Score {
                name: "SR0.50".into(),
                value: success_rate(&pooled.ious, 0.5),
            },
            Score {
                name: "SR0.75".into(),
                value: success_rate(&pooled.ious, 0.75),
            },
        ],
        curves: vec![curve(
            CurveKind::Success,
            &thresholds,
            pooled_curve,
            "AO",
            ao,
        )],
        sequences: per_sequence,
    })
}
