//! The orders-list query string, read once for the JSON API (`GET /api/v1/orders`) and the
//! Orders page and its CSV export: search, status and test filters, created date range, sort
//! (`-` prefix for descending), tags (repeatable), limit and cursor, into a [`ListQuery`].

use crate::domain::{tag_of, FulfillmentStatus, PaymentStatus};
use crate::ports::{ListQuery, SortField};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

/// Most `tag` parameters one list takes.
pub const MAX_TAG_FILTERS: usize = 10;

/// A query string's parameters in their order; a parameter may repeat (`tag`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The first non-blank value of `k`, trimmed.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// Every non-blank value of `k`, trimmed.
    pub fn all<'a>(&'a self, k: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A list parameter that could not be read; the message names the parameter and what it takes.
#[derive(Debug)]
pub struct BadParam(pub String);

impl BadParam {
    fn new(message: impl Into<String>) -> Self {
        BadParam(message.into())
    }
}

/// Reads the list parameters shared by the API and the orders page. Empty and blank values
/// count as absent.
pub fn list_query(params: &Params) -> Result<ListQuery, BadParam> {
    let mut q = ListQuery::default();
    let get = |k: &str| params.get(k);
    if let Some(v) = get("q") {
        if v.chars().count() > 200 {
            return Err(BadParam::new("q must be at most 200 characters"));
        }
        q.q = v.to_string();
    }
    if let Some(v) = get("payment_status") {
        q.payment = Some(PaymentStatus::parse(v).ok_or_else(|| {
            BadParam(format!(
                "payment_status {v:?} is not one of {}",
                names(PaymentStatus::ALL.iter().map(|s| s.as_str()))
            ))
        })?);
    }
    if let Some(v) = get("fulfillment_status") {
        q.fulfillment = Some(FulfillmentStatus::parse(v).ok_or_else(|| {
            BadParam(format!(
                "fulfillment_status {v:?} is not one of {}",
                names(FulfillmentStatus::ALL.iter().map(|s| s.as_str()))
            ))
        })?);
    }
    if let Some(v) = get("test") {
        q.test = Some(match v {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(BadParam::new("test must be true or false")),
        });
    }
    if let Some(v) = get("created_from") {
        q.created_from = Some(parse_time("created_from", v, false)?);
    }
    if let Some(v) = get("created_to") {
        q.created_before = Some(parse_time("created_to", v, true)?);
    }
    for v in params.all("tag") {
        let t = tag_of("tag", v).map_err(|e| BadParam(e.to_string()))?;
        if !q.tags.contains(&t) {
            q.tags.push(t);
        }
    }
    if q.tags.len() > MAX_TAG_FILTERS {
        return Err(BadParam(format!(
            "at most {MAX_TAG_FILTERS} tag filters at once"
        )));
    }
    if let Some(v) = get("sort") {
        let (desc, name) = match v.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, v),
        };
        q.sort = SortField::parse(name).ok_or_else(|| {
            BadParam(format!(
                "sort {v:?} is not one of {} (prefix - for descending)",
                names(SortField::ALL.iter().map(|s| s.as_str()))
            ))
        })?;
        q.desc = desc;
    }
    if let Some(v) = get("limit") {
        q.limit = v
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=200).contains(l))
            .ok_or_else(|| BadParam::new("limit must be a whole number from 1 to 200"))?;
    }
    if let Some(v) = get("cursor") {
        q.cursor = Some(v.to_string());
    }
    Ok(q)
}

/// The list parameters a JSON list query may name (a saved view's `query`, a bulk action's
/// `filter`).
pub const JSON_QUERY_KEYS: &[&str] = &[
    "q",
    "payment_status",
    "fulfillment_status",
    "test",
    "created_from",
    "created_to",
    "tag",
    "sort",
];

/// A JSON list query (`{"payment_status":"paid","tag":["a","b"],"test":false}`) as query
/// parameters: strings as they are, booleans and numbers as text, `tag` a string or a list of
/// them. Unknown names and other shapes are refused, naming the parameter under `field`.
pub fn params_from_json(field: &str, v: &serde_json::Value) -> Result<Params, BadParam> {
    use serde_json::Value;
    let obj = v
        .as_object()
        .ok_or_else(|| BadParam(format!("{field} must be an object")))?;
    let mut out = Vec::new();
    for (k, v) in obj {
        if !JSON_QUERY_KEYS.contains(&k.as_str()) {
            return Err(BadParam(format!(
                "{field}.{k} is not a list parameter (one of {})",
                JSON_QUERY_KEYS.join(", ")
            )));
        }
        let mut push = |v: &Value| -> Result<(), BadParam> {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Null => return Ok(()),
                _ => return Err(BadParam(format!("{field}.{k} must be a string"))),
            };
            out.push((k.clone(), text));
            Ok(())
        };
        match v {
            Value::Array(list) if k == "tag" => list.iter().try_for_each(&mut push)?,
            other => push(other)?,
        }
    }
    Ok(Params(out))
}

/// Parameters from a query string (`tag=a&q=b`); one that does not read counts as none.
pub fn params_of(query_string: &str) -> Params {
    actix_web::web::Query::<Params>::from_query(query_string)
        .map(actix_web::web::Query::into_inner)
        .unwrap_or_default()
}

/// What a saved view keeps of `params`: its list parameters, trimmed, blank ones left out,
/// once the list has read them (a query it would refuse is refused here).
pub fn view_query(params: Params) -> Result<Vec<(String, String)>, BadParam> {
    list_query(&params)?;
    Ok(params
        .0
        .into_iter()
        .filter(|(k, v)| JSON_QUERY_KEYS.contains(&k.as_str()) && !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_string()))
        .collect())
}

/// A saved view's parameters refined by a request's (`GET /orders?view=…&q=…`): the
/// request's own value wins for a parameter both give, and tags add up (all must match).
/// `view` itself is dropped.
pub fn refine(view: &[(String, String)], request: &Params) -> Params {
    let mut out: Vec<(String, String)> = request
        .0
        .iter()
        .filter(|(k, _)| k != "view")
        .cloned()
        .collect();
    for (k, v) in view {
        if k == "tag" || request.get(k).is_none() {
            out.push((k.clone(), v.clone()));
        }
    }
    Params(out)
}

/// A saved view's parameters as the JSON query the API shows: `test` a boolean, `tag` a
/// string (or a list when there are several), the others strings.
pub fn params_to_json(pairs: &[(String, String)]) -> serde_json::Value {
    use serde_json::Value;
    let mut obj = serde_json::Map::new();
    let tags: Vec<Value> = pairs
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| Value::String(v.clone()))
        .collect();
    for (k, v) in pairs.iter().filter(|(k, _)| k != "tag") {
        let value = match (k.as_str(), v.as_str()) {
            ("test", "true" | "1") => Value::Bool(true),
            ("test", "false" | "0") => Value::Bool(false),
            _ => Value::String(v.clone()),
        };
        obj.insert(k.clone(), value);
    }
    match tags.len() {
        0 => {}
        1 => {
            obj.insert("tag".into(), tags[0].clone());
        }
        _ => {
            obj.insert("tag".into(), Value::Array(tags));
        }
    }
    Value::Object(obj)
}

/// A date (`YYYY-MM-DD`, midnight UTC; with `end_of_day` the next midnight) or an RFC 3339 time.
fn parse_time(field: &str, v: &str, end_of_day: bool) -> Result<DateTime<Utc>, BadParam> {
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            BadParam(format!(
                "{field} must be a date (YYYY-MM-DD) or an RFC 3339 time"
            ))
        })
}

/// The accepted names of a parameter, comma-separated, for error messages.
pub fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}
