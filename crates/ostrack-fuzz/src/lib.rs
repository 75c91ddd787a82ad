//! Deterministic mutation fuzzing on stable Rust, for the tests that feed hostile files to the
//! project's readers (weights, frames, configs, frame sources).
//!
//! A test names a format, builds its seed files with the project's own writers, and hands the
//! [`Run`] two closures: one that makes case `i` (usually a [`Mutator`] applied to a seed, with
//! the case's own [`SplitMix64`]), and one that feeds it to the readers and says whether the
//! result was right. The runner catches panics per case, fails cases that asked the allocator
//! for more than the cap, and reports every failing case by format, index and mutations.
//!
//! Each test binary installs the allocation cap with [`install_capped_allocator!`], so that a
//! size taken from a file without a bound fails loudly instead of passing on a machine with
//! memory to spare.
//!
//! Environment variables (read by [`Run`]):
//! * `OSTRACK_FUZZ_CASE=<format>:<index>` runs only that case (any index, also one of the long
//!   run); the other formats of the binary run none.
//! * `OSTRACK_FUZZ_TRACE=1` prints each case before running it: the last one printed names a
//!   case that aborted the process (stack overflow, refused infallible allocation).
//! * `OSTRACK_FUZZ_CASES=<n>` sets the cases per format (the long run does
//!   [`LONG_RUN_FACTOR`] × n).

mod alloc;
mod mutation;
mod rng;
mod runner;

pub use alloc::{CappedAllocator, allocation_cap, check_allocation_cap};
pub use mutation::{Endian, HUGE_VALUES, Landmarks, Mutation, Mutator};
pub use rng::SplitMix64;
pub use runner::{LONG_RUN_FACTOR, Run, Summary, Tally};
