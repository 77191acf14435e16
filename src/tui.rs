//! The terminal loop: thin on purpose. It reads keys and mouse events, turns them into
//! [`Action`]s, forwards the loader's and the worker's messages, carries out [`Effect`]s, and
//! draws. Loading and training run on their own threads; the loop never blocks on them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

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
use crate::model::worker::{self, Job, Task};
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

/// Start training the autoencoder on its own thread.
fn train(app: &mut App, ds: Arc<crate::frame::Dataset>, config: AeConfig) -> Job {
    app.set_training(crate::app::Training::Running {
        last: None,
        losses: Vec::new(),
    });
    worker::spawn(
        ds,
        Task::Train {
            kind: ModelKind::Ae,
            config,
        },
    )
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, options: Options) -> Result<()> {
    let config = options.config;
    let app = App::new(options.monochrome);
    let progress = Arc::new(Progress::default());
    let (tx, rx) = mpsc::channel::<Msg>();
    {
        let progress = progress.clone();
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("anomalog-load".into())
            .spawn(move || {
                let (loaded, session) = load(&options, &progress);
                let _ = tx.send(Msg::Loaded(Box::new(loaded), session.map(Box::new)));
            })?;
    }
    // Effects that touch files (session saves, exports) run here, off the render loop; a
    // burst of triage keys becomes one save. Quitting waits for the saves queued.
    let (etx, erx) = mpsc::channel::<Effect>();
    let executor = std::thread::Builder::new()
        .name("anomalog-effects".into())
        .spawn(move || run_effects(erx, tx))?;
    let mut l = Looper {
        app,
        config,
        progress,
        rx,
        etx,
        job: None,
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
            if l.app.should_quit() {
                return Ok(());
            }
            let mut effects = l.input(size)?;
            effects.extend(l.messages());
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
    /// The loader's and the executor's messages.
    rx: mpsc::Receiver<Msg>,
    /// Effects for the executor's thread (it ends when this is dropped).
    etx: mpsc::Sender<Effect>,
    /// The training running, if any.
    job: Option<Job>,
}

impl Looper {
    /// Input, with a short timeout so that progress keeps moving. Every event already
    /// waiting is handled before the next frame (a paste is thousands of keys: one frame for
    /// all of them, not one each), for at most a frame's time.
    fn input(&mut self, size: ratatui::layout::Size) -> Result<Vec<Effect>> {
        let mut effects = Vec::new();
        if !event::poll(Duration::from_millis(60))? {
            return Ok(effects);
        }
        let burst = std::time::Instant::now();
        loop {
            let ev = event::read()?;
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
            if self.app.should_quit()
                || burst.elapsed() > Duration::from_millis(30)
                || !event::poll(Duration::ZERO)?
            {
                return Ok(effects);
            }
        }
    }

    /// Messages from the loader, the worker and the executor; training starts when the
    /// logs are loaded.
    fn messages(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.app.loading().is_some() {
            let p = &self.progress;
            effects.extend(self.app.on_msg(Msg::Loading(LoadState {
                files_done: p.files_done.load(Ordering::Relaxed),
                files_total: p.files_total.load(Ordering::Relaxed),
                records: p.records.load(Ordering::Relaxed),
            })));
        }
        while let Ok(m) = self.rx.try_recv() {
            let loaded = matches!(m, Msg::Loaded(..));
            effects.extend(self.app.on_msg(m));
            if loaded && let Some(ds) = self.app.dataset().cloned() {
                // With no events the status line already says so (and which profile
                // would find some).
                if !ds.uniques.is_empty() {
                    self.job = Some(train(&mut self.app, ds, self.config));
                }
            }
        }
        if let Some(j) = &self.job {
            let mut finished = false;
            while let Ok(m) = j.rx.try_recv() {
                finished |= !matches!(m, worker::WorkerMsg::Epoch(_));
                effects.extend(self.app.on_msg(Msg::Worker(m)));
            }
            if finished && let Some(j) = self.job.take() {
                j.join();
            }
        }
        effects
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
                    // The old job stops within a batch; its messages go with it.
                    if let Some(j) = self.job.take() {
                        j.cancel();
                        j.join();
                    }
                    if let Some(ds) = self.app.dataset().cloned() {
                        ds.set_excluded(&exclude);
                        self.job = Some(train(&mut self.app, ds, self.config));
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
fn run_effects(rx: mpsc::Receiver<Effect>, tx: mpsc::Sender<Msg>) {
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
            let _ = tx.send(m);
        }
        if next.is_none() {
            next = rx.recv().ok();
        }
    }
}
