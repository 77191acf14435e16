//! The binary values of the registry's TaskCache (`HKLM\SOFTWARE\Microsoft\Windows NT\
//! CurrentVersion\Schedule\TaskCache\Tasks\{GUID}`): what the Task Scheduler actually runs
//! (`Actions`) and when it made and last ran a task (`DynamicInfo`). The layouts follow G
//! DATA's winreg-tasks structure definitions (MIT) and libyal's winreg-kb notes; the code is
//! ours. Every length is checked against what is left: a value from a hostile hive yields an
//! error saying where, never a panic or a large allocation.

pub use super::bytes::BlobError;
use super::bytes::LeReader;

/// The most actions a task may hold (the Task Scheduler takes 32).
pub const MAX_ACTIONS: usize = 32;
/// The longest string read from a blob, in bytes (a command line is at most 32 KiB).
const MAX_STRING: usize = 64 * 1024;

/// One action of a task, as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Exec {
        id: String,
        command: String,
        arguments: String,
        working_directory: String,
    },
    ComHandler {
        id: String,
        /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, upper case.
        class_id: String,
        data: String,
    },
    /// Sending e-mail (deprecated): the recipient is kept.
    Email { id: String, to: String },
    /// A message box (deprecated): its caption is kept.
    MessageBox { id: String, caption: String },
}

impl Action {
    /// The kind, as task XML names the element.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Exec { .. } => "exec",
            Action::ComHandler { .. } => "com",
            Action::Email { .. } => "email",
            Action::MessageBox { .. } => "message",
        }
    }
}

/// A task's `Actions` value: its version (1 or 3), the principal it runs as (version 3:
/// the context, matching the principal of the task's trigger bucket) and the actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions {
    pub version: u16,
    pub context: String,
    pub actions: Vec<Action>,
}

/// A length-prefixed UTF-16LE string (the length in bytes, at most [`MAX_STRING`]).
fn bstr(r: &mut LeReader<'_>, what: &str) -> Result<String, BlobError> {
    let len = r.u32(what)? as usize;
    if len > MAX_STRING {
        return Err(r.err(format!("{what}: a string of {len} bytes")));
    }
    r.utf16(len, what)
}

/// A GUID's 16 bytes as the registry and task XML write it.
fn guid(b: &[u8]) -> String {
    let u32le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let a = u16::from_le_bytes([b[4], b[5]]);
    let c = u16::from_le_bytes([b[6], b[7]]);
    let tail: String = b[8..16].iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{{{u32le:08X}-{a:04X}-{c:04X}-{}-{}}}",
        &tail[..4],
        &tail[4..]
    )
}

/// Decode an `Actions` value.
pub fn actions(blob: &[u8]) -> Result<Actions, BlobError> {
    let mut r = LeReader::new(blob);
    let version = r.u16("version")?;
    if version != 1 && version != 3 {
        return Err(BlobError {
            at: 0,
            what: format!("version {version} (1 and 3 are known)"),
        });
    }
    let context = if version == 3 {
        bstr(&mut r, "context")?
    } else {
        String::new()
    };
    let mut actions = Vec::new();
    while !r.done() {
        if actions.len() == MAX_ACTIONS {
            return Err(r.err(format!("more than {MAX_ACTIONS} actions")));
        }
        let start = r.at();
        let magic = r.u16("action kind")?;
        let id = bstr(&mut r, "action id")?;
        let action = match magic {
            0x6666 => {
                let command = bstr(&mut r, "command")?;
                let arguments = bstr(&mut r, "arguments")?;
                let working_directory = bstr(&mut r, "working directory")?;
                if version == 3 {
                    r.u16("flags")?;
                }
                Action::Exec {
                    id,
                    command,
                    arguments,
                    working_directory,
                }
            }
            0x7777 => {
                let class_id = guid(r.take(16, "class id")?);
                let data = bstr(&mut r, "data")?;
                Action::ComHandler { id, class_id, data }
            }
            0x8888 => {
                let _from = bstr(&mut r, "from")?;
                let to = bstr(&mut r, "to")?;
                for what in ["cc", "bcc", "reply-to", "server", "subject", "body"] {
                    bstr(&mut r, what)?;
                }
                let files = r.u32("attachments")?;
                for _ in 0..files.min(1024) {
                    bstr(&mut r, "attachment")?;
                }
                let headers = r.u32("headers")?;
                for _ in 0..headers.min(1024) {
                    bstr(&mut r, "header name")?;
                    bstr(&mut r, "header value")?;
                }
                Action::Email { id, to }
            }
            0x9999 => {
                let caption = bstr(&mut r, "caption")?;
                let _content = bstr(&mut r, "content")?;
                Action::MessageBox { id, caption }
            }
            other => {
                return Err(BlobError {
                    at: start,
                    what: format!("an action of unknown kind 0x{other:04x}"),
                });
            }
        };
        actions.push(action);
    }
    Ok(Actions {
        version,
        context,
        actions,
    })
}

/// A task's `DynamicInfo` value: when it was registered, last ran and last succeeded (the
/// 36-byte form of Windows 10 and later; the 28-byte form has no last success), and the last
/// run's result code. Times in microseconds since the Unix epoch (none for a zero FILETIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicInfo {
    pub created: Option<i64>,
    pub last_run: Option<i64>,
    pub last_success: Option<i64>,
    pub last_result: u32,
}

/// A FILETIME (100 ns since 1601) as microseconds since 1970; none for zero or out of range.
fn filetime(ft: u64) -> Option<i64> {
    const EPOCH_DIFF_US: i64 = 11_644_473_600_000_000;
    if ft == 0 {
        return None;
    }
    i64::try_from(ft / 10)
        .ok()?
        .checked_sub(EPOCH_DIFF_US)
        .filter(|t| jiff::Timestamp::from_microsecond(*t).is_ok())
}

/// Decode a `DynamicInfo` value (28 or 36 bytes).
pub fn dynamic_info(blob: &[u8]) -> Result<DynamicInfo, BlobError> {
    if blob.len() != 28 && blob.len() != 36 {
        return Err(BlobError {
            at: 0,
            what: format!("{} bytes (28 and 36 are known)", blob.len()),
        });
    }
    let mut r = LeReader::new(blob);
    r.take(4, "magic")?;
    let created = filetime(r.u64("creation time")?);
    let last_run = filetime(r.u64("last run time")?);
    r.u32("task state")?;
    let last_result = r.u32("last result")?;
    let last_success = if blob.len() == 36 {
        filetime(r.u64("last successful run time")?)
    } else {
        None
    };
    Ok(DynamicInfo {
        created,
        last_run,
        last_success,
        last_result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blobs written as the layout says, for the decoder to read back.
    fn bstr(s: &str) -> Vec<u8> {
        let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut out = (units.len() as u32).to_le_bytes().to_vec();
        out.extend(units);
        out
    }

    fn exec_v3(context: &str, actions: &[(&str, &str, &str)]) -> Vec<u8> {
        let mut b = 3u16.to_le_bytes().to_vec();
        b.extend(bstr(context));
        for (cmd, args, dir) in actions {
            b.extend(0x6666u16.to_le_bytes());
            b.extend(bstr(""));
            b.extend(bstr(cmd));
            b.extend(bstr(args));
            b.extend(bstr(dir));
            b.extend(0u16.to_le_bytes());
        }
        b
    }

    #[test]
    fn exec_and_com_actions_read_back() {
        let blob = exec_v3(
            "Author",
            &[("C:\\Windows\\System32\\cmd.exe", "/c whoami", "C:\\")],
        );
        let a = actions(&blob).unwrap();
        assert_eq!((a.version, a.context.as_str()), (3, "Author"));
        assert_eq!(
            a.actions,
            [Action::Exec {
                id: String::new(),
                command: "C:\\Windows\\System32\\cmd.exe".into(),
                arguments: "/c whoami".into(),
                working_directory: "C:\\".into(),
            }]
        );
        // A version 1 COM handler: the CLSID as task XML writes it.
        let mut b = 1u16.to_le_bytes().to_vec();
        b.extend(0x7777u16.to_le_bytes());
        b.extend(bstr("id1"));
        // {0358B920-0AC7-461F-98F4-58E32CD89148}
        b.extend([
            0x20, 0xB9, 0x58, 0x03, 0xC7, 0x0A, 0x1F, 0x46, 0x98, 0xF4, 0x58, 0xE3, 0x2C, 0xD8,
            0x91, 0x48,
        ]);
        b.extend(bstr("<Data/>"));
        let a = actions(&b).unwrap();
        assert_eq!(
            a.actions,
            [Action::ComHandler {
                id: "id1".into(),
                class_id: "{0358B920-0AC7-461F-98F4-58E32CD89148}".into(),
                data: "<Data/>".into(),
            }]
        );
        assert_eq!(a.actions[0].kind(), "com");
    }

    #[test]
    fn hostile_actions_are_refused_where_they_break() {
        // A string claiming more than is left.
        let mut b = exec_v3("Author", &[("a.exe", "", "")]);
        let at = 2 + 4 + 12 + 2 + 4; // version, context, kind, empty id: the command's length
        b[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let e = actions(&b).unwrap_err();
        assert_eq!(e.at, at + 4);
        assert!(e.what.contains("command"), "{e}");
        // Truncated anywhere: an error, never a panic.
        let whole = exec_v3("Author", &[("a.exe", "-x", "C:\\"), ("b.exe", "", "")]);
        for n in 0..whole.len() {
            let _ = actions(&whole[..n]);
        }
        assert!(actions(&whole).is_ok());
        // Unknown versions and kinds.
        assert!(actions(&[2, 0]).unwrap_err().what.contains("version 2"));
        let mut b = 1u16.to_le_bytes().to_vec();
        b.extend(0x1234u16.to_le_bytes());
        b.extend(bstr(""));
        assert!(actions(&b).unwrap_err().what.contains("0x1234"));
        // Endless actions are bounded.
        let many = exec_v3("A", &vec![("x", "", ""); MAX_ACTIONS + 1]);
        assert!(actions(&many).unwrap_err().what.contains("more than"));
    }

    #[test]
    fn dynamic_info_in_both_forms() {
        // 2024-05-01T10:00:00Z as a FILETIME.
        let t = jiff::Timestamp::from_second(1_714_557_600).unwrap();
        let ft = (t.as_microsecond() + 11_644_473_600_000_000) as u64 * 10;
        let mut b = vec![3, 0, 0, 0];
        b.extend(ft.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0x8007_0002u32.to_le_bytes());
        let short = dynamic_info(&b).unwrap();
        assert_eq!(short.created, Some(t.as_microsecond()));
        assert_eq!((short.last_run, short.last_success), (None, None));
        assert_eq!(short.last_result, 0x8007_0002);
        b.extend(ft.to_le_bytes());
        assert_eq!(
            dynamic_info(&b).unwrap().last_success,
            Some(t.as_microsecond())
        );
        assert!(dynamic_info(&b[..30]).is_err());
        // A FILETIME past what a time can be is no time.
        let mut far = b.clone();
        far[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(dynamic_info(&far).unwrap().created, None);
    }
}
