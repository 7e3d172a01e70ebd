//! Looking a request up by id: its record while the store keeps it, then what Git holds. A
//! settled record expires after the request retention (`BERTH_REQUEST_RETENTION`), but the
//! commit that carried the request keeps its trailers for good.

use berth_core::request::trailer_requests;
use berth_store::RequestRecord;

use crate::time::{epoch_seconds_at, epoch_seconds_now};
use crate::{App, UseCaseError};

/// How much earlier than its id's time a request's commit may be dated: clocks of the host that
/// minted the id and of the one that committed differ a little.
const CLOCK_SKEW: i64 = 60 * 60;

/// A request as Berth can still tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestLookup {
    /// Its record, while the store keeps it.
    Recorded(Box<RequestRecord>),
    /// Its record expired; this is what the commit carrying it says.
    Landed(LandedRequest),
    /// Made longer ago than the retention, and no commit found carries it.
    Expired,
    /// Never made, or made too recently to have expired: there is nothing to look for in Git.
    Unknown,
}

/// A request known only from the commit that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedRequest {
    pub id: String,
    /// From the commit's `Berth-Tenant` trailer; `None` for commits made before it existed.
    pub tenant: Option<String>,
    /// From the commit's `Berth-Action` trailer, likewise.
    pub action: Option<String>,
    pub commit: String,
    /// How many requests the commit carried.
    pub batch_size: u32,
    /// When the request was made (its id's time) and when its commit was, in epoch seconds.
    pub requested_at: i64,
    pub committed_at: i64,
}

/// Looks request `id` (a ULID) up: the store first; Git only when the id is older than the
/// request retention, so an unknown id costs no walk of the history.
pub async fn look_up_request(app: &App, id: ulid::Ulid) -> Result<RequestLookup, UseCaseError> {
    let retention = app.request_retention;
    let text = id.to_string();
    if let Some(record) = app.store.get_request(&text).await? {
        return Ok(RequestLookup::Recorded(Box::new(record)));
    }
    let requested_at = epoch_seconds_at(id.datetime());
    let age = epoch_seconds_now().saturating_sub(requested_at);
    if age < i64::try_from(retention.as_secs()).unwrap_or(i64::MAX) {
        return Ok(RequestLookup::Unknown);
    }
    let since = requested_at.saturating_sub(CLOCK_SKEW);
    let Some(landed) = app.committer.find_landed(text.clone(), since).await? else {
        return Ok(RequestLookup::Expired);
    };
    let carried = trailer_requests(&landed.message);
    let own = carried.iter().find(|c| c.id == text);
    Ok(RequestLookup::Landed(LandedRequest {
        id: text,
        tenant: own.and_then(|c| c.tenant.clone()),
        action: own.and_then(|c| c.action.clone()),
        commit: landed.sha,
        batch_size: u32::try_from(carried.len()).unwrap_or(u32::MAX),
        requested_at,
        committed_at: landed.committed_at,
    }))
}
