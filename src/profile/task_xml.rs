//! The task definition XML of Security 4698-4702 (`TaskContent` / `TaskContentNew`).
//!
//! Parsed with quick-xml, tolerantly: HTML-escaped content (NXLog via WEC writes `&lt;Task`)
//! is unescaped first, end-tag names are not checked, and on a syntax error everything read
//! up to that point is kept and `malformed` is set.

use quick_xml::Reader;
use quick_xml::events::Event;

/// One `Exec` action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecAction {
    pub command: String,
    pub arguments: String,
    pub working_directory: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskXml {
    pub author: String,
    pub description: String,
    pub uri: String,
    pub source: String,
    pub exec: Vec<ExecAction>,
    pub com_class_ids: Vec<String>,
    /// `exec`, `com`, `email`, `message`, in document order.
    pub action_kinds: Vec<&'static str>,
    pub user_id: String,
    pub group_id: String,
    pub logon_type: String,
    pub run_level: String,
    pub hidden: Option<bool>,
    pub enabled: Option<bool>,
    /// Trigger element names without the `Trigger` suffix (`Boot`, `Logon`, `Calendar`, ...).
    pub triggers: Vec<String>,
    /// Some trigger repeats (a `Repetition` element).
    pub repeats: bool,
    /// `RegistrationInfo/Date` as written (the author's claim, not a time anything saw).
    pub date: String,
    /// The `Settings` element's children with text (`AllowStartOnDemand`, `ExecutionTimeLimit`,
    /// ...), in document order, at most [`MAX_ITEMS`].
    pub settings: Vec<(String, String)>,
    pub malformed: bool,
}

/// Actions, triggers and settings kept at most per definition: a real one has a few, a
/// hostile one may repeat an element millions of times.
pub const MAX_ITEMS: usize = 64;

/// Undo HTML escaping when the XML arrived escaped (no `<` at all but `&lt;` present).
fn unescape_if_needed(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('<') && s.contains("&lt;") {
        match quick_xml::escape::unescape(s) {
            Ok(u) => std::borrow::Cow::Owned(u.into_owned()),
            Err(_) => std::borrow::Cow::Owned(
                s.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            ),
        }
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Parse task XML; never fails. Returns `None` only when the text holds no XML at all.
pub fn parse(content: &str) -> Option<TaskXml> {
    let text = unescape_if_needed(content);
    if !text.contains('<') {
        return None;
    }
    let mut reader = Reader::from_str(&text);
    reader.config_mut().check_end_names = false;
    let mut t = TaskXml::default();
    let mut stack: Vec<String> = Vec::new();
    // quick-xml hands text over in pieces (entity references such as `&gt;` arrive apart):
    // gather an element's text and hand it on when the element closes or a child opens.
    let mut text_buf = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                flush_text(&mut t, &stack, &mut text_buf);
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                on_open(&mut t, &stack, &name);
                stack.push(name);
            }
            Ok(Event::Empty(e)) => {
                flush_text(&mut t, &stack, &mut text_buf);
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                on_open(&mut t, &stack, &name);
            }
            Ok(Event::End(_)) => {
                flush_text(&mut t, &stack, &mut text_buf);
                stack.pop();
            }
            Ok(Event::Text(e)) => {
                let raw = String::from_utf8_lossy(e.as_ref()).into_owned();
                match quick_xml::escape::unescape(&raw) {
                    Ok(c) => text_buf.push_str(&c),
                    Err(_) => text_buf.push_str(&raw),
                }
            }
            Ok(Event::GeneralRef(e)) => {
                let name = String::from_utf8_lossy(e.as_ref()).into_owned();
                text_buf.push_str(&resolve_entity(&name));
            }
            Ok(Event::CData(e)) => text_buf.push_str(&String::from_utf8_lossy(e.as_ref())),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => {
                t.malformed = true;
                break;
            }
        }
    }
    flush_text(&mut t, &stack, &mut text_buf);
    if !stack.is_empty() {
        // Unclosed elements: truncated content.
        t.malformed = true;
    }
    Some(t)
}

fn flush_text(t: &mut TaskXml, stack: &[String], buf: &mut String) {
    let value = buf.trim();
    if !value.is_empty() {
        on_text(t, stack, value);
    }
    buf.clear();
}

/// The text of an entity reference (`gt`, `#62`, `#x3E`); unknown ones are kept as written.
fn resolve_entity(name: &str) -> String {
    let c = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        n => n
            .strip_prefix("#x")
            .or_else(|| n.strip_prefix("#X"))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32),
    };
    c.map_or_else(|| format!("&{name};"), String::from)
}

fn parent_is(stack: &[String], name: &str) -> bool {
    stack.last().is_some_and(|s| s == name)
}

fn on_open(t: &mut TaskXml, stack: &[String], name: &str) {
    if parent_is(stack, "Actions") && t.action_kinds.len() < MAX_ITEMS {
        match name {
            "Exec" => {
                t.exec.push(ExecAction::default());
                t.action_kinds.push("exec");
            }
            "ComHandler" => t.action_kinds.push("com"),
            "SendEmail" => t.action_kinds.push("email"),
            "ShowMessage" => t.action_kinds.push("message"),
            _ => {}
        }
    }
    if parent_is(stack, "Triggers") && t.triggers.len() < MAX_ITEMS {
        let kind = name.strip_suffix("Trigger").unwrap_or(name);
        t.triggers.push(kind.to_string());
    }
    if name == "Repetition" && stack.iter().any(|s| s == "Triggers") {
        t.repeats = true;
    }
}

fn on_text(t: &mut TaskXml, stack: &[String], value: &str) {
    let Some(leaf) = stack.last() else { return };
    let parent = stack.len().checked_sub(2).map(|i| stack[i].as_str());
    match (parent, leaf.as_str()) {
        (Some("RegistrationInfo"), "Author") => t.author = value.to_string(),
        (Some("RegistrationInfo"), "Description") => t.description = value.to_string(),
        (Some("RegistrationInfo"), "URI") => t.uri = value.to_string(),
        (Some("RegistrationInfo"), "Source") => t.source = value.to_string(),
        (Some("Exec"), field) => {
            if let Some(a) = t.exec.last_mut() {
                match field {
                    "Command" => a.command = value.to_string(),
                    "Arguments" => a.arguments = value.to_string(),
                    "WorkingDirectory" => a.working_directory = value.to_string(),
                    _ => {}
                }
            }
        }
        (Some("RegistrationInfo"), "Date") => t.date = value.to_string(),
        (Some("ComHandler"), "ClassId") if t.com_class_ids.len() < MAX_ITEMS => {
            t.com_class_ids.push(value.to_string())
        }
        (Some("Principal"), "UserId") => t.user_id = value.to_string(),
        (Some("Principal"), "GroupId") => t.group_id = value.to_string(),
        (Some("Principal"), "LogonType") => t.logon_type = value.to_string(),
        (Some("Principal"), "RunLevel") => t.run_level = value.to_string(),
        (Some("Settings"), "Hidden") => t.hidden = parse_bool(value),
        (Some("Settings"), "Enabled") => t.enabled = parse_bool(value),
        (Some("Settings"), name) if t.settings.len() < MAX_ITEMS => {
            t.settings.push((name.to_string(), value.to_string()))
        }
        _ => {}
    }
}

/// Task XML, one element per line and indented; the input may be HTML-escaped or malformed
/// (then it is shown as it is, split at tags).
///
/// ```
/// let lines = anomalog::profile::task_xml::pretty("<Task><Exec><Command>cmd.exe</Command></Exec></Task>");
/// assert_eq!(lines, ["<Task>", "  <Exec>", "    <Command>cmd.exe</Command>", "  </Exec>", "</Task>"]);
/// ```
/// Indentation levels shown at most: deeper elements are indented as deep as this, so that a
/// hostile definition nested thousands deep cannot make the output grow with depth squared.
pub const MAX_INDENT: usize = 32;
/// Lines shown at most; a last line says how many more there were.
pub const MAX_PRETTY_LINES: usize = 5_000;

pub fn pretty(xml: &str) -> Vec<String> {
    let text = if !xml.contains('<') && xml.contains("&lt;") {
        xml.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    } else {
        xml.to_string()
    };
    let mut out: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut more = 0usize;
    let indent = |depth: usize| "  ".repeat(depth.min(MAX_INDENT));
    // An element just opened: its closing tag goes on the same line (`<Command>x</Command>`).
    let mut just_opened = false;
    for piece in text
        .replace('\r', "")
        .split('<')
        .filter(|p| !p.trim().is_empty())
    {
        let (tag, rest) = match piece.split_once('>') {
            Some((t, r)) => (t, r.trim()),
            None => (piece, ""),
        };
        if let Some(name) = tag.strip_prefix('/') {
            depth = depth.saturating_sub(1);
            let full = out.len() >= MAX_PRETTY_LINES;
            match out.last_mut() {
                Some(last) if just_opened => last.push_str(&format!("</{name}>")),
                _ if full => more += 1,
                _ => out.push(format!("{}</{name}>", indent(depth))),
            }
            just_opened = false;
        } else {
            if out.len() >= MAX_PRETTY_LINES {
                more += 1;
            } else {
                out.push(format!("{}<{tag}>{rest}", indent(depth)));
            }
            let opens = !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!');
            if opens {
                depth += 1;
            }
            just_opened = opens && more == 0;
        }
    }
    if more > 0 {
        out.push(format!("... {more} more lines"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A definition nested 20 000 deep (one 141 KB log line once took the drill-down to
    /// 1.6 GB): the output stays linear in the input.
    #[test]
    fn deep_nesting_is_bounded() {
        let depth = 20_000;
        let xml = format!("{}x{}", "<A>".repeat(depth), "</A>".repeat(depth));
        let lines = pretty(&xml);
        assert_eq!(lines.len(), MAX_PRETTY_LINES + 1);
        assert!(lines.last().unwrap().contains("more lines"));
        let bytes: usize = lines.iter().map(String::len).sum();
        assert!(
            bytes < 2 * MAX_PRETTY_LINES * (MAX_INDENT * 2 + 16),
            "{bytes}"
        );
        assert!(
            lines.iter().all(|l| l.len() <= MAX_INDENT * 2 + 16),
            "indent capped"
        );
    }

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><Author>THESHIRE\pgustavo</Author><URI>\Evil</URI></RegistrationInfo>
  <Triggers><BootTrigger><Enabled>true</Enabled></BootTrigger>
    <TimeTrigger><Repetition><Interval>PT1M</Interval></Repetition></TimeTrigger></Triggers>
  <Settings><Hidden>true</Hidden></Settings>
  <Actions Context="Author"><Exec><Command>C:\Windows\system32\cmd.exe</Command>
    <Arguments>/C echo a &amp;&amp; b &gt; c:\x&#46;txt</Arguments></Exec></Actions>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>
</Task>"#;

    #[test]
    fn parses_the_fields() {
        let t = parse(XML).unwrap();
        assert_eq!(t.author, "THESHIRE\\pgustavo");
        assert_eq!(t.exec[0].command, "C:\\Windows\\system32\\cmd.exe");
        assert_eq!(t.exec[0].arguments, "/C echo a && b > c:\\x.txt");
        assert_eq!(t.user_id, "S-1-5-18");
        assert_eq!(t.run_level, "HighestAvailable");
        assert_eq!(t.hidden, Some(true));
        assert_eq!(t.triggers, ["Boot", "Time"]);
        assert!(t.repeats);
        assert!(!t.malformed);
    }

    #[test]
    fn html_escaped_content() {
        let escaped = XML
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert_eq!(parse(&escaped).unwrap().exec, parse(XML).unwrap().exec);
    }

    #[test]
    fn truncated_content_keeps_what_was_read() {
        let cut = &XML[..XML.find("<Principals>").unwrap() + 20];
        let t = parse(cut).unwrap();
        assert!(t.malformed);
        assert_eq!(t.exec.len(), 1);
        assert_eq!(t.author, "THESHIRE\\pgustavo");
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            "<",
            "<<<>>>",
            "&lt;",
            "<Task><Actions><Exec><Command>",
            "\u{0}<a b='",
        ] {
            let _ = parse(s);
        }
        assert!(parse("plain text").is_none());
    }
}
