//! Parallel loading of training pairs into plain host batches.
//!
//! Every sample owns a random generator derived from (seed, split, epoch, sample index), so an
//! epoch is the same whatever the number of threads. Batches are built on a rayon pool by a
//! producer thread and handed over through a small bounded queue (prefetch), so loading overlaps
//! with whatever the consumer does.

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::datasets::{TrackingDataset, open_dataset};
use crate::error::DataError;
use crate::frames::EncodedFrame;
use crate::heatmap::generate_heatmap;
use crate::processing::{
    CropSlot, ProcessedCrop, ProcessedPair, ProcessingParams, Rejection, Split, process_pair,
};
use crate::sampler::{ExcludedSequence, TrackingSampler};
use crate::settings::DataRoots;
use ostrack_config::ExperimentConfig;

/// A batch of training pairs as host arrays (row-major, batch first).
#[derive(Debug, Clone, PartialEq)]
pub struct PairBatch {
    pub batch_size: usize,
    pub template_size: usize,
    pub search_size: usize,
    /// Side of the heat map (`search_size / stride`).
    pub feat_size: usize,
    /// `[B, 3, Ht, Wt]`, normalised.
    pub template_images: Vec<f32>,
    /// `[B, 3, Hs, Ws]`, normalised.
    pub search_images: Vec<f32>,
    /// `[B, 4]` normalised `x, y, w, h` of the target in the template crop.
    pub template_anno: Vec<f32>,
    /// `[B, 4]` normalised `x, y, w, h` of the target in the search crop (unclamped).
    pub search_anno: Vec<f32>,
    /// `[B, Ht, Wt]`, `true` = padding.
    pub template_att: Vec<bool>,
    /// `[B, Hs, Ws]`, `true` = padding.
    pub search_att: Vec<bool>,
    /// `[B, F, F]` Gaussian labels of `search_anno` (`generate_heatmap`).
    pub search_heatmap: Vec<f32>,
    /// The dataset name each sample came from.
    pub datasets: Vec<String>,
}

impl PairBatch {
    pub fn template_shape(&self) -> [usize; 4] {
        [self.batch_size, 3, self.template_size, self.template_size]
    }

    pub fn search_shape(&self) -> [usize; 4] {
        [self.batch_size, 3, self.search_size, self.search_size]
    }

    pub fn heatmap_shape(&self) -> [usize; 3] {
        [self.batch_size, self.feat_size, self.feat_size]
    }
}

/// Draws that did not become samples during one epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SkipReport {
    /// Samples delivered.
    pub samples: usize,
    /// Draws rejected by the processing checks, by reason (normal, but should be rare).
    pub rejected: BTreeMap<String, usize>,
    /// Draws that failed on a broken file, by message (each names its file).
    pub errors: BTreeMap<String, usize>,
}

/// How many distinct error messages a report keeps.
const MAX_DISTINCT_ERRORS: usize = 200;

impl SkipReport {
    pub fn rejected_total(&self) -> usize {
        self.rejected.values().sum()
    }

    pub fn errors_total(&self) -> usize {
        self.errors.values().sum()
    }

    fn reject(&mut self, r: &Rejection) {
        let key = match r {
            Rejection::Crop(_) => "degenerate crop box",
            Rejection::AllPadding => "crop is all padding",
            Rejection::GridAllPadding => "down-sampled padding mask is all padding",
        };
        *self.rejected.entry(key.to_string()).or_default() += 1;
    }

    fn error(&mut self, e: &DataError) {
        let msg = e.to_string();
        if self.errors.len() < MAX_DISTINCT_ERRORS || self.errors.contains_key(&msg) {
            *self.errors.entry(msg).or_default() += 1;
        } else {
            *self
                .errors
                .entry("(further distinct errors not listed)".to_string())
                .or_default() += 1;
        }
    }
}

impl std::fmt::Display for SkipReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} samples; {} draws rejected, {} draws skipped on errors",
            self.samples,
            self.rejected_total(),
            self.errors_total()
        )?;
        for (reason, n) in &self.rejected {
            write!(f, "\n  rejected {n}x: {reason}")?;
        }
        for (msg, n) in &self.errors {
            write!(f, "\n  error {n}x: {msg}")?;
        }
        Ok(())
    }
}

/// What to load: datasets, their mix and the processing.
pub struct LoaderSetup {
    pub datasets: Vec<Box<dyn TrackingDataset>>,
    pub ratios: Vec<f64>,
    pub params: ProcessingParams,
    pub max_sample_interval: usize,
    pub batch_size: usize,
    pub samples_per_epoch: usize,
    /// Heat-map stride (`MODEL.BACKBONE.STRIDE`).
    pub heatmap_stride: usize,
}

impl LoaderSetup {
    /// The train or validation mix of a config (`DATA.TRAIN` / `DATA.VAL`).
    pub fn from_config(
        cfg: &ExperimentConfig,
        roots: &DataRoots,
        split: Split,
    ) -> Result<Self, DataError> {
        let mix = match split {
            Split::Train => &cfg.data.train,
            Split::Val => &cfg.data.val,
        };
        let section = if split == Split::Train {
            "DATA.TRAIN"
        } else {
            "DATA.VAL"
        };
        if mix.datasets_name.len() != mix.datasets_ratio.len() {
            return Err(DataError::setup(format!(
                "{section}.DATASETS_NAME has {} entries {:?} but {section}.DATASETS_RATIO has {} {:?}",
                mix.datasets_name.len(),
                mix.datasets_name,
                mix.datasets_ratio.len(),
                mix.datasets_ratio
            )));
        }
        if cfg.data.template.number != 1 || cfg.data.search.number != 1 {
            return Err(DataError::setup(
                "DATA.TEMPLATE.NUMBER and DATA.SEARCH.NUMBER must be 1 (as in every official config)",
            ));
        }
        let datasets = mix
            .datasets_name
            .iter()
            .map(|n| open_dataset(n, roots))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            datasets,
            ratios: mix.datasets_ratio.clone(),
            params: ProcessingParams::from_config(cfg, split),
            max_sample_interval: cfg.data.max_sample_interval,
            batch_size: cfg.train.batch_size,
            samples_per_epoch: mix.sample_per_epoch,
            heatmap_stride: cfg.model.backbone.stride,
        })
    }
}

/// Loader knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderOptions {
    pub seed: u64,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Consecutive failed draws after which a sample is an error instead of a skip.
    pub max_consecutive_failures: usize,
    /// Batches prepared ahead of the consumer.
    pub prefetch_batches: usize,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            threads: 0,
            max_consecutive_failures: 100,
            prefetch_batches: 2,
        }
    }
}

struct LoaderCore {
    sampler: TrackingSampler,
    params: ProcessingParams,
    seed: u64,
    max_failures: usize,
}

/// Yields epochs of [`PairBatch`]es (`SAMPLE_PER_EPOCH / BATCH_SIZE` full batches, like the
/// original's `drop_last=True`).
pub struct TrainPairLoader {
    core: Arc<LoaderCore>,
    pool: Arc<rayon::ThreadPool>,
    batch_size: usize,
    samples_per_epoch: usize,
    heatmap_stride: usize,
    prefetch: usize,
}

impl TrainPairLoader {
    /// Opens the datasets of `DATA.TRAIN` (or `DATA.VAL`) and reads their annotations.
    pub fn from_config(
        cfg: &ExperimentConfig,
        roots: &DataRoots,
        split: Split,
        options: LoaderOptions,
    ) -> Result<Self, DataError> {
        Self::new(LoaderSetup::from_config(cfg, roots, split)?, options)
    }

    pub fn new(setup: LoaderSetup, options: LoaderOptions) -> Result<Self, DataError> {
        if setup.batch_size == 0 {
            return Err(DataError::setup("TRAIN.BATCH_SIZE must be positive"));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads)
            .thread_name(|i| format!("ostrack-data-{i}"))
            .build()
            .map_err(|e| DataError::setup(format!("cannot start loader threads: {e}")))?;
        // Annotation reading is parallel too.
        let sampler = pool.install(|| {
            TrackingSampler::new(setup.datasets, &setup.ratios, setup.max_sample_interval)
        })?;
        Ok(Self {
            core: Arc::new(LoaderCore {
                sampler,
                params: setup.params,
                seed: options.seed,
                max_failures: options.max_consecutive_failures.max(1),
            }),
            pool: Arc::new(pool),
            batch_size: setup.batch_size,
            samples_per_epoch: setup.samples_per_epoch,
            heatmap_stride: setup.heatmap_stride,
            prefetch: options.prefetch_batches.max(1),
        })
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn samples_per_epoch(&self) -> usize {
        self.samples_per_epoch
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.samples_per_epoch / self.batch_size
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Sequences left out because their annotation files are broken (each names file and line).
    pub fn excluded(&self) -> &[ExcludedSequence] {
        self.core.sampler.excluded()
    }

    /// A summary of the datasets in use (one line each) and the excluded sequences.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for d in &self.core.sampler.datasets {
            out += &format!(
                "{}: {} sequences at {} ({} usable, {} with too few visible frames)\n",
                d.dataset.name(),
                d.dataset.num_sequences(),
                d.dataset.root().display(),
                d.usable_sequences(),
                d.too_short
            );
            for note in d.dataset.notes() {
                out += &format!("  note: {note}\n");
            }
        }
        for e in self.excluded() {
            out += &format!("excluded {} / {}: {}\n", e.dataset, e.sequence, e.error);
        }
        out
    }

    /// One processed pair: sample `index` of `epoch` (what the batches contain), with the name
    /// of the dataset it came from.
    pub fn sample(&self, epoch: usize, index: usize) -> Result<(ProcessedPair, String), DataError> {
        let (ts, ss) = (self.core.params.template.size, self.core.params.search.size);
        let (nt, ns) = (ts * ts, ss * ss);
        let (mut t_img, mut t_att) = (uninit_vec(3 * nt), uninit_vec(nt));
        let (mut s_img, mut s_att) = (uninit_vec(3 * ns), uninit_vec(ns));
        let mut slots = PairSlots {
            template_image: slots_of(&mut t_img, 3 * nt),
            template_att: slots_of(&mut t_att, nt),
            search_image: slots_of(&mut s_img, 3 * ns),
            search_att: slots_of(&mut s_att, ns),
        };
        let info = self
            .core
            .sample(epoch, index, &mut SkipReport::default(), &mut slots)?;
        // SAFETY: the sample succeeded, so it wrote all four slots.
        unsafe {
            assume_written(&mut t_img, 3 * nt);
            assume_written(&mut t_att, nt);
            assume_written(&mut s_img, 3 * ns);
            assume_written(&mut s_att, ns);
        }
        let pair = ProcessedPair {
            template: ProcessedCrop {
                image: t_img,
                anno: info.template_anno,
                att: t_att,
            },
            search: ProcessedCrop {
                image: s_img,
                anno: info.search_anno,
                att: s_att,
            },
        };
        Ok((pair, info.dataset))
    }

    /// Starts loading `epoch`; batches arrive in order.
    pub fn epoch(&self, epoch: usize) -> EpochIter {
        let (tx, rx) = sync_channel(self.prefetch);
        let report = Arc::new(Mutex::new(SkipReport::default()));
        let (core, pool, report_w) = (self.core.clone(), self.pool.clone(), report.clone());
        let (bs, batches, stride) = (
            self.batch_size,
            self.batches_per_epoch(),
            self.heatmap_stride,
        );
        let handle = std::thread::spawn(move || {
            for b in 0..batches {
                let batch = pool.install(|| core.batch(epoch, b * bs, bs, stride, &report_w));
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        EpochIter {
            rx: Some(rx),
            handle: Some(handle),
            report,
            remaining: batches,
        }
    }
}

/// splitmix64: decorrelates the per-sample seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of one sample.
pub(crate) fn sample_rng(seed: u64, split: Split, epoch: usize, index: usize) -> StdRng {
    let tag = match split {
        Split::Train => 0x7472_6169_6e00,
        Split::Val => 0x7661_6c00,
    };
    let h = [tag, epoch as u64, index as u64]
        .into_iter()
        .fold(mix(seed), |h, v| mix(h ^ v));
    StdRng::seed_from_u64(h)
}

/// Output slots of one sample inside a batch, possibly uninitialised: a sample that succeeds
/// writes every element (see [`CropSlot`]).
struct PairSlots<'a> {
    template_image: &'a mut [MaybeUninit<f32>],
    template_att: &'a mut [MaybeUninit<bool>],
    search_image: &'a mut [MaybeUninit<f32>],
    search_att: &'a mut [MaybeUninit<bool>],
}

/// Uninitialised room for `n` elements: the batch arrays are written exactly once, by the
/// samples, instead of being zeroed first (zeroing ~1 MB per sample cost a few percent).
fn uninit_vec<T>(n: usize) -> Vec<T> {
    Vec::with_capacity(n)
}

/// The first `n` (uninitialised) elements of `v`'s spare room.
fn slots_of<T>(v: &mut Vec<T>, n: usize) -> &mut [MaybeUninit<T>] {
    &mut v.spare_capacity_mut()[..n]
}

/// Marks the first `n` elements written.
///
/// # Safety
/// Every one of the first `n` elements of `v`'s spare room must have been written.
unsafe fn assume_written<T>(v: &mut Vec<T>, n: usize) {
    debug_assert!(v.capacity() >= n && v.is_empty());
    // SAFETY: guaranteed by the caller.
    unsafe { v.set_len(n) }
}

/// What a sample reports besides its pixels.
struct SampleInfo {
    template_anno: [f32; 4],
    search_anno: [f32; 4],
    dataset: String,
}

impl LoaderCore {
    /// Draws until a valid pair comes out; failures are recorded, and too many in a row are an
    /// error naming the last one.
    fn sample(
        &self,
        epoch: usize,
        index: usize,
        report: &mut SkipReport,
        slots: &mut PairSlots<'_>,
    ) -> Result<SampleInfo, DataError> {
        let mut rng = sample_rng(self.seed, self.params.split, epoch, index);
        let mut last = String::new();
        for _ in 0..self.max_failures {
            match self.attempt(&mut rng, slots) {
                Ok(Ok(info)) => return Ok(info),
                Ok(Err((rejection, where_))) => {
                    last = format!("{where_}: {rejection}");
                    report.reject(&rejection);
                }
                Err(e) => {
                    last = e.to_string();
                    report.error(&e);
                }
            }
        }
        Err(DataError::setup(format!(
            "sample {index} of epoch {epoch}: {} consecutive draws failed; the last: {last}",
            self.max_failures
        )))
    }

    fn attempt(
        &self,
        rng: &mut StdRng,
        slots: &mut PairSlots<'_>,
    ) -> Result<Result<SampleInfo, (Rejection, String)>, DataError> {
        let draw = self.sampler.draw(rng)?;
        let ds = &self.sampler.datasets[draw.dataset].dataset;
        let t_frame = EncodedFrame::read(&ds.frame_path(draw.sequence, draw.template_frame))?;
        let s_frame = if draw.search_frame == draw.template_frame {
            None
        } else {
            Some(EncodedFrame::read(
                &ds.frame_path(draw.sequence, draw.search_frame),
            )?)
        };
        let boxes = (draw.template_box, draw.search_box);
        let template = CropSlot {
            image: slots.template_image,
            att: slots.template_att,
        };
        let search = CropSlot {
            image: slots.search_image,
            att: slots.search_att,
        };
        Ok(
            match process_pair(
                &t_frame,
                s_frame.as_ref(),
                boxes,
                &self.params,
                rng,
                template,
                search,
            )? {
                Ok((template_anno, search_anno)) => Ok(SampleInfo {
                    template_anno,
                    search_anno,
                    dataset: ds.name().to_string(),
                }),
                Err(r) => Err((
                    r,
                    format!(
                        "{} / {} frames {} and {}",
                        ds.name(),
                        ds.sequence_name(draw.sequence),
                        draw.template_frame,
                        draw.search_frame
                    ),
                )),
            },
        )
    }

    /// One batch; every sample writes its crops straight into the batch arrays.
    fn batch(
        &self,
        epoch: usize,
        first: usize,
        bs: usize,
        stride: usize,
        report: &Mutex<SkipReport>,
    ) -> Result<PairBatch, DataError> {
        let (ts, ss) = (self.params.template.size, self.params.search.size);
        let (nt, ns) = (bs * ts * ts, bs * ss * ss);
        let mut out = PairBatch {
            batch_size: bs,
            template_size: ts,
            search_size: ss,
            feat_size: ss.checked_div(stride).unwrap_or(0),
            template_images: uninit_vec(3 * nt),
            search_images: uninit_vec(3 * ns),
            template_anno: Vec::with_capacity(bs * 4),
            search_anno: Vec::with_capacity(bs * 4),
            template_att: uninit_vec(nt),
            search_att: uninit_vec(ns),
            search_heatmap: Vec::new(),
            datasets: Vec::with_capacity(bs),
        };
        let infos: Vec<SampleInfo> = slots_of(&mut out.template_images, 3 * nt)
            .par_chunks_mut(3 * ts * ts)
            .zip(slots_of(&mut out.template_att, nt).par_chunks_mut(ts * ts))
            .zip(slots_of(&mut out.search_images, 3 * ns).par_chunks_mut(3 * ss * ss))
            .zip(slots_of(&mut out.search_att, ns).par_chunks_mut(ss * ss))
            .enumerate()
            .map(
                |(k, (((template_image, template_att), search_image), search_att))| {
                    let mut slots = PairSlots {
                        template_image,
                        template_att,
                        search_image,
                        search_att,
                    };
                    let mut local = SkipReport::default();
                    let r = self.sample(epoch, first + k, &mut local, &mut slots);
                    if local != SkipReport::default() {
                        merge(&mut report.lock().unwrap_or_else(|p| p.into_inner()), local);
                    }
                    r
                },
            )
            .collect::<Result<_, _>>()?;
        // SAFETY: every sample of the batch succeeded (`?` above), so each wrote all its slots,
        // and the slots partition the four arrays.
        unsafe {
            assume_written(&mut out.template_images, 3 * nt);
            assume_written(&mut out.template_att, nt);
            assume_written(&mut out.search_images, 3 * ns);
            assume_written(&mut out.search_att, ns);
        }
        report.lock().unwrap_or_else(|p| p.into_inner()).samples += infos.len();
        let mut search_boxes = Vec::with_capacity(bs);
        for info in infos {
            out.template_anno.extend_from_slice(&info.template_anno);
            out.search_anno.extend_from_slice(&info.search_anno);
            search_boxes.push(info.search_anno.map(f64::from));
            out.datasets.push(info.dataset);
        }
        out.search_heatmap = generate_heatmap(&search_boxes, ss, stride);
        Ok(out)
    }
}

fn merge(into: &mut SkipReport, from: SkipReport) {
    for (k, v) in from.rejected {
        *into.rejected.entry(k).or_default() += v;
    }
    for (k, v) in from.errors {
        if into.errors.len() < MAX_DISTINCT_ERRORS || into.errors.contains_key(&k) {
            *into.errors.entry(k).or_default() += v;
        } else {
            *into
                .errors
                .entry("(further distinct errors not listed)".to_string())
                .or_default() += v;
        }
    }
}

/// The batches of one epoch. After the last batch, [`EpochIter::skip_report`] tells what was
/// skipped; an `Err` item ends the epoch.
pub struct EpochIter {
    rx: Option<Receiver<Result<PairBatch, DataError>>>,
    handle: Option<JoinHandle<()>>,
    report: Arc<Mutex<SkipReport>>,
    remaining: usize,
}

impl EpochIter {
    /// Batches not yet received.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Skips so far (complete once the iterator is exhausted).
    pub fn skip_report(&self) -> SkipReport {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Iterator for EpochIter {
    type Item = Result<PairBatch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let item = self.rx.as_ref()?.recv().ok()?;
        self.remaining = if item.is_err() { 0 } else { self.remaining - 1 };
        Some(item)
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Disconnect first so a producer blocked on a full queue stops, then wait for it.
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
