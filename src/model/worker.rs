//! Training off the caller's thread. The worker sends [`WorkerMsg`]s over a std channel: one
//! per epoch, then the ranking (or a failure). Setting the cancel flag stops it within a
//! batch. The headless `rank` command and the terminal UI consume the same messages.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use super::ae::{AeConfig, Autoencoder};
use super::{EpochReport, ModelError, ModelKind, Ranking, Saved, ds4n6, evidence, rarity};
use crate::frame::Dataset;

/// What a finished job gives.
pub struct Trained {
    pub ranking: Ranking,
    /// The trained autoencoder(s) (for `--save-model`); `None` for other models or a
    /// baseline.
    pub model: Option<Saved>,
}

pub enum WorkerMsg {
    Epoch(EpochReport),
    Done(Box<Trained>),
    Failed(String),
    Cancelled,
}

/// A running job.
pub struct Job {
    pub rx: Receiver<WorkerMsg>,
    pub cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Job {
    pub fn cancel(&self) {
        self.cancel
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Wait for the thread to end (after `Done`, `Failed` or `Cancelled`).
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // A dropped job stops its thread rather than leaving it to train for nothing.
        self.cancel();
    }
}

/// What to run.
pub enum Task {
    Train {
        kind: ModelKind,
        config: AeConfig,
    },
    /// Score with a saved model, no training.
    Baseline(Box<Saved>),
}

/// Run `task` on `ds` in a new thread.
pub fn spawn(ds: Arc<Dataset>, task: Task) -> Job {
    let (tx, rx) = mpsc::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let handle = std::thread::Builder::new()
        .name("anomalog-train".into())
        .spawn(move || {
            let progress_tx = tx.clone();
            let mut on_epoch = move |r: EpochReport| {
                let _ = progress_tx.send(WorkerMsg::Epoch(r));
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&ds, task, &flag, &mut on_epoch)
            }));
            let msg = match result {
                Ok(Ok(t)) => WorkerMsg::Done(Box::new(t)),
                Ok(Err(ModelError::Cancelled)) => WorkerMsg::Cancelled,
                Ok(Err(e)) => WorkerMsg::Failed(e.to_string()),
                Err(_) => WorkerMsg::Failed("the model failed (internal error)".into()),
            };
            let _ = tx.send(msg);
        })
        .expect("spawn the training thread");
    Job {
        rx,
        cancel,
        handle: Some(handle),
    }
}

/// The job itself, on the calling thread (tests, and the worker).
pub fn run(
    ds: &Dataset,
    task: Task,
    cancel: &AtomicBool,
    on_epoch: &mut dyn FnMut(EpochReport),
) -> Result<Trained, ModelError> {
    if !matches!(
        task,
        Task::Train {
            kind: ModelKind::Rarity,
            ..
        }
    ) {
        crate::util::process::tune_allocator();
    }
    match task {
        Task::Train {
            kind: ModelKind::Rarity,
            ..
        } => Ok(Trained {
            ranking: rarity::rank(ds),
            model: None,
        }),
        Task::Train {
            kind: ModelKind::Ds4n6,
            config,
        } => Ok(Trained {
            ranking: ds4n6::rank(ds, config.seed, cancel, on_epoch)?,
            model: None,
        }),
        Task::Train {
            kind: ModelKind::Ae,
            config,
        } if config.objective == super::ae::Objective::Hybrid => {
            let (model, ranking) = super::hybrid::Hybrid::train(ds, config, cancel, on_epoch)?;
            Ok(Trained {
                ranking: evidence::rank(ds, ranking),
                model: Some(Saved::Hybrid(Box::new(model))),
            })
        }
        Task::Train {
            kind: ModelKind::Ae,
            config,
        } => {
            let (model, ranking) = Autoencoder::train_and_score(ds, config, cancel, on_epoch)?;
            Ok(Trained {
                ranking: evidence::rank(ds, ranking),
                model: Some(Saved::Ae(Box::new(model))),
            })
        }
        Task::Baseline(model) => Ok(Trained {
            ranking: model.score(ds)?,
            model: None,
        }),
    }
}
