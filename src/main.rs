use clap::Parser;

fn main() -> std::process::ExitCode {
    anomalog::cli::run(anomalog::cli::Cli::parse())
}
