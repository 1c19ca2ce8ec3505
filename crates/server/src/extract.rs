//! Request-body extraction with the API's error shape: a malformed JSON body is `400` with the
//! line and column, a well-formed body of the wrong shape is `422` saying which field, and a
//! body over the route's limit is `413` — all as `{code, message, hint}`.

use crate::routes::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON request body.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is over this route's size limit",
                    Some("large inputs belong in storage; send a reference to them"),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_body", "the request body could not be read", None)
            }
        })?;
        parse(&bytes).map(Body)
    }
}

/// Parses a JSON body, with the error a client can act on.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", format!("the request body does not fit: {e}"), None)
            }
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the request body is not valid JSON: {e}"),
                Some("send a JSON document with Content-Type: application/json"),
            ),
        }
    })
}
