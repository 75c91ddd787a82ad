//! The source folder's `groundtruth.txt` as `ostrack track` uses it: the init box (first row)
//! and, when it has one box per frame, the per-frame overlap of the tracked boxes with it.
//!
//! This is a quick look while tracking, not a benchmark score: absence labels are not read and
//! no toolkit's rounding is copied (`ostrack eval` does that).

use std::path::{Path, PathBuf};

use ostrack_data::BoxXywh;

use crate::error::{Result, TrackError};
use crate::source::parse_box;

/// Overlap above which a frame counts as a success (the usual success-rate threshold).
pub const SUCCESS_IOU: f64 = 0.5;

/// Per-frame overlap of the tracked boxes with the source's ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruthOverlap {
    pub groundtruth: PathBuf,
    /// IoU of each frame's box with its ground-truth box. `None` for frame 0 (the init box is
    /// given, not tracked; GOT-10k leaves it out too) and for frames whose ground-truth box is not
    /// a box (non-finite or zero size: the target is absent).
    pub ious: Vec<Option<f64>>,
    /// Average overlap (AO): the mean of the `Some` IoUs.
    pub average_overlap: f64,
    /// Fraction of the scored frames whose IoU is above [`SUCCESS_IOU`].
    pub success_rate: f64,
}

impl GroundTruthOverlap {
    /// Number of frames that entered the averages.
    pub fn scored_frames(&self) -> usize {
        self.ious.iter().flatten().count()
    }
}

/// A parsed `groundtruth.txt`: its boxes with their 1-based line numbers (blank lines skipped).
#[derive(Debug, Clone)]
pub(crate) struct GroundTruth {
    pub path: PathBuf,
    pub rows: Vec<(usize, BoxXywh)>,
}

impl GroundTruth {
    /// Reads `path`; `frames` (when known) must equal the number of boxes, or the file must hold
    /// a single box (an init box only).
    pub(crate) fn read(path: &Path, frames: Option<usize>) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrackError::io(path, e))?;
        let mut rows = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let b = parse_box(line).map_err(|message| TrackError::File {
                path: path.to_path_buf(),
                line: Some(index + 1),
                message,
            })?;
            rows.push((index + 1, b));
        }
        if rows.is_empty() {
            return Err(TrackError::file(path, "ground-truth file is empty"));
        }
        if let Some(n) = frames
            && rows.len() != 1
            && rows.len() != n
        {
            return Err(TrackError::file(
                path,
                format!(
                    "has {} boxes but the source has {n} frames (expected one box per frame, \
                     or a single init box)",
                    rows.len()
                ),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            rows,
        })
    }

    /// The overlap of `boxes` (one per frame, frame 0 = init) with these boxes; `None` when the
    /// file holds only an init box, its length differs from `boxes`, or no frame can be scored.
    pub(crate) fn overlap(&self, boxes: &[BoxXywh]) -> Option<GroundTruthOverlap> {
        if boxes.len() < 2 || self.rows.len() != boxes.len() {
            return None;
        }
        let ious: Vec<Option<f64>> = boxes
            .iter()
            .zip(&self.rows)
            .enumerate()
            .map(|(i, (b, (_, gt)))| (i > 0 && is_box(gt)).then(|| iou(b, gt)))
            .collect();
        let scored: Vec<f64> = ious.iter().flatten().copied().collect();
        if scored.is_empty() {
            return None;
        }
        let n = scored.len() as f64;
        Some(GroundTruthOverlap {
            groundtruth: self.path.clone(),
            average_overlap: scored.iter().sum::<f64>() / n,
            success_rate: scored.iter().filter(|&&v| v > SUCCESS_IOU).count() as f64 / n,
            ious,
        })
    }
}

fn is_box(b: &BoxXywh) -> bool {
    b.iter().all(|v| v.is_finite()) && b[2] > 0.0 && b[3] > 0.0
}

/// Intersection over union of two `x,y,w,h` boxes.
fn iou(a: &BoxXywh, b: &BoxXywh) -> f64 {
    let w = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let h = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 10.0, 10.0]), 0.0);
        // 5x10 shared of 100 + 100 - 50.
        assert_eq!(
            iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 10.0, 10.0]),
            50.0 / 150.0
        );
    }

    #[test]
    fn frame_zero_and_absent_targets_are_not_scored() {
        let gt = GroundTruth {
            path: PathBuf::from("gt.txt"),
            rows: vec![
                (1, [0.0, 0.0, 10.0, 10.0]),
                (2, [0.0, 0.0, 10.0, 10.0]),
                (3, [f64::NAN, 0.0, 10.0, 10.0]),
                (4, [0.0, 0.0, 0.0, 10.0]),
                (5, [5.0, 0.0, 10.0, 10.0]),
            ],
        };
        let boxes = [[0.0, 0.0, 10.0, 10.0]; 5];
        let o = gt.overlap(&boxes).unwrap();
        assert_eq!(o.ious, [None, Some(1.0), None, None, Some(1.0 / 3.0)]);
        assert_eq!(o.scored_frames(), 2);
        assert_eq!(o.average_overlap, (1.0 + 1.0 / 3.0) / 2.0);
        assert_eq!(o.success_rate, 0.5);
        assert!(gt.overlap(&boxes[..4]).is_none());
    }
}
