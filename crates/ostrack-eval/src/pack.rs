//! Submission archives for the benchmark servers, equivalent to OSTrack's
//! `transform_got10k.py` / `transform_trackingnet.py` followed by `shutil.make_archive`.
//!
//! * GOT-10k: `<seq>/<seq>_001.txt` (comma-separated `x,y,w,h`, one line per frame) and
//!   `<seq>/<seq>_time.txt` (copied verbatim). Space- or tab-separated files silently fail on
//!   the server (got-10k/toolkit#21), hence the rewrite.
//! * TrackingNet: `<seq>.txt`, comma-separated.
//!
//! Input: OSTrack's result directory (its `got10k/` or `trackingnet/` subfolder is used when
//! present) holding `<seq>.txt` + `<seq>_time.txt`, or a GOT-10k toolkit directory holding
//! `<seq>/<seq>_NNN.txt`. Integer coordinates are written as integers (`%d`, as the original
//! converters), others in their shortest exact decimal form. `*_all_boxes.txt` /
//! `*_all_scores.txt` side files are skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

use zip::CompressionMethod;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use crate::datasets::{EvalSequence, dir_entries, sort_natural};
use crate::error::{EvalError, Result};
use crate::textio::{self, NanBoxes};
use ostrack_atomic::{Durability, PendingFile};

/// What a pack call wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackSummary {
    /// The archive.
    pub output: PathBuf,
    /// Sequences packed, naturally sorted.
    pub sequences: Vec<String>,
    /// Files stored in the archive (directories not counted).
    pub files: usize,
}

/// One file to store.
struct Entry {
    name: String,
    bytes: Vec<u8>,
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn comma_separated(boxes: &[[f64; 4]]) -> String {
    boxes
        .iter()
        .map(|b| {
            let cells: Vec<String> = b.iter().map(|&v| format_number(v)).collect();
            cells.join(",") + "\n"
        })
        .collect()
}

fn source_dir(results_dir: &Path, subfolder: &str) -> Result<PathBuf> {
    if !results_dir.is_dir() {
        return Err(EvalError::invalid(
            results_dir,
            "result directory not found",
        ));
    }
    let nested = results_dir.join(subfolder);
    Ok(if nested.is_dir() {
        nested
    } else {
        results_dir.to_path_buf()
    })
}

const SIDE_FILES: [&str; 3] = ["_time.txt", "_all_boxes.txt", "_all_scores.txt"];

/// Sequence names with a flat `<seq>.txt` box file in `dir`.
fn flat_sequences(dir: &Path) -> Result<Vec<String>> {
    Ok(dir_entries(dir)?
        .into_iter()
        .filter(|(name, is_dir)| {
            !is_dir && name.ends_with(".txt") && !SIDE_FILES.iter().any(|s| name.ends_with(s))
        })
        .map(|(name, _)| name.trim_end_matches(".txt").to_string())
        .collect())
}

/// Box file of `seq`, checked against the expected frame count when one is known.
fn read_checked(path: &Path, expected_frames: Option<usize>) -> Result<Vec<[f64; 4]>> {
    let table = textio::read_boxes(path, NanBoxes::Reject)?;
    if table.boxes.is_empty() {
        return Err(EvalError::invalid(path, "result file has no boxes"));
    }
    if let Some(n) = expected_frames
        && table.boxes.len() != n
    {
        return Err(EvalError::invalid(
            path,
            format!(
                "{} boxes, but the sequence has {n} frames",
                table.boxes.len()
            ),
        ));
    }
    Ok(table.boxes)
}

/// Frame counts of the expected sequences (where their frames are listed).
struct Expected<'a> {
    sequences: Option<&'a [EvalSequence]>,
}

impl Expected<'_> {
    fn frames(&self, seq: &str) -> Option<usize> {
        self.sequences?
            .iter()
            .find(|s| s.name == seq)
            .map(|s| s.frames.len())
            .filter(|&n| n > 0)
    }

    /// Every expected sequence present, nothing else.
    fn check(&self, found: &[String], dir: &Path) -> Result<()> {
        let Some(expected) = self.sequences else {
            return Ok(());
        };
        let missing: Vec<&str> = expected
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !found.iter().any(|f| f == n))
            .collect();
        let unexpected: Vec<&str> = found
            .iter()
            .map(String::as_str)
            .filter(|f| !expected.iter().any(|s| s.name == *f))
            .collect();
        if missing.is_empty() && unexpected.is_empty() {
            return Ok(());
        }
        let preview = |v: &[&str]| v.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        Err(EvalError::invalid(
            dir,
            format!(
                "results do not match the benchmark: {} missing ({}), {} unexpected ({})",
                missing.len(),
                preview(&missing),
                unexpected.len(),
                preview(&unexpected)
            ),
        ))
    }
}

fn write_zip(out_zip: &Path, dirs: &[String], entries: &[Entry]) -> Result<()> {
    let zip_err = |source| EvalError::Zip {
        path: out_zip.to_path_buf(),
        source,
    };
    let mut tmp = PendingFile::new(out_zip)?;
    {
        let mut zip = ZipWriter::new(tmp.file());
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for d in dirs {
            zip.add_directory(format!("{d}/"), options)
                .map_err(zip_err)?;
        }
        for e in entries {
            zip.start_file(e.name.as_str(), options).map_err(zip_err)?;
            zip.write_all(&e.bytes)
                .map_err(|err| EvalError::io(out_zip, err))?;
        }
        zip.finish().map_err(zip_err)?;
    }
    Ok(tmp.commit(Durability::Renamed)?)
}

/// Packs GOT-10k test results for the evaluation server. With `expected` (e.g.
/// `list_sequences(DatasetId::Got10kTest, root)`), the archive must hold exactly those
/// sequences, each with one box per listed frame.
pub fn pack_got10k(
    results_dir: &Path,
    out_zip: &Path,
    expected: Option<&[EvalSequence]>,
) -> Result<PackSummary> {
    let dir = source_dir(results_dir, "got10k")?;
    let expected = Expected {
        sequences: expected,
    };
    let mut sequences = flat_sequences(&dir)?;
    let flat = !sequences.is_empty();
    if !flat {
        sequences = dir_entries(&dir)?
            .into_iter()
            .filter(|(name, is_dir)| {
                *is_dir && dir.join(name).join(format!("{name}_001.txt")).is_file()
            })
            .map(|(name, _)| name)
            .collect();
    }
    if sequences.is_empty() {
        return Err(EvalError::invalid(
            &dir,
            "no GOT-10k results found (<seq>.txt or <seq>/<seq>_001.txt)",
        ));
    }
    sort_natural(&mut sequences);
    expected.check(&sequences, &dir)?;
    let mut entries = Vec::new();
    for seq in &sequences {
        let frames = expected.frames(seq);
        let (records, time_file): (Vec<(String, PathBuf)>, PathBuf) = if flat {
            (
                vec![(format!("{seq}_001.txt"), dir.join(format!("{seq}.txt")))],
                dir.join(format!("{seq}_time.txt")),
            )
        } else {
            let seq_dir = dir.join(seq);
            let mut reps: Vec<String> = dir_entries(&seq_dir)?
                .into_iter()
                .filter(|(name, is_dir)| {
                    !is_dir
                        && name
                            .strip_prefix(&format!("{seq}_"))
                            .and_then(|r| r.strip_suffix(".txt"))
                            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
                })
                .map(|(name, _)| name)
                .collect();
            sort_natural(&mut reps);
            let records = reps
                .into_iter()
                .map(|r| (r.clone(), seq_dir.join(r)))
                .collect();
            (records, seq_dir.join(format!("{seq}_time.txt")))
        };
        for (name, path) in records {
            let boxes = read_checked(&path, frames)?;
            entries.push(Entry {
                name: format!("{seq}/{name}"),
                bytes: comma_separated(&boxes).into_bytes(),
            });
        }
        if time_file.is_file() {
            let bytes = std::fs::read(&time_file).map_err(|e| EvalError::io(&time_file, e))?;
            entries.push(Entry {
                name: format!("{seq}/{seq}_time.txt"),
                bytes,
            });
        }
    }
    write_zip(out_zip, &sequences, &entries)?;
    Ok(PackSummary {
        output: out_zip.to_path_buf(),
        files: entries.len(),
        sequences,
    })
}

/// Packs TrackingNet test results for the evaluation server. With `expected` (e.g.
/// `list_sequences(DatasetId::TrackingNet, root)`), the archive must hold exactly those
/// sequences, each with one box per listed frame.
pub fn pack_trackingnet(
    results_dir: &Path,
    out_zip: &Path,
    expected: Option<&[EvalSequence]>,
) -> Result<PackSummary> {
    let dir = source_dir(results_dir, "trackingnet")?;
    let expected = Expected {
        sequences: expected,
    };
    let mut sequences = flat_sequences(&dir)?;
    if sequences.is_empty() {
        return Err(EvalError::invalid(
            &dir,
            "no TrackingNet results found (<seq>.txt)",
        ));
    }
    sort_natural(&mut sequences);
    expected.check(&sequences, &dir)?;
    let entries = sequences
        .iter()
        .map(|seq| {
            let boxes = read_checked(&dir.join(format!("{seq}.txt")), expected.frames(seq))?;
            Ok(Entry {
                name: format!("{seq}.txt"),
                bytes: comma_separated(&boxes).into_bytes(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    write_zip(out_zip, &[], &entries)?;
    Ok(PackSummary {
        output: out_zip.to_path_buf(),
        files: entries.len(),
        sequences,
    })
}
