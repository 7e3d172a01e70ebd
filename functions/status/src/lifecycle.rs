//! How a request moves after its commit (the README's "A request's lifecycle"), decided from one sweep's evidence. Pure.
//!
//! ```text
//! branch_pushed / pr_opened → merged     when the main branch contains the commit
//! committed / merged        → synced     when every Application of the tenant reports a sync
//!                                        revision that contains the commit (by ancestry)
//!                           → failed     when a sync of a revision containing it failed
//! synced / degraded         → ready      when every part is healthy (or suspended)
//!                           → degraded   when a part is degraded or unhealthy, nothing pending
//! delete_tenant, or any      → ready      when the cluster runs nothing of the tenant any more
//! request leaving no slot
//! committed / merged        → failed     when nothing synced it within the sync timeout
//! ```

use std::time::Duration;

use berth_cluster::{Health, SlotStatus};
use berth_store::{ErrorBody, RequestRecord, RequestState};
use berth_usecases::error::ErrorCode;

/// What one sweep knows about a request's tenant.
pub struct Evidence<'a> {
    /// The tenant's slots that Git wants, as the cluster reports them.
    pub slots: Vec<&'a SlotStatus>,
    /// Whether the cluster still runs anything labelled with the tenant.
    pub cluster_runs_tenant: bool,
    /// Whether the main branch contains the request's commit.
    pub merged: bool,
    /// Whether a revision contains the request's commit.
    pub contains: &'a (dyn Fn(&str) -> bool + Sync),
    /// How long the request has been in its state.
    pub waited: Duration,
    /// How long a committed or merged request may wait for Argo CD to sync it.
    pub sync_timeout: Duration,
}

/// The state after this sweep, with its error; `None` when nothing moved.
pub fn advance(
    record: &RequestRecord,
    evidence: &Evidence<'_>,
) -> Option<(RequestState, Option<ErrorBody>)> {
    let mut state = record.state;
    let mut error = None;
    // Each step may unlock the next within one sweep; four steps at most.
    for _ in 0..4 {
        let Some((next, next_error)) = step(record, state, evidence) else {
            break;
        };
        (state, error) = (next, next_error);
    }
    (state != record.state || error != record.error).then_some((state, error))
}

fn step(
    record: &RequestRecord,
    state: RequestState,
    evidence: &Evidence<'_>,
) -> Option<(RequestState, Option<ErrorBody>)> {
    match state {
        RequestState::BranchPushed | RequestState::PrOpened => {
            evidence.merged.then_some((RequestState::Merged, None))
        }
        RequestState::Committed | RequestState::Merged => sync_step(record, evidence),
        RequestState::Synced | RequestState::Degraded => health_step(evidence),
        _ => None,
    }
}

fn sync_step(
    record: &RequestRecord,
    evidence: &Evidence<'_>,
) -> Option<(RequestState, Option<ErrorBody>)> {
    if record.action == "delete_tenant" || evidence.slots.is_empty() {
        // Git wants nothing of the tenant (deleted, or a revert of its creation): done once
        // the cluster runs nothing of it either.
        return (!evidence.cluster_runs_tenant).then_some((RequestState::Ready, None));
    }
    let contains = evidence.contains;
    for slot in &evidence.slots {
        let Some(app) = &slot.application else {
            continue;
        };
        if app.sync_failed() && app.operation_revision.as_deref().is_some_and(contains) {
            let message = format!(
                "{}: the sync failed: {}",
                slot_name(slot),
                app.operation_message.as_deref().unwrap_or("no message")
            );
            return Some((
                RequestState::Failed,
                Some(error(ErrorCode::SyncFailed, message)),
            ));
        }
    }
    let synced = evidence.slots.iter().all(|slot| {
        slot.application
            .as_ref()
            .and_then(|a| a.revision.as_deref())
            .is_some_and(contains)
    });
    if synced {
        return Some((RequestState::Synced, None));
    }
    (evidence.waited > evidence.sync_timeout).then(|| {
        let message = format!(
            "Argo CD did not sync a revision containing {} within {}",
            record.commit.as_deref().unwrap_or("the commit"),
            humantime::format_duration(evidence.sync_timeout)
        );
        (
            RequestState::Failed,
            Some(error(ErrorCode::SyncTimeout, message)),
        )
    })
}

fn health_step(evidence: &Evidence<'_>) -> Option<(RequestState, Option<ErrorBody>)> {
    let pending = evidence.slots.iter().any(|s| {
        matches!(
            s.health,
            Health::Progressing | Health::Missing | Health::Unknown
        )
    });
    if pending {
        return None;
    }
    let bad = evidence
        .slots
        .iter()
        .find(|s| matches!(s.health, Health::Degraded | Health::Unhealthy));
    match bad {
        None => Some((RequestState::Ready, None)),
        Some(slot) => {
            let message = format!(
                "{} is {}: {}",
                slot_name(slot),
                slot.health.as_str(),
                slot.reason
            );
            Some((
                RequestState::Degraded,
                Some(error(ErrorCode::Degraded, message)),
            ))
        }
    }
}

fn slot_name(slot: &SlotStatus) -> String {
    let k = &slot.key;
    match &k.module {
        Some(m) => format!("{}/{}/{m}", k.tenant, k.env),
        None => format!("{}/{}", k.tenant, k.env),
    }
}

fn error(code: ErrorCode, message: String) -> ErrorBody {
    ErrorBody {
        code: code.as_str().into(),
        message,
        field: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_cluster::{ApplicationState, SlotKey};

    const COMMIT: &str = "c0ffee";

    fn record(action: &str, state: RequestState) -> RequestRecord {
        let mut r = RequestRecord::new("01R", action, "api", "acme", state, "t0".into());
        r.commit = Some(COMMIT.into());
        r
    }

    fn slot(module: Option<&str>, health: Health, revision: Option<&str>) -> SlotStatus {
        SlotStatus {
            key: SlotKey {
                tenant: "acme".into(),
                env: "dev".into(),
                module: module.map(Into::into),
            },
            health,
            ready: 1,
            desired: 1,
            application: revision.map(|r| ApplicationState {
                revision: Some(r.into()),
                ..Default::default()
            }),
            urls: Vec::new(),
            reason: "1 of 2 replicas ready".into(),
        }
    }

    /// "new" and "newer" contain the commit; "old" does not.
    fn contains(revision: &str) -> bool {
        revision.starts_with("new")
    }

    fn run(
        record: &RequestRecord,
        slots: &[SlotStatus],
        merged: bool,
        runs: bool,
    ) -> Option<(RequestState, Option<ErrorBody>)> {
        advance(
            record,
            &Evidence {
                slots: slots.iter().collect(),
                cluster_runs_tenant: runs,
                merged,
                contains: &contains,
                waited: Duration::from_secs(60),
                sync_timeout: Duration::from_secs(3600),
            },
        )
    }

    fn state(result: Option<(RequestState, Option<ErrorBody>)>) -> Option<RequestState> {
        result.map(|(s, _)| s)
    }

    #[test]
    fn synced_needs_every_application_at_a_revision_containing_the_commit() {
        let r = record("enable_module", RequestState::Committed);
        let progressing = |rev| slot(Some("postgres"), Health::Progressing, rev);
        let base = slot(None, Health::Healthy, Some("newer"));
        assert_eq!(
            state(run(
                &r,
                &[base.clone(), progressing(Some("old"))],
                false,
                true
            )),
            None
        );
        assert_eq!(
            state(run(&r, &[base.clone(), progressing(None)], false, true)),
            None,
            "no Application yet"
        );
        assert_eq!(
            state(run(
                &r,
                &[base.clone(), progressing(Some("new"))],
                false,
                true
            )),
            Some(RequestState::Synced)
        );
    }

    #[test]
    fn synced_and_healthy_is_ready_in_one_sweep() {
        let r = record("create_tenant", RequestState::Committed);
        let slots = [
            slot(None, Health::Healthy, Some("new")),
            slot(Some("vault"), Health::Suspended, Some("new")),
        ];
        assert_eq!(
            run(&r, &slots, false, true),
            Some((RequestState::Ready, None))
        );
    }

    #[test]
    fn degraded_names_the_part_and_can_still_recover() {
        let r = record("create_tenant", RequestState::Synced);
        let slots = [
            slot(None, Health::Healthy, Some("new")),
            slot(Some("postgres"), Health::Degraded, Some("new")),
        ];
        let (next, error) = run(&r, &slots, false, true).unwrap();
        assert_eq!(next, RequestState::Degraded);
        let error = error.unwrap();
        assert_eq!(error.code, "degraded");
        assert!(
            error
                .message
                .contains("acme/dev/postgres is degraded: 1 of 2 replicas ready"),
            "{}",
            error.message
        );

        let mut degraded = r.clone();
        (degraded.state, degraded.error) = (RequestState::Degraded, Some(error));
        assert_eq!(
            run(&degraded, &slots, false, true),
            None,
            "unchanged evidence, no write"
        );
        let healed = [
            slot(None, Health::Healthy, Some("new")),
            slot(Some("postgres"), Health::Healthy, Some("new")),
        ];
        assert_eq!(
            run(&degraded, &healed, false, true),
            Some((RequestState::Ready, None))
        );
    }

    #[test]
    fn anything_pending_waits() {
        let r = record("create_tenant", RequestState::Synced);
        for pending in [Health::Progressing, Health::Missing, Health::Unknown] {
            let slots = [
                slot(None, Health::Degraded, Some("new")),
                slot(Some("p"), pending, Some("new")),
            ];
            assert_eq!(run(&r, &slots, false, true), None, "{pending:?}");
        }
    }

    #[test]
    fn a_failed_sync_of_the_commit_fails_the_request() {
        let r = record("update_tenant", RequestState::Committed);
        let mut failing = slot(None, Health::Degraded, Some("old"));
        failing.application = Some(ApplicationState {
            revision: Some("old".into()),
            operation_phase: Some("Failed".into()),
            operation_message: Some("one or more objects failed to apply".into()),
            operation_revision: Some("newer".into()),
            ..Default::default()
        });
        let (next, error) = run(&r, &[failing.clone()], false, true).unwrap();
        assert_eq!(next, RequestState::Failed);
        assert!(
            error
                .unwrap()
                .message
                .contains("acme/dev: the sync failed: one or more objects failed to apply")
        );
        // A failure of an older revision is not this request's.
        failing.application.as_mut().unwrap().operation_revision = Some("old".into());
        assert_eq!(run(&r, &[failing], false, true), None);
    }

    #[test]
    fn a_commit_nothing_syncs_fails_after_the_timeout() {
        let r = record("enable_module", RequestState::Committed);
        let slots = [slot(None, Health::Healthy, Some("old"))];
        let evidence = |waited| Evidence {
            slots: slots.iter().collect(),
            cluster_runs_tenant: true,
            merged: true,
            contains: &contains,
            waited: Duration::from_secs(waited),
            sync_timeout: Duration::from_secs(3600),
        };
        assert_eq!(advance(&r, &evidence(3600)), None);
        let (next, error) = advance(&r, &evidence(3601)).unwrap();
        assert_eq!(next, RequestState::Failed);
        let error = error.unwrap();
        assert_eq!(error.code, "sync_timeout");
        assert!(
            error.message.contains("containing c0ffee within 1h"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_pushed_branch_moves_once_merged() {
        let r = record("enable_module", RequestState::BranchPushed);
        let slots = [slot(None, Health::Healthy, Some("old"))];
        assert_eq!(run(&r, &slots, false, true), None);
        assert_eq!(
            state(run(&r, &slots, true, true)),
            Some(RequestState::Merged)
        );
        let synced = [slot(None, Health::Healthy, Some("new"))];
        assert_eq!(
            state(run(&r, &synced, true, true)),
            Some(RequestState::Ready)
        );
    }

    #[test]
    fn a_deletion_is_ready_when_nothing_of_the_tenant_runs() {
        let r = record("delete_tenant", RequestState::Committed);
        assert_eq!(run(&r, &[], false, true), None);
        assert_eq!(state(run(&r, &[], false, false)), Some(RequestState::Ready));
        // A revert of the tenant's creation deletes it too: Git wants nothing of it.
        let r = record("revert", RequestState::Committed);
        assert_eq!(run(&r, &[], false, true), None);
        assert_eq!(state(run(&r, &[], false, false)), Some(RequestState::Ready));
    }

    #[test]
    fn settled_requests_do_not_move() {
        for settled in [
            RequestState::Ready,
            RequestState::Failed,
            RequestState::NoChange,
            RequestState::Rejected,
        ] {
            let r = record("create_tenant", settled);
            assert_eq!(
                run(&r, &[slot(None, Health::Healthy, Some("new"))], true, false),
                None
            );
        }
    }
}
