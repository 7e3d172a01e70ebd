//! The records the server holds, as the API contract (`berth-contract`) shows them. Field by
//! field, so a change on either side is a compile error here, not a silent change of shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_contract as contract;
use berth_usecases::records::{
    ErrorBody, IndexProblem, LastChange, RequestRecord, RequestState, StatusRecord,
};
use berth_usecases::write::run::Answer;

use berth_usecases::history::{HistoryEntry, TenantHistory};
use berth_usecases::intake::Settlement;
use berth_usecases::intake::github::Review;
use berth_usecases::lookup::LandedRequest;
use berth_usecases::preview::Preview;
use berth_usecases::time::rfc3339_at;

use crate::error::ApiError;

/// An answer's body as JSON. The contract's types always serialise; were one ever not to, the
/// answer says so rather than go out empty.
pub fn to_json(answer: &impl serde::Serialize) -> String {
    serde_json::to_string(answer).unwrap_or_else(|e| {
        tracing::error!(error = %e, "an answer could not be written as JSON");
        r#"{"error":{"code":"internal","message":"the answer could not be written"}}"#.to_owned()
    })
}

/// A JSON answer with `status`.
pub fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A write's answer on the wire: its status and JSON body, and `Retry-After` when a retry
/// should come.
pub fn answer_response(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, answer.body);
    if let Some(wait) = answer.retry_after {
        let seconds = HeaderValue::from(wait.as_secs());
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    response
}

pub fn error_detail(body: &ErrorBody) -> contract::ErrorDetail {
    contract::ErrorDetail {
        code: body.code.clone(),
        message: body.message.clone(),
        field: body.field.clone(),
    }
}

pub fn request_view(record: &RequestRecord) -> contract::RequestView {
    contract::RequestView {
        id: record.id.clone(),
        action: record.action.clone(),
        source: record.source.clone(),
        requested_by: record.requested_by.clone(),
        tenant: record.tenant.clone(),
        state: request_state(record.state),
        commit: record.commit.clone(),
        branch: record.branch.clone(),
        pr_url: record.pr_url.clone(),
        pr_number: record.pr_number,
        batch_size: record.batch_size,
        error: record.error.as_ref().map(error_detail),
        created_at: record.created_at.clone(),
        updated_at: record.updated_at.clone(),
        reverts: record.reverts.clone(),
        reverted_by: record.reverted_by.clone(),
        changes: None,
        notice: None,
    }
}

/// A request whose record expired, as the commit that carried it tells it.
pub fn landed_view(landed: &LandedRequest) -> contract::RequestView {
    contract::RequestView {
        id: landed.id.clone(),
        action: landed.action.clone().unwrap_or_default(),
        source: String::new(),
        requested_by: None,
        tenant: landed.tenant.clone().unwrap_or_default(),
        state: contract::RequestState::Expired,
        commit: Some(landed.commit.clone()),
        branch: None,
        pr_url: None,
        pr_number: None,
        batch_size: Some(landed.batch_size),
        error: None,
        created_at: rfc3339_at(landed.requested_at),
        updated_at: rfc3339_at(landed.committed_at),
        reverts: None,
        reverted_by: None,
        changes: None,
        notice: None,
    }
}

pub fn file_change_kind(kind: berth_core::file_diff::FileChangeKind) -> contract::FileChangeKind {
    use berth_core::file_diff::FileChangeKind as K;
    match kind {
        K::Added => contract::FileChangeKind::Added,
        K::Modified => contract::FileChangeKind::Modified,
        K::Deleted => contract::FileChangeKind::Deleted,
    }
}

/// A file of a commit, without line counts (history reads only which blobs changed).
pub fn file_change(change: &berth_core::file_diff::FileChange) -> contract::FileChangeView {
    contract::FileChangeView {
        path: change.path.clone(),
        change: file_change_kind(change.kind),
        lines_added: None,
        lines_removed: None,
    }
}

/// A file of a request's commit, with its line counts: the request's diff summary.
pub fn file_summary(diff: &berth_core::file_diff::FileDiff) -> contract::FileChangeView {
    contract::FileChangeView {
        path: diff.path.clone(),
        change: file_change_kind(diff.kind),
        lines_added: Some(diff.lines_added as u64),
        lines_removed: Some(diff.lines_removed as u64),
    }
}

pub fn planned_change(tenant: &str, preview: &Preview) -> contract::PlannedChangeView {
    contract::PlannedChangeView {
        tenant: tenant.to_owned(),
        revision: preview.revision.clone(),
        message: preview.message.clone(),
        files: preview.files.iter().map(file_diff_view).collect(),
    }
}

/// One file of a planned change, with its diff.
pub fn file_diff_view(d: &berth_core::file_diff::FileDiff) -> contract::FileDiffView {
    contract::FileDiffView {
        path: d.path.clone(),
        change: file_change_kind(d.kind),
        lines_added: d.lines_added as u64,
        lines_removed: d.lines_removed as u64,
        diff: d.unified.clone(),
    }
}

pub fn history_page(tenant: &str, history: &TenantHistory) -> contract::HistoryPage {
    contract::HistoryPage {
        tenant: tenant.to_owned(),
        entries: history.entries.iter().map(history_entry).collect(),
        next_before: history.next_before.clone(),
    }
}

fn history_entry(entry: &HistoryEntry) -> contract::HistoryEntry {
    contract::HistoryEntry {
        commit: entry.commit.clone(),
        committed_at: rfc3339_at(entry.committed_at),
        author: entry.author.clone(),
        title: entry.title.clone(),
        by_berth: !entry.requests.is_empty(),
        requests: entry
            .requests
            .iter()
            .map(|r| contract::HistoryRequest {
                id: r.id.clone(),
                action: r.action.clone(),
                source: r.record.as_ref().map(|rec| rec.source.clone()),
                requested_by: r.record.as_ref().and_then(|rec| rec.requested_by.clone()),
                state: r.record.as_ref().map(|rec| request_state(rec.state)),
                reverts: r.reverts.clone(),
                reverted_by: r.record.as_ref().and_then(|rec| rec.reverted_by.clone()),
            })
            .collect(),
        files: entry.files.iter().map(file_change).collect(),
    }
}

pub fn request_state(state: RequestState) -> contract::RequestState {
    use contract::RequestState as C;
    match state {
        RequestState::Accepted => C::Accepted,
        RequestState::Committed => C::Committed,
        RequestState::BranchPushed => C::BranchPushed,
        RequestState::PrOpened => C::PrOpened,
        RequestState::Merged => C::Merged,
        RequestState::Synced => C::Synced,
        RequestState::Ready => C::Ready,
        RequestState::NoChange => C::NoChange,
        RequestState::Rejected => C::Rejected,
        RequestState::Failed => C::Failed,
        RequestState::Degraded => C::Degraded,
        RequestState::Scheduled => C::Scheduled,
    }
}

pub fn module_status(s: &StatusRecord) -> contract::ModuleStatus {
    contract::ModuleStatus {
        env: s.env.clone(),
        module: s.module.clone(),
        health: s.health.clone(),
        sync: s.sync.clone(),
        revision: s.revision.clone(),
        ready: s.ready,
        desired: s.desired,
        urls: s.urls.clone(),
        reason: s.reason.clone(),
        observed_at: s.observed_at.clone(),
    }
}

/// The catalog as the contract shows it: the same shape, names as plain strings.
pub fn catalog(catalog: &berth_core::catalog::Catalog) -> Result<contract::Catalog, ApiError> {
    serde_json::to_value(catalog)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            ApiError::unavailable(
                "internal",
                format!("the catalog does not fit the contract: {e}"),
            )
        })
}

/// [`catalog`], with what each upstream module's repository says now.
pub fn catalog_with_charts(
    catalog: &berth_core::catalog::Catalog,
    charts: &std::collections::BTreeMap<
        berth_core::ModuleName,
        berth_usecases::chart_facts::ChartFacts,
    >,
) -> Result<contract::Catalog, ApiError> {
    let mut view = self::catalog(catalog)?;
    for module in &mut view.modules {
        let facts = charts
            .iter()
            .find(|(name, _)| name.as_str() == module.name)
            .map(|(_, f)| f);
        if let (Some(chart), Some(facts)) = (&mut module.chart, facts) {
            chart.newest_in_range = facts.newest_in_range.clone();
            chart.values_check = facts.values_check.map(|c| {
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            });
            chart.unavailable = facts.unavailable.clone();
        }
    }
    Ok(view)
}

/// How a webhook delivery settled, as its sender reads it.
pub fn webhook_answer(event_id: &str, settled: Settlement) -> contract::WebhookAnswer {
    let outcome = match (settled.outcome, &settled.request) {
        (Some(outcome), _) => outcome,
        (None, Some(record)) => request_state(record.state).as_str(),
        (None, None) => "done",
    };
    let mut answer = contract::WebhookAnswer::new(event_id, outcome);
    answer.request = settled.request.as_ref().map(request_view);
    answer.error = settled.error.map(|e| contract::ErrorDetail {
        code: e.code.as_str().to_owned(),
        message: e.message,
        field: e.field,
    });
    answer.status = settled.status.as_ref().map(module_status);
    answer.review = settled.review.map(review_verdict);
    answer.reason = settled.reason;
    answer
}

fn review_verdict(review: Review) -> contract::ReviewVerdict {
    contract::ReviewVerdict {
        state: if review.passed { "success" } else { "failure" }.into(),
        description: review.description,
        problems: review
            .problems
            .into_iter()
            .map(|p| contract::ReviewProblem {
                path: p.path,
                field: p.field,
                message: p.message,
            })
            .collect(),
    }
}

pub fn last_change(change: &LastChange) -> contract::LastChangeView {
    contract::LastChangeView {
        commit: change.commit.clone(),
        author: change.author.clone(),
        at: change.at.clone(),
        source: change.source.clone(),
        request: change.request.clone(),
    }
}

/// A problem the review found just now, in the shape the index keeps it.
pub fn review_problem(problem: &berth_core::review::Problem) -> contract::TenantProblem {
    contract::TenantProblem {
        file: problem.path.clone(),
        field: problem.field.clone(),
        reason: problem.message.clone(),
    }
}

pub fn tenant_problem(problem: &IndexProblem) -> contract::TenantProblem {
    contract::TenantProblem {
        file: problem.file.clone(),
        field: problem.field.clone(),
        reason: problem.reason.clone(),
    }
}
