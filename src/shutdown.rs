//! The server's stop, as the parts that hold long-lived work see it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by everything that must know the server is stopping: the readiness probe answers
/// 503, and long-lived connections (WebSockets) close.
#[derive(Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    signal: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl Shutdown {
    /// Whether the server has begun to stop.
    pub fn shutting_down(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Begin to stop: every receiver of [`Shutdown::signal`] sees `true`.
    pub fn begin(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.signal.send_replace(true);
    }

    /// Changes when the server begins to shut down.
    pub fn signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.signal.subscribe()
    }
}
