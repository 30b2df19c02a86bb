//! Every answer a test gets through [`super::App`]'s API helpers, and every request body the API
//! accepts, is checked against the OpenAPI document the server itself publishes
//! (`GET /api/v1/openapi.json`): the status must be documented for the route, and the body must
//! match its schema. A response the document does not describe fails the test that got it.

use jsonschema::Validator;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

static DOC: OnceLock<Value> = OnceLock::new();
static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();

/// The document, fetched once per test binary from the first server that asks.
pub async fn document(client: &reqwest::Client, base: &str) -> &'static Value {
    if let Some(d) = DOC.get() {
        return d;
    }
    let r = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .expect("GET /api/v1/openapi.json");
    assert_eq!(r.status(), 200, "the OpenAPI document is not served");
    let doc: Value = r.json().await.expect("the OpenAPI document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let _ = DOC.set(doc);
    DOC.get().unwrap()
}

/// The documented path (`/orders/{n}/payments`) a concrete one (`/orders/1001/payments`) is
/// an instance of: literal segments must be equal; the most literal match wins.
fn template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    doc["paths"]
        .as_object()?
        .keys()
        .filter_map(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            if ts.len() != segs.len() {
                return None;
            }
            let mut literal = 0;
            for (a, b) in ts.iter().zip(&segs) {
                if a.starts_with('{') {
                    continue;
                }
                if a != b {
                    return None;
                }
                literal += 1;
            }
            Some((literal, t.as_str()))
        })
        .max_by_key(|(l, _)| *l)
        .map(|(_, t)| t)
}

fn validator(doc: &Value, key: String, schema: &Value) -> Arc<Validator> {
    let cache = VALIDATORS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    // The schema with the document's components beside it, so `#/components/…` resolves.
    let mut root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema"});
    if let Some(o) = schema.as_object() {
        for (k, v) in o {
            root[k] = v.clone();
        }
    }
    root["components"] = doc["components"].clone();
    let v = Arc::new(
        jsonschema::validator_for(&root)
            .unwrap_or_else(|e| panic!("the schema of {key} does not compile: {e}")),
    );
    cache.lock().unwrap().insert(key, v.clone());
    v
}

fn assert_valid(doc: &Value, key: String, schema: &Value, instance: &Value) {
    let v = validator(doc, key.clone(), schema);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{key} does not match the OpenAPI document:\n  {}\n{}",
        errors.join("\n  "),
        serde_json::to_string_pretty(instance).unwrap_or_default()
    );
}

/// Checks one exchange: `path` is relative to `/api/v1`.
pub fn check(
    doc: &Value,
    method: &str,
    path: &str,
    request: Option<&Value>,
    status: u16,
    body: &Value,
) {
    let method = method.to_ascii_lowercase();
    let Some(t) = template(doc, path) else {
        // Not a documented path: the API's own 404 for unknown endpoints.
        assert_eq!(
            status, 404,
            "{method} {path} is not in the OpenAPI document"
        );
        return;
    };
    let op = &doc["paths"][t][&method];
    if !op.is_object() {
        assert!(
            status >= 400,
            "{method} {t} answered {status} but is not documented"
        );
        return;
    }
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {t} answered {status}, which the OpenAPI document does not list"
    );
    match response["content"]["application/json"]["schema"].as_object() {
        Some(_) => assert_valid(
            doc,
            format!("{} {t} → {status}", method.to_uppercase()),
            &response["content"]["application/json"]["schema"],
            body,
        ),
        None => assert!(
            body.is_null(),
            "{method} {t} → {status} has no documented body but answered {body}"
        ),
    }
    if let (true, Some(req)) = ((200..300).contains(&status), request) {
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        if schema.is_object() {
            assert_valid(
                doc,
                format!("{} {t} request", method.to_uppercase()),
                schema,
                req,
            );
        }
    }
}
