//! Deterministic synthetic tracking datasets in the official layouts: a textured object (a
//! checker/stripe pattern in its own saturated colours) moving over a cluttered textured
//! background, with scale change, a sweeping occluder, frames where the target is absent and
//! targets leaving the frame. Frames are real baseline JPEGs (4:2:0).
//!
//! Output below `out_dir` (so that `root: <out_dir>` in `ostrack-data.yaml` finds everything):
//! `got10k/train` (+ `got10k/val`), `lasot`, `trackingnet/TRAIN_0`, `custom`, split files in
//! `data_specs/`, and an `ostrack-data.yaml` with `root: .`.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::decode::encode_jpeg;
use ostrack_atomic::Durability;

use crate::error::DataError;
use crate::image::RgbImage;

/// Which layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthFormat {
    Got10k,
    Lasot,
    TrackingNet,
    Custom,
}

impl SynthFormat {
    pub fn parse(s: &str) -> Result<Self, DataError> {
        match s.to_ascii_lowercase().as_str() {
            "got10k" => Ok(Self::Got10k),
            "lasot" => Ok(Self::Lasot),
            "trackingnet" => Ok(Self::TrackingNet),
            "custom" => Ok(Self::Custom),
            _ => Err(DataError::setup(format!(
                "unknown synthetic format `{s}`; expected got10k, lasot, trackingnet or custom"
            ))),
        }
    }
}

impl std::str::FromStr for SynthFormat {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        Self::parse(s)
    }
}

/// Size and randomness of the generated data.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// Training sequences.
    pub sequences: usize,
    /// Extra sequences for GOT-10k's `val` folder (`GOT10K_official_val`).
    pub val_sequences: usize,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub seed: u64,
    pub jpeg_quality: u8,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            sequences: 8,
            val_sequences: 2,
            frames: 60,
            width: 640,
            height: 360,
            seed: 0,
            jpeg_quality: 90,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary {
    /// The dataset root to pass as `--root` (e.g. `<out>/got10k/train`).
    pub dataset_root: PathBuf,
    /// Split files written for this dataset.
    pub data_specs: PathBuf,
    /// `<out>/ostrack-data.yaml` (`root: .`).
    pub settings: PathBuf,
    pub sequences: usize,
    pub frames: usize,
}

/// Ground truth of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FrameTruth {
    /// Object box clipped to the frame; zeros when the object is not in the frame at all.
    gt: [f64; 4],
    /// Fraction of the object's shape that is inside the frame and not occluded.
    visible: f64,
    /// The object overlaps the frame.
    in_view: bool,
    /// The object box is cut by the frame border.
    cut: bool,
}

/// A procedurally textured layer: coarse value noise plus oriented stripes in a 3-colour palette.
struct Texture {
    palette: [[f32; 3]; 3],
    grid: Vec<f32>,
    gw: usize,
    cell: f32,
    freq: f32,
    angle: (f32, f32),
}

impl Texture {
    fn random(rng: &mut StdRng, extent: usize, cell: f32) -> Self {
        let gw = (extent as f32 / cell) as usize + 3;
        let palette = [
            random_color(rng, 0.2),
            random_color(rng, 0.2),
            random_color(rng, 0.2),
        ];
        let a: f32 = rng.random::<f32>() * std::f32::consts::PI;
        Self {
            palette,
            grid: (0..gw * gw).map(|_| rng.random::<f32>()).collect(),
            gw,
            cell,
            freq: 0.05 + rng.random::<f32>() * 0.25,
            angle: (a.cos(), a.sin()),
        }
    }

    fn noise(&self, x: f32, y: f32) -> f32 {
        let (gx, gy) = ((x / self.cell).max(0.0), (y / self.cell).max(0.0));
        let (ix, iy) = (
            (gx as usize).min(self.gw - 2),
            (gy as usize).min(self.gw - 2),
        );
        let (fx, fy) = (gx - ix as f32, gy - iy as f32);
        let g = |i: usize, j: usize| self.grid[j * self.gw + i];
        let top = g(ix, iy) * (1.0 - fx) + g(ix + 1, iy) * fx;
        let bot = g(ix, iy + 1) * (1.0 - fx) + g(ix + 1, iy + 1) * fx;
        top * (1.0 - fy) + bot * fy
    }

    fn color(&self, x: f32, y: f32) -> [f32; 3] {
        let n = self.noise(x, y);
        let stripe = 0.5 + 0.5 * ((x * self.angle.0 + y * self.angle.1) * self.freq).sin();
        let (a, b) = if n < 0.5 {
            (self.palette[0], self.palette[1])
        } else {
            (self.palette[1], self.palette[2])
        };
        let t = (n * 2.0).fract();
        let k = 0.75 + 0.25 * stripe;
        [0, 1, 2].map(|c| (a[c] * (1.0 - t) + b[c] * t) * k)
    }
}

/// A colour with every channel in `[min, 1] * 255`.
fn random_color(rng: &mut StdRng, min: f32) -> [f32; 3] {
    [0; 3].map(|_| (min + rng.random::<f32>() * (1.0 - min)) * 255.0)
}

/// A saturated colour: one channel high, one low.
fn vivid_color(rng: &mut StdRng) -> [f32; 3] {
    let hi = rng.random_range(0..3usize);
    let lo = (hi + 1 + rng.random_range(0..2usize)) % 3;
    let mut c = [0f32; 3].map(|_| 60.0 + rng.random::<f32>() * 120.0);
    c[hi] = 220.0 + rng.random::<f32>() * 35.0;
    c[lo] = rng.random::<f32>() * 40.0;
    c
}

/// A distractor on the background.
struct Blob {
    cx: f32,
    cy: f32,
    rx: f32,
    ry: f32,
    texture: Texture,
}

/// Everything about one sequence.
struct Scene {
    width: usize,
    height: usize,
    background: Texture,
    blobs: Vec<Blob>,
    /// Camera pan per frame (pixels).
    pan: (f32, f32),
    object_colors: [[f32; 3]; 3],
    checker: f32,
    elliptic: bool,
    /// Object box per frame, unclipped (x, y, w, h).
    object: Vec<[f64; 4]>,
    /// Occluder bar per frame: (x0, x1) in frame columns, if present.
    occluder: Vec<Option<(f64, f64)>>,
    occluder_color: [f32; 3],
}

impl Scene {
    fn new(rng: &mut StdRng, width: usize, height: usize, frames: usize) -> Self {
        let extent = width.max(height) * 2;
        let cell = 24.0 + rng.random::<f32>() * 40.0;
        let background = Texture::random(rng, extent, cell);
        let blobs = (0..rng.random_range(8..16usize))
            .map(|_| {
                let (cx, cy) = (
                    rng.random::<f32>() * width as f32 * 1.3,
                    rng.random::<f32>() * height as f32 * 1.3,
                );
                let (rx, ry) = (
                    10.0 + rng.random::<f32>() * 50.0,
                    10.0 + rng.random::<f32>() * 50.0,
                );
                let cell = 8.0 + rng.random::<f32>() * 12.0;
                Blob {
                    cx,
                    cy,
                    rx,
                    ry,
                    texture: Texture::random(rng, extent, cell),
                }
            })
            .collect();
        let pan = (
            (rng.random::<f32>() - 0.5) * 2.0,
            (rng.random::<f32>() - 0.5) * 1.0,
        );
        let object_colors = [vivid_color(rng), vivid_color(rng), [250.0, 250.0, 250.0]];
        let (w, h) = (width as f64, height as f64);
        let base = (w.min(h) * (0.12 + rng.random::<f64>() * 0.2)).max(8.0);
        let aspect = 0.6 + rng.random::<f64>() * 1.0;
        let (bw, bh) = (base * aspect.sqrt(), base / aspect.sqrt());
        let leaves = rng.random::<f64>() < 0.5;
        let (mut cx, mut cy) = (
            w * (0.3 + 0.4 * rng.random::<f64>()),
            h * (0.3 + 0.4 * rng.random::<f64>()),
        );
        let speed = w.min(h) * 0.02;
        let (mut vx, mut vy) = (
            (rng.random::<f64>() - 0.5) * 2.0 * speed,
            (rng.random::<f64>() - 0.5) * 2.0 * speed,
        );
        let phase = rng.random::<f64>() * std::f64::consts::TAU;
        let period = 20.0 + rng.random::<f64>() * 40.0;
        // The object leaves through the right border around 60% of the sequence and comes back.
        let exit = (frames as f64 * 0.55) as usize..(frames as f64 * 0.7) as usize;
        let mut object = Vec::with_capacity(frames);
        for t in 0..frames {
            let s = 1.0 + 0.35 * (std::f64::consts::TAU * t as f64 / period + phase).sin();
            let (ow, oh) = (bw * s, bh * s);
            if leaves && exit.contains(&t) {
                cx += speed * 3.0;
            } else {
                vx = (vx + (rng.random::<f64>() - 0.5) * speed * 0.5)
                    .clamp(-speed * 1.5, speed * 1.5);
                vy = (vy + (rng.random::<f64>() - 0.5) * speed * 0.5)
                    .clamp(-speed * 1.5, speed * 1.5);
                cx += vx;
                cy += vy;
                if leaves && t == exit.end {
                    cx = w - ow * 0.3;
                    vx = -speed;
                }
                if cx < ow / 2.0 || cx > w - ow / 2.0 {
                    vx = -vx;
                    cx = cx.clamp(ow / 2.0, w - ow / 2.0);
                }
                if cy < oh / 2.0 || cy > h - oh / 2.0 {
                    vy = -vy;
                    cy = cy.clamp(oh / 2.0, h - oh / 2.0);
                }
            }
            object.push([cx - ow / 2.0, cy - oh / 2.0, ow, oh]);
        }
        // A bar that sweeps across the object's path during a stretch of frames.
        let mut occluder = vec![None; frames];
        if rng.random::<f64>() < 0.7 && frames >= 10 {
            let start = rng.random_range(0..frames / 2);
            let len = (frames / 5).max(4);
            let bar = bw.max(bh) * (0.8 + rng.random::<f64>() * 0.6);
            for (k, t) in (start..(start + len).min(frames)).enumerate() {
                let o = object[t];
                let x0 =
                    o[0] - bar + (o[2] + 2.0 * bar) * (k as f64 + 0.5) / len as f64 - bar / 2.0;
                occluder[t] = Some((x0, x0 + bar));
            }
        }
        Self {
            width,
            height,
            background,
            blobs,
            pan,
            object_colors,
            checker: 3.0 + rng.random_range(0..4u32) as f32,
            elliptic: rng.random::<f64>() < 0.5,
            object,
            occluder,
            occluder_color: random_color(rng, 0.3),
        }
    }

    fn inside_shape(&self, u: f64, v: f64) -> bool {
        if self.elliptic {
            let (a, b) = (2.0 * u - 1.0, 2.0 * v - 1.0);
            a * a + b * b <= 1.0
        } else {
            (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v)
        }
    }

    fn occluded(&self, t: usize, x: f64) -> bool {
        self.occluder[t].is_some_and(|(a, b)| x >= a && x < b)
    }

    fn truth(&self, t: usize) -> FrameTruth {
        let [x, y, w, h] = self.object[t];
        let (fw, fh) = (self.width as f64, self.height as f64);
        let (x0, y0, x1, y1) = (x.max(0.0), y.max(0.0), (x + w).min(fw), (y + h).min(fh));
        let in_view = x1 > x0 && y1 > y0;
        let n = 24;
        let (mut inside, mut seen) = (0usize, 0usize);
        for j in 0..n {
            for i in 0..n {
                let (u, v) = ((i as f64 + 0.5) / n as f64, (j as f64 + 0.5) / n as f64);
                if !self.inside_shape(u, v) {
                    continue;
                }
                inside += 1;
                let (px, py) = (x + u * w, y + v * h);
                if px >= 0.0 && px < fw && py >= 0.0 && py < fh && !self.occluded(t, px) {
                    seen += 1;
                }
            }
        }
        FrameTruth {
            gt: if in_view {
                [x0, y0, x1 - x0, y1 - y0]
            } else {
                [0.0; 4]
            },
            visible: seen as f64 / inside.max(1) as f64,
            in_view,
            cut: in_view && (x < 0.0 || y < 0.0 || x + w > fw || y + h > fh),
        }
    }

    fn render(&self, t: usize) -> RgbImage {
        let (w, h) = (self.width, self.height);
        let mut img = RgbImage::new(w, h);
        let (px, py) = (
            self.pan.0 * t as f32 + w as f32 * 0.25,
            self.pan.1 * t as f32 + h as f32 * 0.25,
        );
        let put = |img: &mut RgbImage, x: usize, y: usize, c: [f32; 3]| {
            let o = (y * w + x) * 3;
            for (d, v) in img.data[o..o + 3].iter_mut().zip(c) {
                *d = v.clamp(0.0, 255.0) as u8;
            }
        };
        for y in 0..h {
            for x in 0..w {
                put(
                    &mut img,
                    x,
                    y,
                    self.background.color(x as f32 + px, y as f32 + py),
                );
            }
        }
        // Each layer only visits its own bounding box.
        let span = |lo: f64, hi: f64, n: usize| {
            (
                lo.floor().max(0.0) as usize,
                (hi.ceil().max(0.0) as usize).min(n),
            )
        };
        for b in &self.blobs {
            let (x0, x1) = span((b.cx - b.rx - px) as f64, (b.cx + b.rx - px) as f64, w);
            let (y0, y1) = span((b.cy - b.ry - py) as f64, (b.cy + b.ry - py) as f64, h);
            for y in y0..y1 {
                for x in x0..x1 {
                    let (bx, by) = (x as f32 + px, y as f32 + py);
                    let (dx, dy) = ((bx - b.cx) / b.rx, (by - b.cy) / b.ry);
                    if dx * dx + dy * dy <= 1.0 {
                        put(&mut img, x, y, b.texture.color(bx, by));
                    }
                }
            }
        }
        let [ox, oy, ow, oh] = self.object[t];
        let (x0, x1) = span(ox, ox + ow, w);
        let (y0, y1) = span(oy, oy + oh, h);
        for y in y0..y1 {
            for x in x0..x1 {
                let (u, v) = ((x as f64 + 0.5 - ox) / ow, (y as f64 + 0.5 - oy) / oh);
                if (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v) && self.inside_shape(u, v) {
                    put(&mut img, x, y, self.object_color(u as f32, v as f32));
                }
            }
        }
        if let Some((a, b)) = self.occluder[t] {
            let (x0, x1) = span(a - 0.5, b - 0.5, w);
            for y in 0..h {
                let k = 0.85 + 0.15 * ((y as f32) * 0.3).sin();
                for x in x0..x1 {
                    if self.occluded(t, x as f64 + 0.5) {
                        put(&mut img, x, y, self.occluder_color.map(|v| v * k));
                    }
                }
            }
        }
        img
    }

    /// Checker cells in two vivid colours with a white rim: a pattern unlike the background.
    fn object_color(&self, u: f32, v: f32) -> [f32; 3] {
        let rim = u.min(v).min(1.0 - u).min(1.0 - v) < 0.08;
        if rim && !self.elliptic {
            return self.object_colors[2];
        }
        let cell = ((u * self.checker) as i32 + (v * self.checker) as i32) % 2;
        self.object_colors[cell as usize]
    }
}

fn sequence_rng(seed: u64, split: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed ^ (split << 40) ^ ((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    )
}

fn write_text(path: &Path, text: &str) -> Result<(), DataError> {
    Ok(ostrack_atomic::write(
        path,
        text.as_bytes(),
        Durability::Renamed,
    )?)
}

fn create_dir(path: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(path).map_err(|e| DataError::io(path, e))
}

fn fmt_box(b: &[f64; 4]) -> String {
    format!("{:.4},{:.4},{:.4},{:.4}", b[0], b[1], b[2], b[3])
}

/// Renders all frames of a scene into `dir` with `name(frame)` file names, in parallel.
fn write_frames(
    scene: &Scene,
    dir: &Path,
    quality: u8,
    name: impl Fn(usize) -> String + Sync,
) -> Result<(), DataError> {
    create_dir(dir)?;
    (0..scene.object.len()).into_par_iter().try_for_each(|t| {
        let path = dir.join(name(t));
        let jpeg = encode_jpeg(&scene.render(t), quality).map_err(|e| DataError::file(&path, e))?;
        Ok(ostrack_atomic::write(&path, &jpeg, Durability::Renamed)?)
    })
}

/// Writes a synthetic dataset of `format` below `out_dir` (see the module docs for the layout).
pub fn generate(
    format: SynthFormat,
    out_dir: &Path,
    options: &SynthOptions,
) -> Result<SynthSummary, DataError> {
    if options.frames < 20 || options.sequences == 0 || options.width < 32 || options.height < 32 {
        return Err(DataError::setup(
            "synthetic data needs at least 1 sequence, 20 frames per sequence (the sampler's minimum) and 32x32 frames",
        ));
    }
    if options.width > u16::MAX as usize || options.height > u16::MAX as usize {
        return Err(DataError::setup(
            "synthetic frames must fit a JPEG (at most 65535 pixels a side)",
        ));
    }
    let specs = out_dir.join("data_specs");
    create_dir(&specs)?;
    let root = match format {
        SynthFormat::Got10k => write_got10k(out_dir, &specs, options)?,
        SynthFormat::Lasot => write_lasot(out_dir, &specs, options)?,
        SynthFormat::TrackingNet => write_trackingnet(out_dir, options)?,
        SynthFormat::Custom => write_custom(out_dir, options)?,
    };
    let settings = out_dir.join(crate::settings::SETTINGS_FILE);
    write_text(
        &settings,
        "# written by `ostrack synth`: every dataset root defaults below this folder\nroot: .\n",
    )?;
    Ok(SynthSummary {
        dataset_root: root,
        data_specs: specs,
        settings,
        sequences: options.sequences,
        frames: options.sequences * options.frames,
    })
}

fn scenes(options: &SynthOptions, split: u64, count: usize) -> Vec<(Scene, Vec<FrameTruth>)> {
    (0..count)
        .map(|i| {
            let mut rng = sequence_rng(options.seed, split, i);
            let scene = Scene::new(&mut rng, options.width, options.height, options.frames);
            let truth = (0..options.frames).map(|t| scene.truth(t)).collect();
            (scene, truth)
        })
        .collect()
}

const CLASSES: [&str; 6] = ["airplane", "bird", "car", "dog", "kite", "robot"];

fn write_got10k(out: &Path, specs: &Path, o: &SynthOptions) -> Result<PathBuf, DataError> {
    for (folder, split, count, prefix) in [
        ("train", 0u64, o.sequences, "GOT-10k_Train_"),
        ("val", 1, o.val_sequences, "GOT-10k_Val_"),
    ] {
        if count == 0 {
            continue;
        }
        let root = out.join("got10k").join(folder);
        create_dir(&root)?;
        let mut list = String::new();
        for (i, (scene, truth)) in scenes(o, split, count).into_iter().enumerate() {
            let name = format!("{prefix}{:06}", i + 1);
            let dir = root.join(&name);
            write_frames(&scene, &dir, o.jpeg_quality, |t| {
                format!("{:08}.jpg", t + 1)
            })?;
            let lines = |f: &dyn Fn(&FrameTruth) -> String| {
                truth.iter().map(|t| f(t) + "\n").collect::<String>()
            };
            write_text(&dir.join("groundtruth.txt"), &lines(&|t| fmt_box(&t.gt)))?;
            write_text(
                &dir.join("absence.label"),
                &lines(&|t| ((t.visible == 0.0) as u8).to_string()),
            )?;
            write_text(
                &dir.join("cover.label"),
                &lines(&|t| {
                    if t.visible == 0.0 {
                        "0".into()
                    } else {
                        ((t.visible * 8.0).ceil() as u8).clamp(1, 8).to_string()
                    }
                }),
            )?;
            write_text(
                &dir.join("cut_by_image.label"),
                &lines(&|t| (t.cut as u8).to_string()),
            )?;
            let class = CLASSES[i % CLASSES.len()];
            write_text(
                &dir.join("meta_info.ini"),
                &format!(
                    "[METAINFO]\nurl: synthetic\nbegin: 0\nend: {}\nanno_fps: 10Hz\nobject_class: {class}\n\
                     motion_class: moving\nmajor_class: synthetic\nroot_class: object\nmotion_adverb: smoothly\n\
                     resolution: ({}, {})\n",
                    o.frames, o.width, o.height
                ),
            )?;
            list += &format!("{name}\n");
        }
        write_text(&root.join("list.txt"), &list)?;
    }
    // Index files over the train list order, as in the original's data_specs.
    let n = o.sequences;
    let cut = (n * 4).div_ceil(5).min(n.saturating_sub(1)).max(1);
    let idx = |r: std::ops::Range<usize>| r.map(|i| format!("{i}\n")).collect::<String>();
    write_text(&specs.join("got10k_train_full_split.txt"), &idx(0..n))?;
    write_text(&specs.join("got10k_vot_train_split.txt"), &idx(0..cut))?;
    write_text(
        &specs.join("got10k_vot_val_split.txt"),
        &idx(cut.min(n - 1)..n),
    )?;
    write_text(&specs.join("got10k_train_split.txt"), &idx(0..cut))?;
    write_text(&specs.join("got10k_val_split.txt"), &idx(cut.min(n - 1)..n))?;
    Ok(out.join("got10k").join("train"))
}

fn write_lasot(out: &Path, specs: &Path, o: &SynthOptions) -> Result<PathBuf, DataError> {
    let root = out.join("lasot");
    let mut names = String::new();
    for (i, (scene, truth)) in scenes(o, 2, o.sequences).into_iter().enumerate() {
        let class = CLASSES[i % CLASSES.len()];
        let name = format!("{class}-{}", i / CLASSES.len() + 1);
        let dir = root.join(class).join(&name);
        write_frames(&scene, &dir.join("img"), o.jpeg_quality, |t| {
            format!("{:08}.jpg", t + 1)
        })?;
        let gt: String = truth.iter().map(|t| fmt_box(&t.gt) + "\n").collect();
        write_text(&dir.join("groundtruth.txt"), &gt)?;
        let row = |f: &dyn Fn(&FrameTruth) -> bool| {
            truth
                .iter()
                .map(|t| (f(t) as u8).to_string())
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        };
        write_text(
            &dir.join("full_occlusion.txt"),
            &row(&|t| t.in_view && t.visible == 0.0),
        )?;
        write_text(&dir.join("out_of_view.txt"), &row(&|t| !t.in_view))?;
        write_text(
            &dir.join("nlp.txt"),
            &format!("a patterned {class} moving over clutter\n"),
        )?;
        names += &format!("{name}\n");
    }
    write_text(&specs.join("lasot_train_split.txt"), &names)?;
    Ok(root)
}

fn write_trackingnet(out: &Path, o: &SynthOptions) -> Result<PathBuf, DataError> {
    let root = out.join("trackingnet");
    let chunk = root.join("TRAIN_0");
    create_dir(&chunk.join("anno"))?;
    for (i, (scene, truth)) in scenes(o, 3, o.sequences).into_iter().enumerate() {
        let vid = format!("synth{:05}_0", i + 1);
        write_frames(
            &scene,
            &chunk.join("frames").join(&vid),
            o.jpeg_quality,
            |t| format!("{t}.jpg"),
        )?;
        let gt: String = truth.iter().map(|t| fmt_box(&t.gt) + "\n").collect();
        write_text(&chunk.join("anno").join(format!("{vid}.txt")), &gt)?;
    }
    Ok(root)
}

fn write_custom(out: &Path, o: &SynthOptions) -> Result<PathBuf, DataError> {
    let root = out.join("custom");
    for (i, (scene, truth)) in scenes(o, 4, o.sequences).into_iter().enumerate() {
        let dir = root.join(format!("sequence_{:03}", i + 1));
        write_frames(&scene, &dir, o.jpeg_quality, |t| {
            format!("{:08}.jpg", t + 1)
        })?;
        let gt: String = truth.iter().map(|t| fmt_box(&t.gt) + "\n").collect();
        write_text(&dir.join("groundtruth.txt"), &gt)?;
    }
    Ok(root)
}
