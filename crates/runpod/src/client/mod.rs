//! An async client for RunPod: REST v2, the serverless job API, the worker callback API and the
//! GraphQL subset for the account balance.

mod error;
mod graphql;
mod rest;
mod retry;
mod serverless;
pub mod worker;

pub use error::{Error, ErrorKind};
pub use retry::RetryPolicy;
pub use serverless::ServerlessEndpoint;

use crate::key::ApiKey;
use bytes::Bytes;
use error::{classify, parse_error_body};
use reqwest::Method;
use retry::{Decision, Idempotency};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Production REST base (REST v2 lives under `/v2`).
pub const DEFAULT_REST_URL: &str = "https://api.runpod.io";
/// Production serverless job API base, as RunPod's Python SDK has it.
pub const DEFAULT_ENDPOINT_BASE_URL: &str = "https://api.runpod.ai/v2";

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No key given and `RUNPOD_API_KEY` unset.
    #[error("no RunPod API key: set RUNPOD_API_KEY or pass one to the builder")]
    MissingKey,
    /// A base URL did not parse.
    #[error("{name} is not a valid http(s) URL: {value:?}")]
    BadUrl { name: &'static str, value: String },
    /// The HTTP stack failed to initialise.
    #[error("could not initialise the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// A RunPod client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    key: ApiKey,
    rest_url: Url,
    endpoint_base_url: Url,
    retry: RetryPolicy,
    timeout: Duration,
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    key: Option<ApiKey>,
    rest_url: Option<String>,
    endpoint_base_url: Option<String>,
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
}

impl ClientBuilder {
    /// The API key (required).
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.key = Some(key);
        self
    }
    /// REST base, e.g. `https://api.runpod.io` or an emulator's `http://127.0.0.1:PORT`.
    pub fn rest_url(mut self, url: impl Into<String>) -> Self {
        self.rest_url = Some(url.into());
        self
    }
    /// Serverless job API base including `/v2`, e.g. `https://api.runpod.ai/v2`.
    pub fn endpoint_base_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_base_url = Some(url.into());
        self
    }
    /// Retry settings.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// Per-request timeout (default 30 s; `runsync` adds its wait).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Fills unset values from `RUNPOD_API_KEY`, `RUNPOD_REST_URL` and `RUNPOD_ENDPOINT_BASE_URL`.
    pub fn from_env(mut self) -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        if self.key.is_none() {
            self.key = var("RUNPOD_API_KEY").map(ApiKey::new);
        }
        if self.rest_url.is_none() {
            self.rest_url = var("RUNPOD_REST_URL");
        }
        if self.endpoint_base_url.is_none() {
            self.endpoint_base_url = var("RUNPOD_ENDPOINT_BASE_URL");
        }
        self
    }
    /// Builds the client.
    pub fn build(self) -> Result<Client, ConfigError> {
        let key = self.key.ok_or(ConfigError::MissingKey)?;
        let rest_url =
            parse_base("RUNPOD_REST_URL", self.rest_url.as_deref().unwrap_or(DEFAULT_REST_URL))?;
        let endpoint_base_url = parse_base(
            "RUNPOD_ENDPOINT_BASE_URL",
            self.endpoint_base_url.as_deref().unwrap_or(DEFAULT_ENDPOINT_BASE_URL),
        )?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("podwarden-runpod/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(ConfigError::Http)?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                key,
                rest_url,
                endpoint_base_url,
                retry: self.retry.unwrap_or_default(),
                timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            }),
        })
    }
}

fn parse_base(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    match Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base() => Ok(u),
        _ => Err(ConfigError::BadUrl { name, value: value.to_owned() }),
    }
}

/// How the key is presented.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    Bearer,
}

/// One logical call, possibly sent several times.
pub(crate) struct Call {
    pub operation: &'static str,
    pub method: Method,
    pub url: Url,
    pub body: Option<Bytes>,
    pub idem: Idempotency,
    pub timeout: Option<Duration>,
}

/// A successful response.
pub(crate) struct Reply {
    pub body: Bytes,
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured entirely from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        ClientBuilder::default().from_env().build()
    }

    /// The REST base URL in use.
    pub fn rest_url(&self) -> &Url {
        &self.inner.rest_url
    }

    /// The serverless job API base in use.
    pub fn endpoint_base_url(&self) -> &Url {
        &self.inner.endpoint_base_url
    }

    /// The key in use (redacted when printed).
    pub fn api_key(&self) -> &ApiKey {
        &self.inner.key
    }

    pub(crate) fn rest(&self, segments: &[&str]) -> Url {
        join(&self.inner.rest_url, segments)
    }

    pub(crate) fn serverless_url(&self, segments: &[&str]) -> Url {
        join(&self.inner.endpoint_base_url, segments)
    }

    /// Sends `call` with retries; returns the 2xx reply or a typed error.
    pub(crate) async fn execute(&self, call: Call) -> Result<Reply, Error> {
        self.execute_with(call, Auth::Bearer).await
    }

    async fn execute_with(&self, call: Call, auth: Auth) -> Result<Reply, Error> {
        let started = Instant::now();
        let policy = &self.inner.retry;
        let mut delays = policy.delays();
        let method_str = static_method(&call.method);
        let path = call.url.path().to_owned();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut req = self
                .inner
                .http
                .request(call.method.clone(), call.url.clone())
                .timeout(call.timeout.unwrap_or(self.inner.timeout));
            req = match auth {
                Auth::Bearer => req.bearer_auth(self.inner.key.expose()),
            };
            if let Some(body) = &call.body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = req.send().await;
            let (decision, err) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(retry::parse_retry_after);
                    let body = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            let d = retry::on_transport(false, call.idem);
                            let mut err = Error::new(
                                if call.idem == Idempotency::Create {
                                    ErrorKind::MaybeCreated
                                } else {
                                    ErrorKind::Transport
                                },
                                call.operation,
                                method_str,
                                path.clone(),
                            );
                            err.inner.status = Some(status);
                            err.inner.source = Some(Box::new(e));
                            if let Some(next) = self.next_delay(d, &mut delays, &err) {
                                tracing::debug!(
                                    operation = call.operation,
                                    attempt,
                                    "retrying after body read error"
                                );
                                tokio::time::sleep(next).await;
                                continue;
                            }
                            return Err(finish(err, attempt, started));
                        }
                    };
                    tracing::debug!(operation = call.operation, method = method_str, path = %path, status, attempt, "runpod call");
                    if (200..300).contains(&status) {
                        return Ok(Reply { body });
                    }
                    let msg = parse_error_body(&body);
                    let kind = classify(status, &msg, call.idem == Idempotency::Create);
                    let mut err = Error::new(kind, call.operation, method_str, path.clone());
                    err.inner.status = Some(status);
                    err.inner.detail = msg.detail;
                    err.inner.errors = msg.errors;
                    err.inner.retry_after = retry_after;
                    err.inner.body = Some(body);
                    (retry::on_status(status, call.idem, retry_after), err)
                }
                Err(e) => {
                    let connect = e.is_connect();
                    let kind = if !connect && call.idem == Idempotency::Create {
                        ErrorKind::MaybeCreated
                    } else {
                        ErrorKind::Transport
                    };
                    let mut err = Error::new(kind, call.operation, method_str, path.clone());
                    err.inner.source = Some(Box::new(e.without_url()));
                    (retry::on_transport(connect, call.idem), err)
                }
            };
            match self.next_delay(decision, &mut delays, &err) {
                Some(wait) => {
                    tracing::debug!(operation = call.operation, attempt, wait_ms = wait.as_millis() as u64, kind = ?err.inner.kind, "retrying runpod call");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(finish(err, attempt, started)),
            }
        }
    }

    fn next_delay(
        &self,
        decision: Decision,
        delays: &mut impl Iterator<Item = Duration>,
        _err: &Error,
    ) -> Option<Duration> {
        match decision {
            Decision::GiveUp => None,
            Decision::Retry(hint) => {
                let backoff = delays.next()?;
                match hint {
                    Some(h) if h > self.inner.retry.max_retry_after => None,
                    Some(h) => Some(h),
                    None => Some(backoff),
                }
            }
        }
    }

    /// Sends `call` and decodes a JSON body.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let operation = call.operation;
        let method = static_method(&call.method);
        let path = call.url.path().to_owned();
        let reply = self.execute(call).await?;
        decode(operation, method, path, reply.body)
    }

    /// Opens a streaming GET (SSE) after the usual status handling.
    pub(crate) async fn open_stream(
        &self,
        operation: &'static str,
        url: Url,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, Error> {
        let started = Instant::now();
        let path = url.path().to_owned();
        let mut req = self
            .inner
            .http
            .get(url)
            .bearer_auth(self.inner.key.expose())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => Ok(resp),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.bytes().await.unwrap_or_default();
                let msg = parse_error_body(&body);
                let mut err = Error::new(classify(status, &msg, false), operation, "GET", path);
                err.inner.status = Some(status);
                err.inner.detail = msg.detail;
                err.inner.body = Some(body);
                Err(finish(err, 1, started))
            }
            Err(e) => {
                let mut err = Error::new(ErrorKind::Transport, operation, "GET", path);
                err.inner.source = Some(Box::new(e.without_url()));
                Err(finish(err, 1, started))
            }
        }
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    operation: &'static str,
    method: &'static str,
    path: String,
    body: Bytes,
) -> Result<T, Error> {
    // A 204 where a body was expected decodes as JSON null, which suits `Option<T>`.
    let bytes: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(bytes).map_err(|e| {
        let mut err = Error::new(ErrorKind::Undecodable, operation, method, path);
        err.inner.detail = Some(e.to_string());
        err.inner.body = Some(body.clone());
        err.inner.source = Some(Box::new(e));
        err
    })
}

fn finish(mut err: Error, attempts: u32, started: Instant) -> Error {
    err.inner.attempts = attempts;
    err.inner.elapsed = started.elapsed();
    err
}

pub(crate) fn static_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

/// Appends percent-encoded path segments (GPU ids contain spaces).
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut p) = url.path_segments_mut() {
        p.pop_if_empty();
        for s in segments {
            p.push(s);
        }
    }
    url
}

pub(crate) fn to_body<T: serde::Serialize>(v: &T) -> Option<Bytes> {
    // Serializing our own request types cannot fail: no maps with non-string keys.
    serde_json::to_vec(v).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_encodes_ids_with_spaces() {
        let base = Url::parse("http://127.0.0.1:9/").expect("url");
        assert_eq!(
            join(&base, &["v2", "catalog", "gpus", "NVIDIA GeForce RTX 4090"]).as_str(),
            "http://127.0.0.1:9/v2/catalog/gpus/NVIDIA%20GeForce%20RTX%204090"
        );
        let base = Url::parse("http://h/v2").expect("url");
        assert_eq!(join(&base, &["ep", "run"]).as_str(), "http://h/v2/ep/run");
    }

    #[test]
    fn builder_requires_a_key_and_valid_urls() {
        assert!(matches!(Client::builder().build(), Err(ConfigError::MissingKey)));
        let e = Client::builder().api_key(ApiKey::new("k")).rest_url("not a url").build();
        assert!(matches!(e, Err(ConfigError::BadUrl { name: "RUNPOD_REST_URL", .. })));
        let c = Client::builder()
            .api_key(ApiKey::new("k"))
            .rest_url("http://127.0.0.1:1/")
            .build()
            .expect("builds");
        assert_eq!(c.rest(&["v2", "pods"]).as_str(), "http://127.0.0.1:1/v2/pods");
        assert_eq!(c.endpoint_base_url().as_str(), DEFAULT_ENDPOINT_BASE_URL);
    }

    #[test]
    fn empty_success_bodies_decode_as_none() {
        let v: Option<serde_json::Value> =
            decode("x", "GET", "/".into(), Bytes::new()).expect("null");
        assert!(v.is_none());
        let e = decode::<crate::types::pods::Pod>(
            "get pod",
            "GET",
            "/v2/pods/x".into(),
            Bytes::from_static(b"<html>"),
        )
        .expect_err("html");
        assert_eq!(e.kind(), ErrorKind::Undecodable);
        assert_eq!(e.body(), Some(&b"<html>"[..]));
    }
}
