//! Config files from untrusted sources: every malformed or hostile file is a prompt error that
//! names the file; none is taken as "all defaults", none exhausts memory or time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ostrack_config::untrusted::{MAX_FLOW_NESTING, MAX_YAML_BYTES, MAX_YAML_NODES};
use ostrack_config::{ConfigError, load_config};

/// A file in a folder of its own below the system temp dir, removed on drop.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, contents: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ostrack-config-untrusted-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        Self { dir, path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Loads `contents` from a file called `name`: it must fail within a second with a message
/// that names the file and contains every one of `expected`.
fn assert_rejected(name: &str, contents: &str, expected: &[&str]) -> ConfigError {
    let file = TempFile::new(name, contents);
    let start = Instant::now();
    let err = load_config(&file.path).expect_err(name);
    let took = start.elapsed();
    let msg = err.to_string();
    assert!(
        msg.contains(name),
        "{name}: message does not name the file: {msg}"
    );
    for e in expected {
        assert!(msg.contains(e), "{name}: `{e}` missing from: {msg}");
    }
    assert!(took < Duration::from_secs(1), "{name}: took {took:?}");
    err
}

#[test]
fn documents_that_are_not_a_mapping_are_errors() {
    let mapping = "expected a mapping of config keys";
    assert_rejected("empty.yaml", "", &["empty", mapping]);
    assert_rejected("blank.yaml", "\n  \n\n", &["empty", mapping]);
    assert_rejected(
        "comments.yaml",
        "# MODEL:\n#   BACKBONE: {}\n",
        &["empty", mapping],
    );
    assert_rejected("separator.yaml", "---\n...\n", &["empty", mapping]);
    assert_rejected("null.yaml", "~\n", &[mapping]);
    assert_rejected("list.yaml", "- MODEL\n- TRAIN\n", &["a list", mapping]);
    assert_rejected("flow_list.yaml", "[]\n", &["a list", mapping]);
    assert_rejected(
        "scalar.yaml",
        "vitb_256_mae_ce_32x4_ep300\n",
        &["single value", mapping],
    );
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let limit = MAX_FLOW_NESTING.to_string();
    assert_rejected("open.yaml", &"[".repeat(100_000), &["nests", &limit]);
    let closed = format!("DATA: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_rejected("closed.yaml", &closed, &["nests", &limit]);
    let maps = format!(
        "MODEL: {}1{}\n",
        "{a: ".repeat(100_000),
        "}".repeat(100_000)
    );
    assert_rejected("maps.yaml", &maps, &["nests", &limit]);
    // Block nesting costs the parser linear time; the deserializer's own bound stops it.
    let block = format!("MODEL:\n  {}1\n", "- ".repeat(100_000));
    assert_rejected("block.yaml", &block, &["recursion limit"]);
}

/// The classic: nine levels of nine aliases each, 9^9 strings when expanded.
fn billion_laughs() -> String {
    let mut yaml = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        yaml += &format!("{}: &{} [{refs}]\n", w[1], w[1]);
    }
    yaml
}

#[test]
fn alias_expansion_is_bounded() {
    // yaml_serde's own bound on alias jumps or ours on expanded nodes, whichever comes first.
    let bounded = |e: ConfigError| {
        let msg = e.to_string();
        assert!(
            msg.contains("repetition limit") || msg.contains(&MAX_YAML_NODES.to_string()),
            "{msg}"
        );
    };
    bounded(assert_rejected("bomb.yaml", &billion_laughs(), &[]));
    // The bomb inside a real key, where the typed deserializer would expand it.
    let in_key = billion_laughs().replace("i: &i", "DATA:\n  TRAIN:\n    DATASETS_NAME: &i");
    bounded(assert_rejected("bomb_in_key.yaml", &in_key, &[]));
    // Few jumps, each expanding a large anchor: not caught by counting jumps alone.
    let anchor = vec!["x"; 2000].join(", ");
    let refs = vec!["*big"; 2000].join(", ");
    let wide = format!("big: &big [{anchor}]\nall: [{refs}]\n");
    assert_rejected("wide.yaml", &wide, &["nodes", &MAX_YAML_NODES.to_string()]);
}

#[test]
fn oversized_files_are_refused_without_reading_them() {
    let big = format!("# {}\nMODEL: {{}}\n", "x".repeat(MAX_YAML_BYTES));
    let err = assert_rejected("big.yaml", &big, &[&MAX_YAML_BYTES.to_string()]);
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
}

#[test]
fn ordinary_configs_still_load() {
    let file = TempFile::new(
        "small.yaml",
        "# comment\nMODEL:\n  BACKBONE:\n    TYPE: vit_base_patch16_224\n",
    );
    let cfg = load_config(&file.path).unwrap();
    assert_eq!(cfg.model.backbone.kind, ostrack_config::BackboneType::Vit);
    let anchors = "DATA:\n  TRAIN: &mix\n    DATASETS_NAME: [GOT10K_train_full]\n    \
                   DATASETS_RATIO: [1]\n  VAL: *mix\n";
    let file = TempFile::new("anchors.yaml", anchors);
    let cfg = load_config(&file.path).unwrap();
    assert_eq!(cfg.data.val.datasets_name, ["GOT10K_train_full"]);
}

#[test]
fn json_keeps_its_recursion_limit() {
    // serde_json stops at 128 levels unless a crate enables `unbounded_depth` (features are
    // unified across the workspace, so this would catch any crate doing so).
    let deep = "[".repeat(100_000);
    let err = serde_json::from_str::<serde_json::Value>(&deep).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}
