//! Putting each node's own settings and learned weights back after a fleet run: exactly once, whether
//! the run ended, failed (a drop guard) or was interrupted (SIGINT/SIGTERM, on a thread of its own). A
//! mutex keeps a change and the restore from interleaving.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use super::client::Client;
use super::settings::{self, Settings};
use super::{Error, on_each};

/// One node as it was before the run.
pub(crate) struct Saved {
    /// Its name in messages.
    pub(crate) name: String,
    /// Its client.
    pub(crate) client: Client,
    /// Scheduler, K/Q, learner parameters.
    pub(crate) settings: Settings,
    /// Its learner's weight file.
    pub(crate) weights: Vec<u8>,
}

/// Puts every node's settings back exactly once: at the end, on an error (drop), or from the signal
/// thread. The mutex also keeps a change and a restore from interleaving.
pub(crate) struct Restorer {
    /// Each node before the run.
    nodes: Vec<Saved>,
    /// Whether the run sets learner parameters (then they are put back too).
    learner: bool,
    /// Set once restored; held while a change is made.
    restored: Mutex<bool>,
}

impl Restorer {
    /// A restorer of `nodes`; `learner`: the run sets learner parameters.
    pub(crate) fn new(nodes: Vec<Saved>, learner: bool) -> Self {
        Self {
            nodes,
            learner,
            restored: Mutex::new(false),
        }
    }

    /// Runs `change` unless the settings were already put back (then: interrupted).
    pub(crate) fn change<T>(&self, change: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let restored = self.restored.lock().unwrap_or_else(PoisonError::into_inner);
        if *restored {
            return Err(Error::Interrupted);
        }
        change()
    }

    /// Puts every node's settings back, the first time only; the nodes that refused, by name.
    pub(crate) fn restore(&self) -> Result<(), Vec<String>> {
        let mut restored = self.restored.lock().unwrap_or_else(PoisonError::into_inner);
        if std::mem::replace(&mut *restored, true) {
            return Ok(());
        }
        let errors: Vec<String> = on_each(
            &self.nodes,
            |n| {
                settings::restore(&n.client, &n.settings, self.learner, &n.weights)
                    .map_err(|e| format!("{}: {e}", n.name))
            },
            || Err("restoring panicked".to_owned()),
        )
        .into_iter()
        .filter_map(Result::err)
        .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Restores on drop: an early return or a panic leaves no node changed.
pub(crate) struct RestoreOnDrop(pub(crate) Arc<Restorer>);

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        if let Err(e) = self.0.restore() {
            eprintln!(
                "p2pfaas-bench: restoring the nodes' settings failed:\n  {}",
                e.join("\n  ")
            );
        }
    }
}

/// On SIGINT or SIGTERM: put the settings back and exit (130 or 143). `None` (said on stderr) when
/// the signals cannot be caught: the settings are then restored at the end and on errors only.
pub(crate) fn restore_on_signal(restorer: Arc<Restorer>) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| eprintln!("p2pfaas-bench: cannot catch SIGINT/SIGTERM: {e}"))
        .ok()?;
    let handle = signals.handle();
    thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            eprintln!("p2pfaas-bench: signal {signal}: putting the nodes' settings back");
            let code = match restorer.restore() {
                Ok(()) => 128 + signal,
                Err(e) => {
                    eprintln!("p2pfaas-bench: restoring failed:\n  {}", e.join("\n  "));
                    1
                }
            };
            std::process::exit(code);
        }
    });
    Some(handle)
}
