//! The analysis entry point and the serialisable report it returns.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::datasets::{DatasetId, EvalSequence, list_sequences};
use crate::error::{EvalError, Result};
use crate::metrics::{self, Preset};

/// The result directories of one tracker; several directories are several runs of it
/// (pytracking's `run_id`s, averaged as `merge_results=True` does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerRuns {
    /// Name shown in tables and legends.
    pub name: String,
    /// One directory per run, each in any layout [`crate::results`] reads.
    pub run_dirs: Vec<PathBuf>,
}

impl TrackerRuns {
    /// One run; the tracker is named after the directory.
    pub fn from_dir(dir: impl Into<PathBuf>) -> TrackerRuns {
        let dir = dir.into();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        TrackerRuns {
            name,
            run_dirs: vec![dir],
        }
    }
}

/// What to analyse.
#[derive(Clone, Debug)]
pub struct AnalyzeRequest {
    /// Benchmark whose ground truth scores the results.
    pub dataset: DatasetId,
    /// Where the benchmark lies (see [`list_sequences`]).
    pub data_root: PathBuf,
    /// Trackers to compare.
    pub trackers: Vec<TrackerRuns>,
    /// Scoring protocol; `None` picks [`DatasetId::default_preset`].
    pub preset: Option<Preset>,
}

/// Scale of the scores and curves of a report (each toolkit reports in its own unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreUnit {
    /// 0 … 1 (GOT-10k, OTB, LaSOT MATLAB toolkit).
    Fraction,
    /// 0 … 100 (pytracking / OSTrack analysis, TrackingNet).
    Percent,
}

/// Which curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveKind {
    /// Fraction of frames with IoU above each overlap threshold.
    Success,
    /// Fraction of frames with centre error within each pixel threshold.
    Precision,
    /// Fraction of frames with size-normalised centre error within each threshold.
    NormPrecision,
}

impl CurveKind {
    /// File-name friendly name.
    pub fn name(self) -> &'static str {
        match self {
            CurveKind::Success => "success",
            CurveKind::Precision => "precision",
            CurveKind::NormPrecision => "norm_precision",
        }
    }
}

/// One named number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    pub name: String,
    /// NaN (serialised as `null`) where the toolkit's value is undefined, e.g. no valid frame.
    pub value: f64,
}

/// A curve over thresholds, as plotted in tracking papers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curve {
    pub kind: CurveKind,
    pub thresholds: Vec<f64>,
    pub values: Vec<f64>,
    /// The number a legend shows next to the tracker (AUC / AO / precision at 20 px …).
    pub summary_name: String,
    pub summary: f64,
}

/// Scores of one tracker on one sequence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SequenceReport {
    pub name: String,
    /// Frames the protocol counts for the sequence: the ground-truth length, except GOT-10k,
    /// which reports its toolkit's `length` (all frames but the initialisation frame).
    pub frames: usize,
    pub speed_fps: Option<f64>,
    pub scores: Vec<Score>,
    /// The sequence's own curves, where the protocol computes them per sequence.
    pub curves: Vec<Curve>,
}

/// Everything about one tracker.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrackerReport {
    pub name: String,
    /// Box files that entered the scores per sequence (runs or repetitions), at most.
    pub runs: usize,
    /// Per-frame values that entered the scores (GOT-10k: IoUs after filtering).
    pub frames: usize,
    /// Frames per second; the preset's own definition where it has one, else GOT-10k's
    /// `mean(1 / t)` over the positive per-frame times. `None` without time files.
    pub speed_fps: Option<f64>,
    pub scores: Vec<Score>,
    pub curves: Vec<Curve>,
    pub sequences: Vec<SequenceReport>,
}

impl TrackerReport {
    /// The value of score `name`, if the preset reports it.
    pub fn score(&self, name: &str) -> Option<f64> {
        self.scores.iter().find(|s| s.name == name).map(|s| s.value)
    }

    /// The curve of `kind`, if the preset computes it.
    pub fn curve(&self, kind: CurveKind) -> Option<&Curve> {
        self.curves.iter().find(|c| c.kind == kind)
    }
}

/// The outcome of [`analyze`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnalysisReport {
    pub dataset: String,
    pub preset: Preset,
    pub unit: ScoreUnit,
    /// Sequence names in scoring order.
    pub sequences: Vec<String>,
    pub trackers: Vec<TrackerReport>,
}

/// Lists the benchmark and scores every tracker on it.
pub fn analyze(request: &AnalyzeRequest) -> Result<AnalysisReport> {
    if request.dataset.ground_truth_withheld() {
        return Err(EvalError::Request(format!(
            "{} ground truth is withheld (first frame only): pack the results and submit them to the benchmark server",
            request.dataset
        )));
    }
    let preset = match request.preset.or(request.dataset.default_preset()) {
        Some(p) => p,
        None => {
            return Err(EvalError::Request(format!(
                "no scoring preset for {}",
                request.dataset
            )));
        }
    };
    let sequences = list_sequences(request.dataset, &request.data_root)?;
    analyze_sequences(
        request.dataset.name(),
        &sequences,
        &request.trackers,
        preset,
    )
}

/// Scores trackers on already listed sequences (sequences of one benchmark).
pub fn analyze_sequences(
    dataset_name: &str,
    sequences: &[EvalSequence],
    trackers: &[TrackerRuns],
    preset: Preset,
) -> Result<AnalysisReport> {
    if trackers.is_empty() {
        return Err(EvalError::Request("no tracker results given".to_string()));
    }
    if sequences.is_empty() {
        return Err(EvalError::Request(format!(
            "no {dataset_name} sequences to score"
        )));
    }
    for t in trackers {
        if t.run_dirs.is_empty() {
            return Err(EvalError::Request(format!(
                "tracker {} has no result directory",
                t.name
            )));
        }
        if let Some(d) = t.run_dirs.iter().find(|d| !d.is_dir()) {
            return Err(EvalError::invalid(d, "result directory not found"));
        }
    }
    let reports = metrics::evaluate(preset, sequences, trackers)?;
    Ok(AnalysisReport {
        dataset: dataset_name.to_string(),
        preset,
        unit: preset.unit(),
        sequences: sequences.iter().map(|s| s.name.clone()).collect(),
        trackers: reports,
    })
}

fn format_value(value: f64, unit: ScoreUnit) -> String {
    if value.is_nan() {
        return "-".to_string();
    }
    match unit {
        ScoreUnit::Percent => format!("{value:.2}"),
        ScoreUnit::Fraction => format!("{value:.3}"),
    }
}

fn table(title: &str, header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    widths[0] = widths[0].max(title.len());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join(" | "));
    };
    let mut head = header.to_vec();
    head[0] = title.to_string();
    line(&head, &mut out);
    let _ = writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-|-")
    );
    for row in rows {
        line(row, &mut out);
    }
    out
}

/// A plain-text table of the overall scores (one row per tracker), like pytracking's
/// `print_results`.
pub fn format_table(report: &AnalysisReport) -> String {
    let Some(first) = report.trackers.first() else {
        return String::new();
    };
    let mut header = vec!["Tracker".to_string()];
    header.extend(first.scores.iter().map(|s| s.name.clone()));
    header.push("FPS".to_string());
    let rows: Vec<Vec<String>> = report
        .trackers
        .iter()
        .map(|t| {
            let mut row = vec![t.name.clone()];
            row.extend(t.scores.iter().map(|s| format_value(s.value, report.unit)));
            row.push(t.speed_fps.map_or("-".to_string(), |f| format!("{f:.1}")));
            row
        })
        .collect();
    let title = format!(
        "{} ({}, {} sequences)",
        report.dataset,
        report.preset,
        report.sequences.len()
    );
    table(&title, &header, &rows)
}

/// Per-sequence tables, one per tracker.
pub fn format_sequence_tables(report: &AnalysisReport) -> String {
    let mut out = String::new();
    for t in &report.trackers {
        let Some(first) = t.sequences.first() else {
            continue;
        };
        let mut header = vec!["Sequence".to_string(), "Frames".to_string()];
        header.extend(first.scores.iter().map(|s| s.name.clone()));
        header.push("FPS".to_string());
        let rows: Vec<Vec<String>> = t
            .sequences
            .iter()
            .map(|s| {
                let mut row = vec![s.name.clone(), s.frames.to_string()];
                row.extend(s.scores.iter().map(|x| format_value(x.value, report.unit)));
                row.push(s.speed_fps.map_or("-".to_string(), |f| format!("{f:.1}")));
                row
            })
            .collect();
        out.push_str(&table(&t.name, &header, &rows));
        out.push('\n');
    }
    out
}

/// Serialises a report as pretty JSON (NaN scores become `null`).
pub fn report_json(report: &AnalysisReport) -> Result<String> {
    serde_json::to_string_pretty(report)
        .map_err(|e| EvalError::Request(format!("cannot serialise the report: {e}")))
}

/// Writes [`report_json`] to `path` atomically.
pub fn write_report_json(report: &AnalysisReport, path: &Path) -> Result<()> {
    Ok(ostrack_atomic::write(
        path,
        report_json(report)?.as_bytes(),
        ostrack_atomic::Durability::Renamed,
    )?)
}
