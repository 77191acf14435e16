//! Feature engineering shared by the profiles: what an analyst reads off a user name, a task
//! name or a command line, reduced to values that repeat across benign occurrences and stand
//! out when something is odd.

/// Well-known SIDs and their account names.
const WELL_KNOWN: &[(&str, &str)] = &[
    ("s-1-5-18", "nt authority\\system"),
    ("s-1-5-19", "nt authority\\local service"),
    ("s-1-5-20", "nt authority\\network service"),
    ("s-1-5-32-544", "builtin\\administrators"),
    ("s-1-5-32-545", "builtin\\users"),
    ("s-1-5-4", "nt authority\\interactive"),
    ("s-1-5-11", "nt authority\\authenticated users"),
    ("s-1-1-0", "everyone"),
];

/// A user as one comparable value (the DS4N6 `UserNC`, made stricter): lower-cased,
/// domain-qualified where the domain is known, well-known SIDs and bare `SYSTEM` style names
/// mapped to `nt authority\...`, machine accounts masked to `<machine>$` so that the same
/// action by every host's computer account is one value, domain SIDs reduced to their RID,
/// and the RIDs of ordinary accounts (1000 and up: every user and group created after
/// installation) to one value, `s-1-5-21-*-user`, as [`mask_volatile`] does for the SIDs in
/// per-user task names. Why: the principal of a per-user task is one SID per user, so no
/// single value was common enough to be expected, and a per-user task run as SYSTEM went
/// unseen (docs/benchmarks.md, "Detection"); the built-in RIDs (500 Administrator, 512 Domain
/// Admins, ...) stay as they are.
pub fn normalize_user(domain: &str, user: &str) -> String {
    let user = user.trim();
    let domain = domain.trim();
    if user.is_empty() || user == "-" {
        return String::new();
    }
    let mut u = user.to_lowercase();
    if !u.contains('\\') && !domain.is_empty() && domain != "-" {
        u = format!("{}\\{}", domain.to_lowercase(), u);
    }
    if let Some((_, name)) = WELL_KNOWN.iter().find(|(sid, _)| *sid == u) {
        return (*name).to_string();
    }
    let name = match u.rsplit_once('\\') {
        Some((_, n)) => n.to_string(),
        None => u.clone(),
    };
    match name.as_str() {
        "system" | "local service" | "localservice" | "network service" | "networkservice" => {
            let n = match name.as_str() {
                "system" => "system",
                "local service" | "localservice" => "local service",
                _ => "network service",
            };
            return format!("nt authority\\{n}");
        }
        _ => {}
    }
    if let Some(rid) = domain_sid_rid(&name) {
        return match rid.parse::<u64>() {
            Ok(n) if n >= 1000 => "s-1-5-21-*-user".to_string(),
            _ => format!("s-1-5-21-*-{rid}"),
        };
    }
    // A computer account is the host itself acting (its SYSTEM on the network): its name and
    // its domain are the host's identity, masked alike, so that one host's servicing is one
    // value with every other host's.
    if name.ends_with('$') {
        return "<machine>$".to_string();
    }
    u
}

/// The class a value is counted in where its rarity is evidence
/// ([`crate::model::evidence::History`]); the value itself stays what the models read. A
/// definition's author that is a resource reference (`$(@%systemroot%\\system32\\wofutil.dll,
/// -1)`, how Windows' own definitions name theirs) counts as the folder it points into
/// (`$(@%systemroot%\\system32\\*)`): which string of which library is the task's identity
/// (its siblings share it, and it tells the models which command to expect), but a new one is
/// no news the way a person's name as author is. A reference into another folder stays apart.
pub fn rarity_class<'a>(field: &str, value: &'a str) -> std::borrow::Cow<'a, str> {
    if (field == "author" || field == "task_author")
        && let Some(rest) = value.strip_prefix("$(@")
        && let Some((dir, _)) = rest.rsplit_once('\\')
    {
        return std::borrow::Cow::Owned(format!("$(@{dir}\\*)"));
    }
    std::borrow::Cow::Borrowed(value)
}

/// A value as this release's [`normalize_user`] writes it, from one an earlier release wrote
/// (summaries made on endpoints that run an older anomalog): an ordinary account's reduced
/// SID (`s-1-5-21-*-1106`) becomes `s-1-5-21-*-user`, a computer account with its domain
/// (`corp\\<machine>$`) `<machine>$`; every other value is returned as it is (the shapes
/// are [`normalize_user`]'s own, which no other feature writes whole).
pub fn upgrade_value(v: String) -> String {
    if let Some((domain, "<machine>$")) = v.rsplit_once('\\')
        && !domain.is_empty()
        && !domain.contains(char::is_whitespace)
    {
        return "<machine>$".to_string();
    }
    let ordinary = v
        .strip_prefix("s-1-5-21-*-")
        .filter(|rid| !rid.is_empty() && rid.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|rid| rid.parse::<u64>().ok())
        .is_some_and(|rid| rid >= 1000);
    if ordinary {
        "s-1-5-21-*-user".to_string()
    } else {
        v
    }
}

/// The RID of a domain or machine SID (`S-1-5-21-a-b-c-RID`).
fn domain_sid_rid(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("s-1-5-21-")?;
    let parts: Vec<&str> = rest.split('-').collect();
    (parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then(|| parts[3])
}

/// Mask the parts of a name that differ per installation: GUIDs, SIDs, long digit runs.
/// `GoogleUpdateTaskMachineUA{7B0A...}` and `OneDrive ... Task-S-1-5-21-1-2-3-1001` become
/// one value each across a fleet.
pub fn mask_volatile(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if let Some(len) = guid_at(&chars[i..]) {
            out.push_str("{GUID}");
            i += len;
            continue;
        }
        if let Some(len) = sid_at(&chars[i..]) {
            out.push_str("S-1-5-21-*");
            i += len;
            continue;
        }
        if chars[i].is_ascii_digit() {
            let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if run >= 4 {
                out.push('#');
                i += run;
                continue;
            }
            out.extend(&chars[i..i + run]);
            i += run;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn guid_at(c: &[char]) -> Option<usize> {
    let braced = c.first() == Some(&'{');
    let start = usize::from(braced);
    let groups = [8, 4, 4, 4, 12];
    let mut i = start;
    for (g, len) in groups.iter().enumerate() {
        for _ in 0..*len {
            if !c.get(i)?.is_ascii_hexdigit() {
                return None;
            }
            i += 1;
        }
        if g < 4 {
            if c.get(i) != Some(&'-') {
                return None;
            }
            i += 1;
        }
    }
    if braced {
        if c.get(i) != Some(&'}') {
            return None;
        }
        i += 1;
    }
    Some(i)
}

fn sid_at(c: &[char]) -> Option<usize> {
    let prefix: String = c.iter().take(9).collect::<String>().to_ascii_uppercase();
    if prefix != "S-1-5-21-" {
        return None;
    }
    let mut i = 9;
    let mut groups = 0;
    loop {
        let run = c[i..].iter().take_while(|ch| ch.is_ascii_digit()).count();
        if run == 0 {
            break;
        }
        i += run;
        groups += 1;
        if c.get(i) == Some(&'-') && c.get(i + 1).is_some_and(|ch| ch.is_ascii_digit()) {
            i += 1;
        } else {
            break;
        }
    }
    (groups >= 3).then_some(i)
}

/// A task name as a feature: leading `\` ensured (`schtasks /tn x` and 4698's `\x` agree),
/// volatile parts masked.
pub fn normalize_task_name(name: &str) -> String {
    let name = name.trim().trim_matches('"');
    if name.is_empty() {
        return String::new();
    }
    let name = if name.starts_with('\\') {
        name.to_string()
    } else {
        format!("\\{name}")
    };
    mask_volatile(&name)
}

const ENV_VARS: &[(&str, &str)] = &[
    ("%windir%", "c:\\windows"),
    ("%systemroot%", "c:\\windows"),
    ("%systemdrive%", "c:"),
    ("%programfiles(x86)%", "c:\\program files (x86)"),
    ("%programfiles%", "c:\\program files"),
    ("%commonprogramfiles%", "c:\\program files\\common files"),
    ("%programdata%", "c:\\programdata"),
    ("%allusersprofile%", "c:\\programdata"),
    ("%localappdata%", "c:\\users\\<user>\\appdata\\local"),
    ("%appdata%", "c:\\users\\<user>\\appdata\\roaming"),
    ("%userprofile%", "c:\\users\\<user>"),
    ("%public%", "c:\\users\\public"),
    ("%temp%", "c:\\users\\<user>\\appdata\\local\\temp"),
    ("%tmp%", "c:\\users\\<user>\\appdata\\local\\temp"),
];

/// A path (or a whole command line) as a feature: lower-cased, quotes and `\??\` removed,
/// environment variables expanded, per-user profile folders masked as `<user>`.
pub fn normalize_path(p: &str) -> String {
    let mut s = p.trim().to_lowercase();
    for prefix in ["\\??\\", "\\\\?\\"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    s = s.replace('"', "").trim().to_string();
    for (var, value) in ENV_VARS {
        if s.contains(var) {
            s = s.replace(var, value);
        }
    }
    mask_user_profile(&s)
}

fn mask_user_profile(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\users\\") {
        let after = &rest[i + 7..];
        let end = after.find('\\').unwrap_or(after.len());
        let name = &after[..end];
        out.push_str(&rest[..i + 7]);
        if matches!(name, "public" | "default" | "all users" | "<user>") || name.is_empty() {
            out.push_str(name);
        } else {
            out.push_str("<user>");
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The executable's base name, lower-case (`c:\windows\system32\cmd.exe` -> `cmd.exe`).
pub fn base_name(path: &str) -> String {
    let p = path.trim().trim_matches('"');
    p.rsplit(['\\', '/']).next().unwrap_or(p).to_lowercase()
}

/// Where an executable lives, in the classes an analyst sorts by.
pub fn dir_class(normalized: &str) -> &'static str {
    let p = normalized;
    if p.is_empty() {
        return "";
    }
    if p.starts_with("com:") {
        return "com";
    }
    if p.starts_with("\\\\") {
        return "unc";
    }
    if !p.contains('\\') {
        return "bare";
    }
    let has = |s: &str| p.contains(s);
    if has("\\temp\\") || p.ends_with("\\temp") || has("\\tmp\\") {
        "temp"
    } else if has("\\appdata\\") {
        "appdata"
    } else if has("\\users\\public\\") {
        "users-public"
    } else if has("\\users\\") {
        "user-profile"
    } else if has("\\windows\\system32\\") || has("\\windows\\sysnative\\") {
        "system32"
    } else if has("\\windows\\syswow64\\") {
        "syswow64"
    } else if has(":\\windows\\") {
        "windows"
    } else if has(":\\program files") {
        "program-files"
    } else if has(":\\programdata\\") {
        "programdata"
    } else if p.len() > 2 && p.as_bytes()[1] == b':' && !p.starts_with("c:") {
        "other-drive"
    } else {
        "other"
    }
}

/// Binaries that attackers use to run their code through something signed by Microsoft.
const LOLBINS: &[&str] = &[
    "at.exe",
    "bitsadmin.exe",
    "certutil.exe",
    "cmd.exe",
    "cmstp.exe",
    "control.exe",
    "cscript.exe",
    "curl.exe",
    "forfiles.exe",
    "hh.exe",
    "installutil.exe",
    "msbuild.exe",
    "msdt.exe",
    "mshta.exe",
    "msiexec.exe",
    "msxsl.exe",
    "odbcconf.exe",
    "pcalua.exe",
    "powershell.exe",
    "pwsh.exe",
    "regasm.exe",
    "regsvcs.exe",
    "regsvr32.exe",
    "rundll32.exe",
    "schtasks.exe",
    "wmic.exe",
    "wscript.exe",
    "bash.exe",
    "wsl.exe",
    "mavinject.exe",
    "syncappvpublishingserver.exe",
    "esentutl.exe",
    "expand.exe",
    "extrac32.exe",
    "reg.exe",
    "sc.exe",
    "net.exe",
    "net1.exe",
    "netsh.exe",
    "ftp.exe",
    "presentationhost.exe",
    "infdefaultinstall.exe",
    "xwizard.exe",
    "diskshadow.exe",
    "conhost.exe",
];

pub fn is_lolbin(exe: &str) -> bool {
    let exe = exe.to_ascii_lowercase();
    let exe = if exe.contains('.') {
        exe
    } else {
        format!("{exe}.exe")
    };
    LOLBINS.contains(&exe.as_str())
}

/// Suspicious traits of a command line, as a sorted, comma-separated list.
pub fn suspicious_flags(exe: &str, command_line: &str) -> String {
    let cl = command_line.to_lowercase();
    let tokens: Vec<&str> = cl.split_whitespace().collect();
    let mut flags: Vec<&str> = Vec::new();
    let ps = matches!(exe, "powershell.exe" | "pwsh.exe" | "powershell" | "pwsh")
        || cl.contains("powershell");
    let is_opt = |t: &str, long: &str, min: usize| {
        let t = t.trim_start_matches(['-', '/']);
        t.len() >= min && long.starts_with(t)
    };
    // PowerShell's switches, which it accepts by any unambiguous prefix. A renamed
    // powershell.exe takes them too, so they count on any executable, where only the
    // longer, unmistakable prefixes do.
    let min = if ps { 1 } else { 3 };
    for (i, t) in tokens.iter().enumerate() {
        if !(t.starts_with('-') || t.starts_with('/')) {
            continue;
        }
        if is_opt(t, "encodedcommand", min.max(1))
            && t.len() >= 2
            && !is_opt(t, "executionpolicy", 2)
        {
            flags.push("encoded");
        }
        if is_opt(t, "windowstyle", 1) && tokens.get(i + 1).is_some_and(|n| n.starts_with("hid")) {
            flags.push("hidden-window");
        }
        if is_opt(t, "noprofile", 3) && (ps || t.len() >= 4) {
            flags.push("noprofile");
        }
        if (is_opt(t, "executionpolicy", 2) || *t == "-exec")
            && tokens
                .get(i + 1)
                .is_some_and(|n| n.starts_with("bypass") || n.starts_with("unrestricted"))
        {
            flags.push("bypass");
        }
    }
    if cl.contains("frombase64string") {
        flags.push("base64");
    }
    for (needle, flag) in [
        ("http://", "url"),
        ("https://", "url"),
        ("downloadstring", "download"),
        ("downloadfile", "download"),
        ("invoke-webrequest", "download"),
        ("net.webclient", "download"),
        ("start-bitstransfer", "download"),
        ("urlcache", "download"),
        ("iex", "invoke-expression"),
        ("invoke-expression", "invoke-expression"),
        ("whoami", "recon"),
        ("javascript:", "script-protocol"),
        ("vbscript:", "script-protocol"),
        ("scrobj.dll", "scriptlet"),
    ] {
        let hit = if needle == "iex" {
            tokens
                .iter()
                .any(|t| t.trim_matches(|c: char| !c.is_alphanumeric()) == "iex")
                || cl.contains("iex(")
                || cl.contains("| iex")
        } else {
            cl.contains(needle)
        };
        if hit {
            flags.push(flag);
        }
    }
    if cl.contains(" > ") || cl.contains(">>") || cl.contains(" 2>&1") || cl.contains(">%") {
        flags.push("redirect");
    }
    if cl.contains("\\\\.\\pipe\\") {
        flags.push("named-pipe");
    }
    if tokens
        .iter()
        .skip(1)
        .any(|t| t.trim_matches('"').starts_with("\\\\"))
    {
        flags.push("unc-argument");
    }
    for ext in [
        ".ps1", ".bat", ".cmd", ".vbs", ".vbe", ".js", ".jse", ".hta", ".wsf", ".sct",
    ] {
        if tokens
            .iter()
            .any(|t| t.trim_matches(['"', '\'']).ends_with(ext))
        {
            flags.push("script-file");
            break;
        }
    }
    if exe == "rundll32.exe"
        && (cl.contains(",#") || cl.contains("\\programdata\\") || cl.contains("\\users\\"))
    {
        flags.push("rundll32-odd-dll");
    }
    flags.sort_unstable();
    flags.dedup();
    flags.join(",")
}

/// Split a Windows command line into arguments (the `CommandLineToArgvW` rules, simplified:
/// double quotes group, backslashes are literal).
pub fn split_command_line(cl: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut started = false;
    for c in cl.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    args.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(cur);
    }
    args
}

/// Split a command (path possibly quoted, arguments after) into the executable and the rest.
pub fn split_exe_args(cmd: &str) -> (String, String) {
    let cmd = cmd.trim();
    if let Some(rest) = cmd.strip_prefix('"') {
        if let Some(end) = rest.find('"') {
            return (rest[..end].to_string(), rest[end + 1..].trim().to_string());
        }
        return (rest.to_string(), String::new());
    }
    // Unquoted: the executable ends at the first space after something that looks like an
    // extension, else at the first space.
    let lower = cmd.to_ascii_lowercase();
    const EXTS: [&str; 8] = [
        ".exe", ".com", ".bat", ".cmd", ".ps1", ".vbs", ".dll", ".sys",
    ];
    // A whole path with spaces and no arguments (an unquoted service image path): it ends
    // in an extension, no extension comes earlier and no word is an option.
    if EXTS.iter().any(|e| lower.ends_with(e))
        && !EXTS.iter().any(|e| lower.contains(&format!("{e} ")))
        && !lower
            .split_whitespace()
            .skip(1)
            .any(|w| w.starts_with('-') || w.starts_with('/'))
    {
        return (cmd.to_string(), String::new());
    }
    for ext in [
        ".exe ", ".com ", ".bat ", ".cmd ", ".ps1 ", ".vbs ", ".dll ", ".sys ",
    ] {
        if let Some(i) = lower.find(ext) {
            let end = i + ext.len() - 1;
            return (cmd[..end].to_string(), cmd[end..].trim().to_string());
        }
    }
    match cmd.split_once(char::is_whitespace) {
        Some((e, a)) => (e.to_string(), a.trim().to_string()),
        None => (cmd.to_string(), String::new()),
    }
}

/// What a `schtasks.exe` or `at.exe` command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchtasksCall {
    /// `create`, `delete`, `run`, `end`, `change`, `query`, `showsid`, or `at`.
    pub op: String,
    pub task_name: String,
    /// The `/tr` command (or `at`'s command).
    pub task_run: String,
    pub run_as: String,
    pub schedule: String,
    pub run_level: String,
    pub remote_host: String,
    pub xml: String,
    /// Every switch given, lower-case, without its value, sorted (`["query", "xml"]`).
    pub switches: Vec<String>,
}

/// Parse the `schtasks` / `at` part of a command line, wherever it starts (`cmd /c schtasks
/// ...` included). `None` when neither appears.
pub fn parse_schtasks(command_line: &str) -> Option<SchtasksCall> {
    let args = split_command_line(command_line);
    let start = args.iter().position(|a| {
        let b = base_name(a);
        matches!(b.as_str(), "schtasks" | "schtasks.exe" | "at" | "at.exe")
    })?;
    let tool = base_name(&args[start]);
    let rest = &args[start + 1..];
    let mut call = SchtasksCall::default();
    if tool.starts_with("at") {
        call.op = "at".into();
        let mut cmd = Vec::new();
        for a in rest {
            if a.starts_with("\\\\") && call.remote_host.is_empty() && cmd.is_empty() {
                call.remote_host = a.trim_start_matches('\\').to_lowercase();
            } else if a.starts_with('/')
                || (cmd.is_empty()
                    && a.contains(':')
                    && a.starts_with(|c: char| c.is_ascii_digit()))
            {
                // a switch (/every:, /interactive) or the time
            } else {
                cmd.push(a.as_str());
            }
        }
        call.task_run = cmd.join(" ");
        return Some(call);
    }
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i].to_ascii_lowercase();
        let value = rest.get(i + 1).cloned().unwrap_or_default();
        let Some(opt) = a.strip_prefix('/').or_else(|| a.strip_prefix('-')) else {
            i += 1;
            continue;
        };
        let takes_value = matches!(
            opt,
            "tn" | "tr"
                | "ru"
                | "sc"
                | "rl"
                | "s"
                | "xml"
                | "rp"
                | "u"
                | "p"
                | "mo"
                | "st"
                | "sd"
                | "et"
                | "ed"
                | "d"
                | "m"
                | "i"
                | "du"
                | "ri"
                | "fo"
                | "ec"
                | "k"
        );
        call.switches.push(opt.to_string());
        match opt {
            "create" | "delete" | "run" | "end" | "change" | "query" | "showsid" => {
                call.op = opt.into()
            }
            "tn" => call.task_name = value.clone(),
            "tr" => call.task_run = value.clone(),
            "ru" => call.run_as = value.clone(),
            "sc" => call.schedule = value.to_lowercase(),
            "rl" => call.run_level = value.to_lowercase(),
            "s" => call.remote_host = value.to_lowercase(),
            "xml" => call.xml = value.clone(),
            _ => {}
        }
        i += if takes_value { 2 } else { 1 };
    }
    if call.op.is_empty() {
        call.op = "query".into();
    }
    call.switches.sort();
    call.switches.dedup();
    Some(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resource reference as author counts as the folder it points into; nothing else
    /// changes class.
    #[test]
    fn rarity_classes() {
        for (field, value, class) in [
            (
                "author",
                "$(@%systemroot%\\system32\\wofutil.dll,-1)",
                "$(@%systemroot%\\system32\\*)",
            ),
            (
                "task_author",
                "$(@c:\\users\\x\\evil.dll,-1)",
                "$(@c:\\users\\x\\*)",
            ),
            ("author", "corp\\jdoe", "corp\\jdoe"),
            ("command", "$(@a\\b)", "$(@a\\b)"),
            ("author", "$(@nofolder)", "$(@nofolder)"),
        ] {
            assert_eq!(rarity_class(field, value), class, "{field} {value}");
        }
    }

    #[test]
    fn users() {
        assert_eq!(normalize_user("", "S-1-5-18"), "nt authority\\system");
        assert_eq!(
            normalize_user("NT AUTHORITY", "SYSTEM"),
            "nt authority\\system"
        );
        assert_eq!(normalize_user("", "System"), "nt authority\\system");
        // A computer account is the host acting: its domain is masked with its name.
        assert_eq!(normalize_user("THESHIRE", "WORKSTATION5$"), "<machine>$");
        assert_eq!(normalize_user("", "WORKGROUP\\DESKTOP-1$"), "<machine>$");
        assert_eq!(normalize_user("THESHIRE", "pgustavo"), "theshire\\pgustavo");
        assert_eq!(
            normalize_user("", "THESHIRE\\pgustavo"),
            "theshire\\pgustavo"
        );
        assert_eq!(normalize_user("", "S-1-5-21-1-2-3-1104"), "s-1-5-21-*-user");
        // Values of older summaries: an ordinary account's reduced SID and a computer account
        // with its domain change, nothing else.
        let up = |v: &str| upgrade_value(v.to_string());
        assert_eq!(up("s-1-5-21-*-1104"), "s-1-5-21-*-user");
        assert_eq!(up("s-1-5-21-*-500"), "s-1-5-21-*-500");
        assert_eq!(up("s-1-5-21-*-user"), "s-1-5-21-*-user");
        assert_eq!(up("s-1-5-21-*-"), "s-1-5-21-*-");
        assert_eq!(up("s-1-5-21-*-+1104"), "s-1-5-21-*-+1104");
        assert_eq!(up("corp\\jdoe"), "corp\\jdoe");
        assert_eq!(up("corp\\<machine>$"), "<machine>$");
        assert_eq!(up("<machine>$"), "<machine>$");
        assert_eq!(up("a b\\<machine>$"), "a b\\<machine>$");
        assert_eq!(up("x s-1-5-21-*-1104"), "x s-1-5-21-*-1104");
        assert_eq!(normalize_user("", "S-1-5-21-9-8-7-1000"), "s-1-5-21-*-user");
        assert_eq!(normalize_user("", "S-1-5-21-1-2-3-500"), "s-1-5-21-*-500");
        assert_eq!(normalize_user("", "S-1-5-21-1-2-3-999"), "s-1-5-21-*-999");
        // Digits past any RID: kept as they are, not mistaken for an ordinary account.
        assert_eq!(
            normalize_user("", "S-1-5-21-1-2-3-99999999999999999999999"),
            "s-1-5-21-*-99999999999999999999999"
        );
        assert_eq!(normalize_user("", "-"), "");
    }

    #[test]
    fn task_names() {
        assert_eq!(
            normalize_task_name("GoogleUpdateTaskMachineUA{7B0A5C2D-1E3F-4A5B-9C8D-0123456789AB}"),
            "\\GoogleUpdateTaskMachineUA{GUID}"
        );
        assert_eq!(
            normalize_task_name(
                "\\OneDrive Standalone Update Task-S-1-5-21-3786818125-2382361537-3207726629-1104"
            ),
            "\\OneDrive Standalone Update Task-S-1-5-21-*"
        );
        assert_eq!(normalize_task_name("eviltask"), "\\eviltask");
    }

    #[test]
    fn paths_and_classes() {
        let p = normalize_path("%windir%\\system32\\svchost.exe");
        assert_eq!(p, "c:\\windows\\system32\\svchost.exe");
        assert_eq!(dir_class(&p), "system32");
        assert_eq!(
            dir_class(&normalize_path("C:\\Users\\Public\\svc.exe")),
            "users-public"
        );
        assert_eq!(
            normalize_path("C:\\Users\\bob\\AppData\\x.exe"),
            "c:\\users\\<user>\\appdata\\x.exe"
        );
        assert_eq!(
            dir_class(&normalize_path("C:\\Users\\bob\\AppData\\x.exe")),
            "appdata"
        );
        assert_eq!(dir_class(&normalize_path("%windir%\\Temp\\a.exe")), "temp");
        assert_eq!(dir_class("\\\\srv\\share\\a.exe"), "unc");
        assert_eq!(dir_class("cmd.exe"), "bare");
        assert_eq!(dir_class("c:\\tools\\shell.cmd"), "other");
        assert_eq!(
            dir_class(&normalize_path("\"C:\\Program Files\\x\\y.exe\"")),
            "program-files"
        );
    }

    #[test]
    fn flags() {
        assert_eq!(
            suspicious_flags("powershell.exe", "powershell -nop -w hidden -enc SQBFAFgA"),
            "encoded,hidden-window,noprofile"
        );
        assert_eq!(
            suspicious_flags("cmd.exe", "/C whoami > %windir%\\Temp\\x.tmp 2>&1"),
            "recon,redirect"
        );
        assert_eq!(suspicious_flags("svchost.exe", "-k netsvcs"), "");
        assert_eq!(
            suspicious_flags("svc.exe", "svc.exe -w hidden -enc SQBFAFgA"),
            "encoded,hidden-window"
        );
        assert_eq!(suspicious_flags("msiexec.exe", "msiexec /e x /w y"), "");
        assert!(suspicious_flags("mshta.exe", "mshta.exe https://x/y.txt").contains("url"));
    }

    #[test]
    fn schtasks_lines() {
        let c = parse_schtasks("\"C:\\Windows\\system32\\schtasks.exe\" /create /sc minute /mo 1 /tn eviltask /tr C:\\tools\\shell.cmd /ru SYSTEM").unwrap();
        assert_eq!(
            (
                c.op.as_str(),
                c.task_name.as_str(),
                c.task_run.as_str(),
                c.run_as.as_str(),
                c.schedule.as_str()
            ),
            (
                "create",
                "eviltask",
                "C:\\tools\\shell.cmd",
                "SYSTEM",
                "minute"
            )
        );
        let c = parse_schtasks("\"C:\\Windows\\system32\\cmd.exe\" /C schtasks /create /F /tn \\A\\B /tr \"C:\\x.exe /C y\" /sc ONSTART /ru system /S WORKSTATION6").unwrap();
        assert_eq!(c.task_run, "C:\\x.exe /C y");
        assert_eq!(c.remote_host, "workstation6");
        assert_eq!(c.schedule, "onstart");
        let q = parse_schtasks("schtasks  /query /xml").unwrap();
        assert_eq!(q.op, "query");
        assert_eq!(q.switches, ["query", "xml"]);
        assert_eq!(
            parse_schtasks("schtasks /Run /TN \\x /S host")
                .unwrap()
                .switches,
            ["run", "s", "tn"]
        );
        assert!(parse_schtasks("notepad.exe a.txt").is_none());
        let at = parse_schtasks("at \\\\srv 12:00 c:\\x.bat").unwrap();
        assert_eq!(
            (at.remote_host.as_str(), at.task_run.as_str()),
            ("srv", "c:\\x.bat")
        );
    }

    #[test]
    fn exe_args() {
        assert_eq!(
            split_exe_args("\"C:\\a b\\c.exe\" -x"),
            ("C:\\a b\\c.exe".into(), "-x".into())
        );
        assert_eq!(
            split_exe_args("C:\\Program Files\\a.exe -x y"),
            ("C:\\Program Files\\a.exe".into(), "-x y".into())
        );
        assert_eq!(split_exe_args("cmd /c"), ("cmd".into(), "/c".into()));
        let unquoted =
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Definition Updates\\MpKslDrv.sys";
        assert_eq!(split_exe_args(unquoted), (unquoted.into(), String::new()));
        assert_eq!(
            split_exe_args("cmd /c c:\\x.bat"),
            ("cmd".into(), "/c c:\\x.bat".into())
        );
        assert_eq!(
            split_exe_args("powershell -f c:\\x.ps1"),
            ("powershell".into(), "-f c:\\x.ps1".into())
        );
    }
}

/// The longest `-EncodedCommand` argument decoded (base64 characters).
const MAX_ENCODED: usize = 64 * 1024;

/// The script a PowerShell command line carries base64-encoded (`-EncodedCommand`, and the
/// abbreviations PowerShell takes for it: `-e`, `-ec`, `-en`..., with `-` or `/`): UTF-16LE
/// text, decoded up to `max` characters. `None` when the line runs no PowerShell, carries no
/// such argument, or it does not decode. The text is the attacker's: escape it before any
/// terminal.
pub fn encoded_powershell(command: &str, max: usize) -> Option<String> {
    use base64::Engine;
    let lower = command.to_ascii_lowercase();
    if !lower.contains("powershell") && !lower.contains("pwsh") {
        return None;
    }
    let mut tokens = command.split_whitespace();
    while let Some(t) = tokens.next() {
        let p = t
            .trim_start_matches(['-', '/', '\u{2013}'])
            .to_ascii_lowercase();
        let encoded = !p.is_empty()
            && (p == "e" || p == "ec" || (p.starts_with("en") && "encodedcommand".starts_with(&p)));
        if !encoded || p.len() == t.len() {
            continue;
        }
        let blob = tokens.next()?.trim_matches(['"', '\'']);
        if blob.len() > MAX_ENCODED {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(blob))
            .ok()?;
        if bytes.len() < 2 {
            return None;
        }
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text: String = char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .take(max)
            .collect();
        return Some(text);
    }
    None
}

#[cfg(test)]
mod encoded_tests {
    use super::encoded_powershell as d;

    #[test]
    fn encoded_powershell_decodes_as_powershell_reads_it() {
        // "IEX (New-Object Net.WebClient)" as UTF-16LE base64.
        let blob =
            "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA";
        let want = "IEX (New-Object Net.WebClient)";
        for flag in [
            "-enc",
            "-EncodedCommand",
            "-e",
            "-ec",
            "/enc",
            "-ENCODEDCOM",
        ] {
            let line = format!("powershell.exe -NoP -W Hidden {flag} {blob}");
            assert_eq!(d(&line, 1000).as_deref(), Some(want), "{flag}");
        }
        assert_eq!(
            d(&format!("pwsh -enc \"{blob}\""), 3).as_deref(),
            Some("IEX")
        );
        // Not PowerShell's encoded command: -ExecutionPolicy, another program, no blob.
        assert_eq!(d(&format!("powershell -ex {blob}"), 100), None);
        assert_eq!(d(&format!("cmd.exe /c -enc {blob}"), 100), None);
        assert_eq!(d("powershell -enc", 100), None);
        assert_eq!(d("powershell -enc !!!notbase64", 100), None);
        assert_eq!(
            d("powershell -enc QQ==", 100),
            None,
            "one byte is no UTF-16"
        );
    }
}
