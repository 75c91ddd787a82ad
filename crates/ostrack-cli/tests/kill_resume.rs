//! `kill -9` during `ostrack train`, then `ostrack train --resume`: the run continues from the last
//! complete checkpoint and its per-step losses equal those of an uninterrupted run with the same
//! seed (the demo config shrunk to a few steps per epoch).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::tiny_config;
use ostrack_testkit::tiny_got10k;

fn train(config: &Path, settings: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ostrack"));
    cmd.arg("train")
        .arg("--config")
        .arg(config)
        .arg("--data-settings")
        .arg(settings)
        .arg("--output")
        .arg(out)
        .args([
            "--seed",
            "7",
            "--loader-threads",
            "2",
            "--checkpoint-every",
            "1",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// (epoch, step) → total loss from `steps.jsonl`; a step logged twice (before a kill and again
/// after the resume) keeps its last value.
fn step_losses(out: &Path) -> BTreeMap<(u64, u64), f64> {
    let text = std::fs::read_to_string(out.join("steps.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let n = |k: &str| v[k].as_u64().unwrap();
            ((n("epoch"), n("step")), v["loss_total"].as_f64().unwrap())
        })
        .collect()
}

fn wait_for_epoch(child: &mut Child, out: &Path, epoch: u64) {
    let start = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before epoch {epoch} started; nothing to interrupt"
        );
        if step_losses(out).keys().any(|&(e, _)| e >= epoch) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_9_then_resume_gives_the_same_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = tiny_got10k(&tmp.path().join("synth"), 11);
    let config = tiny_config(tmp.path());

    let full_out = tmp.path().join("full");
    let status = train(&config, &settings, &full_out, &["--no-resume"])
        .status()
        .unwrap();
    assert!(status.success(), "uninterrupted run failed");
    let reference = step_losses(&full_out);
    assert_eq!(reference.len(), 24, "4 epochs of 6 steps");

    // SIGKILL as soon as epoch 2 has started: the epoch-1 checkpoint is the last complete one.
    let out = tmp.path().join("killed");
    let mut child = train(&config, &settings, &out, &["--no-resume"])
        .spawn()
        .unwrap();
    wait_for_epoch(&mut child, &out, 2);
    child.kill().unwrap(); // SIGKILL on Unix
    let killed = child.wait().unwrap();
    assert!(!killed.success());
    let before = step_losses(&out);
    assert!(before.len() < reference.len(), "the kill came too late");

    let status = train(&config, &settings, &out, &["--resume"])
        .status()
        .unwrap();
    assert!(status.success(), "resumed run failed");
    let log = std::fs::read_to_string(out.join("logs/ostrack-demo-tiny.log")).unwrap();
    assert!(
        log.contains("resum"),
        "the log does not say it resumed:\n{log}"
    );
    let after = step_losses(&out);
    assert_eq!(after.len(), reference.len());
    for (key, loss) in &reference {
        assert_eq!(after[key], *loss, "loss of (epoch, step) {key:?}");
    }
}
