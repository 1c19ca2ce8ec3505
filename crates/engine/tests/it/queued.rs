//! Jobs that wait for capacity instead of failing: with no offer in stock a job is `queued`
//! with the reason, costs nothing, is not charged a retry, looks again every 30 s, starts when
//! stock comes (its `max_runtime` counted from its first pod, not from its wait), and fails
//! with the reason once its `limits.start_within` has passed.

use podwarden_core::JobId;
use podwarden_core::Money;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::JobState;
use podwarden_engine::{Engine, RunPodProvider};
use runpod_emulator::RunningEmulator;
use runpod_emulator::config::Stock;
use std::time::Duration;

const L40S: &str = "NVIDIA L40S";

/// An L40S job in EU-RO-1 (no other type or data center), with `limits` in its `[limits]`.
fn spec(limits: &str) -> JobSpec {
    JobSpec::from_toml(
        "job.toml",
        &format!(
            "name = \"wait\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 3600\"\ndata_centers = [\"EU-RO-1\"]\n[gpu]\ntypes = [\"{L40S}\"]\n[retry]\nallow_other_gpu_types = false\nattempts = 2\n[limits]\n{limits}"
        ),
    )
    .expect("spec")
}

/// The emulator with no L40S in stock in EU-RO-1 (US-TX-3 has some: the type exists).
async fn setup() -> (RunningEmulator, Engine<RunPodProvider>) {
    podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        let l40s = c.gpus.iter_mut().find(|g| g.id == L40S).expect("L40S");
        l40s.stock.insert("EU-RO-1".into(), Stock { secure: 0, community: 0 });
    })
    .await
}

fn stock(emu: &RunningEmulator, n: i64) {
    emu.shared.with_world(|w, _| {
        w.catalog
            .free
            .insert((L40S.to_owned(), "EU-RO-1".to_owned()), Stock { secure: n, community: 0 });
    });
}

async fn job(e: &Engine<RunPodProvider>, id: JobId) -> podwarden_store::JobRow {
    e.store().job_get(id).await.expect("get").expect("job")
}

#[tokio::test]
async fn a_job_without_capacity_waits_queued_with_its_reason_and_starts_when_stock_comes() {
    let (emu, e) = setup().await;
    let id = e.submit(spec("max_runtime = \"10m\"\n"), "local").await.expect("submit").job;
    e.tick().await.expect("tick");
    let j = job(&e, id).await;
    assert_eq!(j.state, JobState::Queued, "{:?}", j.reason);
    let reason = j.reason.clone().unwrap_or_default();
    assert!(reason.contains("stock") && reason.contains("waiting, next check in 30 s"), "{reason}");
    assert_eq!(j.attempts_made, 0, "a wait is not a retry");
    assert_eq!((j.started_at, j.deadline_at), (None, None), "not started while it waits");
    let since = j.queued_at.expect("queued since");

    // Ten minutes of waiting: still queued (no attempt is spent on the wait), nothing bills.
    for _ in 0..20 {
        emu.advance(Duration::from_secs(30));
        e.tick().await.expect("tick");
    }
    let j = job(&e, id).await;
    assert_eq!((j.state, j.attempts_made, j.queued_at), (JobState::Queued, 0, Some(since)));
    assert!(e.store().attempts_for_job(id).await.expect("attempts").is_empty());
    assert_eq!(j.spent, Money::ZERO);

    // Stock comes: the next check launches it.
    stock(&emu, 2);
    emu.advance(Duration::from_secs(30));
    for _ in 0..10 {
        e.tick().await.expect("tick");
        if job(&e, id).await.state == JobState::Running {
            break;
        }
        emu.advance(Duration::from_secs(5));
    }
    let j = job(&e, id).await;
    assert_eq!(j.state, JobState::Running, "{:?}", j.reason);
    assert_eq!(j.queued_at, None);
    // Its ten minutes run from its pod, not from its submit.
    let started = j.started_at.expect("started");
    assert!(started - since >= 600_000, "started {} ms after it queued", started - since);
    assert_eq!(j.deadline_at, Some(started + 600_000));
}

#[tokio::test]
async fn a_job_still_without_capacity_after_start_within_fails_saying_why() {
    let (emu, e) = setup().await;
    let id = e.submit(spec("start_within = \"2m\"\n"), "local").await.expect("submit").job;
    e.tick().await.expect("tick");
    assert_eq!(job(&e, id).await.state, JobState::Queued);
    for _ in 0..10 {
        emu.advance(Duration::from_secs(30));
        e.tick().await.expect("tick");
        if job(&e, id).await.state.is_final() {
            break;
        }
    }
    let j = job(&e, id).await;
    assert_eq!(j.state, JobState::Failed, "{:?}", j.reason);
    let reason = j.reason.unwrap_or_default();
    assert!(
        reason.contains("waited 2m (limits.start_within)") && reason.contains("stock"),
        "{reason}"
    );
    assert!(!reason.contains("next check"), "the reason is the wait's, not a promise: {reason}");
    assert_eq!(j.spent, Money::ZERO);
}

#[tokio::test]
async fn start_within_zero_fails_at_once_as_before() {
    let (_emu, e) = setup().await;
    let id = e.submit(spec("start_within = \"0s\"\n"), "local").await.expect("submit").job;
    e.tick().await.expect("queued");
    e.tick().await.expect("gives up");
    let j = job(&e, id).await;
    assert!(
        matches!(j.state, JobState::Failed | JobState::TearingDown),
        "{:?} {:?}",
        j.state,
        j.reason
    );
}

/// A queued hosted job holds its estimate of its owner's spend cap, not its budget: another
/// job fits beside it. Before its pod is made it takes its budget back, waiting with the cap as
/// its reason while less than its estimate is left, and starting once there is room.
#[tokio::test]
async fn a_queued_job_holds_only_its_estimate_of_the_spend_cap() {
    let (emu, e) = setup().await;
    let usd = Money::from_usd;
    podwarden_store::testing::capped_user(e.store(), "ann", usd(10.0)).await;
    // 58 minutes and the 2-minute boot at the L40S's $0.86/h: a $0.86 estimate.
    let a =
        e.submit(spec("budget_usd = 6.0\nmax_runtime = \"58m\"\n"), "ann").await.expect("a").job;
    e.tick().await.expect("tick");
    assert_eq!(job(&e, a).await.state, JobState::Queued);
    assert_eq!(job(&e, a).await.queued_hold, Some(usd(0.86)));
    assert_eq!(e.store().hosted_committed("ann").await.expect("sum"), usd(0.86));

    // $8 fits beside it (its $6 budget would have left $4).
    let mut in_texas = spec("budget_usd = 8.0\n");
    in_texas.data_centers = vec!["US-TX-3".into()];
    let b = e.submit(in_texas, "ann").await.expect("b fits beside the queued job").job;
    e.tick().await.expect("tick");
    assert!(!e.store().attempts_for_job(b).await.expect("attempts").is_empty(), "b launched");

    // The cap is lowered to $8.50 and stock comes: $0.50 is left, less than A's estimate. A
    // waits, saying so, and nothing of it is made.
    assert!(e.store().user_set_spend_cap("ann", Some(usd(8.5))).await.expect("cap"));
    stock(&emu, 1);
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("tick");
    let j = job(&e, a).await;
    assert_eq!(j.state, JobState::Queued, "{:?}", j.reason);
    let reason = j.reason.unwrap_or_default();
    assert!(
        reason.contains("spend cap of $8.5000 has $0.5000 left")
            && reason.contains("needs up to $0.8600 (its estimate)")
            && reason.contains("next check in 30 s"),
        "{reason}"
    );
    assert!(e.store().attempts_for_job(a).await.expect("attempts").is_empty());
    assert_eq!(j.queued_hold, Some(usd(0.86)), "still only its estimate");

    // B ends: A takes its budget back ($6 of the room left) and starts.
    e.cancel(b).await.expect("cancel b");
    for _ in 0..10 {
        emu.advance(Duration::from_secs(30));
        e.tick().await.expect("tick");
        if !e.store().attempts_for_job(a).await.expect("attempts").is_empty() {
            break;
        }
    }
    let j = job(&e, a).await;
    assert!(!e.store().attempts_for_job(a).await.expect("attempts").is_empty(), "{:?}", j.reason);
    assert_eq!((j.queued_hold, j.budget), (None, Some(usd(6.0))));
    let committed = e.store().hosted_committed("ann").await.expect("sum");
    assert!(committed <= usd(8.5), "{committed}");
}

/// A job admitted with what was left of the cap as its budget holds no more than that budget
/// while it waits, and starts when a GPU comes, however much its estimate is.
#[tokio::test]
async fn a_queued_job_never_needs_more_than_its_own_budget_to_start() {
    let (emu, e) = setup().await;
    let usd = Money::from_usd;
    podwarden_store::testing::capped_user(e.store(), "bo", usd(0.5)).await;
    // An hour of L40S is an $0.89 estimate; the job's budget is the cap's $0.50.
    let a = e.submit(spec(""), "bo").await.expect("a").job;
    e.tick().await.expect("tick");
    let j = job(&e, a).await;
    assert_eq!(
        (j.state, j.budget, j.queued_hold),
        (JobState::Queued, Some(usd(0.5)), Some(usd(0.5)))
    );
    stock(&emu, 1);
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("tick");
    let j = job(&e, a).await;
    assert!(!e.store().attempts_for_job(a).await.expect("attempts").is_empty(), "{:?}", j.reason);
    assert_eq!((j.budget, j.queued_hold), (Some(usd(0.5)), None));
}

/// A job waiting on AWS whose spec allows RunPod is taken by the RunPod account when RunPod
/// lists a GPU for it, but only while it is queued, only if its spec lists RunPod, only once
/// nothing of it is left on AWS, and, when it already spent, only between accounts the spend
/// cap counts alike; its earlier instance's bill stays with the AWS account.
#[tokio::test]
async fn a_queued_job_is_taken_from_another_cloud_only_once_nothing_of_it_is_left_there() {
    use podwarden_core::{Account, AttemptId, ProviderKind};
    let (_emu, e) = setup().await;
    let aws = Account::hosted_on(ProviderKind::Aws);
    let waiting = |providers: &str| {
        let spec = JobSpec::from_toml(
            "job.toml",
            &format!(
                "name = \"either\"\nprovider = \"aws\"\nproviders = {providers}\nimage = \"python:3.11-slim\"\ncommand = \"true\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nbudget_usd = 2.0\n"
            ),
        )
        .expect("spec");
        let mut j = podwarden_store::JobRow::new(JobId::new(), &spec, "local", "hash", 0);
        (j.account, j.state, j.next_attempt_at) = (aws.clone(), JobState::Queued, Some(30_000));
        j
    };
    let both = waiting("[\"aws\", \"runpod\"]");
    // Its env names the account's secrets: the operator's RunPod account fills them from its
    // own, so only an admin's job may move there.
    let mut secret = waiting("[\"aws\", \"runpod\"]");
    let mut with_env = secret.spec().expect("spec");
    with_env.env.insert("T".into(), "{{ RUNPOD_SECRET_pw-tok-x }}".into());
    secret.spec = serde_json::to_string(&with_env).expect("json");
    let mut admins = secret.clone();
    (admins.id, admins.owner) = (JobId::new(), "root".into());
    let root = podwarden_store::UserRow {
        id: "root".into(),
        name: "root".into(),
        is_admin: true,
        created_at: 0,
        spend_cap: None,
    };
    assert!(e.store().user_insert(&root).await.expect("admin"));
    let aws_only = waiting("[\"aws\"]");
    let mut running = waiting("[\"aws\", \"runpod\"]");
    running.state = JobState::Provisioning;
    // An instance was made for each on AWS: `made`'s ended, `live`'s is still running, and
    // `own`'s (on the owner's own AWS key, not counted by the operator's cap) ended.
    let made = waiting("[\"aws\", \"runpod\"]");
    let live = waiting("[\"aws\", \"runpod\"]");
    let mut own = waiting("[\"aws\", \"runpod\"]");
    own.account = Account::byok_on(ProviderKind::Aws, "local");
    for j in [&both, &aws_only, &running, &made, &live, &own, &secret, &admins] {
        e.store().job_insert(j).await.expect("insert");
    }
    let instance = |job: &podwarden_store::JobRow, state| podwarden_store::AttemptRow {
        id: AttemptId::new(),
        job_id: job.id,
        seq: 1,
        state,
        generation: 0,
        pod_name: format!("pw-{}", job.id),
        pod_id: Some("i-0123".into()),
        gpu_type: "g4dn.xlarge".into(),
        gpu_count: 1,
        cloud: "aws".into(),
        data_center: None,
        price_per_hour: Money::from_usd(0.526),
        created_at: 0,
        booted_at: None,
        ended_at: Some(1_000),
        billed_until: None,
        cost: Money::ZERO,
        reason: None,
        node: 0,
        exit_code: None,
        account: job.account.clone(),
    };
    use podwarden_core::state::AttemptState::{Running, Terminated};
    for (j, state) in [(&made, Terminated), (&live, Running), (&own, Terminated)] {
        e.store().attempt_insert(&instance(j, state)).await.expect("attempt");
    }

    for j in [&aws_only, &running, &live, &own, &secret] {
        assert!(!e.take_queued_job(j.id).await.expect("offer"), "{:?} stays", j.spec);
        assert_eq!(job(&e, j.id).await.account, j.account);
    }
    // Its instance ended and the operator paid for it as for the pods it makes next.
    assert!(e.take_queued_job(made.id).await.expect("offer"), "nothing of it left on AWS");
    assert_eq!(job(&e, made.id).await.account, Account::Hosted);
    let settled = e.store().attempts_for_job(made.id).await.expect("attempts");
    assert_eq!(settled[0].account, aws, "its instance's bill is still AWS's");
    assert!(e.take_queued_job(admins.id).await.expect("offer"), "an admin's may name them");
    assert!(e.take_queued_job(both.id).await.expect("offer"), "RunPod lists a 16 GB GPU");
    let moved = job(&e, both.id).await;
    assert_eq!((&moved.account, moved.state), (&Account::Hosted, JobState::Queued));
    assert_eq!(moved.spec().expect("spec").provider, Some(ProviderKind::RunPod));
    assert!(moved.next_attempt_at <= Some(e.now_ms()), "due here at once");
    assert!(!e.take_queued_job(both.id).await.expect("offer"), "already on RunPod");

    // It launches here now.
    e.tick().await.expect("tick");
    assert!(!e.store().attempts_for_job(both.id).await.expect("attempts").is_empty());
}
