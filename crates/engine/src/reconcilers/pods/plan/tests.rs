//! The planner's decisions, one snapshot at a time.

use super::*;
use podwarden_core::money::Money;
use podwarden_core::{AttemptId, JobId};

const INSTALL: &str = "inst0001";

fn spec() -> JobSpec {
    JobSpec::from_toml(
        "t",
        "name=\"t\"\nimage=\"i\"\ncommand=\"c\"\n[gpu]\nmin_vram_gb=8\n[limits]\nbudget_usd=1.0\nboot_timeout=\"5m\"\n",
    )
    .expect("spec")
}

fn job(state: &str) -> (JobRow, JobSpec) {
    let state: JobState = state.parse().expect("a job state");
    let mut j = JobRow::new(JobId::new(), &spec(), "local", "h", 0);
    j.state = state;
    j.attempts_made = 1;
    (j, spec())
}

fn attempt(job: &JobRow, state: &str, pod_id: Option<&str>) -> AttemptRow {
    let id = AttemptId::new();
    let state: AttemptState = state.parse().expect("an attempt state");
    AttemptRow {
        id,
        job_id: job.id,
        seq: 1,
        state,
        generation: 0,
        pod_name: podwarden_core::ids::pod_name(INSTALL, id),
        pod_id: pod_id.map(str::to_owned),
        gpu_type: "A4000".into(),
        gpu_count: 1,
        cloud: "secure".into(),
        data_center: None,
        price_per_hour: Money(250_000),
        created_at: 0,
        booted_at: None,
        ended_at: None,
        billed_until: None,
        cost: Money(0),
        reason: None,
        node: 0,
        exit_code: None,
        account: job.account.clone(),
    }
}

fn pod(a: &AttemptRow, id: &str, phase: PodPhase) -> PodInfo {
    PodInfo {
        id: id.into(),
        name: a.pod_name.clone(),
        phase,
        data_center: None,
        cost_per_hour: Money::from_usd(0.25),
    }
}

/// Empty side tables of a snapshot.
static NO_NOTES: std::sync::LazyLock<HashMap<AttemptId, String>> =
    std::sync::LazyLock::new(HashMap::new);
static NO_DEADLINES: std::sync::LazyLock<HashMap<AttemptId, i64>> =
    std::sync::LazyLock::new(HashMap::new);
static NO_SILENT: std::sync::LazyLock<HashMap<AttemptId, (i64, String)>> =
    std::sync::LazyLock::new(HashMap::new);
static NO_CREATES: std::sync::LazyLock<HashSet<AttemptId>> = std::sync::LazyLock::new(HashSet::new);

/// A snapshot of `jobs`, `attempts` and `pods` at `now`, with nothing else going on.
fn snapshot<'a>(
    now: i64,
    jobs: &'a [(&'a JobRow, &'a JobSpec)],
    attempts: &'a [&'a AttemptRow],
    pods: &'a [PodInfo],
) -> Snapshot<'a> {
    Snapshot {
        now,
        install: INSTALL,
        jobs,
        attempts,
        other_accounts: &[],
        pods,
        creating: &NO_CREATES,
        intent_grace_ms: INTENT_GRACE_MS,
        boot_failed: &NO_NOTES,
        boot_notes: &NO_NOTES,
        boot_deadlines: &NO_DEADLINES,
        silent_wrappers: &NO_SILENT,
        wrapper_start_ms: 600_000,
        watchdog_ceiling_ms: 24 * 3_600_000,
    }
}

fn run(
    now: i64,
    jobs: &[(JobRow, JobSpec)],
    attempts: &[AttemptRow],
    pods: &[PodInfo],
    creating: &[AttemptId],
) -> Vec<Action> {
    let creating: HashSet<AttemptId> = creating.iter().copied().collect();
    let jobs: Vec<(&JobRow, &JobSpec)> = jobs.iter().map(|(j, s)| (j, s)).collect();
    let attempts: Vec<&AttemptRow> = attempts.iter().collect();
    plan(&Snapshot { creating: &creating, ..snapshot(now, &jobs, &attempts, pods) })
}

#[test]
fn a_pod_of_another_accounts_attempt_is_neither_touched_nor_an_orphan() {
    // A user's own key can be the operator's account: both engines then list the same pods.
    let (mine, theirs) = (job("running"), job("running"));
    let a = attempt(&mine.0, "running", Some("mine"));
    let b = attempt(&theirs.0, "running", Some("theirs"));
    let pods = vec![pod(&a, "mine", PodPhase::Running), pod(&b, "theirs", PodPhase::Running)];
    let creating = HashSet::new();
    let jobs = [(&mine.0, &mine.1)];
    let acts = plan(&Snapshot {
        other_accounts: &[&b],
        creating: &creating,
        ..snapshot(1, &jobs, &[&a], &pods)
    });
    assert!(acts.is_empty(), "{acts:?}");
    let without = run(1, &[mine], &[a], &pods, &[]);
    assert!(
        matches!(&without[..], [Action::Terminate { pod_id, attempt: None, .. }] if pod_id == "theirs"),
        "without it, an orphan: {without:?}"
    );
}

#[test]
fn intents_are_adopted_when_their_pod_exists_and_abandoned_after_grace() {
    let j = job("provisioning");
    let a = attempt(&j.0, "intent", None);
    let p = pod(&a, "pod1", PodPhase::Booting);
    assert_eq!(
        run(1, std::slice::from_ref(&j), std::slice::from_ref(&a), &[p], &[]),
        [Action::Adopt { attempt: a.id, pod_id: "pod1".into() }]
    );
    assert!(
        run(INTENT_GRACE_MS - 1, std::slice::from_ref(&j), std::slice::from_ref(&a), &[], &[])
            .is_empty(),
        "within grace"
    );
    assert!(
        run(INTENT_GRACE_MS, std::slice::from_ref(&j), std::slice::from_ref(&a), &[], &[a.id])
            .is_empty(),
        "a create in flight is never abandoned"
    );
    assert!(matches!(run(INTENT_GRACE_MS, &[j], &[a], &[], &[])[0], Action::Abandon { .. }));
}

#[test]
fn orphans_are_terminated_and_foreign_pods_are_not_touched() {
    let j = job("running");
    let a = attempt(&j.0, "running", Some("mine"));
    let orphan_att = attempt(&j.0, "terminated", Some("x"));
    let pods = vec![
        pod(&a, "mine", PodPhase::Running),
        pod(&orphan_att, "orphan", PodPhase::Running),
        PodInfo {
            id: "user-pod".into(),
            name: "my jupyter".into(),
            phase: PodPhase::Running,
            data_center: None,
            cost_per_hour: Money::ZERO,
        },
        PodInfo {
            id: "other-install".into(),
            name: format!("pw-zzzz9999-{}", AttemptId::new().hex()),
            phase: PodPhase::Running,
            data_center: None,
            cost_per_hour: Money::ZERO,
        },
    ];
    let acts = run(1, &[j], &[a], &pods, &[]);
    assert_eq!(
        acts,
        [Action::Terminate {
            pod_id: "orphan".into(),
            attempt: None,
            reason: "orphan: no live attempt owns this pod".into()
        }]
    );
}

#[test]
fn a_vanished_or_stopped_pod_interrupts_its_job() {
    let j = job("running");
    let a = attempt(&j.0, "running", Some("p"));
    let acts = run(1, std::slice::from_ref(&j), std::slice::from_ref(&a), &[], &[]);
    assert!(acts.contains(&Action::Gone {
        attempt: a.id,
        reason: "the pod vanished at the provider".into()
    }));
    assert!(acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, .. })));
    let stopped = [pod(&a, "p", PodPhase::Stopped)];
    let acts = run(1, std::slice::from_ref(&j), std::slice::from_ref(&a), &stopped, &[]);
    assert!(matches!(&acts[0], Action::Terminate { reason, .. } if reason.contains("preempted")));
    assert!(acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, .. })));
    // Its offer learns of the loss (it had booted).
    assert!(acts.contains(&Action::Learn { attempt: a.id, event: OfferEvent::Lost }), "{acts:?}");
    // Stopped at the watchdog's time (24 h here; no max_runtime): the watchdog did it. The
    // job timed out and is not relaunched, whatever retries it has left.
    let mut j = j;
    j.0.budget = None;
    let acts =
        run(24 * 3_600_000, std::slice::from_ref(&j), std::slice::from_ref(&a), &stopped, &[]);
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.ends_with("time ceiling (24 h)")),
        "{acts:?}"
    );
    assert!(
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::DeadlinePassed, reason, .. } if reason.contains("watchdog"))),
        "{acts:?}"
    );
    assert!(!acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, .. })));
    // Gone at that time (an EC2 instance's `shutdown` terminates it): the same, not a vanished
    // pod relaunched (the review of the AWS provider found it relaunched).
    let acts = run(24 * 3_600_000, &[j], std::slice::from_ref(&a), &[], &[]);
    assert!(
        acts.iter().any(
            |x| matches!(x, Action::Gone { reason, .. } if reason.ends_with("time ceiling (24 h)"))
        ),
        "{acts:?}"
    );
    assert!(
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::DeadlinePassed, .. })),
        "{acts:?}"
    );
    assert!(!acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, .. })));
}

#[test]
fn boot_timeout_terminates_a_hanging_pod() {
    let j = job("provisioning");
    let a = attempt(&j.0, "created", Some("p"));
    let p = pod(&a, "p", PodPhase::Booting);
    assert!(
        run(
            299_999,
            std::slice::from_ref(&j),
            std::slice::from_ref(&a),
            std::slice::from_ref(&p),
            &[]
        )
        .is_empty()
    );
    let acts = run(
        300_000,
        std::slice::from_ref(&j),
        std::slice::from_ref(&a),
        std::slice::from_ref(&p),
        &[],
    );
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.contains("did not boot within 300 s")),
        "{acts:?}"
    );
    assert!(acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, .. })));
    // What the pod's host last said is the cause the reason carries.
    let notes: HashMap<AttemptId, String> = [(a.id, "pulling image huge:1".into())].into();
    let jobs = [(&j.0, &j.1)];
    let acts = plan(&Snapshot {
        boot_notes: &notes,
        ..snapshot(300_000, &jobs, &[&a], std::slice::from_ref(&p))
    });
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.ends_with("its host's last word: pulling image huge:1")),
        "{acts:?}"
    );
}

/// A learned deadline (this image's boots on this offer) ends a hanging pod before the job's
/// boot timeout and says why; a deadline past the job's own changes nothing.
#[test]
fn a_learned_boot_deadline_ends_a_dud_before_the_jobs_timeout() {
    let j = job("provisioning");
    let a = attempt(&j.0, "created", Some("p"));
    let p = pod(&a, "p", PodPhase::Booting);
    let jobs = [(&j.0, &j.1)];
    let at = |now: i64, deadline: i64| {
        let deadlines: HashMap<AttemptId, i64> = [(a.id, deadline)].into();
        plan(&Snapshot {
            boot_deadlines: &deadlines,
            ..snapshot(now, &jobs, &[&a], std::slice::from_ref(&p))
        })
    };
    assert!(at(179_999, 180_000).is_empty());
    let acts = at(180_000, 180_000);
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.contains("did not boot within 180 s") && reason.contains("this image's boots on this offer")),
        "{acts:?}"
    );
    assert!(acts.contains(&Action::LearnedDeadlinePassed { attempt: a.id, deadline_ms: 180_000 }));
    assert!(acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, .. })));
    // The job's 5-minute timeout stands against a longer learned one.
    assert!(at(299_999, 900_000).is_empty());
    let acts = at(300_000, 900_000);
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.contains("did not boot within 300 s") && !reason.contains("this image")),
        "{acts:?}"
    );
}

/// A running container that printed and never started the wrapper is ended and its job given
/// up once `wrapper_start_ms` has passed since its first line; before that, or once the
/// wrapper started (no entry), nothing happens.
#[test]
fn a_container_whose_entrypoint_ignores_its_arguments_gives_the_job_up() {
    let j = job("running");
    let a = attempt(&j.0, "running", Some("p"));
    let p = pod(&a, "p", PodPhase::Running);
    let jobs = [(&j.0, &j.1)];
    let at_with = |a: &AttemptRow,
                   jobs: &[(&JobRow, &JobSpec)],
                   now: i64,
                   silent: &HashMap<AttemptId, (i64, String)>| {
        plan(&Snapshot {
            silent_wrappers: silent,
            ..snapshot(now, jobs, &[a], std::slice::from_ref(&p))
        })
    };
    let at = |now: i64, silent: &HashMap<AttemptId, (i64, String)>| at_with(&a, &jobs, now, silent);
    let silent: HashMap<AttemptId, (i64, String)> =
        [(a.id, (1_000, "serving on :80".into()))].into();
    // Ten minutes (the engine's `wrapper_start_ms`) after the first line.
    assert!(at(600_999, &silent).is_empty());
    let acts = at(601_000, &silent);
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.contains("ENTRYPOINT") && reason.contains("serving on :80")),
        "{acts:?}"
    );
    assert!(
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::GiveUp, .. })),
        "{acts:?}"
    );
    assert!(at(601_000, &HashMap::new()).is_empty());
    // An exit was recorded (the callback came though the start line was never read): the
    // job ends by its exit, not given up; a node's exit likewise.
    let exited = AttemptRow { exit_code: Some(0), ..a.clone() };
    let gave_up = |acts: Vec<Action>| {
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::GiveUp, .. }))
    };
    assert!(!gave_up(at_with(&exited, &jobs, 601_000, &silent)));
    let mut done = j.0.clone();
    done.exit_code = Some(0);
    let done_jobs = [(&done, &j.1)];
    let acts = at_with(&a, &done_jobs, 601_000, &silent);
    assert!(!gave_up(acts.clone()), "{acts:?}");
    assert!(
        !acts.iter().any(
            |x| matches!(x, Action::Terminate { reason, .. } if reason.contains("ENTRYPOINT"))
        )
    );
}

#[test]
fn a_pod_whose_image_cannot_be_pulled_is_terminated_before_the_boot_timeout() {
    let j = job("provisioning");
    let a = attempt(&j.0, "created", Some("p"));
    let p = pod(&a, "p", PodPhase::Booting);
    let creating = HashSet::new();
    let jobs = [(&j.0, &j.1)];
    let failed: HashMap<AttemptId, String> = [(
        a.id,
        crate::jobs::boot_failure("system", "error pulling image \"x\": manifest unknown")
            .expect("a pull failure"),
    )]
    .into();
    let acts = plan(&Snapshot {
        creating: &creating,
        boot_failed: &failed,
        ..snapshot(1, &jobs, &[&a], std::slice::from_ref(&p))
    });
    assert!(
        matches!(&acts[0], Action::Terminate { reason, .. } if reason.contains("cannot be pulled") && reason.contains("manifest unknown")),
        "{acts:?}"
    );
    assert!(
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::GiveUp, .. })),
        "the same image would fail the next pod too: {acts:?}"
    );
    assert!(run(1, &[j], &[a], &[p], &[]).is_empty(), "without the log line, it waits");
}

#[test]
fn budget_alerts_then_stop_and_deadlines_stop() {
    let (mut j, sp) = job("running");
    let a = attempt(&j, "running", Some("p"));
    let p = pod(&a, "p", PodPhase::Running);
    j.spent = Money(850_000);
    let acts =
        run(1, &[(j.clone(), sp.clone())], std::slice::from_ref(&a), std::slice::from_ref(&p), &[]);
    assert_eq!(acts, [Action::BudgetAlert { job: j.id, pct: 80, spent: Money(850_000) }]);
    j.alert_pct = 80;
    j.spent = Money(1_000_000);
    let acts =
        run(1, &[(j.clone(), sp.clone())], std::slice::from_ref(&a), std::slice::from_ref(&p), &[]);
    assert_eq!(
        acts[0],
        Action::BudgetAlert { job: j.id, pct: 90, spent: Money(1_000_000) },
        "a skipped level is still reported"
    );
    assert!(matches!(&acts[1], Action::Job { event: JobEvent::BudgetExhausted, .. }));
    j.alert_pct = 90;
    let acts =
        run(1, &[(j.clone(), sp.clone())], std::slice::from_ref(&a), std::slice::from_ref(&p), &[]);
    assert!(
        matches!(&acts[..], [Action::Job { event: JobEvent::BudgetExhausted, .. }]),
        "{acts:?}"
    );
    // The stop comes early enough to pay for the next passes and the terminate: $0.25/h
    // for 15 s is 1042 micro-USD, so 1000 short of the budget is too late to go on, and
    // 1100 short is not.
    j.spent = Money(999_000);
    let stops = |j: &JobRow| {
        run(1, &[(j.clone(), sp.clone())], std::slice::from_ref(&a), std::slice::from_ref(&p), &[])
    };
    assert!(matches!(&stops(&j)[..], [Action::Job { event: JobEvent::BudgetExhausted, .. }]));
    j.spent = Money(998_900);
    assert!(stops(&j).is_empty());
    j.spent = Money(0);
    j.deadline_at = Some(10);
    assert!(matches!(
        &run(10, &[(j, sp)], &[a], &[p], &[])[0],
        Action::Job { event: JobEvent::DeadlinePassed, .. }
    ));
}

#[test]
fn exit_codes_end_jobs_and_teardown_settles_only_when_gone() {
    let (mut j, sp) = job("running");
    let a = attempt(&j, "running", Some("p"));
    let p = pod(&a, "p", PodPhase::Running);
    j.exit_code = Some(0);
    assert!(matches!(
        &run(
            1,
            &[(j.clone(), sp.clone())],
            std::slice::from_ref(&a),
            std::slice::from_ref(&p),
            &[]
        )[0],
        Action::Job { event: JobEvent::Exited { success: true }, .. }
    ));
    j.state = JobState::TearingDown;
    j.outcome = Some("succeeded".into());
    j.teardown_at = Some(100);
    assert!(
        run(
            99,
            &[(j.clone(), sp.clone())],
            std::slice::from_ref(&a),
            std::slice::from_ref(&p),
            &[]
        )
        .is_empty(),
        "keep-alive"
    );
    assert_eq!(
        run(
            100,
            &[(j.clone(), sp.clone())],
            std::slice::from_ref(&a),
            std::slice::from_ref(&p),
            &[]
        ),
        [Action::Terminate { pod_id: "p".into(), attempt: Some(a.id), reason: "teardown".into() }]
    );
    assert!(matches!(
        &run(100, &[(j, sp)], &[], &[], &[])[0],
        Action::Job { event: JobEvent::Settled, .. }
    ));
}

#[test]
fn recovering_jobs_relaunch_until_attempts_run_out() {
    let (mut j, sp) = job("recovering");
    j.next_attempt_at = Some(50);
    assert!(run(49, &[(j.clone(), sp.clone())], &[], &[], &[]).is_empty(), "backing off");
    assert_eq!(run(50, &[(j.clone(), sp.clone())], &[], &[], &[]), [Action::Launch { job: j.id }]);
    j.attempts_made = 3;
    assert!(matches!(
        &run(50, &[(j, sp)], &[], &[], &[])[0],
        Action::Job { event: JobEvent::GiveUp, .. }
    ));
}

/// A multi-node job: booted only once every node runs; a node without a pod interrupts it
/// (all nodes start again together), and what is left of the launch is terminated before the
/// next one.
#[test]
fn a_multi_node_job_boots_with_all_its_nodes_and_relaunches_without_one() {
    let (mut j, mut s) = job("provisioning");
    s.nodes = 3;
    j.spec = serde_json::to_string(&s).expect("spec");
    let node = |n: i64, state: &str, pod: &str| AttemptRow {
        node: n,
        seq: n + 1,
        ..attempt(&j, state, Some(pod))
    };
    let nodes = [node(0, "running", "p0"), node(1, "running", "p1"), node(2, "created", "p2")];
    let pods: Vec<_> = nodes
        .iter()
        .zip(["p0", "p1", "p2"])
        .map(|(a, id)| pod(a, id, if a.node == 2 { PodPhase::Booting } else { PodPhase::Running }))
        .collect();
    let jobs = [(j.clone(), s.clone())];
    let acts = run(1, &jobs, &nodes, &pods, &[]);
    assert!(acts.is_empty(), "two of three booted: not yet running: {acts:?}");
    let mut up = pods.clone();
    up[2].phase = PodPhase::Running;
    let acts = run(1, &jobs, &nodes, &up, &[]);
    assert!(
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Booted, reason, .. } if reason.contains("all 3"))),
        "{acts:?}"
    );
    // Node 1's attempt ended (its pod was never made): the job is launched again.
    let (mut running, _) = job("running");
    running.id = j.id;
    running.spec = j.spec.clone();
    let jobs = [(running, s.clone())];
    let two = [nodes[0].clone(), nodes[2].clone()];
    let acts = run(1, &jobs, &two, &[up[0].clone(), up[2].clone()], &[]);
    assert!(
        acts.iter().any(|x| matches!(x, Action::Job { event: JobEvent::Interrupted, reason, .. } if reason.contains("node 1 of 3"))),
        "{acts:?}"
    );
    // Recovering: the two left are terminated first; the launch comes once they are.
    let (mut recovering, _) = job("recovering");
    recovering.id = j.id;
    recovering.spec = j.spec.clone();
    let jobs = [(recovering, s)];
    let acts = run(1, &jobs, &two, &[up[0].clone(), up[2].clone()], &[]);
    let terminated: Vec<_> = acts
        .iter()
        .filter_map(|x| match x {
            Action::Terminate { pod_id, .. } => Some(pod_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(terminated, ["p0", "p2"], "{acts:?}");
    assert!(!acts.iter().any(|x| matches!(x, Action::Launch { .. })), "{acts:?}");
    let gone: Vec<_> =
        two.iter().map(|a| AttemptRow { state: AttemptState::Terminating, ..a.clone() }).collect();
    let acts = run(1, &jobs, &gone, &[], &[]);
    assert!(acts.iter().any(|x| matches!(x, Action::Launch { .. })), "{acts:?}");
}

/// A recovering multi-node job whose last launch left an intent (a create whose answer was
/// lost) waits for it to be adopted (then terminated) or abandoned: it never joins the next
/// launch.
#[test]
fn a_recovering_job_launches_only_once_no_intent_of_its_last_launch_is_left() {
    let (j, mut s) = job("recovering");
    s.nodes = 2;
    let intent = AttemptRow { node: 1, ..attempt(&j, "intent", None) };
    let jobs = [(j.clone(), s)];
    let acts = run(1, &jobs, std::slice::from_ref(&intent), &[], &[]);
    assert!(!acts.iter().any(|x| matches!(x, Action::Launch { .. })), "{acts:?}");
    let acts = run(1, &jobs, &[], &[], &[]);
    assert!(acts.iter().any(|x| matches!(x, Action::Launch { .. })), "{acts:?}");
}
