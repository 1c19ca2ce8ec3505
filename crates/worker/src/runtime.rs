//! The production loop (API-NOTES §3.3–3.4): take jobs while a slot is free, run each as a
//! task, post its result; a stop poller cancels jobs the server lists in `jobsToStop` (a
//! cancelled job posts nothing); a heartbeat pings with the ids in flight; SIGTERM/SIGINT stop
//! the taking, the jobs in flight drain, and the process exits 0.

use crate::{Reply, Worker, shape};
use futures::StreamExt;
use runpod::ErrorKind;
use runpod::client::worker::{WorkerClient, WorkerConfig};
use runpod::types::worker::{JobResultBody, TakenJob};
use serde_json::Value;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// One job, as the handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    /// RunPod's job id.
    pub id: String,
    /// The request's `input`.
    pub input: Value,
    /// The job object as taken (every key RunPod sent).
    pub raw: TakenJob,
    pub(crate) client: Option<WorkerClient>,
    pub(crate) cancel: CancellationToken,
}

impl Job {
    /// Reports progress, shown on `/status` while the job runs. Best effort: a failed post is
    /// logged, not returned (progress must never fail a job).
    pub async fn progress(&self, progress: Value) {
        match &self.client {
            Some(c) => {
                if let Err(e) = c.post_progress(&self.id, progress).await {
                    tracing::warn!(job = self.id, error = %e, "progress update not delivered");
                }
            }
            None => eprintln!("progress: {progress}"),
        }
    }

    /// Resolves when the server cancelled this job (for handlers that want to clean up; the
    /// runtime drops a cancelled handler's future anyway).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }
}

/// Jobs in flight and their cancel switches.
#[derive(Default)]
struct InFlight(Mutex<HashMap<String, CancellationToken>>);

impl InFlight {
    fn ids(&self) -> Vec<String> {
        self.0.lock().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
    fn insert(&self, id: &str, t: CancellationToken) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_owned(), t);
        }
    }
    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }
    fn cancel(&self, id: &str) -> bool {
        self.0.lock().ok().and_then(|m| m.get(id).cloned()).map(|t| t.cancel()).is_some()
    }
}

pub async fn production(w: Worker, cfg: WorkerConfig) -> ExitCode {
    let client = match WorkerClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot build the HTTP client: {e}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    let in_flight = Arc::new(InFlight::default());
    let mut tasks = tokio::task::JoinSet::new();

    tasks.spawn(drain_on_signal(shutdown.clone()));
    tasks.spawn(heartbeat(client.clone(), shutdown.clone(), in_flight.clone()));
    tasks.spawn(stop_channel(client.clone(), shutdown.clone(), in_flight.clone()));

    let slots = Arc::new(Semaphore::new(w.concurrency));
    let mut jobs = tokio::task::JoinSet::new();
    let stop_after_job = CancellationToken::new();
    while !shutdown.is_cancelled() && !stop_after_job.is_cancelled() {
        // Take only with a free slot; with several free, take a batch.
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = shutdown.cancelled() => break,
            () = stop_after_job.cancelled() => break,
        };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let busy = !in_flight.ids().is_empty();
        // A take is never abandoned half-way: a job the server handed out must run.
        let taken = if permits.len() > 1 {
            client.take_batch(permits.len(), busy).await
        } else {
            client.take(busy).await
        };
        let taken = match taken {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::RateLimited => {
                let wait = backoff_after_429(&e);
                tracing::warn!("job-take rate limited (429); waiting {} s", wait.as_secs_f64());
                tokio::select! { () = tokio::time::sleep(wait) => {}, () = shutdown.cancelled() => {} }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "job-take failed; retrying in 1 s");
                tokio::select! { () = tokio::time::sleep(Duration::from_secs(1)) => {}, () = shutdown.cancelled() => {} }
                continue;
            }
        };
        for job in taken {
            let Some(permit) = permits.pop() else {
                tracing::warn!(
                    job = job.id,
                    "the server sent more jobs than asked; running it anyway"
                );
                jobs.spawn(run_job(
                    w.clone(),
                    client.clone(),
                    in_flight.clone(),
                    job,
                    stop_after_job.clone(),
                ));
                continue;
            };
            let (w, c, f, s) =
                (w.clone(), client.clone(), in_flight.clone(), stop_after_job.clone());
            jobs.spawn(async move {
                run_job(w, c, f, job, s).await;
                drop(permit);
            });
        }
        // Reap finished jobs as we go.
        while jobs.try_join_next().is_some() {}
    }
    // Drain: jobs in flight finish and post their results.
    while jobs.join_next().await.is_some() {}
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    ExitCode::SUCCESS
}

/// SIGTERM / SIGINT: stop taking, drain.
async fn drain_on_signal(s: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {}
        () = s.cancelled() => return,
    }
    tracing::info!("signal: draining jobs in flight, then exiting");
    s.cancel();
}

/// The heartbeat, with the ids in flight.
async fn heartbeat(c: WorkerClient, s: CancellationToken, f: Arc<InFlight>) {
    let every = c.config().ping_interval.max(Duration::from_millis(100));
    loop {
        if let Err(e) = c.ping(&f.ids()).await {
            tracing::debug!(error = %e, "ping failed");
        }
        tokio::select! { () = tokio::time::sleep(every) => {}, () = s.cancelled() => return }
    }
}

/// The stop channel: cancels the jobs the server lists.
async fn stop_channel(c: WorkerClient, s: CancellationToken, f: Arc<InFlight>) {
    loop {
        let pause = tokio::select! {
            r = c.jobs_to_stop() => match r {
                Ok(ids) if !ids.is_empty() => {
                    for id in ids {
                        if f.cancel(&id) {
                            tracing::info!(job = id, "cancelled by the server");
                        }
                    }
                    Duration::ZERO
                }
                Ok(_) => Duration::from_secs(1),
                Err(e) if e.kind() == ErrorKind::RateLimited => backoff_after_429(&e),
                Err(e) => {
                    tracing::debug!(error = %e, "job-stop poll failed");
                    Duration::from_secs(1)
                }
            },
            () = s.cancelled() => return,
        };
        tokio::select! { () = tokio::time::sleep(pause) => {}, () = s.cancelled() => return }
    }
}

/// How long to wait after a 429: what the server asked (`Retry-After`, at most a minute), else 5 s.
fn backoff_after_429(e: &runpod::Error) -> Duration {
    e.retry_after().map_or(Duration::from_secs(5), |d| d.min(Duration::from_secs(60)))
}

/// Runs one job and posts its result (nothing when it was cancelled).
async fn run_job(
    w: Worker,
    client: WorkerClient,
    in_flight: Arc<InFlight>,
    raw: TakenJob,
    stop_after: CancellationToken,
) {
    let cancel = CancellationToken::new();
    let id = raw.id.clone();
    in_flight.insert(&id, cancel.clone());
    let job = Job {
        id: id.clone(),
        input: raw.input.clone(),
        raw,
        client: Some(client.clone()),
        cancel: cancel.clone(),
    };
    // The handler runs in its own task: a panic there becomes a job error, not a dead worker.
    let (refresh, aggregate) = (w.refresh_worker, w.return_aggregate_stream);
    let mut task = tokio::spawn(drive(w, job, Some(client.clone()), aggregate));
    let outcome = tokio::select! {
        r = &mut task => Some(r),
        () = cancel.cancelled() => {
            task.abort();
            None
        }
    };
    in_flight.remove(&id);
    let (body, is_stream) = match outcome {
        None => return, // cancelled: RunPod's runtime posts nothing
        Some(Ok(r)) => r,
        Some(Err(e)) => (panicked(e, &client.config().worker_id, refresh), false),
    };
    let stop = body.stop_pod == Some(true);
    if let Err(e) = client.post_result(&id, &body, is_stream).await {
        tracing::error!(job = id, error = %e, "result not delivered");
    }
    if stop {
        // refresh_worker: this worker takes no more jobs; RunPod replaces it.
        stop_after.cancel();
    }
}

/// Runs the handler on `job` to its result body (and whether it was a stream). Stream chunks
/// are posted through `client` as they come (none in local mode) and kept for the aggregate.
pub(crate) async fn drive(
    w: Worker,
    job: Job,
    client: Option<WorkerClient>,
    aggregate: bool,
) -> (JobResultBody, bool) {
    let (id, refresh) = (job.id.clone(), w.refresh_worker);
    let worker_id =
        client.as_ref().map_or_else(|| "local".to_owned(), |c| c.config().worker_id.clone());
    match (w.handler)(job).await {
        Ok(Reply::Output(v)) => (shape::from_output(v, refresh), false),
        Ok(Reply::Stream(mut s)) => {
            let mut chunks = Vec::new();
            while let Some(item) = s.next().await {
                match item {
                    Ok(chunk) => {
                        if let Some(e) = shape::chunk_error(&chunk) {
                            return (
                                JobResultBody {
                                    error: Some(Value::String(e)),
                                    ..JobResultBody::default()
                                },
                                true,
                            );
                        }
                        if let Some(c) = &client {
                            if let Err(e) = c.post_stream_chunk(&id, chunk.clone()).await {
                                tracing::warn!(error = %e, "stream chunk not delivered");
                            }
                        }
                        chunks.push(chunk);
                    }
                    Err(msg) => return (shape::stream_failed(&msg, refresh), true),
                }
            }
            (shape::stream_end(chunks, aggregate, refresh), true)
        }
        Err(msg) => (shape::from_failure("HandlerError", &msg, &worker_id, refresh), false),
    }
}

/// The body for a handler task that panicked (or was torn down).
pub(crate) fn panicked(e: tokio::task::JoinError, worker_id: &str, refresh: bool) -> JobResultBody {
    let msg = match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into()),
        Err(_) => "the handler task ended abnormally".to_owned(),
    };
    tracing::error!(panic = msg, "handler panicked; the job fails, the worker goes on");
    shape::from_failure("panic", &msg, worker_id, refresh)
}
