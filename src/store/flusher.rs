//! Group commit: many writers, one `fsync`.
//!
//! A write is acknowledged only once it is on disk, and sled makes that true with `Db::flush`,
//! which costs an fsync. `flush_async` deadlocks under concurrency in sled 0.34 (issue #1308),
//! so a single thread owns flushing: each writer, after its transaction committed, queues a
//! waiter; the thread takes every waiter queued so far, flushes once, and answers them all. Under
//! load one fsync covers many writes, which is what makes thousands of durable writes per second
//! possible on a disk that does a few thousand fsyncs.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

/// Why a flush failed; the write it covers must not be acknowledged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("flushing the store to disk failed: {0}")]
pub struct FlushError(pub String);

type Waiter = oneshot::Sender<Result<(), FlushError>>;

/// Handle to the flusher thread. Dropping it ends the thread and waits for it, so that the
/// thread's handle on the database is gone too and the data directory can be reopened at once.
pub struct Flusher {
    queue: Option<mpsc::Sender<Waiter>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flusher thread for `db`.
    pub fn start(db: sled::Db) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::channel::<Waiter>();
        let thread = thread::Builder::new().name("lenta-flusher".into()).spawn(move || run(db, rx))?;
        Ok(Flusher { queue: Some(queue), thread: Some(thread) })
    }

    /// Resolves once everything committed before this call is on disk.
    pub async fn flushed(&self) -> Result<(), FlushError> {
        let (tx, rx) = oneshot::channel();
        let queue = self.queue.as_ref().ok_or_else(|| FlushError("flusher thread has stopped".into()))?;
        queue.send(tx).map_err(|_| FlushError("flusher thread has stopped".into()))?;
        rx.await.map_err(|_| FlushError("flusher thread has stopped".into()))?
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(db: sled::Db, rx: mpsc::Receiver<Waiter>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let result = db.flush().map(|_| ()).map_err(|e| FlushError(e.to_string()));
        for waiter in waiters {
            // A waiter whose request was cancelled has dropped its receiver; nothing to tell it.
            let _ = waiter.send(result.clone());
        }
    }
}
