//! The store on SQLite: inserts, reads, compare-and-swap, events, ledger.

use core_domain::spec::JobSpec;
use core_domain::state::{AttemptEvent, AttemptState, JobEvent, JobPhase, attempt_transition, job_transition};
use core_domain::{AttemptId, JobId};
use store::{AttemptRow, CostRow, JobRow, Store};

fn spec() -> JobSpec {
    JobSpec::from_toml("t", "name=\"t\"\nimage=\"i\"\ncommand=\"c\"\n[gpu]\nmin_vram_gb=8\n[limits]\nbudget_usd=2.0\n").expect("spec")
}

#[tokio::test]
async fn jobs_round_trip_and_cas_rejects_stale_writers() {
    let s = Store::open_memory().await.expect("open");
    let mut j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let got = s.job_get(&j.id).await.expect("get").expect("exists");
    assert_eq!(got, j);
    assert_eq!(got.spec().expect("spec"), spec());
    assert_eq!(got.budget_micros, Some(2_000_000));

    let mut stale = got.clone();
    let next = job_transition(j.phase().expect("phase"), JobEvent::Launch).expect("legal");
    j.set_phase(next);
    assert!(s.job_cas(&mut j, 2_000).await.expect("cas"));
    assert_eq!(j.generation, 1);
    stale.set_phase(JobPhase { state: core_domain::state::JobState::Running, outcome: None });
    assert!(!s.job_cas(&mut stale, 2_001).await.expect("cas"), "a writer that read generation 0 loses");
    let now = s.job_get(&j.id).await.expect("get").expect("exists");
    assert_eq!((now.state.as_str(), now.generation, now.updated_at), ("provisioning", 1, 2_000));
    assert_eq!(s.jobs_live().await.expect("live").len(), 1);
}

#[tokio::test]
async fn attempts_intents_events_and_ledger() {
    let s = Store::open_memory().await.expect("open");
    let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let att = AttemptId::new();
    let mut a = AttemptRow {
        id: att.to_string(),
        job_id: j.id.clone(),
        seq: 1,
        state: AttemptState::Intent.as_str().into(),
        generation: 0,
        pod_name: core_domain::ids::pod_name("abcd1234", att),
        pod_id: None,
        gpu_type: "NVIDIA RTX A4000".into(),
        gpu_count: 1,
        cloud: "secure".into(),
        data_center: None,
        price_micros_per_hour: 250_000,
        created_at: 1_000,
        booted_at: None,
        ended_at: None,
        billed_until: None,
        cost_micros: 0,
        reason: None,
    };
    s.attempt_insert(&a).await.expect("intent");
    let dup = AttemptRow { id: AttemptId::new().to_string(), ..a.clone() };
    assert!(s.attempt_insert(&dup).await.is_err(), "pod names are unique");
    a.set_state(attempt_transition(a.state().expect("state"), AttemptEvent::Created).expect("legal"));
    a.pod_id = Some("pod123".into());
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    assert_eq!(s.attempts_live().await.expect("live").len(), 1);
    a.set_state(AttemptState::Terminated);
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    assert!(s.attempts_live().await.expect("live").is_empty());
    assert_eq!(s.attempts_for_job(&j.id).await.expect("list")[0].pod_id.as_deref(), Some("pod123"));

    let e1 = s.event_append(&j.id, 1, "state", "provisioning", None).await.expect("event");
    let e2 = s.event_append(&j.id, 2, "log", "hello", Some(&serde_json::json!({"line": "hello"}))).await.expect("event");
    assert!(e2 > e1);
    assert_eq!(s.events_since(&j.id, e1, 10).await.expect("since").len(), 1);

    s.cost_append(&CostRow {
        job_id: j.id.clone(),
        attempt_id: a.id.clone(),
        from_ms: 0,
        to_ms: 3_600_000,
        amount_micros: 250_000,
        gpu_type: "A4000".into(),
    })
    .await
    .expect("cost");
    assert_eq!(s.cost_rows().await.expect("rows")[0].amount_micros, 250_000);
}
