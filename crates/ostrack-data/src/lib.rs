//! `ostrack-data` turns tracking datasets into OSTrack training pairs: it reads the official
//! dataset layouts (GOT-10k, LaSOT, TrackingNet, COCO 2017) and a plain custom layout, draws
//! template/search frame pairs with the original's causal sampler, crops, augments and labels
//! them with numerical parity to the PyTorch original, and loads batches in parallel as plain
//! host arrays. It also checks datasets ("doctor"), generates synthetic datasets and measures
//! its own throughput. It does not depend on any tensor library.
//!
//! Entry points:
//! * crops and labels: [`sample_target`], [`transform_image_to_crop`], [`generate_heatmap`];
//!   frames: [`decode::read_frame`];
//! * training data: [`TrainPairLoader`] (config + [`DataRoots`] + seed → epochs of [`PairBatch`],
//!   with a [`SkipReport`] per epoch);
//! * tools: [`check_dataset`] / [`check_config`] → [`Report`], [`synth::generate`],
//!   [`bench::run`].
//!
//! Speed comes from reading each frame once, decoding only the part of a JPEG the crops need
//! (the `ostrack-jpeg` crate: libjpeg-turbo-compatible arithmetic, multi-symbol skipping of the
//! blocks before the region, Huffman tables reused across frames), resizing straight from the
//! frame into the output with OpenCV's fixed-point scheme (vectorised, same integers),
//! normalising eight values at a time with the original's float32 operations, writing crops
//! directly into batch arrays that are never zeroed first (non-temporal stores), and reusing
//! per-thread scratch buffers (`ostrack_jpeg::BufferPool`).
//! Every output is bit-identical to the straightforward computation.

pub mod bench;
pub mod crop;
pub mod datasets;
pub mod decode;
pub mod doctor;
mod error;
mod frames;
pub mod heatmap;
pub mod image;
pub mod loader;
mod planes;
pub mod processing;
mod resize;
pub mod sampler;
pub mod settings;
pub mod synth;

pub use crop::{BoxXywh, Crop, CropError, sample_target, transform_image_to_crop};
pub use datasets::{
    DATASET_NAMES, DatasetKind, SequenceAnno, TrackingDataset, open_dataset, open_layout,
};
pub use doctor::{DoctorOptions, Report, check_config, check_dataset};
pub use error::DataError;
pub use heatmap::generate_heatmap;
pub use image::{ImageView, RgbImage};
pub use loader::{EpochIter, LoaderOptions, LoaderSetup, PairBatch, SkipReport, TrainPairLoader};
pub use processing::{ProcessingParams, Split};
pub use settings::{DataRoots, RootKey, SETTINGS_FILE};
pub use synth::{SynthFormat, SynthOptions, SynthSummary};
