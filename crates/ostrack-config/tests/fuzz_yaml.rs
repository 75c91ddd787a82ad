//! Mutation fuzzing of the config loader, with the workspace's fuzz harness (`ostrack-fuzz`):
//! real experiment configs from `configs/`, mutated at the byte and token level (the harness's
//! generic mutations with YAML syntax as the dictionary) and at the line level (deep nesting,
//! anchors and alias bombs, huge numbers, broken indentation). Every case must parse or give an
//! error naming the file: never a panic, never an allocation beyond [`MAX_ALLOCATION`], never
//! more than a moment.
//!
//! `cargo test --release --test fuzz_yaml -- --ignored` runs 100 times as many cases. A failure
//! names the case index and its mutations; `OSTRACK_FUZZ_CASE=yaml:1234` reruns one case.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ostrack_config::parse_config_yaml;
use ostrack_fuzz::{Endian, Mutation, Mutator, Run, SplitMix64, Tally};

/// Any single allocation above this is refused. Parsing a config of a few KB needs well under
/// 1 MiB; 64 MiB leaves room for the largest file accepted (1 MiB) while a runaway alias
/// expansion still trips it.
const MAX_ALLOCATION: usize = 64 << 20;
ostrack_fuzz::install_capped_allocator!(MAX_ALLOCATION);

const CASES: u64 = 10_000;
/// No case may take longer than this (a parser gone quadratic shows up here).
const SLOWEST_ALLOWED: Duration = Duration::from_secs(1);

/// YAML syntax worth inserting anywhere.
const TOKENS: [&[u8]; 24] = [
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b": ",
    b"- ",
    b"? ",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!binary ",
    b"!Tag ",
    b"|\n",
    b">-\n",
    b"'",
    b"\"",
    b"#",
    b"\t",
    b"\n",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    "\u{feff}".as_bytes(),
];

/// Byte-level mutations: text has no binary length fields.
const BYTES: Mutator = Mutator {
    widths: &[],
    dictionary: &TOKENS,
    max_growth: 4 << 10,
    ..Mutator::new(Endian::Little)
};

/// Values that are numbers only in name.
const ODD_SCALARS: [&str; 8] = [
    "1e400",
    "-0",
    ".nan",
    "99999999999999999999999",
    "-1",
    "0x7FFFFFFF",
    "~",
    "''",
];

/// One change to a config: a generic byte mutation, or a YAML-aware one on its lines.
#[derive(Debug, Clone)]
enum Edit {
    Bytes(Mutation),
    Line(LineEdit),
}

#[derive(Debug, Clone)]
enum LineEdit {
    Delete {
        line: usize,
    },
    Repeat {
        line: usize,
        times: usize,
    },
    Reindent {
        line: usize,
        spaces: usize,
    },
    ReplaceValue {
        line: usize,
        value: &'static str,
    },
    /// `depth` opening brackets (`[` or `{a: `) inserted after a key.
    Nest {
        line: usize,
        depth: usize,
        mapping: bool,
    },
    /// An anchor of `width` items and `levels` levels of `width` aliases to the level below.
    AliasBomb {
        line: usize,
        width: usize,
        levels: usize,
    },
}

impl Edit {
    /// Byte-level four times in ten, line-level otherwise.
    fn pick(rng: &mut SplitMix64, text: &[u8]) -> Edit {
        if rng.below(10) < 4 {
            return Edit::Bytes(BYTES.draw(rng, text));
        }
        let lines = text.iter().filter(|&&b| b == b'\n').count().max(1);
        let line = rng.below(lines);
        Edit::Line(match rng.below(6) {
            0 => LineEdit::Delete { line },
            1 => LineEdit::Repeat {
                line,
                times: 1 + rng.below(50),
            },
            2 => LineEdit::Reindent {
                line,
                spaces: rng.below(9),
            },
            3 => LineEdit::ReplaceValue {
                line,
                value: rng.pick(&ODD_SCALARS),
            },
            4 => LineEdit::Nest {
                line,
                depth: rng.pick(&[10, 100, 1000, 100_000]),
                mapping: rng.chance(2),
            },
            _ => LineEdit::AliasBomb {
                line,
                width: 2 + rng.below(15),
                levels: 1 + rng.below(12),
            },
        })
    }

    fn apply(&self, text: &mut Vec<u8>) {
        match self {
            Edit::Bytes(mutation) => mutation.apply(text),
            Edit::Line(edit) => {
                let source = String::from_utf8_lossy(text).into_owned();
                let mut lines: Vec<String> = source.lines().map(str::to_string).collect();
                edit.apply(&mut lines);
                *text = (lines.join("\n") + "\n").into_bytes();
            }
        }
    }
}

impl LineEdit {
    fn apply(&self, lines: &mut Vec<String>) {
        let n = lines.len();
        let at = |line: usize| line.min(n.saturating_sub(1));
        match *self {
            LineEdit::Delete { line } if n > 0 => {
                lines.remove(at(line));
            }
            LineEdit::Repeat { line, times } if n > 0 => {
                let l = lines[at(line)].clone();
                lines.splice(at(line)..at(line), std::iter::repeat_n(l, times));
            }
            LineEdit::Reindent { line, spaces } if n > 0 => {
                let l = &mut lines[at(line)];
                *l = format!("{}{}", " ".repeat(spaces), l.trim_start());
            }
            LineEdit::ReplaceValue { line, value } if n > 0 => {
                let l = &mut lines[at(line)];
                if let Some(colon) = l.find(": ") {
                    l.replace_range(colon + 2.., value);
                }
            }
            LineEdit::Nest {
                line,
                depth,
                mapping,
            } if n > 0 => nest(&mut lines[at(line)], depth, mapping),
            LineEdit::AliasBomb {
                line,
                width,
                levels,
            } => {
                let at = line.min(n);
                lines.splice(at..at, alias_bomb(width, levels));
            }
            _ => {}
        }
    }
}

/// Wraps the value of a `key: value` line in `depth` brackets or one-key mappings.
fn nest(line: &mut String, depth: usize, mapping: bool) {
    let (open, close) = if mapping { ("{a: ", "}") } else { ("[", "]") };
    if let Some(colon) = line.find(": ") {
        let value = line[colon + 2..].to_string();
        let nested = format!("{}{value}{}", open.repeat(depth), close.repeat(depth));
        line.replace_range(colon + 2.., &nested);
    }
}

/// "Billion laughs": each level holds `width` aliases of the level below.
fn alias_bomb(width: usize, levels: usize) -> Vec<String> {
    let items = vec!["lol"; width].join(", ");
    let mut bomb = vec![format!("l0: &l0 [{items}]")];
    for k in 1..=levels {
        let refs = vec![format!("*l{}", k - 1); width].join(", ");
        bomb.push(format!("l{k}: &l{k} [{refs}]"));
    }
    bomb
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's own configs: the official ViT-B CE config and the demo.
fn seeds() -> Vec<Vec<u8>> {
    ["vitb_256_mae_ce_32x4_ep300.yaml", "demo.yaml"]
        .iter()
        .map(|name| {
            let path = repo_root().join("configs").join(name);
            let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                parse_config_yaml(&String::from_utf8_lossy(&text), &path).is_ok(),
                "{name} must load unmutated"
            );
            text
        })
        .collect()
}

/// Case `index`: a seed with 1 to 3 edits, and the name its errors must carry.
fn make_case(seeds: &[Vec<u8>], index: u64, rng: &mut SplitMix64) -> ((String, String), String) {
    let seed = rng.below(seeds.len());
    let mut text = seeds[seed].clone();
    let edits: Vec<Edit> = (0..1 + rng.below(3))
        .map(|_| {
            let edit = Edit::pick(rng, &text);
            edit.apply(&mut text);
            edit
        })
        .collect();
    let text = String::from_utf8_lossy(&text).into_owned();
    let case = (format!("fuzz-{index}.yaml"), text);
    (case, format!("seed {seed}, {edits:?}"))
}

/// The config parses, or the error names the file.
fn check_case((name, text): &(String, String)) -> Result<Tally, String> {
    match parse_config_yaml(text, Path::new(name)) {
        Ok(_) => Ok(Tally::OK),
        Err(e) if e.to_string().contains(name.as_str()) => Ok(Tally::ERR),
        Err(e) => Err(format!("error does not name the file: {e}")),
    }
}

fn fuzz(run: Run) {
    let seeds = seeds();
    let make = |index, rng: &mut SplitMix64| make_case(&seeds, index, rng);
    run.max_case_time(SLOWEST_ALLOWED)
        .run(make, check_case)
        .assert_ok_and_err();
}

#[test]
fn fuzz_config_yaml() {
    fuzz(Run::new("yaml", CASES));
}

#[test]
#[ignore = "long run: 100x the default cases (cargo test --release -- --ignored)"]
fn fuzz_config_yaml_long() {
    fuzz(Run::new("yaml", CASES).long());
}
