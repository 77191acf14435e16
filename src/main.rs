use clap::Parser;

fn main() -> std::process::ExitCode {
    anomalog::init_threads();
    anomalog::cli::run(anomalog::cli::Cli::parse())
}
