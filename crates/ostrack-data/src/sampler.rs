//! The causal `TrackingSampler` (spec §5.2): dataset by ratio, sequence uniformly among those
//! with enough visible frames, a template frame and a later search frame at most
//! `MAX_SAMPLE_INTERVAL` (+ a growing gap) apart.
//!
//! Differences from the original, on purpose: annotations are read once (in parallel) when the
//! sampler is built, sequences with broken annotations are excluded and listed instead of
//! crashing a worker, and the sequence draw picks uniformly among the eligible sequences directly
//! (the original redraws until one qualifies, which is the same distribution but loops forever
//! when none does).

use std::sync::Arc;

use rand::RngExt;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::datasets::{SequenceAnno, TrackingDataset};
use crate::error::DataError;

/// A video sequence can be sampled when it has more than `2 * (1 + 1)` visible frames and at
/// least 20 frames (one template, one search frame).
const MIN_VISIBLE_EXCLUSIVE: usize = 4;
const MIN_FRAMES: usize = 20;
/// Bound on the causal frame search (the original loops until it succeeds).
const MAX_FRAME_DRAWS: usize = 10_000;
/// The gap growth per failed search-frame draw.
const GAP_STEP: usize = 5;

/// A sequence that cannot be used, and why.
#[derive(Debug)]
pub struct ExcludedSequence {
    pub dataset: String,
    pub sequence: String,
    pub error: DataError,
}

/// A sequence the sampler may draw, with its visible frame indices.
struct EligibleSequence {
    seq: usize,
    anno: Arc<SequenceAnno>,
    visible: Vec<usize>,
}

/// One dataset with its eligible sequences.
pub(crate) struct SampledDataset {
    pub dataset: Box<dyn TrackingDataset>,
    /// Video datasets: the eligible sequences.
    eligible: Vec<EligibleSequence>,
    /// Sequences with fewer visible frames than the sampler needs (not errors).
    pub too_short: usize,
}

impl SampledDataset {
    fn build(dataset: Box<dyn TrackingDataset>, excluded: &mut Vec<ExcludedSequence>) -> Self {
        if !dataset.is_video() {
            return Self {
                dataset,
                eligible: Vec::new(),
                too_short: 0,
            };
        }
        let loaded: Vec<(usize, Result<SequenceAnno, DataError>)> = (0..dataset.num_sequences())
            .into_par_iter()
            .map(|s| (s, dataset.load_annotation(s)))
            .collect();
        let mut eligible = Vec::new();
        let mut too_short = 0;
        for (seq, anno) in loaded {
            match anno {
                Ok(a) if a.visible_count() > MIN_VISIBLE_EXCLUSIVE && a.len() >= MIN_FRAMES => {
                    let visible = (0..a.len()).filter(|&i| a.visible[i]).collect();
                    eligible.push(EligibleSequence {
                        seq,
                        anno: Arc::new(a),
                        visible,
                    })
                }
                Ok(_) => too_short += 1,
                Err(error) => excluded.push(ExcludedSequence {
                    dataset: dataset.name().to_string(),
                    sequence: dataset.sequence_name(seq),
                    error,
                }),
            }
        }
        Self {
            dataset,
            eligible,
            too_short,
        }
    }

    /// Number of sequences the sampler can draw.
    pub fn usable_sequences(&self) -> usize {
        if self.dataset.is_video() {
            self.eligible.len()
        } else {
            self.dataset.num_sequences()
        }
    }
}

/// The frames chosen for one training pair.
#[derive(Debug, Clone)]
pub struct PairDraw {
    pub dataset: usize,
    pub sequence: usize,
    pub template_frame: usize,
    pub search_frame: usize,
    pub template_box: [f32; 4],
    pub search_box: [f32; 4],
}

/// Draws dataset, sequence and frames.
pub struct TrackingSampler {
    pub(crate) datasets: Vec<SampledDataset>,
    cumulative: Vec<f64>,
    max_gap: usize,
    excluded: Vec<ExcludedSequence>,
}

impl TrackingSampler {
    /// `ratios` must have one entry per dataset (the original crashes deep inside a worker with
    /// "The number of weights does not match the population" otherwise).
    pub fn new(
        datasets: Vec<Box<dyn TrackingDataset>>,
        ratios: &[f64],
        max_gap: usize,
    ) -> Result<Self, DataError> {
        let names: Vec<&str> = datasets.iter().map(|d| d.name()).collect();
        if datasets.len() != ratios.len() {
            return Err(DataError::setup(format!(
                "DATASETS_NAME has {} entries {names:?} but DATASETS_RATIO has {} {ratios:?}; give one ratio per dataset",
                datasets.len(),
                ratios.len()
            )));
        }
        if datasets.is_empty() {
            return Err(DataError::setup("DATASETS_NAME is empty"));
        }
        if let Some(r) = ratios.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
            return Err(DataError::setup(format!(
                "DATASETS_RATIO contains {r}; ratios must be finite and >= 0"
            )));
        }
        let mut excluded = Vec::new();
        let datasets: Vec<SampledDataset> = datasets
            .into_iter()
            .map(|d| SampledDataset::build(d, &mut excluded))
            .collect();
        let mut cumulative = Vec::with_capacity(ratios.len());
        let mut total = 0.0;
        for (d, r) in datasets.iter().zip(ratios) {
            if *r > 0.0 && d.usable_sequences() == 0 {
                return Err(DataError::setup(format!(
                    "dataset {} at {} has no usable sequence ({} sequences; {} with too few visible frames, \
                     the others have annotation errors: run `ostrack data check`)",
                    d.dataset.name(),
                    d.dataset.root().display(),
                    d.dataset.num_sequences(),
                    d.too_short
                )));
            }
            total += r;
            cumulative.push(total);
        }
        if total <= 0.0 {
            return Err(DataError::setup("all DATASETS_RATIO entries are 0"));
        }
        Ok(Self {
            datasets,
            cumulative,
            max_gap,
            excluded,
        })
    }

    /// Sequences left out because their annotations are broken.
    pub fn excluded(&self) -> &[ExcludedSequence] {
        &self.excluded
    }

    /// `random.choices(datasets, weights)`.
    fn choose_dataset(&self, rng: &mut StdRng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let u = rng.random::<f64>() * total;
        self.cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.cumulative.len() - 1)
    }

    /// Draws one pair of frames. For still images both frames are the same image.
    pub fn draw(&self, rng: &mut StdRng) -> Result<PairDraw, DataError> {
        let dataset = self.choose_dataset(rng);
        let d = &self.datasets[dataset];
        if !d.dataset.is_video() {
            let sequence = rng.random_range(0..d.dataset.num_sequences());
            let anno = d.dataset.load_annotation(sequence)?;
            let b = anno.boxes[0];
            return Ok(PairDraw {
                dataset,
                sequence,
                template_frame: 0,
                search_frame: 0,
                template_box: b,
                search_box: b,
            });
        }
        let e = &d.eligible[rng.random_range(0..d.eligible.len())];
        let (sequence, anno) = (&e.seq, &e.anno);
        let (t, s) = causal_frames(anno.len(), &e.visible, self.max_gap, rng).ok_or_else(|| {
            DataError::setup(format!(
                "{} / {}: no template/search pair found in {MAX_FRAME_DRAWS} draws",
                d.dataset.name(),
                d.dataset.sequence_name(*sequence)
            ))
        })?;
        Ok(PairDraw {
            dataset,
            sequence: *sequence,
            template_frame: t,
            search_frame: s,
            template_box: anno.boxes[t],
            search_box: anno.boxes[s],
        })
    }
}

/// The causal frame choice: template among visible frames in `[0, len-1)`, search among visible
/// frames in `[t+1, min(t + max_gap + gap, len))`; on failure the gap grows by 5 and both are
/// drawn again.
fn causal_frames(
    len: usize,
    visible: &[usize],
    max_gap: usize,
    rng: &mut StdRng,
) -> Option<(usize, usize)> {
    let n_base = visible.partition_point(|&i| i < len - 1);
    if n_base == 0 {
        return None;
    }
    let mut gap = 0;
    for _ in 0..MAX_FRAME_DRAWS {
        let t = visible[rng.random_range(0..n_base)];
        let hi = (t + max_gap + gap).min(len);
        let lo_idx = visible.partition_point(|&i| i < t + 1);
        let hi_idx = visible.partition_point(|&i| i < hi);
        if hi_idx > lo_idx {
            return Some((t, visible[rng.random_range(lo_idx..hi_idx)]));
        }
        gap += GAP_STEP;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn search_frame_is_later_and_within_the_interval() {
        let mut visible = vec![true; 300];
        for v in visible.iter_mut().skip(10).take(250) {
            *v = false;
        }
        let ids: Vec<usize> = (0..300).filter(|&i| visible[i]).collect();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let (t, s) = causal_frames(300, &ids, 200, &mut rng).unwrap();
            assert!(visible[t] && visible[s] && s > t && t < 299);
            // Templates in the first block need the gap to grow to reach the second block.
            assert!(s - t < 200 + MAX_FRAME_DRAWS * GAP_STEP);
        }
    }

    #[test]
    fn no_pair_is_reported_not_looped() {
        // Only the last frame is visible: it can never be a template.
        assert!(causal_frames(30, &[29], 200, &mut StdRng::seed_from_u64(0)).is_none());
        // Only the first frame: a template without any later visible frame.
        assert!(causal_frames(30, &[0], 200, &mut StdRng::seed_from_u64(0)).is_none());
    }
}
