//! anomalog: rank the unique scheduled-task events of a host or a fleet by how unusual they
//! are, so that the rare, odd ones (persistence, lateral movement) come first.
//!
//! Layers, each testable alone:
//! [`ingest`] (evtx, JSON, zip readers) -> [`event::RawEvent`] -> [`profile`] (which events,
//! which features) -> [`frame`] (unique events, polars) -> [`model`] (scores) ->
//! [`output`] (headless formats). [`pipeline`] strings them together.

pub mod cli;
pub mod eval;
pub mod event;
pub mod evtx_writer;
pub mod frame;
pub mod ingest;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod profile;
pub mod sanitize;
pub mod simulate;
