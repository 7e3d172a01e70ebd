//! The DynamoDB backend: one table, `PK`/`SK` strings, TTL on `expires_at` (the README's "What the store holds"), a
//! sparse index `by_kind` (`kind`, `PK`) that lists tenants without scanning their statuses, and
//! a sparse index `by_digest` (`digest_shard`, `PK`, projecting `digest`) that holds status and
//! health items only, so a sweep reads their digests without reading the table's history.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, PutRequest, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};
use serde::{Serialize, de::DeserializeOwned};

use crate::aws_env::AwsEnv;
use crate::{
    DEFAULT_REQUEST_RETENTION, Observation, ObservationKey, RequestRecord, StoreError, TenantEntry,
    now_epoch,
};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const KIND_INDEX: &str = "by_kind";
pub(crate) const TENANT_KIND: &str = "tenant";
/// Requests the status sweep still moves forward; the attribute goes when the request settles.
pub(crate) const OPEN_REQUEST_KIND: &str = "open_request";
/// Requests waiting for a group commit, listed oldest first by their `REQUEST#<ulid>` key.
pub(crate) const PENDING_KIND: &str = "pending_request";
pub(crate) const COMMIT_LEASE_PK: &str = "LEASE#COMMIT";
/// Billing links with a scheduled suspension or deletion.
pub(crate) const SCHEDULED_KIND: &str = "billing_scheduled";
pub(crate) const HEALTH_KIND: &str = "health";
pub(crate) const DIGEST_INDEX: &str = "by_digest";
/// The attribute only observations carry: their partition in [`DIGEST_INDEX`].
pub(crate) const DIGEST_SHARD: &str = "digest_shard";
/// Partitions of [`DIGEST_INDEX`], read side by side: enough that one sweep's writes do not
/// crowd a single index partition, few enough that an unchanged sweep makes few calls.
pub(crate) const DIGEST_SHARDS: u32 = 8;
/// The item whose `generation` every write of observations replaces.
pub(crate) const GENERATION_PK: &str = "OBSERVATIONS";
pub(crate) const GENERATION_SK: &str = "GENERATION";
/// DynamoDB's limit on one BatchWriteItem.
pub(crate) const BATCH_LIMIT: usize = 25;
pub(crate) const BATCH_RETRIES: u32 = 8;
/// BatchWriteItem calls in flight at once (a large sweep, a group commit's outcomes).
pub(crate) const BATCHES_IN_FLIGHT: usize = 4;

/// A DynamoDB client from the environment: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`),
/// credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (what
/// Lambda provides), endpoint from `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`.
pub fn dynamodb_client(endpoint: Option<&str>) -> Client {
    let aws = AwsEnv::from_env();
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws.region)
        .timeout_config(aws.timeouts);
    if let Some(credentials) = aws.credentials {
        config = config.credentials_provider(credentials);
    }
    if let Some(url) = endpoint
        .map(str::to_owned)
        .or_else(|| crate::aws_env::env("AWS_ENDPOINT_URL_DYNAMODB"))
    {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

/// Creates the table (and its indexes and TTL) if it does not exist: for tests and local use;
/// production tables come from the SAM template.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    if !create_table_without_ttl(client, table).await? {
        return Ok(());
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expires_at")
        .enabled(true)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// [`create_table`] without turning TTL on, for an emulator that has no TTL (dynalite, which
/// `scripts/bench status` also measures). Returns whether it created the table.
pub async fn create_table_without_ttl(client: &Client, table: &str) -> Result<bool, StoreError> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build_error)
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(KIND_INDEX)
        .key_schema(key("kind", KeyType::Hash)?)
        .key_schema(key("PK", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_error)?;
    let digests = GlobalSecondaryIndex::builder()
        .index_name(DIGEST_INDEX)
        .key_schema(key(DIGEST_SHARD, KeyType::Hash)?)
        .key_schema(key("PK", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes("digest")
                .build(),
        )
        .build()
        .map_err(build_error)?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("PK")?)
        .attribute_definitions(attribute("SK")?)
        .attribute_definitions(attribute("kind")?)
        .attribute_definitions(attribute(DIGEST_SHARD)?)
        .key_schema(key("PK", KeyType::Hash)?)
        .key_schema(key("SK", KeyType::Range)?)
        .global_secondary_indexes(index)
        .global_secondary_indexes(digests)
        .send()
        .await;
    match created {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(unavailable(e)),
    }
}

pub(crate) fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("building a DynamoDB call: {e}"))
}

pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Backend {
        message: DisplayErrorContext(&e).to_string(),
        source: std::sync::Arc::new(e),
    }
}

pub(crate) fn attr_s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The single-table store.
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
    pub(crate) request_retention: Duration,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            request_retention: DEFAULT_REQUEST_RETENTION,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How long a settled request's record is kept before the table's TTL deletes it.
    pub fn with_request_retention(mut self, retention: Duration) -> Self {
        self.request_retention = retention;
        self
    }

    pub(crate) fn item<T: Serialize>(pk: String, sk: &str, record: &T) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(record).map_err(|e| StoreError::Malformed {
            key: pk.clone(),
            reason: e.to_string(),
        })?;
        item.insert("PK".into(), attr_s(pk));
        item.insert("SK".into(), attr_s(sk));
        Ok(item)
    }

    pub(crate) fn record<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
        let key = item
            .get("PK")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed {
            key,
            reason: e.to_string(),
        })
    }

    pub(crate) async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_item(pk, sk).await?.map(Self::record).transpose()
    }

    /// One item as stored, read consistently.
    pub(crate) async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", attr_s(pk))
            .key("SK", attr_s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Every item a query matches, page after page.
    pub(crate) async fn query_all<T: DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
    ) -> Result<Vec<T>, StoreError> {
        let items = query
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)?;
        items.into_iter().map(Self::record).collect()
    }

    pub(crate) async fn delete(&self, pk: String, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", attr_s(pk))
            .key("SK", attr_s(sk))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

impl DynamoStore {
    /// Every item of one kind in the sparse index.
    pub(crate) async fn query_kind<T: DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(KIND_INDEX)
                .key_condition_expression("kind = :kind")
                .expression_attribute_values(":kind", attr_s(kind)),
        )
        .await
    }

    /// A tenant's index entry, listed by the sparse index.
    pub(crate) fn tenant_item(entry: &TenantEntry) -> Result<Item, StoreError> {
        let mut item = Self::item(format!("TENANT#{}", entry.name), "META", entry)?;
        item.insert("kind".into(), attr_s(TENANT_KIND));
        Ok(item)
    }

    /// A request's item: listed as pending while it waits for a group commit, as open while
    /// the sweep still moves it.
    /// Settled, it carries `expires_at`: the table's TTL deletes it after the retention.
    pub(crate) fn request_item(&self, record: &RequestRecord) -> Result<Item, StoreError> {
        let mut item = Self::item(format!("REQUEST#{}", record.id), "META", record)?;
        if record.is_pending() {
            item.insert("kind".into(), attr_s(PENDING_KIND));
        } else if record.state.is_open() {
            item.insert("kind".into(), attr_s(OPEN_REQUEST_KIND));
        } else if record.state.is_settled() {
            let expires_at = now_epoch().saturating_add_unsigned(self.request_retention.as_secs());
            item.insert(
                "expires_at".into(),
                AttributeValue::N(expires_at.to_string()),
            );
        }
        Ok(item)
    }

    /// An observation's item, in [`DIGEST_INDEX`] under its tenant's shard.
    pub(crate) fn observation_item(put: &Observation) -> Result<Item, StoreError> {
        let key = put.key();
        let pk = format!("TENANT#{}", key.tenant);
        let mut item = match put {
            Observation::Status(r) => Self::item(pk, &key.item, r)?,
            Observation::Health(h) => {
                let mut item = Self::item(pk, &key.item, h)?;
                item.insert("kind".into(), attr_s(HEALTH_KIND));
                item
            }
        };
        item.insert(
            DIGEST_SHARD.into(),
            attr_s(digest_shard(&key.tenant).to_string()),
        );
        Ok(item)
    }

    /// Opens a write of observations: stores `generation` whatever was stored, and tells
    /// whether what it replaced was `seen` (nobody wrote since the caller read it).
    pub(crate) async fn open_generation(
        &self,
        generation: &str,
        seen: Option<&str>,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(generation_item(generation)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        let before = out
            .attributes
            .as_ref()
            .and_then(|old| old.get("generation"))
            .and_then(|v| v.as_s().ok());
        Ok(before.map(String::as_str) == seen)
    }

    /// Closes a write of observations: stores `generation` only if the one its opening stored,
    /// `opened`, is still there; `false` when another writer replaced it meanwhile.
    pub(crate) async fn close_generation(
        &self,
        generation: &str,
        opened: &str,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(generation_item(generation)))
            .condition_expression("generation = :opened")
            .expression_attribute_values(":opened", attr_s(opened))
            .send()
            .await;
        written(put)
    }

    /// One shard's digests, page after page.
    pub(crate) async fn shard_digests(&self, shard: u32) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(DIGEST_INDEX)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", DIGEST_SHARD)
            .expression_attribute_values(":shard", attr_s(shard.to_string()))
            .projection_expression("PK, SK, digest")
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)
    }

    /// `writes` in chunks of [`BATCH_LIMIT`], [`BATCHES_IN_FLIGHT`] of them at once.
    pub(crate) async fn write_chunks(
        &self,
        mut writes: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let mut chunks = Vec::with_capacity(writes.len().div_ceil(BATCH_LIMIT));
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(BATCH_LIMIT));
            chunks.push(writes);
            writes = rest;
        }
        futures::stream::iter(chunks.into_iter().map(|chunk| self.write_chunk(chunk)))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<()>()
            .await
    }

    /// One BatchWriteItem of at most 25 requests; items DynamoDB leaves unprocessed are sent
    /// again with exponential backoff, a bounded number of times.
    pub(crate) async fn write_chunk(
        &self,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let mut delay = Duration::from_millis(50);
        for attempt in 0.. {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(unavailable)?;
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                break;
            }
            if attempt >= BATCH_RETRIES {
                return Err(StoreError::Unavailable(format!(
                    "{} writes still unprocessed after {BATCH_RETRIES} retries",
                    requests.len()
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
        Ok(())
    }
}

/// One write of a sweep, built into a request only when its chunk is sent.
pub(crate) enum Pending<'a> {
    Put(&'a Observation),
    Remove(&'a ObservationKey),
}

impl Pending<'_> {
    pub(crate) fn write_request(&self) -> Result<WriteRequest, StoreError> {
        Ok(match self {
            Pending::Put(observation) => {
                let put = PutRequest::builder()
                    .set_item(Some(DynamoStore::observation_item(observation)?))
                    .build()
                    .map_err(build_error)?;
                WriteRequest::builder().put_request(put).build()
            }
            Pending::Remove(key) => {
                let delete = DeleteRequest::builder()
                    .key("PK", attr_s(format!("TENANT#{}", key.tenant)))
                    .key("SK", attr_s(&key.item))
                    .build()
                    .map_err(build_error)?;
                WriteRequest::builder().delete_request(delete).build()
            }
        })
    }
}

/// Whether `e` is a conditional write's condition failing (a state someone else wrote first),
/// whichever write it was.
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata, R>(
    e: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// A conditional write's outcome: `true` when written, `false` when its condition failed, an
/// error for anything else.
pub(crate) fn written<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

pub(crate) fn idempotency_pk(source: &str, key: &str) -> String {
    format!("IDEMP#{source}#{key}")
}

/// The item holding the observation generation.
pub(crate) fn generation_item(generation: &str) -> Item {
    HashMap::from([
        ("PK".to_owned(), attr_s(GENERATION_PK)),
        ("SK".to_owned(), attr_s(GENERATION_SK)),
        ("generation".to_owned(), attr_s(generation)),
    ])
}

/// The [`DIGEST_INDEX`] partition of `tenant`'s observations: FNV-1a of its name, stable across
/// processes and releases (the index's layout depends on it).
pub(crate) fn digest_shard(tenant: &str) -> u32 {
    let hash = tenant.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % DIGEST_SHARDS
}
