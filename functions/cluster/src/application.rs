//! Argo CD's Application, typed down to the fields a sweep reads. A real Application carries
//! its whole source, sync policy, resource tree and history; deserializing into this type skips
//! all of that without building it, where a `DynamicObject` would build every field as JSON.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// `argoproj.io/v1alpha1` `Application`: its metadata and the parts of its status Berth reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Application {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: ApplicationStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default)]
    pub health: Named,
    #[serde(default)]
    pub sync: SyncStatus,
    #[serde(default)]
    pub operation_state: OperationState,
}

/// An object whose `status` is all Berth reads of it (`health`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SyncStatus {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub sync_result: SyncResult,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SyncResult {
    #[serde(default)]
    pub revision: Option<String>,
}

impl kube::Resource for Application {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Application".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "argoproj.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "applications".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
