//! One paged, cluster-wide list per kind, selected by the label `berth.dev/tenant`: never a call
//! per tenant. An expired continue token (410 Gone) restarts the list once.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, ObjectList};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

/// The label every object Berth's charts render carries.
pub const TENANT_LABEL: &str = "berth.dev/tenant";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the cluster could not be reached or refused the call: {0}")]
    Unreachable(String),
    #[error("cannot authenticate to the cluster: {0}")]
    Auth(String),
    #[error("the list of {kind} kept expiring under us")]
    Expired { kind: String },
}

/// Argo CD's Application, read as a dynamic object with its explicit plural.
pub fn application_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

/// Everything one sweep reads, and how many list calls it took.
#[derive(Debug, Default)]
pub struct ClusterObjects {
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub ingresses: Vec<Ingress>,
    pub applications: Vec<DynamicObject>,
    pub calls: u32,
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

    /// Lists every kind a sweep needs.
    pub async fn read_all(&self) -> Result<ClusterObjects, ClusterError> {
        let mut objects = ClusterObjects::default();
        let mut calls = 0;
        objects.deployments = self
            .list(Api::all(self.client.clone()), "deployments", &mut calls)
            .await?;
        objects.statefulsets = self
            .list(Api::all(self.client.clone()), "statefulsets", &mut calls)
            .await?;
        objects.ingresses = self
            .list(Api::all(self.client.clone()), "ingresses", &mut calls)
            .await?;
        let applications: Api<DynamicObject> =
            Api::all_with(self.client.clone(), &application_resource());
        objects.applications = self.list(applications, "applications", &mut calls).await?;
        objects.calls = calls;
        Ok(objects)
    }

    /// All pages of one kind; restarts once from the first page when a continue token expires.
    pub async fn list<K>(
        &self,
        api: Api<K>,
        kind: &str,
        calls: &mut u32,
    ) -> Result<Vec<K>, ClusterError>
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
                items.extend(page.items);
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(next) => token = Some(next),
                    None => return Ok(items),
                }
            }
        }
    }
}
