//! A typed client of `/api/v1`: one method per operation, paths built here and nowhere else
//! (ids and names are percent-encoded as path segments), errors carrying the API's code,
//! message and hint.

use crate::types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error body (or a non-JSON error).
    #[error("{message}")]
    /// `code` is `Other` for an answer that was not the server's error body.
    Api { status: u16, code: ErrorCode, message: String, hint: Option<String> },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the podwarden server at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    /// The server answered 2xx with a body this client cannot read (a version mismatch?).
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl Error {
    /// The API's hint for an error answer.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Api { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// Whether the server (or RunPod behind it) failed, rather than the request: a 5xx, or no
    /// answer at all.
    pub fn is_server_side(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status >= 500,
            Self::Transport { .. } | Self::Decode(_) => true,
        }
    }

    /// The API's error code (`not_found`, `spend_cap_reached`, …) for an error answer.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A podwarden server and the bearer token to call it with.
#[derive(Clone)]
pub struct Client {
    base: url::Url,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    // The token never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// Query of `GET /api/v1/gpus`.
#[derive(Debug, Clone, Serialize)]
pub struct GpuQuery {
    pub min_vram_gb: i64,
    pub count: i64,
    /// `secure`, `community` or `any`.
    pub cloud: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price_per_hour: Option<f64>,
    /// `runpod` or `aws`; every provider the server has when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl Client {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8711`) calling with `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, Error> {
        Self::with_http(reqwest::Client::new(), base, token)
    }

    /// The same, on an existing HTTP client (connection pool, timeouts).
    pub fn with_http(http: reqwest::Client, base: &str, token: &str) -> Result<Self, Error> {
        let base = url::Url::parse(base.trim_end_matches('/')).map_err(|e| Error::Api {
            status: 0,
            code: ErrorCode::Other,
            message: format!("{base:?} is not a server URL: {e}"),
            hint: Some("e.g. http://127.0.0.1:8711".into()),
        })?;
        Ok(Self { base, token: token.to_owned(), http })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `{base}/api/v1/{segments…}`, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        if let Ok(mut p) = u.path_segments_mut() {
            p.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        u
    }

    // --- jobs ---

    pub async fn status(&self) -> Result<Status, Error> {
        self.get(&["status"], &()).await
    }

    /// Submits a job spec (its JSON form).
    pub async fn submit_job(&self, spec: &JobSpec) -> Result<JobDetail, Error> {
        self.post(&["jobs"], spec).await
    }

    pub async fn jobs(&self, limit: i64) -> Result<Vec<JobSummary>, Error> {
        self.get(&["jobs"], &[("limit", limit)]).await
    }

    pub async fn job(&self, id: &str) -> Result<JobDetail, Error> {
        self.get(&["jobs", id], &()).await
    }

    pub async fn stop_job(&self, id: &str) -> Result<JobDetail, Error> {
        self.post(&["jobs", id, "stop"], &serde_json::json!({})).await
    }

    /// Where to reach pod `node` of a job over SSH (`not_ready` while it boots).
    pub async fn job_ssh(&self, id: &str, node: u32) -> Result<SshInfo, Error> {
        self.get(&["jobs", id, "ssh"], &[("node", node)]).await
    }

    /// A job's events after `after`, waiting up to `wait_ms` for one (long poll).
    pub async fn job_events(
        &self,
        id: &str,
        after: i64,
        wait_ms: u64,
    ) -> Result<Vec<EventView>, Error> {
        self.events("jobs", id, after, wait_ms).await
    }

    /// A job's metric points, as stored.
    pub async fn job_metrics(&self, id: &str) -> Result<Vec<serde_json::Value>, Error> {
        self.get(&["jobs", id, "metrics"], &()).await
    }

    /// The caller's webhook.
    pub async fn webhook(&self) -> Result<WebhookView, Error> {
        self.get(&["settings", "webhook"], &()).await
    }

    /// Sets the caller's webhook URL; the answer holds the signing secret.
    pub async fn set_webhook(&self, url: &str) -> Result<WebhookView, Error> {
        self.json(
            self.http
                .put(self.url(&["settings", "webhook"]))
                .json(&serde_json::json!({ "url": url })),
        )
        .await
    }

    /// Removes the caller's webhook.
    pub async fn delete_webhook(&self) -> Result<WebhookView, Error> {
        self.json(self.http.delete(self.url(&["settings", "webhook"]))).await
    }

    /// What a pod job would cost (`POST /api/v1/estimate`), without running it.
    pub async fn estimate(&self, spec: &JobSpec) -> Result<EstimateView, Error> {
        self.post(&["estimate"], spec).await
    }

    /// The job's pod logs as a server-sent event stream (read it with an SSE parser): every
    /// attempt's, each after an `attempt` event when there were several.
    pub async fn job_logs(&self, id: &str) -> Result<reqwest::Response, Error> {
        self.job_logs_of(id, None, None).await
    }

    /// One attempt's pod logs (1 is the first pod), or every attempt's.
    pub async fn job_logs_of(
        &self,
        id: &str,
        attempt: Option<u32>,
        node: Option<u32>,
    ) -> Result<reqwest::Response, Error> {
        let mut req = self.http.get(self.url(&["jobs", id, "logs"]));
        if let Some(n) = attempt {
            req = req.query(&[("attempt", n)]);
        }
        if let Some(n) = node {
            req = req.query(&[("node", n)]);
        }
        self.send(req).await
    }

    // --- serverless jobs and endpoints ---

    /// Submits a serverless job; with `sync`, waits for it (RunPod's `/runsync`).
    pub async fn submit_serverless_job(
        &self,
        spec: &ServerlessJobSpec,
        sync: bool,
    ) -> Result<ServerlessJobView, Error> {
        let url = self.url(&["requests"]);
        let req = self.http.post(url).query(&[("sync", sync)]).json(spec);
        self.json(req).await
    }

    pub async fn serverless_jobs(&self, limit: i64) -> Result<Vec<ServerlessJobView>, Error> {
        self.get(&["requests"], &[("limit", limit)]).await
    }

    pub async fn serverless_job(&self, id: &str) -> Result<ServerlessJobView, Error> {
        self.get(&["requests", id], &()).await
    }

    /// Runs a failed or timed-out serverless job again (RunPod's `/retry`); the new job.
    pub async fn retry_serverless_job(&self, id: &str) -> Result<ServerlessJobView, Error> {
        self.post(&["requests", id, "retry"], &serde_json::json!({})).await
    }

    pub async fn stop_serverless_job(&self, id: &str) -> Result<ServerlessJobView, Error> {
        self.post(&["requests", id, "stop"], &serde_json::json!({})).await
    }

    pub async fn serverless_job_events(
        &self,
        id: &str,
        after: i64,
        wait_ms: u64,
    ) -> Result<Vec<EventView>, Error> {
        self.events("requests", id, after, wait_ms).await
    }

    pub async fn deploy_endpoint(&self, spec: &EndpointSpec) -> Result<DeployResult, Error> {
        self.post(&["endpoints"], spec).await
    }

    pub async fn endpoints(&self) -> Result<Vec<EndpointView>, Error> {
        self.get(&["endpoints"], &()).await
    }

    pub async fn remove_endpoint(&self, name: &str) -> Result<EndpointView, Error> {
        self.json(self.http.delete(self.url(&["endpoints", name]))).await
    }

    // --- volumes ---

    pub async fn create_volume(&self, v: &NewVolume) -> Result<VolumeView, Error> {
        self.post(&["volumes"], v).await
    }

    pub async fn volumes(&self) -> Result<Vec<VolumeView>, Error> {
        self.get(&["volumes"], &()).await
    }

    pub async fn remove_volume(&self, name: &str) -> Result<VolumeView, Error> {
        self.json(self.http.delete(self.url(&["volumes", name]))).await
    }

    /// The volume's S3 location (and, for admins, the account's key).
    pub async fn volume_s3(&self, name: &str) -> Result<VolumeS3, Error> {
        self.get(&["volumes", name, "s3"], &()).await
    }

    /// Records a transfer made directly against S3 in the audit log.
    pub async fn report_transfer(&self, volume: &str, t: &TransferReport) -> Result<(), Error> {
        let req = self.http.post(self.url(&["volumes", volume, "transfers"])).json(t);
        self.send(req).await.map(|_| ())
    }

    /// A request on one of a volume's files (`GET` with `Range`, `HEAD`, `PUT`), finished by
    /// `build`; the caller reads or streams the body.
    pub async fn volume_file(
        &self,
        method: reqwest::Method,
        volume: &str,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let mut segments = vec!["volumes", volume, "files"];
        segments.extend(path.split('/'));
        self.send(build(self.http.request(method, self.url(&segments)))).await
    }

    pub async fn audit(&self, all: bool, limit: i64) -> Result<Vec<AuditEntry>, Error> {
        self.get(&["audit"], &[("all", all.to_string()), ("limit", limit.to_string())]).await
    }

    // --- money, GPUs, operators ---

    pub async fn cost(&self) -> Result<CostReport, Error> {
        self.get(&["cost"], &()).await
    }

    /// Checks settled pods against the provider's bill now.
    pub async fn reconcile_cost(&self) -> Result<Reconciliation, Error> {
        self.post(&["cost", "reconcile"], &serde_json::json!({})).await
    }

    pub async fn gpus(&self, q: &GpuQuery) -> Result<Vec<GpuRow>, Error> {
        self.get(&["gpus"], q).await
    }

    pub async fn me(&self) -> Result<UserView, Error> {
        self.get(&["me"], &()).await
    }

    /// Which compute backend the caller is on, and their spend cap and commitments.
    pub async fn compute_settings(&self) -> Result<ComputeSettings, Error> {
        self.get(&["settings", "runpod-key"], &()).await
    }

    /// Issues an invite code (admins).
    pub async fn create_invite(&self, i: &NewInvite) -> Result<NewInviteCode, Error> {
        self.post(&["invites"], i).await
    }

    /// Redeems an invite code: the new user and their first token. Needs no token of its own.
    pub async fn redeem_invite(&self, code: &str, name: &str) -> Result<NewToken, Error> {
        self.post(&["invites", "redeem"], &Redemption { code: code.into(), name: name.into() })
            .await
    }

    /// What the background tasks did last (admins).
    pub async fn tasks(&self) -> Result<Vec<TaskStatus>, Error> {
        self.get(&["admin", "tasks"], &()).await
    }

    /// What this install has learned of each offer (admins).
    pub async fn learned_offers(&self) -> Result<Vec<crate::types::LearnedOffer>, Error> {
        self.get(&["admin", "offers"], &()).await
    }

    /// How fast each image ran on each GPU, as learned from its jobs' metrics (admins).
    pub async fn learned_speeds(&self) -> Result<Vec<crate::types::LearnedSpeed>, Error> {
        self.get(&["admin", "speeds"], &()).await
    }

    /// Pins, bans or clears an offer (admins).
    pub async fn flag_offer(&self, f: &crate::types::OfferFlag) -> Result<(), Error> {
        self.send(self.http.put(self.url(&["admin", "offers"])).json(f)).await.map(|_| ())
    }

    // --- plumbing ---

    async fn events(
        &self,
        kind: &str,
        id: &str,
        after: i64,
        wait_ms: u64,
    ) -> Result<Vec<EventView>, Error> {
        self.get(&[kind, id, "events"], &[("after", after as u64), ("wait_ms", wait_ms)]).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &impl Serialize,
    ) -> Result<T, Error> {
        self.json(self.http.get(self.url(segments)).query(query)).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &impl Serialize,
    ) -> Result<T, Error> {
        self.json(self.http.post(self.url(segments)).json(body)).await
    }

    async fn json<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, Error> {
        let r = self.send(req).await?;
        let bytes = r.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends with the token; an error status becomes `Error::Api`.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let r = req.bearer_auth(&self.token).send().await.map_err(|e| self.transport(e))?;
        let status = r.status();
        if status.is_success() {
            return Ok(r);
        }
        let body = r.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => Error::Api {
                status: status.as_u16(),
                code: e.code,
                message: e.message,
                hint: e.hint,
            },
            Err(_) => Error::Api {
                status: status.as_u16(),
                code: ErrorCode::Other,
                message: format!(
                    "the server answered {status}: {}",
                    body.chars().take(500).collect::<String>()
                ),
                hint: None,
            },
        })
    }

    fn transport(&self, source: reqwest::Error) -> Error {
        Error::Transport { url: self.base().to_owned(), source: source.without_url() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_from_percent_encoded_segments() {
        let c = Client::new("http://127.0.0.1:8711/", "t").expect("client");
        assert_eq!(
            c.url(&["jobs", "job_1", "stop"]).as_str(),
            "http://127.0.0.1:8711/api/v1/jobs/job_1/stop"
        );
        assert_eq!(
            c.url(&["volumes", "my vol", "files", "a?b#c"]).as_str(),
            "http://127.0.0.1:8711/api/v1/volumes/my%20vol/files/a%3Fb%23c",
            "a name cannot escape its segment"
        );
        let behind = Client::new("https://example.com/podwarden", "t").expect("client");
        assert_eq!(behind.url(&["status"]).as_str(), "https://example.com/podwarden/api/v1/status");
    }

    #[test]
    fn a_bad_base_url_is_refused_with_a_hint_and_the_token_never_prints() {
        let e = Client::new("not a url", "t").expect_err("refused");
        assert!(e.hint().is_some_and(|h| h.contains("http://")), "{e:?}");
        let c = Client::new("http://127.0.0.1:1", "secret-token").expect("client");
        assert!(!format!("{c:?}").contains("secret-token"));
    }

    #[test]
    fn server_side_failures_are_told_from_the_callers() {
        let api = |status| Error::Api {
            status,
            code: ErrorCode::NotFound,
            message: "m".into(),
            hint: None,
        };
        assert!(api(502).is_server_side());
        assert!(!api(422).is_server_side());
        assert_eq!(api(404).code(), Some(ErrorCode::NotFound));
    }
}
