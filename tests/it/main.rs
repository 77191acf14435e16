//! The integration tests: one binary (polars and candle linked once, not once per file), a
//! module per area, and one helper module ([`util`]) for what they share: running the
//! binary, loading with a profile, the samples, reading JSON Lines, fixtures.

// Tests may unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod util;

mod app;
mod cli;
mod definitions;
mod e2e_tmux;
mod evidence;
mod evtx_writer;
mod golden;
mod hostile;
mod json_layouts;
mod layers;
mod lifecycle;
mod model;
mod registry;
mod report;
mod services;
mod session;
mod shared_samples;
mod simulate;
mod summary;
mod velociraptor;
mod windows_endpoint;
mod writing;
