//! The API contract: the OpenAPI document generated from the contract's types is the one kept in
//! the repository (`openapi.json`, for frontends and tools), and the one the server serves
//! without a token. `BERTH_WRITE_OPENAPI=1` rewrites the kept one.

use std::sync::Arc;

use berth_tests::api_server::ApiServer;
use berth_tests::{project_root, seed_repo};
use serde_json::Value;

fn generated() -> String {
    let document = berth_http::openapi::openapi_document();
    serde_json::to_string_pretty(&document).expect("the document serializes") + "\n"
}

#[test]
fn the_kept_openapi_json_is_the_one_the_server_generates() {
    let path = project_root().join("openapi.json");
    let generated = generated();
    if std::env::var("BERTH_WRITE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write openapi.json");
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == generated,
        "openapi.json is stale: run BERTH_WRITE_OPENAPI=1 cargo test -p berth-tests --test contract"
    );
}

#[test]
fn every_route_documents_its_errors_and_every_v1_route_its_security() {
    let document: Value = serde_json::from_str(&generated()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 8, "{:?}", paths.keys());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            if path.starts_with("/v1") {
                assert_eq!(
                    operation["security"][0]["bearer"],
                    Value::Array(vec![]),
                    "{method} {path} names the bearer scheme"
                );
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
            }
            for (status, response) in responses {
                let body = &response["content"]["application/json"]["schema"];
                if status.starts_with('4')
                    || (status.starts_with('5') && path != "/v1/cluster/health")
                {
                    assert_eq!(
                        body["$ref"], "#/components/schemas/ErrorResponse",
                        "{method} {path} {status} answers the error shape"
                    );
                }
            }
        }
    }
}

#[test]
fn every_reference_in_the_document_resolves() {
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let document: Value = serde_json::from_str(&generated()).unwrap();
    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{target} does not exist"
        );
    }
}

#[tokio::test]
async fn the_server_serves_the_document_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let store = Arc::new(berth_store::LocalStore::open(dir.path().join("store.json")).unwrap());
    let api = ApiServer::start(repo.to_str().unwrap(), &dir.path().join("work"), store).await;
    let response = reqwest::get(format!("{}/v1/openapi.json", api.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    let generated: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(served, generated);
}
