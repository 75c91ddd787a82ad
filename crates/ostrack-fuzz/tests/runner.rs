//! The runner fails a run for each kind of bad case (panic, refused allocation, wrong result,
//! slow case) and names the case; good runs tally their results.

use std::time::Duration;

use ostrack_fuzz::{Endian, Mutator, Run, SplitMix64, Tally};

const CAP: usize = 64 << 20;
ostrack_fuzz::install_capped_allocator!(CAP);

const MUTATOR: Mutator = Mutator {
    max_mutations: 2,
    ..Mutator::new(Endian::Big)
};

fn make(_: u64, rng: &mut SplitMix64) -> (Vec<u8>, String) {
    let (bytes, mutations) = MUTATOR.mutate(b"\x00\x10header and body", rng);
    (bytes, format!("{mutations:?}"))
}

#[test]
fn good_cases_are_tallied() {
    let summary = Run::new("runner-good", 200).run(make, |bytes| {
        Ok(if bytes.len() % 2 == 0 {
            Tally::OK
        } else {
            Tally::ERR
        })
    });
    assert_eq!(summary.cases, 200);
    assert_eq!(summary.ok + summary.err, 200);
    summary.assert_ok_and_err();
}

/// Runs `run`'s cases with their index as input (and their mutations as description).
fn run_indexed(run: Run, check: impl Fn(u64) -> Result<Tally, String>) {
    run.run(|i, rng| (i, make(i, rng).1), |&i| check(i));
}

#[test]
#[should_panic(expected = "runner-panic case 7 ([")]
fn a_panic_names_the_case_and_its_mutations() {
    run_indexed(Run::new("runner-panic", 20), |i| {
        assert_ne!(i, 7, "reader broke");
        Ok(Tally::OK)
    });
}

#[test]
#[should_panic(expected = "runner-alloc case 3 ([")]
fn a_refused_allocation_fails_the_case() {
    run_indexed(Run::new("runner-alloc", 10), |i| {
        let mut v: Vec<u8> = Vec::new();
        let size = if i == 3 { CAP + 1 } else { 16 };
        // Fallible: the reader reports the error, the runner still fails the case.
        Ok(match v.try_reserve_exact(size) {
            Ok(()) => Tally::OK,
            Err(_) => Tally::ERR,
        })
    });
}

#[test]
#[should_panic(expected = "runner-wrong case 5 ([")]
fn a_wrong_result_fails_the_case() {
    run_indexed(Run::new("runner-wrong", 10), |i| match i {
        5 => Err("error does not name the file".into()),
        _ => Ok(Tally::ERR),
    });
}

#[test]
#[should_panic(expected = "took")]
fn a_slow_case_fails_the_run() {
    let run = Run::new("runner-slow", 3).max_case_time(Duration::from_millis(1));
    run_indexed(run, |_| {
        std::thread::sleep(Duration::from_millis(20));
        Ok(Tally::OK)
    });
}
