//! TrackingNet devkit (`SilvioGiancola/TrackingNet-devkit`, `metrics.py`), what the evaluation
//! server runs on the TEST split.
//!
//! All coordinates are rounded (`np.round`, half to even) and frame 0 takes the ground truth.
//! Corners are `x + w − 1`, the intersection side `round(x2 − x1 + 1)` clipped at 0, centres
//! `x + (w + 1) / 2`. A missing result file counts as all-zero boxes, a short one as NaN rows
//! (pandas index alignment), a long one is truncated. Per sequence: success `IoU >= t` for
//! `t = linspace(0, 1, 21)`, precision `d <= t` for `linspace(0, 50, 21)`, normalised precision
//! for `linspace(0, 0.5, 21)`, as fractions of the frames; curves are averaged over sequences.
//! Scores are trapezoidal areas over `x = linspace(0, 1, 21)`, × 100 — also for precision and
//! normalised precision. Coverage = share of frames whose box is not all zero, × 100.

use super::thresholds::numpy_linspace;
use super::{curve, mean_curves, speed_fps};
use crate::datasets::EvalSequence;
use crate::error::Result;
use crate::report::{Curve, CurveKind, Score, SequenceReport, TrackerReport, TrackerRuns};
use crate::results::try_read_sequence_results;
use crate::textio::NanBoxes;

const POINTS: usize = 21;

struct Grids {
    success: Vec<f64>,
    precision: Vec<f64>,
    norm_precision: Vec<f64>,
}

fn round_box(b: &[f64; 4]) -> [f64; 4] {
    b.map(f64::round_ties_even)
}

struct SeqCurves {
    success: Vec<f64>,
    precision: Vec<f64>,
    norm_precision: Vec<f64>,
    covered: usize,
}

fn sequence_curves(gt: &[[f64; 4]], pred: Option<&[[f64; 4]]>, grids: &Grids) -> SeqCurves {
    let n = gt.len();
    let mut ious = Vec::with_capacity(n);
    let mut dist = Vec::with_capacity(n);
    let mut ndist = Vec::with_capacity(n);
    let mut covered = 0;
    for (i, g) in gt.iter().enumerate() {
        let a = round_box(g);
        let s = if i == 0 {
            a
        } else {
            match pred {
                None => [0.0; 4],
                Some(p) => p.get(i).map_or([f64::NAN; 4], round_box),
            }
        };
        if s[3] + s[2] + s[0] + s[1] > 0.0 {
            covered += 1;
        }
        let (ax2, ay2) = (a[0] + a[2] - 1.0, a[1] + a[3] - 1.0);
        let (sx2, sy2) = (s[0] + s[2] - 1.0, s[1] + s[3] - 1.0);
        let (acx, acy) = (a[0] + (a[2] + 1.0) / 2.0, a[1] + (a[3] + 1.0) / 2.0);
        let (scx, scy) = (s[0] + (s[2] + 1.0) / 2.0, s[1] + (s[3] + 1.0) / 2.0);
        // pandas' row-wise max/min skip NaN; a NaN row stays NaN through the sums below.
        let ix1 = a[0].max(s[0]);
        let iy1 = a[1].max(s[1]);
        let ix2 = ax2.min(sx2);
        let iy2 = ay2.min(sy2);
        let clip0 = |v: f64| if v < 0.0 { 0.0 } else { v };
        let iw = clip0((ix2 - ix1 + 1.0).round_ties_even());
        let ih = clip0((iy2 - iy1 + 1.0).round_ties_even());
        let inter = iw * ih;
        let iou = inter / (a[3] * a[2] + s[3] * s[2] - inter);
        let (dx, dy) = (acx - scx, acy - scy);
        ious.push(iou);
        dist.push((dx * dx + dy * dy).sqrt());
        ndist.push((dx / a[2] * dx / a[2] + dy / a[3] * dy / a[3]).sqrt());
    }
    let rate = |values: &[f64], thresholds: &[f64], hit: fn(f64, f64) -> bool| -> Vec<f64> {
        thresholds
            .iter()
            .map(|&t| values.iter().filter(|&&v| hit(v, t)).count() as f64 / n as f64)
            .collect()
    };
    SeqCurves {
        success: rate(&ious, &grids.success, |v, t| v >= t),
        precision: rate(&dist, &grids.precision, |v, t| v <= t),
        norm_precision: rate(&ndist, &grids.norm_precision, |v, t| v <= t),
        covered,
    }
}

/// `np.trapz(y, x) * 100`.
fn trapz_percent(y: &[f64], x: &[f64]) -> f64 {
    let area: f64 = (0..y.len().saturating_sub(1))
        .map(|i| (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0)
        .sum();
    area * 100.0
}

fn scores_of(s: &[f64], p: &[f64], np: &[f64], coverage: f64, x: &[f64]) -> Vec<Score> {
    vec![
        Score {
            name: "Success".into(),
            value: trapz_percent(s, x),
        },
        Score {
            name: "Precision".into(),
            value: trapz_percent(p, x),
        },
        Score {
            name: "NormPrecision".into(),
            value: trapz_percent(np, x),
        },
        Score {
            name: "Coverage".into(),
            value: coverage,
        },
    ]
}

fn percent(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| x * 100.0).collect()
}

/// Curves in percent with their trapezoidal areas as legend values.
fn curves_of(grids: &Grids, s: &[f64], p: &[f64], np: &[f64]) -> Vec<Curve> {
    let x = &grids.success;
    vec![
        curve(
            CurveKind::Success,
            &grids.success,
            percent(s),
            "Success",
            trapz_percent(s, x),
        ),
        curve(
            CurveKind::Precision,
            &grids.precision,
            percent(p),
            "Precision",
            trapz_percent(p, x),
        ),
        curve(
            CurveKind::NormPrecision,
            &grids.norm_precision,
            percent(np),
            "NormPrecision",
            trapz_percent(np, x),
        ),
    ]
}

pub(crate) fn evaluate(sequences: &[EvalSequence], tracker: &TrackerRuns) -> Result<TrackerReport> {
    let grids = Grids {
        success: numpy_linspace(0.0, 1.0, POINTS),
        precision: numpy_linspace(0.0, 50.0, POINTS),
        norm_precision: numpy_linspace(0.0, 0.5, POINTS),
    };
    let x = grids.success.clone();
    let (mut all_s, mut all_p, mut all_np) = (Vec::new(), Vec::new(), Vec::new());
    let (mut covered, mut total) = (0usize, 0usize);
    let mut times = Vec::new();
    let mut runs = 0;
    let mut seq_reports = Vec::with_capacity(sequences.len());
    for seq in sequences {
        let result = try_read_sequence_results(&tracker.run_dirs, &seq.name, NanBoxes::Reject)?;
        let curves: Vec<SeqCurves> = match &result {
            None => vec![sequence_curves(&seq.ground_truth, None, &grids)],
            Some(r) => r
                .runs
                .iter()
                .map(|run| sequence_curves(&seq.ground_truth, Some(&run.boxes), &grids))
                .collect(),
        };
        runs = runs.max(result.as_ref().map_or(0, |r| r.runs.len()));
        let s = mean_curves(&curves.iter().map(|c| c.success.clone()).collect::<Vec<_>>());
        let p = mean_curves(
            &curves
                .iter()
                .map(|c| c.precision.clone())
                .collect::<Vec<_>>(),
        );
        let np = mean_curves(
            &curves
                .iter()
                .map(|c| c.norm_precision.clone())
                .collect::<Vec<_>>(),
        );
        let seq_covered: usize = curves.iter().map(|c| c.covered).sum();
        let seq_total = seq.ground_truth.len() * curves.len();
        let seq_times = result.as_ref().map(|r| r.times.clone()).unwrap_or_default();
        seq_reports.push(SequenceReport {
            name: seq.name.clone(),
            frames: seq.ground_truth.len(),
            speed_fps: speed_fps(&seq_times),
            scores: scores_of(
                &s,
                &p,
                &np,
                100.0 * seq_covered as f64 / seq_total as f64,
                &x,
            ),
            curves: curves_of(&grids, &s, &p, &np),
        });
        covered += seq_covered;
        total += seq_total;
        times.extend(seq_times);
        all_s.push(s);
        all_p.push(p);
        all_np.push(np);
    }
    let (s, p, np) = (
        mean_curves(&all_s),
        mean_curves(&all_p),
        mean_curves(&all_np),
    );
    let scores = scores_of(&s, &p, &np, 100.0 * covered as f64 / total as f64, &x);
    let curves = curves_of(&grids, &s, &p, &np);
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
