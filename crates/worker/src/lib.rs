//! RunPod's serverless worker protocol for Rust handlers, as RunPod's Python runtime 1.12
//! speaks it (API-NOTES §3): long-poll `job-take` (`job-take-batch` when more than one slot is
//! free), `job-stop` to cancel jobs in flight, `job-done` with the Python runtime's body shapes
//! (`output`, `error`, `stopPod`), `job-stream` per chunk plus the aggregate when asked, progress
//! updates, a heartbeat `ping` with the ids in flight, 429 back-off, a configurable concurrency,
//! `refresh_worker`, a graceful drain on SIGTERM, and handler panics reported as job errors (the
//! worker survives).
//!
//! Must not: depend on podwarden's control plane (a worker runs on RunPod with RunPod's
//! variables only), or link the emulator outside the `serve-api` feature.
//!
//! Without `RUNPOD_WEBHOOK_GET_JOB` (outside RunPod) it runs locally like the Python runtime:
//! `--test-input JSON` or `./test_input.json` runs one job and prints its result;
//! `--serve-api PORT` serves RunPod's job API on localhost with real queue semantics.
//!
//! ```no_run
//! use serde_json::json;
//!
//! fn main() -> std::process::ExitCode {
//!     podwarden_worker::Worker::new(|job: podwarden_worker::Job| async move {
//!         job.progress(json!({"step": 1})).await;
//!         Ok::<_, String>(json!({"echo": job.input}))
//!     })
//!     .concurrency(4)
//!     .main()
//! }
//! ```

mod local;
mod runtime;
#[cfg(feature = "serve-api")]
mod serve;
mod shape;

pub use runtime::Job;
#[cfg(feature = "serve-api")]
pub use serve::LocalApi;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use serde_json::Value;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

/// What a handler produced: one value, or a stream of chunks.
pub enum Reply {
    Output(Value),
    Stream(BoxStream<'static, Result<Value, String>>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Output(v) => f.debug_tuple("Output").field(v).finish(),
            Self::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

pub(crate) type DynHandler =
    Arc<dyn Fn(Job) -> BoxFuture<'static, Result<Reply, String>> + Send + Sync>;

/// A worker: a handler and how to run it.
#[derive(Clone)]
pub struct Worker {
    pub(crate) handler: DynHandler,
    pub(crate) concurrency: usize,
    pub(crate) return_aggregate_stream: bool,
    pub(crate) refresh_worker: bool,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("concurrency", &self.concurrency)
            .field("return_aggregate_stream", &self.return_aggregate_stream)
            .field("refresh_worker", &self.refresh_worker)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// An async handler returning one value (`Err` fails the job with that message).
    pub fn new<F, Fut, E>(handler: F) -> Self
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, E>> + Send + 'static,
        E: Display,
    {
        Self::from_dyn(Arc::new(move |job| {
            handler(job).map(|r| r.map(Reply::Output).map_err(|e| e.to_string())).boxed()
        }))
    }

    /// A blocking handler (run on a blocking thread, so it does not stall the protocol).
    pub fn blocking<F, E>(handler: F) -> Self
    where
        F: Fn(Job) -> Result<Value, E> + Send + Sync + 'static,
        E: Display,
    {
        let handler = Arc::new(handler);
        Self::from_dyn(Arc::new(move |job| {
            let h = handler.clone();
            async move {
                match tokio::task::spawn_blocking(move || h(job).map_err(|e| e.to_string())).await {
                    Ok(r) => r.map(Reply::Output),
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            }
            .boxed()
        }))
    }

    /// A streaming handler: each item is posted to `/stream` as it comes; an `Err` item (or a
    /// chunk that is an object with `error`) ends the job failed.
    pub fn streaming<F, S, E>(handler: F) -> Self
    where
        F: Fn(Job) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Value, E>> + Send + 'static,
        E: Display,
    {
        Self::from_dyn(Arc::new(move |job| {
            let s = handler(job).map(|r| r.map_err(|e| e.to_string())).boxed();
            async move { Ok(Reply::Stream(s)) }.boxed()
        }))
    }

    fn from_dyn(handler: DynHandler) -> Self {
        Self { handler, concurrency: 1, return_aggregate_stream: false, refresh_worker: false }
    }

    /// How many jobs run at once (default 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Also return all streamed chunks as the job's output (RunPod's `return_aggregate_stream`).
    pub fn return_aggregate_stream(mut self, yes: bool) -> Self {
        self.return_aggregate_stream = yes;
        self
    }

    /// Ask RunPod to recycle this worker after each job (`refresh_worker`).
    pub fn refresh_worker(mut self, yes: bool) -> Self {
        self.refresh_worker = yes;
        self
    }

    /// Runs the worker as the process's main: on RunPod (or the emulator) when
    /// `RUNPOD_WEBHOOK_GET_JOB` is set, else a local one-shot run. Returns the exit code.
    pub fn main(self) -> std::process::ExitCode {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(2)
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        rt.block_on(self.run(&args))
    }

    /// Takes jobs from `cfg`'s endpoint until SIGTERM/SIGINT (what `main` does on RunPod).
    pub async fn serve(self, cfg: runpod::client::worker::WorkerConfig) -> std::process::ExitCode {
        runtime::production(self, cfg).await
    }

    /// [`Worker::main`] inside an existing runtime, with explicit arguments.
    pub async fn run(self, args: &[String]) -> std::process::ExitCode {
        match local::mode(args) {
            Ok(local::Mode::TestInput(input)) => local::one_shot(&self, input).await,
            Ok(local::Mode::Production(cfg)) => runtime::production(self, cfg).await,
            #[cfg(feature = "serve-api")]
            Ok(local::Mode::ServeApi(port)) => serve::serve_api(self, port).await,
            #[cfg(not(feature = "serve-api"))]
            Ok(local::Mode::ServeApi(port)) => {
                eprintln!(
                    "error: this build has no local job API (--serve-api {port}): build with the `serve-api` feature"
                );
                std::process::ExitCode::from(1)
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                std::process::ExitCode::from(1)
            }
        }
    }
}
