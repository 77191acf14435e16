//! The evtx crate's JSON rendering of a record, read straight into a [`RawEvent`].
//!
//! The crate's `into_json_value` renders a record to JSON text and parses it back into a
//! `serde_json::Value` tree (an order-preserving hash map per object), which
//! [`layout::from_evtx_dump`] then walks. For the records a profile keeps, that tree is most
//! of the cost after the parse itself. This reads the rendered text once, keeping only
//! `Event.System`, `Event.EventData` and `Event.UserData` as ordered entry lists (leaf values
//! as small `Value`s, so that [`layout::scalar`] prints them exactly as before), and builds
//! the same `RawEvent` as `from_evtx_dump`. Anything it does not expect (no `Event` object,
//! `EventData` that is text) gives `None`, and the caller takes the `Value` path: a test
//! checks both give the same event for every record of the real samples.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::layout::{self, flatten_owned, scalar};
use crate::event::RawEvent;

/// An object's entries in order; a repeated key replaces the earlier value in place, as in
/// serde_json's order-preserving map.
#[derive(Default)]
struct Entries(Vec<(String, Value)>);

impl Entries {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The exact key, else the first key equal to it ignoring ASCII case.
    fn get_ci(&self, key: &str) -> Option<&Value> {
        self.get(key).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }
}

/// Reads an object's entries, keeping those whose key the function accepts.
struct EntriesVisitor(fn(&str) -> bool);

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut out: Vec<(String, Value)> = Vec::with_capacity(16);
        while let Some(k) = map.next_key::<String>()? {
            if !(self.0)(&k) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let v: Value = map.next_value()?;
            match out.iter_mut().find(|(e, _)| *e == k) {
                Some(e) => e.1 = v,
                None => out.push((k, v)),
            }
        }
        Ok(Entries(out))
    }
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntriesVisitor(|_| true))
    }
}

/// `System`, keeping only the keys a [`RawEvent`] reads (matched ignoring ASCII case, a
/// superset of the lookups in [`read`]): `Execution`, `Correlation`, `Security`, ... are
/// skipped without being built.
struct System(Entries);

impl<'de> Deserialize<'de> for System {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const READ: &[&str] = &[
            "Provider",
            "Channel",
            "EventID",
            "Computer",
            "TimeCreated",
            "EventRecordID",
        ];
        d.deserialize_map(EntriesVisitor(|k| {
            READ.iter().any(|r| r.eq_ignore_ascii_case(k))
        }))
        .map(System)
    }
}

/// `Event`'s parts that a [`RawEvent`] reads.
#[derive(Default)]
struct Body {
    system: Option<System>,
    event_data: Option<Entries>,
    user_data: Option<Entries>,
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an Event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                let mut b = Body::default();
                while let Some(k) = map.next_key::<String>()? {
                    // `null` (an empty element) reads as an absent one, as in the Value path.
                    match k.as_str() {
                        "System" => b.system = map.next_value()?,
                        "EventData" => b.event_data = map.next_value()?,
                        "UserData" => b.user_data = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(b)
            }
        }
        d.deserialize_map(V)
    }
}

/// The rendered record's top level: `{"Event": {...}}`.
struct Top(Option<Body>);

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Top;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a record object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                let mut event = None;
                while let Some(k) = map.next_key::<String>()? {
                    if k == "Event" {
                        event = Some(map.next_value::<Body>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Top(event))
            }
        }
        d.deserialize_map(V)
    }
}

/// The event in `json` (the crate's rendering of one record), as
/// [`layout::from_evtx_dump`] would make it; `None` when the text is not of the expected
/// shape (the caller then parses it into a `Value`).
pub fn read(json: &[u8], source: &Arc<str>) -> Option<RawEvent> {
    let Top(body) = serde_json::from_slice(json).ok()?;
    let body = body?;
    let sys = body.system.map(|s| s.0).unwrap_or_default();
    let provider = layout::provider_name(sys.get("Provider"));
    let mut data = Vec::new();
    for part in [body.event_data, body.user_data].into_iter().flatten() {
        flatten_owned(part.0, &mut data);
    }
    Some(RawEvent {
        source: source.clone(),
        channel: sys.get_ci("Channel").map(scalar).unwrap_or_default(),
        event_id: layout::event_id(sys.get("EventID")).unwrap_or(0),
        provider,
        computer: sys.get_ci("Computer").map(scalar).unwrap_or_default(),
        time: sys.get("TimeCreated").and_then(layout::time_of),
        record_id: sys.get("EventRecordID").and_then(layout::as_u64),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> (Option<RawEvent>, RawEvent) {
        let src: Arc<str> = Arc::from("t");
        let v: Value = serde_json::from_str(text).unwrap();
        let slow = match v.get("Event") {
            Some(e) => layout::from_evtx_dump(e, &src),
            None => layout::from_evtx_dump(&v, &src),
        };
        (read(text.as_bytes(), &src), slow)
    }

    #[test]
    fn same_event_as_the_value_path() {
        let cases = [
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"P"}},"EventID":{"#attributes":{"Qualifiers":0},"#text":7045},"Channel":"System","Computer":"PC","TimeCreated":{"#attributes":{"SystemTime":"2020-01-01T00:00:00Z"}},"EventRecordID":5},"EventData":{"A":"1","B":null,"C":{"#text":"c"},"Data":["x","y"],"A":"2"}}}"##,
            r#"{"Event":{"System":{"EventID":4698,"channel":"Security"},"EventData":null,"UserData":{"Wrap":{"X":"1","Y":2.5}}}}"#,
            r#"{"Event":{"System":{"EventID":"106"},"EventData":{"Nested":{"Deep":{"K":true}}}}}"#,
        ];
        for c in cases {
            let (fast, slow) = both(c);
            assert_eq!(fast.as_ref(), Some(&slow), "{c}");
        }
    }

    #[test]
    fn unexpected_shapes_fall_back() {
        assert!(both(r#"{"System":{"EventID":1}}"#).0.is_none());
        assert!(
            both(r#"{"Event":{"System":{"EventID":1},"EventData":"text"}}"#)
                .0
                .is_none()
        );
    }
}
