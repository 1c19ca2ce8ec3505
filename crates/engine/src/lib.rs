//! podwarden's engine. It owns every side effect on providers: the pod launch saga, the
//! reconciler (plan from a snapshot, then execute), GPU choice, budgets, deadlines, boot
//! timeouts, keep-alive and teardown, and the cost ledger.

pub mod billing_reconcile;
pub mod cloud;
pub mod endpoints;
pub mod engine;
pub mod planner;
pub mod requests;
pub mod runpod_cloud;
pub mod strays;
pub mod volumes;
pub mod wrapper;

pub use cloud::{
    Cloud, CloudError, Deployment, EndpointInfo, PodInfo, PodPhase, PodRequest, QueueHealth,
    RemoteJob, RemoteStatus, RunOptions, Serverless, TemplateInfo, VolumeInfo,
};
pub use engine::{
    Clock, DEFAULT_WATCHDOG_CEILING_SECS, Engine, EngineError, EngineOptions, Submitted, TickReport,
};
pub use runpod_cloud::RunPodCloud;
