//! A spinner on stderr while a person waits; nothing at all when stderr is
//! not a terminal (piped, redirected, under a test).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::ProgressBar;

/// A running spinner; cleared when finished or dropped.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Start spinning with `message`, if stderr is a terminal.
    pub fn start(message: impl Into<String>) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
