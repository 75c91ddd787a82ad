//! How `ostrack` ends on damaged input and on a bug: bad files are an error line naming the file
//! and exit code 1; an unexpected panic is one line naming the command and asking for a report,
//! exit code 2. Never Rust's panic message, exit code 101 or a signal.

use std::path::Path;
use std::process::{Command, Output};

fn ostrack(args: &[&str], panic: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ostrack"));
    cmd.args(args);
    if panic {
        cmd.env("OSTRACK_TEST_PANIC", "1");
    }
    cmd.output().expect("ostrack runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_panic_is_one_line_with_the_command_and_exit_code_2() {
    let out = ostrack(
        &["data", "check", "--dataset", "got10k", "--root", "x"],
        true,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("internal error in `ostrack data check --dataset got10k --root x`")
            && err.contains("please report it"),
        "{err}"
    );
    assert!(
        !err.contains("panicked at"),
        "Rust's panic message leaked: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Writes `bytes` as `name` below `dir`.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn damaged_files_are_an_error_naming_the_file_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.safetensors").display().to_string();
    // A zip whose local header claims a 4 GiB entry; safetensors whose header claims 2^60 bytes.
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    zip.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    zip.extend_from_slice(b"\x08\x00\x00\x00archive/data.pkl");
    let pth = write(dir.path(), "broken.pth", &zip);
    let mut st = (1u64 << 60).to_le_bytes().to_vec();
    st.extend_from_slice(b"{}");
    let safetensors = write(dir.path(), "broken.safetensors", &st);
    let empty_config = write(dir.path(), "empty.yaml", b"");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["convert", "--input", &pth, "--output", &out_file],
            "broken.pth",
        ),
        (
            vec!["convert", "--input", &safetensors, "--output", &out_file],
            "broken.safetensors",
        ),
        (
            vec!["data", "check", "--config", &empty_config],
            "empty.yaml",
        ),
    ];
    for (args, file) in cases {
        let out = ostrack(&args, false);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "ostrack {args:?}: {err}");
        assert!(
            err.contains(file),
            "ostrack {args:?} must name {file}: {err}"
        );
        assert!(!err.contains("panicked at"), "ostrack {args:?}: {err}");
    }
}
