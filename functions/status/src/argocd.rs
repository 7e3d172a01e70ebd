//! The Argo CD setup on the hub, recorded with the cluster's health for `berth doctor`: the
//! ApplicationSets and AppProjects by name, listed again every few minutes (two small lists; a
//! setup rarely changes, so most sweeps list nothing more).

use std::time::{Duration, Instant};

use berth_cluster::argocd::list_argocd_objects;
use berth_store::ArgoSetup;

use crate::sweep::Sweeper;

/// How long one listing of the setup is kept.
const SETUP_REFRESH: Duration = Duration::from_secs(600);

impl Sweeper {
    /// The setup as last listed, listed now when older than [`SETUP_REFRESH`] and the hub
    /// answered this sweep (a hub that did not would only make the sweep wait again); `None`
    /// without a hub, or before a listing ever succeeded.
    pub(crate) async fn argocd_setup(&self, now: &str, hub_answered: bool) -> Option<ArgoSetup> {
        let hub = self.fleet.hub()?;
        let mut kept = self.argocd.lock().await;
        if let Some((at, setup)) = kept.as_ref()
            && (at.elapsed() < SETUP_REFRESH || !hub_answered)
        {
            return Some(setup.clone());
        }
        if !hub_answered {
            return None;
        }
        let listed = match hub.client().await {
            Ok(client) => list_argocd_objects(client).await,
            Err(e) => Err(e),
        };
        match listed {
            Ok(objects) => {
                let setup = ArgoSetup {
                    application_sets: objects.application_sets,
                    projects: objects.projects,
                    observed_at: now.to_owned(),
                };
                *kept = Some((Instant::now(), setup.clone()));
                Some(setup)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list Argo CD's ApplicationSets and AppProjects");
                kept.as_ref().map(|(_, setup)| setup.clone())
            }
        }
    }
}
