//! Progress shown while a run is prepared: a spinner on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where preparation steps are reported (stderr).
#[derive(Clone, Debug)]
pub struct Progress {
    interactive: bool,
    quiet: bool,
}

impl Progress {
    /// A spinner when stderr is a terminal, plain lines otherwise.
    pub fn stderr() -> Self {
        Progress {
            interactive: std::io::stderr().is_terminal(),
            quiet: false,
        }
    }

    /// Reports nothing (library use, tests).
    pub fn quiet() -> Self {
        Progress {
            interactive: false,
            quiet: true,
        }
    }

    /// A message line.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Starts a step; call [`Step::done`] when it ends (dropping it also ends it).
    pub fn step(&self, msg: impl Into<String>) -> Step {
        let msg = msg.into();
        let bar = if self.interactive {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(msg.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            Some(bar)
        } else {
            if !self.quiet {
                eprintln!("mlox: {msg} ...");
            }
            None
        };
        Step {
            bar,
            msg,
            started: Instant::now(),
            quiet: self.quiet,
            finished: false,
        }
    }
}

pub struct Step {
    bar: Option<ProgressBar>,
    msg: String,
    started: Instant,
    quiet: bool,
    finished: bool,
}

impl Step {
    pub fn set_message(&mut self, msg: impl Into<String>) {
        self.msg = msg.into();
        if let Some(bar) = &self.bar {
            bar.set_message(self.msg.clone());
        } else if !self.quiet {
            eprintln!("mlox: {} ...", self.msg);
        }
    }

    pub fn done(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let secs = self.started.elapsed().as_secs_f64();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if !self.quiet {
                eprintln!("✓ {} ({secs:.1}s)", self.msg);
            }
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
