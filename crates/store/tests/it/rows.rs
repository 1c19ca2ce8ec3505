//! The store on both backends (SQLite and Postgres): inserts, reads, compare-and-swap, events,
//! ledger. Each test runs once per backend (`on_both!`).

use podwarden_core::Account;
use podwarden_core::events::EventKind;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{
    AttemptEvent, AttemptState, JobEvent, JobPhase, attempt_transition, job_transition,
};
use podwarden_core::state::{EndpointState, JobState};
use podwarden_core::{AttemptId, EndpointRecordId, JobId, Money};
use podwarden_store::{AttemptRow, CostRow, JobRow, Store};

/// A database on one backend that can be opened again: a file for SQLite, a schema for Postgres.
struct Db(podwarden_store::testing::TestDb);

impl Db {
    async fn open(&self) -> Store {
        self.0.open().await.expect("open the store")
    }
}

/// Runs each named test on SQLite and on Postgres.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Db(podwarden_store::testing::TestDb::sqlite())).await
            }
            #[tokio::test]
            async fn postgres() {
                let Some(db) = podwarden_store::testing::TestDb::postgres().await else { return };
                super::$name(super::Db(db)).await
            }
        }
    )*};
}

on_both!(
    jobs_round_trip_and_cas_rejects_stale_writers,
    attempts_intents_events_and_ledger,
    the_live_set_follows_every_write_and_is_reloaded_on_open,
    bills_land_in_one_transaction_and_stale_ones_are_skipped,
    endpoint_rows_are_unique_per_owner_and_name_while_live,
    pod_logs_are_kept_in_order_and_bounded_per_job,
    one_replica_holds_an_account_and_a_deposed_ones_writes_are_refused,
    a_replica_sees_another_replicas_writes_after_refresh_live,
    the_live_set_is_indexed_by_account_and_by_pod,
    an_invite_makes_one_user_with_its_cap_and_only_before_it_expires,
    users_added_at_once_all_land_and_a_name_is_taken_once_whatever_its_case,
    log_lines_stored_while_other_writes_land_are_never_refused_as_busy,
    a_user_keeps_one_key_per_provider,
    offer_records_add_up_and_keep_the_operators_word,
    a_queued_job_holds_its_estimate_and_takes_its_budget_back_only_within_the_cap,
    a_queued_job_moves_to_another_account_only_while_queued_and_within_the_cap,
    a_pods_bill_is_read_from_the_account_that_made_it_wherever_its_job_moved
);

/// A job whose RunPod pod ended, then moved to AWS and settled there: its RunPod pod's bill is
/// due on the RunPod account (the attempt's), not on the job's.
async fn a_pods_bill_is_read_from_the_account_that_made_it_wherever_its_job_moved(db: Db) {
    let s = db.open().await;
    let aws = Account::hosted_on(podwarden_core::ProviderKind::Aws);
    let mut j = JobRow::new(JobId::new(), &spec(), "u", "hash", 1_000);
    j.state = JobState::Queued;
    s.job_insert(&j).await.expect("job");
    let mut pod = running_attempt(&j, 1_000);
    (pod.state, pod.ended_at) = (AttemptState::Terminated, Some(2_000));
    s.attempt_insert(&pod).await.expect("its RunPod pod");
    let same = j.spec.clone();
    let moved = s.job_rehome(&mut j, &aws, &same, None, 3_000).await.expect("rehome");
    assert_eq!(moved, podwarden_store::Rehome::Moved { capped_to: None });
    j.state = JobState::Succeeded;
    assert!(s.job_cas(&mut j, 4_000).await.expect("settled"));

    let due = |account: Account| {
        let s = s.clone();
        async move { s.attempts_unchecked(&account, i64::MAX, i64::MAX, 10).await.expect("due") }
    };
    assert_eq!(
        due(Account::Hosted).await.iter().map(|u| u.attempt_id).collect::<Vec<_>>(),
        [pod.id]
    );
    assert!(due(aws.clone()).await.is_empty(), "not AWS's to read");
    assert_eq!(
        s.accounts_unchecked(i64::MAX, i64::MAX).await.expect("accounts"),
        [Account::Hosted]
    );
}

/// A queued job on a user's own key moves to the operator's account only while queued, and is
/// admitted there against the cap like a submit; the live set's account index follows it.
async fn a_queued_job_moves_to_another_account_only_while_queued_and_within_the_cap(db: Db) {
    use podwarden_store::{Admission, Rehome};
    let s = db.open().await;
    let usd = Money::from_usd;
    podwarden_store::testing::capped_user(&s, "u", usd(5.0)).await;
    let own = Account::Byok("u".into());
    let mut j = JobRow::new(JobId::new(), &spec(), "u", "hash", 1_000);
    (j.account, j.budget) = (own.clone(), None);
    s.job_insert(&j).await.expect("own key");
    let mut other = JobRow::new(JobId::new(), &spec(), "u", "hash", 1_000);
    other.budget = Some(usd(4.5));
    assert_eq!(
        s.job_insert_within_cap(&mut other).await.expect("b"),
        Admission::Admitted { capped_to: None }
    );

    // Not queued: not moved.
    let hosted = Account::hosted_on(podwarden_core::ProviderKind::Aws);
    let moved = s.job_rehome(&mut j.clone(), &hosted, &j.spec, Some(usd(0.4)), 2_000).await;
    assert_eq!(moved.expect("rehome"), Rehome::Raced);
    j.state = JobState::Queued;
    assert!(s.job_cas(&mut j, 2_000).await.expect("queue"));

    // $0.50 left of the cap: a $1 estimate does not fit, a $0.40 one does (its budget is
    // what is left).
    let same = j.spec.clone();
    let short = s.job_rehome(&mut j, &hosted, &same, Some(usd(1.0)), 3_000).await;
    assert_eq!(short.expect("rehome"), Rehome::CapShort { cap: usd(5.0), left: usd(0.5) });
    let stale = j.clone();
    let mut aws_spec = j.spec().expect("spec");
    aws_spec.provider = Some(podwarden_core::ProviderKind::Aws);
    let aws_spec = serde_json::to_string(&aws_spec).expect("json");
    let moved = s.job_rehome(&mut j, &hosted, &aws_spec, Some(usd(0.4)), 4_000).await;
    assert_eq!(moved.expect("rehome"), Rehome::Moved { capped_to: Some(usd(0.5)) });
    let stored = s.job_get(j.id).await.expect("get").expect("job");
    assert_eq!(stored, j);
    assert_eq!(
        (&stored.account, stored.queued_hold, stored.next_attempt_at),
        (&hosted, Some(usd(0.4)), Some(4_000))
    );
    assert_eq!(stored.spec().expect("spec").provider, Some(podwarden_core::ProviderKind::Aws));
    assert_eq!(s.hosted_committed("u").await.expect("sum"), usd(4.9));
    {
        let live = s.live();
        assert_eq!(live.jobs_of(&own).count(), 0, "out of its old account's index");
        assert_eq!(live.jobs_of(&hosted).map(|j| j.id).collect::<Vec<_>>(), [j.id]);
    }
    let mut stale = stale;
    let again = s.job_rehome(&mut stale, &own, &same, None, 5_000).await;
    assert_eq!(again.expect("stale"), Rehome::Raced);
}

/// A queued job holds its estimate, not its budget, so others fit beside it; before it launches
/// it takes its budget back, lowered to what is left, or nothing is written when less than its
/// estimate is left.
async fn a_queued_job_holds_its_estimate_and_takes_its_budget_back_only_within_the_cap(db: Db) {
    use podwarden_store::{Admission, Reclaim};
    let s = db.open().await;
    let usd = Money::from_usd;
    podwarden_store::testing::capped_user(&s, "u", usd(5.0)).await;
    let job = |budget: Option<f64>| {
        let mut j = JobRow::new(JobId::new(), &spec(), "u", "hash", 1_000);
        j.budget = budget.map(usd);
        j
    };
    let mut a = job(Some(2.0));
    let mut b = job(None);
    assert_eq!(
        s.job_insert_within_cap(&mut a).await.expect("a"),
        Admission::Admitted { capped_to: None }
    );
    assert_eq!(
        s.job_insert_within_cap(&mut b).await.expect("b"),
        Admission::Admitted { capped_to: Some(usd(3.0)) }
    );
    let refused = s.job_insert_within_cap(&mut job(Some(1.0))).await.expect("c");
    assert_eq!(refused, Admission::CapReached { cap: usd(5.0), left: Money::ZERO });

    // A waits, holding $0.50: $1.50 of room for another job.
    a.state = JobState::Queued;
    a.queued_hold = Some(usd(0.5));
    assert!(s.job_cas(&mut a, 2_000).await.expect("queue a"));
    assert_eq!(s.hosted_committed("u").await.expect("sum"), usd(3.5));
    let mut d = job(Some(1.5));
    assert_eq!(
        s.job_insert_within_cap(&mut d).await.expect("d"),
        Admission::Admitted { capped_to: None }
    );

    // The cap is lowered to $4.80: $0.30 left beside B and D, less than A's hold; nothing
    // written.
    assert!(s.user_set_spend_cap("u", Some(usd(4.8))).await.expect("cap"));
    let stale = a.clone();
    let short = s.job_reclaim_budget(&mut a, 3_000).await.expect("reclaim");
    assert_eq!(short, Reclaim::CapShort { cap: usd(4.8), left: usd(0.3), needs: usd(0.5) });
    assert_eq!(s.job_get(a.id).await.expect("get").expect("a"), stale);

    // D ends having spent $0.10: A takes back what is left ($1.70 of its $2).
    d.state = JobState::Cancelled;
    d.spent = usd(0.1);
    assert!(s.job_cas(&mut d, 4_000).await.expect("end d"));
    assert_eq!(
        s.job_reclaim_budget(&mut a, 5_000).await.expect("reclaim"),
        Reclaim::Held { capped_to: Some(usd(1.7)) }
    );
    let stored = s.job_get(a.id).await.expect("get").expect("a");
    assert_eq!((stored.budget, stored.queued_hold, stored.generation), (Some(usd(1.7)), None, 2));
    assert_eq!(s.hosted_committed("u").await.expect("sum"), usd(4.8));
    let mut stale = stale;
    assert_eq!(s.job_reclaim_budget(&mut stale, 6_000).await.expect("stale"), Reclaim::Raced);

    // The operator's AWS account is the operator's money too: its jobs count against the cap.
    assert!(s.user_set_spend_cap("u", Some(usd(10.0))).await.expect("cap"));
    let mut on_aws = job(None);
    on_aws.account = Account::hosted_on(podwarden_core::ProviderKind::Aws);
    assert_eq!(
        s.job_insert_within_cap(&mut on_aws).await.expect("aws"),
        Admission::Admitted { capped_to: Some(usd(5.2)) }
    );
    assert_eq!(s.hosted_committed("u").await.expect("sum"), usd(10.0));
    let refused = s.job_insert_within_cap(&mut job(Some(1.0))).await.expect("runpod");
    assert_eq!(refused, Admission::CapReached { cap: usd(10.0), left: Money::ZERO });
}

/// Each attempt's outcome adds to its offer's record (one upsert, so writers never lose one); a pin or ban
/// is kept beside the counts, and both survive a reopen; boots per image add up apart.
async fn offer_records_add_up_and_keep_the_operators_word(db: Db) {
    use podwarden_core::learned::{OfferEvent, OfferKey};
    let s = db.open().await;
    let key = |gpu: &str| OfferKey {
        provider: "runpod".into(),
        gpu_type: gpu.into(),
        data_center: "EU-RO-1".into(),
        cloud: "secure".into(),
    };
    let a = key("A");
    for i in 0..8 {
        let e = match i % 4 {
            0 | 1 => OfferEvent::Booted { boot_ms: 1000 * (i + 1) },
            2 => OfferEvent::Dud,
            _ => OfferEvent::Lost,
        };
        s.offer_record(&a, e, 100 + i).await.expect("record");
    }
    s.offer_flag(&key("B"), false, true, 200).await.expect("ban");
    s.offer_flag(&a, true, false, 300).await.expect("pin");
    drop(s);
    let s = db.open().await;
    let stats = s.offer_stats().await.expect("stats");
    assert_eq!(stats.len(), 2, "{stats:?}");
    let (k, r) = &stats[0];
    assert_eq!(k, &a);
    assert_eq!((r.boots, r.boot_ms_total, r.duds, r.losses), (4, 1000 + 2000 + 5000 + 6000, 2, 2));
    assert_eq!(r.last_dud_at, Some(106));
    assert!(r.pinned && !r.banned, "{r:?}");
    assert!(stats[1].1.banned && stats[1].1.boots == 0, "{stats:?}");
    // Boots per image: counted, summed, the slowest kept; another image's apart.
    use podwarden_core::learned::BootSample;
    for ms in [3000, 9000, 5000] {
        s.offer_boot_record(&a, "img:1", BootSample::Booted(ms), 400).await.expect("boot");
    }
    // A pod ended at the deadline: in the total, not the slowest.
    s.offer_boot_record(&a, "img:1", BootSample::DeadlinePassed(20_000), 400).await.expect("late");
    s.offer_boot_record(&a, "img:2", BootSample::Booted(60_000), 400).await.expect("boot");
    let boots = s.offer_boots("img:1").await.expect("boots");
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].0, a);
    let r = &boots[0].1;
    assert_eq!((r.boots, r.boot_ms_total, r.boot_ms_max), (4, 37_000, 9000));
    assert!(s.offer_boots("img:3").await.expect("none").is_empty());
    // Speeds per workload (owner, job name, image) and GPU (type and count): reports add up.
    use podwarden_core::learned::SpeedKey;
    let speed = |owner: &str, gpu: &str, count: i64, image: &str| SpeedKey {
        owner: owner.into(),
        job_name: "train".into(),
        image: image.into(),
        provider: "runpod".into(),
        gpu_type: gpu.into(),
        gpu_count: count,
    };
    for sps in [10.0, 14.0] {
        s.offer_speed_record(&speed("ann", "A", 1, "img:1"), sps, 500).await.expect("speed");
    }
    s.offer_speed_record(&speed("ann", "A", 2, "img:1"), 25.0, 500).await.expect("two GPUs");
    s.offer_speed_record(&speed("ann", "A", 1, "img:2"), 3.0, 500).await.expect("other image");
    s.offer_speed_record(&speed("bob", "A", 1, "img:1"), 1.0, 500).await.expect("other user");
    let speeds = s.offer_speeds_of("ann", "train", "img:1").await.expect("speeds");
    assert_eq!(speeds.len(), 2, "{speeds:?}");
    assert_eq!(speeds[0].0, speed("ann", "A", 1, "img:1"));
    assert_eq!((speeds[0].1.reports, speeds[0].1.mean()), (2, Some(12.0)));
    assert_eq!(speeds[1].1.mean(), Some(25.0));
    assert!(s.offer_speeds_of("ann", "other", "img:1").await.expect("none").is_empty());
    assert_eq!(s.offer_speeds().await.expect("all").len(), 4);
}

/// A RunPod key and an AWS key pair side by side: saving or removing one leaves the other, and
/// both survive a reopen.
async fn a_user_keeps_one_key_per_provider(db: Db) {
    let store = db.open().await;
    let user = podwarden_store::UserRow {
        id: "u1".into(),
        name: "u1".into(),
        is_admin: false,
        created_at: 0,
        spend_cap: None,
    };
    assert!(store.user_insert(&user).await.expect("user"));
    let key = |provider: &str, last4: &str| podwarden_store::ProviderKeyRow {
        user_id: "u1".into(),
        provider: provider.into(),
        key_id: "k".into(),
        nonce: "n".into(),
        ciphertext: format!("sealed-{provider}"),
        last4: last4.into(),
        created_at: 1,
    };
    store.provider_key_put(&key("runpod", "1111")).await.expect("runpod");
    store.provider_key_put(&key("aws", "2222")).await.expect("aws");
    store.provider_key_put(&key("aws", "3333")).await.expect("aws, replaced");
    let store = db.open().await;
    let last4 = |k: Option<podwarden_store::ProviderKeyRow>| k.map(|k| k.last4);
    assert_eq!(
        last4(store.provider_key_get("u1", "runpod").await.expect("get")).as_deref(),
        Some("1111")
    );
    assert_eq!(
        last4(store.provider_key_get("u1", "aws").await.expect("get")).as_deref(),
        Some("3333")
    );
    assert_eq!(store.provider_keys().await.expect("all").len(), 2);
    assert!(store.provider_key_delete("u1", "aws").await.expect("delete"));
    assert!(store.provider_key_get("u1", "aws").await.expect("get").is_none());
    assert!(
        store.provider_key_get("u1", "runpod").await.expect("get").is_some(),
        "the other stays"
    );
}

fn spec() -> JobSpec {
    JobSpec::from_toml(
        "t",
        "name=\"t\"\nimage=\"i\"\ncommand=\"c\"\n[gpu]\nmin_vram_gb=8\n[limits]\nbudget_usd=2.0\n",
    )
    .expect("spec")
}

async fn jobs_round_trip_and_cas_rejects_stale_writers(db: Db) {
    let s = db.open().await;
    let mut j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let got = s.job_get(j.id).await.expect("get").expect("exists");
    assert_eq!(got, j);
    assert_eq!(got.spec().expect("spec"), spec());
    assert_eq!(got.budget, Some(Money(2_000_000)));

    let mut stale = got.clone();
    let next = job_transition(j.phase().expect("phase"), JobEvent::Launch).expect("legal");
    j.set_phase(next);
    assert!(s.job_cas(&mut j, 2_000).await.expect("cas"));
    assert_eq!(j.generation, 1);
    stale.set_phase(JobPhase { state: podwarden_core::state::JobState::Running, outcome: None });
    assert!(
        !s.job_cas(&mut stale, 2_001).await.expect("cas"),
        "a writer that read generation 0 loses"
    );
    let now = s.job_get(j.id).await.expect("get").expect("exists");
    assert_eq!((now.state.as_str(), now.generation, now.updated_at), ("provisioning", 1, 2_000));
    assert_eq!(s.jobs_live().await.expect("live").len(), 1);
}

async fn attempts_intents_events_and_ledger(db: Db) {
    let s = db.open().await;
    let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let att = AttemptId::new();
    let mut a = AttemptRow {
        id: att,
        job_id: j.id,
        seq: 1,
        state: AttemptState::Intent,
        generation: 0,
        pod_name: podwarden_core::ids::pod_name("abcd1234", att),
        pod_id: None,
        gpu_type: "NVIDIA RTX A4000".into(),
        gpu_count: 1,
        cloud: "secure".into(),
        data_center: None,
        price_per_hour: Money(250_000),
        created_at: 1_000,
        booted_at: None,
        ended_at: None,
        billed_until: None,
        cost: Money(0),
        reason: None,
        node: 0,
        exit_code: None,
        account: j.account.clone(),
    };
    s.attempt_insert(&a).await.expect("intent");
    let dup = AttemptRow { id: AttemptId::new(), ..a.clone() };
    assert!(s.attempt_insert(&dup).await.is_err(), "pod names are unique");
    a.state = attempt_transition(a.state, AttemptEvent::Created).expect("legal");
    a.pod_id = Some("pod123".into());
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    assert_eq!(s.attempts_live().await.expect("live").len(), 1);
    a.state = AttemptState::Terminated;
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    assert!(s.attempts_live().await.expect("live").is_empty());
    assert_eq!(s.attempts_for_job(j.id).await.expect("list")[0].pod_id.as_deref(), Some("pod123"));

    let e1 = s.event_append(j.id, 1, EventKind::State, "provisioning", None).await.expect("event");
    let e2 = s
        .event_append(
            j.id,
            2,
            EventKind::Progress,
            "hello",
            Some(&serde_json::json!({"line": "hello"})),
        )
        .await
        .expect("event");
    assert!(e2 > e1);
    assert_eq!(s.events_since(j.id, e1, 10).await.expect("since").len(), 1);

    s.cost_append(&CostRow {
        job_id: j.id.to_string(),
        attempt_id: a.id.to_string(),
        from_ms: 0,
        to_ms: 3_600_000,
        amount: Money(250_000),
        gpu_type: "A4000".into(),
        provider: "runpod".into(),
    })
    .await
    .expect("cost");
    assert_eq!(s.cost_rows().await.expect("rows")[0].amount, Money(250_000));
}

fn running_attempt(job: &JobRow, billed_until: i64) -> AttemptRow {
    let att = AttemptId::new();
    AttemptRow {
        id: att,
        job_id: job.id,
        seq: 1,
        state: AttemptState::Running,
        generation: 0,
        pod_name: podwarden_core::ids::pod_name("abcd1234", att),
        pod_id: Some("pod1".into()),
        gpu_type: "NVIDIA RTX A4000".into(),
        gpu_count: 1,
        cloud: "secure".into(),
        data_center: None,
        price_per_hour: Money(3_600_000),
        created_at: 0,
        booted_at: Some(0),
        ended_at: None,
        billed_until: Some(billed_until),
        cost: Money(0),
        reason: None,
        node: 0,
        exit_code: None,
        account: job.account.clone(),
    }
}

async fn the_live_set_follows_every_write_and_is_reloaded_on_open(db: Db) {
    let s = db.open().await;
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
        s.live().job(j.id).expect("live").reason.as_deref(),
        Some("changed"),
        "a CAS is written through"
    );
    assert_eq!(s.live().job(j.id), Some(&j), "the caller's row is the stored row");

    // A fresh process sees the same live set, loaded from the database.
    let reopened = db.open().await;
    assert_eq!(reopened.live().job(j.id), Some(&j));
    assert_eq!(reopened.live().attempts().next(), Some(&a));
    drop(reopened);

    // Settled rows leave the set.
    a.state = AttemptState::Terminated;
    assert!(s.attempt_cas(&mut a).await.expect("cas"));
    j.state = JobState::Succeeded;
    assert!(s.job_cas(&mut j, 3_000).await.expect("cas"));
    assert_eq!(counts(&s), (0, 0));
    assert_eq!(s.jobs_live().await.expect("db").len(), 0, "the database agrees");
}

async fn bills_land_in_one_transaction_and_stale_ones_are_skipped(db: Db) {
    let s = db.open().await;
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
        podwarden_store::Bill { attempt: a.clone(), to_ms: 60_000, amount: Money(60_000) },
        podwarden_store::Bill { attempt: b.clone(), to_ms: 60_000, amount: Money(60_000) },
    ];
    assert_eq!(s.bill(&bills, 60_000).await.expect("bill"), 1);
    let stored = s.attempt_get(a.id).await.expect("get").expect("a");
    assert_eq!(
        (stored.billed_until, stored.cost, stored.generation),
        (Some(60_000), Money(60_000), 1)
    );
    assert_eq!(s.attempt_get(b.id).await.expect("get").expect("b").cost, Money(0));
    let job = s.job_get(j.id).await.expect("get").expect("job");
    assert_eq!(job.spent, Money(60_000));
    assert_eq!(s.live().job(j.id), Some(&job), "the live set has the billed job");
    assert_eq!(
        s.cost_rows().await.expect("ledger"),
        [CostRow {
            job_id: j.id.to_string(),
            attempt_id: a.id.to_string(),
            from_ms: 0,
            to_ms: 60_000,
            amount: Money(60_000),
            gpu_type: "NVIDIA RTX A4000".into(),
            provider: "runpod".into(),
        }]
    );
}

async fn endpoint_rows_are_unique_per_owner_and_name_while_live(db: Db) {
    let s = db.open().await;
    let row = |id: EndpointRecordId| podwarden_store::EndpointRow {
        id,
        name: "predict".into(),
        owner: "alice".into(),
        spec: "{}".into(),
        spec_hash: "h1".into(),
        state: EndpointState::Intent,
        generation: 0,
        resource_name: format!("pw-abcd1234-ep-{id}"),
        template_id: None,
        endpoint_id: None,
        reason: None,
        created_at: 1,
        updated_at: 1,
        account: Account::Hosted,
    };
    s.endpoint_insert(&row(EndpointRecordId::new())).await.expect("insert");
    assert!(
        s.endpoint_insert(&row(EndpointRecordId::new())).await.is_err(),
        "one live endpoint per owner and name"
    );
    let mut e = s.endpoint_by_name("alice", "predict").await.expect("get").expect("live");
    let mut stale = e.clone();
    e.state = EndpointState::Ready;
    e.endpoint_id = Some("ep-1".into());
    assert!(s.endpoint_cas(&mut e, 2).await.expect("cas"));
    assert_eq!((e.generation, e.updated_at), (1, 2));
    stale.state = EndpointState::Deleting;
    assert!(!s.endpoint_cas(&mut stale, 3).await.expect("cas"), "a stale writer loses");
    e.state = EndpointState::Deleted;
    assert!(s.endpoint_cas(&mut e, 4).await.expect("cas"));
    assert!(s.endpoints_live().await.expect("live").is_empty());
    s.endpoint_insert(&row(EndpointRecordId::new()))
        .await
        .expect("the name is free again once deleted");
}

async fn pod_logs_are_kept_in_order_and_bounded_per_job(db: Db) {
    let s = db.open().await;
    let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    s.job_insert(&j).await.expect("insert");
    let (att_1, att_2) = (AttemptId::new(), AttemptId::new());
    let n = podwarden_store::JOB_LOG_LINES_KEPT as usize + 5;
    let lines: Vec<(String, String, String)> =
        (0..n).map(|i| (format!("t{i}"), "container".into(), format!("line {i}"))).collect();
    for chunk in lines.chunks(1_000) {
        s.job_logs_append(j.id, att_1, chunk).await.expect("append");
    }
    let kept = s.job_logs(j.id, i64::MAX).await.expect("read");
    assert_eq!(kept.len(), podwarden_store::JOB_LOG_LINES_KEPT as usize, "bounded");
    assert_eq!(kept.first().map(|l| l.line.as_str()), Some("line 5"), "the oldest lines go first");
    assert_eq!(kept.last().map(|l| l.line.as_str()), Some(format!("line {}", n - 1).as_str()));
    assert_eq!(
        s.job_logs(j.id, 2).await.expect("tail").iter().map(|l| l.line.clone()).collect::<Vec<_>>(),
        [format!("line {}", n - 2), format!("line {}", n - 1)]
    );
    assert_eq!(s.job_logs_last_at(j.id, att_1).await.expect("last"), Some(format!("t{}", n - 1)));
    // A second attempt's pod resumes from its own lines (none yet), not the first pod's.
    assert_eq!(s.job_logs_last_at(j.id, att_2).await.expect("last"), None);
    let second = [("u0".to_owned(), "container".to_owned(), "second pod".to_owned())];
    s.job_logs_append(j.id, att_2, &second).await.expect("append");
    assert_eq!(s.job_logs_last_at(j.id, att_2).await.expect("last"), Some("u0".into()));
    let last = s.job_logs(j.id, 2).await.expect("tail");
    assert_eq!(last.iter().map(|l| l.attempt_id).collect::<Vec<_>>(), [Some(att_1), Some(att_2)]);
    // Lines are found by their text, wildcards in it taken literally, per attempt.
    let odd = [
        ("u1".to_owned(), "container".to_owned(), "exit: job=jobX1 code=1".to_owned()),
        ("u2".to_owned(), "container".to_owned(), "  exit: job=job_1 code=2".to_owned()),
        ("u3".to_owned(), "container".to_owned(), "exit: job=job_1 code=3".to_owned()),
    ];
    s.job_logs_append(j.id, att_2, &odd).await.expect("append");
    let found = s.job_logs_containing(j.id, att_2, "exit: job=job_1 code=", 1).await;
    assert_eq!(found.expect("find"), ["  exit: job=job_1 code=2"]);
    let found = s.job_logs_containing(j.id, att_1, "exit: job=job_1", 5).await;
    assert_eq!(found.expect("find"), Vec::<String>::new(), "another attempt's lines");
    let found = s.job_logs_containing(j.id, att_2, "job=job_1 code=1", 5).await;
    assert_eq!(found.expect("find"), Vec::<String>::new(), "_ is text, not any letter");
    let found = s.job_logs_containing(j.id, att_2, "job=%1 code=", 5).await;
    assert_eq!(found.expect("find"), Vec::<String>::new(), "% is text");
}

async fn one_replica_holds_an_account_and_a_deposed_ones_writes_are_refused(db: Db) {
    let (a, b) = (db.open().await, db.open().await);
    let (acct, ttl) = (&Account::Byok("u1".into()), 3_000);
    assert_eq!(a.lease_acquire(acct, "A", 0, ttl).await.expect("lease"), Some(1));
    assert_eq!(b.lease_acquire(acct, "B", 1_000, ttl).await.expect("lease"), None, "A holds it");
    assert_eq!(a.leases_renew("A", 2_000, ttl).await.expect("renew"), 1);
    assert_eq!(b.lease_acquire(acct, "B", 4_000, ttl).await.expect("lease"), None, "renewed");
    assert_eq!(a.lease_acquire(acct, "A", 4_500, ttl).await.expect("lease"), Some(1), "kept");

    let mut j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    j.account = acct.clone();
    a.job_insert(&j).await.expect("insert");
    let fence_a = podwarden_store::Fence { account: acct.clone(), holder: "A".into(), epoch: 1 };
    j.reason = Some("by A".into());
    let landed = podwarden_store::fenced(fence_a.clone(), a.job_cas(&mut j, 4_600)).await;
    assert!(landed.expect("A holds the lease"), "A's write lands");

    // A stalls past its lease; B takes the account over under a new epoch.
    assert_eq!(b.lease_acquire(acct, "B", 7_600, ttl).await.expect("lease"), Some(2));
    let before = b.job_get(j.id).await.expect("get").expect("job");
    let mut stale = j.clone();
    stale.reason = Some("by deposed A".into());
    let refused = podwarden_store::fenced(fence_a.clone(), a.job_cas(&mut stale, 7_700)).await;
    assert!(
        matches!(refused, Err(podwarden_store::StoreError::Fenced { ref account, epoch: 1 }) if account == acct),
        "{refused:?}"
    );
    let event = podwarden_store::fenced(
        fence_a,
        a.event_append(j.id, 7_700, EventKind::Exit, "late", None),
    )
    .await;
    assert!(matches!(event, Err(podwarden_store::StoreError::Fenced { .. })), "{event:?}");
    assert_eq!(b.job_get(j.id).await.expect("get").expect("job"), before, "nothing landed");
    assert!(b.events_since(j.id, 0, 10).await.expect("events").is_empty());
    let fence_b = podwarden_store::Fence { account: acct.clone(), holder: "B".into(), epoch: 2 };
    let mut row = before.clone();
    row.reason = Some("by B".into());
    assert!(
        podwarden_store::fenced(fence_b, b.job_cas(&mut row, 7_800)).await.expect("B holds it")
    );
    assert_eq!(a.lease_acquire(acct, "A", 8_000, ttl).await.expect("lease"), None);

    // A clean shutdown hands the account on at once, again under a new epoch.
    assert_eq!(b.leases_release("B").await.expect("release"), 1);
    assert_eq!(a.lease_acquire(acct, "A", 8_100, ttl).await.expect("lease"), Some(3));
    let leases = a.leases().await.expect("leases");
    assert_eq!((leases.len(), leases[0].holder.as_str(), leases[0].epoch), (1, "A", 3));
}

async fn a_replica_sees_another_replicas_writes_after_refresh_live(db: Db) {
    let (a, b) = (db.open().await, db.open().await);
    let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    b.job_insert(&j).await.expect("insert through replica B");
    b.attempt_insert(&running_attempt(&j, 0)).await.expect("attempt");
    assert_eq!(a.live().jobs().len(), 0, "A's memory has not seen B's write");
    a.refresh_live().await.expect("refresh");
    assert_eq!(a.live().job(j.id), Some(&j));
    assert_eq!(a.live().attempts().len(), 1);
    let mut settled = j.clone();
    settled.state = JobState::Cancelled;
    assert!(b.job_cas(&mut settled, 2_000).await.expect("cas"));
    a.refresh_live().await.expect("refresh");
    assert!(a.live().job(j.id).is_none(), "a job settled elsewhere leaves the set");
}

async fn the_live_set_is_indexed_by_account_and_by_pod(db: Db) {
    let s = db.open().await;
    let hosted = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    let mut byok = JobRow::new(JobId::new(), &spec(), "u1", "hash", 1_000);
    byok.account = Account::Byok("u1".into());
    s.job_insert(&hosted).await.expect("insert");
    s.job_insert(&byok).await.expect("insert");
    let mut ah = running_attempt(&hosted, 0);
    let ab = running_attempt(&byok, 0);
    s.attempt_insert(&ah).await.expect("attempt");
    s.attempt_insert(&ab).await.expect("attempt");
    {
        let live = s.live();
        let ids = |v: Vec<&AttemptRow>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(
            live.jobs_of(&Account::Byok("u1".into())).map(|j| &j.id).collect::<Vec<_>>(),
            [&byok.id]
        );
        assert_eq!(ids(live.attempts_of(&Account::Byok("u1".into()))), vec![ab.id]);
        assert_eq!(ids(live.attempts_of(&Account::Hosted)), vec![ah.id]);
        assert_eq!(live.attempt_of_pod(&ab.pod_name, "nope").map(|a| &a.id), Some(&ab.id));
        assert!(live.attempt_of_pod("nope", "pod1").is_some(), "by pod id");
    }
    // The byok job settles while its attempt still holds a pod: the user's account's engine
    // still acts on it (the operator's key cannot reach that pod).
    let mut settled = byok.clone();
    settled.state = JobState::Failed;
    assert!(s.job_cas(&mut settled, 2_000).await.expect("cas"));
    {
        let live = s.live();
        let ids = |v: Vec<&AttemptRow>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(live.jobs_of(&Account::Byok("u1".into())).count(), 0);
        assert_eq!(ids(live.attempts_of(&Account::Byok("u1".into()))), vec![ab.id]);
        assert_eq!(ids(live.attempts_of(&Account::Hosted)), vec![ah.id]);
        let with: Vec<&Account> = live.accounts_with_attempts().collect();
        assert!(with.contains(&&Account::Byok("u1".into())), "{with:?}");
    }
    // A pod id learnt later is indexed; a settled attempt leaves every index.
    ah.pod_id = Some("pod-new".into());
    assert!(s.attempt_cas(&mut ah).await.expect("cas"));
    assert_eq!(s.live().attempt_of_pod("x", "pod-new").map(|a| &a.id), Some(&ah.id));
    ah.state = AttemptState::Terminated;
    assert!(s.attempt_cas(&mut ah).await.expect("cas"));
    assert!(s.live().attempt_of_pod(&ah.pod_name, "pod-new").is_none());
    assert!(s.live().attempts_of(&Account::Hosted).is_empty());
    assert_eq!(s.live().attempts_of(&Account::Byok("u1".into())).len(), 1);
}

/// Postgres only: during a rolling upgrade a replica still on the previous version inserts an
/// attempt without an account; it takes its job's, so the new version reads it.
#[tokio::test]
async fn an_attempt_an_older_replica_inserts_takes_its_jobs_account() {
    use sqlx::Connection as _;
    let Some(db) = podwarden_store::testing::TestDb::postgres().await else { return };
    let s = db.open().await.expect("open");
    let mut j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    j.account = Account::hosted_on(podwarden_core::ProviderKind::Aws);
    s.job_insert(&j).await.expect("job");
    // The previous version's insert: every column but `account`.
    let mut old = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    sqlx::query(
        "INSERT INTO attempts (id, job_id, seq, state, generation, pod_name, gpu_type, gpu_count, cloud, \
         price_micros_per_hour, created_at, cost_micros, node) \
         VALUES ($1, $2, 1, 'intent', 0, 'pw-old', 'g4dn.xlarge', 1, 'aws', 526000, 1000, 0, 0)",
    )
    .bind(AttemptId::new().to_string())
    .bind(j.id.to_string())
    .execute(&mut old)
    .await
    .expect("an older replica's insert");
    let read = s.attempts_for_job(j.id).await.expect("the new version reads it");
    assert_eq!(read.iter().map(|a| &a.account).collect::<Vec<_>>(), [&j.account]);
}

/// Postgres only: a replica hears which rows another wrote (not its own) and reloads just those.
#[tokio::test]
async fn a_replica_hears_which_rows_another_wrote_and_reloads_them() {
    let Some(db) = podwarden_store::testing::TestDb::postgres().await else { return };
    let (a, b) = (db.open().await.expect("a"), db.open().await.expect("b"));
    let mut heard = a.listen().await.expect("listen").expect("a Postgres listener");
    let own = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    a.job_insert(&own).await.expect("a's own write");
    let theirs = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
    b.job_insert(&theirs).await.expect("b's write");
    let attempt = running_attempt(&theirs, 0);
    b.attempt_insert(&attempt).await.expect("b's attempt");
    use podwarden_store::notify::Notification;
    let mut rows = Vec::new();
    while rows.len() < 2 {
        match heard.recv().await.expect("notification") {
            Notification::Job(id) => rows.push((false, id.to_string())),
            Notification::Attempt(id) => rows.push((true, id.to_string())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        rows,
        [(false, theirs.id.to_string()), (true, attempt.id.to_string())],
        "not its own"
    );
    assert!(a.live().job(theirs.id).is_none());
    a.reload_rows(std::slice::from_ref(&theirs.id), std::slice::from_ref(&attempt.id))
        .await
        .expect("reload");
    assert_eq!(a.live().job(theirs.id), Some(&theirs));
    assert_eq!(a.live().attempt(attempt.id), Some(&attempt));
}

/// Postgres only: an event recorded through one replica wakes the others' event streams.
#[tokio::test]
async fn an_event_recorded_anywhere_is_announced_to_every_replica() {
    let Some(db) = podwarden_store::testing::TestDb::postgres().await else { return };
    let (a, b) = (db.open().await.expect("a"), db.open().await.expect("b"));
    let mut heard = a.listen().await.expect("listen").expect("a Postgres listener");
    let job = JobId::new();
    b.event_append(job, 1_000, EventKind::Exit, "hello", None).await.expect("event");
    b.notify_poke(&Account::Byok("u1".into())).await.expect("poke");
    use podwarden_store::notify::Notification;
    assert_eq!(heard.recv().await.expect("event"), Notification::Event { job: job.to_string() });
    assert_eq!(heard.recv().await.expect("poke"), Notification::Poke { account: "byok:u1".into() });
}

async fn an_invite_makes_one_user_with_its_cap_and_only_before_it_expires(db: Db) {
    use podwarden_store::{InviteRow, Redeem, UserRow};
    let s = db.open().await;
    let invite = |id: &str, hash: &str| InviteRow {
        id: id.into(),
        code_hash: hash.into(),
        created_by: "usr_admin".into(),
        created_at: 1,
        expires_at: 100,
        spend_cap: Some(Money(2_000_000)),
        note: "for ann".into(),
        redeemed_by: None,
        redeemed_at: None,
    };
    let user = |id: &str, name: &str, at: i64| UserRow {
        id: id.into(),
        name: name.into(),
        is_admin: false,
        created_at: at,
        spend_cap: None,
    };
    s.invite_insert(&invite("inv_1", "h1")).await.expect("store");
    s.invite_insert(&invite("inv_2", "h2")).await.expect("store");
    assert_eq!(
        s.invite_redeem("nope", &user("u0", "zed", 10)).await.expect("store"),
        Redeem::Invalid
    );
    assert_eq!(
        s.invite_redeem("h1", &user("u1", "ann", 10)).await.expect("store"),
        Redeem::Created
    );
    let ann = s.user_get("u1").await.expect("read").expect("the user");
    assert_eq!(ann.spend_cap, Some(Money(2_000_000)), "the invite's cap");
    assert!(!ann.is_admin);
    // Used once: a second redemption of the same code makes nobody.
    assert_eq!(
        s.invite_redeem("h1", &user("u2", "bob", 11)).await.expect("store"),
        Redeem::Invalid
    );
    assert!(s.user_get("u2").await.expect("store").is_none());
    // A taken name leaves the invite unused.
    assert_eq!(
        s.invite_redeem("h2", &user("u3", "ann", 12)).await.expect("store"),
        Redeem::NameTaken
    );
    let rows = s.invites().await.expect("store");
    assert_eq!(rows.iter().find(|i| i.id == "inv_2").expect("listed").redeemed_by, None);
    // It expires at 100: too late then, in time before.
    assert_eq!(
        s.invite_redeem("h2", &user("u4", "cy", 100)).await.expect("store"),
        Redeem::Invalid
    );
    assert_eq!(s.invite_redeem("h2", &user("u4", "cy", 99)).await.expect("store"), Redeem::Created);
    let rows = s.invites().await.expect("store");
    assert_eq!(
        rows.iter().find(|i| i.id == "inv_2").expect("listed").redeemed_by.as_deref(),
        Some("u4")
    );
}

async fn users_added_at_once_all_land_and_a_name_is_taken_once_whatever_its_case(db: Db) {
    use podwarden_store::UserRow;
    let s = db.open().await;
    let user = |i: usize, name: String| UserRow {
        id: format!("usr_{i}"),
        name,
        is_admin: false,
        created_at: i as i64,
        spend_cap: None,
    };
    // Forty inserts at once, in pairs that differ only in case: every one answers (no
    // "database busy"), and exactly one of each pair lands.
    let inserts: Vec<_> = (0..40)
        .map(|i| {
            let s = s.clone();
            let name = if i % 2 == 0 { format!("user{}", i / 2) } else { format!("USER{}", i / 2) };
            let u = user(i, name);
            tokio::spawn(async move { s.user_insert(&u).await })
        })
        .collect();
    // Other writes land meanwhile, as requests of other users do.
    let others: Vec<_> = (0..40)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.audit(&podwarden_store::AuditRow {
                    id: 0,
                    at: i,
                    user_id: "usr_other".into(),
                    op: "put".into(),
                    volume: "vol".into(),
                    path: None,
                    bytes: None,
                    result: "ok".into(),
                })
                .await
            })
        })
        .collect();
    for t in others {
        t.await.expect("the task").expect("the other write");
    }
    let mut landed = 0;
    for t in inserts {
        if t.await.expect("the task").expect("no store error under concurrent inserts") {
            landed += 1;
        }
    }
    assert_eq!(landed, 20, "one user per name, whatever its case");
    assert_eq!(s.users().await.expect("store").len(), 20);
    // A name may not be another user's id either.
    let id = s.users().await.expect("store")[0].id.to_uppercase();
    assert!(!s.user_insert(&user(99, id)).await.expect("store"));
}

/// A pod's log follower stores its lines while requests write elsewhere (a user's spend cap, a
/// webhook): none of its transactions is refused as busy. (A transaction that read before it
/// wrote was refused on SQLite at once, whatever the busy timeout, when another write committed
/// in between: its follower stopped for two seconds, and the job's teardown waited for it.)
async fn log_lines_stored_while_other_writes_land_are_never_refused_as_busy(db: Db) {
    use podwarden_store::UserRow;
    let s = db.open().await;
    let user = UserRow {
        id: "usr_1".into(),
        name: "u".into(),
        is_admin: false,
        created_at: 0,
        spend_cap: None,
    };
    s.user_insert(&user).await.expect("user");
    let mut jobs = Vec::new();
    for _ in 0..3 {
        let j = JobRow::new(JobId::new(), &spec(), "local", "hash", 1_000);
        s.job_insert(&j).await.expect("insert");
        jobs.push(j.id);
    }
    let followers: Vec<_> = jobs
        .iter()
        .map(|job| {
            let (s, job) = (s.clone(), *job);
            tokio::spawn(async move {
                for i in 0..60 {
                    let line = (
                        format!("2026-01-01T00:00:00Z/{i:012}"),
                        "container".into(),
                        format!("line {i}"),
                    );
                    s.job_logs_append(job, AttemptId::new(), &[line]).await?;
                }
                Ok::<_, podwarden_store::StoreError>(())
            })
        })
        .collect();
    let requests: Vec<_> = (0..2)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..60 {
                    if k == 0 {
                        s.user_set_spend_cap("usr_1", Some(Money(i))).await?;
                    } else {
                        s.webhook_set("usr_1", &format!("https://example.com/{i}"), i).await?;
                    }
                }
                Ok::<_, podwarden_store::StoreError>(())
            })
        })
        .collect();
    for t in followers.into_iter().chain(requests) {
        t.await.expect("the task").expect("every write lands");
    }
    for job in &jobs {
        assert_eq!(s.job_logs(*job, 1000).await.expect("logs").len(), 60);
    }
}
