//! Group commit: many writers, one store batch, one `fsync`.
//!
//! A write is acknowledged only once it is on disk, and sled makes that true with `Db::flush`,
//! an fsync. (`flush_async` deadlocks under concurrency in sled 0.34, issue #1308, so flushing is
//! always the blocking call on a blocking thread.) Doing one batch and one flush per
//! request caps durable writes at a few per millisecond, and worse: sled's flush holds a lock
//! that writes need, so writers queue behind every flush, each wake-up a context switch.
//!
//! So single writes are queued ([`Store::submit`]) and committed by a *leader*: the first writer
//! that finds no leader at work becomes one ([`Store::lead`], on a blocking thread) and, until the
//! queue is empty, takes everything queued so far (up to [`GROUP_MAX`]), plans it in order
//! exactly as [`Store::write_many`] would, commits it in one atomic batch, flushes once and answers
//! every writer of the group. Writes that arrive during a flush form the next group, so the
//! group grows with the load by itself: a lone write is committed at once, and under load one
//! fsync serves dozens of writes. Followers just await their answer; no thread blocks for them.
//!
//! Bulk paths (NDJSON batches, `lenta import`) already hold many writes and call
//! [`Store::write_many`] and [`Store::flush_blocking`] themselves.

use std::collections::VecDeque;
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{Committed, Pending, Store, StoreError, WriteError, WriteOp};
use crate::model::Article;

/// Most writes one group commit takes from the queue: applying a batch holds sled's global lock
/// (readers wait), so a burst is committed in a few groups rather than one long one.
pub const GROUP_MAX: usize = 256;

/// A write queued by [`Store::submit`] (or a view count by [`Store::submit_views`], whose
/// outcome `T` is the new count).
pub struct Submitted<R, T = Committed> {
    /// The outcome, once durable or failed.
    pub result: oneshot::Receiver<Result<T, WriteError<R>>>,
    /// Whether the caller must run [`Store::lead`] (no leader was at work).
    pub lead: bool,
}

/// A queued write: plans itself into the group's pending changes and returns what delivers its
/// outcome once the group is committed and flushed.
pub(super) type Job = Box<dyn FnOnce(&Store, &mut Pending, DateTime<Utc>) -> Completion + Send>;

/// Delivers a job's outcome: `Ok` when its group's batch and flush succeeded.
pub(super) type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// The group-commit queue.
#[derive(Default)]
pub(super) struct Group {
    jobs: VecDeque<Job>,
    /// Whether a [`Store::lead`] is running (or was handed the duty and is about to).
    leading: bool,
}

/// Hands leadership back if a leader unwinds (see [`Store::lead`]).
struct Resign<'a>(&'a Store);

impl Drop for Resign<'_> {
    fn drop(&mut self) {
        let mut group = self.0.group.lock().unwrap_or_else(PoisonError::into_inner);
        group.leading = false;
    }
}

impl Store {
    /// Queues one write for the next group commit and returns how to learn its outcome, which
    /// arrives only once the write is on disk (or has failed).
    ///
    /// This is the path for concurrent single writes (the API): writes that arrive while a
    /// group is being committed and flushed form the next group, and one batch and one
    /// flush serve them all. When [`Submitted::lead`] is true the caller must run
    /// [`Store::lead`] on a blocking thread; otherwise a leader is already at work and will take
    /// this write too. Nothing blocks a caller that just awaits the result.
    pub fn submit<R, G>(&self, op: WriteOp, guard: G) -> Submitted<R>
    where
        R: Send + 'static,
        G: FnOnce(Option<&Article>) -> Result<(), R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store, pending, now| {
            let planned = store.plan(pending, op, guard, now);
            Box::new(move |outcome| {
                let result = match (planned, outcome) {
                    (Ok(committed), Ok(())) => Ok(committed),
                    (Ok(_), Err(e)) => Err(WriteError::Store(StoreError::Group(e.to_string()))),
                    (Err(e), _) => Err(e),
                };
                // The requester may have gone (client disconnected); the write stands regardless.
                let _ = tx.send(result);
            })
        });
        Submitted {
            result: rx,
            lead: self.enqueue(job),
        }
    }

    /// Queues `job` for the next group commit; true when the caller must run [`Store::lead`].
    pub(super) fn enqueue(&self, job: Job) -> bool {
        let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
        group.jobs.push_back(job);
        let lead = !group.leading;
        group.leading = true;
        lead
    }

    /// Commits queued writes, [`GROUP_MAX`] at a time: one batch and one flush per group,
    /// then every write of the group is answered. Returns when the queue is empty. Blocking: run
    /// it on a blocking thread, when [`Store::submit`] says so.
    pub fn lead(&self) {
        loop {
            let jobs: Vec<Job> = {
                let mut group = self.group.lock().unwrap_or_else(PoisonError::into_inner);
                if group.jobs.is_empty() {
                    // Decided under the lock, so a write queued after this finds no leader and
                    // becomes one: no write is ever left waiting.
                    group.leading = false;
                    return;
                }
                let n = group.jobs.len().min(GROUP_MAX);
                group.jobs.drain(..n).collect()
            };
            // A panic below (a bug) drops the taken jobs, whose requesters then get an error,
            // and must hand leadership back, so that the next write takes over the queue.
            let resign = Resign(self);
            let (completions, applied) = {
                let _lock = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Utc::now();
                let mut pending = self.begin(now);
                let completions: Vec<Completion> =
                    jobs.into_iter().map(|job| job(self, &mut pending, now)).collect();
                (completions, self.apply(pending, now))
            };
            let outcome = applied.and_then(|()| self.flush_blocking());
            if let Err(e) = &outcome {
                tracing::error!(error = %e, writes = completions.len(), "group commit failed; its writes get 503");
            }
            for complete in completions {
                complete(outcome.as_ref().map(|_| ()));
            }
            std::mem::forget(resign);
        }
    }
}
