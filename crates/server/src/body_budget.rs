//! A memory budget for request bodies the server parses.
//!
//! Owns: a semaphore of KiB that requests with large bodies hold while they are handled.
//!
//! Invariant: the memory parsing request bodies can take is bounded whatever clients send at
//! once. A body is held as bytes, parsed into a document of at most `extract::MAX_JSON_VALUES`
//! values, and copied once more to go on (to RunPod, to the database): a request holds
//! `AMPLIFICATION` times its declared size (its route's limit when it declares none) for as
//! long as it is handled;
//! past the budget, requests wait their turn (up to `WAIT`, then `503` with `Retry-After`).
//! Small bodies (most of the API) pass without waiting. Volume files are streamed in bounded
//! parts (`volume_files`) and are not counted here.

use crate::api::ErrorCode;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Bodies under this pass freely.
const SMALL: u64 = 64 * 1024;
/// Memory a request may take per byte of body: the bytes, the document (its strings, and at
/// most 32 MiB of values), and a copy on the way out.
const AMPLIFICATION: u64 = 4;
/// What a body of unknown size is assumed to be (the largest route limit).
const UNKNOWN: u64 = 21 * 1024 * 1024;
/// How long a request waits for room before it is told to retry.
const WAIT: Duration = Duration::from_secs(10);

/// The budget, in KiB.
#[derive(Clone, Debug)]
pub(crate) struct BodyBudget {
    sem: Arc<Semaphore>,
    total_kib: u32,
}

impl BodyBudget {
    /// A budget of `mib` MiB of parsing memory.
    pub(crate) fn new(mib: u32) -> Self {
        let total_kib = mib.saturating_mul(1024).max(1);
        Self { sem: Arc::new(Semaphore::new(total_kib as usize)), total_kib }
    }

    /// KiB a body of `len` bytes holds.
    fn cost(&self, len: u64) -> u32 {
        (len.saturating_mul(AMPLIFICATION) / 1024).min(u64::from(self.total_kib)).max(1) as u32
    }
}

/// Holds a large body's share of the budget while its request is handled.
pub(crate) async fn limit(State(b): State<BodyBudget>, req: Request, next: Next) -> Response {
    let streamed = req.uri().path().contains("/files/");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = req.headers().get(header::TRANSFER_ENCODING).is_some();
    let len = match (declared, chunked) {
        (Some(n), _) => n,
        (None, true) => UNKNOWN,
        (None, false) => 0,
    };
    if streamed || len < SMALL {
        return next.run(req).await;
    }
    let Ok(Ok(_permit)) =
        tokio::time::timeout(WAIT, b.sem.clone().acquire_many_owned(b.cost(len))).await
    else {
        return crate::routes::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Busy,
            "the server is handling as many large requests as its memory allows",
            Some("retry in a few seconds"),
        )
        .retry_after(5)
        .into_response();
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_cost_their_worst_case_and_never_more_than_all() {
        let b = BodyBudget::new(64);
        assert_eq!(b.cost(1024 * 1024), 4 * 1024, "1 MiB holds 4 MiB");
        assert_eq!(
            b.cost(20 * 1024 * 1024),
            64 * 1024,
            "capped at the whole budget: one at a time"
        );
        assert_eq!(b.cost(10), 1);
    }

    #[tokio::test]
    async fn past_the_budget_requests_wait_their_turn() {
        let b = BodyBudget::new(16);
        let first = b.sem.clone().acquire_many_owned(b.cost(3 * 1024 * 1024)).await.expect("room");
        assert!(
            b.sem.clone().try_acquire_many_owned(b.cost(3 * 1024 * 1024)).is_err(),
            "a second 3 MiB body waits"
        );
        drop(first);
        assert!(
            b.sem.clone().try_acquire_many_owned(b.cost(3 * 1024 * 1024)).is_ok(),
            "and gets in when the first is done"
        );
    }
}
