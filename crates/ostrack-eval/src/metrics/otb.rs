//! OTB protocol as the GOT-10k toolkit implements it (`ExperimentOTB.report`; its UAV123, NfS,
//! TColor128 and DTB70 experiments reuse it).
//!
//! Frame 0 takes the ground truth; a length mismatch truncates both to the shorter. IoU uses
//! `x + w` corners with `eps` and clipping to [0, 1] (no image bound); centres `x + (w − 1) / 2`.
//! Per sequence: success curve over `linspace(0, 1, 21)` (strict `>`), precision curve over
//! 0…50 px (`<=`); success score = mean of the success curve, precision score = 20 px point,
//! success rate = 0.5 point, speed = `mean(1 / t)`. Overall: curves averaged over sequences,
//! scores read off them, speed = mean of the non-zero sequence speeds. NaN ground-truth rows
//! (UAV123) count as failures.

use super::got10k::rect_iou;
use super::thresholds::numpy_linspace;
use super::{curve, mean_curves, positive_times, score_of};
use crate::datasets::EvalSequence;
use crate::error::Result;
use crate::report::{Curve, CurveKind, Score, SequenceReport, TrackerReport, TrackerRuns};
use crate::results::{ResultRun, read_sequence_results};
use crate::textio::NanBoxes;

const IOU_BINS: usize = 21;
const CE_BINS: usize = 51;
const PRECISION_INDEX: usize = 20;

fn centre(b: &[f64; 4]) -> [f64; 2] {
    [b[0] + (b[2] - 1.0) / 2.0, b[1] + (b[3] - 1.0) / 2.0]
}

fn run_curves(
    seq: &EvalSequence,
    run: &ResultRun,
    thr_iou: &[f64],
    thr_ce: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let n = run.boxes.len().min(seq.ground_truth.len());
    let mut boxes = run.boxes[..n].to_vec();
    if n > 0 {
        boxes[0] = seq.ground_truth[0];
    }
    let gt = &seq.ground_truth[..n];
    let ious: Vec<f64> = boxes.iter().zip(gt).map(|(b, g)| rect_iou(b, g)).collect();
    let errors: Vec<f64> = boxes
        .iter()
        .zip(gt)
        .map(|(b, g)| {
            let (p, q) = (centre(b), centre(g));
            ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
        })
        .collect();
    let rate = |values: &[f64], t: f64, hit: fn(f64, f64) -> bool| {
        values.iter().filter(|&&v| hit(v, t)).count() as f64 / n as f64
    };
    (
        thr_iou
            .iter()
            .map(|&t| rate(&ious, t, |v, t| v > t))
            .collect(),
        thr_ce
            .iter()
            .map(|&t| rate(&errors, t, |v, t| v <= t))
            .collect(),
    )
}

fn scores_of(success: &[f64], precision: &[f64]) -> Vec<Score> {
    vec![
        Score {
            name: "Success".into(),
            value: success.iter().sum::<f64>() / success.len() as f64,
        },
        Score {
            name: "Precision".into(),
            value: precision[PRECISION_INDEX],
        },
        Score {
            name: "SR0.50".into(),
            value: success[IOU_BINS / 2],
        },
    ]
}

fn curves_of(thr_iou: &[f64], thr_ce: &[f64], s: &[f64], p: &[f64]) -> Vec<Curve> {
    let scores = scores_of(s, p);
    vec![
        curve(
            CurveKind::Success,
            thr_iou,
            s.to_vec(),
            "Success",
            score_of(&scores, "Success"),
        ),
        curve(
            CurveKind::Precision,
            thr_ce,
            p.to_vec(),
            "Precision",
            score_of(&scores, "Precision"),
        ),
    ]
}

pub(crate) fn evaluate(sequences: &[EvalSequence], tracker: &TrackerRuns) -> Result<TrackerReport> {
    let thr_iou = numpy_linspace(0.0, 1.0, IOU_BINS);
    let thr_ce: Vec<f64> = (0..CE_BINS).map(|i| i as f64).collect();
    let (mut succ, mut prec) = (Vec::new(), Vec::new());
    let mut speeds = Vec::new();
    let mut runs = 0;
    let mut seq_reports = Vec::with_capacity(sequences.len());
    for seq in sequences {
        let result = read_sequence_results(&tracker.run_dirs, &seq.name, NanBoxes::Reject)?;
        let curves: Vec<(Vec<f64>, Vec<f64>)> = result
            .runs
            .iter()
            .map(|run| run_curves(seq, run, &thr_iou, &thr_ce))
            .collect();
        runs = runs.max(curves.len());
        let s = mean_curves(&curves.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
        let p = mean_curves(&curves.iter().map(|c| c.1.clone()).collect::<Vec<_>>());
        let times = positive_times(&result.times);
        let speed = (!times.is_empty())
            .then(|| times.iter().map(|t| 1.0 / t).sum::<f64>() / times.len() as f64);
        seq_reports.push(SequenceReport {
            name: seq.name.clone(),
            frames: seq.ground_truth.len(),
            speed_fps: speed,
            curves: curves_of(&thr_iou, &thr_ce, &s, &p),
            scores: scores_of(&s, &p),
        });
        speeds.push(speed.unwrap_or(0.0));
        succ.push(s);
        prec.push(p);
    }
    let (s, p) = (mean_curves(&succ), mean_curves(&prec));
    let scores = scores_of(&s, &p);
    let nonzero = speeds.iter().filter(|v| **v != 0.0).count();
    let speed = (nonzero > 0).then(|| speeds.iter().sum::<f64>() / nonzero as f64);
    let curves = curves_of(&thr_iou, &thr_ce, &s, &p);
    Ok(TrackerReport {
        name: tracker.name.clone(),
        runs,
        frames: sequences.iter().map(|s| s.ground_truth.len()).sum(),
        speed_fps: speed,
        scores,
        curves,
        sequences: seq_reports,
    })
}
