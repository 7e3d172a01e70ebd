//! Reads upstream Helm charts for validation: a Helm repository's `index.yaml` and archives,
//! or an OCI registry's tags, manifests and chart layers; unpacks archives within Helm's
//! guards; keeps what it read ([`ChartLibrary`]) by digest and for an index TTL.
//!
//! Read it as: [`library`] (what a request path calls), then [`helm_repo`] and [`oci`] (the
//! two kinds of repository), [`archive`] (the `.tgz`), [`disk`], [`credentials`], [`http`].

pub mod archive;
pub mod credentials;
pub mod disk;
pub mod error;
pub mod helm_repo;
pub mod http;
pub mod library;
pub mod oci;

pub use credentials::{Credentials, CredentialsError};
pub use error::ChartError;
pub use library::{ChartLibrary, ChartSettings, DEFAULT_INDEX_TTL, ReadKind, sha256_of};
