//! LaSOT's MATLAB toolkit (`HengLan/LaSOT_Evaluation_Toolkit`, `eval_tracker.m`,
//! `calc_seq_err_robust.m`, `plot_draw_save.m`), in float64.
//!
//! Results longer than the ground truth are truncated (monkey-17), shorter ones are an error.
//! From frame 2 on, a result with NaN or w ≤ 0 or h ≤ 0 is replaced by the previous frame's
//! (when that ground-truth row has no NaN); frame 1 takes the ground truth. Absent frames
//! (`absent = !visible`: full occlusion or out of view) are deleted, but counts are divided by
//! the full sequence length (+ eps), so they act as failures. Ground-truth rows with any
//! coordinate ≤ 0 get overlap −1 and centre error −1 (the latter counts as a hit: a toolkit
//! quirk kept on purpose). IoU uses `calc_rect_int` (`x + w − 1` corners, `+ 1` sizes).
//! Thresholds `0:0.05:1` (strict `>`) and `0:50` px / `(0:50)/100` (`<=`). Per curve, sequences
//! whose curve sums to ≤ eps are dropped before averaging. AUC = mean of the success curve;
//! Precision / NormPrecision = point 21 (20 px / 0.20); SR0.50 = success at 0.5.

use super::thresholds::matlab_colon;
use super::{curve, mean_curves, nan_max, nan_min, score_of, speed_fps};
use crate::datasets::EvalSequence;
use crate::error::{EvalError, Result};
use crate::report::{Curve, CurveKind, Score, SequenceReport, TrackerReport, TrackerRuns};
use crate::results::{ResultRun, read_sequence_results};
use crate::textio::NanBoxes;

/// MATLAB `rank_idx = 21` (1-based) of the error plots.
const PRECISION_INDEX: usize = 20;
/// MATLAB `rank_idx = 11` of the overlap plots (threshold 0.5).
const SUCCESS_RATE_INDEX: usize = 10;

fn has_nan(b: &[f64; 4]) -> bool {
    b.iter().any(|v| v.is_nan())
}

fn repaired(seq: &EvalSequence, run: &ResultRun) -> Result<Vec<[f64; 4]>> {
    let gt = &seq.ground_truth;
    if run.boxes.len() < gt.len() {
        return Err(EvalError::invalid(
            &run.path,
            format!(
                "{} boxes, but the ground truth has {} frames",
                run.boxes.len(),
                gt.len()
            ),
        ));
    }
    let mut res = run.boxes[..gt.len()].to_vec();
    for i in 1..res.len() {
        let r = res[i];
        let bad = has_nan(&r) || r[2] <= 0.0 || r[3] <= 0.0;
        if bad && !has_nan(&gt[i]) {
            res[i] = res[i - 1];
        }
    }
    res[0] = gt[0];
    Ok(res)
}

/// `calc_rect_int`.
fn rect_overlap(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let (right_a, top_a) = (a[0] + a[2] - 1.0, a[1] + a[3] - 1.0);
    let (right_b, top_b) = (b[0] + b[2] - 1.0, b[1] + b[3] - 1.0);
    let w = nan_max(0.0, nan_min(right_a, right_b) - nan_max(a[0], b[0]) + 1.0);
    let h = nan_max(0.0, nan_min(top_a, top_b) - nan_max(a[1], b[1]) + 1.0);
    let inter = w * h;
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

fn centre(b: &[f64; 4], norm: Option<&[f64; 4]>) -> [f64; 2] {
    let c = [b[0] + (b[2] - 1.0) / 2.0, b[1] + (b[3] - 1.0) / 2.0];
    match norm {
        Some(g) => [c[0] / g[2], c[1] / g[3]],
        None => c,
    }
}

struct Grids {
    overlap: Vec<f64>,
    error: Vec<f64>,
    error_norm: Vec<f64>,
}

struct SeqCurves {
    success: Vec<f64>,
    precision: Vec<f64>,
    norm_precision: Vec<f64>,
}

fn sequence_curves(seq: &EvalSequence, run: &ResultRun, grids: &Grids) -> Result<SeqCurves> {
    let res = repaired(seq, run)?;
    let kept: Vec<usize> = (0..res.len())
        .filter(|&i| seq.visible.as_ref().is_none_or(|v| v[i]))
        .collect();
    let mut overlaps = Vec::with_capacity(kept.len());
    let mut errors = Vec::with_capacity(kept.len());
    let mut errors_norm = Vec::with_capacity(kept.len());
    for &i in &kept {
        let (r, g) = (&res[i], &seq.ground_truth[i]);
        let gt_valid = g.iter().all(|&v| v > 0.0);
        let dist =
            |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        if gt_valid {
            overlaps.push(rect_overlap(r, g));
            errors.push(dist(centre(r, None), centre(g, None)));
            errors_norm.push(dist(centre(r, Some(g)), centre(g, Some(g))));
        } else {
            overlaps.push(-1.0);
            errors.push(-1.0);
            errors_norm.push(-1.0);
        }
    }
    let len_all = seq.ground_truth.len() as f64 + f64::EPSILON;
    let rate = |values: &[f64], thresholds: &[f64], hit: fn(f64, f64) -> bool| -> Vec<f64> {
        thresholds
            .iter()
            .map(|&t| values.iter().filter(|&&v| hit(v, t)).count() as f64 / len_all)
            .collect()
    };
    Ok(SeqCurves {
        success: rate(&overlaps, &grids.overlap, |v, t| v > t),
        precision: rate(&errors, &grids.error, |v, t| v <= t),
        norm_precision: rate(&errors_norm, &grids.error_norm, |v, t| v <= t),
    })
}

/// Mean over runs (the toolkit itself takes one result file per sequence).
/// `aa = aa(sum(aa,2) > eps, :); bb = mean(aa)`.
fn average_nonzero(curves: &[&Vec<f64>]) -> Vec<f64> {
    let kept: Vec<Vec<f64>> = curves
        .iter()
        .filter(|c| c.iter().sum::<f64>() > f64::EPSILON)
        .map(|c| (*c).clone())
        .collect();
    if kept.is_empty() {
        return vec![f64::NAN; curves.first().map_or(0, |c| c.len())];
    }
    mean_curves(&kept)
}

fn curves_of(grids: &Grids, c: &SeqCurves) -> Vec<Curve> {
    let scores = scores_of(&c.success, &c.precision, &c.norm_precision);
    vec![
        curve(
            CurveKind::Success,
            &grids.overlap,
            c.success.clone(),
            "AUC",
            score_of(&scores, "AUC"),
        ),
        curve(
            CurveKind::Precision,
            &grids.error,
            c.precision.clone(),
            "Precision",
            score_of(&scores, "Precision"),
        ),
        curve(
            CurveKind::NormPrecision,
            &grids.error_norm,
            c.norm_precision.clone(),
            "NormPrecision",
            score_of(&scores, "NormPrecision"),
        ),
    ]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn scores_of(success: &[f64], precision: &[f64], norm: &[f64]) -> Vec<Score> {
    vec![
        Score {
            name: "AUC".into(),
            value: mean(success),
        },
        Score {
            name: "SR0.50".into(),
            value: success[SUCCESS_RATE_INDEX],
        },
        Score {
            name: "Precision".into(),
            value: precision[PRECISION_INDEX],
        },
        Score {
            name: "NormPrecision".into(),
            value: norm[PRECISION_INDEX],
        },
    ]
}

pub(crate) fn evaluate(sequences: &[EvalSequence], tracker: &TrackerRuns) -> Result<TrackerReport> {
    let grids = Grids {
        overlap: matlab_colon(0.0, 0.05, 1.0),
        error: matlab_colon(0.0, 1.0, 50.0),
        error_norm: matlab_colon(0.0, 1.0, 50.0)
            .iter()
            .map(|v| v / 100.0)
            .collect(),
    };
    let mut per_seq: Vec<SeqCurves> = Vec::with_capacity(sequences.len());
    let mut seq_reports = Vec::with_capacity(sequences.len());
    let mut times = Vec::new();
    let mut runs = 0;
    for seq in sequences {
        let result = read_sequence_results(&tracker.run_dirs, &seq.name, NanBoxes::Allow)?;
        let curves = result
            .runs
            .iter()
            .map(|run| sequence_curves(seq, run, &grids))
            .collect::<Result<Vec<_>>>()?;
        runs = runs.max(curves.len());
        let merged = SeqCurves {
            success: mean_curves(&curves.iter().map(|c| c.success.clone()).collect::<Vec<_>>()),
            precision: mean_curves(
                &curves
                    .iter()
                    .map(|c| c.precision.clone())
                    .collect::<Vec<_>>(),
            ),
            norm_precision: mean_curves(
                &curves
                    .iter()
                    .map(|c| c.norm_precision.clone())
                    .collect::<Vec<_>>(),
            ),
        };
        seq_reports.push(SequenceReport {
            name: seq.name.clone(),
            frames: seq.ground_truth.len(),
            speed_fps: speed_fps(&result.times),
            scores: scores_of(&merged.success, &merged.precision, &merged.norm_precision),
            curves: curves_of(&grids, &merged),
        });
        times.extend(result.times);
        per_seq.push(merged);
    }
    let success = average_nonzero(&per_seq.iter().map(|c| &c.success).collect::<Vec<_>>());
    let precision = average_nonzero(&per_seq.iter().map(|c| &c.precision).collect::<Vec<_>>());
    let norm = average_nonzero(
        &per_seq
            .iter()
            .map(|c| &c.norm_precision)
            .collect::<Vec<_>>(),
    );
    let overall = SeqCurves {
        success,
        precision,
        norm_precision: norm,
    };
    let scores = scores_of(
        &overall.success,
        &overall.precision,
        &overall.norm_precision,
    );
    let curves = curves_of(&grids, &overall);
    Ok(TrackerReport {
        name: tracker.name.clone(),
        runs,
        frames: sequences.iter().map(|s| s.ground_truth.len()).sum(),
        speed_fps: speed_fps(&times),
        scores,
        curves,
        sequences: seq_reports,
    })
}
