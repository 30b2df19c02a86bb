//! The only place that knows HTTP status codes: service errors become JSON errors (API) here.

use crate::ports::StoreError;
use crate::service::ServiceError;
use crate::web::query::BadParam;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An error answered by the JSON API as `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    /// 400: the request could not be read.
    pub fn malformed(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "malformed_request",
            message: message.into(),
            field: None,
        }
    }

    /// 401: no or bad token.
    pub fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "A valid API token is required: send Authorization: Bearer <token>".into(),
            field: None,
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            field: None,
        }
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: message.into(),
            field: None,
        }
    }

    /// 422 for a field that fails validation in the web layer.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            message: format!("{field} {}", message.into()),
            field: Some(field.to_string()),
        }
    }
}

/// A list parameter the API could not read is a 400.
impl From<BadParam> for ApiError {
    fn from(e: BadParam) -> Self {
        ApiError::malformed(e.0)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Rule(r) => {
                let status = if r.is_not_found() {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                ApiError {
                    status,
                    code: r.code(),
                    message: r.to_string(),
                    field: r.field().map(str::to_string),
                }
            }
            ServiceError::NotFound(m) => ApiError::not_found(m),
            ServiceError::Conflict(m) => ApiError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: m,
                field: None,
            },
            ServiceError::BadRequest(m) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: m,
                field: None,
            },
            ServiceError::Refused { code, message } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code,
                message,
                field: None,
            },
            ServiceError::Store(e) => {
                // The one place a storage failure is logged, with its cause.
                crate::service::log_error("storage failure", &e);
                let message = match e {
                    StoreError::Unavailable(_) => "The change could not be saved to disk",
                    _ => "Internal storage error",
                };
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: message.into(),
                    field: None,
                }
            }
            ServiceError::Internal(m) => {
                log::error!("internal failure: {m}");
                let message = "Internal error";
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: message.into(),
                    field: None,
                }
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(f) = &self.field {
            body["error"]["field"] = json!(f);
        }
        let mut resp = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        resp.json(body)
    }
}
