//! `ostrack track` and `ostrack test`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use burn::prelude::Device;
use clap::Args;
use ostrack_eval::DatasetId;
use ostrack_track::{SaveAnnotated, TestOptions, TrackOptions, parse_init, run_test, run_track};

#[derive(Debug, Args)]
pub struct TrackArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// safetensors, or a PyTorch checkpoint such as the released `OSTrack_ep0300.pth.tar`.
    #[arg(long)]
    pub weights: PathBuf,
    /// A folder of frames (natural order), a glob such as 'frames/*.jpg', a GIF, or an MP4
    /// video (with the `video` feature).
    #[arg(long)]
    pub source: String,
    /// First-frame box `x,y,w,h` in pixels; defaults to the first line of the source's
    /// groundtruth.txt.
    #[arg(long)]
    pub init: Option<String>,
    /// Folder for boxes.txt, lost.txt, track_plot.png/.svg (confidence and, with a per-frame
    /// groundtruth.txt, IoU / AO / success rate) and the annotated output.
    #[arg(long, default_value = "track_output")]
    pub output: PathBuf,
    /// Frames whose confidence (peak score) is below this are marked as target lost.
    #[arg(long)]
    pub lost_threshold: Option<f32>,
    /// Overlay the last-layer attention and the CE-kept tokens on the annotated output.
    #[arg(long)]
    pub show_attention: bool,
    /// Write annotated frames as PNG files.
    #[arg(long, conflicts_with_all = ["save_gif", "save_video"])]
    pub save_frames: bool,
    /// Write an annotated GIF.
    #[arg(long, conflicts_with = "save_video")]
    pub save_gif: bool,
    /// Write an annotated MP4 (needs the `video` feature).
    #[arg(long)]
    pub save_video: bool,
}

pub fn track(a: &TrackArgs, device: &Device) -> Result<ExitCode> {
    let init = a.init.as_deref().map(parse_init).transpose()?;
    let save = if a.save_frames {
        SaveAnnotated::Frames
    } else if a.save_gif {
        SaveAnnotated::Gif
    } else if a.save_video {
        SaveAnnotated::Video
    } else {
        SaveAnnotated::None
    };
    let opts = TrackOptions {
        config: a.config.clone(),
        weights: a.weights.clone(),
        source: a.source.clone(),
        init,
        output: a.output.clone(),
        lost_threshold: a.lost_threshold,
        show_attention: a.show_attention,
        save,
        progress: true,
    };
    let summary = run_track(&opts, device)?;
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub weights: PathBuf,
    /// got10k-val, got10k-test, lasot, lasot-ext, trackingnet, otb, uav123, nfs, tnl2k, custom.
    #[arg(long)]
    pub dataset: DatasetId,
    #[arg(long)]
    pub data_root: PathBuf,
    /// The original's results_path; files go to `<results>/ostrack/<config name>/`.
    #[arg(long, default_value = "output/test/tracking_results")]
    pub results: PathBuf,
    /// Sequences tracked in parallel.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Track only this sequence.
    #[arg(long)]
    pub sequence: Option<String>,
}

pub fn test(a: &TestArgs, device: &Device) -> Result<ExitCode> {
    let opts = TestOptions {
        config: a.config.clone(),
        weights: a.weights.clone(),
        dataset: a.dataset,
        data_root: a.data_root.clone(),
        results_root: a.results.clone(),
        threads: a.threads,
        sequence: a.sequence.clone(),
        progress: true,
    };
    let summary = run_test(&opts, device)?;
    for run in &summary.tracked {
        println!("{}: {} frames, {:.2} FPS", run.name, run.frames, run.fps);
    }
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}
