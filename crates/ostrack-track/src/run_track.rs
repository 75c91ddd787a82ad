//! `ostrack track`: runs the tracker over one frame source and writes `boxes.txt`
//! (`x,y,w,h,score` per frame; frame 0 is the init box with score 1), `lost.txt`
//! (`index,name,score` of frames scoring below the lost threshold), a chart of the per-frame
//! confidence (and IoU, when the source folder has a per-frame `groundtruth.txt`) as PNG and SVG,
//! and, optionally, annotated output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::prelude::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::draw::annotate;
use crate::error::{Result, TrackError};
use ostrack_atomic::Durability;

use crate::output::AnnotatedSink;
use crate::overlap::{GroundTruth, GroundTruthOverlap, SUCCESS_IOU};
use crate::params::load_model;
use crate::plot::TrackChart;
use crate::source::{FrameSource, parse_box};
use crate::tracker::{StageTimes, StepRequest, Tracker, check_init_box};

/// File names inside the output folder.
pub const BOXES_FILE: &str = "boxes.txt";
pub const LOST_FILE: &str = "lost.txt";
pub const GIF_FILE: &str = "track.gif";
pub const FRAMES_DIR: &str = "frames";
pub const VIDEO_FILE: &str = "track.mp4";
pub const PLOT_PNG_FILE: &str = "track_plot.png";
pub const PLOT_SVG_FILE: &str = "track_plot.svg";

/// Which annotated output to write besides `boxes.txt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SaveAnnotated {
    #[default]
    None,
    /// One PNG per frame in `<output>/frames/`.
    Frames,
    /// `<output>/track.gif`.
    Gif,
    /// `<output>/track.mp4` (H.264; needs the `video` feature).
    Video,
}

/// Everything `ostrack track` takes.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    pub config: PathBuf,
    pub weights: PathBuf,
    /// A folder of frames, a glob pattern, a `.gif` or a video file.
    pub source: String,
    /// `[x, y, w, h]` in the first frame; `None` takes the first row of the source folder's
    /// `groundtruth.txt`.
    pub init: Option<[f64; 4]>,
    pub output: PathBuf,
    /// Frames whose score is below this are reported as lost (and drawn in red).
    pub lost_threshold: Option<f32>,
    /// Overlay the last block's attention on the kept CE search tokens.
    pub show_attention: bool,
    pub save: SaveAnnotated,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What a `track` run did.
#[derive(Debug, Clone)]
pub struct TrackSummary {
    pub frames: usize,
    pub init: [f64; 4],
    pub boxes_file: PathBuf,
    /// 0-based indices of frames whose score fell below the lost threshold.
    pub lost_frames: Vec<usize>,
    pub lost_file: Option<PathBuf>,
    pub annotated: Option<PathBuf>,
    /// The confidence chart ([`PLOT_PNG_FILE`], [`PLOT_SVG_FILE`]).
    pub plot_png: PathBuf,
    pub plot_svg: PathBuf,
    /// Overlap with the source folder's `groundtruth.txt`, when it has one box per frame.
    pub overlap: Option<GroundTruthOverlap>,
    /// Frames per second of the whole loop: reading, tracking, drawing and writing.
    pub end_to_end_fps: f64,
    /// Frames per second as the original measures it (initialize/track calls only).
    pub tracker_fps: f64,
    /// Mean stage times over the tracked frames (frame 0 excluded).
    pub mean_stage: StageTimes,
}

impl fmt::Display for TrackSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(
            f,
            "tracked {} frames -> {}",
            self.frames,
            self.boxes_file.display()
        )?;
        if let Some(p) = &self.annotated {
            writeln!(f, "annotated output: {}", p.display())?;
        }
        writeln!(
            f,
            "plot: {}, {}",
            self.plot_png.display(),
            self.plot_svg.display()
        )?;
        if let Some(o) = &self.overlap {
            writeln!(
                f,
                "against {}: {} over {} tracked frames",
                o.groundtruth.display(),
                overlap_text(o),
                o.scored_frames()
            )?;
        }
        if let Some(p) = &self.lost_file {
            writeln!(
                f,
                "{} frames below the lost threshold ({})",
                self.lost_frames.len(),
                p.display()
            )?;
        }
        let s = &self.mean_stage;
        writeln!(
            f,
            "per frame: crop {:.2} ms, preprocess {:.2} ms, forward {:.2} ms, post-process {:.2} ms",
            ms(s.crop),
            ms(s.preprocess),
            ms(s.forward),
            ms(s.postprocess)
        )?;
        write!(
            f,
            "FPS: {:.2} end-to-end, {:.2} tracker (initialize/track only)",
            self.end_to_end_fps, self.tracker_fps
        )
    }
}

/// Parses the `--init x,y,w,h` value.
pub fn parse_init(text: &str) -> Result<[f64; 4]> {
    parse_box(text).map_err(|m| TrackError::flag("--init", m))
}

/// Runs the tracker over `opts.source` (see [`TrackOptions`]).
pub fn run_track(opts: &TrackOptions, device: &Device) -> Result<TrackSummary> {
    let source = FrameSource::open(&opts.source)?;
    let origin = source.origin().to_path_buf();
    let groundtruth = source
        .groundtruth()
        .map(|gt| GroundTruth::read(gt, source.frame_count()))
        .transpose()?;
    // Where the init box came from (file and line), for errors about it.
    let mut init_from_file = None;
    let init = match (opts.init, &groundtruth) {
        (Some(b), _) => b,
        (None, Some(gt)) => {
            let (line, b) = gt.rows[0];
            init_from_file = Some((gt.path.clone(), line));
            b
        }
        (None, None) => {
            return Err(TrackError::flag(
                "--init",
                format!(
                    "required: {} has no groundtruth.txt to take the first box from",
                    source.origin().display()
                ),
            ));
        }
    };
    if let Some(t) = opts.lost_threshold
        && !t.is_finite()
    {
        return Err(TrackError::flag(
            "--lost-threshold",
            format!("{t} is not a number"),
        ));
    }
    if opts.show_attention && opts.save == SaveAnnotated::None {
        return Err(TrackError::flag(
            "--show-attention",
            "the overlay is drawn on the annotated output: add --save-gif, --save-frames or --save-video",
        ));
    }
    let loaded = load_model(&opts.config, &opts.weights, device)?;
    let has_ce =
        loaded.model_config.candidate_elimination && !loaded.model_config.ce_loc.is_empty();
    if opts.show_attention && !has_ce {
        return Err(TrackError::flag(
            "--show-attention",
            format!(
                "{}: the backbone has no candidate elimination, so there are no kept tokens to show",
                opts.config.display()
            ),
        ));
    }
    let search_factor = loaded.params.search_factor;
    let mut tracker = Tracker::from_loaded(&loaded, device)?;
    std::fs::create_dir_all(&opts.output).map_err(|e| TrackError::io(&opts.output, e))?;
    let mut sink = open_sink(opts)?;

    let bar = progress_bar(opts.progress, source.frame_count());
    let request = StepRequest {
        details: opts.show_attention,
        attention: opts.show_attention,
        sync_forward: false,
    };
    let mut lines = String::new();
    let mut boxes = Vec::new();
    let mut scores = Vec::new();
    let mut lost_lines = String::new();
    let mut lost_frames = Vec::new();
    let mut tracker_time = Duration::ZERO;
    let mut stage_sum = StageTimes::default();
    let mut frames = 0usize;
    let started = Instant::now();
    for frame in source {
        let frame = frame?;
        let t0 = Instant::now();
        let (bbox, score, details) = if frame.index == 0 {
            check_init_box(init, frame.image.width, frame.image.height).map_err(|e| {
                match (&init_from_file, e) {
                    (Some((gt, line)), TrackError::Flag { message, .. }) => TrackError::File {
                        path: gt.clone(),
                        line: Some(*line),
                        message,
                    },
                    (_, e) => e,
                }
            })?;
            tracker.initialize(frame.image.view(), init)?;
            (init, 1.0f32, None)
        } else {
            let (out, details) = tracker.track_with(frame.image.view(), request)?;
            stage_sum = add_times(stage_sum, out.times);
            (out.bbox, out.score, details)
        };
        tracker_time += t0.elapsed();
        let lost = frame.index > 0 && opts.lost_threshold.is_some_and(|t| score < t);
        // Shortest round-trip form: the f64 state exactly.
        lines += &format!(
            "{},{},{},{},{:.6}\n",
            bbox[0], bbox[1], bbox[2], bbox[3], score
        );
        boxes.push(bbox);
        scores.push(score);
        if lost {
            lost_frames.push(frame.index);
            lost_lines += &format!("{},{},{:.6}\n", frame.index, frame.name, score);
        }
        if let Some(sink) = sink.as_mut() {
            let attention = details.as_ref().map(|d| (d, search_factor));
            sink.push(&frame.name, annotate(&frame.image, bbox, lost, attention))?;
        }
        frames += 1;
        bar.inc(1);
    }
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let boxes_file = opts.output.join(BOXES_FILE);
    ostrack_atomic::write(&boxes_file, lines.as_bytes(), Durability::Renamed)?;
    let lost_file = match opts.lost_threshold {
        Some(_) => {
            let path = opts.output.join(LOST_FILE);
            ostrack_atomic::write(&path, lost_lines.as_bytes(), Durability::Renamed)?;
            Some(path)
        }
        None => None,
    };
    let annotated = sink.map(AnnotatedSink::finish).transpose()?;
    let overlap = groundtruth.as_ref().and_then(|gt| gt.overlap(&boxes));
    let (plot_png, plot_svg) = (
        opts.output.join(PLOT_PNG_FILE),
        opts.output.join(PLOT_SVG_FILE),
    );
    let chart = TrackChart {
        title: chart_title(
            &origin,
            frames,
            opts.lost_threshold,
            &lost_frames,
            overlap.as_ref(),
        ),
        scores: &scores,
        lost_threshold: opts.lost_threshold,
        lost_frames: &lost_frames,
        overlap: overlap.as_ref(),
    };
    ostrack_eval::write_chart(&chart, &plot_png, &plot_svg)?;
    let tracked = frames.saturating_sub(1).max(1) as u32;
    Ok(TrackSummary {
        frames,
        init,
        boxes_file,
        lost_frames,
        lost_file,
        annotated,
        plot_png,
        plot_svg,
        overlap,
        end_to_end_fps: frames as f64 / elapsed.max(1e-9),
        tracker_fps: frames as f64 / tracker_time.as_secs_f64().max(1e-9),
        mean_stage: StageTimes {
            crop: stage_sum.crop / tracked,
            preprocess: stage_sum.preprocess / tracked,
            forward: stage_sum.forward / tracked,
            postprocess: stage_sum.postprocess / tracked,
        },
    })
}

fn overlap_text(o: &GroundTruthOverlap) -> String {
    format!(
        "AO {:.3}, success rate (IoU > {SUCCESS_IOU}) {:.3}",
        o.average_overlap, o.success_rate
    )
}

fn chart_title(
    origin: &Path,
    frames: usize,
    lost_threshold: Option<f32>,
    lost_frames: &[usize],
    overlap: Option<&GroundTruthOverlap>,
) -> String {
    let name = origin.file_name().map_or_else(
        || origin.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut title = format!("{name}: {frames} frames");
    if let Some(t) = lost_threshold {
        title += &format!(", {} lost (confidence < {t:.2})", lost_frames.len());
    }
    if let Some(o) = overlap {
        title += &format!(", {}", overlap_text(o));
    }
    title
}

fn open_sink(opts: &TrackOptions) -> Result<Option<AnnotatedSink>> {
    Ok(match opts.save {
        SaveAnnotated::None => None,
        SaveAnnotated::Frames => Some(AnnotatedSink::frames(opts.output.join(FRAMES_DIR))?),
        SaveAnnotated::Gif => Some(AnnotatedSink::gif(opts.output.join(GIF_FILE))?),
        SaveAnnotated::Video => Some(video_sink(opts)?),
    })
}

#[cfg(feature = "video")]
fn video_sink(opts: &TrackOptions) -> Result<AnnotatedSink> {
    AnnotatedSink::video(opts.output.join(VIDEO_FILE))
}

#[cfg(not(feature = "video"))]
fn video_sink(_opts: &TrackOptions) -> Result<AnnotatedSink> {
    Err(TrackError::flag(
        "--save-video",
        "this build has no video encoder (rebuild with the `video` cargo feature); use --save-gif or --save-frames",
    ))
}

pub(crate) fn add_times(a: StageTimes, b: StageTimes) -> StageTimes {
    StageTimes {
        crop: a.crop + b.crop,
        preprocess: a.preprocess + b.preprocess,
        forward: a.forward + b.forward,
        postprocess: a.postprocess + b.postprocess,
    }
}

pub(crate) fn progress_bar(show: bool, len: Option<usize>) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n as u64),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
