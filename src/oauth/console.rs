//! [`Console`]: how a login talks to the user. Messages go to a sink (stderr for the CLI),
//! pasted lines (a callback URL, an authorization code) come from a line source (stdin), and
//! the one yes/no question goes through a confirm function that exists only when stdin is a
//! terminal. Tests build a console from channels and closures, so no flow ever blocks on a
//! real terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

type Say = Arc<dyn Fn(&str) + Send + Sync>;
type Confirm = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub struct Console {
    say: Say,
    input: Input,
    confirm: Option<Confirm>,
    spinner: bool,
}

enum Input {
    /// stdin, read by a thread started on first use (so a confirmation prompt before it still
    /// reads its own answer).
    Stdin(Option<mpsc::Receiver<String>>),
    Lines(mpsc::Receiver<String>),
    Closed,
}

impl Console {
    /// The CLI's console: messages on stderr, pasted lines from stdin, a `dialoguer`
    /// confirmation and a spinner when stdin/stderr are terminals.
    pub fn stdio() -> Console {
        let interactive = std::io::stdin().is_terminal();
        let confirm: Option<Confirm> = interactive.then(|| {
            Arc::new(|question: &str| {
                dialoguer::Confirm::new()
                    .with_prompt(question)
                    .default(false)
                    .interact()
                    .unwrap_or(false)
            }) as Confirm
        });
        Console {
            say: Arc::new(|line: &str| {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }),
            input: Input::Stdin(None),
            confirm,
            spinner: std::io::stderr().is_terminal(),
        }
    }

    /// A console over a message sink and a channel of input lines; no confirmation is asked
    /// (as when stdin is not a terminal) unless [`Console::with_confirm`] adds one.
    pub fn new(
        say: impl Fn(&str) + Send + Sync + 'static,
        lines: mpsc::Receiver<String>,
    ) -> Console {
        Console {
            say: Arc::new(say),
            input: Input::Lines(lines),
            confirm: None,
            spinner: false,
        }
    }

    /// A console that prints nothing and reads nothing (status, refresh, logout).
    pub fn silent() -> Console {
        Console {
            say: Arc::new(|_| {}),
            input: Input::Closed,
            confirm: None,
            spinner: false,
        }
    }

    pub fn with_confirm(
        mut self,
        confirm: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Console {
        self.confirm = Some(Arc::new(confirm));
        self
    }

    pub fn say(&self, line: &str) {
        (self.say)(line)
    }

    /// Asks `question` when there is someone to ask; `None` when stdin is not a terminal.
    pub fn confirm(&self, question: &str) -> Option<bool> {
        self.confirm.as_ref().map(|c| c(question))
    }

    /// The next pasted line, trimmed; `None` once the input is closed (and then forever pending
    /// is the caller's business: see [`Console::next_line_or_pending`]).
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            let rx = match &mut self.input {
                Input::Closed => return None,
                Input::Lines(rx) => rx,
                Input::Stdin(slot) => slot.get_or_insert_with(spawn_stdin_reader),
            };
            match rx.recv().await {
                Some(line) if line.trim().is_empty() => continue,
                Some(line) => return Some(line.trim().to_string()),
                None => {
                    self.input = Input::Closed;
                    return None;
                }
            }
        }
    }

    /// Like [`Console::next_line`], but never resolves once the input is closed, for use in a
    /// `select!` next to other ways of finishing.
    pub async fn next_line_or_pending(&mut self) -> String {
        match self.next_line().await {
            Some(l) => l,
            None => std::future::pending().await,
        }
    }

    /// A spinner with `message` when stderr is a terminal; otherwise the message is said once.
    pub fn spinner(&self, message: &str) -> Spinner {
        if self.spinner {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_message(message.to_string());
            pb.enable_steady_tick(Duration::from_millis(120));
            Spinner(Some(pb))
        } else {
            self.say(message);
            Spinner(None)
        }
    }
}

/// Clears itself when dropped.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

fn spawn_stdin_reader() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(8);
    // A blocking read of stdin cannot be cancelled; the thread ends with the process or at EOF.
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}
