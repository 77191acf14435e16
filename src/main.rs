use clap::Parser;

/// On Linux, mimalloc: reading a fleet makes and frees many small buffers per record, and
/// glibc's allocator took about a seventh of `rank`'s time there (README "Speed").
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    anomalog::util::process::init_threads();
    anomalog::cli::run(anomalog::cli::Cli::parse())
}
