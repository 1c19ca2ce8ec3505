//! Rows the benchmarks seed their stores with: many jobs running in a steady state.

use podwarden_core::Money;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{AttemptState, JobState};
use podwarden_core::{Account, AttemptId, JobId};
use podwarden_store::{AttemptRow, JobRow};

/// The job every seeded row runs: a GPU of 16 GB, a budget it never reaches.
pub fn spec() -> JobSpec {
    let mut spec = JobSpec::new("bench", "img", "sleep 1000");
    spec.gpu.min_vram_gb = Some(16);
    spec.limits.budget_usd = Some(1000.0);
    spec
}

/// Job `i` of `n` running on `account`, and its attempt on pod `pod_id` named `name`, booted a
/// minute before `now` and last billed at a moment of the last minute spread by `i` (a steady
/// state: each tick bills a slice of the jobs).
#[allow(clippy::too_many_arguments)]
pub fn running(
    spec: &JobSpec,
    account: &Account,
    att: AttemptId,
    name: &str,
    pod_id: Option<String>,
    now: i64,
    i: usize,
    n: usize,
) -> (JobRow, AttemptRow) {
    let job = JobId::new();
    let mut j = JobRow::new(job, spec, "local", "h", now);
    j.state = JobState::Running;
    j.attempts_made = 1;
    j.started_at = Some(now);
    j.account = account.clone();
    let a = AttemptRow {
        id: att,
        job_id: job,
        seq: 1,
        state: AttemptState::Running,
        generation: 0,
        pod_name: name.to_owned(),
        pod_id,
        gpu_type: "NVIDIA RTX A4000".into(),
        gpu_count: 1,
        cloud: "secure".into(),
        data_center: Some("US-TX-3".into()),
        price_per_hour: Money(250_000),
        created_at: now - 60_000,
        booted_at: Some(now - 60_000),
        ended_at: None,
        billed_until: Some(now - (i as i64 * 60_000) / n as i64),
        cost: Money(0),
        reason: None,
        node: 0,
        exit_code: None,
        account: account.clone(),
    };
    (j, a)
}
