//! COCO 2017 as one-frame sequences (`lib/train/dataset/coco_seq.py`): one sequence per
//! non-crowd annotation of `<root>/annotations/instances_train2017.json`, images under
//! `<root>/images/train2017/`. The annotation file is parsed once, keeping only the fields used
//! (segmentations are skipped without being materialised; masks are not used by OSTrack).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::annotation::SequenceAnno;
use super::{DatasetInfo, DatasetKind, TrackingDataset};
use crate::error::DataError;

#[derive(Deserialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    annotations: Vec<CocoAnnotation>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
}

#[derive(Deserialize)]
struct CocoAnnotation {
    id: u64,
    image_id: u64,
    bbox: Vec<f64>,
    #[serde(default)]
    iscrowd: u8,
    #[serde(default, rename = "segmentation")]
    _segmentation: IgnoredAny,
}

struct CocoSequence {
    ann_id: u64,
    image: usize,
    bbox: [f32; 4],
}

pub struct Coco {
    info: DatasetInfo,
    image_dir: PathBuf,
    images: Vec<String>,
    sequences: Vec<CocoSequence>,
}

impl Coco {
    pub fn open(name: &str, root: &Path) -> Result<Self, DataError> {
        let anno_path = root.join("annotations").join("instances_train2017.json");
        let bytes = std::fs::read(&anno_path).map_err(|e| DataError::io(&anno_path, e))?;
        let file: CocoFile = serde_json::from_slice(&bytes).map_err(|e| {
            DataError::line(
                &anno_path,
                e.line(),
                format!("invalid COCO annotations: {e}"),
            )
        })?;
        drop(bytes);
        let index: HashMap<u64, usize> = file
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id, i))
            .collect();
        let mut sequences = Vec::new();
        for ann in file.annotations.iter().filter(|a| a.iscrowd == 0) {
            let bad =
                |m: String| DataError::file(&anno_path, format!("annotation id {}: {m}", ann.id));
            let &image = index
                .get(&ann.image_id)
                .ok_or_else(|| bad(format!("unknown image_id {}", ann.image_id)))?;
            let b: [f64; 4] = ann
                .bbox
                .as_slice()
                .try_into()
                .map_err(|_| bad(format!("bbox has {} numbers, expected 4", ann.bbox.len())))?;
            if b.iter().any(|v| !v.is_finite()) || b[2] < 0.0 || b[3] < 0.0 {
                return Err(bad(format!("invalid bbox {b:?}")));
            }
            sequences.push(CocoSequence {
                ann_id: ann.id,
                image,
                bbox: b.map(|v| v as f32),
            });
        }
        if sequences.is_empty() {
            return Err(DataError::file(&anno_path, "no non-crowd annotations"));
        }
        let images = file.images.into_iter().map(|im| im.file_name).collect();
        Ok(Self {
            info: DatasetInfo::new(name, DatasetKind::Coco, root, false, Vec::new()),
            image_dir: root.join("images").join("train2017"),
            images,
            sequences,
        })
    }
}

impl TrackingDataset for Coco {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn num_sequences(&self) -> usize {
        self.sequences.len()
    }

    fn sequence_name(&self, seq: usize) -> String {
        format!("annotation {}", self.sequences[seq].ann_id)
    }

    /// `visible = w > 50 && h > 50` (the sampler ignores visibility for still images, as the
    /// original does).
    fn load_annotation(&self, seq: usize) -> Result<SequenceAnno, DataError> {
        let b = self.sequences[seq].bbox;
        Ok(SequenceAnno {
            boxes: vec![b],
            visible: vec![b[2] > 50.0 && b[3] > 50.0],
        })
    }

    fn frame_path(&self, seq: usize, _frame: usize) -> PathBuf {
        self.image_dir.join(&self.images[self.sequences[seq].image])
    }
}
