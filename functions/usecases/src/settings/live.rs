//! What a function builds from its environment (its router, its sweeper), built again when its
//! runtime secrets change, so a rotation reaches every client the function holds.

use std::sync::Arc;

use super::ConfigError;
use super::secrets::{
    RuntimeSecrets, SecretReadError, SecretReader, SecretRefs, SecretSnapshot, SecretsManagerReader,
};
use crate::time::Clock;

/// A function's environment: the process's in production, a map in tests.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Builds a `T` from an environment in which the secrets read at run time are set.
pub type Build<T> =
    Box<dyn Fn(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError> + Send + Sync>;

/// Why nothing could be built to serve with. Never carries a secret's value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Secrets(#[from] SecretReadError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A `T` built from the environment and the current secrets.
pub struct Live<T> {
    env: Env,
    secrets: Option<RuntimeSecrets>,
    build: Build<T>,
    /// What was built, and for which generation of the secrets (0: none read at run time).
    built: tokio::sync::Mutex<Option<(u64, Arc<T>)>>,
}

impl<T> Live<T> {
    /// With no `<VAR>_ARN` in `env`, builds now, so a bad environment refuses to start as it
    /// always has; otherwise builds on first use, once the secrets are read (`reader` is made
    /// only then).
    pub fn from_env(
        env: Env,
        clock: Clock,
        reader: impl FnOnce() -> Arc<dyn SecretReader>,
        build: Build<T>,
    ) -> Result<Self, ConfigError> {
        let refs = SecretRefs::from_env(|name| env(name))?;
        if refs.is_empty() {
            let built = build(&|name| env(name))?;
            return Ok(Self {
                env,
                secrets: None,
                build,
                built: tokio::sync::Mutex::new(Some((0, Arc::new(built)))),
            });
        }
        Ok(Self {
            env,
            secrets: Some(RuntimeSecrets::new(refs, reader(), clock)),
            build,
            built: tokio::sync::Mutex::new(None),
        })
    }

    /// [`Live::from_env`] as a function binary runs it: the process environment, the system
    /// clock, and AWS Secrets Manager as its environment names it.
    pub fn from_process_env(build: Build<T>) -> Result<Self, ConfigError> {
        Self::from_env(
            Arc::new(|name| std::env::var(name).ok()),
            Clock::System,
            || Arc::new(SecretsManagerReader::from_env()),
            build,
        )
    }

    /// Whether secrets are read at run time (and so may be read early).
    pub fn reads_secrets(&self) -> bool {
        self.secrets.is_some()
    }

    /// What serves now: rebuilt when the secrets changed since it was built.
    pub async fn current(&self) -> Result<Arc<T>, LiveError> {
        let Some(secrets) = &self.secrets else {
            return self
                .kept()
                .await
                .ok_or(LiveError::Config(ConfigError::Missing(
                    "a built function (this is a bug)",
                )));
        };
        let snapshot = secrets.current().await?;
        Ok(self.built_for(&snapshot).await?)
    }

    /// Reads the secrets early (at most once a minute) and answers what is built from them when
    /// they changed; `None` when they did not, or could not be read.
    pub async fn read_early(&self) -> Option<Arc<T>> {
        let snapshot = self.secrets.as_ref()?.read_early().await?;
        match self.built_for(&snapshot).await {
            Ok(built) => Some(built),
            Err(e) => {
                tracing::error!(error = %e, "the secrets read early do not configure the function");
                None
            }
        }
    }

    async fn kept(&self) -> Option<Arc<T>> {
        self.built.lock().await.as_ref().map(|(_, t)| Arc::clone(t))
    }

    async fn built_for(&self, snapshot: &SecretSnapshot) -> Result<Arc<T>, ConfigError> {
        let mut built = self.built.lock().await;
        if let Some((generation, t)) = built.as_ref()
            && *generation == snapshot.generation
        {
            return Ok(Arc::clone(t));
        }
        let env = |name: &str| {
            snapshot
                .values
                .get(name)
                .map(str::to_owned)
                .or_else(|| (self.env)(name))
        };
        let t = Arc::new((self.build)(&env)?);
        if snapshot.generation > 1 {
            tracing::info!(generation = snapshot.generation, "secrets rotated: rebuilt");
        }
        *built = Some((snapshot.generation, Arc::clone(&t)));
        Ok(t)
    }
}
