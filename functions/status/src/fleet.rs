//! The clusters a sweep reads, side by side: the hub, where Argo CD runs (every Application,
//! and the workloads of tenant-envs that are not placed), and each cluster of the catalog (the
//! workloads placed there). A sweep's wall time follows the slowest cluster, not the sum, and a
//! cluster that does not answer costs only its own tenant-envs their statuses.
//!
//! Clients are built once per process and kept while the catalog's access to a cluster and the
//! token it names stay the same: a changed server, credential or rotated token builds a new one
//! on the next sweep.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_cluster::{ClusterConnector, ClusterError, ClusterObjects, ClusterReader, ClusterSource};
use berth_core::catalog::{Cluster, ClusterAccess};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// Looks an environment variable up: where a catalog cluster's token is read from.
pub type Environment = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What one cluster said, or why it said nothing.
#[derive(Debug, Clone)]
pub struct ClusterRead {
    pub objects: Result<ClusterObjects, String>,
    pub version: Option<String>,
}

/// One sweep's reads of every cluster.
#[derive(Debug, Clone)]
pub struct FleetRead {
    pub hub: ClusterRead,
    /// Each catalog cluster, by name.
    pub members: BTreeMap<String, ClusterRead>,
}

impl FleetRead {
    /// Everything read, as one cluster's worth: the hub's Applications and workloads, then each
    /// member's workloads, moved rather than copied (a fleet is tens of thousands of objects).
    /// `Err` when the hub could not be read: without Argo CD's view no status can be judged.
    pub fn merge(&mut self) -> Result<ClusterObjects, String> {
        let mut objects = match &mut self.hub.objects {
            Ok(hub) => std::mem::take(hub),
            Err(reason) => return Err(reason.clone()),
        };
        for read in self.members.values_mut() {
            if let Ok(member) = &mut read.objects {
                objects.workloads.append(&mut member.workloads);
                objects.ingresses.append(&mut member.ingresses);
                objects.calls += member.calls;
            }
        }
        Ok(objects)
    }

    /// The members that could not be read, with the reason.
    pub fn unreachable(&self) -> BTreeMap<&str, &str> {
        self.members
            .iter()
            .filter_map(|(name, read)| Some((name.as_str(), read.objects.as_ref().err()?.as_str())))
            .collect()
    }
}

/// The hub's connector and each catalog cluster's, kept across sweeps.
pub struct Fleet {
    hub: Option<Arc<ClusterConnector>>,
    members: Mutex<BTreeMap<String, Member>>,
    environment: Environment,
}

struct Member {
    access: ClusterAccess,
    /// The digest of the token `access.token_env` held when the connector was built (never the
    /// token): a rotated token builds a new connector on the next sweep.
    token: Option<[u8; 32]>,
    connector: Result<Arc<ClusterConnector>, String>,
}

impl Fleet {
    pub fn new(hub: Option<Arc<ClusterConnector>>, environment: Environment) -> Self {
        Self {
            hub,
            members: Mutex::new(BTreeMap::new()),
            environment,
        }
    }

    pub fn has_hub(&self) -> bool {
        self.hub.is_some()
    }

    pub fn hub(&self) -> Option<&Arc<ClusterConnector>> {
        self.hub.as_ref()
    }

    /// Reads the hub and every cluster of `clusters` concurrently.
    pub async fn read(&self, clusters: &[Cluster], page_size: u32) -> FleetRead {
        let connectors = self.connectors(clusters).await;
        let hub = async {
            match &self.hub {
                Some(hub) => read_cluster(hub, page_size, Kinds::All).await,
                None => ClusterRead {
                    objects: Err("no cluster is configured (no BERTH_KUBE_SERVER, KUBECONFIG or in-cluster service account)".into()),
                    version: None,
                },
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (name, connector) in connectors {
            tasks.spawn(async move {
                let read = match connector {
                    Ok(connector) => read_cluster(&connector, page_size, Kinds::Workloads).await,
                    Err(reason) => ClusterRead {
                        objects: Err(reason),
                        version: None,
                    },
                };
                (name, read)
            });
        }
        let members = async {
            let mut members = BTreeMap::new();
            while let Some(joined) = tasks.join_next().await {
                // A read never panics on purpose; one that did reads as unreachable below.
                if let Ok((name, read)) = joined {
                    members.insert(name, read);
                }
            }
            members
        };
        let (hub, mut members) = tokio::join!(hub, members);
        for cluster in clusters {
            members
                .entry(cluster.name.to_string())
                .or_insert_with(|| ClusterRead {
                    objects: Err("its read stopped unexpectedly".into()),
                    version: None,
                });
        }
        FleetRead { hub, members }
    }

    /// The digest of the token `access` reads from the environment now, if it reads one.
    fn token_digest(&self, access: &ClusterAccess) -> Option<[u8; 32]> {
        let token = (self.environment)(access.token_env.as_deref()?)?;
        Some(Sha256::digest(token.trim().as_bytes()).into())
    }

    /// A connector per catalog cluster: the kept one while its access and token are unchanged.
    async fn connectors(
        &self,
        clusters: &[Cluster],
    ) -> Vec<(String, Result<Arc<ClusterConnector>, String>)> {
        let mut members = self.members.lock().await;
        members.retain(|name, _| clusters.iter().any(|c| c.name.as_str() == name));
        clusters
            .iter()
            .map(|cluster| {
                let name = cluster.name.to_string();
                let token = self.token_digest(&cluster.access);
                let kept = members
                    .get(&name)
                    .filter(|m| m.access == cluster.access && m.token == token)
                    .map(|m| m.connector.clone());
                let connector = kept.unwrap_or_else(|| {
                    let environment = Arc::clone(&self.environment);
                    let built =
                        ClusterSource::for_catalog_cluster(&cluster.access, |v| environment(v))
                            .map(|source| Arc::new(ClusterConnector::new(source)))
                            .map_err(|e| e.to_string());
                    members.insert(
                        name.clone(),
                        Member {
                            access: cluster.access.clone(),
                            token,
                            connector: built.clone(),
                        },
                    );
                    built
                });
                (name, connector)
            })
            .collect()
    }
}

/// Which kinds a cluster is read for.
#[derive(Clone, Copy)]
enum Kinds {
    /// The hub: Applications too.
    All,
    Workloads,
}

async fn read_cluster(connector: &ClusterConnector, page_size: u32, kinds: Kinds) -> ClusterRead {
    let result: Result<(ClusterObjects, String), ClusterError> = async {
        let client = connector.client().await?;
        let version = client
            .apiserver_version()
            .await
            .map_err(|e| ClusterError::Unreachable(e.to_string()))?;
        let reader = ClusterReader::new(client, page_size);
        let objects = match kinds {
            Kinds::All => reader.read_all().await?,
            Kinds::Workloads => reader.read_workloads().await?,
        };
        Ok((objects, version.git_version))
    }
    .await;
    match result {
        Ok((objects, version)) => ClusterRead {
            objects: Ok(objects),
            version: Some(version),
        },
        Err(e) => {
            tracing::warn!(error = %e, cluster = ?connector.source(), "a cluster could not be read; its statuses are unknown");
            ClusterRead {
                objects: Err(e.to_string()),
                version: None,
            }
        }
    }
}
