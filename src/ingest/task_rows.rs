//! Task definitions as collectors export them, one JSON row per task, read as records of
//! [`CH_TASK_DEFINITION`] like the Tasks folder's files ([`super::definitions`]):
//!
//! - Velociraptor's `Windows.System.TaskScheduler/Analysis`, in every column layout its
//!   releases have written (`FullPath` before 0.7.0, `OSPath` since; `Command`, `Arguments`,
//!   `ComHandler`, `UserId` throughout; `_XML`, the definition itself, where present, which is
//!   what is read then). The host is the hunt row's `Fqdn`, else its `ClientId`.
//! - artemis's `tasks` artifact: the definition parsed into `details` (registration info,
//!   triggers, settings, principals, actions). The host is `collection_metadata.hostname`;
//!   rows of one artemis endpoint (`endpoint_id`) are one host, named as its first row names
//!   it, the other names kept as aliases (the same machine collected under two names).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::layout::scalar;
use crate::event::{CH_TASK_DEFINITION, DEF_JOB, DEF_XML, RawEvent, parse_time};

/// What rows of one file share: each artemis endpoint's host name and aliases.
#[derive(Debug, Default)]
pub struct Rows {
    endpoints: HashMap<String, (String, Vec<String>)>,
}

fn get<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| o.get(*k)).filter(|v| !v.is_null())
}

fn text(o: &Map<String, Value>, keys: &[&str]) -> String {
    get(o, keys).map(scalar).unwrap_or_default()
}

fn identity(host: &str, name: &str, content: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    host.to_lowercase().hash(&mut h);
    name.to_lowercase().hash(&mut h);
    content.hash(&mut h);
    h.finish()
}

impl Rows {
    /// The definition a JSON row describes, or `None` when it is no task row.
    pub fn definition(&mut self, v: &Value, source: &Arc<str>) -> Option<RawEvent> {
        let o = v.as_object()?;
        if let Some(details) = o.get("details").and_then(Value::as_object)
            && details.contains_key("actions")
            && o.contains_key("path")
        {
            return Some(self.artemis(o, details, source));
        }
        let path = text(o, &["OSPath", "FullPath"]);
        let is_velociraptor = !path.is_empty()
            && (o.contains_key("_XML") || (o.contains_key("Command") && o.contains_key("UserId")));
        is_velociraptor.then(|| velociraptor(o, &path, source))
    }

    fn artemis(
        &mut self,
        o: &Map<String, Value>,
        d: &Map<String, Value>,
        source: &Arc<str>,
    ) -> RawEvent {
        let meta = o.get("collection_metadata").and_then(Value::as_object);
        let hostname = meta.map(|m| text(m, &["hostname"])).unwrap_or_default();
        let endpoint = meta.map(|m| text(m, &["endpoint_id"])).unwrap_or_default();
        let (host, aliases) = if endpoint.is_empty() {
            (hostname.clone(), Vec::new())
        } else {
            let slot = self
                .endpoints
                .entry(endpoint.clone())
                .or_insert_with(|| (hostname.clone(), Vec::new()));
            if !hostname.eq_ignore_ascii_case(&slot.0) && !slot.1.contains(&hostname) {
                slot.1.push(hostname.clone());
            }
            slot.clone()
        };
        let name = text(o, &["path"]);
        let reg = d.get("registration_info").and_then(Value::as_object);
        let reg_text = |k: &str| reg.map(|r| text(r, &[k])).unwrap_or_default();
        let mut data: Vec<(String, String)> = vec![
            ("TaskName".into(), name.clone()),
            ("File".into(), text(d, &["evidence"])),
            (
                "HostFrom".into(),
                if endpoint.is_empty() {
                    "artemis hostname".into()
                } else {
                    format!("artemis endpoint {endpoint}")
                },
            ),
            ("Uri".into(), reg_text("uri")),
            ("Author".into(), reg_text("author")),
            ("Date".into(), reg_text("date")),
            ("Description".into(), reg_text("description")),
        ];
        if !aliases.is_empty() {
            data.push(("HostAliases".into(), aliases.join(", ")));
        }
        artemis_actions(d, &mut data);
        artemis_principal(d, &mut data);
        artemis_triggers(d, &mut data);
        artemis_settings(d, &mut data);
        let time = parse_time(&reg_text("date"));
        let event_id = if text(o, &["format"]).eq_ignore_ascii_case("job") {
            DEF_JOB
        } else {
            DEF_XML
        };
        let fingerprint = serde_json::to_string(d).unwrap_or_default();
        RawEvent {
            source: source.clone(),
            channel: CH_TASK_DEFINITION.into(),
            event_id,
            provider: String::new(),
            record_id: Some(identity(&host, &name, &fingerprint)),
            computer: host,
            time,
            data,
        }
    }
}

/// An artemis task's actions: the first exec action's command line, COM handlers' class ids
/// and the kinds of every action.
fn artemis_actions(d: &Map<String, Value>, data: &mut Vec<(String, String)>) {
    let actions = d.get("actions").and_then(Value::as_object);
    let list = |k: &str| -> Vec<&Map<String, Value>> {
        actions
            .and_then(|a| a.get(k))
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    };
    let mut kinds = Vec::new();
    if let Some(exec) = list("exec").first() {
        data.push(("Command".into(), text(exec, &["command"])));
        data.push(("Arguments".into(), text(exec, &["arguments"])));
        data.push((
            "WorkingDirectory".into(),
            text(exec, &["working_directory"]),
        ));
    }
    let com: Vec<String> = list("com_handler")
        .iter()
        .map(|c| text(c, &["class_id"]))
        .filter(|c| !c.is_empty())
        .collect();
    if !com.is_empty() {
        data.push(("ComClassId".into(), com.join(",")));
    }
    for (k, kind) in [
        ("exec", "exec"),
        ("com_handler", "com"),
        ("send_email", "email"),
        ("show_message", "message"),
    ] {
        kinds.extend(std::iter::repeat_n(kind, list(k).len().min(16)));
    }
    data.push(("Actions".into(), kinds.join(",")));
}

/// An artemis task's first principal.
fn artemis_principal(d: &Map<String, Value>, data: &mut Vec<(String, String)>) {
    if let Some(p) = d
        .get("principals")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .and_then(Value::as_object)
    {
        for (k, field) in [
            ("user_id", "UserId"),
            ("group_id", "GroupId"),
            ("logon_type", "LogonType"),
            ("run_level", "RunLevel"),
        ] {
            data.push((field.into(), text(p, &[k])));
        }
    }
}

/// An artemis task's trigger kinds (as task XML names them) and whether any repeats.
fn artemis_triggers(d: &Map<String, Value>, data: &mut Vec<(String, String)>) {
    let mut repeats = false;
    let mut triggers = Vec::new();
    if let Some(t) = d.get("triggers").and_then(Value::as_object) {
        for (k, v) in t {
            let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
                continue;
            };
            triggers.push(trigger_name(k));
            repeats |= items.iter().any(|i| {
                i.pointer("/common/repetition/interval")
                    .is_some_and(|v| !v.is_null())
            });
        }
    }
    data.push(("Triggers".into(), triggers.join(",")));
    data.push(("Repeats".into(), repeats.to_string()));
}

/// An artemis task's scalar settings: `hidden` and `enabled` as their own fields, the rest
/// as `Name=value` lines.
fn artemis_settings(d: &Map<String, Value>, data: &mut Vec<(String, String)>) {
    if let Some(s) = d.get("settings").and_then(Value::as_object) {
        let mut lines = Vec::new();
        for (k, v) in s {
            match (k.as_str(), v) {
                (_, Value::Null | Value::Object(_) | Value::Array(_)) => {}
                ("hidden", v) => data.push(("Hidden".into(), scalar(v))),
                ("enabled", v) => data.push(("Enabled".into(), scalar(v))),
                (k, v) => lines.push(format!("{}={}", pascal(k), scalar(v))),
            }
        }
        data.push(("Settings".into(), lines.join("\n")));
    }
}

/// artemis's trigger list names as task XML names the trigger elements.
fn trigger_name(k: &str) -> String {
    match k {
        "session" => "SessionStateChange".into(),
        "wnf" => "WnfStateChange".into(),
        k => pascal(k),
    }
}

/// `allow_start_on_demand` -> `AllowStartOnDemand`.
fn pascal(k: &str) -> String {
    k.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn velociraptor(o: &Map<String, Value>, path: &str, source: &Arc<str>) -> RawEvent {
    let placed = super::definitions::place(path);
    let (host, from) = match text(o, &["Fqdn"]) {
        h if !h.is_empty() => (h, "the hunt row's Fqdn"),
        _ => (text(o, &["ClientId"]), "the hunt row's ClientId"),
    };
    let xml = text(o, &["_XML"]);
    let mut data = vec![
        ("TaskName".to_string(), placed.name.clone()),
        ("File".to_string(), path.to_string()),
        ("HostFrom".to_string(), from.to_string()),
    ];
    if xml.is_empty() {
        // Releases before `_XML`: the columns the artifact parsed out.
        data.push(("Command".into(), text(o, &["ExpandedCommand", "Command"])));
        data.push(("Arguments".into(), text(o, &["Arguments"])));
        data.push(("ComClassId".into(), text(o, &["ComHandler"])));
        data.push(("UserId".into(), text(o, &["UserId"])));
    } else {
        data.push(("TaskContent".into(), xml.clone()));
    }
    let fingerprint = if xml.is_empty() {
        serde_json::to_string(o).unwrap_or_default()
    } else {
        xml
    };
    RawEvent {
        source: source.clone(),
        channel: CH_TASK_DEFINITION.into(),
        event_id: DEF_XML,
        provider: String::new(),
        record_id: Some(identity(&host, &placed.name, &fingerprint)),
        computer: host,
        time: get(o, &["Mtime"]).and_then(super::layout::time_of),
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_velociraptor_column_layout() {
        let src: Arc<str> = Arc::from("hunt.json");
        let mut rows = Rows::default();
        let old = serde_json::json!({"FullPath": "C:\\Windows\\System32\\Tasks\\Evil", "Command": "C:\\Users\\Public\\e.exe", "Arguments": "-q", "ComHandler": null, "UserId": "S-1-5-18", "Fqdn": "ws1.corp"});
        let ev = rows.definition(&old, &src).unwrap();
        assert_eq!(ev.computer, "ws1.corp");
        assert_eq!(ev.get("TaskName"), Some("\\Evil"));
        assert_eq!(ev.get("Command"), Some("C:\\Users\\Public\\e.exe"));
        let new = serde_json::json!({"OSPath": "C:\\Windows\\System32\\Tasks\\Evil", "Command": "e.exe", "ExpandedCommand": "C:\\Users\\Public\\e.exe", "_XML": "<Task><Actions><Exec><Command>C:\\Users\\Public\\e.exe</Command></Exec></Actions></Task>", "ClientId": "C.0123456789abcdef", "Mtime": "2024-01-02T03:04:05Z"});
        let ev = rows.definition(&new, &src).unwrap();
        assert_eq!(ev.computer, "C.0123456789abcdef");
        assert!(ev.get("TaskContent").unwrap().contains("<Exec>"));
        assert!(ev.time.is_some());
        assert!(
            rows.definition(&serde_json::json!({"EventID": 4698}), &src)
                .is_none()
        );
    }

    #[test]
    fn one_artemis_endpoint_is_one_host() {
        let src: Arc<str> = Arc::from("tasks.jsonl");
        let mut rows = Rows::default();
        let row = |host: &str| serde_json::json!({"path": "\\T", "details": {"actions": {"exec": [{"command": "a.exe", "arguments": null}]}, "settings": {"hidden": true, "allow_start_on_demand": false}}, "collection_metadata": {"hostname": host, "endpoint_id": "E1"}});
        let a = rows.definition(&row("first"), &src).unwrap();
        let b = rows.definition(&row("second"), &src).unwrap();
        assert_eq!(
            (a.computer.as_str(), b.computer.as_str()),
            ("first", "first")
        );
        assert_eq!(b.get("HostAliases"), Some("second"));
        assert_eq!(a.get("Hidden"), Some("true"));
        assert_eq!(a.get("Settings"), Some("AllowStartOnDemand=false"));
    }
}
