//! Submission archives (read back with the zip crate) and plots (PNG + SVG with text).

mod common;

use std::io::Read;
use std::path::Path;

use common::{fixtures_dir, sub_dirs, write};
use ostrack_eval::{
    AnalyzeRequest, DatasetId, Preset, TrackerRuns, analyze, pack_got10k, pack_trackingnet,
    render_plots, write_sequence_result,
};

fn zip_entries(path: &Path) -> Vec<(String, String)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut text = String::new();
        if !f.is_dir() {
            f.read_to_string(&mut text).unwrap();
        }
        let name = f.name().unwrap().to_string();
        out.push((name, text));
    }
    out
}

#[test]
fn got10k_pack_from_ostrack_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("ostrack/vitb_256");
    let boxes = [[10.7, 20.2, 30.0, 40.9], [11.0, 21.0, 31.0, 41.0]];
    for seq in ["GOT-10k_Test_000010", "GOT-10k_Test_000002"] {
        write_sequence_result(&cfg, DatasetId::Got10kTest, seq, &boxes, &[0.01, 0.02]).unwrap();
    }
    write(&cfg, "got10k/GOT-10k_Test_000002_all_boxes.txt", "junk\n");
    let out = tmp.path().join("submit.zip");
    let summary = pack_got10k(&cfg, &out, None).unwrap();
    assert_eq!(
        summary.sequences,
        ["GOT-10k_Test_000002", "GOT-10k_Test_000010"]
    );
    assert_eq!(summary.files, 4);
    let entries = zip_entries(&out);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "GOT-10k_Test_000002/",
            "GOT-10k_Test_000010/",
            "GOT-10k_Test_000002/GOT-10k_Test_000002_001.txt",
            "GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt",
            "GOT-10k_Test_000010/GOT-10k_Test_000010_001.txt",
            "GOT-10k_Test_000010/GOT-10k_Test_000010_time.txt",
        ]
    );
    assert_eq!(entries[2].1, "10,20,30,40\n11,21,31,41\n");
    assert_eq!(entries[3].1, "0.010000\n0.020000\n");

    // With the benchmark listing: frame counts and the sequence set are checked.
    let root = tmp.path().join("got10k_test");
    write(
        &root,
        "list.txt",
        "GOT-10k_Test_000002\nGOT-10k_Test_000010\nGOT-10k_Test_000011\n",
    );
    for seq in [
        "GOT-10k_Test_000002",
        "GOT-10k_Test_000010",
        "GOT-10k_Test_000011",
    ] {
        write(&root, &format!("{seq}/groundtruth.txt"), "1,2,3,4\n");
        for f in ["00000001.jpg", "00000002.jpg"] {
            write(&root, &format!("{seq}/{f}"), "");
        }
    }
    let listing = ostrack_eval::list_sequences(DatasetId::Got10kTest, &root).unwrap();
    let e = pack_got10k(&cfg, &out, Some(&listing))
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 missing (GOT-10k_Test_000011)"), "{e}");
    assert!(pack_got10k(&cfg, &out, Some(&listing[..2])).is_ok());
    let bad = write(&cfg, "got10k/GOT-10k_Test_000010.txt", "1\t2\t3\t4\n");
    let e = pack_got10k(&cfg, &out, Some(&listing[..2]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{}: 1 boxes, but the sequence has 2 frames", bad.display())
    );
}

#[test]
fn got10k_pack_from_toolkit_layout_keeps_repetitions() {
    let results = fixtures_dir().join("metrics/got10k/results");
    if !results.is_dir() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for tracker in sub_dirs(&results).iter().flat_map(|g| sub_dirs(g)) {
        let out = tmp.path().join("t.zip");
        let summary = pack_got10k(&tracker, &out, None).unwrap();
        let on_disk: usize = sub_dirs(&tracker)
            .iter()
            .map(|s| std::fs::read_dir(s).unwrap().count())
            .sum();
        assert_eq!(summary.files, on_disk, "{}", tracker.display());
        for (name, text) in zip_entries(&out) {
            if name.ends_with("_001.txt") {
                assert!(text.lines().all(|l| l.split(',').count() == 4), "{name}");
            }
        }
    }
}

#[test]
fn trackingnet_pack() {
    let tmp = tempfile::tempdir().unwrap();
    write_sequence_result(
        tmp.path(),
        DatasetId::TrackingNet,
        "abc_1",
        &[[1.0, 2.0, 3.0, 4.0]],
        &[0.1],
    )
    .unwrap();
    let out = tmp.path().join("out/tn.zip");
    let summary = pack_trackingnet(tmp.path(), &out, None).unwrap();
    assert_eq!(summary.sequences, ["abc_1"]);
    assert_eq!(
        zip_entries(&out),
        [("abc_1.txt".to_string(), "1,2,3,4\n".to_string())]
    );
    let bad = write(tmp.path(), "trackingnet/abc_2.txt", "1\t2\t3\n");
    let e = pack_trackingnet(tmp.path(), &out, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:1: expected 4 values (x, y, w, h), found 3",
            bad.display()
        )
    );
}

fn is_png_with_content(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000
}

#[test]
fn plots_of_the_lasot_fixture() {
    let dir = fixtures_dir().join("metrics/lasot");
    if !dir.is_dir() {
        return;
    }
    let trackers = sub_dirs(&dir.join("results"))
        .iter()
        .flat_map(|g| sub_dirs(g))
        .map(TrackerRuns::from_dir)
        .collect();
    let report = analyze(&AnalyzeRequest {
        dataset: DatasetId::Lasot,
        data_root: dir.join("data"),
        trackers,
        preset: Some(Preset::Pytracking),
    })
    .unwrap();
    // Kept under the target dir so a person can look at them.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ostrack-eval-plots");
    let files = render_plots(&report, &out).unwrap();
    assert_eq!(files.len(), 6);
    for f in &files {
        if f.extension().unwrap() == "png" {
            assert!(is_png_with_content(f), "{}", f.display());
        } else {
            let svg = std::fs::read_to_string(f).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
        }
    }
    let svg = std::fs::read_to_string(out.join("success_plot.svg")).unwrap();
    let best = &report
        .trackers
        .iter()
        .max_by(|a, b| a.score("AUC").partial_cmp(&b.score("AUC")).unwrap())
        .unwrap();
    assert!(
        svg.contains(&format!(
            "{} [{:.1}]",
            best.name,
            best.score("AUC").unwrap()
        )),
        "legend text"
    );
    assert!(svg.contains("Overlap threshold"));
}
