//! The release task: publishes scheduled articles when they come due on an idle server.
//!
//! Every write batch releases what is due by its own time (see [`crate::store`]), so readers
//! never consult the clock. Without writes nothing would ever be released, so this task, started
//! and stopped with the server, sleeps until the earliest scheduled article is due (at most
//! [`MAX_SLEEP`], and wakes early when a write schedules an earlier one), then commits an empty
//! batch, which releases it, and announces the release ([`App::committed_all`]: WebSub pings).
//! Its first round, at start, releases what came due while the server was down.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;

/// Longest sleep between checks: a bound on how late a release can be if a wake-up was lost
/// (e.g. the clock jumped), without costing anything measurable when nothing is scheduled.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Starts the task; it ends when `stop` turns true (or its sender is dropped).
pub fn start(app: Arc<App>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = until_due(&app);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = app.store.schedule_changed().notified() => continue,
                _ = stop.wait_for(|stop| *stop) => return,
            }
            release(&app).await;
        }
    })
}

/// How long until the earliest scheduled article is due, at most [`MAX_SLEEP`].
fn until_due(app: &App) -> Duration {
    match app.store.next_due() {
        Ok(Some(due)) => (due - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP),
        Ok(None) => MAX_SLEEP,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the scheduled articles");
            MAX_SLEEP
        }
    }
}

/// Commits an empty batch (which releases every due article), then announces the releases.
async fn release(app: &Arc<App>) {
    let worker = Arc::clone(app);
    match tokio::task::spawn_blocking(move || worker.store.release_due()).await {
        Ok(Ok(())) => app.committed_all(&[]),
        Ok(Err(e)) => tracing::error!(error = %e, "releasing scheduled articles failed"),
        Err(e) => tracing::error!(error = %e, "the release task panicked"),
    }
}
