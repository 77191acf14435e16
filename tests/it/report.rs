//! `anomalog report`: one self-contained HTML page, opened in a real headless browser
//! (Debian's `chromium`, which `.ci/run` installs; the browser part skips with a printed
//! reason where it is missing).

use crate::util::{self, anomalog};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(c).output()
            && out.status.success()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    eprintln!("SKIP (browser part): no chromium on this machine (.ci/run installs it)");
    None
}

/// Chromium headless with no network and a profile of its own, as root too.
fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The samples with a verdict and a note on the top event, in a session file.
fn judged_session(dir: &Path) -> PathBuf {
    let loaded = util::load(&[util::samples()]);
    let path = dir.join("session.json");
    let mut s = anomalog::session::Session::open(path.clone(), &loaded.dataset).unwrap();
    let u = (0..loaded.dataset.uniques.len())
        .find(|&u| {
            loaded
                .dataset
                .value(u, "task_name")
                .eq_ignore_ascii_case("\\rjjjthqy")
        })
        .expect("the atexec task");
    s.update(&loaded.dataset, u, |e| {
        e.verdict = Some(anomalog::session::Verdict::Malicious);
        e.note = "<b>atexec</b> & friends".into();
        e.marked = true;
    });
    s.save().unwrap();
    path
}

#[test]
fn the_report_is_one_page_with_the_top_rows_coverage_and_triage() {
    let dir = tempfile::tempdir().unwrap();
    let session = judged_session(dir.path());
    let html = dir.path().join("report.html");
    anomalog()
        .args(["report", "samples", "-m", "rarity", "-q", "--session"])
        .arg(&session)
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing fetched, nothing run.
    for forbidden in ["<script", "http://", "https://", "src=\"", "<link"] {
        assert!(!page.contains(forbidden), "{forbidden} in the report");
    }
    assert!(page.contains("default-src 'none'"));
    assert_eq!(
        page.matches("class=\"row\"").count(),
        20 + 1,
        "top 20 and one judged"
    );
    assert!(page.contains("What could be seen per host (8)"));
    assert!(page.contains("definitions-only") || page.contains("only its definitions"));
    assert!(page.contains("class=\"spread\""), "spread charts");
    // The note is the analyst's text: shown, not obeyed.
    assert!(page.contains("&lt;b&gt;atexec&lt;/b&gt; &amp; friends"));
    assert!(!page.contains("<b>atexec</b>"));
    // Tasks too.
    let tasks = dir.path().join("tasks.html");
    anomalog()
        .args([
            "report", "samples", "-m", "rarity", "-q", "--by", "task", "-n", "5", "-o",
        ])
        .arg(&tasks)
        .assert()
        .success();
    let t = std::fs::read_to_string(&tasks).unwrap();
    assert!(t.contains("the most unusual tasks") && t.matches("class=\"row\"").count() == 5);

    let Some(browser) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html.display());
    let dom = headless(&browser, profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("The 20 most unusual unique events"), "{dom}");
    assert!(dom.contains("Marked, judged and noted (1)"), "{dom}");
    assert!(dom.contains("RJJJThqy"), "{dom}");
    let shot = dir.path().join("report.png");
    let out = headless(&browser, profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,1600")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), (1200, 1600));
    // A page of text and charts, not a blank one.
    assert!(png.len() > 40_000, "{} bytes", png.len());
}
