//! The dataset doctor: reads every sequence of a dataset the way training will, and lists every
//! problem with its file (and line): malformed or non-finite box lines, label files that do not
//! match the ground truth, missing frames, empty sequences, and with `deep` also frames that do
//! not decode (truncated or corrupt).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::datasets::{DatasetKind, TrackingDataset, open_dataset, open_layout};
use crate::decode::{decode_frame_strict, read_frame_bytes};
use crate::error::DataError;
use crate::settings::DataRoots;
use ostrack_config::ExperimentConfig;

/// How thorough the check is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DoctorOptions {
    /// Also decode every frame.
    pub deep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding; the message names the file (and line where there is one).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub severity: Severity,
    pub message: String,
}

/// Findings for one dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetReport {
    pub name: String,
    pub kind: String,
    pub root: PathBuf,
    pub sequences: usize,
    /// Sequences the causal sampler can use (≥ 20 frames, > 4 visible).
    pub usable_sequences: usize,
    pub frames: usize,
    pub visible_frames: usize,
    pub decoded_frames: usize,
    pub notes: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Findings for every dataset checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub datasets: Vec<DatasetReport>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.datasets
            .iter()
            .flat_map(|d| &d.problems)
            .filter(|p| p.severity == s)
            .count()
    }

    /// Whether anything is an error (the CLI exits non-zero then).
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.datasets {
            writeln!(f, "{} ({}) at {}", d.name, d.kind, d.root.display())?;
            let ratio = if d.frames > 0 {
                100.0 * d.visible_frames as f64 / d.frames as f64
            } else {
                0.0
            };
            writeln!(
                f,
                "  sequences: {} ({} usable by the sampler), frames: {}, visible: {} ({ratio:.1}%){}",
                d.sequences,
                d.usable_sequences,
                d.frames,
                d.visible_frames,
                if d.decoded_frames > 0 {
                    format!(", decoded: {}", d.decoded_frames)
                } else {
                    String::new()
                }
            )?;
            for n in &d.notes {
                writeln!(f, "  note: {n}")?;
            }
            for p in &d.problems {
                let tag = if p.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                writeln!(f, "  {tag}: {}", p.message)?;
            }
        }
        write!(
            f,
            "summary: {} datasets, {} errors, {} warnings",
            self.datasets.len(),
            self.errors(),
            self.warnings()
        )
    }
}

/// Checks every sequence of a layout at `root` (`ostrack data check --dataset K --root DIR`).
pub fn check_dataset(kind: DatasetKind, root: &Path, options: DoctorOptions) -> Report {
    let report = match open_layout(kind, root) {
        Ok(ds) => check_opened(ds.as_ref(), options),
        Err(e) => failed_open(kind.as_str(), kind.as_str(), root, e),
    };
    Report {
        datasets: vec![report],
    }
}

/// Checks every dataset the config names in `DATA.TRAIN` and `DATA.VAL`
/// (`ostrack data check --config CONFIG`).
pub fn check_config(cfg: &ExperimentConfig, roots: &DataRoots, options: DoctorOptions) -> Report {
    let mut seen = HashSet::new();
    let names = cfg
        .data
        .train
        .datasets_name
        .iter()
        .chain(&cfg.data.val.datasets_name);
    let datasets = names
        .filter(|n| seen.insert(n.as_str()))
        .map(|name| match open_dataset(name, roots) {
            Ok(ds) => check_opened(ds.as_ref(), options),
            Err(e) => {
                let root = e.path().map(Path::to_path_buf).unwrap_or_default();
                failed_open(name, "?", &root, e)
            }
        })
        .collect();
    Report { datasets }
}

fn failed_open(name: &str, kind: &str, root: &Path, e: DataError) -> DatasetReport {
    DatasetReport {
        name: name.to_string(),
        kind: kind.to_string(),
        root: root.to_path_buf(),
        problems: vec![Problem {
            severity: Severity::Error,
            message: e.to_string(),
        }],
        ..Default::default()
    }
}

/// What one sequence (or, for still images, one image) contributes.
#[derive(Default)]
struct SequenceFindings {
    frames: usize,
    visible: usize,
    /// Sequences the sampler can draw.
    usable: usize,
    decoded: usize,
    problems: Vec<Problem>,
}

fn error(message: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Error,
        message: message.into(),
    }
}

fn warning(message: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Warning,
        message: message.into(),
    }
}

fn check_opened(ds: &dyn TrackingDataset, options: DoctorOptions) -> DatasetReport {
    let per_seq: Vec<SequenceFindings> = if ds.is_video() {
        (0..ds.num_sequences())
            .into_par_iter()
            .map(|s| check_sequence(ds, s, options))
            .collect()
    } else {
        check_still_images(ds, options)
    };
    let mut r = DatasetReport {
        name: ds.name().to_string(),
        kind: ds.kind().as_str().to_string(),
        root: ds.root().to_path_buf(),
        sequences: ds.num_sequences(),
        notes: ds.notes().to_vec(),
        ..Default::default()
    };
    for f in per_seq {
        r.frames += f.frames;
        r.visible_frames += f.visible;
        r.usable_sequences += f.usable;
        r.decoded_frames += f.decoded;
        r.problems.extend(f.problems);
    }
    if r.usable_sequences == 0 {
        r.problems.push(error(format!(
            "{}: no sequence can be sampled (each needs at least 20 frames and more than 4 visible ones)",
            ds.root().display()
        )));
    }
    r
}

fn check_sequence(
    ds: &dyn TrackingDataset,
    seq: usize,
    options: DoctorOptions,
) -> SequenceFindings {
    let mut f = SequenceFindings::default();
    let anno = match ds.load_annotation(seq) {
        Ok(a) => a,
        Err(e) => {
            f.problems.push(error(e.to_string()));
            return f;
        }
    };
    f.frames = anno.len();
    f.visible = anno.visible_count();
    f.usable = (anno.len() >= 20 && f.visible > 4) as usize;
    if ds.kind() == DatasetKind::Got10k {
        let dir = ds
            .frame_path(seq, 0)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for file in ["absence.label", "cover.label", "meta_info.ini"] {
            if !dir.join(file).is_file() {
                f.problems.push(warning(format!(
                    "{}: missing (visibility from the boxes alone)",
                    dir.join(file).display()
                )));
            }
        }
    }
    let mut missing: Vec<usize> = Vec::new();
    for frame in 0..anno.len() {
        let path = ds.frame_path(seq, frame);
        if !path.is_file() {
            missing.push(frame);
        } else if options.deep {
            match read_frame_bytes(&path).and_then(|b| decode_frame_strict(&b, &path)) {
                Ok(_) => f.decoded += 1,
                Err(e) => f.problems.push(error(e.to_string())),
            }
        }
    }
    for (a, b) in ranges(&missing) {
        let (pa, pb) = (ds.frame_path(seq, a), ds.frame_path(seq, b));
        f.problems.push(error(if a == b {
            format!(
                "{}: missing frame (ground-truth line {})",
                pa.display(),
                a + 1
            )
        } else {
            format!(
                "{} .. {}: {} missing frames (ground-truth lines {}..{})",
                pa.display(),
                pb.file_name().unwrap_or_default().to_string_lossy(),
                b - a + 1,
                a + 1,
                b + 1
            )
        }));
    }
    f
}

/// Still-image datasets: every referenced image must exist (and decode with `deep`), each once.
/// Every annotation that loads is a usable one-frame sequence.
fn check_still_images(ds: &dyn TrackingDataset, options: DoctorOptions) -> Vec<SequenceFindings> {
    let mut seen = HashSet::new();
    let mut paths = Vec::new();
    let mut summary = SequenceFindings::default();
    for s in 0..ds.num_sequences() {
        match ds.load_annotation(s) {
            Ok(a) => {
                summary.frames += 1;
                summary.visible += a.visible_count();
                summary.usable += 1;
            }
            Err(e) => summary.problems.push(error(e.to_string())),
        }
        let p = ds.frame_path(s, 0);
        if seen.insert(p.clone()) {
            paths.push(p);
        }
    }
    let mut out: Vec<SequenceFindings> = paths
        .par_iter()
        .map(|p| {
            let mut f = SequenceFindings::default();
            if !p.is_file() {
                f.problems
                    .push(error(format!("{}: missing image", p.display())));
            } else if options.deep {
                match read_frame_bytes(p).and_then(|b| decode_frame_strict(&b, p)) {
                    Ok(_) => f.decoded += 1,
                    Err(e) => f.problems.push(error(e.to_string())),
                }
            }
            f
        })
        .collect();
    out.push(summary);
    out
}

/// Consecutive runs in a sorted list, as inclusive (first, last) pairs.
fn ranges(v: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &x in v {
        match out.last_mut() {
            Some((_, b)) if *b + 1 == x => *b = x,
            _ => out.push((x, x)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_missing_frames() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 7), (9, 10)]);
        assert!(ranges(&[]).is_empty());
    }
}
