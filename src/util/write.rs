//! Writing the files that hold an analyst's work without damaging what is there.
//!
//! - A regular file (or a path that does not exist yet) is replaced atomically: the content
//!   goes to a temporary file in the same folder, created exclusively under an unpredictable
//!   name (`O_CREAT|O_EXCL`, so a link planted there is never followed), flushed to disk and
//!   renamed over the target. A reader or a crash sees the old file or the whole new one. The
//!   old file's mode (and, where the writer may set it, its owner) is kept; a new file gets
//!   the mode a shell redirect would give it.
//! - A target that is no regular file (a device such as `/dev/null`, a FIFO, a socket,
//!   `/dev/stdout`, `/proc/self/fd/N`) is written directly, as a shell redirect writes it:
//!   it is never replaced by a file.
//! - A symbolic link is written through: the link stays, the file it points to is replaced.
//! - A target the writer may not write is refused, as a shell redirect refuses it (root may
//!   write a read-only file, as root's shell may).
//! - A missing folder is an error that names it: nothing is created on the way.
//!
//! Temporary files of writers that were killed are removed by the next write to the same
//! target ([`remove_stale_temporaries`]).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How many symbolic links are followed to reach the file a path names (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Write `path` through `write` without damaging what is there (see the module's text).
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match plan(path)? {
        Plan::Direct { regular } => {
            // As a shell redirect does: `>` truncates a regular file, a device or FIFO is
            // simply opened for writing.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(regular)
                .open(path)?;
            let mut w = io::BufWriter::new(file);
            write(&mut w)?;
            w.flush()
        }
        Plan::Replace { target, existing } => replace(&target, existing.as_ref(), write),
    }
}

/// What writing a path means.
#[derive(Debug)]
enum Plan {
    /// Open and write it (no regular file, or one reached through `/dev` or `/proc`).
    Direct { regular: bool },
    /// Replace the regular file `target` (the path, or what its links lead to) atomically;
    /// `existing`: its metadata when it exists.
    Replace {
        target: PathBuf,
        existing: Option<std::fs::Metadata>,
    },
}

fn plan(path: &Path) -> io::Result<Plan> {
    // What the kernel finds there, links followed.
    let kernel = std::fs::metadata(path);
    if let Ok(m) = &kernel {
        if m.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a folder", path.display()),
            ));
        }
        if !m.is_file() {
            return Ok(Plan::Direct { regular: false });
        }
    }
    // `/dev/stdout` and `/proc/self/fd/N` are links the kernel resolves to an open file (a
    // pipe, a terminal, the file a shell opened): written as they are, never replaced.
    if is_special_path(path) {
        return Ok(Plan::Direct {
            regular: kernel.as_ref().is_ok_and(std::fs::Metadata::is_file),
        });
    }
    let target = follow_links(path)?;
    let existing = match std::fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(m) = &existing {
        if !m.is_file() {
            return Ok(Plan::Direct { regular: false });
        }
        // Refused where a shell redirect would be refused (a read-only file, for anyone but
        // root; an immutable one, for anyone): opening it for writing tells, changing nothing.
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(&target) {
            return Err(io::Error::new(
                e.kind(),
                format!("{} cannot be written: {e}", target.display()),
            ));
        }
    } else {
        let dir = folder_of(&target);
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the folder {} does not exist", dir.display()),
            ));
        }
    }
    Ok(Plan::Replace { target, existing })
}

/// Paths under `/dev` and `/proc`: devices and the kernel's links to open files.
fn is_special_path(path: &Path) -> bool {
    cfg!(unix) && (path.starts_with("/dev") || path.starts_with("/proc"))
}

/// The file `path` names once its symbolic links are followed (it need not exist: a link to
/// a file not yet made names where it will be).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&at)?;
                at = if to.is_absolute() {
                    to
                } else {
                    folder_of(&at).join(to)
                };
            }
            _ => return Ok(at),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{}: more than {MAX_LINKS} symbolic links (a loop?)",
            path.display()
        ),
    ))
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The temporary files of `name` start with this: `.NAME.PID.` then a random part.
fn temp_prefix(name: &std::ffi::OsStr) -> OsString {
    let mut p = OsString::from(".");
    p.push(name);
    p.push(format!(".{}.", std::process::id()));
    p
}

fn replace(
    target: &Path,
    existing: Option<&std::fs::Metadata>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = folder_of(target);
    let name = target
        .file_name()
        .map_or_else(|| OsString::from("out"), |n| n.to_os_string());
    remove_stale_temporaries(dir, &name);
    let prefix = temp_prefix(&name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .rand_bytes(10)
        .tempfile_in(dir)?;
    keep_mode_and_owner(tmp.as_file(), existing)?;
    {
        let mut w = io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(target).map_err(|e| e.error)?;
    // The rename itself reaches the disk with the folder.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Give the new file the old one's mode and owner, or (a new file) the mode a shell
/// redirect would give it (`0666` less the umask).
#[cfg(unix)]
fn keep_mode_and_owner(
    file: &std::fs::File,
    existing: Option<&std::fs::Metadata>,
) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    match existing {
        Some(m) => {
            file.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
            let mine = file.metadata()?;
            if (mine.uid(), mine.gid()) != (m.uid(), m.gid()) {
                // Only root may give a file away; others keep what they may (the group, when
                // they belong to it), and the file is theirs, as a copy would be.
                if std::os::unix::fs::fchown(file, Some(m.uid()), Some(m.gid())).is_err() {
                    let _ = std::os::unix::fs::fchown(file, None, Some(m.gid()));
                }
                // A change of owner clears set-id bits: set the mode again.
                file.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
            }
        }
        None => {
            file.set_permissions(std::fs::Permissions::from_mode(0o666 & !umask()))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn keep_mode_and_owner(
    file: &std::fs::File,
    existing: Option<&std::fs::Metadata>,
) -> io::Result<()> {
    if let Some(m) = existing {
        file.set_permissions(m.permissions())?;
    }
    Ok(())
}

/// The process's umask, read without changing it (`umask(2)` can only be read by setting
/// it, which would race with other threads creating files): Linux says it in
/// `/proc/self/status`; elsewhere the common `022`.
#[cfg(unix)]
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Remove temporary files of writes to `name` in `dir` whose writer is gone (killed
/// mid-write), best effort. Only names of the writers' pattern (`.NAME.PID.RANDOM.tmp`,
/// and the older `.NAME.PID.tmp`) are touched; a link is removed, never followed.
pub fn remove_stale_temporaries(dir: &Path, name: &std::ffi::OsStr) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let me = std::process::id();
    for e in entries.flatten() {
        let file = e.file_name();
        let Some((pid, old_style)) = file.to_str().and_then(|f| temp_pid(f, &prefix)) else {
            continue;
        };
        // The older pattern is never written now: one under this process's id was planted.
        let gone = if pid == me {
            old_style
        } else {
            !process_alive(pid)
        };
        if gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The writer's process id in a temporary file's name, and whether the name has the older
/// pattern (no random part). Positive ids only (0 and negative ones mean process groups to
/// `kill`, never a writer).
fn temp_pid(file: &str, prefix: &str) -> Option<(u32, bool)> {
    let rest = file.strip_prefix(prefix)?.strip_suffix(".tmp")?;
    let (digits, old_style) = match rest.split_once('.') {
        Some((d, random))
            if !random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (d, false)
        }
        Some(_) => return None,
        None => (rest, true),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = digits.parse().ok()?;
    (pid > 0 && i32::try_from(pid).is_ok()).then_some((pid, old_style))
}

fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_give_positive_pids_only() {
        let p = ".s.json.";
        assert_eq!(temp_pid(".s.json.4242.tmp", p), Some((4242, true)));
        assert_eq!(temp_pid(".s.json.4242.Ab3xYz.tmp", p), Some((4242, false)));
        assert_eq!(temp_pid(".s.json.0.tmp", p), None);
        assert_eq!(temp_pid(".s.json.-1.tmp", p), None);
        assert_eq!(temp_pid(".s.json.+7.tmp", p), None);
        assert_eq!(temp_pid(".s.json.99999999999.tmp", p), None);
        assert_eq!(temp_pid(".s.json.12.a/b.tmp", p), None);
        assert_eq!(temp_pid(".other.4242.tmp", p), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_chain_is_followed_and_a_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink("b", d.join("a")).unwrap();
        std::os::unix::fs::symlink(d.join("c"), d.join("b")).unwrap();
        assert_eq!(follow_links(&d.join("a")).unwrap(), d.join("c"));
        std::os::unix::fs::symlink("y", d.join("x")).unwrap();
        std::os::unix::fs::symlink("x", d.join("y")).unwrap();
        assert!(follow_links(&d.join("x")).is_err());
    }
}
