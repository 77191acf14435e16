use clap::Parser;

fn main() -> std::process::ExitCode {
    anomalog::tune_allocator();
    anomalog::init_threads();
    anomalog::cli::run(anomalog::cli::Cli::parse())
}
