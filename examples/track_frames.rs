//! Tracking from a program instead of the command line: load a model, initialise on the first
//! frame of a folder, track the rest, print one box per frame.
//!
//! ```text
//! cargo run --release --example track_frames -- CONFIG WEIGHTS FRAMES_DIR x,y,w,h
//! ```
//! (`ostrack synth --format custom --out /tmp/synth` makes a folder to try it on; fixture or
//! demo-trained weights work, see README.)

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::prelude::Device;
use ostrack_track::{FrameSource, Tracker, load_model, parse_init};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, weights, frames, init] = args.as_slice() else {
        bail!("usage: track_frames CONFIG WEIGHTS FRAMES_DIR x,y,w,h");
    };
    let device = Device::flex();
    let loaded = load_model(Path::new(config), Path::new(weights), &device)?;
    let mut tracker = Tracker::from_loaded(&loaded, &device)?;
    let mut source = FrameSource::open(frames)?;
    let first = source.next().context("the source has no frames")??;
    tracker.initialize(first.image.view(), parse_init(init)?)?;
    println!("{}: {init}", first.name);
    for frame in source {
        let frame = frame?;
        let out = tracker.track(frame.image.view())?;
        let [x, y, w, h] = out.bbox;
        println!(
            "{}: {x:.1},{y:.1},{w:.1},{h:.1} (score {:.3})",
            frame.name, out.score
        );
    }
    Ok(())
}
