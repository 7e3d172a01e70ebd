//! The one commit lease: taken by whoever finds it free, held while it leads, let go (marked
//! unreleased when cut off) so the next holder knows to look on the branch first.

use tokio::time::Instant;

use super::config::GroupCommit;
use super::leader::Leader;
use crate::app::App;
use crate::error::UseCaseError;
use crate::time::epoch_seconds_now;

/// Commits what waits when nobody else holds the commit lease: takes it and leads until
/// nothing waits or `until` (less the room one batch needs) comes. Every waiter calls it now and
/// then, and the status sweep does, so a request whose caller gave up is still committed.
/// Returns how many requests it settled.
pub async fn drain(app: &App, group: &GroupCommit, until: Instant) -> Result<usize, UseCaseError> {
    let store = &app.store;
    let now = epoch_seconds_now();
    // A read first: a held lease is the common case, and a failed conditional write costs more.
    if store
        .commit_lease()
        .await?
        .is_some_and(|held| held.lease_until >= now)
    {
        return Ok(0);
    }
    let owner = ulid::Ulid::new().to_string();
    let lease_until = now + group.lease.as_secs() as i64;
    let Some(taken) = store.take_commit_lease(&owner, lease_until).await? else {
        return Ok(0);
    };
    let mut held = HeldLease {
        app,
        owner: Some(owner),
    };
    // Never past the lease: a holder that outlived it could race the one that took it over.
    let until = until.min(Instant::now() + group.lease / 2);
    let mut leader = Leader::new(app, group, taken.after_unreleased);
    let led = leader.lead(until).await;
    held.release(led.is_ok()).await;
    led.map(|()| leader.settled)
}

/// The commit lease while this process holds it. Cut off (its future dropped at a deadline),
/// the holder still lets the lease go, marked unreleased, so the next holder need not wait for
/// it to run out and knows to look on the branch first.
pub(super) struct HeldLease<'a> {
    app: &'a App,
    owner: Option<String>,
}

impl HeldLease<'_> {
    async fn release(&mut self, clean: bool) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        if let Err(e) = self.app.store.release_commit_lease(&owner, clean).await {
            tracing::warn!(error = %e, "could not release the commit lease; it runs out by itself");
        }
    }
}

impl Drop for HeldLease<'_> {
    fn drop(&mut self) {
        let (Some(owner), Ok(runtime)) = (self.owner.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let store = std::sync::Arc::clone(&self.app.store);
        runtime.spawn(async move {
            if let Err(e) = store.release_commit_lease(&owner, false).await {
                tracing::warn!(error = %e, "could not release the commit lease of a holder cut off; it runs out by itself");
            }
        });
    }
}
