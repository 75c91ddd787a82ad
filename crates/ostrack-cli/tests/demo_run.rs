//! The demo's pipeline (`ostrack train` without arguments) on a tiny config: training, then
//! `ostrack test` of the untrained and the trained weights on the held-out `val` sequences and
//! the GOT-10k scores of both; run twice, the second run (nothing left to train) tracks again
//! instead of reusing the first run's result files.

mod common;

use burn::prelude::Device;
use common::tiny_config;
use ostrack_cli::demo::run_demo;
use ostrack_testkit::tiny_got10k;
use ostrack_train::{ConfigSource, TrainOptions};

#[test]
fn demo_trains_then_tracks_and_scores_the_held_out_sequences() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let opts = TrainOptions {
        data_settings: Some(tiny_got10k(&tmp.path().join("synth"), 3)),
        max_epochs: Some(1),
        checkpoint_every: Some(1),
        loader_threads: 2,
        echo: false,
        ..TrainOptions::new(ConfigSource::File(tiny_config(tmp.path())), &out)
    };
    let mut trained_ao = Vec::new();
    for run in 1..=2 {
        let demo = run_demo(&opts, &[Device::flex()]).unwrap();
        let report = demo.held_out.expect("not interrupted");
        trained_ao.push(report.trackers[1].score("AO"));
        let names: Vec<&str> = report.trackers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["untrained", "trained"], "run {run}");
        for tracker in &report.trackers {
            let ao = tracker.score("AO").expect("GOT-10k reports AO");
            assert!(
                (0.0..=1.0).contains(&ao),
                "run {run}: {} AO {ao}",
                tracker.name
            );
            // 2 sequences of 20 frames; the first frame of each is the initialisation.
            assert_eq!(
                tracker.frames, 38,
                "run {run}: {} scored frames",
                tracker.name
            );
        }
        let results = out.join("held_out/trained/ostrack/demo-tiny/got10k");
        let boxes = std::fs::read_dir(&results)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.ends_with(".txt") && !name.ends_with("_time.txt")
            })
            .count();
        assert_eq!(boxes, 2, "run {run}: one box file per held-out sequence");
        assert!(out.join("held_out/report.json").is_file());
        assert!(out.join("untrained.safetensors").is_file());
        // Spoil the first run's result files: reusing them would change the second run's AO.
        for entry in std::fs::read_dir(&results).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with("_time.txt") {
                std::fs::write(&path, "0\t0\t1\t1\n".repeat(20)).unwrap();
            }
        }
    }
    assert_eq!(
        trained_ao[0], trained_ao[1],
        "the second run (same checkpoint) must track again and score the same"
    );
}
