//! Group commit: many writers, one `fsync`.
//!
//! A write is acknowledged only once it is on disk, and sled makes that true with `Db::flush`,
//! which costs an fsync. `flush_async` deadlocks under concurrency in sled 0.34 (issue #1308),
//! so a single thread owns flushing.
//!
//! Every committed transaction increments a sequence number ([`Progress`]). A writer that wants
//! its write acknowledged asks for "everything up to the sequence number as of now" to be on
//! disk and wakes the flusher thread. The thread notes the current sequence number, flushes once
//! and publishes that number as flushed, answering every waiter at or below it; a waiter whose
//! write an earlier flush already covered is answered without another one.
//!
//! The thread also waits, briefly, for writers still inside the store before it flushes. That is
//! not optional politeness: sled's flush holds a lock that transactions need, so a flush started
//! while writers are queued stalls them all and then covers just one write. Letting them commit
//! first (for at most [`MAX_GATHER`]) turns one flush per write into one flush per crowd, which
//! is what makes thousands of durable writes per second possible. With no writer in flight (a
//! lone write) it flushes at once, so a quiet server adds no latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use tokio::sync::watch;

/// Longest the flusher waits for in-flight writers before flushing anyway, so a steady stream of
/// writers cannot postpone durability indefinitely.
pub const MAX_GATHER: Duration = Duration::from_millis(2);

/// Why a flush failed; the writes it covers must not be acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flushing the store to disk failed: {0}")]
pub struct FlushError(pub String);

/// What the writers tell the flusher: how many transactions committed, how many writers are
/// under way (and a condition variable the flusher sleeps on until that number is zero).
#[derive(Debug, Default)]
pub struct Progress {
    committed: AtomicU64,
    writing: Mutex<usize>,
    idle: Condvar,
}

impl Progress {
    /// Marks a writer as under way until the returned guard drops. Hold it from before the
    /// write's transaction until after it, never while waiting for durability.
    pub fn writing(&self) -> Writing<'_> {
        *self.writing.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Writing(self)
    }

    /// Counts one committed transaction.
    pub fn committed(&self) {
        self.committed.fetch_add(1, Ordering::SeqCst);
    }

    /// Transactions committed so far.
    pub fn sequence(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// Waits until no writer is under way, or `limit` has passed.
    fn wait_idle(&self, limit: Duration) {
        let writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.idle.wait_timeout_while(writing, limit, |n| *n > 0);
    }
}

/// A writer under way; see [`Progress::writing`].
#[must_use]
pub struct Writing<'a>(&'a Progress);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut writing = self.0.writing.lock().unwrap_or_else(PoisonError::into_inner);
        *writing = writing.saturating_sub(1);
        if *writing == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// What has been made durable: every transaction up to `flushed`; `failed` holds the target and
/// error of the last failed flush, for the waiters it covered.
#[derive(Clone, Debug, Default)]
struct Durable {
    flushed: u64,
    failed: Option<(u64, FlushError)>,
}

/// Handle to the flusher thread. Dropping it ends the thread and waits for it, so that the
/// thread's handle on the database is gone too and the data directory can be reopened at once.
pub struct Flusher {
    progress: Arc<Progress>,
    wake: Option<mpsc::Sender<()>>,
    durable: watch::Receiver<Durable>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flusher thread for `db`, whose writers report to `progress`.
    pub fn start(db: sled::Db, progress: Arc<Progress>) -> std::io::Result<Self> {
        let (wake, rx) = mpsc::channel::<()>();
        let (tx, durable) = watch::channel(Durable { flushed: progress.sequence(), failed: None });
        let shared = Arc::clone(&progress);
        let thread = thread::Builder::new().name("lenta-flusher".into()).spawn(move || run(&db, &shared, &rx, &tx))?;
        Ok(Flusher { progress, wake: Some(wake), durable, thread: Some(thread) })
    }

    /// Resolves once everything committed before this call is on disk.
    pub async fn flushed(&self) -> Result<(), FlushError> {
        let target = self.progress.sequence();
        let stopped = || FlushError("flusher thread has stopped".into());
        if self.durable.borrow().flushed >= target {
            return Ok(());
        }
        self.wake.as_ref().ok_or_else(stopped)?.send(()).map_err(|_| stopped())?;
        let mut durable = self.durable.clone();
        let state = durable
            .wait_for(|d| d.flushed >= target || d.failed.as_ref().is_some_and(|(t, _)| *t >= target))
            .await
            .map_err(|_| stopped())?;
        match &state.failed {
            Some((t, e)) if *t >= target && state.flushed < target => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(db: &sled::Db, progress: &Progress, wake: &mpsc::Receiver<()>, durable: &watch::Sender<Durable>) {
    while wake.recv().is_ok() {
        progress.wait_idle(MAX_GATHER);
        // Wake-ups that queued meanwhile are covered by this flush.
        wake.try_iter().for_each(drop);
        // Read before flushing: every transaction counted here committed before the flush began.
        let target = progress.sequence();
        if durable.borrow().flushed >= target {
            continue;
        }
        match db.flush() {
            Ok(_) => durable.send_modify(|d| d.flushed = d.flushed.max(target)),
            Err(e) => {
                tracing::error!(error = %e, "flush failed; writes it covered are not acknowledged");
                durable.send_modify(|d| d.failed = Some((target, FlushError(e.to_string()))));
            }
        }
    }
}
