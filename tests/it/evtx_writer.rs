//! The EVTX writer's files read back through the evtx crate, checksums validated, with every
//! field identical: a property test over random events, across many chunks.

use std::sync::Arc;

use anomalog::event::RawEvent;
use anomalog::evtx_writer::{EventSpec, EvtxWriter};
use anomalog::ingest::layout;
use evtx::{EvtxParser, ParserSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const POOL: &[&str] = &[
    "a",
    "Z",
    "0",
    " ",
    "\\",
    "/",
    "<",
    ">",
    "&",
    "\"",
    "'",
    "é",
    "ß",
    "中",
    "文",
    "🦀",
    "\t",
    "-",
    "_",
    ".",
    "Task",
    "C:\\Windows\\System32\\",
    "%windir%",
    "{",
    "}",
    "=",
    "\u{202e}",
];

fn random_string(rng: &mut StdRng, max: usize) -> String {
    let n = rng.random_range(0..=max);
    (0..n)
        .map(|_| POOL[rng.random_range(0..POOL.len())])
        .collect()
}

fn task_xml(rng: &mut StdRng, len: usize) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<Task><Actions><Exec><Command>");
    while s.len() < len {
        s.push_str(&random_string(rng, 40));
        s.push_str("</Command><Arguments>");
    }
    s
}

fn random_event(rng: &mut StdRng) -> EventSpec {
    let n_data = rng.random_range(0..12);
    let mut data: Vec<(String, String)> = (0..n_data)
        .map(|i| {
            let value = match rng.random_range(0..5) {
                0 => String::new(),
                1 => {
                    let len = rng.random_range(100..6000);
                    task_xml(rng, len)
                }
                _ => random_string(rng, 30).trim().to_string(),
            };
            (format!("F{i}{}", ["Name", "Sid", "Cmd"][i % 3]), value)
        })
        .collect();
    if rng.random_bool(0.2) {
        data.push(("TaskContent".into(), task_xml(rng, 14_000)));
    }
    EventSpec {
        provider: [
            "Microsoft-Windows-Security-Auditing",
            "Microsoft-Windows-TaskScheduler",
            "Pröv 中",
        ][rng.random_range(0..3)]
        .into(),
        provider_guid: "{54849625-5478-4994-A5BA-3E3B0328C30D}".into(),
        event_id: rng.random(),
        version: rng.random_range(0..3),
        level: rng.random_range(0..5),
        task: rng.random(),
        opcode: 0,
        keywords: rng.random(),
        time: rng.random_range(1_000_000_000_000_000i64..2_000_000_000_000_000),
        process_id: rng.random(),
        thread_id: rng.random(),
        channel: [
            "Security",
            "Microsoft-Windows-TaskScheduler/Operational",
            "Ch 文",
        ][rng.random_range(0..3)]
        .into(),
        computer: format!("HOST-{}.corp.local", rng.random_range(0..100)),
        user_sid: if rng.random_bool(0.5) {
            "S-1-5-18".into()
        } else {
            String::new()
        },
        data_name: if rng.random_bool(0.3) {
            "TaskRegisteredEvent".into()
        } else {
            String::new()
        },
        data,
    }
}

/// Read a file with the evtx crate, checksums validated; panics on any bad record.
fn read_back(bytes: Vec<u8>) -> Vec<(u64, i64, serde_json::Value)> {
    let settings = ParserSettings::new()
        .validate_checksums(true)
        .num_threads(1);
    let mut p = EvtxParser::from_buffer(bytes)
        .unwrap()
        .with_configuration(settings);
    assert!(p.header().validate_checksum(), "file header CRC32");
    p.records_json_value()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("record failed to read back: {e}"));
            (r.event_record_id, r.timestamp.as_microsecond(), r.data)
        })
        .collect()
}

fn check_same(spec: &EventSpec, id: u64, got: &RawEvent, written_us: i64) {
    assert_eq!(got.channel, spec.channel);
    assert_eq!(got.provider, spec.provider);
    assert_eq!(got.event_id, u32::from(spec.event_id));
    assert_eq!(got.computer, spec.computer);
    assert_eq!(got.record_id, Some(id));
    // FILETIME has 100 ns resolution; times are whole microseconds.
    assert_eq!(got.time, Some(spec.time));
    assert_eq!(written_us, spec.time);
    assert_eq!(got.data, spec.data, "EventData of record {id}");
}

#[test]
fn random_events_round_trip_across_many_chunks() {
    let mut rng = StdRng::seed_from_u64(20261128);
    let specs: Vec<EventSpec> = (0..1500).map(|_| random_event(&mut rng)).collect();
    let mut w = EvtxWriter::new(std::io::Cursor::new(Vec::new())).unwrap();
    for (i, s) in specs.iter().enumerate() {
        assert_eq!(w.write(s).unwrap(), i as u64 + 1);
    }
    let bytes = w.finish().unwrap().into_inner();
    let chunks = (bytes.len() - 4096) / 65536;
    assert!(chunks > 20, "the test spans many chunks ({chunks})");
    let back = read_back(bytes);
    assert_eq!(back.len(), specs.len());
    let src: Arc<str> = Arc::from("mem");
    for ((id, written, json), spec) in back.iter().zip(&specs) {
        let ev = layout::from_evtx_dump(&json["Event"], &src);
        check_same(spec, *id, &ev, *written);
    }
}

#[test]
fn json_shape_matches_real_logs() {
    // What evtx_dump would print for a TaskScheduler record: EventID a number, EventData's
    // Name attribute kept, TimeCreated/SystemTime an RFC 3339 string.
    let spec = EventSpec {
        provider: "Microsoft-Windows-TaskScheduler".into(),
        event_id: 106,
        time: 1_600_000_000_123_456,
        channel: "Microsoft-Windows-TaskScheduler/Operational".into(),
        computer: "PC1".into(),
        data_name: "TaskRegisteredEvent".into(),
        data: vec![
            ("TaskName".into(), "\\Evil".into()),
            ("UserContext".into(), "CORP\\bob".into()),
        ],
        ..EventSpec::default()
    };
    let mut w = EvtxWriter::new(std::io::Cursor::new(Vec::new())).unwrap();
    w.write(&spec).unwrap();
    let back = read_back(w.finish().unwrap().into_inner());
    let e = &back[0].2["Event"];
    assert_eq!(e["System"]["EventID"], 106);
    assert_eq!(e["System"]["EventRecordID"], 1);
    assert_eq!(
        e["System"]["TimeCreated"]["#attributes"]["SystemTime"],
        "2020-09-13T12:26:40.1234560Z"
    );
    assert_eq!(e["EventData"]["#attributes"]["Name"], "TaskRegisteredEvent");
    assert_eq!(e["EventData"]["TaskName"], "\\Evil");
}

#[test]
fn an_event_too_large_for_a_chunk_is_refused() {
    let spec = EventSpec {
        data: vec![("TaskContent".into(), "x".repeat(40_000))],
        ..EventSpec::default()
    };
    let mut w = EvtxWriter::new(std::io::Cursor::new(Vec::new())).unwrap();
    assert!(w.write(&spec).is_err());
    // The writer is still usable.
    w.write(&EventSpec::default()).unwrap();
    assert_eq!(read_back(w.finish().unwrap().into_inner()).len(), 1);
}
