//! The serverless job API: `{base}/{endpoint_id}/run|runsync|status|stream|cancel|retry|purge-queue|health`.

use super::retry::Idempotency::{Idempotent, NonIdempotent};
use super::{Call, Client, Error, ErrorKind, to_body};
use crate::ids::{EndpointId, JobId};
use crate::types::serverless::{
    Health, JobState, PurgeQueueResponse, RUN_PAYLOAD_LIMIT, RUNSYNC_PAYLOAD_LIMIT, RunRequest,
    StreamResponse,
};
use reqwest::Method;
use std::time::Duration;

/// The longest `/stream` asks RunPod to hold a call with nothing new.
pub const STREAM_WAIT: Duration = Duration::from_secs(10);

/// Job operations on one endpoint. Get one with [`Client::serverless`].
#[derive(Debug, Clone)]
pub struct ServerlessEndpoint {
    client: Client,
    id: EndpointId,
}

impl Client {
    /// The serverless job API of endpoint `id`.
    pub fn serverless(&self, id: &EndpointId) -> ServerlessEndpoint {
        ServerlessEndpoint { client: self.clone(), id: id.clone() }
    }
}

impl ServerlessEndpoint {
    /// The endpoint id.
    pub fn id(&self) -> &EndpointId {
        &self.id
    }

    fn url(&self, tail: &[&str]) -> url::Url {
        let mut segs = vec![self.id.as_str()];
        segs.extend_from_slice(tail);
        self.client.serverless_url(&segs)
    }

    fn checked_body(
        &self,
        operation: &'static str,
        req: &RunRequest,
        limit: usize,
    ) -> Result<bytes::Bytes, Error> {
        let body = to_body(req).unwrap_or_default();
        if body.len() > limit {
            // Refuse locally: RunPod would reject it, and sending 10+ MB to learn that is waste.
            let mut err = Error::new(
                ErrorKind::PayloadTooLarge,
                operation,
                "POST",
                self.url(&[]).path().to_owned(),
            );
            err.inner.detail = Some(format!(
                "request body is {} bytes; the limit for this operation is {} bytes",
                body.len(),
                limit
            ));
            return Err(err);
        }
        Ok(body)
    }

    /// `POST /run`: queue a job. Never retried after the request may have reached RunPod
    /// (a resend would queue the job twice).
    pub async fn run(&self, req: &RunRequest) -> Result<JobState, Error> {
        let body = self.checked_body("submit job", req, RUN_PAYLOAD_LIMIT)?;
        self.client
            .json(Call {
                operation: "submit job",
                method: Method::POST,
                url: self.url(&["run"]),
                body: Some(body),
                idem: NonIdempotent,
                timeout: None,
            })
            .await
    }

    /// `POST /runsync`: run and wait up to `wait` (RunPod's default 90 s) for the result. A job
    /// still running at the deadline comes back `IN_QUEUE`/`IN_PROGRESS`; poll [`Self::status`].
    pub async fn run_sync(
        &self,
        req: &RunRequest,
        wait: Option<Duration>,
    ) -> Result<JobState, Error> {
        let body = self.checked_body("run job synchronously", req, RUNSYNC_PAYLOAD_LIMIT)?;
        let mut url = self.url(&["runsync"]);
        if let Some(w) = wait {
            url.query_pairs_mut().append_pair("wait", &w.as_millis().to_string());
        }
        let wait = wait.unwrap_or(Duration::from_secs(90));
        self.client
            .json(Call {
                operation: "run job synchronously",
                method: Method::POST,
                url,
                body: Some(body),
                idem: NonIdempotent,
                timeout: Some(wait + Duration::from_secs(30)),
            })
            .await
    }

    /// `GET /status/{job}`: state, timings, and output or the latest progress update.
    pub async fn status(&self, job: &JobId) -> Result<JobState, Error> {
        self.client
            .json(Call {
                operation: "get job status",
                method: Method::GET,
                url: self.url(&["status", job.as_str()]),
                body: None,
                idem: Idempotent,
                timeout: None,
            })
            .await
    }

    /// `GET /stream/{job}?wait=…`: chunks not delivered before, and the state. RunPod may hold
    /// the call until a chunk comes (its Go SDK asks `?wait=90000`); it is asked to hold at most
    /// `STREAM_WAIT`, and the call's own timeout is longer, so a held answer is never cut off
    /// (chunks are handed out once: one lost in a timed-out answer would be gone).
    pub async fn stream(&self, job: &JobId) -> Result<StreamResponse, Error> {
        self.stream_waiting(job, STREAM_WAIT).await
    }

    /// `stream`, held at most `wait` (zero: answer at once).
    pub async fn stream_waiting(
        &self,
        job: &JobId,
        wait: Duration,
    ) -> Result<StreamResponse, Error> {
        let mut url = self.url(&["stream", job.as_str()]);
        url.query_pairs_mut().append_pair("wait", &wait.as_millis().to_string());
        // Not retried on 5xx: the server may have handed chunks over already.
        self.client
            .json(Call {
                operation: "stream job output",
                method: Method::GET,
                url,
                body: None,
                idem: NonIdempotent,
                timeout: Some(wait + Duration::from_secs(30)),
            })
            .await
    }

    /// `POST /cancel/{job}`.
    pub async fn cancel(&self, job: &JobId) -> Result<JobState, Error> {
        self.client
            .json(Call {
                operation: "cancel job",
                method: Method::POST,
                url: self.url(&["cancel", job.as_str()]),
                body: None,
                idem: Idempotent,
                timeout: None,
            })
            .await
    }

    /// `POST /retry/{job}`: requeue a FAILED or TIMED_OUT job with its original input.
    pub async fn retry(&self, job: &JobId) -> Result<JobState, Error> {
        self.client
            .json(Call {
                operation: "retry job",
                method: Method::POST,
                url: self.url(&["retry", job.as_str()]),
                body: None,
                idem: NonIdempotent,
                timeout: None,
            })
            .await
    }

    /// `POST /purge-queue`: drop every queued (not running) job.
    pub async fn purge_queue(&self) -> Result<PurgeQueueResponse, Error> {
        self.client
            .json(Call {
                operation: "purge queue",
                method: Method::POST,
                url: self.url(&["purge-queue"]),
                body: None,
                idem: Idempotent,
                timeout: None,
            })
            .await
    }

    /// `GET /health`: job and worker counts.
    pub async fn health(&self) -> Result<Health, Error> {
        self.client
            .json(Call {
                operation: "endpoint health",
                method: Method::GET,
                url: self.url(&["health"]),
                body: None,
                idem: Idempotent,
                timeout: None,
            })
            .await
    }
}
