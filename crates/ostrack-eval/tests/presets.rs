//! The presets without reference fixtures, on hand-computed miniature cases, and the protocol
//! errors of the ones with fixtures.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_close, write};
use ostrack_eval::{
    AnalysisReport, AnalyzeRequest, CurveKind, DatasetId, Preset, TrackerRuns, analyze,
    format_sequence_tables, format_table, report_json,
};

const EXACT: f64 = 1e-12;

fn analyze_custom(
    root: &Path,
    results: &[PathBuf],
    preset: Preset,
) -> ostrack_eval::Result<AnalysisReport> {
    analyze(&AnalyzeRequest {
        dataset: DatasetId::Custom,
        data_root: root.to_path_buf(),
        trackers: results.iter().map(TrackerRuns::from_dir).collect(),
        preset: Some(preset),
    })
}

/// Three frames of a 10×10 target; the tracker is perfect, then 5 px off in x (IoU 1/3).
fn shifted_case(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    write(
        &data,
        "s/groundtruth.txt",
        "1,1,10,10\n1,1,10,10\n1,1,10,10\n",
    );
    let results = dir.join("trk");
    write(
        &results,
        "s.txt",
        "50\t50\t3\t3\n1\t1\t10\t10\n6\t1\t10\t10\n",
    );
    write(&results, "s_time.txt", "0.5\n0.1\n0.025\n");
    (data, results)
}

fn score(r: &AnalysisReport, name: &str) -> f64 {
    r.trackers[0]
        .score(name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn otb_preset_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, results) = shifted_case(tmp.path());
    let r = analyze_custom(&data, &[results], Preset::Otb).unwrap();
    // IoUs 1, 1, 1/3 over linspace(0, 1, 21): 7 thresholds below 1/3 → 1, 13 → 2/3, 1.0 → 0.
    assert_close(
        "Success",
        score(&r, "Success"),
        (7.0 + 13.0 * 2.0 / 3.0) / 21.0,
        EXACT,
    );
    assert_close("Precision", score(&r, "Precision"), 1.0, EXACT);
    assert_close("SR0.50", score(&r, "SR0.50"), 2.0 / 3.0, EXACT);
    // mean(1 / t) over 0.5, 0.1, 0.025 = (2 + 10 + 40) / 3.
    assert_close("speed", r.trackers[0].speed_fps.unwrap(), 52.0 / 3.0, 1e-9);
}

#[test]
fn trackingnet_preset_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, results) = shifted_case(tmp.path());
    // A second sequence without any result: zero boxes, only the init frame is covered.
    write(&data, "t/groundtruth.txt", "1,1,10,10\n1,1,10,10\n");
    let r = analyze_custom(&data, &[results], Preset::TrackingNet).unwrap();
    let s = &r.trackers[0].sequences;
    // Sequence s: success (IoU >= t) 7 × 1 then 14 × 2/3 → trapezoid area 0.775.
    assert_close("s Success", s[0].scores[0].value, 77.5, 1e-9);
    // Centre distances 0, 0, 5 over linspace(0, 50, 21): 2/3, 2/3, then 1 → area 0.975.
    assert_close("s Precision", s[0].scores[1].value, 97.5, 1e-9);
    // Normalised distance 0.5 hits only the last threshold: 20 × 2/3, 1 → area 0.675.
    assert_close("s NormPrecision", s[0].scores[2].value, 67.5, 1e-9);
    assert_close("s Coverage", s[0].scores[3].value, 100.0, EXACT);
    // Sequence t: frame 0 (= gt) succeeds everywhere, frame 1 (zeros, IoU 0) only at `0 >= 0`:
    // 1 then 20 × 0.5 → area 0.0375 + 0.475.
    assert_close("t Success", s[1].scores[0].value, 51.25, 1e-9);
    assert_close("t Coverage", s[1].scores[3].value, 50.0, EXACT);
    assert_close("Success", score(&r, "Success"), (77.5 + 51.25) / 2.0, 1e-9);
    assert_close("Coverage", score(&r, "Coverage"), 100.0 * 4.0 / 5.0, 1e-9);
}

#[test]
fn lasot_official_preset_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Frame 2 is absent; frame 3's NaN result is repaired with frame 2's (shifted) box.
    write(&data, "a/groundtruth.txt", &"1,1,10,10\n".repeat(4));
    write(&data, "a/absence.label", "0\n0\n1\n0\n");
    // A ground truth touching x = 0: overlap −1 (dropped from the success average: all-zero
    // curve), centre error −1 (a hit at every precision threshold).
    write(&data, "b/groundtruth.txt", "0,5,10,10\n0,5,10,10\n");
    let results = tmp.path().join("trk");
    write(
        &results,
        "a.txt",
        "7,7,7,7\n1,1,10,10\n6,1,10,10\nnan,nan,nan,nan\n",
    );
    write(&results, "b.txt", "0,5,10,10\n0,5,10,10\n");
    let r = analyze_custom(&data, &[results], Preset::LasotOfficial).unwrap();
    // Kept frames of a: IoU 1, 1, 1/3 over 4 frames.
    assert_close(
        "AUC",
        score(&r, "AUC"),
        (7.0 * 0.75 + 13.0 * 0.5) / 21.0,
        1e-12,
    );
    assert_close("SR0.50", score(&r, "SR0.50"), 0.5, 1e-12);
    assert_close(
        "Precision",
        score(&r, "Precision"),
        (0.75 + 1.0) / 2.0,
        1e-12,
    );
    assert_close(
        "NormPrecision",
        score(&r, "NormPrecision"),
        (0.5 + 1.0) / 2.0,
        1e-12,
    );
}

#[test]
fn pytracking_pads_short_results_except_on_lasot() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write(
        &data,
        "s/groundtruth.txt",
        "1,1,10,10\n1,1,10,10\n1,1,10,10\n1,1,10,10\n",
    );
    let results = tmp.path().join("trk");
    write(&results, "s.txt", "1\t1\t10\t10\n1\t1\t0\t0\n");
    let r = analyze_custom(&data, std::slice::from_ref(&results), Preset::Pytracking).unwrap();
    // Frame 1 (zero size) takes frame 0's box; frames 2, 3 are zero padding: IoU 1, 1, 0, 0.
    let t = &r.trackers[0];
    assert_close("OP50", t.score("OP50").unwrap(), 50.0, 1e-5);
    assert_close(
        "AvgOverlap",
        t.sequences[0]
            .scores
            .iter()
            .find(|s| s.name == "AvgOverlap")
            .unwrap()
            .value,
        50.0,
        1e-9,
    );
    assert_eq!(t.curve(CurveKind::Success).unwrap().values.len(), 21);

    let lasot = tmp.path().join("lasot");
    write(
        &lasot,
        "cat/cat-1/groundtruth.txt",
        "1,1,10,10\n1,1,10,10\n1,1,10,10\n",
    );
    write(&lasot, "cat/cat-1/full_occlusion.txt", "0,0,0");
    write(&lasot, "cat/cat-1/out_of_view.txt", "0,0,0");
    let short = tmp.path().join("short");
    let file = write(&short, "cat-1.txt", "1\t1\t10\t10\n");
    let e = analyze(&AnalyzeRequest {
        dataset: DatasetId::Lasot,
        data_root: lasot,
        trackers: vec![TrackerRuns::from_dir(&short)],
        preset: None,
    })
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        format!(
            "{}: 1 boxes, but the ground truth has 3 frames (LaSOT requires a box per frame)",
            file.display()
        )
    );

    let neg = write(&results, "s.txt", "1\t1\t10\t10\n1\t1\t-4\t10\n");
    let e = analyze_custom(&data, &[results], Preset::Pytracking)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:2: invalid result: NaN or negative width/height",
            neg.display()
        )
    );
}

#[test]
fn got10k_requires_one_box_per_frame_and_reports_render() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, results) = shifted_case(tmp.path());
    let r = analyze_custom(&data, std::slice::from_ref(&results), Preset::Got10k).unwrap();
    // Frames 1, 2 (frame 0 excluded): IoU 1 and 50 / 150 (x + w corners).
    assert_close("AO", score(&r, "AO"), (1.0 + 1.0 / 3.0) / 2.0, 1e-9);
    let table = format_table(&r);
    assert!(
        table.contains("AO") && table.contains("trk") && table.contains("0.667"),
        "{table}"
    );
    let per_seq = format_sequence_tables(&r);
    println!("{table}\n{per_seq}");
    assert!(
        per_seq
            .lines()
            .any(|l| l.starts_with("s ") && l.contains("| 2 ")),
        "{per_seq}"
    );
    let json: serde_json::Value = serde_json::from_str(&report_json(&r).unwrap()).unwrap();
    assert_eq!(json["preset"], "got10k");
    assert_eq!(json["unit"], "fraction");
    assert_eq!(json["trackers"][0]["scores"][0]["name"], "AO");

    let file = write(&results, "s.txt", "1\t1\t10\t10\n1\t1\t10\t10\n");
    let e = analyze_custom(&data, &[results], Preset::Got10k)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}: 2 boxes, but the ground truth",
            file.display()
        )),
        "{e}"
    );
    assert!(e.contains("has 3 frames"), "{e}");
}

#[test]
fn withheld_ground_truth_and_missing_trackers_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let e = analyze(&AnalyzeRequest {
        dataset: DatasetId::Got10kTest,
        data_root: tmp.path().to_path_buf(),
        trackers: vec![TrackerRuns::from_dir(tmp.path())],
        preset: None,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("withheld"), "{e}");
    let (data, _) = shifted_case(tmp.path());
    let e = analyze_custom(&data, &[], Preset::Otb)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no tracker results"), "{e}");
    let e = analyze_custom(&data, &[tmp.path().join("nope")], Preset::Otb)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope") && e.contains("result directory not found"),
        "{e}"
    );
}
