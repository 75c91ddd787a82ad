//! OSTrack's own offline analysis (`lib/test/analysis/extract_results.py` and
//! `plot_results.print_results(..., merge_results=True)`), the protocol behind OSTrack's
//! LaSOT / UAV123 / NfS / TNL2K numbers.
//!
//! Per sequence and run (`calc_seq_err_robust`), in float64: a result with NaN or negative
//! width/height is an error; zero-size predictions (frames ≥ 1) are replaced by the previous,
//! already replaced prediction unless the ground truth of that frame has NaN; LaSOT results
//! longer than the ground truth are truncated and shorter ones are an error, other datasets
//! truncate or pad with zero boxes; frame 0 takes the ground truth. IoU and centres use the
//! pixel-inclusive `w − 1` convention. Invalid frames (ground-truth w or h ≤ 0, and for
//! LaSOT / LaSOT-ext not visible) get overlap −1, centre error +∞ (UAV123: −1) and normalised
//! error −1; for LaSOT invisible frames' errors become +∞. Every frame stays in the denominator.
//!
//! Curves are float32: `count / len` per sequence, averaged over runs, then over sequences
//! (all trackers in one tensor, which fixes the summation order), × 100. AUC is the mean of the
//! 21-point success curve; OP50 / OP75 are curve points; Precision and NormPrecision are the
//! 20 px and 0.20 points. Per sequence the same scores are read off that sequence's curves,
//! plus `AvgOverlap` (`avg_overlap_all`, the mean IoU over valid frames, in percent).

use super::thresholds::{index_of_f32, torch_arange};
use super::torch_f32::{inner_mean, outer_mean};
use super::{curve, nan_max, nan_min, score_of, speed_fps};
use crate::datasets::{DatasetId, EvalSequence};
use crate::error::{EvalError, Result};
use crate::report::{Curve, CurveKind, Score, SequenceReport, TrackerReport, TrackerRuns};
use crate::results::{ResultRun, read_sequence_results};
use crate::textio::NanBoxes;

/// `plot_bin_gap` of `extract_results`.
const BIN_GAP: f64 = 0.05;
/// Precision and normalised precision are read at index 20 (20 px / 0.20).
const PRECISION_INDEX: usize = 20;

struct Grids {
    overlap: Vec<f64>,
    center: Vec<f64>,
    center_norm: Vec<f64>,
}

impl Grids {
    fn new() -> Grids {
        Grids {
            overlap: torch_arange(0.0, 1.0 + BIN_GAP, BIN_GAP),
            center: (0..51).map(|i| i as f64).collect(),
            center_norm: (0..51).map(|i| i as f64 / 100.0).collect(),
        }
    }
}

/// How `calc_seq_err_robust` treats a dataset (it switches on pytracking's dataset name).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rules {
    Lasot,
    Uav,
    Other,
}

fn rules(dataset: DatasetId) -> Rules {
    match dataset {
        DatasetId::Lasot => Rules::Lasot,
        DatasetId::Uav123 => Rules::Uav,
        _ => Rules::Other,
    }
}

/// LaSOT and LaSOT-ext pass `target_visible` to the analysis; the other datasets do not.
fn visibility(seq: &EvalSequence) -> Option<&[bool]> {
    match seq.dataset {
        DatasetId::Lasot | DatasetId::LasotExt => seq.visible.as_deref(),
        _ => None,
    }
}

struct FrameErrors {
    overlap: Vec<f64>,
    center: Vec<f64>,
    center_norm: Vec<f64>,
    valid: Vec<bool>,
}

fn has_nan(b: &[f64; 4]) -> bool {
    b.iter().any(|v| v.is_nan())
}

/// The predictions after `calc_seq_err_robust`'s repairs.
fn repaired_predictions(
    seq: &EvalSequence,
    run: &ResultRun,
    rules: Rules,
) -> Result<Vec<[f64; 4]>> {
    let gt = &seq.ground_truth;
    let mut pred = run.boxes.clone();
    if let Some(i) = pred
        .iter()
        .position(|b| has_nan(b) || b[2] < 0.0 || b[3] < 0.0)
    {
        return Err(EvalError::parse(
            &run.path,
            run.line_of(i),
            "invalid result: NaN or negative width/height",
        ));
    }
    if rules != Rules::Uav
        && let Some(i) = gt.iter().position(has_nan)
    {
        return Err(EvalError::invalid(
            &seq.ground_truth_path,
            format!("NaN in the ground truth of frame {}", i + 1),
        ));
    }
    for i in 1..pred.len() {
        let zero_size = pred[i][2] == 0.0 || pred[i][3] == 0.0;
        let gt_nan = gt.get(i).is_some_and(has_nan);
        if zero_size && !gt_nan {
            pred[i] = pred[i - 1];
        }
    }
    if pred.len() != gt.len() {
        if rules == Rules::Lasot && pred.len() < gt.len() {
            return Err(EvalError::invalid(
                &run.path,
                format!(
                    "{} boxes, but the ground truth has {} frames (LaSOT requires a box per frame)",
                    pred.len(),
                    gt.len()
                ),
            ));
        }
        pred.resize(gt.len(), [0.0; 4]);
    }
    pred[0] = gt[0];
    Ok(pred)
}

fn centre(b: &[f64; 4]) -> [f64; 2] {
    [b[0] + 0.5 * (b[2] - 1.0), b[1] + 0.5 * (b[3] - 1.0)]
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    (dx * dx + dy * dy).sqrt()
}

/// `calc_iou_overlap`: pixel-inclusive corners.
fn iou_overlap(p: &[f64; 4], g: &[f64; 4]) -> f64 {
    let tl = [nan_max(p[0], g[0]), nan_max(p[1], g[1])];
    let br = [
        nan_min(p[0] + p[2] - 1.0, g[0] + g[2] - 1.0),
        nan_min(p[1] + p[3] - 1.0, g[1] + g[3] - 1.0),
    ];
    let clamp0 = |v: f64| if v < 0.0 { 0.0 } else { v };
    let sz = [clamp0(br[0] - tl[0] + 1.0), clamp0(br[1] - tl[1] + 1.0)];
    let inter = sz[0] * sz[1];
    let union = p[2] * p[3] + g[2] * g[3] - inter;
    inter / union
}

fn frame_errors(seq: &EvalSequence, run: &ResultRun) -> Result<FrameErrors> {
    let rules = rules(seq.dataset);
    let pred = repaired_predictions(seq, run, rules)?;
    let visible = visibility(seq);
    let n = seq.ground_truth.len();
    let mut e = FrameErrors {
        overlap: Vec::with_capacity(n),
        center: Vec::with_capacity(n),
        center_norm: Vec::with_capacity(n),
        valid: Vec::with_capacity(n),
    };
    for (i, (p, g)) in pred.iter().zip(&seq.ground_truth).enumerate() {
        let vis = visible.is_none_or(|v| v[i]);
        let valid = g[2] > 0.0 && g[3] > 0.0 && vis;
        let (pc, gc) = (centre(p), centre(g));
        let mut center = distance(pc, gc);
        let mut center_norm = distance([pc[0] / g[2], pc[1] / g[3]], [gc[0] / g[2], gc[1] / g[3]]);
        let mut overlap = iou_overlap(p, g);
        if !valid {
            center = if rules == Rules::Uav {
                -1.0
            } else {
                f64::INFINITY
            };
            center_norm = -1.0;
            overlap = -1.0;
        }
        if rules == Rules::Lasot && !vis {
            center = f64::INFINITY;
            center_norm = f64::INFINITY;
        }
        if overlap.is_nan() {
            return Err(EvalError::invalid(
                &run.path,
                format!("NaN overlap at frame {} (degenerate boxes)", i + 1),
            ));
        }
        e.overlap.push(overlap);
        e.center.push(center);
        e.center_norm.push(center_norm);
        e.valid.push(valid);
    }
    Ok(e)
}

/// Per-sequence float32 curves of one run (or the mean over runs).
#[derive(Clone)]
struct SequenceCurves {
    overlap: Vec<f32>,
    center: Vec<f32>,
    center_norm: Vec<f32>,
    /// `avg_overlap_all`: mean IoU over valid frames (float64; NaN when none is valid).
    avg_overlap: f64,
}

/// `(values op thresholds).sum(0).float() / seq_length`.
fn rate(values: &[f64], thresholds: &[f64], hit: impl Fn(f64, f64) -> bool) -> Vec<f32> {
    let n = values.len() as f32;
    thresholds
        .iter()
        .map(|&t| values.iter().filter(|&&v| hit(v, t)).count() as f32 / n)
        .collect()
}

fn run_curves(e: &FrameErrors, grids: &Grids) -> SequenceCurves {
    let valid: Vec<f64> = e
        .overlap
        .iter()
        .zip(&e.valid)
        .filter(|(_, v)| **v)
        .map(|(o, _)| *o)
        .collect();
    SequenceCurves {
        overlap: rate(&e.overlap, &grids.overlap, |v, t| v > t),
        center: rate(&e.center, &grids.center, |v, t| v <= t),
        center_norm: rate(&e.center_norm, &grids.center_norm, |v, t| v <= t),
        avg_overlap: valid.iter().sum::<f64>() / valid.len() as f64,
    }
}

/// `merge_multiple_runs`: float32 mean over the runs of one tracker.
fn merge_runs(runs: &[SequenceCurves]) -> SequenceCurves {
    let mean_of = |pick: fn(&SequenceCurves) -> &Vec<f32>| -> Vec<f32> {
        let rows: Vec<Vec<f32>> = runs.iter().map(|r| pick(r).clone()).collect();
        outer_mean(&rows)
    };
    SequenceCurves {
        overlap: mean_of(|r| &r.overlap),
        center: mean_of(|r| &r.center),
        center_norm: mean_of(|r| &r.center_norm),
        avg_overlap: runs.iter().map(|r| r.avg_overlap).sum::<f64>() / runs.len() as f64,
    }
}

/// `get_auc_curve` / `get_prec_curve`: mean over sequences of a `[sequences, trackers, bins]`
/// tensor, × 100; returns one curve per tracker.
fn average_over_sequences(per_tracker: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let trackers = per_tracker.len();
    let bins = per_tracker[0][0].len();
    let sequences = per_tracker[0].len();
    let matrix: Vec<Vec<f32>> = (0..sequences)
        .map(|s| {
            (0..trackers)
                .flat_map(|t| per_tracker[t][s].iter().copied())
                .collect()
        })
        .collect();
    let mean = outer_mean(&matrix);
    (0..trackers)
        .map(|t| {
            mean[t * bins..(t + 1) * bins]
                .iter()
                .map(|v| v * 100.0)
                .collect()
        })
        .collect()
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Named scores read off percent curves.
fn curve_scores(overlap: &[f32], center: &[f32], center_norm: &[f32], grids: &Grids) -> Vec<Score> {
    let mut scores = vec![Score {
        name: "AUC".into(),
        value: inner_mean(overlap) as f64,
    }];
    for (name, at) in [("OP50", 0.50), ("OP75", 0.75)] {
        if let Some(i) = index_of_f32(&grids.overlap, at) {
            scores.push(Score {
                name: name.into(),
                value: overlap[i] as f64,
            });
        }
    }
    scores.push(Score {
        name: "Precision".into(),
        value: center[PRECISION_INDEX] as f64,
    });
    scores.push(Score {
        name: "NormPrecision".into(),
        value: center_norm[PRECISION_INDEX] as f64,
    });
    scores
}

fn curves_of(
    grids: &Grids,
    overlap: &[f32],
    center: &[f32],
    center_norm: &[f32],
    scores: &[Score],
) -> Vec<Curve> {
    vec![
        curve(
            CurveKind::Success,
            &grids.overlap,
            widen(overlap),
            "AUC",
            score_of(scores, "AUC"),
        ),
        curve(
            CurveKind::Precision,
            &grids.center,
            widen(center),
            "Precision",
            score_of(scores, "Precision"),
        ),
        curve(
            CurveKind::NormPrecision,
            &grids.center_norm,
            widen(center_norm),
            "NormPrecision",
            score_of(scores, "NormPrecision"),
        ),
    ]
}

fn percent(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x * 100.0).collect()
}

struct TrackerCurves {
    per_sequence: Vec<SequenceCurves>,
    runs: usize,
    times: Vec<f64>,
    sequence_speeds: Vec<Option<f64>>,
}

fn tracker_curves(
    sequences: &[EvalSequence],
    tracker: &TrackerRuns,
    grids: &Grids,
) -> Result<TrackerCurves> {
    let mut out = TrackerCurves {
        per_sequence: Vec::with_capacity(sequences.len()),
        runs: 0,
        times: Vec::new(),
        sequence_speeds: Vec::with_capacity(sequences.len()),
    };
    for seq in sequences {
        let result = read_sequence_results(&tracker.run_dirs, &seq.name, NanBoxes::Reject)?;
        let runs = result
            .runs
            .iter()
            .map(|run| Ok(run_curves(&frame_errors(seq, run)?, grids)))
            .collect::<Result<Vec<_>>>()?;
        out.runs = out.runs.max(runs.len());
        out.per_sequence.push(merge_runs(&runs));
        out.sequence_speeds.push(speed_fps(&result.times));
        out.times.extend(result.times);
    }
    Ok(out)
}

pub(crate) fn evaluate(
    sequences: &[EvalSequence],
    trackers: &[TrackerRuns],
) -> Result<Vec<TrackerReport>> {
    let grids = Grids::new();
    let all = trackers
        .iter()
        .map(|t| tracker_curves(sequences, t, &grids))
        .collect::<Result<Vec<_>>>()?;
    let gather = |pick: fn(&SequenceCurves) -> &Vec<f32>| -> Vec<Vec<Vec<f32>>> {
        all.iter()
            .map(|t| t.per_sequence.iter().map(|s| pick(s).clone()).collect())
            .collect()
    };
    let overlap = average_over_sequences(&gather(|s| &s.overlap));
    let center = average_over_sequences(&gather(|s| &s.center));
    let center_norm = average_over_sequences(&gather(|s| &s.center_norm));
    let frames: usize = sequences.iter().map(|s| s.ground_truth.len()).sum();

    let reports = trackers
        .iter()
        .enumerate()
        .map(|(t, tracker)| {
            let scores = curve_scores(&overlap[t], &center[t], &center_norm[t], &grids);
            let curves = curves_of(&grids, &overlap[t], &center[t], &center_norm[t], &scores);
            let sequence_reports = sequences
                .iter()
                .zip(&all[t].per_sequence)
                .zip(&all[t].sequence_speeds)
                .map(|((seq, c), speed)| {
                    let mut scores = curve_scores(
                        &percent(&c.overlap),
                        &percent(&c.center),
                        &percent(&c.center_norm),
                        &grids,
                    );
                    scores.push(Score {
                        name: "AvgOverlap".into(),
                        value: c.avg_overlap * 100.0,
                    });
                    let curves = curves_of(
                        &grids,
                        &percent(&c.overlap),
                        &percent(&c.center),
                        &percent(&c.center_norm),
                        &scores,
                    );
                    SequenceReport {
                        name: seq.name.clone(),
                        frames: seq.ground_truth.len(),
                        speed_fps: *speed,
                        scores,
                        curves,
                    }
                })
                .collect();
            TrackerReport {
                name: tracker.name.clone(),
                runs: all[t].runs,
                frames,
                speed_fps: speed_fps(&all[t].times),
                scores,
                curves,
                sequences: sequence_reports,
            }
        })
        .collect();
    Ok(reports)
}
