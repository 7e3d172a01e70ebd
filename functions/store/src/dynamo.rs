//! The DynamoDB backend: one table, `PK`/`SK` strings, TTL on `expires_at` (DESIGN.md §6), a
//! sparse index `by_kind` (`kind`, `PK`) that lists tenants without scanning their statuses, and
//! a sparse index `by_digest` (`digest_shard`, `PK`, projecting `digest`) that holds status and
//! health items only, so a sweep reads their digests without reading the table's history.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, timeout::TimeoutConfig};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, PutRequest, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    BillingLink, Claim, ClusterHealth, CommitLease, DEFAULT_REQUEST_RETENTION, HEALTH_ITEM,
    IdempotencyRecord, IndexTip, LeaseTaken, Observation, ObservationKey, ObservationsWritten,
    RequestRecord, StatusRecord, Store, StoreError, StoredResponse, TenantEntry, TenantHealth,
    now_epoch,
};

type Item = HashMap<String, AttributeValue>;

const KIND_INDEX: &str = "by_kind";
const TENANT_KIND: &str = "tenant";
/// Requests the status sweep still moves forward; the attribute goes when the request settles.
const OPEN_REQUEST_KIND: &str = "open_request";
/// Requests waiting for a group commit, listed oldest first by their `REQUEST#<ulid>` key.
const PENDING_KIND: &str = "pending_request";
const COMMIT_LEASE_PK: &str = "LEASE#COMMIT";
/// Billing links with a scheduled suspension or deletion.
const SCHEDULED_KIND: &str = "billing_scheduled";
const HEALTH_KIND: &str = "health";
const DIGEST_INDEX: &str = "by_digest";
/// The attribute only observations carry: their partition in [`DIGEST_INDEX`].
const DIGEST_SHARD: &str = "digest_shard";
/// Partitions of [`DIGEST_INDEX`], read side by side: enough that one sweep's writes do not
/// crowd a single index partition, few enough that an unchanged sweep makes few calls.
const DIGEST_SHARDS: u32 = 8;
/// The item whose `generation` every write of observations replaces.
const GENERATION_PK: &str = "OBSERVATIONS";
const GENERATION_SK: &str = "GENERATION";
/// DynamoDB's limit on one BatchWriteItem.
const BATCH_LIMIT: usize = 25;
const BATCH_RETRIES: u32 = 8;
/// BatchWriteItem calls in flight at once (a large sweep, a group commit's outcomes).
const BATCHES_IN_FLIGHT: usize = 4;

/// A DynamoDB client from the environment: region from `AWS_REGION` (or `AWS_DEFAULT_REGION`),
/// credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (what
/// Lambda provides), endpoint from `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`.
pub fn dynamodb_client(endpoint: Option<&str>) -> Client {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(10))
                .build(),
        );
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        config = config.credentials_provider(Credentials::new(
            key,
            secret,
            env("AWS_SESSION_TOKEN"),
            None,
            "environment",
        ));
    }
    if let Some(url) = endpoint
        .map(str::to_owned)
        .or_else(|| env("AWS_ENDPOINT_URL_DYNAMODB"))
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

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("building a DynamoDB call: {e}"))
}

fn unavailable<E: std::error::Error>(e: E) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The single-table store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    request_retention: Duration,
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

    fn item<T: Serialize>(pk: String, sk: &str, record: &T) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(record).map_err(|e| StoreError::Malformed {
            key: pk.clone(),
            reason: e.to_string(),
        })?;
        item.insert("PK".into(), s(pk));
        item.insert("SK".into(), s(sk));
        Ok(item)
    }

    fn record<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
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

    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_item(pk, sk).await?.map(Self::record).transpose()
    }

    /// One item as stored, read consistently.
    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Every item a query matches, page after page.
    async fn query_all<T: DeserializeOwned>(
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

    async fn delete(&self, pk: String, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

impl DynamoStore {
    /// Every item of one kind in the sparse index.
    async fn query_kind<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, StoreError> {
        self.query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(KIND_INDEX)
                .key_condition_expression("kind = :kind")
                .expression_attribute_values(":kind", s(kind)),
        )
        .await
    }

    /// A tenant's index entry, listed by the sparse index.
    fn tenant_item(entry: &TenantEntry) -> Result<Item, StoreError> {
        let mut item = Self::item(format!("TENANT#{}", entry.name), "META", entry)?;
        item.insert("kind".into(), s(TENANT_KIND));
        Ok(item)
    }

    /// A request's item: listed as pending while it waits for a group commit, as open while
    /// the sweep still moves it.
    /// Settled, it carries `expires_at`: the table's TTL deletes it after the retention.
    fn request_item(&self, record: &RequestRecord) -> Result<Item, StoreError> {
        let mut item = Self::item(format!("REQUEST#{}", record.id), "META", record)?;
        if record.is_pending() {
            item.insert("kind".into(), s(PENDING_KIND));
        } else if record.state.is_open() {
            item.insert("kind".into(), s(OPEN_REQUEST_KIND));
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
    fn observation_item(put: &Observation) -> Result<Item, StoreError> {
        let key = put.key();
        let pk = format!("TENANT#{}", key.tenant);
        let mut item = match put {
            Observation::Status(r) => Self::item(pk, &key.item, r)?,
            Observation::Health(h) => {
                let mut item = Self::item(pk, &key.item, h)?;
                item.insert("kind".into(), s(HEALTH_KIND));
                item
            }
        };
        item.insert(
            DIGEST_SHARD.into(),
            s(digest_shard(&key.tenant).to_string()),
        );
        Ok(item)
    }

    /// Opens a write of observations: stores `generation` whatever was stored, and tells
    /// whether what it replaced was `seen` (nobody wrote since the caller read it).
    async fn open_generation(
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
    async fn close_generation(&self, generation: &str, opened: &str) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(generation_item(generation)))
            .condition_expression("generation = :opened")
            .expression_attribute_values(":opened", s(opened))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// One shard's digests, page after page.
    async fn shard_digests(&self, shard: u32) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(DIGEST_INDEX)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", DIGEST_SHARD)
            .expression_attribute_values(":shard", s(shard.to_string()))
            .projection_expression("PK, SK, digest")
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)
    }

    /// `writes` in chunks of [`BATCH_LIMIT`], [`BATCHES_IN_FLIGHT`] of them at once.
    async fn write_chunks(&self, mut writes: Vec<WriteRequest>) -> Result<(), StoreError> {
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
    async fn write_chunk(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
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
enum Pending<'a> {
    Put(&'a Observation),
    Remove(&'a ObservationKey),
}

impl Pending<'_> {
    fn write_request(&self) -> Result<WriteRequest, StoreError> {
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
                    .key("PK", s(format!("TENANT#{}", key.tenant)))
                    .key("SK", s(&key.item))
                    .build()
                    .map_err(build_error)?;
                WriteRequest::builder().delete_request(delete).build()
            }
        })
    }
}

/// Whether a conditional put failed its condition (rather than the call failing).
fn is_condition_failure<R>(e: &aws_sdk_dynamodb::error::SdkError<PutItemError, R>) -> bool {
    matches!(
        e.as_service_error(),
        Some(PutItemError::ConditionalCheckFailedException(_))
    )
}

fn idempotency_pk(source: &str, key: &str) -> String {
    format!("IDEMP#{source}#{key}")
}

#[async_trait]
impl Store for DynamoStore {
    async fn put_request(&self, record: &RequestRecord) -> Result<(), StoreError> {
        self.put(self.request_item(record)?).await
    }

    async fn record_batch(
        &self,
        records: &[RequestRecord],
        tenants: &[TenantEntry],
        removed_tenants: &[String],
    ) -> Result<(), StoreError> {
        let put = |item: Item| -> Result<WriteRequest, StoreError> {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_error)?;
            Ok(WriteRequest::builder().put_request(put).build())
        };
        let mut index = Vec::with_capacity(tenants.len() + removed_tenants.len());
        for entry in tenants {
            index.push(put(Self::tenant_item(entry)?)?);
        }
        for name in removed_tenants {
            let delete = DeleteRequest::builder()
                .key("PK", s(format!("TENANT#{name}")))
                .key("SK", s("META"))
                .build()
                .map_err(build_error)?;
            index.push(WriteRequest::builder().delete_request(delete).build());
        }
        let records = records
            .iter()
            .map(|record| put(self.request_item(record)?))
            .collect::<Result<Vec<_>, _>>()?;
        // The index first, as a lone request writes it: a record read as settled has its
        // tenant indexed. Within each, the chunks go out side by side.
        self.write_chunks(index).await?;
        self.write_chunks(records).await
    }

    async fn put_pending(&self, record: &RequestRecord) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.request_item(record)?))
            .condition_expression(
                "attribute_not_exists(PK) OR #state IN (:accepted, :failed, :scheduled)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":accepted", s("accepted"))
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":scheduled", s("scheduled"))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_pending(&self, limit: usize) -> Result<Vec<RequestRecord>, StoreError> {
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(KIND_INDEX)
            .key_condition_expression("kind = :kind")
            .expression_attribute_values(":kind", s(PENDING_KIND))
            .limit(limit)
            .send()
            .await
            .map_err(unavailable)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(Self::record)
            .collect()
    }

    async fn take_commit_lease(
        &self,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<LeaseTaken>, StoreError> {
        let lease = CommitLease {
            owner: owner.to_owned(),
            lease_until,
            released: false,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(COMMIT_LEASE_PK.into(), "META", &lease)?))
            .condition_expression("attribute_not_exists(PK) OR lease_until < :now")
            .expression_attribute_values(":now", AttributeValue::N(now_epoch().to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match put {
            Ok(out) => {
                let before: Option<CommitLease> = out
                    .attributes
                    .filter(|item| !item.is_empty())
                    .map(Self::record)
                    .transpose()?;
                Ok(Some(LeaseTaken {
                    after_unreleased: before.is_some_and(|b| !b.released),
                }))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_commit_lease(&self, owner: &str, released: bool) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(COMMIT_LEASE_PK))
            .key("SK", s("META"))
            .update_expression("SET lease_until = :zero, released = :released")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":released", AttributeValue::Bool(released))
            .send()
            .await;
        match update {
            // Taken over already: the lease is someone else's to release.
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn commit_lease(&self) -> Result<Option<CommitLease>, StoreError> {
        self.get(COMMIT_LEASE_PK.into(), "META").await
    }

    async fn list_open_requests(&self) -> Result<Vec<RequestRecord>, StoreError> {
        self.query_kind(OPEN_REQUEST_KIND).await
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        // TTL deletes expired items within days, not at once: until then they read as gone.
        let expired = |item: &Item| {
            item.get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .is_some_and(|at| at <= now_epoch())
        };
        self.get_item(format!("REQUEST#{id}"), "META")
            .await?
            .filter(|item| !expired(item))
            .map(Self::record)
            .transpose()
    }

    async fn put_tenant(&self, entry: &TenantEntry) -> Result<(), StoreError> {
        self.put(Self::tenant_item(entry)?).await
    }

    async fn get_tenant(&self, name: &str) -> Result<Option<TenantEntry>, StoreError> {
        self.get(format!("TENANT#{name}"), "META").await
    }

    async fn delete_tenant(&self, name: &str) -> Result<(), StoreError> {
        self.delete(format!("TENANT#{name}"), "META").await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantEntry>, StoreError> {
        self.query_kind(TENANT_KIND).await
    }

    async fn claim_idempotency(&self, record: &IdempotencyRecord) -> Result<Claim, StoreError> {
        let pk = idempotency_pk(&record.source, &record.key);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(pk.clone(), "META", record)?))
            // An expired claim that TTL has not removed yet counts as absent.
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now_epoch().to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) if is_condition_failure(&e) => {
                match self.get::<IdempotencyRecord>(pk, "META").await? {
                    Some(existing) => Ok(Claim::Existing(existing)),
                    // Released between our write and our read: report it as in flight.
                    None => Ok(Claim::Existing(record.clone())),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn complete_idempotency(
        &self,
        source: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let value = serde_dynamo::to_attribute_value(response).map_err(build_error)?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(idempotency_pk(source, key)))
            .key("SK", s("META"))
            .update_expression("SET #response = :response")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":response", value)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn take_over_idempotency(
        &self,
        existing: &IdempotencyRecord,
        lease_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(idempotency_pk(&existing.source, &existing.key)))
            .key("SK", s("META"))
            .update_expression("SET #lease = :lease")
            // A compare-and-swap on the lease the caller saw: one concurrent retry wins. An
            // unanswered claim stores its response as NULL; a claim from before leases existed
            // has no lease attribute (read as 0).
            .condition_expression(
                "attribute_exists(PK) \
                 AND (attribute_not_exists(#response) OR attribute_type(#response, :null)) \
                 AND (#lease = :seen OR (attribute_not_exists(#lease) AND :seen = :zero))",
            )
            .expression_attribute_names("#lease", "lease_expires_at")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":lease", AttributeValue::N(lease_expires_at.to_string()))
            .expression_attribute_values(
                ":seen",
                AttributeValue::N(existing.lease_expires_at.to_string()),
            )
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":null", AttributeValue::S("NULL".into()))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_idempotency(&self, source: &str, key: &str) -> Result<(), StoreError> {
        self.delete(idempotency_pk(source, key), "META").await
    }

    async fn get_billing(&self, customer: &str) -> Result<Option<BillingLink>, StoreError> {
        self.get(format!("CUSTOMER#{customer}"), "META").await
    }

    async fn put_billing_unless_newer(&self, link: &BillingLink) -> Result<bool, StoreError> {
        let mut item = Self::item(format!("CUSTOMER#{}", link.customer), "META", link)?;
        if link.scheduled.is_some() {
            item.insert("kind".into(), s(SCHEDULED_KIND));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR last_event_at <= :at")
            .expression_attribute_values(":at", AttributeValue::N(link.last_event_at.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_scheduled_billing(&self) -> Result<Vec<BillingLink>, StoreError> {
        self.query_kind(SCHEDULED_KIND).await
    }

    async fn write_observations(
        &self,
        puts: &[Observation],
        removes: &[ObservationKey],
        seen: Option<&str>,
    ) -> Result<ObservationsWritten, StoreError> {
        // Marked before the first item changes, so a warm sweeper stops trusting its digests
        // even if this write dies half way; marked again after the last, so one that read the
        // digests while they were changing reads them again.
        let during = ulid::Ulid::new().to_string();
        let followed_seen = self.open_generation(&during, seen).await?;
        // Items are built chunk by chunk as the chunks go out, so a sweep of thousands of
        // changes never holds them all at once.
        let pending: Vec<Pending<'_>> = removes
            .iter()
            .map(Pending::Remove)
            .chain(puts.iter().map(Pending::Put))
            .collect();
        // By index, not by slice: a closure over borrowed slices trips async-trait's lifetimes.
        let sends = (0..pending.len()).step_by(BATCH_LIMIT).map(|start| {
            let end = (start + BATCH_LIMIT).min(pending.len());
            let requests = pending[start..end]
                .iter()
                .map(Pending::write_request)
                .collect::<Result<Vec<_>, _>>();
            async move { self.write_chunk(requests?).await }
        });
        futures::stream::iter(sends)
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<()>()
            .await?;
        let generation = ulid::Ulid::new().to_string();
        let still_ours = self.close_generation(&generation, &during).await?;
        Ok(ObservationsWritten {
            generation,
            sole_writer: followed_seen && still_ours,
        })
    }

    async fn observation_generation(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .get_item(GENERATION_PK.into(), GENERATION_SK)
            .await?
            .and_then(|mut item| item.remove("generation"))
            .and_then(|v| v.as_s().ok().cloned()))
    }

    async fn observation_digests(&self) -> Result<BTreeMap<ObservationKey, String>, StoreError> {
        // The index is eventually consistent: a write finished a moment ago may not show yet.
        // The worst that does is one rewrite of an item that already held the observation.
        let shards =
            futures::stream::iter((0..DIGEST_SHARDS).map(|shard| self.shard_digests(shard)))
                .buffer_unordered(BATCHES_IN_FLIGHT)
                .try_collect::<Vec<_>>()
                .await?;
        let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Ok(shards
            .iter()
            .flatten()
            .filter_map(|item| {
                let tenant = text(item, "PK")?.strip_prefix("TENANT#")?.to_owned();
                let key = ObservationKey {
                    tenant,
                    item: text(item, "SK")?,
                };
                Some((key, text(item, "digest")?))
            })
            .collect())
    }

    async fn list_tenant_health(&self) -> Result<Vec<TenantHealth>, StoreError> {
        self.query_kind(HEALTH_KIND).await
    }

    async fn index_tip(&self) -> Result<Option<IndexTip>, StoreError> {
        self.get("INDEX".into(), "GIT").await
    }

    async fn put_index_tip(&self, tip: &IndexTip) -> Result<(), StoreError> {
        self.put(Self::item("INDEX".into(), "GIT", tip)?).await
    }

    async fn put_cluster_health(&self, health: &ClusterHealth) -> Result<(), StoreError> {
        self.put(Self::item("CLUSTER".into(), HEALTH_ITEM, health)?)
            .await
    }

    async fn get_cluster_health(&self) -> Result<Option<ClusterHealth>, StoreError> {
        self.get("CLUSTER".into(), HEALTH_ITEM).await
    }

    async fn list_statuses(&self, tenant: &str) -> Result<Vec<StatusRecord>, StoreError> {
        self.query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :status)")
                .expression_attribute_values(":pk", s(format!("TENANT#{tenant}")))
                .expression_attribute_values(":status", s("STATUS#")),
        )
        .await
    }
}

/// The item holding the observation generation.
fn generation_item(generation: &str) -> Item {
    HashMap::from([
        ("PK".to_owned(), s(GENERATION_PK)),
        ("SK".to_owned(), s(GENERATION_SK)),
        ("generation".to_owned(), s(generation)),
    ])
}

/// The [`DIGEST_INDEX`] partition of `tenant`'s observations: FNV-1a of its name, stable across
/// processes and releases (the index's layout depends on it).
fn digest_shard(tenant: &str) -> u32 {
    let hash = tenant.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % DIGEST_SHARDS
}
