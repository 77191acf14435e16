//! anomalog: rank the unique scheduled-task events of a host or a fleet by how unusual they
//! are, so that the rare, odd ones (persistence, lateral movement) come first.
//!
//! The crate is built in layers, bottom to top ([`LAYERS`]); a module uses only modules
//! below it, never one above (`tests/it/layers.rs` fails on any edge against the order).
//! `docs/architecture.md` says what each owns and where a new reader, profile or view goes.

/// The layers, bottom to top: each module may use those before it in this list, none after.
pub const LAYERS: &[&str] = &[
    // Helpers every layer uses: atomic file writing, strings made safe, process settings.
    "util",
    // One record of a Windows event log, whatever it was read from.
    "event",
    // Genuine .evtx files written (the simulator's, the tests').
    "evtx_writer",
    // Which records a hunt reads and which features it takes from them.
    "profile",
    // What a task lifecycle is made of: flags, steps, diffs.
    "timeline",
    // Every reader: evtx, JSON layouts, zips, summaries, hunt downloads.
    "ingest",
    // Unique events with their occurrences: the data, assembled.
    "frame",
    // What is derived from a whole dataset: lifecycles, tasks, names as read, context fields.
    "context",
    // From paths to a dataset.
    "pipeline",
    // The scores: counting, the autoencoders, DS4N6.
    "model",
    // Ranking quality measures (the detection benchmark's).
    "eval",
    // The analyst's triage: marks, verdicts, notes.
    "session",
    // Headless output: rows in every format, summaries.
    "output",
    // A simulated fleet with planted attacks.
    "simulate",
    // The terminal UI's state, changed by actions and messages.
    "app",
    // Drawing the state: pure.
    "ui",
    // The terminal loop.
    "tui",
    // The command line.
    "cli",
];

pub mod app;
pub mod cli;
pub mod context;
pub mod eval;
pub mod event;
pub mod evtx_writer;
pub mod frame;
pub mod ingest;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod profile;
pub mod session;
pub mod simulate;
pub mod timeline;
pub mod tui;
pub mod ui;
pub mod util;
