//! The orders-list query string, read once for the JSON API (`GET /api/v1/orders`) and the
//! Orders page and its CSV export: search, status and test filters, created date range, sort
//! (`-` prefix for descending), limit and cursor, into a [`ListQuery`].

use crate::domain::{FulfillmentStatus, PaymentStatus};
use crate::ports::{ListQuery, SortField};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

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
pub fn list_query(params: &HashMap<String, String>) -> Result<ListQuery, BadParam> {
    let mut q = ListQuery::default();
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
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
