//! The bottom layer: helpers every other layer may use, using none of them.

pub mod process;
pub mod sanitize;
pub mod write;

pub use write::write_file;
