//! Serving most-read rankings (`sort=popular`): the snapshot, computed in the render pool, and the
//! representation whose validators derive from it (see [`crate::popular`] for why).
//!
//! Feeds, the article list API and the region pages all go through here, so a ranking is
//! computed once per refresh interval whichever format asks, and every format's `ETag` follows
//! the same snapshot.

use std::sync::Arc;

use super::representation::{busy_problem, Representation};
use super::response::Problem;
use crate::app::{App, Visible};
use crate::feed::Page;
use crate::popular::{self, Snapshot};
use crate::query::{FeedQuery, Period};

/// The current snapshot of `query`'s ranking over `period`, computed in the render pool when
/// the held one expired (a busy pool is a 503 with `Retry-After`, as for any cache miss).
pub async fn snapshot(app: &Arc<App>, query: &FeedQuery, period: Period) -> Result<Arc<Snapshot>, Problem> {
    app.popular
        .get(&query.canonical(), |now| {
            let job_app = Arc::clone(app);
            let job_query = query.clone();
            async move {
                let job = move || {
                    job_app
                        .metrics
                        .popular_rankings
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    popular::rank(
                        &job_app.store,
                        &job_query,
                        period,
                        now,
                        job_app.settings.popular_candidates,
                    )
                };
                app.renders
                    .run(job)
                    .await
                    .map_err(|busy| busy_problem(app, busy))?
                    .map_err(|e| Problem::internal(e.to_string()))
            }
        })
        .await
}

/// The representation of `kind` answering `canonical` from `snapshot`: its validators are the
/// ranking's digest and the time it last changed, never the region generations, so a write
/// shows (and the `ETag` moves) at the next refresh, with the new order.
pub fn representation(
    kind: &'static str,
    content_type: &'static str,
    canonical: String,
    snapshot: &Snapshot,
) -> Representation {
    Representation {
        kind,
        content_type,
        canonical,
        visible: Visible {
            generations: vec![
                ("ranking".to_string(), snapshot.digest),
                (
                    "changed".to_string(),
                    snapshot.changed_at.timestamp_micros() as u64,
                ),
            ],
            last_modified: snapshot.changed_at,
        },
    }
}

/// The snapshot as a page: no neighbours, a ranking has no paging cursors.
pub fn page(snapshot: &Snapshot) -> Page {
    Page {
        articles: snapshot.articles.clone(),
        next: None,
        previous: None,
    }
}
