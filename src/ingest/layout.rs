//! JSON layouts of exported event logs, detected per record, normalised into [`RawEvent`].
//!
//! | layout | recognised by |
//! |---|---|
//! | evtx_dump `-o json`/`-o jsonl` (and this crate's own evtx reader) | `Event.System` |
//! | Chainsaw | `document.data.Event` |
//! | Winlogbeat / ECS | `winlog` object |
//! | Velociraptor `parse_evtx` | `System.EventID` with `EventData` beside it |
//! | Hayabusa | `Timestamp`, `Channel`, `EventID`, `Details` |
//! | flat (NXLog, OTRF Security-Datasets, ...) | top-level `EventID` |

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::event::{RawEvent, parse_time};

/// A JSON value as the plain string an analyst would read: strings as they are, numbers and
/// booleans printed, `null` empty, `{"#text": x}` as `x`, arrays joined by `, `, other objects
/// as compact JSON.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(", "),
        Value::Object(o) => match o.get("#text").or_else(|| o.get("Value")) {
            Some(t) => scalar(t),
            None => v.to_string(),
        },
    }
}

pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => o.get("#text").or_else(|| o.get("Value")).and_then(as_u64),
        _ => None,
    }
}

pub(crate) fn event_id(v: Option<&Value>) -> Option<u32> {
    v.and_then(as_u64).and_then(|n| u32::try_from(n).ok())
}

pub(crate) fn time_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().and_then(|f| parse_time(&f.to_string())),
        Value::String(s) => parse_time(s),
        Value::Object(o) => o
            .get("#attributes")
            .and_then(|a| a.get("SystemTime"))
            .or_else(|| o.get("SystemTime"))
            .and_then(time_of),
        _ => None,
    }
}

/// Case-insensitive lookup of the first of `keys` in an object.
fn get_ci<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| {
        o.get(*k).or_else(|| {
            o.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        })
    })
}

fn str_at(o: &Map<String, Value>, keys: &[&str]) -> String {
    get_ci(o, keys).map(scalar).unwrap_or_default()
}

/// Flatten EventData / UserData / event_data into named fields. Nested objects without text
/// (UserData's wrapper element) contribute their children; `#attributes` is skipped.
fn flatten_into(v: &Value, out: &mut Vec<(String, String)>) {
    let Value::Object(o) = v else { return };
    flatten_pairs(o.iter(), out);
}

/// [`flatten_into`] over an object's entries, in order.
pub(crate) fn flatten_pairs<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<(String, String)>,
) {
    for (k, v) in entries {
        if k == "#attributes" || k == "xmlns" {
            continue;
        }
        match v {
            Value::Object(inner) if !inner.contains_key("#text") => flatten_into(v, out),
            Value::Array(items) if k == "Data" => {
                for item in items {
                    out.push(("Data".to_string(), scalar(item)));
                }
            }
            _ => out.push((k.clone(), scalar(v))),
        }
    }
}

/// [`flatten_pairs`] over owned entries: names and string values are moved, not copied.
pub(crate) fn flatten_owned(entries: Vec<(String, Value)>, out: &mut Vec<(String, String)>) {
    for (k, v) in entries {
        if k == "#attributes" || k == "xmlns" {
            continue;
        }
        match v {
            Value::String(s) => out.push((k, s)),
            Value::Object(ref inner) if !inner.contains_key("#text") => flatten_into(&v, out),
            Value::Array(ref items) if k == "Data" => {
                for item in items {
                    out.push(("Data".to_string(), scalar(item)));
                }
            }
            other => {
                let text = scalar(&other);
                out.push((k, text));
            }
        }
    }
}

/// Normalise one JSON record of any supported layout. `None` when the value is no event.
pub fn normalize(v: &Value, source: &Arc<str>) -> Option<RawEvent> {
    let o = v.as_object()?;
    if let Some(ev) = o.get("Event").filter(|e| e.get("System").is_some()) {
        return Some(from_evtx_dump(ev, source));
    }
    if let Some(ev) = v
        .pointer("/document/data/Event")
        .or_else(|| v.pointer("/Event/data/Event"))
    {
        return Some(from_evtx_dump(ev, source));
    }
    if let Some(w) = o.get("winlog").and_then(Value::as_object) {
        return from_winlogbeat(o, w, source);
    }
    if let Some(sys) = o.get("System").and_then(Value::as_object)
        && sys.contains_key("EventID")
    {
        return Some(from_velociraptor(o, sys, source));
    }
    if o.contains_key("Details") && o.contains_key("Timestamp") && o.contains_key("Channel") {
        return from_hayabusa(o, source);
    }
    from_flat(o, source)
}

/// `System.Provider`'s name (`{"#attributes": {"Name": ...}}` in the evtx crate's JSON).
pub(crate) fn provider_name(p: Option<&Value>) -> String {
    p.and_then(|p| p.pointer("/#attributes/Name").or_else(|| p.get("Name")))
        .map(scalar)
        .unwrap_or_default()
}

/// evtx_dump's layout, which is also what the evtx crate produces for a record.
pub fn from_evtx_dump(ev: &Value, source: &Arc<str>) -> RawEvent {
    let sys = ev.get("System").and_then(Value::as_object);
    let empty = Map::new();
    let sys = sys.unwrap_or(&empty);
    let provider = provider_name(sys.get("Provider"));
    let mut data = Vec::new();
    if let Some(ed) = ev.get("EventData") {
        flatten_into(ed, &mut data);
    }
    if let Some(ud) = ev.get("UserData") {
        flatten_into(ud, &mut data);
    }
    RawEvent {
        source: source.clone(),
        channel: str_at(sys, &["Channel"]),
        event_id: event_id(sys.get("EventID")).unwrap_or(0),
        provider,
        computer: str_at(sys, &["Computer"]),
        time: sys.get("TimeCreated").and_then(time_of),
        record_id: sys.get("EventRecordID").and_then(as_u64),
        data,
    }
}

fn from_winlogbeat(
    top: &Map<String, Value>,
    w: &Map<String, Value>,
    source: &Arc<str>,
) -> Option<RawEvent> {
    let event_id = event_id(w.get("event_id"))
        .or_else(|| event_id(top.get("event").and_then(|e| e.get("code"))))?;
    let mut data = Vec::new();
    if let Some(ed) = w.get("event_data") {
        flatten_into(ed, &mut data);
    }
    if let Some(ud) = w.get("user_data") {
        flatten_into(ud, &mut data);
    }
    let computer = w
        .get("computer_name")
        .map(scalar)
        .or_else(|| top.get("host").and_then(|h| h.get("name")).map(scalar))
        .unwrap_or_default();
    let time = top
        .get("@timestamp")
        .and_then(time_of)
        .or_else(|| w.get("time_created").and_then(time_of));
    Some(RawEvent {
        source: source.clone(),
        channel: w.get("channel").map(scalar).unwrap_or_default(),
        event_id,
        provider: w.get("provider_name").map(scalar).unwrap_or_default(),
        computer,
        time,
        record_id: w.get("record_id").and_then(as_u64),
        data,
    })
}

fn from_velociraptor(
    top: &Map<String, Value>,
    sys: &Map<String, Value>,
    source: &Arc<str>,
) -> RawEvent {
    let mut data = Vec::new();
    if let Some(ed) = top.get("EventData") {
        flatten_into(ed, &mut data);
    }
    if let Some(ud) = top.get("UserData") {
        flatten_into(ud, &mut data);
    }
    let provider = sys
        .get("Provider")
        .map(|p| p.get("Name").map(scalar).unwrap_or_else(|| scalar(p)))
        .unwrap_or_default();
    RawEvent {
        source: source.clone(),
        channel: str_at(sys, &["Channel"]),
        event_id: event_id(sys.get("EventID")).unwrap_or(0),
        provider,
        computer: str_at(sys, &["Computer"]),
        time: sys.get("TimeCreated").and_then(time_of),
        record_id: sys.get("EventRecordID").and_then(as_u64),
        data,
    }
}

/// Hayabusa shortens field names in `Details`; these are the ones the profiles read.
const HAYABUSA_ALIASES: &[(&str, &str)] = &[
    ("CmdLine", "CommandLine"),
    ("Cmdline", "CommandLine"),
    ("Proc", "Image"),
    ("Path", "NewProcessName"),
    ("ParentCmdline", "ParentCommandLine"),
    ("ParentPath", "ParentProcessName"),
    ("Name", "TaskName"),
    ("Content", "TaskContent"),
    ("User", "SubjectUserName"),
];

fn from_hayabusa(o: &Map<String, Value>, source: &Arc<str>) -> Option<RawEvent> {
    let event_id = event_id(o.get("EventID"))?;
    let mut data = Vec::new();
    // The original field names first: they win over Details' aliases.
    for k in ["AllFieldInfo", "ExtraFieldInfo"] {
        if let Some(v) = o.get(k) {
            flatten_into(v, &mut data);
        }
    }
    if let Some(Value::Object(details)) = o.get("Details") {
        for (k, v) in details {
            let v = scalar(v);
            // Keep Hayabusa's short name, and add the original one where it is known.
            let full = HAYABUSA_ALIASES
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, full)| *full);
            for name in std::iter::once(k.as_str()).chain(full) {
                if !data.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    data.push((name.to_string(), v.clone()));
                }
            }
        }
    }
    Some(RawEvent {
        source: source.clone(),
        channel: str_at(o, &["Channel"]),
        event_id,
        provider: str_at(o, &["Provider"]),
        computer: str_at(o, &["Computer"]),
        time: o.get("Timestamp").and_then(time_of),
        record_id: o.get("RecordID").and_then(as_u64),
        data,
    })
}

/// Top-level keys of flat exports that describe the record rather than the event.
const FLAT_META: &[&str] = &["Message", "@version", "tags", "port", "host"];

fn from_flat(o: &Map<String, Value>, source: &Arc<str>) -> Option<RawEvent> {
    let event_id = event_id(get_ci(o, &["EventID", "EventId", "event_id"]))?;
    let time = get_ci(o, &["TimeCreated", "@timestamp", "UtcTime", "EventTime"]).and_then(time_of);
    let data = o
        .iter()
        .filter(|(k, _)| !FLAT_META.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), scalar(v)))
        .collect();
    Some(RawEvent {
        source: source.clone(),
        channel: str_at(o, &["Channel"]),
        event_id,
        provider: str_at(o, &["SourceName", "ProviderName", "Provider"]),
        computer: str_at(o, &["Hostname", "Computer", "computer_name", "host"]),
        time,
        record_id: get_ci(o, &["RecordNumber", "EventRecordID", "RecordID"]).and_then(as_u64),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn src() -> Arc<str> {
        Arc::from("t.json")
    }

    #[test]
    fn evtx_dump_event_id_with_qualifiers() {
        let v = json!({"Event": {"System": {"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
            "Channel": "System", "Computer": "PC1", "EventRecordID": 9,
            "TimeCreated": {"#attributes": {"SystemTime": "2020-01-01T00:00:00Z"}}},
            "EventData": {"ServiceName": "x", "#attributes": {"Name": "ignored"}}}});
        let e = normalize(&v, &src()).unwrap();
        assert_eq!(
            (e.event_id, e.record_id, e.computer.as_str()),
            (7045, Some(9), "PC1")
        );
        assert_eq!(e.data, vec![("ServiceName".into(), "x".into())]);
        assert!(e.time.is_some());
    }

    #[test]
    fn user_data_children_are_fields() {
        let v = json!({"Event": {"System": {"EventID": 1102, "Channel": "Security"},
            "UserData": {"LogFileCleared": {"SubjectUserName": "bob"}}}});
        let e = normalize(&v, &src()).unwrap();
        assert_eq!(e.get("subjectusername"), Some("bob"));
    }

    #[test]
    fn no_event_is_none() {
        assert!(normalize(&json!({"hello": 1}), &src()).is_none());
        assert!(normalize(&json!([1, 2]), &src()).is_none());
    }
}
