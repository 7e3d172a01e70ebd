//! The middle and last phases of a move between clusters: once every Application of the
//! tenant-env on the cluster it moves to reports `Synced` and `Healthy` at a revision holding the
//! tenant's latest change, the sweep commits the move's last phase. Git alone says which moves
//! are under way, so a sweep after a crash finds them again; a move finished meanwhile is no
//! longer in Git and is left alone, so no phase is committed twice.

use berth_cluster::{ApplicationState, ClusterObjects, Part};
use berth_core::{ClusterName, DesiredState, EnvName, TenantName};
use berth_usecases::moves::finish_move;

use crate::sweep::Sweeper;

/// A tenant-env Git places on two clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moving {
    pub tenant: TenantName,
    pub env: EnvName,
    pub to: ClusterName,
    /// The Applications it has on each cluster: its base and one per module.
    pub applications: usize,
}

/// Every move under way in `desired`.
pub fn moves_under_way(desired: &DesiredState) -> Vec<Moving> {
    let mut moving = Vec::new();
    for (tenant, wanted) in &desired.tenants {
        for (env, placement) in &wanted.placements {
            let Some(to) = &placement.moving_to else {
                continue;
            };
            moving.push(Moving {
                tenant: tenant.clone(),
                env: env.clone(),
                to: to.clone(),
                applications: 1 + wanted.envs.get(env).map_or(0, |m| m.len()),
            });
        }
    }
    moving
}

/// The Applications of `m` on the cluster it moves to.
pub fn on_new_cluster<'a>(
    m: &Moving,
    applications: &'a [Part<ApplicationState>],
) -> Vec<&'a ApplicationState> {
    applications
        .iter()
        .filter(|a| a.slot.tenant == m.tenant.as_str() && a.slot.env == m.env.as_str())
        .filter(|a| a.value.cluster.as_deref() == Some(m.to.as_str()))
        .map(|a| &a.value)
        .collect()
}

/// Whether `m` has arrived: all its Applications on the new cluster, each synced and healthy
/// at a revision that `holds_change` says contains the tenant's latest change.
pub fn arrived(
    m: &Moving,
    on_new: &[&ApplicationState],
    holds_change: impl Fn(&str) -> bool,
) -> bool {
    on_new.len() == m.applications
        && on_new.iter().all(|a| {
            a.sync.as_deref() == Some("Synced")
                && matches!(a.health.as_deref(), Some("Healthy" | "Suspended"))
                && a.revision.as_deref().is_some_and(&holds_change)
        })
}

impl Sweeper {
    /// Commits the last phase of every move whose new cluster is ready; returns how many. A
    /// failure is logged: the next sweep looks again.
    pub(crate) async fn finish_moves(
        &self,
        desired: &DesiredState,
        objects: Option<&ClusterObjects>,
    ) -> usize {
        let Some(objects) = objects else {
            return 0;
        };
        let mut finished = 0;
        for m in moves_under_way(desired) {
            match self.move_arrived(&m, objects).await {
                Ok(false) => {}
                Ok(true) => {
                    match finish_move(&self.app, m.tenant.clone(), m.env.clone(), m.to.clone())
                        .await
                    {
                        Ok(_) => {
                            tracing::info!(tenant = %m.tenant, env = %m.env, to = %m.to, "move finished");
                            finished += 1;
                        }
                        Err(e) => {
                            tracing::warn!(tenant = %m.tenant, env = %m.env, error = %e.error.message, "could not finish a move");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(tenant = %m.tenant, env = %m.env, error = %e, "could not tell whether a move arrived");
                }
            }
        }
        finished
    }

    async fn move_arrived(
        &self,
        m: &Moving,
        objects: &ClusterObjects,
    ) -> Result<bool, berth_gitops::GitError> {
        let on_new = on_new_cluster(m, &objects.applications);
        if on_new.len() != m.applications {
            return Ok(false);
        }
        let folder = berth_core::paths::tenant_dir(&m.tenant);
        let history = self.app.committer.folder_history(folder, None, 1).await?;
        let Some(latest) = history.and_then(|h| h.commits.into_iter().next()) else {
            return Ok(false);
        };
        let revisions: Vec<String> = on_new.iter().filter_map(|a| a.revision.clone()).collect();
        let pairs = revisions
            .iter()
            .map(|r| (latest.sha.clone(), r.clone()))
            .collect();
        let holds = self.app.committer.contains(pairs).await?;
        let holding: Vec<&str> = revisions
            .iter()
            .zip(holds)
            .filter_map(|(r, held)| held.then_some(r.as_str()))
            .collect();
        Ok(arrived(m, &on_new, |r| holding.contains(&r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_cluster::SlotKey;

    fn app(
        env: &str,
        module: Option<&str>,
        cluster: &str,
        health: &str,
        revision: &str,
    ) -> Part<ApplicationState> {
        Part {
            slot: SlotKey {
                tenant: "acme".into(),
                env: env.into(),
                module: module.map(str::to_owned),
            },
            name: "application/x".into(),
            value: ApplicationState {
                health: Some(health.into()),
                sync: Some("Synced".into()),
                revision: Some(revision.into()),
                cluster: Some(cluster.into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_move_arrives_when_every_application_on_the_new_cluster_is_ready_at_the_change() {
        let m = Moving {
            tenant: TenantName::parse("t", "acme").unwrap(),
            env: EnvName::parse("e", "prod").unwrap(),
            to: ClusterName::parse("c", "prod-us").unwrap(),
            applications: 2,
        };
        let at = |revision: &str| revision == "new";
        let mut apps = vec![
            app("prod", None, "prod-eu", "Degraded", "old"),
            app("prod", None, "prod-us", "Healthy", "new"),
            app("dev", None, "prod-us", "Healthy", "new"),
        ];
        // One of two Applications on the new cluster: not yet.
        assert!(!arrived(&m, &on_new_cluster(&m, &apps), at));
        apps.push(app(
            "prod",
            Some("postgres"),
            "prod-us",
            "Progressing",
            "new",
        ));
        assert!(
            !arrived(&m, &on_new_cluster(&m, &apps), at),
            "still progressing"
        );
        apps.pop();
        apps.push(app("prod", Some("postgres"), "prod-us", "Healthy", "old"));
        assert!(
            !arrived(&m, &on_new_cluster(&m, &apps), at),
            "synced before the move"
        );
        apps.pop();
        apps.push(app("prod", Some("postgres"), "prod-us", "Healthy", "new"));
        assert!(
            arrived(&m, &on_new_cluster(&m, &apps), at),
            "the old cluster's state does not matter"
        );
    }
}
