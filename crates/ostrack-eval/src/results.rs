//! Tracker result files: writing them exactly as the original runner does and reading every
//! layout the toolkits use.
//!
//! Layouts read, tried in this order for each tracker directory `D` and sequence `S`:
//! 1. OSTrack / pytracking: `D/S.txt` (tab-separated integers) and `D/S_time.txt`;
//! 2. GOT-10k toolkit: `D/S/S_001.txt … S_00N.txt` (one file per repetition, comma-separated)
//!    and `D/S/S_time.txt` (one column per repetition);
//! 3. OSTrack's dataset subfolders: `D/got10k/S.txt`, `D/trackingnet/S.txt` (+ `_time.txt`).
//!
//! A time file may also sit in `D/times/S_time.txt` (got10k toolkit's OTB layout).

use std::path::{Path, PathBuf};

use crate::datasets::{DatasetId, dir_entries};
use crate::error::{EvalError, Result};
use crate::textio::{self, BoxTable, NanBoxes};
use ostrack_atomic::Durability;

/// Path of a sequence's box file as OSTrack's `running.py` names it:
/// `<results_dir>/<seq>.txt`, or `<results_dir>/<got10k|trackingnet>/<seq>.txt`.
pub fn sequence_result_path(results_dir: &Path, dataset: DatasetId, seq: &str) -> PathBuf {
    base_dir(results_dir, dataset).join(format!("{seq}.txt"))
}

/// Path of the per-frame time file next to [`sequence_result_path`].
pub fn sequence_time_path(results_dir: &Path, dataset: DatasetId, seq: &str) -> PathBuf {
    base_dir(results_dir, dataset).join(format!("{seq}_time.txt"))
}

/// Whether the sequence was already tracked (the original skips such sequences on resume).
pub fn sequence_result_exists(results_dir: &Path, dataset: DatasetId, seq: &str) -> bool {
    sequence_result_path(results_dir, dataset, seq).is_file()
}

fn base_dir(results_dir: &Path, dataset: DatasetId) -> PathBuf {
    match dataset.results_subfolder() {
        Some(sub) => results_dir.join(sub),
        None => results_dir.to_path_buf(),
    }
}

/// `np.array(boxes).astype(int)` saved with `fmt='%d', delimiter='\t'`: coordinates truncated
/// toward zero.
pub fn format_ostrack_boxes(boxes: &[[f64; 4]]) -> Result<String> {
    let mut out = String::with_capacity(boxes.len() * 24);
    for (i, b) in boxes.iter().enumerate() {
        let ints = truncate_box(b).ok_or_else(|| {
            EvalError::Request(format!(
                "frame {}: box {b:?} has a non-finite or huge value",
                i + 1
            ))
        })?;
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            ints[0], ints[1], ints[2], ints[3]
        ));
    }
    Ok(out)
}

fn truncate_box(b: &[f64; 4]) -> Option<[i64; 4]> {
    let mut out = [0i64; 4];
    for (o, v) in out.iter_mut().zip(b) {
        if !v.is_finite() || v.abs() >= 9.0e18 {
            return None;
        }
        *o = v.trunc() as i64;
    }
    Some(out)
}

/// Per-frame seconds saved with `fmt='%f'`.
pub fn format_times(times: &[f64]) -> String {
    times.iter().map(|t| format!("{t:.6}\n")).collect()
}

/// Writes one tracked sequence the way OSTrack's runner does: `<seq>.txt` (integer boxes,
/// tab-separated, frame 0 = the init box) and `<seq>_time.txt`, in `results_dir` or its
/// `got10k/` / `trackingnet/` subfolder. The time file is written first, so an existing box file
/// (the resume marker) always has its time file. Returns the box file path.
pub fn write_sequence_result(
    results_dir: &Path,
    dataset: DatasetId,
    seq: &str,
    boxes: &[[f64; 4]],
    times: &[f64],
) -> Result<PathBuf> {
    if boxes.len() != times.len() {
        return Err(EvalError::Request(format!(
            "sequence {seq}: {} boxes but {} frame times",
            boxes.len(),
            times.len()
        )));
    }
    let text = format_ostrack_boxes(boxes)
        .map_err(|e| EvalError::Request(format!("sequence {seq}: {e}")))?;
    let box_path = sequence_result_path(results_dir, dataset, seq);
    ostrack_atomic::write(
        &sequence_time_path(results_dir, dataset, seq),
        format_times(times).as_bytes(),
        Durability::Renamed,
    )?;
    ostrack_atomic::write(&box_path, text.as_bytes(), Durability::Renamed)?;
    Ok(box_path)
}

/// Writes repetition `repetition` (1-based) of a sequence in the GOT-10k toolkit layout:
/// `<tracker_dir>/<seq>/<seq>_%03d.txt` (`%.3f`, comma-separated) and adds a column to
/// `<seq>_time.txt` (`%.8f`), as `ExperimentGOT10k._record` does.
pub fn write_got10k_repetition(
    tracker_dir: &Path,
    seq: &str,
    repetition: usize,
    boxes: &[[f64; 4]],
    times: &[f64],
) -> Result<PathBuf> {
    if repetition == 0 || boxes.len() != times.len() {
        return Err(EvalError::Request(format!(
            "sequence {seq}: repetition {repetition} with {} boxes and {} times (repetitions start at 1, one time per box)",
            boxes.len(),
            times.len()
        )));
    }
    let dir = tracker_dir.join(seq);
    let mut text = String::new();
    for b in boxes {
        text.push_str(&format!(
            "{:.3},{:.3},{:.3},{:.3}\n",
            b[0], b[1], b[2], b[3]
        ));
    }
    let record = dir.join(format!("{seq}_{repetition:03}.txt"));
    ostrack_atomic::write(&record, text.as_bytes(), Durability::Renamed)?;

    let time_path = dir.join(format!("{seq}_time.txt"));
    let mut columns: Vec<Vec<f64>> = if time_path.is_file() {
        textio::read_number_rows(&time_path)?
            .into_iter()
            .map(|(_, row)| row)
            .collect()
    } else {
        vec![Vec::new(); times.len()]
    };
    if columns.len() != times.len() {
        return Err(EvalError::invalid(
            &time_path,
            format!(
                "{} rows, but this repetition has {} frames",
                columns.len(),
                times.len()
            ),
        ));
    }
    for (row, t) in columns.iter_mut().zip(times) {
        row.push(*t);
    }
    let time_text: String = columns
        .iter()
        .map(|row| {
            let cells: Vec<String> = row.iter().map(|t| format!("{t:.8}")).collect();
            cells.join(",") + "\n"
        })
        .collect();
    ostrack_atomic::write(&time_path, time_text.as_bytes(), Durability::Renamed)?;
    Ok(record)
}

/// One box file of a tracker (one run or repetition).
#[derive(Clone, Debug)]
pub struct ResultRun {
    /// File the boxes were read from.
    pub path: PathBuf,
    /// `x, y, w, h` per frame.
    pub boxes: Vec<[f64; 4]>,
    lines: Vec<usize>,
}

impl ResultRun {
    fn from_table(t: BoxTable) -> Self {
        ResultRun {
            path: t.path,
            boxes: t.boxes,
            lines: t.lines,
        }
    }

    /// 1-based line of row `row` in [`ResultRun::path`].
    pub(crate) fn line_of(&self, row: usize) -> usize {
        self.lines
            .get(row)
            .copied()
            .unwrap_or_else(|| self.lines.last().copied().unwrap_or(0) + 1)
    }
}

/// All results of one tracker on one sequence.
#[derive(Clone, Debug)]
pub struct SequenceResult {
    /// Every run / repetition found, in directory order then repetition order.
    pub runs: Vec<ResultRun>,
    /// Every number of the time files found (NaN kept; toolkits filter).
    pub times: Vec<f64>,
    /// Whether any time file was found.
    pub has_time_file: bool,
}

struct Located {
    box_files: Vec<PathBuf>,
    time_file: Option<PathBuf>,
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.is_file().then_some(path)
}

/// `S_<digits>.txt` repetition files of the GOT-10k layout, by repetition number.
fn repetition_files(seq_dir: &Path, seq: &str) -> Result<Vec<PathBuf>> {
    if !seq_dir.is_dir() {
        return Ok(Vec::new());
    }
    let prefix = format!("{seq}_");
    let mut found: Vec<(u64, PathBuf)> = dir_entries(seq_dir)?
        .into_iter()
        .filter(|(_, is_dir)| !is_dir)
        .filter_map(|(name, _)| {
            let digits = name.strip_prefix(&prefix)?.strip_suffix(".txt")?;
            let rep = digits
                .chars()
                .all(|c| c.is_ascii_digit())
                .then(|| digits.parse::<u64>().ok())??;
            Some((rep, seq_dir.join(name)))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

fn locate(dir: &Path, seq: &str) -> Result<Option<Located>> {
    let fallback_time = || existing(dir.join("times").join(format!("{seq}_time.txt")));
    if let Some(file) = existing(dir.join(format!("{seq}.txt"))) {
        let time_file = existing(dir.join(format!("{seq}_time.txt"))).or_else(fallback_time);
        return Ok(Some(Located {
            box_files: vec![file],
            time_file,
        }));
    }
    let seq_dir = dir.join(seq);
    let reps = repetition_files(&seq_dir, seq)?;
    if !reps.is_empty() {
        let time_file = existing(seq_dir.join(format!("{seq}_time.txt"))).or_else(fallback_time);
        return Ok(Some(Located {
            box_files: reps,
            time_file,
        }));
    }
    for sub in ["got10k", "trackingnet"] {
        if let Some(file) = existing(dir.join(sub).join(format!("{seq}.txt"))) {
            let time_file = existing(dir.join(sub).join(format!("{seq}_time.txt")));
            return Ok(Some(Located {
                box_files: vec![file],
                time_file,
            }));
        }
    }
    Ok(None)
}

/// Reads every run of `seq` in `dirs`; `Ok(None)` when no directory has a result for it.
pub(crate) fn try_read_sequence_results(
    dirs: &[PathBuf],
    seq: &str,
    nan: NanBoxes,
) -> Result<Option<SequenceResult>> {
    let mut result = SequenceResult {
        runs: Vec::new(),
        times: Vec::new(),
        has_time_file: false,
    };
    for dir in dirs {
        let Some(found) = locate(dir, seq)? else {
            continue;
        };
        for file in found.box_files {
            let table = textio::read_boxes(&file, nan)?;
            if table.boxes.is_empty() {
                return Err(EvalError::invalid(&file, "result file has no boxes"));
            }
            result.runs.push(ResultRun::from_table(table));
        }
        if let Some(time_file) = found.time_file {
            result.times.extend(textio::read_numbers(&time_file)?);
            result.has_time_file = true;
        }
    }
    Ok((!result.runs.is_empty()).then_some(result))
}

/// Reads every run of `seq` in `dirs`; a directory without a result for it is an error.
pub(crate) fn read_sequence_results(
    dirs: &[PathBuf],
    seq: &str,
    nan: NanBoxes,
) -> Result<SequenceResult> {
    for dir in dirs {
        if locate(dir, seq)?.is_none() {
            return Err(EvalError::invalid(
                dir,
                format!(
                    "no result for sequence {seq}: expected {seq}.txt, {seq}/{seq}_001.txt or got10k|trackingnet/{seq}.txt"
                ),
            ));
        }
    }
    match try_read_sequence_results(dirs, seq, nan)? {
        Some(r) => Ok(r),
        None => Err(EvalError::Request(format!(
            "no result directories given for sequence {seq}"
        ))),
    }
}

/// Reads the results of one tracker directory for one sequence (any layout above).
pub fn read_sequence_result(tracker_dir: &Path, seq: &str) -> Result<SequenceResult> {
    read_sequence_results(&[tracker_dir.to_path_buf()], seq, NanBoxes::Reject)
}
