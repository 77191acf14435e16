//! The models: determinism, the worker's messages and cancel flag, saved models and
//! baselines, per-field errors and expected values in the output.

use crate::util;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anomalog::frame::Dataset;
use anomalog::model::ae::{AeConfig, Autoencoder};
use anomalog::model::worker::{self, Task, Trained, WorkerMsg, run};
use anomalog::model::{ModelKind, Ranking, Saved};
use anomalog::profile::by_name;
use serde_json::Value;

fn samples() -> Dataset {
    util::load(&[util::samples()]).dataset
}

/// The autoencoder trained on `ds` with `config`.
fn ae(ds: &Dataset, config: AeConfig) -> Autoencoder {
    Autoencoder::train(ds, config, &AtomicBool::new(false), &mut |_| {}).unwrap()
}

/// What the worker gives for the autoencoder with `config`: the ranking and the model to save.
fn trained_ae(ds: &Dataset, config: AeConfig) -> Trained {
    let task = Task::Train {
        kind: ModelKind::Ae,
        config,
    };
    run(ds, task, &AtomicBool::new(false), &mut |_| {}).unwrap()
}

fn train(ds: &Dataset, kind: ModelKind, seed: u64) -> Ranking {
    let task = Task::Train {
        kind,
        config: AeConfig {
            seed,
            epochs: 12,
            ..AeConfig::default()
        },
    };
    run(ds, task, &AtomicBool::new(false), &mut |_| {})
        .unwrap()
        .ranking
}

#[test]
fn same_seed_same_ranking() {
    let ds = samples();
    for kind in [ModelKind::Ae, ModelKind::Ds4n6] {
        let a = train(&ds, kind, 7);
        let b = train(&ds, kind, 7);
        assert_eq!(a.order, b.order, "{kind:?}");
        assert_eq!(a.scores, b.scores, "{kind:?}");
        assert_eq!(a.order.len(), ds.uniques.len());
    }
    let c = train(&ds, ModelKind::Ae, 8);
    assert_ne!(
        train(&ds, ModelKind::Ae, 7).scores,
        c.scores,
        "the seed matters"
    );
    // The hybrid (the default): three trainings on their own threads, one ranking.
    let hybrid = |seed| {
        trained_ae(
            &ds,
            AeConfig {
                seed,
                epochs: 12,
                objective: anomalog::model::ae::Objective::Hybrid,
                ..AeConfig::default()
            },
        )
        .ranking
    };
    let (a, b) = (hybrid(7), hybrid(7));
    assert_eq!(a.scores, b.scores);
    assert_eq!(a.order, b.order);
    assert_eq!(a.expected, b.expected);
    assert_eq!(a.field_parts, b.field_parts);
    assert_ne!(a.scores, hybrid(8).scores, "the seed matters");
}

#[test]
fn worker_reports_every_epoch_and_the_loss_falls() {
    let ds = Arc::new(samples());
    let job = worker::spawn(
        ds.clone(),
        Task::Train {
            kind: ModelKind::Ae,
            config: AeConfig {
                epochs: 10,
                ..AeConfig::default()
            },
        },
    );
    let mut epochs = Vec::new();
    let done = loop {
        match job
            .rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a message")
        {
            WorkerMsg::Epoch(r) => epochs.push(r),
            WorkerMsg::Done(t) => break t,
            WorkerMsg::Failed(e) => panic!("{e}"),
            WorkerMsg::Cancelled => panic!("cancelled"),
        }
    };
    job.join();
    assert_eq!(
        epochs.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert!(
        epochs
            .iter()
            .all(|r| r.epochs == 10 && r.loss.is_finite() && r.eta >= 0.0)
    );
    assert!(
        epochs[9].loss < epochs[0].loss,
        "{:?} -> {:?}",
        epochs[0].loss,
        epochs[9].loss
    );
    assert_eq!(epochs[9].eta, 0.0);
    assert_eq!(done.ranking.model, anomalog::model::ModelKind::Ae);
    assert!(done.model.is_some());
}

#[test]
fn cancel_stops_training_quickly() {
    let ds = Arc::new(samples());
    let job = worker::spawn(
        ds,
        Task::Train {
            kind: ModelKind::Ae,
            config: AeConfig {
                epochs: 100_000,
                ..AeConfig::default()
            },
        },
    );
    // Let it start, then cancel.
    assert!(matches!(
        job.rx.recv_timeout(Duration::from_secs(60)),
        Ok(WorkerMsg::Epoch(_))
    ));
    let t = Instant::now();
    job.cancel();
    loop {
        match job
            .rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the worker answers")
        {
            WorkerMsg::Epoch(_) => continue,
            WorkerMsg::Cancelled => break,
            _ => panic!("expected Cancelled"),
        }
    }
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "stopped in {:?}",
        t.elapsed()
    );
    job.join();
}

#[test]
fn per_field_losses_z_and_expected_values() {
    let ds = samples();
    let task = Task::Train {
        kind: ModelKind::Ae,
        config: AeConfig::default(),
    };
    let r = run(&ds, task, &AtomicBool::new(false), &mut |_| {})
        .unwrap()
        .ranking;
    let n = ds.fields.len();
    assert_eq!(r.field_scores.len(), ds.uniques.len());
    assert!(
        r.field_scores
            .iter()
            .all(|f| f.len() == n && f.iter().all(|x| x.is_finite() && *x >= 0.0))
    );
    assert!(
        r.field_z
            .iter()
            .all(|z| z.len() == n && z.iter().all(|x| x.is_finite()))
    );
    assert!(
        r.expected
            .iter()
            .all(|e| e.len() == n && e.iter().all(|(_, p)| (0.0..=1.0).contains(p)))
    );
    // The row's score is its evidence counted once per group of fields (`evidence::rank`):
    // the groups' surprises piled (the four largest whole, the others at a quarter), less
    // the spread over hosts, plus `STRONGEST` times the strongest group's calibrated
    // surprise and `CONTRADICTION` times the strongest calibrated contradiction, each at
    // most `ln(rows + 1)`; each share splits into what the model adds and the value's
    // rarity given its task's history.
    use anomalog::model::evidence::{self, pile, spread};
    let groups = evidence::Groups::of(&ds.fields);
    let most =
        (evidence::STRONGEST + evidence::CONTRADICTION) * ((ds.uniques.len() + 1) as f64).ln();
    for u in 0..ds.uniques.len() {
        let shares = &r.field_scores[u];
        let max = shares.iter().fold(0f32, |a, &b| a.max(b));
        let spread = spread(ds.uniques[u].hosts.len());
        assert!(r.scores[u] >= f64::from(max) - spread - 1e-3, "{u}");
        let grouped = pile(&groups.surprises(shares)) - spread;
        let extra = r.scores[u] - grouped;
        assert!((-1e-3..=most + 1e-3).contains(&extra), "{u}: {extra}");
        for (f, &(c, h)) in r.field_parts[u].iter().enumerate() {
            assert!((c + h - shares[f]).abs() < 1e-3, "{u} {f}");
        }
    }
    // For common events, the model expects their actual task names.
    let ti = ds.fields.iter().position(|f| *f == "task_name").unwrap();
    let mut by_count: Vec<usize> = (0..ds.uniques.len()).collect();
    by_count.sort_by_key(|&u| std::cmp::Reverse(ds.uniques[u].count()));
    let right = by_count[..20]
        .iter()
        .filter(|&&u| *r.expected[u][ti].0 == *ds.uniques[u].values[ti])
        .count();
    assert!(
        right >= 16,
        "{right} of the 20 most common events reconstructed"
    );
}

#[test]
fn saved_model_scores_identically_and_refuses_other_files() {
    let ds = samples();
    let model = ae(
        &ds,
        AeConfig {
            epochs: 8,
            ..AeConfig::default()
        },
    );
    let before = model.score(&ds).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    let loaded = Autoencoder::load(&path).unwrap();
    let after = loaded.score(&ds).unwrap();
    assert_eq!(before.scores, after.scores);
    assert_eq!(before.order, after.order);

    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let e = Autoencoder::load(&junk).err().unwrap().to_string();
    assert!(e.contains("not an anomalog model"), "{e}");

    // A safetensors file of another format version.
    let other = dir.path().join("other.safetensors");
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "anomalog-ae-0".to_string());
    let t =
        candle_core::Tensor::zeros(2, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    safetensors::serialize_to_file(vec![("w", t)], Some(meta), &other).unwrap();
    let e = Autoencoder::load(&other).err().unwrap().to_string();
    assert!(
        e.contains("anomalog-ae-0") && e.contains(anomalog::model::ae::FORMAT),
        "{e}"
    );
}

#[test]
fn every_model_ranks_every_unique_event() {
    let ds = samples();
    for kind in [ModelKind::Ae, ModelKind::Ds4n6, ModelKind::Rarity] {
        let r = train(&ds, kind, 3);
        let mut o = r.order.clone();
        o.sort_unstable();
        assert_eq!(o, (0..ds.uniques.len()).collect::<Vec<_>>(), "{kind:?}");
        assert!(
            r.order.windows(2).all(|w| r.scores[w[0]] >= r.scores[w[1]]),
            "{kind:?} best first"
        );
        assert_eq!(r.model, kind);
    }
}

/// A saved model is a file, so input: a damaged one (lengths that do not match, indices past
/// the end) is refused with an error, never a panic when it is used.
#[test]
fn a_damaged_model_file_is_refused() {
    let ds = samples();
    let model = ae(
        &ds,
        AeConfig {
            epochs: 2,
            ..AeConfig::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu).unwrap();
    // Rewrite one metadata entry through `damage` and try to load the result.
    let damaged = |key: &str, damage: &dyn Fn(&mut serde_json::Value)| -> String {
        let mut meta = meta.clone();
        let mut v: serde_json::Value = serde_json::from_str(&meta[key]).unwrap();
        damage(&mut v);
        meta.insert(key.to_string(), v.to_string());
        let out = dir.path().join(format!("damaged-{key}.safetensors"));
        let list: Vec<(&str, &candle_core::Tensor)> =
            tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        safetensors::serialize_to_file(list, Some(meta), &out).unwrap();
        match Autoencoder::load(&out) {
            Ok(m) => format!("loaded: {:?}", m.score(&ds).err()),
            Err(e) => e.to_string(),
        }
    };
    let e = damaged("stats", &|v| {
        v["std"].as_array_mut().unwrap().pop();
    });
    assert!(e.contains("loss statistics"), "{e}");
    let e = damaged("encoder", &|v| {
        v["token_fields"] = serde_json::json!([9999]);
    });
    assert!(e.contains("damaged encoder"), "{e}");
    let e = damaged("encoder", &|v| {
        v["fields"][1]["counts"].as_array_mut().unwrap().clear();
    });
    assert!(e.contains("damaged encoder"), "{e}");
}

/// Where the model expects the rare bucket, the expectation says so in words ("a value seen
/// fewer than 3 times"), never the event's own rare value posing as what was expected
/// (issue 25).
#[test]
fn the_rare_bucket_is_expected_in_words_never_as_the_events_own_value() {
    let ds = samples();
    // The masked model: it predicts a field from the others, so it does expect rare values.
    let model = ae(
        &ds,
        AeConfig {
            objective: anomalog::model::ae::Objective::Masked,
            ..AeConfig::default()
        },
    );
    let r = model.score(&ds).unwrap();
    let mut bucket = 0;
    for u in 0..ds.uniques.len() {
        for f in 0..ds.fields.len() {
            let value = &ds.uniques[u].values[f];
            let vocab = &model.encoder.fields[f + 1];
            let (expected, p) = &r.expected[u][f];
            assert!((0.0..=1.0).contains(p));
            assert_ne!(&**expected, "(rare)");
            if expected.starts_with("(a value seen fewer than 3 times")
                || expected.starts_with("(a rare value: seen fewer than 3 times")
            {
                bucket += 1;
            } else if vocab.index_of(value) == 0 && !value.is_empty() {
                assert_ne!(
                    expected, value,
                    "{}: a rare value shown as its own expectation",
                    ds.fields[f]
                );
            }
        }
    }
    assert!(bucket > 0, "some field's rare bucket was expected");
}

/// A saved hybrid is input too: a file whose parts are missing, too many, or do not belong
/// together is refused with a message naming it, and either loader says what the file is.
#[test]
fn a_damaged_hybrid_file_is_refused() {
    let ds = samples();
    let trained = trained_ae(
        &ds,
        AeConfig {
            epochs: 2,
            objective: anomalog::model::ae::Objective::Hybrid,
            ..AeConfig::default()
        },
    );
    let bytes = trained.model.unwrap().to_bytes().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["format"], anomalog::model::hybrid::FORMAT);
    let tensors = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu).unwrap();
    // Write the file with one metadata entry changed (or removed) and without one tensor.
    let load = |key: &str, value: Option<&str>, drop: &str| -> String {
        let mut meta = meta.clone();
        match value {
            Some(v) => meta.insert(key.to_string(), v.to_string()),
            None => meta.remove(key),
        };
        let list: Vec<(&str, &candle_core::Tensor)> = tensors
            .iter()
            .filter(|(k, _)| k.as_str() != drop)
            .map(|(k, t)| (k.as_str(), t))
            .collect();
        let out = dir.path().join("damaged.safetensors");
        safetensors::serialize_to_file(list, Some(meta), &out).unwrap();
        match Saved::load(&out) {
            Ok(m) => format!("loaded: {:?}", m.score(&ds).err()),
            Err(e) => e.to_string(),
        }
    };
    let e = load("masked", Some("9"), "");
    assert!(
        e.contains("damaged.safetensors") && e.contains("1 to 8"),
        "{e}"
    );
    let e = load("masked", Some("3"), "");
    assert!(e.contains("masked2.encoder"), "{e}");
    let e = load("masked", None, "");
    assert!(e.contains("metadata lacks masked"), "{e}");
    let e = load("masked", Some("2"), "masked1.wo");
    assert!(e.contains("weights lack masked1.wo"), "{e}");
    // A masked model trained on another profile's events.
    let mut other: Value = serde_json::from_str(&meta["masked0.encoder"]).unwrap();
    other["profile"] = "services".into();
    let e = load("masked0.encoder", Some(&other.to_string()), "");
    assert!(e.contains("do not belong together"), "{e}");
    let e = load("format", Some("anomalog-hybrid-0"), "");
    assert!(
        e.contains("anomalog-hybrid-0") && e.contains(anomalog::model::hybrid::FORMAT),
        "{e}"
    );
}

/// Rewrite one tensor of a saved model: every f32 of `name` set to `value`.
fn with_weights(model: &[u8], name: &str, value: f32) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let (_, header) = safetensors::SafeTensors::read_metadata(model).unwrap();
    let meta = header.metadata().clone();
    let st = safetensors::SafeTensors::deserialize(model).unwrap();
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (n, t) in st.tensors() {
        assert_eq!(t.dtype(), Dtype::F32);
        let data = if n == name {
            value
                .to_le_bytes()
                .iter()
                .copied()
                .cycle()
                .take(t.data().len())
                .collect()
        } else {
            t.data().to_vec()
        };
        owned.push((n, t.shape().to_vec(), data));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, shape, data)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, meta).unwrap()
}

/// Found by `examples/fuzz.rs` (target `baseline`): a saved model whose output weights are
/// huge (finite) pointed the expected value past its field's vocabulary, and scoring
/// panicked; weights that are not finite are refused when the file is loaded.
#[test]
fn a_damaged_saved_model_never_panics() {
    let ds = samples();
    let trained = trained_ae(
        &ds,
        AeConfig {
            epochs: 2,
            ..AeConfig::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    std::fs::write(&good, trained.model.unwrap().to_bytes().unwrap()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names: Vec<String> = st.tensors().into_iter().map(|(n, _)| n).collect();
    assert!(!names.is_empty());
    for name in &names {
        // Huge but finite: loads, and scores without panicking; every expected value is one
        // of its field's values.
        let p = dir.path().join(format!("{name}-huge.safetensors"));
        std::fs::write(&p, with_weights(&bytes, name, 1e30)).unwrap();
        let m = Autoencoder::load(&p).unwrap();
        if let Ok(r) = m.score(&ds) {
            assert_eq!(r.order.len(), ds.uniques.len());
        }
        // Not finite: refused, naming the file and the tensor.
        let p = dir.path().join(format!("{name}-nan.safetensors"));
        std::fs::write(&p, with_weights(&bytes, name, f32::NAN)).unwrap();
        let err = Autoencoder::load(&p).err().expect("refused").to_string();
        assert!(
            err.contains(&*p.to_string_lossy())
                && err.contains(name.as_str())
                && err.contains("not finite"),
            "{err}"
        );
    }
}

/// A Security 4698 of task `name` on `host`, run as `principal`, launching `command`.
fn def(
    name: &str,
    host: &str,
    principal: &str,
    command: &str,
    record: u64,
) -> anomalog::event::RawEvent {
    let xml = format!(
        "<Task><Triggers><CalendarTrigger/></Triggers><Principals><Principal><UserId>{principal}</UserId></Principal></Principals><Actions><Exec><Command>{command}</Command></Exec></Actions></Task>"
    );
    anomalog::event::RawEvent {
        source: Arc::from("synthetic"),
        channel: "Security".into(),
        event_id: 4698,
        provider: String::new(),
        computer: host.into(),
        time: Some(record as i64 * 60_000_000),
        record_id: Some(record),
        data: vec![
            ("TaskName".into(), name.into()),
            ("SubjectUserName".into(), "admin".into()),
            ("SubjectDomainName".into(), "CORP".into()),
            ("TaskContent".into(), xml),
        ],
    }
}

/// Every value ordinary, the combination new: vendor tasks always run as SYSTEM, per-user
/// tasks as their user; one vendor task runs as a user. Counting sees nothing; the
/// conditional loss of `principal` (predicted with the principal hidden) does, and what the
/// other fields predict is SYSTEM.
#[test]
fn the_autoencoder_scores_a_field_from_the_others() {
    let mut events = Vec::new();
    let mut rec = 0;
    for i in 0..80 {
        for h in 0..3 {
            rec += 1;
            events.push(def(
                &format!("\\VendorA\\Update{}", i % 40),
                &format!("pc{h}"),
                "S-1-5-18",
                "C:\\Program Files\\VendorA\\update.exe",
                rec,
            ));
            rec += 1;
            let user = ["alice", "bob", "carol", "dave"][i % 4];
            events.push(def(
                &format!("\\Sync\\{user} {}", i % 40),
                &format!("pc{h}"),
                &format!("CORP\\{user}"),
                "C:\\Users\\Public\\sync.exe",
                rec,
            ));
        }
    }
    // As often and on as many hosts as every other task: only the combination is new.
    for h in 0..3 {
        for k in 0..2 {
            events.push(def(
                "\\VendorA\\Update7",
                &format!("pc{h}"),
                "CORP\\bob",
                "C:\\Program Files\\VendorA\\update.exe",
                99_000 + h * 10 + k,
            ));
        }
    }
    let profile = by_name("scheduled-tasks").unwrap();
    let mut ds = Dataset::build(profile.as_ref(), events);
    anomalog::context::add(&mut ds);
    let planted = (0..ds.uniques.len())
        .find(|&u| {
            ds.value(u, "task_name") == "\\VendorA\\Update7"
                && ds.value(u, "principal") == "corp\\bob"
        })
        .unwrap();
    // Trained as the app trains (epochs chosen from the data), with the masked objective.
    let r = trained_ae(
        &ds,
        AeConfig {
            objective: anomalog::model::ae::Objective::Masked,
            ..AeConfig::default()
        },
    )
    .ranking;
    let p = ds.fields.iter().position(|f| *f == "principal").unwrap();
    let (conditional, _) = r.field_parts[planted][p];
    let (expected, prob) = &r.expected[planted][p];
    assert_eq!(&**expected, "nt authority\\system", "{prob}");
    // Every other vendor task's principal is what its other fields predict.
    let vendor_max = (0..ds.uniques.len())
        .filter(|&u| u != planted && ds.value(u, "task_name").starts_with("\\VendorA"))
        .map(|u| r.field_parts[u][p].0)
        .fold(0f32, f32::max);
    assert!(
        conditional > 1.0 && conditional > 3.0 * vendor_max,
        "planted {conditional}, others at most {vendor_max}"
    );
    // One training is one draw: over five seeds, the masked model puts the plant in its top
    // three in at least four (seed 1 of this canonically ordered dataset misses it).
    let ranks: Vec<usize> = (1..=5)
        .map(|seed| {
            let r = trained_ae(
                &ds,
                AeConfig {
                    objective: anomalog::model::ae::Objective::Masked,
                    seed,
                    ..AeConfig::default()
                },
            )
            .ranking;
            r.order.iter().position(|&u| u == planted).unwrap()
        })
        .collect();
    let counted = anomalog::model::rarity::rank(&ds);
    let counted_rank = counted.order.iter().position(|&u| u == planted).unwrap();
    eprintln!("ae ranks {ranks:?}, rarity rank {counted_rank}, conditional {conditional}");
    assert!(
        ranks.iter().filter(|&&k| k < 3).count() >= 4,
        "ae ranks it {ranks:?}"
    );
    assert!(
        counted_rank > 10,
        "counting sees nothing: rank {counted_rank}"
    );
    // The contradiction weight: the planted principal contradicts a confident prediction, so
    // its surprise weighs 1 + w·p times; a principal the model predicted right is untouched.
    // (The first of the trainings above confident enough for the weight to apply.)
    let mut model = (1..=5)
        .map(|seed| {
            ae(
                &ds,
                AeConfig {
                    objective: anomalog::model::ae::Objective::Masked,
                    seed,
                    ..AeConfig::default()
                },
            )
        })
        .find(|m| m.score(&ds).unwrap().expected[planted][p].1 >= anomalog::model::ae::CONFIDENT)
        .expect("one of five trainings confident of the principal");
    let weighed = model.score(&ds).unwrap();
    let w = model.config.contradiction;
    assert!(w > 0.0);
    model.config.contradiction = 0.0;
    let plain = model.score(&ds).unwrap();
    let (c_w, r_w) = weighed.field_parts[planted][p];
    let (c_0, r_0) = plain.field_parts[planted][p];
    let prob = weighed.expected[planted][p].1;
    assert!(prob >= anomalog::model::ae::CONFIDENT, "{prob}");
    assert!(
        (c_w - c_0 * (1.0 + w * prob)).abs() < 1e-3 * c_w.max(1.0),
        "{c_w} {c_0} {prob}"
    );
    assert_eq!(r_w, r_0, "the rarity part is the same");
    let other = (0..ds.uniques.len())
        .find(|&u| u != planted && ds.value(u, "task_name").starts_with("\\VendorA"))
        .unwrap();
    assert_eq!(weighed.field_parts[other][p], plain.field_parts[other][p]);
    assert!(weighed.scores[planted] > plain.scores[planted]);
    // What the hybrid reads of a masked model: exactly what the weight added, per field.
    model.config.contradiction = w;
    let found = model.contradictions(&ds).unwrap();
    for u in 0..ds.uniques.len() {
        for f in 0..ds.fields.len() {
            assert_eq!(
                found.gain[u][f],
                weighed.field_parts[u][f].0 - plain.field_parts[u][f].0
            );
            assert_eq!(found.expected[u][f], weighed.expected[u][f]);
            assert_eq!(found.rarity[u][f], weighed.field_parts[u][f].1);
        }
    }

    // The hybrid: the swap ranking, plus the contradictions two masked models agree on.
    let hybrid = trained_ae(
        &ds,
        AeConfig {
            objective: anomalog::model::ae::Objective::Hybrid,
            ..AeConfig::default()
        },
    );
    let h = hybrid.ranking;
    // Each field's share splits into what the models add and the value's plain rarity.
    assert_eq!(h.field_parts.len(), ds.uniques.len());
    for u in 0..ds.uniques.len() {
        for f in 0..ds.fields.len() {
            let (c, r) = h.field_parts[u][f];
            assert!(r >= 0.0);
            assert!((c + r - h.field_scores[u][f]).abs() < 1e-4, "{u} {f}");
        }
    }
    // Saved and loaded, the three models rank as they did.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hybrid.safetensors");
    let saved = hybrid.model.expect("the hybrid's models");
    assert!(matches!(saved, Saved::Hybrid(_)));
    std::fs::write(&path, saved.to_bytes().unwrap()).unwrap();
    let loaded = Saved::load(&path).unwrap().score(&ds).unwrap();
    assert_eq!(loaded.scores, h.scores);
    assert_eq!(loaded.order, h.order);
    assert_eq!(loaded.expected, h.expected);
    let e = Autoencoder::load(&path).err().unwrap().to_string();
    assert!(e.contains("hybrid") && e.contains("--baseline"), "{e}");
    let swap_model = ae(&ds, AeConfig::default());
    let swap = swap_model.score(&ds).unwrap();
    // The swap ranking is its base: contradictions only ever add (both scored by their
    // evidence, as `rank` and the app score them).
    let swap_ev = anomalog::model::evidence::rank(&ds, swap.clone());
    assert!((0..ds.uniques.len()).all(|u| h.scores[u] >= swap_ev.scores[u] - 1e-4));
    // Whether the two masked models agree on this event depends on their training (with
    // one feature set the second was only half sure of SYSTEM); either way the hybrid never
    // ranks the plant below swap, and lifts it where they agree (the rules themselves are
    // checked with chosen contradictions below).
    let h_rank = h.order.iter().position(|&u| u == planted).unwrap();
    let s_rank = swap_ev.order.iter().position(|&u| u == planted).unwrap();
    assert!(
        h.scores[planted] >= swap_ev.scores[planted] - 1e-4 && h_rank <= s_rank.max(2),
        "{h_rank} {s_rank}"
    );
    // When both agree (the same confident model twice), the gain is added whole, to the
    // field and the score, with the masked model's expectation.
    let agreed =
        anomalog::model::hybrid::combine(&ds, swap.clone(), vec![found.clone(), found.clone()]);
    let gain: f64 = (0..ds.fields.len())
        .filter(|&f| !anomalog::model::hybrid::NOT_CONTRADICTED.contains(&ds.fields[f]))
        .filter(|&f| !found.expected[planted][f].0.is_empty())
        .map(|f| f64::from(found.gain[planted][f]))
        .filter(|&g| g > 0.0)
        .sum();
    assert!(
        gain >= f64::from(c_w - c_0) - 1e-3,
        "the principal's gain is in it"
    );
    assert!((agreed.scores[planted] - swap.scores[planted] - gain).abs() < 1e-3);
    assert_eq!(&*agreed.expected[planted][p].0, "nt authority\\system");
    let a_rank = agreed.order.iter().position(|&u| u == planted).unwrap();
    let raw_rank = swap.order.iter().position(|&u| u == planted).unwrap();
    assert!(a_rank < raw_rank, "{a_rank} {raw_rank} {s_rank}");
    // "Expected nothing there" is no contradiction: the same gain with an empty expectation
    // adds nothing.
    let mut blank = found.clone();
    blank.expected[planted][p].0 = Arc::from("");
    let unsure = anomalog::model::hybrid::combine(&ds, swap.clone(), vec![blank.clone(), blank]);
    let principal_gain = f64::from(found.gain[planted][p]);
    assert!(principal_gain > 0.0);
    assert!((agreed.scores[planted] - unsure.scores[planted] - principal_gain).abs() < 1e-3);
    // Combining with models that add nothing leaves the swap ranking as it was.
    let nothing = swap_model.contradictions(&ds).unwrap();
    assert!(nothing.gain.iter().flatten().all(|&g| g == 0.0));
    let same =
        anomalog::model::hybrid::combine(&ds, swap.clone(), vec![nothing.clone(), nothing.clone()]);
    assert_eq!(same.scores, swap.scores);
    assert_eq!(same.order, swap.order);
    // One model alone contradicting is not enough.
    let alone = anomalog::model::hybrid::combine(&ds, swap.clone(), vec![found, nothing]);
    assert_eq!(alone.scores, swap.scores);
}
