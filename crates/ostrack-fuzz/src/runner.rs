//! The case runner: makes each case from its own PRNG, runs the format's check under
//! `catch_unwind`, and fails the run with every failing case named by format, index and
//! mutations.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::rng::SplitMix64;

/// The long (`--ignored`) runs do this many times the default cases.
pub const LONG_RUN_FACTOR: u64 = 100;

/// Failures listed in the report (all are counted).
const REPORTED_FAILURES: usize = 20;

/// What one case's readers returned: results that were `Ok`, and proper errors.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub ok: usize,
    pub err: usize,
}

impl Tally {
    pub const OK: Tally = Tally { ok: 1, err: 0 };
    pub const ERR: Tally = Tally { ok: 0, err: 1 };
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Summary {
    pub cases: u64,
    pub ok: usize,
    pub err: usize,
    pub slowest: Duration,
    pub slowest_case: u64,
    pub elapsed: Duration,
    /// Only `OSTRACK_FUZZ_CASE` was run (or none of this format's cases).
    pub reproducing: bool,
}

impl Summary {
    /// The mutations must neither be so gentle that nothing fails nor so destructive that
    /// nothing passes (not checked while reproducing one case).
    pub fn assert_ok_and_err(&self) {
        assert!(
            self.reproducing || (self.ok > 0 && self.err > 0),
            "{self:?}"
        );
    }
}

/// One fuzz run of one format.
#[derive(Debug, Clone)]
pub struct Run {
    name: &'static str,
    first: u64,
    cases: u64,
    max_case_time: Option<Duration>,
}

impl Run {
    /// `default_cases` cases of the format `name` (also its name in `OSTRACK_FUZZ_CASE` and
    /// the seed of its cases), or `OSTRACK_FUZZ_CASES` cases when that is set.
    pub fn new(name: &'static str, default_cases: u64) -> Self {
        let cases = std::env::var("OSTRACK_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default_cases);
        Self {
            name,
            first: 0,
            cases,
            max_case_time: None,
        }
    }

    /// The long run: [`LONG_RUN_FACTOR`] times the cases, continuing after the default ones.
    pub fn long(self) -> Self {
        Self {
            first: self.cases,
            cases: self.cases * LONG_RUN_FACTOR,
            ..self
        }
    }

    /// Fails any case that takes longer than `limit` (a reader gone quadratic).
    pub fn max_case_time(self, limit: Duration) -> Self {
        Self {
            max_case_time: Some(limit),
            ..self
        }
    }

    /// Runs every case: `make` builds case `index` from its PRNG and describes how (seed,
    /// mutations); `check` runs the readers on it and returns their tally, or what was wrong.
    /// Panics (caught per case), refused allocations, wrong results and slow cases fail the
    /// run, which then panics with the failing cases.
    pub fn run<T>(
        &self,
        make: impl Fn(u64, &mut SplitMix64) -> (T, String),
        check: impl Fn(&T) -> Result<Tally, String>,
    ) -> Summary {
        assert!(
            alloc::allocation_cap().is_some(),
            "install the cap with ostrack_fuzz::install_capped_allocator! in this test binary"
        );
        let (indices, reproducing) = self.indices();
        let trace = std::env::var_os("OSTRACK_FUZZ_TRACE").is_some();
        let started = Instant::now();
        let mut summary = Summary {
            reproducing,
            ..Summary::default()
        };
        let mut failures = Vec::new();
        for index in indices {
            let (input, how) = make(index, &mut SplitMix64::for_case(self.name, index));
            if trace {
                eprintln!("fuzz: {} case {index}: {how}", self.name);
            }
            if let Err(problem) = self.run_case(index, || check(&input), &mut summary) {
                failures.push(format!("{} case {index} ({how}): {problem}", self.name));
            }
        }
        summary.elapsed = started.elapsed();
        self.report(&summary, &failures);
        summary
    }

    /// The case indices to run, and whether `OSTRACK_FUZZ_CASE` picked them.
    fn indices(&self) -> (Vec<u64>, bool) {
        match std::env::var("OSTRACK_FUZZ_CASE") {
            Ok(wanted) => (wanted_case(&wanted, self.name).into_iter().collect(), true),
            Err(_) => ((self.first..self.first + self.cases).collect(), false),
        }
    }

    fn run_case(
        &self,
        index: u64,
        check: impl FnOnce() -> Result<Tally, String>,
        summary: &mut Summary,
    ) -> Result<(), String> {
        alloc::begin_case(self.name, index);
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(check));
        let took = started.elapsed();
        let refused = alloc::end_case();
        summary.cases += 1;
        if took > summary.slowest {
            (summary.slowest, summary.slowest_case) = (took, index);
        }
        let tally = match (outcome, refused) {
            (Err(panic), _) => return Err(format!("panicked: {}", panic_message(&*panic))),
            (Ok(_), Some(size)) => return Err(format!("asked for {size} bytes at once")),
            (Ok(result), None) => result?,
        };
        if let Some(limit) = self.max_case_time.filter(|&limit| took > limit) {
            return Err(format!("took {took:?} (limit {limit:?})"));
        }
        summary.ok += tally.ok;
        summary.err += tally.err;
        Ok(())
    }

    fn report(&self, summary: &Summary, failures: &[String]) {
        eprintln!(
            "fuzz: {}: {} cases, {} ok, {} errors, {} failed, slowest {:?} (case {}), {:.1} s",
            self.name,
            summary.cases,
            summary.ok,
            summary.err,
            failures.len(),
            summary.slowest,
            summary.slowest_case,
            summary.elapsed.as_secs_f64()
        );
        assert!(
            failures.is_empty(),
            "{} of {} {} cases failed (rerun one with OSTRACK_FUZZ_CASE={}:<case>, print each \
             case with OSTRACK_FUZZ_TRACE=1):\n{}",
            failures.len(),
            summary.cases,
            self.name,
            self.name,
            failures[..failures.len().min(REPORTED_FAILURES)].join("\n")
        );
    }
}

/// The case `OSTRACK_FUZZ_CASE=<format>:<index>` asks of `format`: none for other formats.
fn wanted_case(wanted: &str, format: &str) -> Option<u64> {
    let (name, case) = wanted.split_once(':')?;
    (name == format).then(|| case.trim().parse().ok()).flatten()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wanted_case_names_its_format() {
        assert_eq!(wanted_case("pickle:1234", "pickle"), Some(1234));
        assert_eq!(wanted_case("pickle:1234", "png"), None);
        assert_eq!(wanted_case("pickle", "pickle"), None);
        assert_eq!(wanted_case("pickle:x", "pickle"), None);
    }

    #[test]
    fn the_long_run_continues_after_the_default_one() {
        let run = Run {
            name: "x",
            first: 0,
            cases: 30,
            max_case_time: None,
        }
        .long();
        assert_eq!((run.first, run.cases), (30, 30 * LONG_RUN_FACTOR));
    }
}
