//! Writing never damages what is there: `rank -o`, `summarize -o` and `--save-model` write a
//! device, a FIFO or `/dev/stdout` directly (never replacing it with a file), write through a
//! link, keep a file's mode (and, as root, its owner), refuse what a shell redirect refuses,
//! name a missing folder, and never follow a link planted at a temporary file's name.
//! Each test runs as the test's user; those that only root can set up (a device made with
//! `mknod`, a file given to another owner) say `SKIP` otherwise.

#![cfg(unix)]

use crate::util;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::bin;

/// A small log of the scheduled-task profile.
fn log() -> PathBuf {
    util::root().join("tests/fixtures/evtx_dump.jsonl")
}

/// `rank -m rarity -f jsonl LOG -o OUT`.
fn rank_to(out: &Path) -> Output {
    bin()
        .args(["rank", "-q", "-m", "rarity", "-f", "jsonl"])
        .arg(log())
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_character_device_stays_a_device() {
    if !is_root() {
        eprintln!("SKIP: making a device node needs root (mknod)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("null");
    // The null device's numbers (1, 3): what is written there goes nowhere.
    let c = std::ffi::CString::new(dev.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mknod only creates a node in our temp folder.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made != 0 {
        eprintln!(
            "SKIP: mknod refused here: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    for args in [
        vec!["rank", "-q", "-m", "rarity", "-f", "jsonl"],
        vec!["summarize", "-q"],
    ] {
        let o = bin()
            .args(&args)
            .arg(log())
            .arg("-o")
            .arg(&dev)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let m = std::fs::symlink_metadata(&dev).unwrap();
        assert!(m.file_type().is_char_device(), "{args:?}: {m:?}");
        assert_eq!(m.rdev(), libc::makedev(1, 3));
    }
    // No temporary file was left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_fifo_is_written_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path in our temp folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(&fifo).unwrap())
    };
    let o = rank_to(&fifo);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = reader.join().unwrap();
    assert!(
        got.lines().count() >= 1 && got.starts_with("{\"rank\":1"),
        "{got}"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn dev_stdout_is_written_not_replaced() {
    // Through a pipe: /dev/stdout is the pipe.
    let o = bin()
        .args(["rank", "-q", "-m", "rarity", "-f", "jsonl"])
        .arg(log())
        .args(["-o", "/dev/stdout"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("{\"rank\":1"));
    // Redirected to a file by the shell: the file the shell opened holds the rows.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' rank -q -m rarity -f jsonl '{}' -o /dev/stdout > '{}'",
            env!("CARGO_BIN_EXE_anomalog"),
            log().display(),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("{\"rank\":1")
    );
    assert!(std::fs::symlink_metadata("/dev/stdout").is_ok());
}

#[test]
fn a_link_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.jsonl");
    std::fs::write(&real, "old\n").unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
    let o = rank_to(&link);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .starts_with("{\"rank\":1")
    );
    // A link to a file not made yet makes it there.
    let dangling = dir.path().join("later.jsonl");
    std::os::unix::fs::symlink("made-later.jsonl", &dangling).unwrap();
    assert!(rank_to(&dangling).status.success());
    assert!(dir.path().join("made-later.jsonl").is_file());
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_file_keeps_its_mode_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    std::fs::write(&out, "old\n").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    // As root: the file belongs to someone else, as a shared case folder's files do.
    let owner = if is_root() {
        let nobody = 65534;
        std::os::unix::fs::chown(&out, Some(nobody), Some(nobody)).unwrap();
        Some(nobody)
    } else {
        eprintln!("SKIP (owner part): giving a file to another user needs root");
        None
    };
    let o = rank_to(&out);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::metadata(&out).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    if let Some(uid) = owner {
        assert_eq!((m.uid(), m.gid()), (uid, uid));
    }
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("{\"rank\":1")
    );
    // A new file gets what a shell redirect would give it.
    let new = dir.path().join("new.jsonl");
    assert!(rank_to(&new).status.success());
    let shell = dir.path().join("shell.txt");
    assert!(
        Command::new("sh")
            .arg("-c")
            .arg(format!(": > '{}'", shell.display()))
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        std::fs::metadata(&new).unwrap().mode() & 0o7777,
        std::fs::metadata(&shell).unwrap().mode() & 0o7777
    );
}

#[test]
fn a_read_only_file_is_refused_as_a_shell_redirect_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ro.jsonl");
    let probe = dir.path().join("probe.txt");
    for f in [&out, &probe] {
        std::fs::write(f, "old\n").unwrap();
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    // What the shell does with the same file (root may write it, others may not).
    let shell_writes = Command::new("sh")
        .arg("-c")
        .arg(format!("echo new > '{}'", probe.display()))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    let o = rank_to(&out);
    assert_eq!(o.status.success(), shell_writes, "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    if shell_writes {
        assert!(text.starts_with("{\"rank\":1"));
        assert_eq!(
            std::fs::metadata(&out).unwrap().mode() & 0o777,
            0o444,
            "written, and still read-only"
        );
    } else {
        assert_eq!(text, "old\n", "left as it was");
        assert!(stderr(&o).contains("ro.jsonl"), "{}", stderr(&o));
    }
}

/// As root, the same again as an ordinary user (`setpriv` to `nobody`): the file is refused,
/// as that user's shell refuses it.
#[test]
fn a_read_only_file_is_refused_for_an_ordinary_user() {
    if !is_root() {
        eprintln!("SKIP: runs as an ordinary user already (the test above covers it)");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIP: no setpriv to run as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // A copy of the binary and the log that `nobody` may read (the build folder is root's).
    let exe = dir.path().join("anomalog");
    std::fs::copy(env!("CARGO_BIN_EXE_anomalog"), &exe).unwrap();
    let input = dir.path().join("log.jsonl");
    std::fs::copy(log(), &input).unwrap();
    let nobody = 65534;
    let out = dir.path().join("ro.jsonl");
    let probe = dir.path().join("probe.txt");
    for f in [&out, &probe] {
        std::fs::write(f, "old\n").unwrap();
        std::os::unix::fs::chown(f, Some(nobody), Some(nobody)).unwrap();
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let as_nobody = |program: &Path| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program);
        c
    };
    let shell_writes = as_nobody(Path::new("/bin/sh"))
        .arg("-c")
        .arg(format!("echo new > '{}'", probe.display()))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(
        !shell_writes,
        "an ordinary user's shell refuses a read-only file"
    );
    let o = as_nobody(&exe)
        .args(["rank", "-q", "-m", "rarity", "-f", "jsonl"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("ro.jsonl"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    // And a file of its own it may write keeps its mode.
    let own = dir.path().join("own.jsonl");
    std::fs::write(&own, "old\n").unwrap();
    std::os::unix::fs::chown(&own, Some(nobody), Some(nobody)).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = as_nobody(&exe)
        .args(["rank", "-q", "-m", "rarity", "-f", "jsonl"])
        .arg(&input)
        .arg("-o")
        .arg(&own)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::metadata(&own).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid()), (0o640, nobody));
}

#[test]
fn a_missing_folder_is_named_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/folder/out.jsonl");
    let o = rank_to(&out);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("folder") && err.contains("no/such/folder"),
        "{err}"
    );
    assert!(!dir.path().join("no").exists());
    // The same for --save-model and summarize.
    let model = dir.path().join("missing/model.safetensors");
    let o = bin()
        .args([
            "rank",
            "-q",
            "--epochs",
            "1",
            "-f",
            "jsonl",
            "-o",
            "/dev/null",
        ])
        .arg(log())
        .arg("--save-model")
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
    let o = bin()
        .args(["summarize", "-q"])
        .arg(log())
        .arg("-o")
        .arg(dir.path().join("gone/s.jsonl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!dir.path().join("missing").exists() && !dir.path().join("gone").exists());
}

/// A link planted where the older writers put their temporary file (`.NAME.PID.tmp`, the
/// process id known in advance with `exec`), and where zip members were spilled
/// (`$TMPDIR/anomalog-PID-0.evtx`): neither is ever written through.
#[test]
fn a_link_planted_at_a_temporary_name_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = dir.path().join("out.jsonl");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // A zip with an .evtx member (spilled to a temporary file when read).
    let zip = dir.path().join("logs.zip");
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
        z.start_file("Security.evtx", zip::write::SimpleFileOptions::default())
            .unwrap();
        let evtx = util::root().join("samples/SRV01/Security.evtx");
        z.write_all(&std::fs::read(evtx).unwrap()).unwrap();
        z.finish().unwrap();
    }
    let script = format!(
        "ln -s '{v}' '{d}/.out.jsonl.'$$'.tmp'; ln -s '{v}' '{t}/anomalog-'$$'-0.evtx'; \
         TMPDIR='{t}' exec '{bin}' rank -q -m rarity -f jsonl '{zip}' -o '{out}'",
        v = victim.display(),
        d = dir.path().display(),
        t = tmp.display(),
        bin = env!("CARGO_BIN_EXE_anomalog"),
        zip = zip.display(),
        out = out.display(),
    );
    let o = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("{\"rank\":1")
    );
    // The link at the writer's own older name is cleared; nothing else is left beside.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Only the planted link is in the temporary folder: the member went to an unnamed file.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
}
