use clap::Parser;

/// On Linux, mimalloc: reading a fleet makes and frees many small buffers per record, and
/// glibc's allocator took a large share of `rank`'s time there (docs/benchmarks.md, "Speed").
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    anomalog::util::process::init_threads();
    anomalog::cli::run(anomalog::cli::Cli::parse())
}
