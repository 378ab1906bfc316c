//! A bounded pool for cache-missing work: a fixed number of workers, a bounded queue, then 503.
//!
//! Rendering a page that is not in the render cache (reading articles, building the document,
//! compressing it) is CPU work measured in milliseconds. Handing every such request its own
//! blocking thread, as `tokio::task::spawn_blocking` does up to 512 threads, made memory grow with
//! the load rather than with the configuration: with mimalloc every thread keeps its own heap
//! (peak RSS 1.49 GB at 118 threads under 32 connections of distinct queries, against 170 MB for
//! the same load with the system allocator, whose live heap heaptrack put at 139 MB), and the
//! threads only competed for the same two cores. So the work runs on at most `workers` threads at
//! once, sized to the cores; more requests wait in a FIFO queue (tokio's semaphore is fair) of at
//! most `queue` entries for at most `wait`, and beyond that the client is told to come back
//! (`503` with `Retry-After`) instead of waiting without bound. Requests served from the render
//! cache, 304s and `/healthz` never enter the pool, so they stay fast while misses queue.
//!
//! When the last running job ends and nobody waits, its thread hands the memory it freed back to
//! the OS ([`crate::memory::release_free_memory`]), at most once per [`RELEASE_INTERVAL`]: a
//! worker would otherwise keep the pages of its last burst for as long as the server is quiet.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why the pool did not run a job.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Busy {
    /// Every worker is busy and the queue is full.
    #[error("all {workers} render workers are busy and {queue} requests are already waiting")]
    QueueFull {
        /// Configured workers.
        workers: usize,
        /// Configured queue length.
        queue: usize,
    },
    /// The job waited in the queue for longer than allowed.
    #[error("the request waited {0:?} for a render worker")]
    Timeout(Duration),
    /// The client closed its connection while the request waited ([`super::client`]).
    #[error("the client closed its side of the connection while the request waited for a render worker")]
    ClientGone,
    /// The job itself panicked (a bug); the pool stays usable.
    #[error("the render job failed: {0}")]
    Panicked(String),
}

/// The sizes of a [`WorkPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// Jobs running at once (threads).
    pub workers: usize,
    /// Jobs waiting at most, beyond the running ones.
    pub queue: usize,
    /// Longest wait in the queue.
    pub wait: Duration,
}

/// A fixed number of blocking workers behind a bounded, fair queue.
pub struct WorkPool {
    limits: PoolLimits,
    permits: Arc<Semaphore>,
    quiet: Arc<Quiet>,
}

/// The shortest time between two releases of memory by an idle pool.
pub const RELEASE_INTERVAL: Duration = Duration::from_secs(1);

/// What a finishing job needs to tell whether the pool fell idle.
struct Quiet {
    /// Requests waiting for a worker.
    waiting: AtomicUsize,
    /// When memory was last released, in milliseconds since `born`.
    released_ms: AtomicU64,
    born: Instant,
}

impl Quiet {
    /// Releases freed memory if no job runs (`free` permits of `workers`) and nobody waits, and
    /// no release happened in the last [`RELEASE_INTERVAL`].
    fn release_if_idle(&self, free: usize, workers: usize) {
        if free < workers || self.waiting.load(Ordering::Acquire) > 0 {
            return;
        }
        let now = self.born.elapsed().as_millis() as u64;
        let last = self.released_ms.load(Ordering::Acquire);
        let due = now.saturating_sub(last) >= RELEASE_INTERVAL.as_millis() as u64;
        if due
            && self
                .released_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            crate::memory::release_free_memory();
        }
    }
}

/// Decrements the waiting count however the wait ends (acquired, timed out, or the request
/// dropped because its client went away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl WorkPool {
    /// A pool with `limits` (at least one worker).
    pub fn new(limits: PoolLimits) -> Self {
        let workers = limits.workers.max(1);
        WorkPool {
            limits: PoolLimits { workers, ..limits },
            permits: Arc::new(Semaphore::new(workers)),
            quiet: Arc::new(Quiet {
                waiting: AtomicUsize::new(0),
                released_ms: AtomicU64::new(0),
                born: Instant::now(),
            }),
        }
    }

    /// The configured sizes.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    /// Jobs waiting for a worker now (for `/metrics`).
    pub fn waiting(&self) -> usize {
        self.quiet.waiting.load(Ordering::Acquire)
    }

    /// Jobs running now (for `/metrics`).
    pub fn running(&self) -> usize {
        self.limits.workers - self.permits.available_permits()
    }

    /// Runs `job` on a blocking thread only if a worker is free and no request waits for one,
    /// without waiting for it to finish; returns whether it was started. For work that may be
    /// skipped (see `representation::upgrade`): it never delays a request.
    pub fn run_if_idle(&self, job: impl FnOnce() + Send + 'static) -> bool {
        if self.waiting() > 0 {
            return false;
        }
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            return false;
        };
        self.spawn(permit, job);
        true
    }

    /// Runs `job` on a blocking thread once a worker is free, or refuses it.
    ///
    /// A job whose requester goes away while it runs still finishes (it holds its worker until
    /// then), so the number of threads never exceeds `workers`; one whose client goes while it
    /// waits leaves the queue ([`Busy::ClientGone`]), so that no worker renders for nobody.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = &self.quiet.waiting;
                if waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.queue {
                    waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy::QueueFull {
                        workers: self.limits.workers,
                        queue: self.limits.queue,
                    });
                }
                let _waiting = Waiting(waiting);
                let acquire = Arc::clone(&self.permits).acquire_owned();
                tokio::select! {
                    acquired = tokio::time::timeout(self.limits.wait, acquire) => match acquired {
                        Ok(Ok(permit)) => permit,
                        // The semaphore is never closed; treat it like a timeout all the same.
                        Ok(Err(_)) | Err(_) => return Err(Busy::Timeout(self.limits.wait)),
                    },
                    // Nobody would read the page: leave the queue to those still waiting.
                    () = super::client::gone() => return Err(Busy::ClientGone),
                }
            }
        };
        self.spawn(permit, job)
            .await
            .map_err(|e| Busy::Panicked(e.to_string()))
    }

    /// Runs `job` on a blocking thread holding `permit`; the last job of a burst then releases
    /// the memory its thread freed.
    fn spawn<T: Send + 'static>(
        &self,
        permit: OwnedSemaphorePermit,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        let (permits, quiet, workers) = (
            Arc::clone(&self.permits),
            Arc::clone(&self.quiet),
            self.limits.workers,
        );
        tokio::task::spawn_blocking(move || {
            let out = job();
            drop(permit);
            quiet.release_if_idle(permits.available_permits(), workers);
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn pool(workers: usize, queue: usize, wait_ms: u64) -> Arc<WorkPool> {
        Arc::new(WorkPool::new(PoolLimits {
            workers,
            queue,
            wait: Duration::from_millis(wait_ms),
        }))
    }

    /// Occupies one worker until the returned barrier is passed.
    async fn occupy(
        pool: &Arc<WorkPool>,
    ) -> (
        Arc<Barrier>,
        tokio::task::JoinHandle<Result<std::sync::BarrierWaitResult, Busy>>,
    ) {
        let gate = Arc::new(Barrier::new(2));
        let hold = {
            let (pool, gate) = (Arc::clone(pool), Arc::clone(&gate));
            tokio::spawn(async move { pool.run(move || gate.wait()).await })
        };
        while pool.running() == 0 {
            tokio::task::yield_now().await;
        }
        (gate, hold)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_jobs_and_returns_their_values() {
        let pool = pool(2, 4, 1000);
        assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
        assert_eq!((pool.running(), pool.waiting()), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_recovers() {
        let pool = pool(1, 1, 10_000);
        let (gate, hold) = occupy(&pool).await;
        // One may wait ...
        let queued = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| "queued").await })
        };
        while pool.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // ... the next is refused without waiting.
        assert_eq!(
            pool.run(|| "refused").await,
            Err(Busy::QueueFull { workers: 1, queue: 1 })
        );
        gate.wait();
        assert!(hold.await.unwrap().is_ok());
        assert_eq!(queued.await.unwrap(), Ok("queued"));
        assert_eq!(pool.run(|| "again").await, Ok("again"));
        assert_eq!((pool.running(), pool.waiting()), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_wait_times_out_and_frees_its_queue_place() {
        let pool = pool(1, 4, 50);
        let (gate, hold) = occupy(&pool).await;
        assert_eq!(
            pool.run(|| ()).await,
            Err(Busy::Timeout(Duration::from_millis(50)))
        );
        assert_eq!(pool.waiting(), 0);
        gate.wait();
        assert!(hold.await.unwrap().is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_jobs_at_once_than_workers() {
        let pool = pool(2, 64, 10_000);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..32)
            .map(|_| {
                let (pool, running, peak) = (Arc::clone(&pool), Arc::clone(&running), Arc::clone(&peak));
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            assert!(job.await.unwrap().is_ok());
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
