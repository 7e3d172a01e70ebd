//! Argo CD's Application, typed down to the fields a sweep reads. A real Application carries
//! its whole source, sync policy, resource tree and history; deserializing into this type skips
//! all of that without building it, where a `DynamicObject` would build every field as JSON.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// `argoproj.io/v1alpha1` `Application`: its metadata and the parts of its status Berth reads.
/// Every part may be absent or `null` (a new Application has no status yet): one odd object
/// must not fail the page it came in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Application {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: Option<ApplicationStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default)]
    pub health: Option<Named>,
    #[serde(default)]
    pub sync: Option<SyncStatus>,
    #[serde(default)]
    pub operation_state: Option<OperationState>,
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
    pub sync_result: Option<SyncResult>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_null_parts_read_as_nothing() {
        for json in [
            r#"{"metadata": {"name": "a"}}"#,
            r#"{"metadata": {"name": "a"}, "status": null}"#,
            r#"{"metadata": {"name": "a"}, "status": {"health": null, "sync": {"status": null}, "operationState": {"syncResult": null}}}"#,
        ] {
            let app: Application = serde_json::from_str(json).unwrap();
            let status = app.status.unwrap_or_default();
            assert!(status.health.unwrap_or_default().status.is_none(), "{json}");
            assert!(status.sync.unwrap_or_default().status.is_none(), "{json}");
        }
    }
}
