//! The store on SQLite: inserts, reads, compare-and-swap, events, ledger.

use core_domain::spec::JobSpec;
use core_domain::state::{
    AttemptEvent, AttemptState, JobEvent, JobPhase, attempt_transition, job_transition,
};
use core_domain::{AttemptId, JobId};
use store::{AttemptRow, CostRow, JobRow, Store};

fn spec() -> JobSpec {
    JobSpec::from_toml(
        "t",
        "name=\"t\"\nimage=\"i\"\ncommand=\"c\"\n[gpu]\nmin_vram_gb=8\n[limits]\nbudget_usd=2.0\n",
    )
    .expect("spec")
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
    assert!(
        !s.job_cas(&mut stale, 2_001).await.expect("cas"),
        "a writer that read generation 0 loses"
    );
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
    a.set_state(
        attempt_transition(a.state().expect("state"), AttemptEvent::Created).expect("legal"),
    );
    a.pod_id = Some("pod123".into());
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    assert_eq!(s.attempts_live().await.expect("live").len(), 1);
    a.set_state(AttemptState::Terminated);
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    assert!(s.attempts_live().await.expect("live").is_empty());
    assert_eq!(s.attempts_for_job(&j.id).await.expect("list")[0].pod_id.as_deref(), Some("pod123"));

    let e1 = s.event_append(&j.id, 1, "state", "provisioning", None).await.expect("event");
    let e2 = s
        .event_append(&j.id, 2, "log", "hello", Some(&serde_json::json!({"line": "hello"})))
        .await
        .expect("event");
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

fn running_attempt(job: &JobRow, billed_until: i64) -> AttemptRow {
    let att = AttemptId::new();
    AttemptRow {
        id: att.to_string(),
        job_id: job.id.clone(),
        seq: 1,
        state: "running".into(),
        generation: 0,
        pod_name: core_domain::ids::pod_name("abcd1234", att),
        pod_id: Some("pod1".into()),
        gpu_type: "NVIDIA RTX A4000".into(),
        gpu_count: 1,
        cloud: "secure".into(),
        data_center: None,
        price_micros_per_hour: 3_600_000,
        created_at: 0,
        booted_at: Some(0),
        ended_at: None,
        billed_until: Some(billed_until),
        cost_micros: 0,
        reason: None,
    }
}

#[tokio::test]
async fn the_live_set_follows_every_write_and_is_reloaded_on_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("pw.db");
    let s = Store::open_sqlite(&path).await.expect("open");
    let mut j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let mut a = running_attempt(&j, 0);
    s.attempt_insert(&a).await.expect("attempt");
    let counts = |s: &Store| {
        let live = s.live();
        (live.jobs().len(), live.attempts().len())
    };
    assert_eq!(counts(&s), (1, 1));

    j.reason = Some("changed".into());
    assert!(s.job_cas(&mut j, 2_000).await.expect("cas"));
    assert_eq!(
        s.live().job(&j.id).expect("live").reason.as_deref(),
        Some("changed"),
        "a CAS is written through"
    );
    assert_eq!(s.live().job(&j.id), Some(&j), "the caller's row is the stored row");

    // A fresh process sees the same live set, loaded from the database.
    let reopened = Store::open_sqlite(&path).await.expect("reopen");
    assert_eq!(reopened.live().job(&j.id), Some(&j));
    assert_eq!(reopened.live().attempts().next(), Some(&a));
    drop(reopened);

    // Settled rows leave the set.
    a.state = "terminated".into();
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    j.state = "succeeded".into();
    assert!(s.job_cas(&mut j, 3_000).await.expect("cas"));
    assert_eq!(counts(&s), (0, 0));
    assert_eq!(s.jobs_live().await.expect("db").len(), 0, "the database agrees");
}

#[tokio::test]
async fn bills_land_in_one_transaction_and_stale_ones_are_skipped() {
    let s = Store::open_memory().await.expect("open");
    let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let a = running_attempt(&j, 0);
    s.attempt_insert(&a).await.expect("attempt");
    let b = running_attempt(&j, 0);
    s.attempt_insert(&b).await.expect("attempt");
    // `b` changes after the biller read it: its bill must not land.
    let mut b2 = b.clone();
    b2.reason = Some("moved on".into());
    assert!(s.attempt_cas(&mut b2).await.expect("cas"));

    let bills = [
        store::Bill { attempt: a.clone(), to_ms: 60_000, amount_micros: 60_000 },
        store::Bill { attempt: b.clone(), to_ms: 60_000, amount_micros: 60_000 },
    ];
    assert_eq!(s.bill(&bills, 60_000).await.expect("bill"), 1);
    let stored = s.attempt_get(&a.id).await.expect("get").expect("a");
    assert_eq!(
        (stored.billed_until, stored.cost_micros, stored.generation),
        (Some(60_000), 60_000, 1)
    );
    assert_eq!(s.attempt_get(&b.id).await.expect("get").expect("b").cost_micros, 0);
    let job = s.job_get(&j.id).await.expect("get").expect("job");
    assert_eq!(job.spent_micros, 60_000);
    assert_eq!(s.live().job(&j.id), Some(&job), "the live set has the billed job");
    assert_eq!(
        s.cost_rows().await.expect("ledger"),
        [CostRow {
            job_id: j.id.clone(),
            attempt_id: a.id.clone(),
            from_ms: 0,
            to_ms: 60_000,
            amount_micros: 60_000,
            gpu_type: "NVIDIA RTX A4000".into()
        }]
    );
}

#[tokio::test]
async fn endpoint_rows_are_unique_per_owner_and_name_while_live() {
    let s = Store::open_memory().await.expect("open");
    let row = |id: &str| store::EndpointRow {
        id: id.into(),
        name: "predict".into(),
        owner: "alice".into(),
        spec: "{}".into(),
        spec_hash: "h1".into(),
        state: "intent".into(),
        generation: 0,
        resource_name: format!("pw-abcd1234-ep-{id}"),
        template_id: None,
        endpoint_id: None,
        reason: None,
        created_at: 1,
        updated_at: 1,
        account: "hosted".into(),
    };
    s.endpoint_insert(&row("e1")).await.expect("insert");
    assert!(s.endpoint_insert(&row("e2")).await.is_err(), "one live endpoint per owner and name");
    let mut e = s.endpoint_by_name("alice", "predict").await.expect("get").expect("live");
    let mut stale = e.clone();
    e.state = "ready".into();
    e.endpoint_id = Some("ep-1".into());
    assert!(s.endpoint_cas(&mut e, 2).await.expect("cas"));
    assert_eq!((e.generation, e.updated_at), (1, 2));
    stale.state = "deleting".into();
    assert!(!s.endpoint_cas(&mut stale, 3).await.expect("cas"), "a stale writer loses");
    e.state = "deleted".into();
    assert!(s.endpoint_cas(&mut e, 4).await.expect("cas"));
    assert!(s.endpoints_live().await.expect("live").is_empty());
    s.endpoint_insert(&row("e3")).await.expect("the name is free again once deleted");
}

#[tokio::test]
async fn pod_logs_are_kept_in_order_and_bounded_per_job() {
    let s = Store::open_memory().await.expect("open");
    let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let n = store::JOB_LOG_LINES_KEPT as usize + 5;
    let lines: Vec<(String, String, String)> =
        (0..n).map(|i| (format!("t{i}"), "container".into(), format!("line {i}"))).collect();
    for chunk in lines.chunks(1_000) {
        s.job_logs_append(&j.id, chunk).await.expect("append");
    }
    let kept = s.job_logs(&j.id, i64::MAX).await.expect("read");
    assert_eq!(kept.len(), store::JOB_LOG_LINES_KEPT as usize, "bounded");
    assert_eq!(kept.first().map(|l| l.line.as_str()), Some("line 5"), "the oldest lines go first");
    assert_eq!(kept.last().map(|l| l.line.as_str()), Some(format!("line {}", n - 1).as_str()));
    assert_eq!(
        s.job_logs(&j.id, 2)
            .await
            .expect("tail")
            .iter()
            .map(|l| l.line.clone())
            .collect::<Vec<_>>(),
        [format!("line {}", n - 2), format!("line {}", n - 1)]
    );
    assert_eq!(s.job_logs_last_at(&j.id).await.expect("last"), Some(format!("t{}", n - 1)));
}
