//! End to end on small synthetic datasets: every layout passes the doctor, the loader is
//! reproducible whatever the thread count, and bad input gives errors that name the file.

use std::path::{Path, PathBuf};

use ostrack_config::ExperimentConfig;
use ostrack_data::synth::{self, SynthFormat, SynthOptions};
use ostrack_data::{
    DataRoots, DatasetKind, DoctorOptions, LoaderOptions, LoaderSetup, PairBatch, ProcessingParams,
    Split, TrainPairLoader, check_config, check_dataset, open_layout,
};

fn small() -> SynthOptions {
    SynthOptions {
        sequences: 3,
        val_sequences: 1,
        frames: 24,
        width: 160,
        height: 120,
        seed: 7,
        jpeg_quality: 85,
    }
}

/// A config with small crops so the tests stay fast.
fn small_config(train: &[&str], ratios: &[f64]) -> ExperimentConfig {
    let mut cfg = ExperimentConfig::default();
    cfg.data.template.size = 64;
    cfg.data.search.size = 128;
    cfg.data.search.factor = 4.0;
    cfg.data.search.center_jitter = 3.0;
    cfg.data.search.scale_jitter = 0.25;
    cfg.data.train.datasets_name = train.iter().map(|s| s.to_string()).collect();
    cfg.data.train.datasets_ratio = ratios.to_vec();
    cfg.data.train.sample_per_epoch = 8;
    cfg.train.batch_size = 4;
    cfg
}

fn roots(dir: &Path) -> DataRoots {
    DataRoots {
        root: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

fn load_all(loader: &TrainPairLoader, epoch: usize) -> Vec<PairBatch> {
    loader.epoch(epoch).map(|b| b.unwrap()).collect()
}

#[test]
fn every_synthetic_layout_passes_the_deep_doctor() {
    let dir = tempfile::tempdir().unwrap();
    for (format, kind) in [
        (SynthFormat::Got10k, DatasetKind::Got10k),
        (SynthFormat::Lasot, DatasetKind::Lasot),
        (SynthFormat::TrackingNet, DatasetKind::TrackingNet),
        (SynthFormat::Custom, DatasetKind::Custom),
    ] {
        let summary = synth::generate(format, dir.path(), &small()).unwrap();
        let report = check_dataset(kind, &summary.dataset_root, DoctorOptions { deep: true });
        let text = report.to_string();
        assert!(!report.has_errors(), "{text}");
        let d = &report.datasets[0];
        assert_eq!(
            (d.sequences, d.frames, d.decoded_frames),
            (3, 72, 72),
            "{text}"
        );
        assert!(d.visible_frames > 50 && d.usable_sequences == 3, "{text}");
    }
}

#[test]
fn synthetic_data_is_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = synth::generate(SynthFormat::Custom, a.path(), &small()).unwrap();
    let sb = synth::generate(SynthFormat::Custom, b.path(), &small()).unwrap();
    for rel in ["sequence_002/groundtruth.txt", "sequence_002/00000013.jpg"] {
        assert_eq!(
            std::fs::read(sa.dataset_root.join(rel)).unwrap(),
            std::fs::read(sb.dataset_root.join(rel)).unwrap(),
            "{rel}"
        );
    }
}

#[test]
fn loader_is_reproducible_and_independent_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(SynthFormat::Got10k, dir.path(), &small()).unwrap();
    synth::generate(SynthFormat::Lasot, dir.path(), &small()).unwrap();
    let cfg = small_config(&["GOT10K_train_full", "LASOT"], &[1.0, 1.0]);
    let open = |threads| {
        let opts = LoaderOptions {
            seed: 3,
            threads,
            ..Default::default()
        };
        TrainPairLoader::from_config(&cfg, &roots(dir.path()), Split::Train, opts).unwrap()
    };
    let (one, two) = (open(1), open(2));
    assert_eq!((one.batches_per_epoch(), one.samples_per_epoch()), (2, 8));
    let e0 = load_all(&one, 0);
    assert_eq!(e0, load_all(&two, 0));
    assert_ne!(e0, load_all(&one, 1));
    let b = &e0[0];
    assert_eq!(b.template_shape(), [4, 3, 64, 64]);
    assert_eq!(b.search_shape(), [4, 3, 128, 128]);
    assert_eq!(b.heatmap_shape(), [4, 8, 8]);
    assert_eq!(b.template_images.len(), 4 * 3 * 64 * 64);
    assert_eq!(b.search_att.len(), 4 * 128 * 128);
    assert!(b.search_heatmap.contains(&1.0));
    // Both datasets are drawn at ratio 1:1.
    let names: Vec<&String> = e0.iter().flat_map(|b| &b.datasets).collect();
    assert!(
        names
            .iter()
            .all(|n| *n == "GOT10K_train_full" || *n == "LASOT")
    );
    // The template is centred: its box is the unjittered target at a factor of 2.
    for s in 0..4 {
        let t = &b.template_anno[4 * s..4 * s + 4];
        assert!(
            (t[0] + t[2] / 2.0 - 0.5).abs() < 0.02 && (t[2] * t[3]).sqrt() > 0.45,
            "{t:?}"
        );
    }
}

#[test]
fn validation_split_has_no_brightness_jitter() {
    let dir = tempfile::tempdir().unwrap();
    let s = synth::generate(SynthFormat::Custom, dir.path(), &small()).unwrap();
    let cfg = small_config(&["CUSTOM"], &[1.0]);
    let setup = |split| LoaderSetup {
        datasets: vec![open_layout(DatasetKind::Custom, &s.dataset_root).unwrap()],
        ratios: vec![1.0],
        params: ProcessingParams::from_config(&cfg, split),
        max_sample_interval: 200,
        batch_size: 2,
        samples_per_epoch: 2,
        heatmap_stride: 16,
    };
    let val = TrainPairLoader::new(setup(Split::Val), LoaderOptions::default()).unwrap();
    let (pair, _) = val.sample(0, 0).unwrap();
    // Normalised values of 8-bit pixels without jitter: (k/255 - mean)/std for integer k.
    let plane = 64 * 64;
    for (c, chunk) in pair.template.image.chunks_exact(plane).enumerate() {
        for &v in chunk.iter().step_by(97) {
            let k = (v * [0.229f32, 0.224, 0.225][c] + [0.485f32, 0.456, 0.406][c]) * 255.0;
            assert!((k - k.round()).abs() < 1e-3, "{k}");
        }
    }
}

#[test]
fn config_doctor_checks_every_named_dataset() {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(SynthFormat::Got10k, dir.path(), &small()).unwrap();
    let mut cfg = small_config(&["GOT10K_vottrain", "COCO17"], &[1.0, 1.0]);
    cfg.data.val.datasets_name = vec!["GOT10K_official_val".into()];
    cfg.data.val.datasets_ratio = vec![1.0];
    let report = check_config(&cfg, &roots(dir.path()), DoctorOptions::default());
    let text = report.to_string();
    assert_eq!(report.datasets.len(), 3, "{text}");
    // COCO is not there: one error naming the annotation file; the GOT-10k sets are fine.
    assert_eq!(report.errors(), 1, "{text}");
    assert!(text.contains("instances_train2017.json"), "{text}");
}

fn first_seq(root: &Path) -> PathBuf {
    root.join("GOT-10k_Train_000001")
}

#[test]
fn broken_files_are_named_and_counted_never_looped() {
    let dir = tempfile::tempdir().unwrap();
    let s = synth::generate(SynthFormat::Got10k, dir.path(), &small()).unwrap();
    let root = s.dataset_root.clone();
    // Sequence 1: a ground-truth line with 3 numbers. Sequence 2: a short label file.
    let gt = first_seq(&root).join("groundtruth.txt");
    let text = std::fs::read_to_string(&gt).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[4] = "1,2,3".into();
    std::fs::write(&gt, lines.join("\n") + "\n").unwrap();
    let cover = root.join("GOT-10k_Train_000002").join("cover.label");
    let text = std::fs::read_to_string(&cover).unwrap();
    std::fs::write(
        &cover,
        text.lines().take(10).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    // Sequence 3: a missing frame and a truncated frame.
    let seq3 = root.join("GOT-10k_Train_000003");
    std::fs::remove_file(seq3.join("00000007.jpg")).unwrap();
    let f9 = seq3.join("00000009.jpg");
    let bytes = std::fs::read(&f9).unwrap();
    std::fs::write(&f9, &bytes[..bytes.len() / 3]).unwrap();

    let report = check_dataset(DatasetKind::Got10k, &root, DoctorOptions { deep: true });
    let text = report.to_string();
    assert!(report.has_errors());
    assert!(
        text.contains("GOT-10k_Train_000001/groundtruth.txt:5: expected 4 numbers"),
        "{text}"
    );
    assert!(
        text.contains("cover.label: 10 entries but groundtruth.txt has 24 boxes"),
        "{text}"
    );
    assert!(
        text.contains("00000007.jpg: missing frame (ground-truth line 7)"),
        "{text}"
    );
    assert!(text.contains("00000009.jpg: truncated JPEG"), "{text}");

    // The loader excludes the two broken sequences and skips draws of the broken frames.
    let cfg = small_config(&["CUSTOM"], &[1.0]);
    let setup = LoaderSetup {
        datasets: vec![open_layout(DatasetKind::Got10k, &root).unwrap()],
        ratios: vec![1.0],
        params: ProcessingParams::from_config(&cfg, Split::Train),
        max_sample_interval: 200,
        batch_size: 8,
        samples_per_epoch: 64,
        heatmap_stride: 16,
    };
    let loader = TrainPairLoader::new(
        setup,
        LoaderOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(loader.excluded().len(), 2, "{}", loader.describe());
    assert!(
        loader.describe().contains("groundtruth.txt:5"),
        "{}",
        loader.describe()
    );
    let mut epoch = loader.epoch(0);
    assert_eq!(
        epoch.by_ref().map(|b| b.unwrap().batch_size).sum::<usize>(),
        64
    );
    let skips = epoch.skip_report();
    assert_eq!(skips.samples, 64);
    assert!(skips.errors_total() > 0, "{skips}");
    let listed = skips.to_string();
    assert!(
        listed.contains("00000007.jpg") || listed.contains("00000009.jpg"),
        "{listed}"
    );
}

#[test]
fn unusable_data_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let s = synth::generate(
        SynthFormat::Custom,
        dir.path(),
        &SynthOptions {
            sequences: 1,
            ..small()
        },
    )
    .unwrap();
    // Every frame file is replaced by garbage: each draw fails, the sample gives up.
    let seq = s.dataset_root.join("sequence_001");
    for e in std::fs::read_dir(&seq).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jpg") {
            std::fs::write(&p, b"\xFF\xD8 not really a jpeg").unwrap();
        }
    }
    let cfg = small_config(&["CUSTOM"], &[1.0]);
    let setup = LoaderSetup {
        datasets: vec![open_layout(DatasetKind::Custom, &s.dataset_root).unwrap()],
        ratios: vec![1.0],
        params: ProcessingParams::from_config(&cfg, Split::Train),
        max_sample_interval: 200,
        batch_size: 2,
        samples_per_epoch: 4,
        heatmap_stride: 16,
    };
    let loader = TrainPairLoader::new(
        setup,
        LoaderOptions {
            max_consecutive_failures: 20,
            ..Default::default()
        },
    )
    .unwrap();
    let mut epoch = loader.epoch(0);
    let err = epoch.next().unwrap().unwrap_err().to_string();
    assert!(
        err.contains("20 consecutive draws failed") && err.contains("sequence_001"),
        "{err}"
    );
    assert!(epoch.next().is_none());
}

#[test]
fn setup_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(SynthFormat::Got10k, dir.path(), &small()).unwrap();
    let r = roots(dir.path());
    let err = |cfg: &ExperimentConfig| {
        TrainPairLoader::from_config(cfg, &r, Split::Train, LoaderOptions::default())
            .err()
            .expect("an error")
            .to_string()
    };
    let e = err(&small_config(&["GOT10K_train_full", "LASOT"], &[1.0]));
    assert!(
        e.contains("DATASETS_NAME has 2 entries") && e.contains("DATASETS_RATIO has 1"),
        "{e}"
    );
    let e = err(&small_config(&["GOT10K_trainfull"], &[1.0]));
    assert!(e.contains("unknown dataset name `GOT10K_trainfull`"), "{e}");
    std::fs::remove_file(dir.path().join("data_specs/got10k_vot_train_split.txt")).unwrap();
    let e = err(&small_config(&["GOT10K_vottrain"], &[1.0]));
    assert!(
        e.contains("got10k_vot_train_split.txt") && e.contains("split file not found"),
        "{e}"
    );
    let e = err(&small_config(&["LASOT"], &[1.0]));
    assert!(e.contains("lasot") && e.contains("does not exist"), "{e}");
    // Pointing at the GOT-10k folder instead of its train folder gets a hint.
    let e = check_dataset(
        DatasetKind::Got10k,
        &dir.path().join("got10k"),
        DoctorOptions::default(),
    )
    .to_string();
    assert!(
        e.contains("did you mean") && e.contains("got10k/train"),
        "{e}"
    );
}

#[test]
fn missing_list_txt_is_generated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = synth::generate(SynthFormat::Got10k, dir.path(), &small()).unwrap();
    std::fs::remove_file(s.dataset_root.join("list.txt")).unwrap();
    let ds = open_layout(DatasetKind::Got10k, &s.dataset_root).unwrap();
    assert_eq!(ds.num_sequences(), 3);
    assert_eq!(ds.sequence_name(0), "GOT-10k_Train_000001");
    assert!(
        ds.notes()[0].contains("list.txt is missing"),
        "{:?}",
        ds.notes()
    );
}

#[test]
fn coco_annotations_become_one_frame_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let coco = dir.path().join("coco");
    std::fs::create_dir_all(coco.join("annotations")).unwrap();
    std::fs::create_dir_all(coco.join("images/train2017")).unwrap();
    for (i, name) in ["a.jpg", "b.jpg"].iter().enumerate() {
        let mut img = ostrack_data::RgbImage::new(120, 90);
        for (k, p) in img.data.chunks_exact_mut(3).enumerate() {
            p.copy_from_slice(&[(k % 120) as u8 * 2, (k / 120) as u8 * 2, 60 * i as u8]);
        }
        std::fs::write(
            coco.join("images/train2017").join(name),
            ostrack_data::decode::encode_jpeg(&img, 90).unwrap(),
        )
        .unwrap();
    }
    let json = r#"{"images": [{"id": 1, "file_name": "a.jpg", "width": 120, "height": 90},
                                {"id": 2, "file_name": "b.jpg", "width": 120, "height": 90}],
        "annotations": [
          {"id": 10, "image_id": 1, "bbox": [30, 20, 40, 30], "iscrowd": 0, "category_id": 1, "segmentation": [[1,2,3,4]], "area": 1},
          {"id": 11, "image_id": 2, "bbox": [10, 10, 20, 20], "iscrowd": 1, "category_id": 1, "segmentation": {"counts": [1], "size": [90, 120]}},
          {"id": 12, "image_id": 2, "bbox": [50, 30, 30, 40], "iscrowd": 0, "category_id": 1, "segmentation": []}],
        "categories": [{"id": 1, "name": "thing", "supercategory": "x"}]}"#;
    std::fs::write(coco.join("annotations/instances_train2017.json"), json).unwrap();
    let report = check_dataset(DatasetKind::Coco, &coco, DoctorOptions { deep: true });
    assert!(!report.has_errors(), "{report}");
    assert_eq!(
        (
            report.datasets[0].sequences,
            report.datasets[0].decoded_frames
        ),
        (2, 2),
        "{report}"
    );
    let cfg = small_config(&["COCO17"], &[1.0]);
    let loader = TrainPairLoader::from_config(
        &cfg,
        &roots(dir.path()),
        Split::Train,
        LoaderOptions::default(),
    )
    .unwrap();
    let batches = load_all(&loader, 0);
    assert_eq!(batches.iter().map(|b| b.batch_size).sum::<usize>(), 8);
    // A bad bbox is an error naming the file and the annotation.
    std::fs::write(
        coco.join("annotations/instances_train2017.json"),
        json.replace("[50, 30, 30, 40]", "[50, 30, 30]"),
    )
    .unwrap();
    let e = check_dataset(DatasetKind::Coco, &coco, DoctorOptions::default()).to_string();
    assert!(
        e.contains("instances_train2017.json: annotation id 12: bbox has 3 numbers"),
        "{e}"
    );
}
