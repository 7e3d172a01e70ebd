//! Billing events in Stripe's shapes, parsed into what Berth acts on. Parsing is separate from
//! acting so it can be fuzzed on its own; unknown event types parse as [`BillingEventKind::Other`].

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EventError {
    pub field: String,
    pub reason: String,
}

fn missing(field: &str) -> EventError {
    EventError {
        field: field.to_owned(),
        reason: "is required".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    pub id: String,
    /// The event's own time (epoch seconds): events are ordered by it, not by arrival.
    pub created: i64,
    pub customer: String,
    pub kind: BillingEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEventKind {
    SubscriptionCreated {
        status: String,
        price: Option<String>,
        metadata: BTreeMap<String, String>,
    },
    SubscriptionUpdated {
        status: String,
        price: Option<String>,
    },
    SubscriptionDeleted,
    InvoicePaid,
    InvoicePaymentFailed,
    Other(String),
}

/// Parses an event: `{"id", "type", "created", "data": {"object": {...}}}`.
pub fn parse_billing_event(body: &[u8]) -> Result<BillingEvent, EventError> {
    let event: Value = serde_json::from_slice(body).map_err(|e| EventError {
        field: "body".into(),
        reason: format!("not valid JSON: {e}"),
    })?;
    let text = |v: &Value, field: &str| {
        v.as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| missing(field))
    };
    let id = text(&event["id"], "id")?;
    let kind_name = text(&event["type"], "type")?;
    let created = event["created"]
        .as_i64()
        .ok_or_else(|| missing("created"))?;
    let object = &event["data"]["object"];
    if !object.is_object() {
        return Err(missing("data.object"));
    }
    let kind = match kind_name.as_str() {
        "customer.subscription.created" => BillingEventKind::SubscriptionCreated {
            status: text(&object["status"], "data.object.status")?,
            price: price(object),
            metadata: object["metadata"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
        },
        "customer.subscription.updated" => BillingEventKind::SubscriptionUpdated {
            status: text(&object["status"], "data.object.status")?,
            price: price(object),
        },
        "customer.subscription.deleted" => BillingEventKind::SubscriptionDeleted,
        "invoice.paid" | "invoice.payment_succeeded" => BillingEventKind::InvoicePaid,
        "invoice.payment_failed" => BillingEventKind::InvoicePaymentFailed,
        other => BillingEventKind::Other(other.to_owned()),
    };
    let customer = match kind {
        BillingEventKind::Other(_) => object["customer"].as_str().unwrap_or_default().to_owned(),
        _ => text(&object["customer"], "data.object.customer")?,
    };
    Ok(BillingEvent {
        id,
        created,
        customer,
        kind,
    })
}

/// The subscription's first item's price id.
fn price(object: &Value) -> Option<String> {
    object["items"]["data"][0]["price"]["id"]
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<BillingEvent, EventError> {
        parse_billing_event(v.to_string().as_bytes())
    }

    #[test]
    fn reads_a_subscription_created() {
        let e = parse(json!({"id": "evt_1", "type": "customer.subscription.created", "created": 1700000000,
            "data": {"object": {"customer": "cus_1", "status": "active", "items": {"data": [{"price": {"id": "price_standard_monthly"}}]},
            "metadata": {"tenant": "acme", "envs": "dev,prod"}}}}))
        .unwrap();
        assert_eq!(
            (e.id.as_str(), e.created, e.customer.as_str()),
            ("evt_1", 1700000000, "cus_1")
        );
        match e.kind {
            BillingEventKind::SubscriptionCreated {
                status,
                price,
                metadata,
            } => {
                assert_eq!(
                    (status.as_str(), price.as_deref()),
                    ("active", Some("price_standard_monthly"))
                );
                assert_eq!(metadata["tenant"], "acme");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_what_is_missing_and_tolerates_unknown_types() {
        assert_eq!(
            parse(json!({"type": "x", "created": 1, "data": {"object": {}}}))
                .unwrap_err()
                .field,
            "id"
        );
        assert_eq!(
            parse(json!({"id": "e", "type": "invoice.paid", "created": 1, "data": {"object": {}}}))
                .unwrap_err()
                .field,
            "data.object.customer"
        );
        assert_eq!(
            parse(
                json!({"id": "e", "type": "invoice.paid", "created": "1", "data": {"object": {}}})
            )
            .unwrap_err()
            .field,
            "created"
        );
        let other = parse(
            json!({"id": "e", "type": "charge.refunded", "created": 1, "data": {"object": {}}}),
        )
        .unwrap();
        assert_eq!(
            other.kind,
            BillingEventKind::Other("charge.refunded".into())
        );
        assert_eq!(parse_billing_event(b"{").unwrap_err().field, "body");
    }
}
