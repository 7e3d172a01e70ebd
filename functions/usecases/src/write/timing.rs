//! The timing every write shares, derived once. The API, webhook and status functions time
//! out after 29 s (the SAM template in `infra/`):
//! - a request keeps [`DEADLINE_MARGIN`] (3 s) back from that deadline to record and send its
//!   answer, so its work budget is 29 − 3 = 26 s ([`DEFAULT_REQUEST_BUDGET`], which `berth dev`
//!   uses too);
//! - recording a request that landed just before its deadline may take [`RECORD_BUDGET`] (2 s),
//!   inside the margin;
//! - a claim (an idempotency key, the commit lease) lasts [`DEFAULT_CLAIM_LEASE`] (60 s), longer
//!   than the 29 s timeout, so a live holder never loses it: 26 s < 29 s < 60 s (a test checks
//!   the template against it);
//! - a direct-mode caller waits [`DEFAULT_BATCH_WAIT`] (20 s) for its group commit, inside its
//!   26 s budget; a webhook or a schedule at most [`WEBHOOK_BATCH_WAIT`] (5 s).

use std::time::Duration;

/// Kept back from the Lambda deadline to record the answer and send it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// The work budget off Lambda: the SAM template's function timeout (29 s) less the margin, so
/// `berth dev` behaves as the deployed functions do.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(26);

/// What recording a landed request may take once the request's deadline has passed.
pub const RECORD_BUDGET: Duration = Duration::from_secs(2);

/// How long a request may run before a retry (or the sweep) takes it over as interrupted.
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(60);

/// Default of `BERTH_BATCH_WAIT`.
pub const DEFAULT_BATCH_WAIT: Duration = Duration::from_secs(20);

/// How long a webhook waits for its batch before acknowledging its request as accepted: well
/// inside any sender's timeout (Stripe and Standard Webhooks senders give up after seconds).
pub const WEBHOOK_BATCH_WAIT: Duration = Duration::from_secs(5);
