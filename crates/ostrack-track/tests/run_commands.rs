//! `track` and `test` runs end to end on small synthetic data with the tiny fixture model:
//! output files and layouts, resume, annotated output, the confidence/IoU chart and bad-input
//! errors.

mod common;

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use ostrack_data::synth::{SynthFormat, SynthOptions, generate};
use ostrack_eval::DatasetId;
use ostrack_track::{
    FrameSource, SaveAnnotated, TestOptions, TrackError, TrackOptions, TrackSummary,
    first_groundtruth_box, parse_init, run_test, run_track,
};

fn synth(format: SynthFormat, dir: &Path, sequences: usize, val_sequences: usize) -> PathBuf {
    let options = SynthOptions {
        sequences,
        val_sequences,
        frames: 20,
        width: 96,
        height: 64,
        seed: 7,
        jpeg_quality: 90,
    };
    generate(format, dir, &options).unwrap().dataset_root
}

fn track_options(config: &Path, weights: &Path, source: &Path, output: &Path) -> TrackOptions {
    TrackOptions {
        config: config.to_path_buf(),
        weights: weights.to_path_buf(),
        source: source.display().to_string(),
        init: None,
        output: output.to_path_buf(),
        lost_threshold: None,
        show_attention: false,
        save: SaveAnnotated::None,
        progress: false,
    }
}

/// Rows of numbers separated by commas, tabs or spaces (blank lines skipped).
fn read_rows(path: &Path) -> Vec<Vec<f64>> {
    read_lines(path)
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split([',', '\t', ' '])
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect()
        })
        .collect()
}

/// Both chart files exist where the summary says, are a decodable PNG of plausible size and a
/// complete SVG; returns the SVG text.
fn check_plot_files(summary: &TrackSummary, out: &Path) -> String {
    assert_eq!(summary.plot_png, out.join(ostrack_track::PLOT_PNG_FILE));
    assert_eq!(summary.plot_svg, out.join(ostrack_track::PLOT_SVG_FILE));
    let png_bytes = std::fs::read(&summary.plot_png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png_bytes.len() > 10_000, "{} bytes", png_bytes.len());
    let png = image::load_from_memory(&png_bytes).unwrap().to_rgb8();
    assert!(
        png.width() >= 800 && png.height() >= 400,
        "{:?}",
        png.dimensions()
    );
    // Not a blank canvas: the plotted series and text put many non-white pixels down.
    let inked = png.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(inked > 5_000, "{inked} non-white pixels");
    let svg = std::fs::read_to_string(&summary.plot_svg).unwrap();
    assert!(svg.len() > 5_000, "{} bytes", svg.len());
    assert!(
        svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{}",
        &svg[..200.min(svg.len())]
    );
    assert!(svg.contains("Confidence (peak score)"));
    // No temporary files left beside the outputs.
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.') && !name.starts_with("tmp"), "{name}");
    }
    svg
}

/// IoU of two x,y,w,h boxes, written out independently of the crate.
fn iou(a: &[f64], b: &[f64]) -> f64 {
    let ix = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let iy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    let inter = ix.max(0.0) * iy.max(0.0);
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// Tracks a copy of `seq` whose ground truth is built from the boxes a first run tracked
/// (`tracked`): odd frames exact (IoU 1), even frames shifted by half a width (IoU 1/3), frames 4
/// and 9 absent (NaN). AO and success rate must be those computed here from the new boxes.txt.
fn check_known_ground_truth(
    base: &TrackOptions,
    seq: &Path,
    tracked: &[Vec<f64>],
    dir: &Path,
    device: &Device,
) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=tracked.len() {
        let f = format!("{i:08}.jpg");
        std::fs::copy(seq.join(&f), dir.join(&f)).unwrap();
    }
    let absent = [4, 9];
    let truth: Vec<Vec<f64>> = tracked
        .iter()
        .enumerate()
        .map(|(i, b)| match i {
            _ if absent.contains(&i) => vec![f64::NAN; 4],
            _ if i % 2 == 0 && i > 0 => vec![b[0] + b[2] / 2.0, b[1], b[2], b[3]],
            _ => b.clone(),
        })
        .collect();
    let text: String = truth
        .iter()
        .map(|b| format!("{},{},{},{}\n", b[0], b[1], b[2], b[3]))
        .collect();
    std::fs::write(dir.join("groundtruth.txt"), text).unwrap();
    let out = dir.join("out");
    let summary = run_track(
        &TrackOptions {
            source: dir.display().to_string(),
            output: out.clone(),
            init: None,
            save: SaveAnnotated::None,
            ..base.clone()
        },
        device,
    )
    .unwrap();
    let boxes = read_rows(&summary.boxes_file);
    // Deterministic tracker, same init box: the same boxes as the first run.
    assert_eq!(boxes, tracked);
    let want: Vec<Option<f64>> = (0..boxes.len())
        .map(|i| (i > 0 && !absent.contains(&i)).then(|| iou(&boxes[i], &truth[i])))
        .collect();
    let scored: Vec<f64> = want.iter().flatten().copied().collect();
    assert_eq!(scored.len(), boxes.len() - 1 - absent.len());
    let ao = scored.iter().sum::<f64>() / scored.len() as f64;
    let sr = scored.iter().filter(|&&v| v > 0.5).count() as f64 / scored.len() as f64;
    // 9 exact frames (1, 3, ..., 19 without 9) and 8 at IoU 1/3 out of 17.
    assert!((ao - (9.0 + 8.0 / 3.0) / 17.0).abs() < 1e-9, "{ao}");
    assert_eq!(sr, 9.0 / 17.0);
    let overlap = summary.overlap.as_ref().unwrap();
    assert_eq!(overlap.ious.len(), want.len());
    for (i, (got, want)) in overlap.ious.iter().zip(&want).enumerate() {
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-12, "frame {i}: {g} vs {w}"),
            (None, None) => {}
            _ => panic!("frame {i}: {got:?} vs {want:?}"),
        }
    }
    assert!((overlap.average_overlap - ao).abs() < 1e-12);
    assert_eq!(overlap.success_rate, sr);
    let svg = check_plot_files(&summary, &out);
    let numbers = format!("AO {ao:.3}, success rate (IoU &gt; 0.5) {sr:.3}");
    assert!(svg.contains(&numbers), "chart title lacks `{numbers}`");
    assert!(
        summary.to_string().contains("over 17 tracked frames"),
        "{summary}"
    );
}

fn lines_of_gt(seq: &Path) -> Vec<String> {
    read_lines(&seq.join("groundtruth.txt"))
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn track_writes_boxes_gif_frames_and_lost_marks() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (config, weights) = common::write_fixture_model(tmp.path());
    let root = synth(SynthFormat::Custom, &tmp.path().join("data"), 1, 0);
    let seq = root.join("sequence_001");
    let gt = first_groundtruth_box(&seq.join("groundtruth.txt")).unwrap();

    // --init omitted: the folder's groundtruth.txt gives the first box; annotated GIF.
    let out = tmp.path().join("out_gif");
    let mut opts = track_options(&config, &weights, &seq, &out);
    opts.save = SaveAnnotated::Gif;
    let summary = run_track(&opts, &device).unwrap();
    println!("{summary}");
    assert_eq!(summary.frames, 20);
    assert_eq!(summary.init, gt);
    assert!(summary.end_to_end_fps > 0.0 && summary.tracker_fps >= summary.end_to_end_fps);
    let lines = read_lines(&summary.boxes_file);
    assert_eq!(lines.len(), 20);
    for line in &lines {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        assert_eq!(v.len(), 5, "{line}");
        assert!(
            v[2] >= 10.0 && v[3] >= 10.0 && v[4] > 0.0 && v[4] <= 1.0,
            "{line}"
        );
        assert!(
            v[0] >= 0.0 && v[0] <= 96.0 - 10.0 && v[1] >= 0.0 && v[1] <= 64.0 - 10.0,
            "clipped: {line}"
        );
    }
    let first: Vec<f64> = lines[0]
        .split(',')
        .take(4)
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(first, gt.to_vec());
    let gif = summary.annotated.clone().unwrap();
    let gif_frames = FrameSource::gif(&gif)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(gif_frames.len(), 20);
    assert_eq!(
        (gif_frames[0].image.width, gif_frames[0].image.height),
        (96, 64)
    );
    assert!(summary.lost_file.is_none() && !out.join(ostrack_track::LOST_FILE).exists());

    // The chart, and AO / success rate recomputed here from boxes.txt and groundtruth.txt over
    // the tracked frames (frame 0 is the given init box).
    let svg = check_plot_files(&summary, &out);
    let boxes = read_rows(&summary.boxes_file);
    let truth = read_rows(&seq.join("groundtruth.txt"));
    assert_eq!((boxes.len(), truth.len()), (20, 20));
    let ious: Vec<f64> = (1..20).map(|i| iou(&boxes[i], &truth[i])).collect();
    let ao = ious.iter().sum::<f64>() / 19.0;
    let sr = ious.iter().filter(|&&v| v > 0.5).count() as f64 / 19.0;
    let overlap = summary.overlap.as_ref().expect("per-frame groundtruth.txt");
    assert_eq!(overlap.groundtruth, seq.join("groundtruth.txt"));
    assert_eq!(overlap.scored_frames(), 19);
    assert_eq!(overlap.ious[0], None);
    for (i, (got, want)) in overlap.ious[1..].iter().zip(&ious).enumerate() {
        let got = got.unwrap();
        assert!(
            (got - want).abs() < 1e-12,
            "frame {}: {got} vs {want}",
            i + 1
        );
    }
    assert!((overlap.average_overlap - ao).abs() < 1e-12);
    assert!((overlap.success_rate - sr).abs() < 1e-12);
    println!("AO {ao:.4}, SR0.5 {sr:.4}");
    check_known_ground_truth(&opts, &seq, &boxes, &tmp.path().join("known_gt"), &device);
    // The title and the run summary carry both numbers.
    let numbers = format!("AO {ao:.3}, success rate (IoU > 0.5) {sr:.3}");
    let escaped = numbers.replace('>', "&gt;");
    assert!(svg.contains(&escaped), "chart title lacks `{escaped}`");
    assert!(svg.contains("IoU with ground truth"));
    assert!(summary.to_string().contains(&numbers), "{summary}");
    assert!(summary.to_string().contains("track_plot.png"), "{summary}");

    // Explicit --init, PNG frames with the attention overlay, every tracked frame "lost".
    let out = tmp.path().join("out_frames");
    let mut opts = track_options(&config, &weights, &seq, &out);
    opts.init = Some(gt);
    opts.save = SaveAnnotated::Frames;
    opts.show_attention = true;
    opts.lost_threshold = Some(1.5);
    let summary = run_track(&opts, &device).unwrap();
    assert_eq!(summary.lost_frames, (1..20).collect::<Vec<_>>());
    assert_eq!(read_lines(summary.lost_file.as_ref().unwrap()).len(), 19);
    let frames_dir = summary.annotated.clone().unwrap();
    let mut pngs: Vec<_> = std::fs::read_dir(&frames_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pngs.sort();
    assert_eq!(pngs.len(), 20);
    // A lost frame carries the red border; the init frame does not.
    let lost = image::open(&pngs[5]).unwrap().to_rgb8();
    assert_eq!(lost.get_pixel(0, 0).0, [255, 0, 0]);
    let init_frame = image::open(&pngs[0]).unwrap().to_rgb8();
    assert_ne!(init_frame.get_pixel(0, 0).0, [255, 0, 0]);
    // The same boxes with and without annotation (the tracker is deterministic).
    assert_eq!(read_lines(&summary.boxes_file)[19], lines[19]);
    // The chart marks the threshold and every lost frame.
    let svg = check_plot_files(&summary, &out);
    assert!(svg.contains("lost threshold 1.50") && svg.contains("lost (19 frames)"));
    // SVG text escapes `<` and `>`.
    assert!(svg.contains("19 lost (confidence &lt; 1.50)"));

    // A single init row (GOT-10k test style): init box only, no overlap panel.
    let init_only = tmp.path().join("init_only");
    std::fs::create_dir_all(&init_only).unwrap();
    for i in 1..=3 {
        let f = format!("{i:08}.jpg");
        std::fs::copy(seq.join(&f), init_only.join(&f)).unwrap();
    }
    std::fs::write(
        init_only.join("groundtruth.txt"),
        lines_of_gt(&seq)[..1].join("\n"),
    )
    .unwrap();
    let out = tmp.path().join("out_init_only");
    let summary = run_track(&track_options(&config, &weights, &init_only, &out), &device).unwrap();
    assert_eq!((summary.frames, summary.init), (3, gt));
    assert!(summary.overlap.is_none());
    let svg = check_plot_files(&summary, &out);
    assert!(!svg.contains("IoU with ground truth") && !svg.contains("AO "));
}

#[test]
fn test_writes_the_original_layout_and_resumes() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (config, weights) = common::write_fixture_model(tmp.path());
    synth(SynthFormat::Got10k, &tmp.path().join("data"), 1, 2);
    let got_val = tmp.path().join("data/got10k/val");
    let results = tmp.path().join("tracking_results");
    let opts = TestOptions {
        config: config.clone(),
        weights: weights.clone(),
        dataset: DatasetId::Got10kVal,
        data_root: got_val.clone(),
        results_root: results.clone(),
        threads: 2,
        sequence: None,
        progress: false,
    };
    let summary = run_test(&opts, &device).unwrap();
    println!("{summary}");
    assert_eq!(summary.tracked.len(), 2);
    assert!(summary.skipped.is_empty());
    let dir = results.join("ostrack/tiny/got10k");
    assert_eq!(summary.tracker_dir, results.join("ostrack/tiny"));
    for name in ["GOT-10k_Val_000001", "GOT-10k_Val_000002"] {
        let boxes = read_lines(&dir.join(format!("{name}.txt")));
        assert_eq!(boxes.len(), 20);
        for line in &boxes {
            let v: Vec<i64> = line.split('\t').map(|s| s.parse().unwrap()).collect();
            assert_eq!(v.len(), 4, "{line}");
        }
        let gt = first_groundtruth_box(&got_val.join(name).join("groundtruth.txt")).unwrap();
        assert_eq!(
            boxes[0],
            gt.map(|v| (v.trunc() as i64).to_string()).join("\t")
        );
        let times = read_lines(&dir.join(format!("{name}_time.txt")));
        assert_eq!(times.len(), 20);
        assert!(
            times
                .iter()
                .all(|t| t.split('.').nth(1).is_some_and(|d| d.len() == 6))
        );
    }

    // Resume: finished sequences are skipped and left untouched.
    let box_file = dir.join("GOT-10k_Val_000001.txt");
    let before = std::fs::metadata(&box_file).unwrap().modified().unwrap();
    std::fs::remove_file(dir.join("GOT-10k_Val_000002.txt")).unwrap();
    let summary = run_test(&opts, &device).unwrap();
    assert_eq!(summary.skipped, vec!["GOT-10k_Val_000001".to_string()]);
    assert_eq!(
        summary
            .tracked
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["GOT-10k_Val_000002"]
    );
    assert_eq!(
        std::fs::metadata(&box_file).unwrap().modified().unwrap(),
        before
    );

    // --sequence that does not exist.
    let err = run_test(
        &TestOptions {
            sequence: Some("nope".into()),
            ..opts.clone()
        },
        &device,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("--sequence") && err.to_string().contains("nope"),
        "{err}"
    );

    // LaSOT: no dataset subfolder.
    let lasot = synth(SynthFormat::Lasot, &tmp.path().join("lasot_data"), 1, 0);
    let opts = TestOptions {
        dataset: DatasetId::Lasot,
        data_root: lasot,
        ..opts
    };
    let summary = run_test(&opts, &device).unwrap();
    assert_eq!(summary.tracked.len(), 1);
    let name = &summary.tracked[0].name;
    assert_eq!(
        summary.tracked[0].result_file,
        results.join(format!("ostrack/tiny/{name}.txt"))
    );
    assert_eq!(read_lines(&summary.tracked[0].result_file).len(), 20);
    assert!(
        results
            .join(format!("ostrack/tiny/{name}_time.txt"))
            .is_file()
    );
}

#[test]
fn bad_inputs_are_named_errors() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (config, weights) = common::write_fixture_model(tmp.path());
    let root = synth(SynthFormat::Custom, &tmp.path().join("data"), 1, 0);
    let seq = root.join("sequence_001");
    let out = tmp.path().join("out");
    let err_of = |opts: &TrackOptions| run_track(opts, &device).unwrap_err().to_string();

    // --init with zero size, outside the frame, malformed.
    let mut opts = track_options(&config, &weights, &seq, &out);
    opts.init = Some([10.0, 10.0, 0.0, 5.0]);
    let e = err_of(&opts);
    assert!(e.starts_with("--init") && e.contains("zero"), "{e}");
    opts.init = Some([500.0, 10.0, 20.0, 20.0]);
    let e = err_of(&opts);
    assert!(e.starts_with("--init") && e.contains("outside"), "{e}");
    let e = parse_init("1,2,3").unwrap_err().to_string();
    assert!(e.starts_with("--init") && e.contains("4 numbers"), "{e}");
    let e = parse_init("1,2,x,4").unwrap_err().to_string();
    assert!(e.starts_with("--init") && e.contains("`x`"), "{e}");

    // An unreadable frame is named.
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["00000001.jpg", "00000002.jpg"] {
        std::fs::copy(seq.join(f), broken.join(f)).unwrap();
    }
    std::fs::write(broken.join("00000003.jpg"), b"\xFF\xD8 not really a jpeg").unwrap();
    let mut opts = track_options(&config, &weights, &broken, &out);
    opts.init = Some([20.0, 20.0, 20.0, 20.0]);
    let e = err_of(&opts);
    assert!(e.contains("00000003.jpg"), "{e}");
    assert!(
        !out.join(ostrack_track::BOXES_FILE).exists(),
        "no partial box file"
    );

    // A video that cannot be decoded (or a build without the decoder) names the file.
    let video = tmp.path().join("clip.mp4");
    std::fs::write(&video, b"not a video").unwrap();
    let e = err_of(&TrackOptions {
        source: video.display().to_string(),
        ..opts.clone()
    });
    assert!(e.contains("clip.mp4"), "{e}");
    #[cfg(feature = "video")]
    assert!(e.contains("not a readable MP4 file"), "{e}");
    #[cfg(not(feature = "video"))]
    assert!(e.contains("`video` cargo feature"), "{e}");

    // A broken ground-truth file is named with its line; a missing one asks for --init.
    let gt_seq = tmp.path().join("gt_seq");
    std::fs::create_dir_all(&gt_seq).unwrap();
    std::fs::copy(seq.join("00000001.jpg"), gt_seq.join("00000001.jpg")).unwrap();
    std::fs::write(gt_seq.join("groundtruth.txt"), "\n1,2,three,4\n").unwrap();
    let e = err_of(&track_options(&config, &weights, &gt_seq, &out));
    assert!(
        e.contains("groundtruth.txt:2") && e.contains("three"),
        "{e}"
    );
    std::fs::write(gt_seq.join("groundtruth.txt"), "\n\n900,2,30,40\n").unwrap();
    let e = err_of(&track_options(&config, &weights, &gt_seq, &out));
    assert!(
        e.contains("groundtruth.txt:3") && e.contains("outside"),
        "{e}"
    );
    // Every row is checked, not only the first; the row count must match the frames.
    std::fs::copy(seq.join("00000002.jpg"), gt_seq.join("00000002.jpg")).unwrap();
    std::fs::write(gt_seq.join("groundtruth.txt"), "1,2,30,40\n\n1,2,NaN,x\n").unwrap();
    let e = err_of(&track_options(&config, &weights, &gt_seq, &out));
    assert!(e.contains("groundtruth.txt:3") && e.contains("`x`"), "{e}");
    std::fs::write(
        gt_seq.join("groundtruth.txt"),
        "1,2,30,40\n1,2,30,40\n1,2,30,40\n",
    )
    .unwrap();
    let e = err_of(&track_options(&config, &weights, &gt_seq, &out));
    assert!(
        e.contains("groundtruth.txt") && e.contains("has 3 boxes but the source has 2 frames"),
        "{e}"
    );
    std::fs::remove_file(gt_seq.join("groundtruth.txt")).unwrap();
    let e = err_of(&track_options(&config, &weights, &gt_seq, &out));
    assert!(
        e.starts_with("--init") && e.contains("groundtruth.txt"),
        "{e}"
    );

    // Sources that do not exist or match nothing.
    let e = err_of(&TrackOptions {
        source: "/nonexistent/frames".into(),
        ..opts.clone()
    });
    assert!(
        e.contains("--source") && e.contains("/nonexistent/frames"),
        "{e}"
    );
    let pattern = format!("{}/*.png", seq.display());
    let e = err_of(&TrackOptions {
        source: pattern,
        ..opts.clone()
    });
    assert!(e.contains("matches no file"), "{e}");

    // Video output without the encoder compiled in names the flag.
    #[cfg(not(feature = "video"))]
    {
        let e = err_of(&TrackOptions {
            save: SaveAnnotated::Video,
            ..track_options(&config, &weights, &seq, &out)
        });
        assert!(
            e.starts_with("--save-video") && e.contains("`video`"),
            "{e}"
        );
    }

    // Weights that do not fit the config.
    let e = run_track(
        &TrackOptions {
            weights: config.clone(),
            ..opts.clone()
        },
        &device,
    )
    .unwrap_err();
    assert!(matches!(e, TrackError::Weights(_)), "{e}");
}

#[test]
fn glob_and_folder_sources_sort_naturally() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
    for n in [10, 2, 1] {
        img.save(tmp.path().join(format!("f{n}.png"))).unwrap();
    }
    std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
    let names = |s: FrameSource| s.map(|f| f.unwrap().name).collect::<Vec<_>>();
    assert_eq!(
        names(FrameSource::open(&tmp.path().display().to_string()).unwrap()),
        ["f1.png", "f2.png", "f10.png"]
    );
    let pattern = format!("{}/f1*.png", tmp.path().display());
    assert_eq!(
        names(FrameSource::open(&pattern).unwrap()),
        ["f1.png", "f10.png"]
    );
}

/// `--save-video` writes an H.264 MP4 that the video source reads back frame for frame.
#[cfg(feature = "video")]
#[test]
fn video_output_round_trips_through_the_video_source() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (config, weights) = common::write_fixture_model(tmp.path());
    let root = synth(SynthFormat::Custom, &tmp.path().join("data"), 1, 0);
    let out = tmp.path().join("out_video");
    let mut opts = track_options(&config, &weights, &root.join("sequence_001"), &out);
    opts.save = SaveAnnotated::Video;
    let summary = run_track(&opts, &device).unwrap();
    let video = summary.annotated.unwrap();
    assert_eq!(video, out.join(ostrack_track::VIDEO_FILE));
    let source = FrameSource::open(&video.display().to_string()).unwrap();
    assert_eq!(source.frame_count(), Some(20));
    let frames = source.collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(frames.len(), 20);
    assert_eq!((frames[0].image.width, frames[0].image.height), (96, 64));
    // Tracking the decoded video works like tracking the folder.
    let mut opts = track_options(&config, &weights, &video, &tmp.path().join("from_video"));
    opts.init = Some(summary.init);
    assert_eq!(run_track(&opts, &device).unwrap().frames, 20);
}

#[test]
fn profile_reports_every_stage() {
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (config, weights) = common::write_fixture_model(tmp.path());
    let loaded = ostrack_track::load_model(&config, &weights, &device).unwrap();
    let mut tracker = ostrack_track::Tracker::from_loaded(&loaded, &device).unwrap();
    let p = ostrack_track::profile_tracking(&mut tracker, 320, 240, 1, 3).unwrap();
    println!("{p:?}");
    assert_eq!((p.runs, p.warmup), (3, 1));
    assert!(
        p.forward_ms > 0.0 && p.crop_ms > 0.0 && p.preprocess_ms > 0.0 && p.postprocess_ms > 0.0
    );
    assert!(p.total_ms >= p.forward_ms && (p.fps - 1e3 / p.total_ms).abs() < 1e-9);
    assert!(ostrack_track::profile_tracking(&mut tracker, 320, 240, 0, 0).is_err());
}
