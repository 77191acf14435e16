//! The terminal loop: thin on purpose. It waits on one channel, into which the input thread
//! (keys and mouse events), the loader, the training worker and the effect executor all
//! send; it turns terminal events into [`Action`]s, hands messages to the app, carries out
//! [`Effect`]s, and draws. Reading the terminal, loading, training and writing files run on
//! their own threads; the loop never blocks on them, and a message is drawn as it comes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyCode, KeyEvent, KeyEventKind,
    KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui::crossterm::execute;

use crate::app::{Action, App, Effect, Key, LoadState, Msg};
use crate::ingest::Progress;
use crate::model::ModelKind;
use crate::model::ae::AeConfig;
use crate::model::worker::{self, Task};
use crate::pipeline::Loaded;
use crate::profile::Profile;
use crate::session::Session;
use crate::ui;

/// The key a terminal key event is, if it is one the app knows.
pub fn key_of(key: KeyEvent) -> Option<Key> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    Some(match key.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c),
        KeyCode::Char(c) if alt => Key::Alt(c),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left if ctrl || alt => Key::WordLeft,
        KeyCode::Right if ctrl || alt => Key::WordRight,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Backspace if ctrl || alt => Key::WordBackspace,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Delete => Key::Delete,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Tab => Key::Tab,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    })
}

/// The action a key means in the app's current mode, if any: the key table of what is open
/// ([`App::keymap`]) decides.
pub fn key_action(app: &App, key: KeyEvent) -> Option<Action> {
    app.keymap().action(key_of(key)?)
}

/// The actions one terminal event means.
fn actions_of(app: &App, ev: Event, size: ratatui::layout::Size) -> Vec<Action> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => {
            key_action(app, k).into_iter().collect()
        }
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => vec![Action::Down],
            MouseEventKind::ScrollUp => vec![Action::Up],
            MouseEventKind::Down(MouseButton::Left) => ui::click(
                app,
                ratatui::layout::Rect::new(0, 0, size.width, size.height),
                m.column,
                m.row,
            )
            .into_iter()
            .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Open the TUI on `paths`. The terminal is restored on every way out, panics included:
/// `ratatui::init` installs a hook that leaves the alternate screen and raw mode, and ours,
/// chained before it, turns mouse reporting off (else the shell keeps receiving mouse codes).
pub fn run(options: Options) -> Result<()> {
    let mut terminal = ratatui::try_init()?;
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        restore(info);
    }));
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, options);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// What the terminal UI opens and how (plain values: the command line fills them).
pub struct Options {
    pub paths: Vec<PathBuf>,
    pub profile: Box<dyn Profile>,
    pub config: AeConfig,
    pub monochrome: bool,
    /// The triage session file (default: beside the logs).
    pub session: Option<PathBuf>,
    /// Leave the unique events the session calls benign out of training.
    pub exclude_benign: bool,
    /// How inputs are read together.
    pub load: crate::frame::Options,
}

/// Read the logs and open their triage session (on the loader thread).
fn load(options: &Options, progress: &Progress) -> (Loaded, Option<Session>) {
    let mut loaded = crate::pipeline::load_with(
        &options.paths,
        options.profile.as_ref(),
        options.load,
        progress,
    );
    let session =
        match Session::for_inputs(&options.paths, options.session.as_deref(), &loaded.dataset) {
            Ok(s) => {
                // The status line says how many (`App::set_dataset`).
                if options.exclude_benign {
                    s.exclude_benign(&loaded.dataset);
                }
                Some(s)
            }
            Err(e) => {
                loaded
                    .notes
                    .push(format!("{e}; marks, verdicts and notes will not be kept"));
                None
            }
        };
    (loaded, session)
}

/// What wakes the loop. Every thread sends into the one channel the loop waits on, so a
/// message is handled and drawn as it comes, not at the next poll of the terminal.
enum Wake {
    /// A terminal event (the input thread's).
    Input(Event),
    /// The terminal could not be read: the loop ends with this error.
    InputFailed(std::io::Error),
    /// The loader's or the executor's message for the app.
    App(Msg),
    /// A training's message, with the number of the training that sent it: a cancelled
    /// training's last messages are dropped.
    Train(u64, worker::WorkerMsg),
}

/// How often the loop draws with nothing else to draw: the loader's progress and the
/// training's.
const TICK: Duration = Duration::from_millis(60);

/// How long a burst of waiting events is handled before a frame is drawn: a paste is
/// thousands of keys, one frame for all of them, not one each.
const BURST: Duration = Duration::from_millis(30);

fn event_loop(terminal: &mut ratatui::DefaultTerminal, options: Options) -> Result<()> {
    let config = options.config;
    let app = App::new(options.monochrome);
    let progress = Arc::new(Progress::default());
    let (tx, rx) = mpsc::channel::<Wake>();
    {
        let progress = progress.clone();
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("anomalog-load".into())
            .spawn(move || {
                let (loaded, session) = load(&options, &progress);
                let _ = tx.send(Wake::App(Msg::Loaded(
                    Box::new(loaded),
                    session.map(Box::new),
                )));
            })?;
    }
    // The terminal is read on its own thread, which blocks in `read` and ends with the
    // process (or when the loop no longer listens).
    {
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("anomalog-input".into())
            .spawn(move || {
                loop {
                    let (wake, last) = match event::read() {
                        Ok(ev) => (Wake::Input(ev), false),
                        Err(e) => (Wake::InputFailed(e), true),
                    };
                    if tx.send(wake).is_err() || last {
                        return;
                    }
                }
            })?;
    }
    // Effects that touch files (session saves, exports) run here, off the render loop; a
    // burst of triage keys becomes one save. Quitting waits for the saves queued.
    let (etx, erx) = mpsc::channel::<Effect>();
    let executor = {
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("anomalog-effects".into())
            .spawn(move || run_effects(erx, tx))?
    };
    let mut l = Looper {
        app,
        config,
        progress,
        tx,
        rx,
        etx,
        job: None,
        trainings: 0,
    };
    let result = (|| -> Result<()> {
        loop {
            let size = terminal.size()?;
            let page = ui::list_height(
                &l.app,
                ratatui::layout::Rect::new(0, 0, size.width, size.height),
            );
            if page != l.app.list().page() {
                l.app.update(Action::Resize(page));
            }
            terminal.draw(|f| ui::render(&l.app, f))?;
            let drawn = Instant::now();
            if l.app.should_quit() {
                return Ok(());
            }
            let effects = l.wait(size, drawn)?;
            l.carry_out(effects);
        }
    })();
    if let Some(j) = l.job.take() {
        j.cancel();
    }
    l.progress.cancel.store(true, Ordering::Relaxed);
    drop(l);
    let _ = executor.join();
    result
}

/// What the terminal loop holds between frames.
struct Looper {
    app: App,
    config: AeConfig,
    progress: Arc<Progress>,
    /// For the trainings the loop starts.
    tx: mpsc::Sender<Wake>,
    /// Everything the loop hears: input, the loader, the executor, the trainings.
    rx: mpsc::Receiver<Wake>,
    /// Effects for the executor's thread (it ends when this is dropped).
    etx: mpsc::Sender<Effect>,
    /// The training running, if any.
    job: Option<worker::Handle>,
    /// Trainings started: the number of the running one.
    trainings: u64,
}

impl Looper {
    /// Wait for something to draw, then handle it and everything already waiting behind
    /// it, for at most [`BURST`]. Terminal events and messages are drawn at once; a
    /// training's progress (a message per epoch, hundreds a second) and the loader's at the
    /// next tick, [`TICK`] after the last frame (`drawn`): a frame per epoch took the cores
    /// the trainings need.
    fn wait(&mut self, size: ratatui::layout::Size, drawn: Instant) -> Result<Vec<Effect>> {
        let mut effects = Vec::new();
        let tick = drawn + TICK;
        while let Ok(first) = self
            .rx
            .recv_timeout(tick.saturating_duration_since(Instant::now()))
        {
            let burst = Instant::now();
            let mut draw = false;
            let mut next = Some(first);
            while let Some(wake) = next.take() {
                draw |= !matches!(wake, Wake::Train(_, worker::WorkerMsg::Epoch(_)));
                self.handle(wake, size, &mut effects)?;
                if self.app.should_quit() || burst.elapsed() > BURST {
                    draw = true;
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            if draw {
                break;
            }
        }
        if self.app.loading().is_some() {
            let p = &self.progress;
            effects.extend(self.app.on_msg(Msg::Loading(LoadState {
                files_done: p.files_done.load(Ordering::Relaxed),
                files_total: p.files_total.load(Ordering::Relaxed),
                records: p.records.load(Ordering::Relaxed),
            })));
        }
        Ok(effects)
    }

    /// One thing that woke the loop.
    fn handle(
        &mut self,
        wake: Wake,
        size: ratatui::layout::Size,
        effects: &mut Vec<Effect>,
    ) -> Result<()> {
        match wake {
            Wake::Input(ev) => {
                // Debug builds only: a way for tests/it/e2e_tmux.rs to make the UI panic.
                #[cfg(debug_assertions)]
                if let Event::Key(k) = &ev
                    && k.code == KeyCode::F(12)
                    && std::env::var_os("ANOMALOG_TEST_PANIC").is_some()
                {
                    panic!("ANOMALOG_TEST_PANIC: F12 pressed");
                }
                for a in actions_of(&self.app, ev, size) {
                    effects.extend(self.app.update(a));
                }
            }
            Wake::InputFailed(e) => return Err(e.into()),
            Wake::App(m) => {
                let loaded = matches!(m, Msg::Loaded(..));
                effects.extend(self.app.on_msg(m));
                // Training starts when the logs are loaded. With no events the status line
                // already says so (and which profile would find some).
                if loaded
                    && let Some(ds) = self.app.dataset().cloned()
                    && !ds.uniques.is_empty()
                {
                    self.train(ds);
                }
            }
            Wake::Train(n, m) if n == self.trainings => {
                if !matches!(m, worker::WorkerMsg::Epoch(_))
                    && let Some(j) = self.job.take()
                {
                    j.join();
                }
                effects.extend(self.app.on_msg(Msg::Worker(m)));
            }
            // A cancelled training's last words.
            Wake::Train(..) => {}
        }
        Ok(())
    }

    /// Start training the autoencoder on its own thread; its messages wake the loop.
    fn train(&mut self, ds: Arc<crate::frame::Dataset>) {
        self.app.set_training(crate::app::Training::Running {
            last: None,
            losses: Vec::new(),
        });
        self.trainings += 1;
        let (n, tx) = (self.trainings, self.tx.clone());
        self.job = Some(worker::spawn_to(
            ds,
            Task::Train {
                kind: ModelKind::Ae,
                config: self.config,
            },
            move |m| {
                let _ = tx.send(Wake::Train(n, m));
            },
        ));
    }

    /// Carry out effects: training's here, the rest on the executor's thread; the prompt's
    /// preview once per burst of keys, whatever its length.
    fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut preview = false;
        for effect in effects {
            match effect {
                Effect::Preview => preview = true,
                // OSC 52: the terminal (tmux, over SSH too) puts the text on the clipboard.
                // Base64 carries it, so nothing in it can act on the terminal.
                Effect::Copy(text) => {
                    use base64::Engine;
                    use std::io::Write;
                    let clipped: String = text.chars().take(100_000).collect();
                    let b64 = base64::engine::general_purpose::STANDARD.encode(clipped);
                    let mut out = std::io::stdout();
                    let _ = write!(out, "\x1b]52;c;{b64}\x07").and_then(|()| out.flush());
                }
                Effect::CancelTraining => {
                    if let Some(j) = &self.job {
                        j.cancel();
                    }
                }
                Effect::Retrain { exclude } => {
                    // The old job stops within a batch; its messages are dropped (they
                    // carry its number).
                    if let Some(j) = self.job.take() {
                        j.cancel();
                        j.join();
                    }
                    if let Some(ds) = self.app.dataset().cloned() {
                        ds.set_excluded(&exclude);
                        self.train(ds);
                    }
                }
                e => {
                    // The executor lives as long as the loop.
                    let _ = self.etx.send(e);
                }
            }
        }
        if preview {
            self.app.on_msg(Msg::Preview);
        }
    }
}

/// The effect executor's thread: saves and exports, one at a time, each answered with a
/// message; consecutive saves are merged into one write.
fn run_effects(rx: mpsc::Receiver<Effect>, tx: mpsc::Sender<Wake>) {
    let mut ex = crate::app::Executor::default();
    let mut next = rx.recv().ok();
    while let Some(effect) = next.take() {
        let effect = match effect {
            Effect::Save(changes) => {
                ex.apply(changes);
                loop {
                    match rx.try_recv() {
                        Ok(Effect::Save(more)) => ex.apply(more),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                Effect::Save(Vec::new())
            }
            other => other,
        };
        if let Some(m) = ex.run(effect) {
            let _ = tx.send(Wake::App(m));
        }
        if next.is_none() {
            next = rx.recv().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Training;
    use crate::model::worker::WorkerMsg;

    fn looper() -> Looper {
        let (tx, rx) = mpsc::channel();
        let (etx, _) = mpsc::channel();
        Looper {
            app: App::new(true),
            config: AeConfig::default(),
            progress: Arc::new(Progress::default()),
            tx,
            rx,
            etx,
            job: None,
            trainings: 2,
        }
    }

    /// A retrained model's predecessor still sends its last words: they are dropped, and the
    /// running training's are handled.
    #[test]
    fn a_cancelled_trainings_late_messages_are_dropped() {
        let mut l = looper();
        l.app.set_training(Training::Running {
            last: None,
            losses: Vec::new(),
        });
        let size = ratatui::layout::Size::new(80, 24);
        let mut effects = Vec::new();
        l.handle(Wake::Train(1, WorkerMsg::Cancelled), size, &mut effects)
            .unwrap();
        assert!(matches!(l.app.training(), Training::Running { .. }));
        l.handle(Wake::Train(2, WorkerMsg::Cancelled), size, &mut effects)
            .unwrap();
        assert!(matches!(l.app.training(), Training::Cancelled));
    }

    /// Terminal events and messages are drawn at once; a training's progress waits for the
    /// tick, and what came with it is handled by then.
    #[test]
    fn progress_waits_for_the_tick_and_anything_else_is_drawn_at_once() {
        let mut l = looper();
        let size = ratatui::layout::Size::new(80, 24);
        let report = crate::model::EpochReport {
            epoch: 1,
            epochs: 10,
            loss: 2.0,
            elapsed: 0.1,
            eta: 0.9,
        };
        l.tx.send(Wake::Train(2, WorkerMsg::Epoch(report))).unwrap();
        let start = Instant::now();
        l.wait(size, start).unwrap();
        assert!(
            start.elapsed() >= TICK,
            "progress alone is drawn at the tick"
        );
        assert!(matches!(
            l.app.training(),
            Training::Running { last: Some(_), .. }
        ));
        l.tx.send(Wake::Train(2, WorkerMsg::Epoch(report))).unwrap();
        l.tx.send(Wake::Train(2, WorkerMsg::Failed("x".into())))
            .unwrap();
        // A tick far off: only the message can end the wait.
        let start = Instant::now();
        l.wait(size, start + Duration::from_secs(60)).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a training's end is drawn at once"
        );
        assert!(matches!(l.app.training(), Training::Failed(_)));
    }
}
