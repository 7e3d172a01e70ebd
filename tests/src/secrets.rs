//! Secrets in moto's Secrets Manager (the server `scripts/test` starts for DynamoDB serves it
//! too), and a reader that counts what the functions read from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use berth_usecases::settings::secrets::{SecretReader, SecretsManagerReader};

/// moto's Secrets Manager.
pub struct MotoSecrets {
    client: aws_sdk_secretsmanager::Client,
    pub endpoint: String,
}

impl Default for MotoSecrets {
    fn default() -> Self {
        Self::new()
    }
}

impl MotoSecrets {
    pub fn new() -> Self {
        let endpoint = crate::dynamodb_endpoint();
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .endpoint_url(&endpoint)
            .build();
        Self {
            client: aws_sdk_secretsmanager::Client::from_conf(config),
            endpoint,
        }
    }

    /// Creates a secret of a name unique to this process; answers its ARN.
    pub async fn create(&self, name: &str, value: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("berth-test-{}-{n}/{name}", std::process::id());
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create a secret on moto's server");
        created.arn.expect("moto answers the ARN")
    }

    /// Rotates `arn` to `value`, as Secrets Manager's rotation puts a new current version.
    pub async fn rotate(&self, arn: &str, value: &str) {
        self.client
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value)
            .send()
            .await
            .expect("put a new value on moto's server");
    }

    /// A reader of moto's Secrets Manager that counts its reads.
    pub fn counting_reader(&self) -> Arc<CountingReader> {
        Arc::new(CountingReader {
            inner: SecretsManagerReader::new(Some(self.endpoint.clone())),
            reads: AtomicUsize::new(0),
        })
    }
}

/// The real reader, counted.
pub struct CountingReader {
    inner: SecretsManagerReader,
    reads: AtomicUsize,
}

impl CountingReader {
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretReader for CountingReader {
    async fn secret_string(&self, id: &str) -> Result<String, String> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.secret_string(id).await
    }
}
