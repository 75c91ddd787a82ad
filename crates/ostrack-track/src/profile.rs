//! End-to-end tracker timing for `ostrack profile`: crop + preprocess + forward + post-process
//! per frame on a synthetic frame, the part of the original's per-frame time that image
//! reading does not cover.

use std::time::Duration;

use ostrack_data::RgbImage;

use crate::error::{Result, TrackError};
use crate::tracker::{StageTimes, StepRequest, Tracker};

/// Median per-frame times over the timed frames.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackingProfile {
    pub frame_width: usize,
    pub frame_height: usize,
    pub runs: usize,
    pub warmup: usize,
    pub crop_ms: f64,
    pub preprocess_ms: f64,
    pub forward_ms: f64,
    pub postprocess_ms: f64,
    /// Median of the per-frame sums.
    pub total_ms: f64,
    /// `1000 / total_ms`.
    pub fps: f64,
}

/// Tracks a synthetic `width`×`height` frame `warmup + runs` times (after one `initialize`)
/// and reports the median stage times of the last `runs` (device synchronised after each
/// forward).
pub fn profile_tracking(
    tracker: &mut Tracker,
    width: usize,
    height: usize,
    warmup: usize,
    runs: usize,
) -> Result<TrackingProfile> {
    if runs == 0 || width < 16 || height < 16 {
        return Err(TrackError::Tracker(format!(
            "profiling needs at least one timed run and a frame of at least 16x16 (got {runs} runs, {width}x{height})"
        )));
    }
    let frame = synthetic_frame(width, height);
    let init = [
        width as f64 * 0.4,
        height as f64 * 0.4,
        width as f64 * 0.2,
        height as f64 * 0.2,
    ];
    tracker.initialize(frame.view(), init)?;
    let request = StepRequest {
        details: false,
        attention: false,
        sync_forward: true,
    };
    let mut samples: Vec<StageTimes> = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let out = tracker.track_with(frame.view(), request)?.0;
        if i >= warmup {
            samples.push(out.times);
        }
    }
    let median_ms = |f: &dyn Fn(&StageTimes) -> Duration| {
        let mut v: Vec<f64> = samples.iter().map(|s| f(s).as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    };
    let total_ms = median_ms(&|s| s.total());
    Ok(TrackingProfile {
        frame_width: width,
        frame_height: height,
        runs,
        warmup,
        crop_ms: median_ms(&|s| s.crop),
        preprocess_ms: median_ms(&|s| s.preprocess),
        forward_ms: median_ms(&|s| s.forward),
        postprocess_ms: median_ms(&|s| s.postprocess),
        total_ms,
        fps: 1e3 / total_ms.max(1e-9),
    })
}

/// A smooth colour gradient frame for timing (content does not change the time of any stage).
pub fn synthetic_frame(width: usize, height: usize) -> RgbImage {
    let mut data = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            data.extend([
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                ((x + y) % 256) as u8,
            ]);
        }
    }
    RgbImage {
        width,
        height,
        data,
    }
}
