//! Mutation fuzzing of the config loader: real experiment configs from `configs/`, mutated at
//! the byte, token and line level (deep nesting, anchors and alias bombs, huge numbers, broken
//! indentation, truncation). Every case must parse or give an error naming the file: never a
//! panic, never an allocation beyond [`MAX_ALLOCATION`], never more than a moment.
//!
//! `cargo test --release --test fuzz_yaml -- --ignored` runs 100 times as many cases. A failure
//! names the case index and its mutations; `Rng::for_case` makes any case reproducible alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ostrack_config::parse_config_yaml;

/// Any single allocation above this is refused (null, which aborts the test with "memory
/// allocation failed"). Parsing a config of a few KB needs well under 1 MiB; 64 MiB leaves room
/// for the largest file accepted (1 MiB) while a runaway alias expansion still trips it.
const MAX_ALLOCATION: usize = 64 << 20;

struct CappedAllocator;

// SAFETY: forwards to the system allocator, or returns null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            eprintln!(
                "fuzz_yaml: refused an allocation of {} bytes",
                layout.size()
            );
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            eprintln!("fuzz_yaml: refused a reallocation to {new_size} bytes");
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

const CASES: usize = 10_000;
const LONG_RUN_FACTOR: usize = 100;
/// No case may take longer than this (a parser gone quadratic shows up here).
const SLOWEST_ALLOWED: Duration = Duration::from_secs(1);

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn for_case(stream: u64, case: usize) -> Self {
        Rng(stream ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// YAML syntax worth inserting anywhere.
const TOKENS: [&str; 24] = [
    "[",
    "]",
    "{",
    "}",
    ",",
    ": ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!Tag ",
    "|\n",
    ">-\n",
    "'",
    "\"",
    "#",
    "\t",
    "\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "\u{feff}",
];

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

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        len: usize,
    },
    InsertToken {
        at: usize,
        token: &'static str,
    },
    DeleteLine {
        line: usize,
    },
    RepeatLine {
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

impl Mutation {
    fn pick(rng: &mut Rng, text: &[u8], lines: usize) -> Mutation {
        let line = rng.below(lines);
        match rng.below(10) {
            0 => Mutation::FlipBit {
                at: rng.below(text.len()),
                bit: rng.below(8) as u8,
            },
            1 => Mutation::Truncate {
                len: rng.below(text.len()),
            },
            2 | 3 => Mutation::InsertToken {
                at: rng.below(text.len()),
                token: TOKENS[rng.below(TOKENS.len())],
            },
            4 => Mutation::DeleteLine { line },
            5 => Mutation::RepeatLine {
                line,
                times: 1 + rng.below(50),
            },
            6 => Mutation::Reindent {
                line,
                spaces: rng.below(9),
            },
            7 => Mutation::ReplaceValue {
                line,
                value: ODD_SCALARS[rng.below(ODD_SCALARS.len())],
            },
            8 => Mutation::Nest {
                line,
                depth: [10, 100, 1000, 100_000][rng.below(4)],
                mapping: rng.below(2) == 0,
            },
            _ => Mutation::AliasBomb {
                line,
                width: 2 + rng.below(15),
                levels: 1 + rng.below(12),
            },
        }
    }

    fn apply(&self, text: &mut Vec<u8>) {
        match *self {
            Mutation::FlipBit { at, bit } => {
                if let Some(b) = text.get_mut(at) {
                    *b ^= 1 << bit;
                }
            }
            Mutation::Truncate { len } => text.truncate(len),
            Mutation::InsertToken { at, token } => {
                let at = at.min(text.len());
                text.splice(at..at, token.bytes());
            }
            _ => self.apply_to_lines(text),
        }
    }

    fn apply_to_lines(&self, text: &mut Vec<u8>) {
        let source = String::from_utf8_lossy(text).into_owned();
        let mut lines: Vec<String> = source.lines().map(str::to_string).collect();
        let n = lines.len();
        let at = |line: usize| line.min(n.saturating_sub(1));
        match *self {
            Mutation::DeleteLine { line } if n > 0 => {
                lines.remove(at(line));
            }
            Mutation::RepeatLine { line, times } if n > 0 => {
                let l = lines[at(line)].clone();
                lines.splice(at(line)..at(line), std::iter::repeat_n(l, times));
            }
            Mutation::Reindent { line, spaces } if n > 0 => {
                let l = &mut lines[at(line)];
                *l = format!("{}{}", " ".repeat(spaces), l.trim_start());
            }
            Mutation::ReplaceValue { line, value } if n > 0 => {
                let l = &mut lines[at(line)];
                if let Some(colon) = l.find(": ") {
                    l.replace_range(colon + 2.., value);
                }
            }
            Mutation::Nest {
                line,
                depth,
                mapping,
            } if n > 0 => {
                let l = &mut lines[at(line)];
                let (open, close) = if mapping { ("{a: ", "}") } else { ("[", "]") };
                if let Some(colon) = l.find(": ") {
                    let value = l[colon + 2..].to_string();
                    l.replace_range(
                        colon + 2..,
                        &format!("{}{value}{}", open.repeat(depth), close.repeat(depth)),
                    );
                }
            }
            Mutation::AliasBomb {
                line,
                width,
                levels,
            } => {
                let items = vec!["lol"; width].join(", ");
                let mut bomb = vec![format!("l0: &l0 [{items}]")];
                for k in 1..=levels {
                    let refs = vec![format!("*l{}", k - 1); width].join(", ");
                    bomb.push(format!("l{k}: &l{k} [{refs}]"));
                }
                let at = line.min(n);
                lines.splice(at..at, bomb);
            }
            _ => {}
        }
        *text = (lines.join("\n") + "\n").into_bytes();
    }
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

/// One case: outcome `Ok(true)` parsed, `Ok(false)` a proper error, `Err` what went wrong.
fn run_case(stream: u64, index: usize, seeds: &[Vec<u8>]) -> (Vec<Mutation>, Result<bool, String>) {
    let mut rng = Rng::for_case(stream, index);
    let mut text = seeds[rng.below(seeds.len())].clone();
    let mut mutations = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let lines = text.iter().filter(|&&b| b == b'\n').count().max(1);
        let m = Mutation::pick(&mut rng, &text, lines);
        m.apply(&mut text);
        mutations.push(m);
    }
    let name = format!("fuzz-{index}.yaml");
    let text = String::from_utf8_lossy(&text).into_owned();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        parse_config_yaml(&text, Path::new(&name))
    }));
    let verdict = match outcome {
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) if e.to_string().contains(&name) => Ok(false),
        Ok(Err(e)) => Err(format!("error does not name the file: {e}")),
        Err(_) => Err("panic".to_string()),
    };
    (mutations, verdict)
}

fn fuzz(stream: u64, cases: usize) {
    let seeds = seeds();
    let start = Instant::now();
    let (mut parsed, mut rejected, mut failures) = (0, 0, Vec::new());
    let mut slowest = (Duration::ZERO, 0);
    for index in 0..cases {
        let t = Instant::now();
        let (mutations, verdict) = run_case(stream, index, &seeds);
        let took = t.elapsed();
        slowest = slowest.max((took, index));
        let verdict = if took > SLOWEST_ALLOWED {
            Err(format!("took {took:?}"))
        } else {
            verdict
        };
        match verdict {
            Ok(true) => parsed += 1,
            Ok(false) => rejected += 1,
            Err(why) => failures.push(format!("case {index} ({mutations:?}): {why}")),
        }
    }
    eprintln!(
        "fuzz_yaml: {cases} cases, {parsed} parsed, {rejected} rejected, slowest {:?} (case {}), \
         {:?} in all",
        slowest.0,
        slowest.1,
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(
        parsed > 0 && rejected > 0,
        "{parsed} parsed, {rejected} rejected"
    );
}

#[test]
fn fuzz_config_yaml() {
    fuzz(0xC0F1_6000, CASES);
}

#[test]
#[ignore = "long run: 100x the default cases (cargo test --release -- --ignored)"]
fn fuzz_config_yaml_long() {
    fuzz(0xC0F1_6001, CASES * LONG_RUN_FACTOR);
}
