//! Per-sequence annotation files: `groundtruth.txt` boxes and visibility label files, parsed
//! strictly (every problem names its file and line).

use std::path::Path;

use crate::error::{DataError, read_text};

/// Boxes and visibility of one sequence, one entry per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceAnno {
    /// `[x, y, w, h]` per frame, float32 as the original reads them.
    pub boxes: Vec<[f32; 4]>,
    /// Whether the target may be sampled in that frame (dataset flags and `w > 0 && h > 0`).
    pub visible: Vec<bool>,
}

impl SequenceAnno {
    /// Builds an annotation whose visibility is `flags && w > 0 && h > 0`.
    pub fn new(boxes: Vec<[f32; 4]>, flags: Option<Vec<bool>>) -> Self {
        let visible = boxes
            .iter()
            .enumerate()
            .map(|(i, b)| b[2] > 0.0 && b[3] > 0.0 && flags.as_ref().is_none_or(|f| f[i]))
            .collect();
        Self { boxes, visible }
    }

    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    pub fn visible_count(&self) -> usize {
        self.visible.iter().filter(|&&v| v).count()
    }
}

/// Splits one line of numbers on commas, tabs or spaces (the official files use commas).
fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
}

/// Content lines with their 1-based numbers; blank lines are allowed only at the end.
fn content_lines<'a>(path: &Path, text: &'a str) -> Result<Vec<(usize, &'a str)>, DataError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect();
    let last = lines
        .iter()
        .rposition(|(_, l)| !l.trim().is_empty())
        .map_or(0, |p| p + 1);
    let lines = &lines[..last];
    if let Some((n, _)) = lines.iter().find(|(_, l)| l.trim().is_empty()) {
        return Err(DataError::line(
            path,
            *n,
            "empty line before the end of the file (frames would shift)",
        ));
    }
    Ok(lines.to_vec())
}

/// Reads `x,y,w,h` per line. Errors: not exactly 4 numbers, unparsable or non-finite values,
/// negative sizes, no boxes at all.
pub fn read_boxes(path: &Path) -> Result<Vec<[f32; 4]>, DataError> {
    let text = read_text(path)?;
    let lines = content_lines(path, &text)?;
    if lines.is_empty() {
        return Err(DataError::file(path, "no boxes (empty ground truth)"));
    }
    lines
        .into_iter()
        .map(|(n, line)| {
            let tokens: Vec<&str> = fields(line).collect();
            if tokens.len() != 4 {
                return Err(DataError::line(
                    path,
                    n,
                    format!(
                        "expected 4 numbers x,y,w,h, found {} in {line:?}",
                        tokens.len()
                    ),
                ));
            }
            let mut b = [0f32; 4];
            for (k, t) in tokens.iter().enumerate() {
                // Parsed as double and narrowed, as pandas' float32 reader does.
                let v: f64 = t
                    .parse()
                    .map_err(|_| DataError::line(path, n, format!("{t:?} is not a number")))?;
                if !v.is_finite() {
                    return Err(DataError::line(path, n, format!("non-finite value {t:?}")));
                }
                b[k] = v as f32;
            }
            if b[2] < 0.0 || b[3] < 0.0 {
                return Err(DataError::line(
                    path,
                    n,
                    format!("negative box size w={} h={}", b[2], b[3]),
                ));
            }
            Ok(b)
        })
        .collect()
}

/// Reads one small integer per line (the first field), e.g. GOT-10k `absence.label`.
pub fn read_label_lines(path: &Path, max: u8) -> Result<Vec<u8>, DataError> {
    let text = read_text(path)?;
    content_lines(path, &text)?
        .into_iter()
        .map(|(n, line)| {
            let t = fields(line).next().unwrap_or("");
            parse_label(path, n, t, max)
        })
        .collect()
}

/// Reads one comma-separated line of small integers, e.g. LaSOT `full_occlusion.txt`.
pub fn read_label_row(path: &Path, max: u8) -> Result<Vec<u8>, DataError> {
    let text = read_text(path)?;
    let lines = content_lines(path, &text)?;
    let Some((n, line)) = lines.first() else {
        return Err(DataError::file(path, "empty label file"));
    };
    if lines.len() > 1 {
        return Err(DataError::line(
            path,
            lines[1].0,
            "expected a single comma-separated line",
        ));
    }
    fields(line)
        .map(|t| parse_label(path, *n, t, max))
        .collect()
}

fn parse_label(path: &Path, line: usize, token: &str, max: u8) -> Result<u8, DataError> {
    match token.parse::<u8>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(DataError::line(
            path,
            line,
            format!("expected an integer label 0..={max}, found {token:?}"),
        )),
    }
}

/// Checks that a label file has one entry per ground-truth line.
pub fn check_same_length(
    labels: &Path,
    n_labels: usize,
    gt: &Path,
    n_gt: usize,
) -> Result<(), DataError> {
    if n_labels != n_gt {
        return Err(DataError::file(
            labels,
            format!(
                "{n_labels} entries but {} has {n_gt} boxes",
                gt.file_name().unwrap_or_default().to_string_lossy()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, line, what) in [
            ("1,2,3,4\n1,2,3\n", 2, "found 3"),
            ("1,2,3,4\n1,2,nan,4\n", 2, "non-finite"),
            ("1,2,3,4\n1,2,-3,4\n", 2, "negative"),
            ("1,2,3,4\n\n1,2,3,4\n", 2, "empty line"),
            ("1,2,x,4\n", 1, "not a number"),
        ] {
            let p = write(dir.path(), "groundtruth.txt", text);
            let e = read_boxes(&p).unwrap_err().to_string();
            assert!(
                e.contains(&format!("groundtruth.txt:{line}:")) && e.contains(what),
                "{e}"
            );
        }
        let p = write(dir.path(), "groundtruth.txt", "");
        assert!(read_boxes(&p).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn accepts_commas_tabs_and_trailing_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "g.txt", "1,2,3,4\r\n5\t6\t7\t8\n\n");
        assert_eq!(
            read_boxes(&p).unwrap(),
            vec![[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
        );
        let p = write(dir.path(), "o.txt", "0,1,0\n");
        assert_eq!(read_label_row(&p, 1).unwrap(), vec![0, 1, 0]);
        let p = write(dir.path(), "c.label", "8\n9\n");
        assert!(
            read_label_lines(&p, 8)
                .unwrap_err()
                .to_string()
                .contains("c.label:2:")
        );
    }
}
