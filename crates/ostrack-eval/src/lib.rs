//! Evaluation side of ostrack-rs: everything between a tracker's per-frame boxes and the
//! numbers, plots and submission archives of the tracking benchmarks.
//!
//! * [`results`]: write result files exactly as OSTrack's runner does and read every layout
//!   the toolkits use;
//! * [`list_sequences`]: benchmark listings (GOT-10k, LaSOT, LaSOT-ext, TrackingNet, OTB,
//!   UAV123, NfS, TNL2K, custom folders) with ground truth and frame paths;
//! * [`analyze`]: scores with toolkit-exact [`Preset`]s (GOT-10k, pytracking/OSTrack, LaSOT
//!   MATLAB, TrackingNet devkit, OTB), returned as a serialisable [`AnalysisReport`];
//! * [`render_plots`]: success / precision plots as PNG and SVG (embedded font); [`write_chart`]
//!   draws other crates' [`Chart`]s the same way;
//! * [`pack_got10k`] / [`pack_trackingnet`]: server submission zips.
//!
//! No deep-learning framework is involved: scoring reads text files only.

mod datasets;
mod error;
mod metrics;
mod pack;
mod plot;
mod report;
pub mod results;
mod textio;

pub use datasets::{DatasetId, EvalSequence, list_sequences};
pub use error::{EvalError, Result};
pub use metrics::Preset;
pub use pack::{PackSummary, pack_got10k, pack_trackingnet};
pub use plot::{Chart, render_plots, write_chart};
pub use report::{
    AnalysisReport, AnalyzeRequest, Curve, CurveKind, Score, ScoreUnit, SequenceReport,
    TrackerReport, TrackerRuns, analyze, analyze_sequences, format_sequence_tables, format_table,
    report_json, write_report_json,
};
pub use results::{write_got10k_repetition, write_sequence_result};
