//! Workspace-level package of ostrack-rs: it only hosts the integration tests in `tests/`, the
//! benchmarks in `benches/` and the examples in `examples/`. The libraries live in `crates/`.
