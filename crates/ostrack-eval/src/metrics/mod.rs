//! Scoring presets, each reproducing one toolkit's definitions and numerical quirks.
//!
//! | preset | toolkit | unit |
//! |---|---|---|
//! | `got10k` | GOT-10k toolkit 0.1.3 `ExperimentGOT10k.report` | fraction |
//! | `pytracking` | OSTrack `lib/test/analysis` (`extract_results` + `print_results`) | percent |
//! | `lasot-official` | LaSOT MATLAB toolkit (`run_tracker_performance_evaluation.m`) | fraction |
//! | `trackingnet` | TrackingNet devkit `metrics.py` (what the server runs) | percent |
//! | `otb` | GOT-10k toolkit `ExperimentOTB.report` (also its UAV123/NfS/TC128) | fraction |

mod got10k;
mod lasot_official;
mod otb;
mod pytracking;
mod thresholds;
mod torch_f32;
mod trackingnet;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::datasets::EvalSequence;
use crate::error::{EvalError, Result};
use crate::report::{Curve, CurveKind, Score, ScoreUnit, TrackerReport, TrackerRuns};

/// A scoring protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// GOT-10k: AO, SR0.50, SR0.75 pooled over frames 1.. with `cover > 0`, boxes clipped to the image.
    Got10k,
    /// OSTrack's own analysis: AUC, OP50, OP75, Precision, NormPrecision (float32, `w − 1` pixels).
    Pytracking,
    /// LaSOT MATLAB toolkit: success AUC, precision and normalised precision, absent frames as failures.
    LasotOfficial,
    /// TrackingNet devkit: trapezoidal success / precision / normalised-precision areas.
    TrackingNet,
    /// OTB protocol of the GOT-10k toolkit: success AUC (mean of 21 points), precision at 20 px.
    Otb,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 5] = [
        Preset::Got10k,
        Preset::Pytracking,
        Preset::LasotOfficial,
        Preset::TrackingNet,
        Preset::Otb,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Got10k => "got10k",
            Preset::Pytracking => "pytracking",
            Preset::LasotOfficial => "lasot-official",
            Preset::TrackingNet => "trackingnet",
            Preset::Otb => "otb",
        }
    }

    /// Unit of the preset's scores and curves.
    pub fn unit(self) -> ScoreUnit {
        match self {
            Preset::Pytracking | Preset::TrackingNet => ScoreUnit::Percent,
            Preset::Got10k | Preset::LasotOfficial | Preset::Otb => ScoreUnit::Fraction,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match key.as_str() {
            "got10k" | "got-10k" => Preset::Got10k,
            "pytracking" | "ostrack" | "lasot" => Preset::Pytracking,
            "lasot-official" | "lasot-matlab" => Preset::LasotOfficial,
            "trackingnet" => Preset::TrackingNet,
            "otb" | "ope" => Preset::Otb,
            _ => {
                let known: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                return Err(EvalError::Request(format!(
                    "unknown preset {s:?}; expected one of {}",
                    known.join(", ")
                )));
            }
        })
    }
}

/// Scores every tracker with `preset`.
pub(crate) fn evaluate(
    preset: Preset,
    sequences: &[EvalSequence],
    trackers: &[TrackerRuns],
) -> Result<Vec<TrackerReport>> {
    match preset {
        Preset::Got10k => trackers
            .iter()
            .map(|t| got10k::evaluate(sequences, t))
            .collect(),
        // Pytracking averages all trackers in one float32 tensor; the summation order depends on it.
        Preset::Pytracking => pytracking::evaluate(sequences, trackers),
        Preset::LasotOfficial => trackers
            .iter()
            .map(|t| lasot_official::evaluate(sequences, t))
            .collect(),
        Preset::TrackingNet => trackers
            .iter()
            .map(|t| trackingnet::evaluate(sequences, t))
            .collect(),
        Preset::Otb => trackers
            .iter()
            .map(|t| otb::evaluate(sequences, t))
            .collect(),
    }
}

/// Positive, non-NaN per-frame times (the GOT-10k toolkit's filter).
pub(crate) fn positive_times(times: &[f64]) -> Vec<f64> {
    times.iter().copied().filter(|t| *t > 0.0).collect()
}

/// `mean(1 / t)` over positive times; `None` when there are none.
pub(crate) fn speed_fps(times: &[f64]) -> Option<f64> {
    let t = positive_times(times);
    (!t.is_empty()).then(|| t.iter().map(|x| 1.0 / x).sum::<f64>() / t.len() as f64)
}

/// Mean of f64 values (NaN for none, as numpy).
/// The element-wise mean of equally long per-sequence curves (`np.mean(curves, axis=0)`).
pub(crate) fn mean_curves(curves: &[Vec<f64>]) -> Vec<f64> {
    let n = curves.len() as f64;
    (0..curves[0].len())
        .map(|k| curves.iter().map(|c| c[k]).sum::<f64>() / n)
        .collect()
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// `max` / `min` that propagate NaN like numpy and torch do (Rust's `f64::max` drops NaN).
pub(crate) fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

pub(crate) fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Builds a [`Curve`].
pub(crate) fn curve(
    kind: CurveKind,
    thresholds: &[f64],
    values: Vec<f64>,
    summary_name: &str,
    summary: f64,
) -> Curve {
    Curve {
        kind,
        thresholds: thresholds.to_vec(),
        values,
        summary_name: summary_name.to_string(),
        summary,
    }
}

/// The value of score `name` in `scores` (NaN when absent).
pub(crate) fn score_of(scores: &[Score], name: &str) -> f64 {
    scores
        .iter()
        .find(|s| s.name == name)
        .map_or(f64::NAN, |s| s.value)
}
