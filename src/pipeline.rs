//! From paths to a ranked dataset: the steps every front end (headless `rank`, the TUI)
//! runs, in one place.

use std::path::PathBuf;

use crate::frame::{Builder, Dataset, Options, Part};
use crate::ingest::{self, FileReport, Prefilter, Progress};
use crate::profile::Profile;

/// What loading a set of paths gave.
#[derive(Debug)]
pub struct Loaded {
    pub dataset: Dataset,
    pub reports: Vec<FileReport>,
    /// Records read from all inputs, whatever the profile kept.
    pub records: u64,
    /// Records, chunks or lines that could not be read.
    pub skipped: u64,
    /// Files (and zip members) read.
    pub files: usize,
    /// Files found in folders that held no event log, passed over without a warning.
    pub passed_over: usize,
    /// Warnings that concern no single file (the session's, hosts described by several
    /// inputs).
    pub notes: Vec<String>,
    /// Hosts described by more than one input (their logs and a summary, two summaries).
    pub conflicted_hosts: usize,
}

impl Loaded {
    /// When the profile found nothing: another profile whose channels and event ids these
    /// logs hold, and how many such records (the most of any profile), read off the files'
    /// histograms (nothing is read again).
    pub fn suggest_profile(&self, current: &str) -> Option<(&'static str, u64)> {
        let mut counts: std::collections::BTreeMap<(String, u32), u64> =
            std::collections::BTreeMap::new();
        for r in &self.reports {
            for (k, n) in r.histogram() {
                *counts.entry(k).or_default() += n;
            }
        }
        crate::profile::PROFILES
            .iter()
            .filter(|&&p| p != current)
            .filter_map(|&name| {
                let profile = crate::profile::by_name(name)?;
                let n: u64 = counts
                    .iter()
                    .filter(|((channel, id), _)| {
                        let ch = crate::event::canonical_channel(channel);
                        profile.sources().iter().any(|(c, ids)| {
                            (*c == "*" || *c == ch) && (ids.is_empty() || ids.contains(id))
                        })
                    })
                    .map(|(_, n)| n)
                    .sum();
                (n > 0).then_some((name, n))
            })
            .max_by_key(|&(name, n)| (n, std::cmp::Reverse(name)))
    }

    /// Nothing at all could be read: no record from any input, and something went wrong
    /// (or there was no input).
    pub fn nothing_read(&self) -> bool {
        self.records == 0
            && (self.reports.is_empty() || self.reports.iter().any(|r| !r.problems.is_empty()))
    }

    /// Warning lines for stderr, one per file with problems.
    pub fn warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.reports
            .iter()
            .filter_map(FileReport::warning)
            .chain(self.notes.iter().cloned())
    }

    /// When nothing could be read: why, for each input passed over silently (a folder's or
    /// an archive's files that hold no log), so that the analyst is not left guessing.
    pub fn passed_over_reasons(&self) -> impl Iterator<Item = String> + '_ {
        self.reports
            .iter()
            .filter(|r| r.passed_over())
            .take(20)
            .map(|r| {
                crate::util::sanitize::for_terminal(
                    &format!("{}: passed over: {}", r.path, r.problems.join("; ")),
                    400,
                )
            })
    }

    /// A one-line summary for stderr.
    /// The summary's numbers alone, short enough for the header at 80 columns.
    pub fn headline(&self) -> String {
        let d = &self.dataset;
        let s = |n: u64| if n == 1 { "" } else { "s" };
        // What was skipped, and where: records or chunks that could not be read, in files.
        let skipped = if self.skipped > 0 {
            let files = self
                .reports
                .iter()
                .filter(|r| !r.passed_over() && r.skipped > 0)
                .count() as u64;
            format!(", {} unreadable in {files} file{}", self.skipped, s(files))
        } else {
            String::new()
        };
        format!(
            "{} record{}, {} file{}{skipped}, {} unique, {} host{}",
            self.records,
            s(self.records),
            self.files,
            s(self.files as u64),
            d.uniques.len(),
            d.fleet_size(),
            s(d.fleet_size() as u64),
        )
    }

    /// What could be seen of tasks, hosts per verdict (`None` without hosts): a quiet host
    /// is not a clean host.
    pub fn coverage_line(&self) -> Option<String> {
        let tally = crate::context::coverage::tally(&self.dataset.coverage);
        if tally.is_empty() {
            return None;
        }
        let parts: Vec<String> = tally
            .iter()
            .map(|(v, n)| format!("{n} host{} {}", if *n == 1 { "" } else { "s" }, v.key()))
            .collect();
        let mut line = format!("what could be seen of tasks: {}", parts.join(", "));
        if let Some((v, _)) = tally
            .iter()
            .find(|(v, _)| *v >= crate::frame::Visibility::DefinitionsOnly)
        {
            line.push_str(&format!(
                " ({}: {}; `rank --by host` says which)",
                v.key(),
                v.text()
            ));
        }
        Some(line)
    }

    pub fn summary(&self) -> String {
        let d = &self.dataset;
        let kept = d
            .uniques
            .iter()
            .fold(0u64, |n, e| n.saturating_add(e.count()));
        let passed = if self.passed_over > 0 {
            format!(
                ", {} non-log file{} passed over",
                self.passed_over,
                if self.passed_over == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        let conflicts = match self.conflicted_hosts {
            0 => String::new(),
            1 => "; 1 host described by more than one input (see the warnings)".into(),
            n => format!("; {n} hosts described by more than one input (see the warnings)"),
        };
        format!(
            "read {} records from {} file{} ({} skipped{passed}); {} {} events kept ({} duplicate records dropped) -> {} unique events on {} host{}{conflicts}",
            self.records,
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.skipped,
            kept,
            d.profile,
            d.duplicates_dropped,
            d.uniques.len(),
            d.fleet_size(),
            if d.fleet_size() == 1 { "" } else { "s" },
        )
    }
}

/// Read `paths` and build the profile's dataset (default [`Options`]).
pub fn load(paths: &[PathBuf], profile: &dyn Profile, progress: &Progress) -> Loaded {
    load_with(paths, profile, Options::default(), progress)
}

/// Read `paths` and build the profile's dataset.
///
/// Each file is reduced to its unique events while it is read (a [`Part`], on its reading
/// thread; records whose channel and event id the profile never wants are not even rendered),
/// and parts are folded into the dataset as they finish: memory grows with unique events,
/// not with records. The files are read in the order of their paths, and the dataset is put
/// in a canonical order at the end, so that the same files give the same dataset whatever
/// the order they were named or listed in.
pub fn load_with(
    paths: &[PathBuf],
    profile: &dyn Profile,
    options: Options,
    progress: &Progress,
) -> Loaded {
    let mut builder = Builder::with_options(profile, options);
    let reports = ingest::read_paths_with(
        paths,
        &Prefilter::of(profile),
        || Part::new(profile),
        |part| builder.add(part),
        progress,
    );
    let records = ingest::records(&reports);
    let skipped = ingest::skipped(&reports);
    let passed_over = ingest::passed_over(&reports);
    let files = reports
        .iter()
        .filter(|r| !r.not_a_log && (r.kind != "unknown" || r.records > 0))
        .count();
    let (mut dataset, merged) = builder.finish_with_notes();
    crate::context::coverage::add_logs(&mut dataset, &reports);
    crate::context::add(&mut dataset);
    Loaded {
        dataset,
        reports,
        records,
        skipped,
        files,
        passed_over,
        notes: merged.notes,
        conflicted_hosts: merged.conflicted_hosts,
    }
}
