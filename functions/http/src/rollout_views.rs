//! A rollout's record as the API shows it: each wave's state and counts, and (for one
//! rollout) every tenant's state in its wave, from what the status step last recorded.

use std::collections::{BTreeMap, BTreeSet};

use berth_contract::{LeftOutView, RolloutBody, RolloutTenantView, RolloutView, RolloutWaveView};
use berth_usecases::records::{
    CommittedWave, PlannedTenant, RevertedWave, RolloutRecord, RolloutState,
};
use berth_usecases::time::rfc3339_at;

/// The view of `record`; with `waves` (every wave's planned tenants), each tenant's state.
pub(crate) fn rollout_view(
    record: &RolloutRecord,
    waves: Option<&[Vec<PlannedTenant>]>,
    now: i64,
) -> RolloutView {
    let spec: RolloutBody = serde_json::from_str(&record.spec).unwrap_or_else(|_| RolloutBody {
        selector: None,
        change: berth_contract::FleetChangeBody::Disable {
            module: String::new(),
        },
        canaries: Vec::new(),
        waves: None,
        gates: None,
        on_failure: None,
        then_set_default: false,
        skip_invalid: false,
    });
    let soak = soak_seconds(&spec);
    let wave_views: Vec<RolloutWaveView> = (1..=record.waves)
        .map(|number| {
            let tenants = waves.and_then(|w| w.get(number as usize - 1));
            wave_view(record, number, tenants, soak, now)
        })
        .collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for wave in &wave_views {
        for (state, n) in &wave.counts {
            *counts.entry(state.clone()).or_default() += n;
        }
    }
    let left_out: Vec<LeftOutView> = record
        .left_out
        .iter()
        .map(|note| {
            let (reason, detail) = match note.reason.split_once(": ") {
                Some((kind, detail)) => (kind.to_owned(), Some(detail.to_owned())),
                None => (note.reason.clone(), None),
            };
            *counts
                .entry(if reason == "held" { "held" } else { "skipped" }.to_owned())
                .or_default() += 1;
            LeftOutView {
                tenant: note.tenant.clone(),
                reason,
                detail,
            }
        })
        .collect();
    RolloutView {
        id: record.id.clone(),
        state: record.state.as_str().to_owned(),
        mode: record.mode.clone(),
        pause_reason: record.pause_reason.clone(),
        spec,
        base: record.base.clone(),
        hash: record.hash.clone(),
        created_at: record.created_at.clone(),
        updated_at: record.updated_at.clone(),
        requested_by: record.requested_by.clone(),
        counts,
        waves: wave_views,
        left_out,
        default_commit: record.default_commit.clone(),
    }
}

/// The gate's soak in seconds (`10m` when not given or not readable).
fn soak_seconds(spec: &RolloutBody) -> i64 {
    spec.gates
        .as_ref()
        .and_then(|g| g.soak.as_deref())
        .and_then(|s| humantime::parse_duration(s).ok())
        .map_or(600, |d| d.as_secs() as i64)
}

fn wave_view(
    record: &RolloutRecord,
    number: u32,
    tenants: Option<&Vec<PlannedTenant>>,
    soak: i64,
    now: i64,
) -> RolloutWaveView {
    let size = record
        .wave_sizes
        .get(number as usize - 1)
        .copied()
        .unwrap_or_else(|| tenants.map_or(0, |t| t.len() as u32)) as u64;
    let committed = record.committed.iter().find(|w| w.number == number);
    let reverted = record.reverted.iter().find(|r| r.number == number);
    let newest = record.committed.last().map(|w| w.number) == Some(number);
    let soaking = committed
        .and_then(|w| w.ready_at)
        .is_some_and(|at| newest && record.state == RolloutState::Running && now < at + soak);
    let judge = Judge {
        wave: committed,
        reverted,
        soaking,
    };
    let state = judge.wave_state();
    let tenant_views: Vec<RolloutTenantView> = tenants
        .map(|t| t.iter().map(|t| judge.tenant(&t.tenant)).collect())
        .unwrap_or_default();
    RolloutWaveView {
        number: number as u64,
        state: state.to_owned(),
        pull_request: committed
            .and_then(|w| w.pull.as_ref())
            .map(|p| p.url.clone().unwrap_or_else(|| p.branch.clone())),
        commit: committed.and_then(|w| w.commit.clone()),
        committed_at: committed.map(|w| rfc3339_at(w.committed_at)),
        ready_at: committed.and_then(|w| w.ready_at).map(rfc3339_at),
        revert_commit: reverted.and_then(|r| r.commit.clone()),
        reverted_at: reverted.map(|r| rfc3339_at(r.reverted_at)),
        counts: judge.counts(size),
        tenants: tenant_views,
    }
}

/// What the record says of one wave.
struct Judge<'a> {
    wave: Option<&'a CommittedWave>,
    reverted: Option<&'a RevertedWave>,
    soaking: bool,
}

impl Judge<'_> {
    /// The state of a tenant that passed (or is not named otherwise) in this wave.
    fn settled(&self) -> &'static str {
        match self.wave {
            None => "planned",
            Some(_) if self.reverted.is_some() => "reverted",
            Some(w) if w.commit.is_none() => "skipped",
            Some(_) if self.soaking => "soaking",
            Some(w) if w.ready_at.is_some() || w.ready > 0 => "ready",
            Some(w) if w.waiting.is_empty() && w.failed.is_empty() => "committed",
            Some(_) => "ready",
        }
    }

    fn wave_state(&self) -> &'static str {
        match self.wave {
            None => "planned",
            Some(_) if self.reverted.is_some() => "reverted",
            Some(w) if w.pull.as_ref().is_some_and(|p| !p.merged) => "awaiting_merge",
            Some(w) if w.commit.is_none() => "skipped",
            Some(w) if !w.failed.is_empty() => "failed",
            Some(w) if w.ready_at.is_none() => "syncing",
            Some(_) if self.soaking => "soaking",
            Some(_) => "ready",
        }
    }

    fn tenant(&self, tenant: &str) -> RolloutTenantView {
        let view = |state: &str, reason: Option<String>| RolloutTenantView {
            tenant: tenant.to_owned(),
            state: state.to_owned(),
            reason,
        };
        let Some(wave) = self.wave else {
            return view("planned", None);
        };
        if let Some(c) = self
            .reverted
            .and_then(|r| r.conflicts.iter().find(|c| c.tenant == tenant))
        {
            return view("skipped", Some(format!("not reverted: {}", c.reason)));
        }
        if let Some(s) = wave.skipped.iter().find(|s| s.tenant == tenant) {
            return view("skipped", Some(s.reason.clone()));
        }
        if self.reverted.is_some() {
            return view("reverted", None);
        }
        if let Some(f) = wave.failed.iter().find(|f| f.tenant == tenant) {
            return view("failed", Some(f.reason.clone()));
        }
        let before = wave
            .degraded_before
            .iter()
            .any(|t| t == tenant)
            .then(|| "degraded before its wave; not counted".to_owned());
        if wave.waiting.iter().any(|t| t == tenant) {
            return view("syncing", before);
        }
        view(self.settled(), before)
    }

    /// Counts by tenant state, `size` tenants planned.
    fn counts(&self, size: u64) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        let Some(wave) = self.wave else {
            counts.insert("planned".to_owned(), size);
            return counts;
        };
        let mut add = |state: &str, n: u64| {
            if n > 0 {
                *counts.entry(state.to_owned()).or_insert(0) += n;
            }
        };
        let skipped: BTreeSet<&str> = wave.skipped.iter().map(|s| s.tenant.as_str()).collect();
        let conflicts = self.reverted.map_or(0, |r| r.conflicts.len() as u64);
        add("skipped", skipped.len() as u64 + conflicts);
        let rest = size.saturating_sub(skipped.len() as u64 + conflicts);
        if self.reverted.is_some() {
            add("reverted", rest);
            return counts;
        }
        let failed = wave.failed.len() as u64;
        let waiting = wave.waiting.len() as u64;
        add("failed", failed);
        add("syncing", waiting);
        add(self.settled(), rest.saturating_sub(failed + waiting));
        counts
    }
}
