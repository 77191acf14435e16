//! Command-line interface: argument definitions and the headless `rank` command.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::frame::SameHost;
use crate::ingest::Progress;
use crate::model::ae::{AeConfig, Objective};
use crate::model::worker::{self, Task, WorkerMsg};
use crate::model::{ModelKind, Saved};
use crate::output::{Format, Rows, TaskRows};
use crate::pipeline;
use crate::profile::{self, PROFILES};

#[derive(Debug, Parser)]
#[command(
    name = "anomalog",
    version,
    about = "Hunt unusual Windows scheduled-task events: rank unique events by how unusual they are",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Event logs to open: .evtx, JSON / JSON Lines exports, .zip archives, or folders of them
    /// (default: samples/)
    pub paths: Vec<PathBuf>,
    /// Monochrome screen (also when NO_COLOR is set)
    #[arg(long)]
    pub mono: bool,
    /// Random seed of the model trained in the terminal UI
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How the autoencoder learns and scores a field (the UI's)
    #[arg(long, value_enum, default_value_t = Objective::Hybrid)]
    pub objective: Objective,
    /// Which events to hunt in
    #[arg(short, long, default_value = "scheduled-tasks", value_parser = clap::builder::PossibleValuesParser::new(PROFILES))]
    pub profile: String,
    #[command(flatten)]
    pub triage: TriageArgs,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// How inputs are read together.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct LoadArgs {
    /// When several inputs describe the same host (its logs and a summary of them, two
    /// summaries, a hunt downloaded twice): `max` takes each unique event as often as the
    /// input that shows it most (overlapping views: nothing any input shows is lost), `sum`
    /// adds them (different periods), `logs` trusts a host's own logs over any summary of it.
    /// Every such host is named in a warning.
    #[arg(long, value_enum, default_value_t = SameHost::Max, value_name = "RULE")]
    pub same_host: SameHost,
}

impl LoadArgs {
    pub fn options(self) -> crate::frame::Options {
        crate::frame::Options {
            same_host: self.same_host,
        }
    }
}

/// The triage session: marks, verdicts and notes per unique event.
#[derive(Debug, Args, Clone, Default)]
pub struct TriageArgs {
    /// Triage session file (default: anomalog-session.json in the folder of the first input)
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,
    /// Leave the unique events the session marks benign out of training (they are still
    /// ranked)
    #[arg(long)]
    pub exclude_benign: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rank unique events headless, for scripts and pipelines (progress on stderr, result on stdout)
    Rank(RankArgs),
    /// Write a self-contained HTML report to share: what was read and what each host could
    /// show, the top rows with their explanations and when they spread, the rows marked,
    /// judged or noted (`rank`'s options; `-o report.html`)
    Report(RankArgs),
    /// Write a simulated fleet's scheduled-task logs (genuine .evtx) with planted attacks and
    /// their ground truth
    Simulate(SimulateArgs),
    /// Reduce logs to a summary of their unique events (counts per host, first and last seen,
    /// lifecycle flags), to merge and rank centrally: run it where the logs are
    Summarize(SummarizeArgs),
}

/// Formats of a summary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Jsonl,
    Parquet,
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Event logs: .evtx, JSON / JSON Lines exports, .zip archives, or folders of them, and
    /// task definitions (a Tasks folder, .job files). On Windows, none: this machine's
    /// event logs and Tasks folders
    pub paths: Vec<PathBuf>,
    /// The summary file to write (written whole or not at all)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// JSON Lines or Parquet (default: Parquet when FILE ends in .parquet, else JSON Lines)
    #[arg(short, long, value_enum)]
    pub format: Option<SummaryFormat>,
    /// Which events to summarise
    #[arg(short, long, default_value = "scheduled-tasks", value_parser = clap::builder::PossibleValuesParser::new(PROFILES))]
    pub profile: String,
    /// No progress or summary on stderr (warnings still appear)
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Folder to write into (one folder per host, ground_truth.json beside them)
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of hosts (a quarter of them servers)
    #[arg(long, default_value_t = 8)]
    pub hosts: usize,
    /// Number of days
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    /// Random seed: the same seed writes byte-identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Plant no attacks (a clean baseline)
    #[arg(long)]
    pub no_attacks: bool,
    /// Also write every event as evtx_dump-style JSON Lines, zipped into DIR/jsonl.zip
    #[arg(long)]
    pub jsonl: bool,
    /// Background noise in Security and System logs (logons, process creations, service
    /// changes, ...): realistic per-host daily volumes, a fiftieth of them, or none
    #[arg(long, value_enum, default_value_t = crate::simulate::Background::Realistic)]
    pub background: crate::simulate::Background,
    /// Write each host's summary (HOST.summary.jsonl, what `summarize` makes of its logs)
    /// instead of its .evtx: fleets of many thousand hosts without their logs
    #[arg(long)]
    pub summaries: bool,
    /// Which hosts log tasks: every host everything, or as fleets are (TaskScheduler/
    /// Operational on servers and every third workstation, task auditing on servers only;
    /// every host's Tasks folder holds its definitions)
    #[arg(long, value_enum, default_value_t = crate::simulate::Logging::Realistic)]
    pub logging: crate::simulate::Logging,
}

#[derive(Debug, Args)]
pub struct RankArgs {
    /// Event logs: .evtx, JSON / JSON Lines exports, .zip archives, or folders of them
    /// (default: samples/)
    pub paths: Vec<PathBuf>,
    /// Output format (default: from the `-o` file's extension, else `table`)
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,
    /// Write the result to FILE (`-` is standard output)
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: String,
    /// Keep only the N most unusual rows (unique events, or tasks with `--by task`)
    #[arg(short = 'n', long, value_name = "N")]
    pub top: Option<usize>,
    /// One row per unique event the logs recorded, per task (its events and definitions on
    /// every host, ranked by its best), per task definition found on the hosts, or per host
    /// (what evidence about tasks it has)
    #[arg(long, value_enum, default_value_t = By::Event)]
    pub by: By,
    /// Which events to hunt in
    #[arg(short, long, default_value = "scheduled-tasks", value_parser = clap::builder::PossibleValuesParser::new(PROFILES))]
    pub profile: String,
    /// Print no progress or summary on stderr (warnings still are)
    #[arg(short, long)]
    pub quiet: bool,
    /// Scoring model
    #[arg(short, long, value_enum, default_value_t = ModelKind::Ae)]
    pub model: ModelKind,
    /// Random seed: the same input and seed give the same ranking
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Training epochs of the autoencoder (0: chosen from the number of unique events)
    #[arg(long, default_value_t = 0)]
    pub epochs: usize,
    /// How the autoencoder learns and scores a field: `hybrid` (the default) adds to the
    /// denoising `swap` model's ranking the combinations two `masked` models (each field
    /// predicted from the event's other fields) agree are broken
    #[arg(long, value_enum, default_value_t = Objective::Hybrid)]
    pub objective: Objective,
    /// Save the trained autoencoder(s) (weights and encoders, one safetensors file; the
    /// hybrid's three together)
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
    /// Score against a saved model (`--save-model`) instead of training: train on a
    /// known-good period, hunt in a new one
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub baseline: Option<PathBuf>,
    /// Add each unique event's first occurrence as it was read (`raw`: computer, time, record
    /// id, source file and every data field unnormalised, task XML included)
    #[arg(long)]
    pub raw: bool,
    /// Keep the rows a query matches, in the language of the UI's filter (`f`): `hosts<=2 AND
    /// NOT verdict=benign`, `last_seen<7d`. Applied after ranking (ranks are unchanged),
    /// before `--top`
    #[arg(long, value_name = "QUERY")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub triage: TriageArgs,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// What a `rank` row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One row per unique event the logs recorded.
    Event,
    /// One row per task: its events and its definitions.
    Task,
    /// One row per unique task definition found on the hosts (Tasks folder, `.job`).
    Definition,
    /// One row per host: what evidence about tasks it has, and what could not be seen.
    Host,
}

/// `samples/` of the current directory, else of the source tree this binary was built from.
pub fn default_paths() -> Vec<PathBuf> {
    let here = PathBuf::from("samples");
    if here.is_dir() {
        return vec![here];
    }
    vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")]
}

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Some(Command::Rank(args)) => rank(args),
        Some(Command::Report(mut args)) => {
            // `-f` still wins; the report is 20 rows unless told otherwise.
            args.format = args.format.or(Some(Format::Html));
            args.top = args.top.or(Some(20));
            rank(args)
        }
        Some(Command::Simulate(args)) => simulate(args),
        Some(Command::Summarize(args)) => summarize(args),
        None => {
            let explicit = !cli.paths.is_empty();
            let paths = if explicit { cli.paths } else { default_paths() };
            if !explicit && !has_logs(&paths) {
                eprintln!(
                    "anomalog: no logs in samples/. Usage: anomalog [PATHS]... or anomalog rank [PATHS]... (see --help)"
                );
                return ExitCode::SUCCESS;
            }
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                let mono = cli.mono || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let config = AeConfig {
                    seed: cli.seed,
                    objective: cli.objective,
                    ..AeConfig::default()
                };
                let profile = profile::by_name(&cli.profile).expect("a profile clap accepted");
                crate::tui::run(crate::tui::Options {
                    paths,
                    profile,
                    config,
                    monochrome: mono,
                    session: cli.triage.session,
                    exclude_benign: cli.triage.exclude_benign,
                    load: cli.load.options(),
                })
                .map(|()| ExitCode::SUCCESS)
            } else {
                // Not a terminal (a pipe, a script): the ranking as a table instead.
                rank(RankArgs {
                    paths,
                    format: Some(Format::Table),
                    output: "-".into(),
                    top: Some(50),
                    by: By::Event,
                    profile: cli.profile,
                    quiet: false,
                    model: ModelKind::Ae,
                    seed: cli.seed,
                    epochs: 0,
                    objective: cli.objective,
                    save_model: None,
                    baseline: None,
                    raw: false,
                    filter: None,
                    triage: cli.triage,
                    load: cli.load,
                })
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("anomalog: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn has_logs(paths: &[PathBuf]) -> bool {
    !crate::ingest::expand_paths(paths).0.is_empty()
}

/// Read `paths` as `rank` and `summarize` both do: progress on stderr, every warning, the
/// summary unless `quiet`. `Err(code)` when nothing at all could be read (the reasons are
/// printed).
fn read_inputs(
    paths: &[PathBuf],
    profile: &str,
    load: LoadArgs,
    quiet: bool,
) -> Result<std::result::Result<pipeline::Loaded, ExitCode>> {
    let profile = profile::by_name(profile).context("unknown profile")?;
    let progress = Progress::default();
    if !quiet {
        eprintln!("anomalog: reading {} ...", describe(paths));
    }
    let loaded = with_progress_line(!quiet, &progress, || {
        pipeline::load_with(paths, profile.as_ref(), load.options(), &progress)
    });
    for w in loaded.warnings() {
        eprintln!("anomalog: warning: {w}");
    }
    if loaded.nothing_read() {
        for w in loaded.passed_over_reasons() {
            eprintln!("anomalog: {w}");
        }
        eprintln!("anomalog: nothing could be read from {}", describe(paths));
        return Ok(Err(ExitCode::from(2)));
    }
    if !quiet {
        eprintln!("anomalog: {}", loaded.summary());
        if let Some(line) = loaded.coverage_line() {
            eprintln!("anomalog: {line}");
        }
    }
    Ok(Ok(loaded))
}

/// This machine's event logs and task definitions (Windows: `%SystemRoot%\System32\winevt\Logs`,
/// `%SystemRoot%\System32\Tasks`, `%SystemRoot%\Tasks`, and the live registry's TaskCache,
/// `HKLM\SOFTWARE`); `None` elsewhere.
fn live_inputs() -> Option<Vec<PathBuf>> {
    if !cfg!(windows) {
        return None;
    }
    let root =
        PathBuf::from(std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into()));
    Some(vec![
        root.join("System32").join("winevt").join("Logs"),
        root.join("System32").join("Tasks"),
        root.join("Tasks"),
        PathBuf::from("HKLM\\SOFTWARE"),
    ])
}

pub fn summarize(args: SummarizeArgs) -> Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        match live_inputs() {
            Some(p) => p,
            None => bail!(
                "name the logs and task folders to summarise (only on Windows does `summarize` read this machine's own)"
            ),
        }
    } else {
        args.paths.clone()
    };
    let loaded = match read_inputs(&paths, &args.profile, args.load, args.quiet)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let format = args.format.unwrap_or(
        if args
            .output
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("parquet"))
        {
            SummaryFormat::Parquet
        } else {
            SummaryFormat::Jsonl
        },
    );
    crate::util::write_file(&args.output, |w| match format {
        SummaryFormat::Jsonl => crate::output::summary::write(&loaded, w),
        SummaryFormat::Parquet => crate::output::summary::write_parquet(&loaded, w),
    })
    .with_context(|| format!("cannot write {}", args.output.display()))?;
    if !args.quiet {
        eprintln!(
            "anomalog: wrote the summary of {} unique events to {}",
            loaded.dataset.uniques.len(),
            crate::util::sanitize::for_terminal(&args.output.display().to_string(), 300)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The output format `rank` writes: `-f` when given, else the output file's extension
/// (`-o out.parquet`; an extension no format has is an error), else the table.
fn format_of(args: &RankArgs) -> Result<Format> {
    if let Some(f) = args.format {
        return Ok(f);
    }
    match Format::from_path(std::path::Path::new(&args.output)) {
        Ok(f) => Ok(f.unwrap_or(Format::Table)),
        Err(e) => bail!("{e}"),
    }
}

pub fn rank(args: RankArgs) -> Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        default_paths()
    } else {
        args.paths.clone()
    };
    let to_stdout = args.output == "-";
    let format = format_of(&args)?;
    if to_stdout && format == Format::Parquet && std::io::stdout().is_terminal() {
        bail!("Parquet is binary: write it to a file with -o FILE, or pipe standard output");
    }
    let loaded = match read_inputs(&paths, &args.profile, args.load, args.quiet)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let suggestion = loaded.suggest_profile(loaded.dataset.profile);
    let ds = loaded.dataset;
    let session = rank_session(&paths, &args, &ds);
    if ds.uniques.is_empty() && args.by != By::Host {
        // Nothing to rank is an answer, not an error: empty output, and why on stderr.
        eprintln!("anomalog: no {} events in {}", ds.profile, describe(&paths));
        if let Some((other, n)) = suggestion {
            eprintln!(
                "anomalog: these logs hold {n} records of the kinds `--profile {other}` reads"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.by == By::Host {
        // What evidence each host has: nothing to train (the rows carry no score).
        let ranking = crate::model::rarity::rank(&ds);
        if args.filter.is_some() {
            bail!("--filter reads the rows of events, definitions and tasks, not of hosts");
        }
        return write_ranking(&args, format, (&ds, None), &ranking, session.as_ref());
    }
    let ds = std::sync::Arc::new(ds);
    let task = match &args.baseline {
        Some(path) => Task::Baseline(Box::new(Saved::load(path)?)),
        None => Task::Train {
            kind: args.model,
            config: AeConfig {
                seed: args.seed,
                epochs: args.epochs,
                objective: args.objective,
                ..AeConfig::default()
            },
        },
    };
    let trained = train(ds.clone(), task, args.quiet)?;
    if let Some(path) = &args.save_model {
        save_model(path, &trained, args.quiet)?;
    }
    let ranking = std::sync::Arc::new(trained.ranking);
    let keep = match &args.filter {
        Some(q) => Some(filtered(&args, q, &ds, &ranking, session.as_ref())?),
        None => None,
    };
    write_ranking(
        &args,
        format,
        (&ds, keep.as_deref()),
        &ranking,
        session.as_ref(),
    )
}

/// `--filter`: which rows of the view (`--by`) the query keeps, by index, as the UI's filter
/// would keep them.
fn filtered(
    args: &RankArgs,
    query: &str,
    ds: &std::sync::Arc<crate::frame::Dataset>,
    ranking: &std::sync::Arc<crate::model::Ranking>,
    session: Option<&crate::session::Session>,
) -> Result<Vec<bool>> {
    use crate::app::{Data, Table, View, query::Query};
    let q =
        Query::parse(query, &ds.fields).map_err(|e| anyhow::anyhow!("--filter {query:?}: {e}"))?;
    let data = Data::new(ds.clone(), ranking.clone());
    let view = match args.by {
        By::Task => View::Tasks,
        By::Definition => View::Definitions,
        By::Event | By::Host => View::Events,
    };
    let table = Table {
        view,
        data: &data,
        session,
    };
    let filter = crate::app::Filter::Query(q);
    let n = match view {
        View::Tasks => ds.tasks.tasks.len(),
        _ => ds.uniques.len(),
    };
    Ok((0..n).map(|i| table.passes(i, Some(&filter))).collect())
}

/// The triage session beside the logs (its verdicts and notes go out with the rows), and
/// with `--exclude-benign` its benign events left out of training.
fn rank_session(
    paths: &[PathBuf],
    args: &RankArgs,
    ds: &crate::frame::Dataset,
) -> Option<crate::session::Session> {
    let session =
        match crate::session::Session::for_inputs(paths, args.triage.session.as_deref(), ds) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("anomalog: warning: {e}");
                None
            }
        };
    if args.triage.exclude_benign {
        match &session {
            Some(s) if s.restored => {
                let n = s.exclude_benign(ds);
                if !args.quiet {
                    eprintln!(
                        "anomalog: {n} unique event{} marked benign in {} left out of training",
                        if n == 1 { "" } else { "s" },
                        s.path.display()
                    );
                }
            }
            _ => eprintln!(
                "anomalog: warning: --exclude-benign: no triage session to read verdicts from"
            ),
        }
    }
    session
}

/// `--save-model`: the trained autoencoder(s), written whole or not at all.
fn save_model(path: &std::path::Path, trained: &worker::Trained, quiet: bool) -> Result<()> {
    match &trained.model {
        Some(m) => {
            let bytes = m.to_bytes()?;
            crate::util::write_file(path, |f| f.write_all(&bytes))
                .with_context(|| format!("saving the model to {}", path.display()))?;
            if !quiet {
                eprintln!("anomalog: saved the model to {}", path.display());
            }
        }
        None => eprintln!(
            "anomalog: warning: --save-model saves an autoencoder; {} has nothing to save",
            trained.ranking.model
        ),
    }
    Ok(())
}

/// Write the ranking's rows (events or tasks) to standard output or the `-o` file.
fn write_ranking(
    args: &RankArgs,
    format: Format,
    (ds, keep): (&crate::frame::Dataset, Option<&[bool]>),
    ranking: &crate::model::Ranking,
    session: Option<&crate::session::Session>,
) -> Result<ExitCode> {
    // `--filter` first, then `--top`: the top N of the rows the query keeps.
    let kept = |order: &mut Vec<usize>| {
        if let Some(keep) = keep {
            order.retain(|&i| keep.get(i).copied().unwrap_or(false));
            if let Some(n) = args.top {
                order.truncate(n);
            }
        }
    };
    let top = if keep.is_some() { None } else { args.top };
    let to_stdout = args.output == "-";
    // A table on a terminal fits it (`COLUMNS` wins, as in other tools); piped or written to
    // a file it keeps its fixed layout.
    let width = (to_stdout && format == Format::Table)
        .then(terminal_width)
        .flatten();
    let write = |out: &mut dyn Write| -> Result<usize> {
        match args.by {
            By::Event => {
                let mut rows = Rows::new(ds, ranking, top);
                kept(&mut rows.order);
                let rows = rows
                    .with_session(session)
                    .with_raw(args.raw)
                    .with_width(width);
                rows.write(format, out)?;
                Ok(rows.order.len())
            }
            By::Definition => {
                let mut rows = Rows::of_kind(ds, ranking, crate::frame::RowKind::Definition, top);
                kept(&mut rows.order);
                let rows = rows
                    .with_session(session)
                    .with_raw(args.raw)
                    .with_width(width);
                rows.write(format, out)?;
                Ok(rows.order.len())
            }
            By::Host => {
                let rows = crate::output::hosts::HostRows::new(ds, args.top).with_width(width);
                rows.write(format, out)?;
                Ok(rows.hosts.len())
            }
            By::Task => {
                let mut rows = TaskRows::ranked(ds, ranking, top);
                kept(&mut rows.order);
                let rows = rows.with_session(session).with_width(width);
                rows.write(format, out)?;
                Ok(rows.order.len())
            }
        }
    };
    if args.top == Some(0) {
        // Not an error, but never a silent empty answer.
        eprintln!("anomalog: --top 0: every row cut, nothing written but the header");
    }
    if to_stdout {
        let stdout = std::io::stdout();
        let mut lock = std::io::BufWriter::new(stdout.lock());
        write_ignoring_broken_pipe(write(&mut lock).map(|_| ()))?;
    } else {
        let written = crate::output::write_file_with(std::path::Path::new(&args.output), write)
            .with_context(|| format!("cannot write {}", args.output))?;
        if !args.quiet {
            eprintln!("anomalog: wrote {written} rows to {}", args.output);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    let cfg = crate::simulate::Config {
        hosts: args.hosts,
        days: args.days,
        seed: args.seed,
        attacks: !args.no_attacks,
        jsonl: args.jsonl,
        background: args.background,
        summaries: args.summaries,
        logging: args.logging,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let truth = crate::simulate::simulate(&cfg, &args.out)
        .with_context(|| format!("simulating into {}", args.out.display()))?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "anomalog: wrote {} records for {} hosts over {} days to {} in {:.1} s ({:.0} records/s); {} attacks planted (ground_truth.json)",
        truth.records,
        truth.hosts,
        truth.days,
        args.out.display(),
        secs,
        truth.records as f64 / secs.max(1e-9),
        truth.attacks.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `anomalog rank | head` closes the pipe early: that is no error.
fn write_ignoring_broken_pipe(r: Result<()>) -> Result<()> {
    match r {
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .and_then(serde_json::Error::io_error_kind)
                        == Some(std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The width a table on standard output should fit: `COLUMNS` when set, else the terminal's
/// when standard output is one.
fn terminal_width() -> Option<usize> {
    if let Some(w) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w >= 20)
    {
        return Some(w);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    ratatui::crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
        .filter(|&w| w >= 20)
}

/// A progress line cut to the terminal's width: a line that wraps is not redrawn in place
/// (`\r` goes back to the start of its last row only).
fn progress_line(text: String) -> String {
    let width = ratatui::crossterm::terminal::size()
        .ok()
        .map_or(80, |(w, _)| usize::from(w));
    if text.chars().count() < width {
        return text;
    }
    text.chars().take(width.saturating_sub(1)).collect()
}

/// Train (or score) on the worker thread, showing its progress on stderr.
fn train(
    ds: std::sync::Arc<crate::frame::Dataset>,
    task: Task,
    quiet: bool,
) -> Result<worker::Trained> {
    let job = worker::spawn(ds, task);
    let tty = !quiet && std::io::stderr().is_terminal();
    let mut last = None;
    let result = loop {
        match job.rx.recv() {
            Ok(WorkerMsg::Epoch(r)) => {
                if tty {
                    let width = 30;
                    let done = r.epoch * width / r.epochs.max(1);
                    let line = progress_line(format!(
                        "anomalog: training [{}{}] epoch {}/{} loss {:.3}, {:.1} s left",
                        "#".repeat(done),
                        " ".repeat(width - done),
                        r.epoch,
                        r.epochs,
                        r.loss,
                        r.eta
                    ));
                    eprint!("\r\x1b[K{line}");
                }
                last = Some(r);
            }
            Ok(WorkerMsg::Done(t)) => break Ok(*t),
            Ok(WorkerMsg::Failed(e)) => break Err(anyhow::anyhow!(e)),
            Ok(WorkerMsg::Cancelled) | Err(_) => break Err(anyhow::anyhow!("training stopped")),
        }
    };
    if tty {
        eprint!("\r\x1b[K");
    }
    if let (Ok(t), Some(r), false) = (&result, last, quiet) {
        // The hybrid's report counts the epochs of its three trainings together.
        let what = match &t.model {
            Some(Saved::Hybrid(h)) => format!(
                "{} (hybrid: {} autoencoders, {} epochs in all)",
                t.ranking.model,
                h.models(),
                r.epochs
            ),
            _ => format!("{} for {} epochs", t.ranking.model, r.epochs),
        };
        eprintln!(
            "anomalog: trained {what} in {:.1} s (loss {:.3})",
            r.elapsed, r.loss
        );
    }
    job.join();
    result
}

/// Run `work` while a thread redraws a one-line progress counter on stderr (only when stderr
/// is a terminal: logs and pipes get the summary alone).
fn with_progress_line<T>(show: bool, progress: &Progress, work: impl FnOnce() -> T) -> T {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    if !show || !std::io::stderr().is_terminal() {
        return work();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = std::time::Instant::now();
            while !done.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(150));
                let line = progress_line(format!(
                    "anomalog: {}/{} files, {} records, {:.1} s",
                    progress.files_done.load(Relaxed),
                    progress.files_total.load(Relaxed),
                    progress.records.load(Relaxed),
                    start.elapsed().as_secs_f64()
                ));
                eprint!("\r\x1b[K{line}");
            }
            eprint!("\r\x1b[K");
        });
        let out = work();
        done.store(true, Relaxed);
        out
    })
}

fn describe(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    let more = paths.len().saturating_sub(3);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}
