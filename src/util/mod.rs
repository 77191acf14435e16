//! The bottom layer: helpers every other layer may use, using none of them.

pub mod write;

pub use write::write_file;
