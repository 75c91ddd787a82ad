//! `ostrack-track` runs OSTrack on video: the inference [`Tracker`] (template embedded once per
//! sequence, Hann-windowed search around the previous state, box mapped back and clipped exactly
//! as the original), the frame sources of `ostrack track`, and the run functions behind
//! `ostrack track` ([`run_track`]: boxes, confidence/IoU chart, annotated output),
//! `ostrack test` ([`run_test`]) and the end-to-end part of `ostrack profile`
//! ([`profile_tracking`]).

mod draw;
mod error;
mod output;
mod overlap;
mod params;
mod plot;
mod profile;
mod run_test;
mod run_track;
mod source;
mod tracker;
pub mod tracker_math;
#[cfg(feature = "video")]
mod video;

pub use error::{Result, TrackError};
pub use overlap::{GroundTruthOverlap, SUCCESS_IOU};
pub use params::{LoadedModel, TrackerParams, load_model};
pub use profile::{TrackingProfile, profile_tracking, synthetic_frame};
pub use run_test::{SequenceRun, TestOptions, TestSummary, run_test};
pub use run_track::{
    BOXES_FILE, FRAMES_DIR, GIF_FILE, LOST_FILE, PLOT_PNG_FILE, PLOT_SVG_FILE, SaveAnnotated,
    TrackOptions, TrackSummary, VIDEO_FILE, parse_init, run_track,
};
pub use source::{FrameSource, SourceFrame, first_groundtruth_box};
pub use tracker::{StageTimes, StepDetails, StepRequest, TemplateInfo, TrackOutput, Tracker};
