//! One paged, cluster-wide list per kind, selected by the label `berth.dev/tenant`: never a call
//! per tenant. An expired continue token (410 Gone) restarts the list once.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, ObjectList};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::application::Application;
use crate::observe::ClusterObjects;

pub use crate::labels::TENANT_LABEL;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the cluster could not be reached or refused the call: {0}")]
    Unreachable(String),
    #[error("cannot authenticate to the cluster: {0}")]
    Auth(String),
    #[error("the list of {kind} kept expiring under us")]
    Expired { kind: String },
}

/// Reads the cluster with one client, made once and reused.
#[derive(Clone)]
pub struct ClusterReader {
    client: Client,
    page_size: u32,
}

impl ClusterReader {
    pub fn new(client: Client, page_size: u32) -> Self {
        Self {
            client,
            page_size: page_size.max(1),
        }
    }

    /// Lists every kind a sweep needs, the four side by side (each still one paged list, so
    /// at most four pages are in memory at once), each page reduced to what the sweep uses as
    /// it arrives, so memory follows the number of objects, not their size.
    pub async fn read_all(&self) -> Result<ClusterObjects, ClusterError> {
        let mut application_calls = 0;
        let (mut objects, applications) = tokio::try_join!(
            self.read_workloads(),
            self.list(
                Api::<Application>::all(self.client.clone()),
                "applications",
                &mut application_calls,
                ClusterObjects::application_part,
            ),
        )?;
        objects.applications = applications;
        objects.calls += application_calls;
        Ok(objects)
    }

    /// Lists the workloads and ingresses only: what a cluster Argo CD does not run on holds
    /// for Berth (its Applications live on the hub).
    pub async fn read_workloads(&self) -> Result<ClusterObjects, ClusterError> {
        let client = || self.client.clone();
        let (mut deployment_calls, mut statefulset_calls, mut ingress_calls) = (0, 0, 0);
        let (deployments, statefulsets, ingresses) = tokio::try_join!(
            self.list(
                Api::<Deployment>::all(client()),
                "deployments",
                &mut deployment_calls,
                |d| ClusterObjects::deployment_part(&d),
            ),
            self.list(
                Api::<StatefulSet>::all(client()),
                "statefulsets",
                &mut statefulset_calls,
                |s| ClusterObjects::statefulset_part(&s),
            ),
            self.list(
                Api::<Ingress>::all(client()),
                "ingresses",
                &mut ingress_calls,
                |i| ClusterObjects::ingress_part(&i),
            ),
        )?;
        let mut objects = ClusterObjects {
            ingresses,
            calls: deployment_calls + statefulset_calls + ingress_calls,
            ..ClusterObjects::default()
        };
        objects.workloads.extend(deployments);
        objects.workloads.extend(statefulsets);
        Ok(objects)
    }

    /// All pages of one kind, each object reduced by `reduce` as its page arrives (`None`
    /// drops it); restarts once from the first page when a continue token expires.
    pub async fn list<K, T>(
        &self,
        api: Api<K>,
        kind: &str,
        calls: &mut u32,
        reduce: impl Fn(K) -> Option<T>,
    ) -> Result<Vec<T>, ClusterError>
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let mut restarted = false;
        'restart: loop {
            let mut items = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut params = ListParams::default()
                    .labels(TENANT_LABEL)
                    .limit(self.page_size);
                if let Some(t) = &token {
                    params = params.continue_token(t);
                }
                *calls += 1;
                let page: ObjectList<K> = match api.list(&params).await {
                    Ok(page) => page,
                    Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                        if restarted {
                            return Err(ClusterError::Expired {
                                kind: kind.to_owned(),
                            });
                        }
                        restarted = true;
                        continue 'restart;
                    }
                    Err(e) => return Err(ClusterError::Unreachable(e.to_string())),
                };
                items.extend(page.items.into_iter().filter_map(&reduce));
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(next) => token = Some(next),
                    None => return Ok(items),
                }
            }
        }
    }
}
