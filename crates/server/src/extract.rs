//! Request-body extraction with the API's error shape: a malformed JSON body is `400` with the
//! line and column, a well-formed body of the wrong shape is `422` saying which field, and a
//! body over the route's limit is `413` — all as `{code, message, hint}`. Before parsing, a
//! body's shape is bounded (`MAX_JSON_VALUES`, `MAX_JSON_DEPTH`), so the parsed document takes
//! at most a few times the bytes sent, whatever they are (`body_budget` counts on it).

use crate::api::ErrorCode;
use crate::routes::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A query string, with the API's error shape (`400 bad_query` naming the parameter).
pub(crate) struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(q).map(Query).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadQuery,
                format!("the query string is wrong: {e}"),
                Some("see docs/openapi.json for this route's parameters"),
            )
        })
    }
}

/// A JSON request body.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "the request body is over this route's size limit",
                    Some("large inputs belong in storage; send a reference to them"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadBody,
                    "the request body could not be read",
                    None,
                )
            }
        })?;
        parse(&bytes).map(Body)
    }
}

/// Values (numbers, strings, members…) in one body: a parsed value takes 32 bytes or more
/// however short its text, so this bounds a document's size in memory (32 MiB of values).
pub(crate) const MAX_JSON_VALUES: usize = 1_000_000;
/// Nesting of arrays and objects.
pub(crate) const MAX_JSON_DEPTH: usize = 64;

/// Checks a body's shape without parsing it: an upper bound on its values (separators and
/// openings outside strings) and its depth.
fn check_shape(bytes: &[u8]) -> Result<(), ApiError> {
    let (mut values, mut depth, mut max_depth) = (1usize, 0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
                values += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' | b':' => values += 1,
            _ => {}
        }
    }
    if max_depth > MAX_JSON_DEPTH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooDeep,
            format!("the JSON body nests {max_depth} levels; at most {MAX_JSON_DEPTH} are allowed"),
            None,
        ));
    }
    if values > MAX_JSON_VALUES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyValues,
            format!(
                "the JSON body has about {values} values; at most {MAX_JSON_VALUES} are allowed"
            ),
            Some("send large data through a network volume (`podwarden cp`) and pass its path"),
        ));
    }
    Ok(())
}

/// Parses a JSON body, with the error a client can act on.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    check_shape(bytes)?;
    // serde lets a struct come as an array of its fields (`[]` for one whose fields all have
    // defaults): the API's bodies are objects, and only a route taking any JSON sees others.
    let any_json = std::any::type_name::<T>() == std::any::type_name::<serde_json::Value>();
    if !any_json && bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidBody,
            "the request body must be a JSON object",
            None,
        ));
    }
    let first = serde_json::from_slice(bytes);
    // JSON Schema's `integer` takes `3.0` (the document says `integer`, so clients and
    // generators may send it); serde does not: such a body is read again with its integral
    // floats as integers. Only bodies refused for their data pay for the second reading.
    let first = match first {
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(mut v) => {
                    if integral_floats_as_integers(&mut v) {
                        serde_json::from_value(v).map_err(|_| e)
                    } else {
                        Err(e)
                    }
                }
                Err(_) => Err(e),
            }
        }
        other => other,
    };
    first.map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidBody,
                format!("the request body does not fit: {e}"),
                None,
            ),
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::MalformedJson,
                format!("the request body is not valid JSON: {e}"),
                Some("send a JSON document with Content-Type: application/json"),
            ),
        }
    })
}

/// Turns every float with no fraction that fits an `i64` into that integer; whether any was.
fn integral_floats_as_integers(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // The largest f64 below 2^63: every float in range converts exactly.
            if f.fract() == 0.0
                && (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&f)
            {
                *v = Value::from(f as i64);
                return true;
            }
            false
        }
        Value::Array(items) => {
            items.iter_mut().fold(false, |any, x| integral_floats_as_integers(x) | any)
        }
        Value::Object(m) => {
            m.values_mut().fold(false, |any, x| integral_floats_as_integers(x) | any)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `3.0` is an integer to JSON Schema, and so to the API; `3.5` is not, and the error is
    /// serde's first one, with its position.
    #[test]
    fn an_integral_float_is_read_as_an_integer() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct B {
            n: i64,
            x: f64,
            list: Vec<u32>,
        }
        let b: B = parse(br#"{"n": 11419.0, "x": 2, "list": [1.0, 2]}"#).ok().expect("read");
        assert_eq!(b, B { n: 11419, x: 2.0, list: vec![1, 2] });
        let Err(e) = parse::<B>(br#"{"n": 3.5, "x": 1, "list": []}"#) else {
            panic!("a fraction is not an integer")
        };
        assert!(e.body().message.contains("line 1 column"), "{}", e.body().message);
        assert!(parse::<B>(br#"{"n": 1e300, "x": 1, "list": []}"#).is_err(), "out of range");
    }

    #[test]
    fn shapes_are_bounded_before_parsing() {
        let many = format!("[{}1]", "1,".repeat(MAX_JSON_VALUES));
        assert!(check_shape(many.as_bytes()).is_err(), "a million numbers");
        let deep = format!("{}{}", "[".repeat(MAX_JSON_DEPTH + 1), "]".repeat(MAX_JSON_DEPTH + 1));
        assert!(check_shape(deep.as_bytes()).is_err());
        // Commas, brackets and escaped quotes inside strings count for nothing.
        let text =
            serde_json::json!({"input": ",".repeat(3 * MAX_JSON_VALUES) + "[{\"\\"}).to_string();
        assert_eq!(check_shape(text.as_bytes()).ok(), Some(()));
        assert!(parse::<serde_json::Value>(text.as_bytes()).is_ok());
    }

    #[test]
    fn a_struct_body_must_be_an_object() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Label {
            #[serde(default)]
            label: String,
        }
        assert!(parse::<Label>(b" []").is_err(), "serde alone would take [] for a struct");
        assert!(parse::<Label>(b"{}").is_ok());
        assert!(parse::<serde_json::Value>(b"[1]").is_ok(), "routes taking any JSON still may");
    }
}
