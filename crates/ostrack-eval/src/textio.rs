//! Reading the plain-text number tables every benchmark and toolkit uses.
//!
//! Delimiters follow what the official loaders accept (`np.loadtxt` with `,` or `\t`, and OTB's
//! whitespace-separated files): a line containing a comma is split on commas, any other line on
//! whitespace. Blank lines are skipped, as `np.loadtxt` does; line numbers in errors are 1-based
//! lines of the file.

use std::path::{Path, PathBuf};

use crate::error::{EvalError, Result};

/// Reads a whole text file.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))
}

fn split_fields(line: &str) -> Vec<&str> {
    if line.contains(',') {
        line.split(',').map(str::trim).collect()
    } else {
        line.split_whitespace().collect()
    }
}

fn parse_number(token: &str, path: &Path, line: usize) -> Result<f64> {
    token
        .parse::<f64>()
        .map_err(|_| EvalError::parse(path, line, format!("expected a number, found {token:?}")))
}

/// Non-blank lines as numbers, with their 1-based line numbers.
fn parse_rows(text: &str, path: &Path) -> Result<Vec<(usize, Vec<f64>)>> {
    let mut rows = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let values = split_fields(raw)
            .into_iter()
            .map(|token| parse_number(token, path, line))
            .collect::<Result<Vec<f64>>>()?;
        rows.push((line, values));
    }
    Ok(rows)
}

/// Whether NaN coordinates are acceptable in a box file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NanBoxes {
    /// UAV123 ground truth and MATLAB-repaired LaSOT results legitimately contain NaN rows.
    Allow,
    Reject,
}

/// A file of `x, y, w, h` rows with the line each row came from.
#[derive(Clone, Debug)]
pub(crate) struct BoxTable {
    pub path: PathBuf,
    pub boxes: Vec<[f64; 4]>,
    pub lines: Vec<usize>,
}

/// Parses `x, y, w, h` rows; every row must have exactly four numbers.
pub(crate) fn parse_boxes(text: &str, path: &Path, nan: NanBoxes) -> Result<BoxTable> {
    let mut boxes = Vec::new();
    let mut lines = Vec::new();
    for (line, values) in parse_rows(text, path)? {
        if values.len() != 4 {
            return Err(EvalError::parse(
                path,
                line,
                format!("expected 4 values (x, y, w, h), found {}", values.len()),
            ));
        }
        if nan == NanBoxes::Reject && values.iter().any(|v| v.is_nan()) {
            return Err(EvalError::parse(path, line, "NaN in box"));
        }
        boxes.push([values[0], values[1], values[2], values[3]]);
        lines.push(line);
    }
    Ok(BoxTable {
        path: path.to_path_buf(),
        boxes,
        lines,
    })
}

/// Reads a box file (see [`parse_boxes`]).
pub(crate) fn read_boxes(path: &Path, nan: NanBoxes) -> Result<BoxTable> {
    parse_boxes(&read_text(path)?, path, nan)
}

/// Every number of a file in reading order, however it is laid out in lines and columns
/// (label files with one value per line, LaSOT's single comma-separated line, time files
/// with one column per repetition).
pub(crate) fn read_numbers(path: &Path) -> Result<Vec<f64>> {
    let text = read_text(path)?;
    Ok(parse_rows(&text, path)?
        .into_iter()
        .flat_map(|(_, values)| values)
        .collect())
}

/// Like [`read_numbers`], but keeps the rows (one per line).
pub(crate) fn read_number_rows(path: &Path) -> Result<Vec<(usize, Vec<f64>)>> {
    parse_rows(&read_text(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_official_delimiters() {
        let p = Path::new("t.txt");
        let t = parse_boxes("1,2,3,4\n\n5\t6\t7\t8\n9 10 11 12\n", p, NanBoxes::Reject).unwrap();
        assert_eq!(
            t.boxes,
            vec![[1., 2., 3., 4.], [5., 6., 7., 8.], [9., 10., 11., 12.]]
        );
        assert_eq!(t.lines, vec![1, 3, 4]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let p = Path::new("dir/seq.txt");
        let e = parse_boxes("1,2,3,4\n1,2,3\n", p, NanBoxes::Reject).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/seq.txt:2: expected 4 values (x, y, w, h), found 3"
        );
        let e = parse_boxes("1,2,3,4\n1,nan,3,4\n", p, NanBoxes::Reject).unwrap_err();
        assert_eq!(e.to_string(), "dir/seq.txt:2: NaN in box");
        let e = parse_boxes("1,2,x,4\n", p, NanBoxes::Reject).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/seq.txt:1: expected a number, found \"x\""
        );
        let t = parse_boxes("NaN,NaN,NaN,NaN\n", p, NanBoxes::Allow).unwrap();
        assert!(t.boxes[0][0].is_nan());
    }
}
