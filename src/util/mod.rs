//! The bottom layer: helpers every other layer may use, using none of them.

pub mod cut;
pub mod process;
pub mod sanitize;
pub mod write;

pub use write::write_file;

/// A count and its noun, singular for one (`1 note`, `2 notes`, `0 notes`).
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_read_as_english() {
        assert_eq!(super::counted(1u32, "note"), "1 note");
        assert_eq!(super::counted(0u32, "note"), "0 notes");
        assert_eq!(super::counted(12u64, "record"), "12 records");
    }
}
