//! Metric parity with the official toolkits on `metrics/` of the fixture set (README §H):
//! every number of `expected.json` within 1e-6, for every tracker whose results are present.
//! Sequences and trackers are discovered from the files.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{assert_close, fixtures_dir, sub_dirs};
use ostrack_eval::{
    AnalysisReport, AnalyzeRequest, CurveKind, DatasetId, Preset, TrackerRuns, analyze,
};
use serde_json::Value;

const TOL: f64 = 1e-6;

fn expected() -> Option<(PathBuf, Value)> {
    let dir = fixtures_dir().join("metrics");
    let path = dir.join("expected.json");
    if !path.is_file() {
        eprintln!(
            "{} absent: this fixture set has no metric references",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    Some((dir, serde_json::from_str(&text).unwrap()))
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

fn nums(v: &Value, what: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: not an array"))
        .iter()
        .map(|x| num(x, what))
        .collect()
}

fn assert_curve(what: &str, actual: &[f64], expected: &[f64], scale: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_close(&format!("{what}[{i}]"), a / scale, *e, TOL);
    }
}

/// Tracker result directories two levels below `results` (`results/<group>/<tracker>`).
fn trackers_under(results: &Path) -> Vec<TrackerRuns> {
    sub_dirs(results)
        .iter()
        .flat_map(|group| sub_dirs(group))
        .map(TrackerRuns::from_dir)
        .collect()
}

fn run(dataset: DatasetId, root: PathBuf, results: &Path, preset: Preset) -> AnalysisReport {
    let trackers = trackers_under(results);
    assert!(
        !trackers.is_empty(),
        "no trackers under {}",
        results.display()
    );
    analyze(&AnalyzeRequest {
        dataset,
        data_root: root,
        trackers,
        preset: Some(preset),
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn tracker_names(report: &AnalysisReport) -> BTreeSet<String> {
    report.trackers.iter().map(|t| t.name.clone()).collect()
}

fn object_keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn got10k_toolkit_parity() {
    let Some((dir, exp)) = expected() else { return };
    let Some(section) = exp.get("got10k") else {
        return;
    };
    let performance = &section["performance"];
    let report = run(
        DatasetId::Got10kVal,
        dir.join("got10k/val"),
        &dir.join("got10k/results"),
        Preset::Got10k,
    );
    assert_eq!(
        tracker_names(&report),
        object_keys(performance),
        "trackers present vs expected"
    );
    for t in &report.trackers {
        let e = &performance[&t.name]["overall"];
        let w = |k: &str| format!("{}/overall/{k}", t.name);
        let score = |name: &str| t.score(name).unwrap();
        for key in ["ao", "ao_recomputed"] {
            assert_close(&w(key), score("AO"), num(&e[key], key), TOL);
        }
        for key in ["sr", "sr50_recomputed"] {
            assert_close(&w(key), score("SR0.50"), num(&e[key], key), TOL);
        }
        for key in ["sr75", "succ_curve_at_0.75"] {
            assert_close(&w(key), score("SR0.75"), num(&e[key], key), TOL);
        }
        assert_close(
            &w("speed_fps"),
            t.speed_fps.unwrap_or(-1.0),
            num(&e["speed_fps"], "speed"),
            TOL,
        );
        assert_eq!(
            t.frames as f64,
            num(&e["n_ious"], "n_ious"),
            "{}",
            w("n_ious")
        );
        let curve = t.curve(CurveKind::Success).unwrap();
        assert_curve(
            &w("succ_curve"),
            &curve.values,
            &nums(&e["succ_curve"], "succ_curve"),
            1.0,
        );

        let seq_wise = &performance[&t.name]["seq_wise"];
        assert_eq!(
            t.sequences
                .iter()
                .map(|s| s.name.clone())
                .collect::<BTreeSet<_>>(),
            object_keys(seq_wise),
            "{}: sequences",
            t.name
        );
        for s in &t.sequences {
            let e = &seq_wise[&s.name];
            let w = |k: &str| format!("{}/{}/{k}", t.name, s.name);
            let score = |name: &str| s.scores.iter().find(|x| x.name == name).unwrap().value;
            assert_close(&w("ao"), score("AO"), num(&e["ao"], "ao"), TOL);
            assert_close(&w("sr"), score("SR0.50"), num(&e["sr"], "sr"), TOL);
            assert_close(
                &w("speed_fps"),
                s.speed_fps.unwrap_or(-1.0),
                num(&e["speed_fps"], "speed"),
                TOL,
            );
            assert_eq!(
                s.frames as f64,
                num(&e["length"], "length"),
                "{}",
                w("length")
            );
        }
    }
}

#[test]
fn pytracking_lasot_parity() {
    let Some((dir, exp)) = expected() else { return };
    let Some(section) = exp.get("lasot") else {
        return;
    };
    let report = run(
        DatasetId::Lasot,
        dir.join("lasot/data"),
        &dir.join("lasot/results"),
        Preset::Pytracking,
    );
    let scores = &section["scores"];
    assert_eq!(
        tracker_names(&report),
        object_keys(scores),
        "trackers present vs expected"
    );
    for t in &report.trackers {
        let e = &scores[&t.name];
        let w = |k: &str| format!("{}/{k}", t.name);
        for (ours, theirs) in [
            ("AUC", "AUC"),
            ("OP50", "OP50"),
            ("OP75", "OP75"),
            ("Precision", "Precision"),
            ("NormPrecision", "NormPrecision"),
        ] {
            let value = t
                .score(ours)
                .unwrap_or_else(|| panic!("{} missing", w(ours)));
            assert_close(&w(theirs), value, num(&e[theirs], theirs), TOL);
        }
        for (kind, key) in [
            (CurveKind::Success, "auc_curve"),
            (CurveKind::Precision, "prec_curve"),
            (CurveKind::NormPrecision, "norm_prec_curve"),
        ] {
            let c = t.curve(kind).unwrap();
            assert_curve(&w(key), &c.values, &nums(&e[key], key), 1.0);
        }
        let per_seq = &e["avg_overlap_per_seq"];
        assert_eq!(
            t.sequences
                .iter()
                .map(|s| s.name.clone())
                .collect::<BTreeSet<_>>(),
            object_keys(per_seq),
            "{}: sequences",
            t.name
        );
        for s in &t.sequences {
            let v = s
                .scores
                .iter()
                .find(|x| x.name == "AvgOverlap")
                .unwrap()
                .value;
            assert_close(
                &w(&format!("avg_overlap/{}", s.name)),
                v / 100.0,
                num(&per_seq[&s.name], "avg"),
                TOL,
            );
        }
    }

    // The raw per-sequence data of `extract_results` ([sequence][tracker][bin], fractions).
    let raw = &section["eval_data_raw"];
    let seq_names: Vec<String> = raw["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(report.sequences.len(), seq_names.len(), "sequence count");
    let valid = nums(&raw["valid_sequence"], "valid_sequence");
    assert!(valid.iter().all(|v| *v == 1.0), "every sequence is scored");
    let thresholds = nums(&section["threshold_set_overlap"], "thresholds");
    for t in &report.trackers {
        assert_eq!(
            t.curve(CurveKind::Success).unwrap().thresholds,
            thresholds,
            "overlap thresholds"
        );
    }
    // The order of trackers inside the raw arrays is the order of `scores` keys in the oracle run.
    let oracle_order: Vec<String> = {
        let per_seq_overlap = &raw["avg_overlap_all"];
        let n = per_seq_overlap[0].as_array().unwrap().len();
        assert_eq!(n, report.trackers.len(), "trackers in raw data");
        let mut names: Vec<String> = object_keys(scores).into_iter().collect();
        names.sort();
        names
    };
    for (s_idx, seq) in seq_names.iter().enumerate() {
        for (t_idx, name) in oracle_order.iter().enumerate() {
            let t = report.trackers.iter().find(|t| &t.name == name).unwrap();
            let s = t.sequences.iter().find(|s| &s.name == seq).unwrap();
            for (kind, key) in [
                (CurveKind::Success, "ave_success_rate_plot_overlap"),
                (CurveKind::Precision, "ave_success_rate_plot_center"),
                (
                    CurveKind::NormPrecision,
                    "ave_success_rate_plot_center_norm",
                ),
            ] {
                let expected = nums(&raw[key][s_idx][t_idx], key);
                let c = s.curves.iter().find(|c| c.kind == kind).unwrap();
                assert_curve(&format!("{name}/{seq}/{key}"), &c.values, &expected, 100.0);
            }
            let avg = s
                .scores
                .iter()
                .find(|x| x.name == "AvgOverlap")
                .unwrap()
                .value
                / 100.0;
            assert_close(
                &format!("{name}/{seq}/avg_overlap_all"),
                avg,
                num(&raw["avg_overlap_all"][s_idx][t_idx], "avg_overlap_all"),
                TOL,
            );
        }
    }
}
