//! The node-wide shutdown signal. The signal thread triggers it once; every worker's accept loop and every
//! idle connection waits on it. Closing an `async_channel` wakes waiters on any thread, and a waiter that
//! gives up (its future dropped) deregisters itself, so idle keep-alive connections leave nothing behind.

/// A cloneable handle on the shutdown signal.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: async_channel::Sender<()>,
    rx: async_channel::Receiver<()>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Self {
        let (tx, rx) = async_channel::bounded(1);
        Self { tx, rx }
    }

    /// Fires the signal (idempotent).
    pub fn trigger(&self) {
        self.tx.close();
    }

    /// Whether the signal has fired.
    pub fn is_triggered(&self) -> bool {
        self.rx.is_closed()
    }

    /// Completes once the signal has fired.
    pub async fn wait(&self) {
        // Nothing is ever sent: `recv` only returns when the channel is closed.
        let _closed = self.rx.recv().await;
    }
}
