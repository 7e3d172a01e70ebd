//! The Argo CD objects Berth's setup installs (`infra/argocd`): its ApplicationSets and its
//! AppProject, listed by name on the hub so `berth doctor` can say which are missing.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use crate::list::ClusterError;

/// The names of the ApplicationSets and AppProjects on the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArgoObjects {
    pub application_sets: Vec<String>,
    pub projects: Vec<String>,
}

/// Lists the ApplicationSets and AppProjects (names only; a setup has a handful).
pub async fn list_argocd_objects(client: Client) -> Result<ArgoObjects, ClusterError> {
    let (application_sets, projects) = tokio::try_join!(
        names(client.clone(), "ApplicationSet", "applicationsets"),
        names(client, "AppProject", "appprojects"),
    )?;
    Ok(ArgoObjects {
        application_sets,
        projects,
    })
}

async fn names(client: Client, kind: &str, plural: &str) -> Result<Vec<String>, ClusterError> {
    let resource = ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let list = api
        .list(&ListParams::default().limit(500))
        .await
        .map_err(|e| ClusterError::Unreachable(format!("listing {plural}: {e}")))?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    names.sort();
    Ok(names)
}
