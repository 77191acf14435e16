//! Training off the caller's thread. The worker sends [`WorkerMsg`]s, one per epoch, then
//! the ranking (or a failure): over the job's own channel ([`spawn`], the headless `rank`
//! command) or to the caller's function ([`spawn_to`], the terminal UI, into the channel its
//! loop waits on). Cancelling stops it within a batch.

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

/// A running job whose messages come over its own channel ([`spawn`]).
pub struct Job {
    pub rx: Receiver<WorkerMsg>,
    handle: Handle,
}

impl Job {
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Wait for the thread to end (after `Done`, `Failed` or `Cancelled`).
    pub fn join(self) {
        self.handle.join();
    }
}

/// A running job whose messages go where its caller said ([`spawn_to`]): cancel it, wait
/// for it. Dropped, it stops its thread rather than leaving it to train for nothing.
pub struct Handle {
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Handle {
    pub fn cancel(&self) {
        self.cancel
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Wait for the thread to end (after `Done`, `Failed` or `Cancelled`).
    pub fn join(mut self) {
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
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

/// Run `task` on `ds` in a new thread; its messages come over the job's channel.
pub fn spawn(ds: Arc<Dataset>, task: Task) -> Job {
    let (tx, rx) = mpsc::channel();
    let handle = spawn_to(ds, task, move |m| {
        let _ = tx.send(m);
    });
    Job { rx, handle }
}

/// Run `task` on `ds` in a new thread, handing each message to `send` on that thread: one
/// per epoch, then `Done`, `Failed` or `Cancelled` (the terminal UI sends them into the one
/// channel its loop waits on).
pub fn spawn_to(
    ds: Arc<Dataset>,
    task: Task,
    send: impl FnMut(WorkerMsg) + Send + 'static,
) -> Handle {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("anomalog-train".into())
        .spawn(move || {
            let mut send = send;
            let result = {
                let mut on_epoch = |r: EpochReport| send(WorkerMsg::Epoch(r));
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(&ds, task, &flag, &mut on_epoch)
                }))
            };
            send(match result {
                Ok(Ok(t)) => WorkerMsg::Done(Box::new(t)),
                Ok(Err(ModelError::Cancelled)) => WorkerMsg::Cancelled,
                Ok(Err(e)) => WorkerMsg::Failed(e.to_string()),
                Err(_) => WorkerMsg::Failed("the model failed (internal error)".into()),
            });
        })
        .expect("spawn the training thread");
    Handle {
        cancel,
        thread: Some(thread),
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
