//! The worker callback API, as RunPod's Python runtime 1.12 speaks it (API-NOTES §3).
//!
//! URLs come from the templates RunPod injects into a worker container:
//! `RUNPOD_WEBHOOK_GET_JOB` (`$ID` → worker id), `RUNPOD_WEBHOOK_POST_OUTPUT` and
//! `RUNPOD_WEBHOOK_POST_STREAM` (`$RUNPOD_POD_ID` → worker id, `$ID` → job id) and
//! `RUNPOD_WEBHOOK_PING`. Every call carries the raw `RUNPOD_AI_API_KEY`, without `Bearer`.

use super::{Error, ErrorKind, decode};
use crate::key::ApiKey;
use crate::types::worker::{JobResultBody, JobsToStop, TakenJob};
use std::time::{Duration, Instant};

/// The runpod-python version whose protocol this mirrors (sent as `runpod_version`).
pub const PROTOCOL_VERSION: &str = "1.12.0";

/// Worker-side configuration, read from the container environment.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub get_job_url: String,
    pub post_output_url: String,
    pub post_stream_url: String,
    pub ping_url: Option<String>,
    pub worker_id: String,
    pub endpoint_id: Option<String>,
    pub api_key: ApiKey,
    /// Heartbeat period (`RUNPOD_PING_INTERVAL`, ms, default 10 000).
    pub ping_interval: Duration,
}

impl WorkerConfig {
    /// Reads the worker environment. `None` when `RUNPOD_WEBHOOK_GET_JOB` is unset, which
    /// RunPod's runtime takes to mean local test mode.
    pub fn from_env() -> Option<Self> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let get_job_url = var("RUNPOD_WEBHOOK_GET_JOB")?;
        Some(Self {
            post_output_url: var("RUNPOD_WEBHOOK_POST_OUTPUT")
                .unwrap_or_else(|| "JOB_DONE_URL".into()),
            post_stream_url: var("RUNPOD_WEBHOOK_POST_STREAM")
                .unwrap_or_else(|| "JOB_STREAM_URL".into()),
            ping_url: var("RUNPOD_WEBHOOK_PING"),
            worker_id: var("RUNPOD_POD_ID")
                .unwrap_or_else(|| format!("local-{}", std::process::id())),
            endpoint_id: var("RUNPOD_ENDPOINT_ID"),
            api_key: ApiKey::new(var("RUNPOD_AI_API_KEY").unwrap_or_default()),
            ping_interval: Duration::from_millis(
                var("RUNPOD_PING_INTERVAL").and_then(|v| v.parse().ok()).unwrap_or(10_000),
            ),
            get_job_url,
        })
    }
}

/// `url` with `pair` added to its query (RunPod's URLs carry `?gpu=…` already; local ones may not).
fn with_query(url: String, pair: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{pair}")
}

/// Client of the worker callback API.
#[derive(Debug, Clone)]
pub struct WorkerClient {
    http: reqwest::Client,
    cfg: WorkerConfig,
}

impl WorkerClient {
    /// A client for `cfg`.
    pub fn new(cfg: WorkerConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("podwarden-worker/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { http, cfg })
    }

    /// The configuration in use.
    pub fn config(&self) -> &WorkerConfig {
        &self.cfg
    }

    fn take_url(&self) -> String {
        self.cfg.get_job_url.replace("$ID", &self.cfg.worker_id)
    }

    fn result_url(template: &str, worker: &str, job: &str) -> String {
        template.replace("$RUNPOD_POD_ID", worker).replace("$ID", job)
    }

    async fn send(
        &self,
        operation: &'static str,
        req: reqwest::RequestBuilder,
        path: String,
    ) -> Result<(u16, bytes::Bytes), Error> {
        let started = Instant::now();
        let fail = |kind, detail: Option<String>, status: Option<u16>| {
            let mut e = Error::new(kind, operation, "HTTP", path.clone());
            e.inner.detail = detail;
            e.inner.status = status;
            e.inner.elapsed = started.elapsed();
            e
        };
        let resp = req
            .header(reqwest::header::AUTHORIZATION, self.cfg.api_key.expose())
            .send()
            .await
            .map_err(|e| fail(ErrorKind::Transport, Some(e.without_url().to_string()), None))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(super::retry::parse_retry_after);
        let body = resp
            .bytes()
            .await
            .map_err(|e| fail(ErrorKind::Transport, Some(e.to_string()), Some(status)))?;
        match status {
            200..=299 => Ok((status, body)),
            429 => {
                let mut e = fail(ErrorKind::RateLimited, None, Some(status));
                e.inner.retry_after = retry_after;
                Err(e)
            }
            401 => Err(fail(ErrorKind::Unauthorized, None, Some(status))),
            404 => Err(fail(ErrorKind::NotFound, None, Some(status))),
            _ => Err(fail(
                if status >= 500 { ErrorKind::Server } else { ErrorKind::BadRequest },
                Some(String::from_utf8_lossy(&body).chars().take(300).collect()),
                Some(status),
            )),
        }
    }

    /// Long-polls `job-take` for one job. 204 and 400 mean "none" (as the Python runtime
    /// treats them); a 429 is returned as [`ErrorKind::RateLimited`] with the server's
    /// `Retry-After` (the runtime waits that long, 5 s without one).
    pub async fn take(&self, job_in_progress: bool) -> Result<Vec<TakenJob>, Error> {
        let url =
            with_query(self.take_url(), &format!("job_in_progress={}", u8::from(job_in_progress)));
        self.take_at(url, "take job").await
    }

    /// Long-polls `job-take-batch` for up to `n` jobs.
    pub async fn take_batch(
        &self,
        n: usize,
        job_in_progress: bool,
    ) -> Result<Vec<TakenJob>, Error> {
        let url = with_query(
            self.take_url().replace("/job-take/", "/job-take-batch/"),
            &format!("batch_size={n}&job_in_progress={}", u8::from(job_in_progress)),
        );
        self.take_at(url, "take job batch").await
    }

    async fn take_at(&self, url: String, operation: &'static str) -> Result<Vec<TakenJob>, Error> {
        let path = path_of(&url);
        let req = self.http.get(&url).timeout(Duration::from_secs(90));
        match self.send(operation, req, path.clone()).await {
            Ok((204, _)) => Ok(Vec::new()),
            Ok((_, body)) if body.is_empty() => Ok(Vec::new()),
            Ok((_, body)) => {
                let v: serde_json::Value = decode(operation, "GET", path.clone(), body.clone())?;
                if v.is_array() {
                    decode(operation, "GET", path, body)
                } else {
                    decode(operation, "GET", path, body).map(|j: TakenJob| vec![j])
                }
            }
            Err(e) if e.status() == Some(400) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Long-polls `job-stop` for jobs this worker must cancel.
    pub async fn jobs_to_stop(&self) -> Result<Vec<String>, Error> {
        let url = self.take_url().replace("/job-take/", "/job-stop/");
        let path = path_of(&url);
        let req = self.http.get(&url).timeout(Duration::from_secs(90));
        match self.send("poll job stops", req, path.clone()).await? {
            (204, _) => Ok(Vec::new()),
            (_, body) if body.is_empty() => Ok(Vec::new()),
            (_, body) => {
                decode::<JobsToStop>("poll job stops", "GET", path, body).map(|s| s.jobs_to_stop)
            }
        }
    }

    /// Posts a final result (`isStream=false`) or the end of a stream (`isStream=true`).
    pub async fn post_result(
        &self,
        job_id: &str,
        body: &JobResultBody,
        is_stream: bool,
    ) -> Result<(), Error> {
        let url = with_query(
            Self::result_url(&self.cfg.post_output_url, &self.cfg.worker_id, job_id),
            &format!("isStream={is_stream}"),
        );
        self.post_json("post job result", url, job_id, body).await
    }

    /// Posts a progress update, visible on `/status` while the job runs.
    pub async fn post_progress(
        &self,
        job_id: &str,
        progress: serde_json::Value,
    ) -> Result<(), Error> {
        let body = JobResultBody {
            status: Some("IN_PROGRESS".into()),
            output: Some(progress),
            ..JobResultBody::default()
        };
        self.post_result(job_id, &body, false).await
    }

    /// Posts one stream chunk.
    pub async fn post_stream_chunk(
        &self,
        job_id: &str,
        output: serde_json::Value,
    ) -> Result<(), Error> {
        let url = with_query(
            Self::result_url(&self.cfg.post_stream_url, &self.cfg.worker_id, job_id),
            "isStream=false",
        );
        let body = JobResultBody { output: Some(output), ..JobResultBody::default() };
        self.post_json("post stream chunk", url, job_id, &body).await
    }

    async fn post_json(
        &self,
        operation: &'static str,
        url: String,
        job_id: &str,
        body: &JobResultBody,
    ) -> Result<(), Error> {
        let path = path_of(&url);
        let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
        // Same wire shape as the Python runtime: JSON text under a form content type.
        let req = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("X-Request-ID", job_id)
            .body(text)
            .timeout(Duration::from_secs(30));
        self.send(operation, req, path).await.map(|_| ())
    }

    /// Heartbeat with the ids of jobs in flight.
    pub async fn ping(&self, in_flight: &[String]) -> Result<(), Error> {
        let Some(tpl) = &self.cfg.ping_url else { return Ok(()) };
        let mut url = match url::Url::parse(&tpl.replace("$RUNPOD_POD_ID", &self.cfg.worker_id)) {
            Ok(u) => u,
            Err(e) => {
                let mut err = Error::new(ErrorKind::BadRequest, "ping", "GET", String::new());
                err.inner.detail = Some(format!("RUNPOD_WEBHOOK_PING is not a URL: {e}"));
                return Err(err);
            }
        };
        {
            let mut q = url.query_pairs_mut();
            if !in_flight.is_empty() {
                q.append_pair("job_id", &in_flight.join(","));
            }
            q.append_pair("runpod_version", PROTOCOL_VERSION);
        }
        let path = url.path().to_owned();
        let req =
            self.http.get(url).timeout(self.cfg.ping_interval.max(Duration::from_secs(1)) * 2);
        self.send("ping", req, path).await.map(|_| ())
    }
}

fn path_of(url: &str) -> String {
    url::Url::parse(url).map(|u| u.path().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WorkerConfig {
        WorkerConfig {
            get_job_url: "http://h/v2/ep/job-take/$ID?gpu=SIM".into(),
            post_output_url: "http://h/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=SIM".into(),
            post_stream_url: "http://h/v2/ep/job-stream/$RUNPOD_POD_ID/$ID?gpu=SIM".into(),
            ping_url: None,
            worker_id: "w1".into(),
            endpoint_id: Some("ep".into()),
            api_key: ApiKey::new("k"),
            ping_interval: Duration::from_secs(10),
        }
    }

    #[test]
    fn url_templates_substitute_like_the_python_runtime() {
        let c = WorkerClient::new(cfg()).expect("client");
        assert_eq!(c.take_url(), "http://h/v2/ep/job-take/w1?gpu=SIM");
        assert_eq!(
            WorkerClient::result_url(&c.cfg.post_output_url, "w1", "job-9"),
            "http://h/v2/ep/job-done/w1/job-9?gpu=SIM"
        );
    }
}

#[cfg(test)]
mod query_tests {
    use super::with_query;

    #[test]
    fn query_pairs_join_runpods_urls_and_bare_ones() {
        assert_eq!(
            with_query("http://h/v2/e/job-take/w?gpu=A".into(), "x=1"),
            "http://h/v2/e/job-take/w?gpu=A&x=1"
        );
        assert_eq!(
            with_query("http://h/v2/e/job-take/w".into(), "x=1"),
            "http://h/v2/e/job-take/w?x=1"
        );
    }
}
