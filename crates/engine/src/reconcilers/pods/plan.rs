//! The pod reconciler's plan: from one snapshot (live rows, the provider's pod list, the clock) to
//! the actions that bring the two together. Pure and table-tested; the executor does the I/O.
//!
//! Rules, in order of what they protect:
//! - every pod with this install's name prefix belongs to a live attempt or is terminated;
//!   pods without the prefix are never touched;
//! - an intent whose pod exists is adopted; one whose pod never appeared is abandoned;
//! - a pod that vanished, stopped (preemption, $0) or never booted ends its attempt and
//!   interrupts its job; a job that spent its budget, passed its deadline, or reported its exit
//!   is torn down; tearing down means terminating until the provider confirms, then settling.
//!
//! `plan` is its parts in order: attempts (from their pods), orphans, then each job. Over 600
//! lines: half of it is the table tests, kept beside the rules they check.

use crate::provider::{PodInfo, PodPhase};
use podwarden_core::ids::parse_pod_name;
use podwarden_core::learned::OfferEvent;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{AttemptState, JobEvent, JobState};
use podwarden_core::{AttemptId, JobId, Money, ProviderKind};
use podwarden_store::{AttemptRow, JobRow};
use std::collections::{HashMap, HashSet};

/// How long an intent may exist without its pod before it is abandoned (creates in flight in
/// this process are never abandoned).
pub const INTENT_GRACE_MS: i64 = 60_000;

/// A pod that did not boot within a shorter boot timeout than this is not counted a dud of its
/// offer: the job asked for more than hosts promise.
pub const MIN_LEARNED_BOOT_TIMEOUT_MS: i64 = 120_000;

/// How far ahead a budget looks ([`podwarden_core::limits::BUDGET_LOOKAHEAD_MS`]).
pub use podwarden_core::limits::BUDGET_LOOKAHEAD_MS;

/// Everything the planner looks at.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub now: i64,
    pub install: &'a str,
    /// Live jobs, with their specs.
    pub jobs: &'a [(&'a JobRow, &'a JobSpec)],
    /// Live attempts (of this engine's account).
    pub attempts: &'a [&'a AttemptRow],
    /// Live attempts of other accounts: never acted on, but their pods are not orphans.
    pub other_accounts: &'a [&'a AttemptRow],
    /// The provider's pods (one list call).
    pub pods: &'a [PodInfo],
    /// Attempts whose create call is in flight right now.
    pub creating: &'a HashSet<AttemptId>,
    /// How long an intent may wait for its pod (normally [`INTENT_GRACE_MS`]).
    pub intent_grace_ms: i64,
    /// Attempts whose pod's logs say it cannot boot for good, with the reason.
    pub boot_failed: &'a HashMap<AttemptId, String>,
    /// The latest line of the host's from each booting pod ("pulling image …").
    pub boot_notes: &'a HashMap<AttemptId, String>,
    /// Booting attempts' learned deadlines (ms after their create), from how their image booted
    /// on their offer (`podwarden_core::learned::BootRecord`); the job's `boot_timeout` caps
    /// them and stands alone for an attempt not here.
    pub boot_deadlines: &'a HashMap<AttemptId, i64>,
    /// Attempts whose container printed before podwarden's wrapper started: since when, and the
    /// first line (`Engine::container_printed_before_wrapper`).
    pub silent_wrappers: &'a HashMap<AttemptId, (i64, String)>,
    /// How long after such a first line the job is given up (`EngineOptions::wrapper_start_ms`).
    pub wrapper_start_ms: i64,
    /// The in-pod watchdog's ceiling for jobs without `max_runtime` (ms after the pod's create);
    /// with it, the watchdog fires at `max_runtime` + [`crate::wrapper::WATCHDOG_GRACE_SECS`].
    pub watchdog_ceiling_ms: i64,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An intent's pod exists: record its id.
    Adopt { attempt: AttemptId, pod_id: String },
    /// No pod was ever created for this intent.
    Abandon { attempt: AttemptId, reason: String },
    /// The attempt's pod is RUNNING.
    Booted { attempt: AttemptId },
    /// Terminate a pod (`attempt` is `None` for orphans).
    Terminate { pod_id: String, attempt: Option<AttemptId>, reason: String },
    /// The provider confirmed the attempt's pod is gone.
    Gone { attempt: AttemptId, reason: String },
    /// Apply a job event.
    Job { job: JobId, event: JobEvent, reason: String },
    /// Start an attempt for a job.
    Launch { job: JobId },
    /// Spend crossed 80 or 90 % of the budget: `spent` (projected) is what decided.
    BudgetAlert { job: JobId, pct: i64, spent: Money },
    /// What an attempt showed of its offer (`podwarden_core::learned`): it never booted, or
    /// was lost after it did. (Boots are learned when `Booted` is applied.)
    Learn { attempt: AttemptId, event: OfferEvent },
    /// A pod ended at its learned boot deadline (`deadline_ms`): a dud of its offer, and for
    /// the deadline's evidence a boot that long (so a deadline learned from quick boots grows
    /// after a slow one, and shrinks again with the next quick boots); the job's next pods get
    /// its own `boot_timeout` (a cold pull slower than the boots seen must not use up its
    /// retries).
    LearnedDeadlinePassed { attempt: AttemptId, deadline_ms: i64 },
}

/// Plans one reconcile pass.
pub fn plan(s: &Snapshot<'_>) -> Vec<Action> {
    let ix = Index::new(s);
    let mut out = Vec::new();
    let found = plan_attempts(s, &ix, &mut out);
    plan_orphans(s, &ix, &mut out);
    let booted: HashSet<AttemptId> = out
        .iter()
        .filter_map(|a| match a {
            Action::Booted { attempt } => Some(*attempt),
            _ => None,
        })
        .collect();
    for (j, spec) in s.jobs {
        plan_job(s, &ix, &found, &booted, j, spec, &mut out);
    }
    out
}

/// The snapshot, looked up by what the rules ask.
struct Index<'a> {
    /// The provider's pods that are not gone, by name and by id.
    by_name: HashMap<&'a str, &'a PodInfo>,
    by_id: HashMap<&'a str, &'a PodInfo>,
    /// Pod names and ids some live attempt (of any account) owns.
    owned: HashSet<&'a str>,
    owned_ids: HashSet<&'a str>,
    specs: HashMap<JobId, &'a JobSpec>,
    by_job: HashMap<JobId, Vec<&'a AttemptRow>>,
}

impl<'a> Index<'a> {
    fn new(s: &Snapshot<'a>) -> Self {
        let present = || s.pods.iter().filter(|p| p.phase != PodPhase::Gone);
        let live = || s.attempts.iter().chain(s.other_accounts);
        let mut by_job: HashMap<JobId, Vec<&AttemptRow>> = HashMap::new();
        for a in s.attempts {
            by_job.entry(a.job_id).or_default().push(a);
        }
        Self {
            by_name: present().map(|p| (p.name.as_str(), p)).collect(),
            by_id: present().map(|p| (p.id.as_str(), p)).collect(),
            owned: live().map(|a| a.pod_name.as_str()).collect(),
            owned_ids: live().filter_map(|a| a.pod_id.as_deref()).collect(),
            specs: s.jobs.iter().map(|(j, sp)| (j.id, *sp)).collect(),
            by_job,
        }
    }

    /// The attempt's pod at the provider: by its id once recorded, else by its name.
    fn pod_of(&self, a: &AttemptRow) -> Option<&'a PodInfo> {
        a.pod_id
            .as_deref()
            .and_then(|id| self.by_id.get(id).copied())
            .or_else(|| self.by_name.get(a.pod_name.as_str()).copied())
    }
}

/// What the attempts' pass found about their jobs.
#[derive(Default)]
struct Found {
    /// Jobs with an attempt that ended badly (the job must recover), and why.
    trouble: HashMap<JobId, String>,
    /// Jobs whose pod the in-pod watchdog stopped: they end as timed out, never relaunched.
    timed_out: HashSet<JobId>,
}

/// Pods → attempts: adopt, abandon, boot, and end the attempts whose pod is gone, stopped or
/// stuck.
fn plan_attempts<'a>(s: &Snapshot<'a>, ix: &Index<'a>, out: &mut Vec<Action>) -> Found {
    let mut found = Found::default();
    for a in s.attempts {
        let pod = ix.pod_of(a);
        match a.state {
            AttemptState::Intent => match pod {
                Some(p) => out.push(Action::Adopt { attempt: a.id, pod_id: p.id.clone() }),
                None if !s.creating.contains(&a.id)
                    && s.now - a.created_at >= s.intent_grace_ms =>
                {
                    out.push(Action::Abandon {
                        attempt: a.id,
                        reason: "the create left no pod behind".into(),
                    });
                }
                None => {}
            },
            AttemptState::Created | AttemptState::Running => {
                plan_live_attempt(s, ix, a, pod, &mut found, out);
            }
            AttemptState::Terminating => match pod {
                None => out.push(Action::Gone { attempt: a.id, reason: "terminated".into() }),
                Some(p) => out.push(Action::Terminate {
                    pod_id: p.id.clone(),
                    attempt: Some(a.id),
                    reason: a.reason.clone().unwrap_or_else(|| "teardown".into()),
                }),
            },
            AttemptState::Terminated | AttemptState::Abandoned => {}
        }
    }
    found
}

/// A created or running attempt: its pod vanished, stopped, booted, cannot boot, or is late.
fn plan_live_attempt<'a>(
    s: &Snapshot<'a>,
    ix: &Index<'a>,
    a: &'a AttemptRow,
    pod: Option<&PodInfo>,
    found: &mut Found,
    out: &mut Vec<Action>,
) {
    let terminate = |p: &PodInfo, reason: &str| Action::Terminate {
        pod_id: p.id.clone(),
        attempt: Some(a.id),
        reason: reason.to_owned(),
    };
    // The pod's own ceiling (its watchdog's, or an EC2 instance's `shutdown`): a pod that
    // stopped or vanished past it was ended by it, when the control plane did not end the job in
    // time: the job timed out and is not run again. Told by the clock, so a restarted server
    // that never saw the pod's last log line knows it too.
    let ceiling = ix
        .specs
        .get(&a.job_id)
        .and_then(|sp| sp.max_runtime())
        .map_or(s.watchdog_ceiling_ms, |d| {
            d.as_millis() as i64 + crate::wrapper::WATCHDOG_GRACE_SECS as i64 * 1000
        });
    let past_ceiling = s.now - a.created_at >= ceiling;
    let at = || {
        let (h, m) = (ceiling / 3_600_000, ceiling % 3_600_000 / 60_000);
        match (h, m) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        }
    };
    // A pod lost through no doing of the job's says something of its offer: one that never
    // booted is a dud, one that had booted was lost.
    let learn = |out: &mut Vec<Action>| {
        let event =
            if a.state == AttemptState::Running { OfferEvent::Lost } else { OfferEvent::Dud };
        out.push(Action::Learn { attempt: a.id, event });
    };
    match pod {
        None => {
            let why = if past_ceiling {
                found.timed_out.insert(a.job_id);
                format!("the pod ended itself at the job's time ceiling ({})", at())
            } else {
                "the pod vanished at the provider".to_owned()
            };
            out.push(Action::Gone { attempt: a.id, reason: why.clone() });
            if !past_ceiling {
                learn(out);
            }
            found.trouble.insert(a.job_id, why);
        }
        Some(p) if p.phase == PodPhase::Stopped => {
            let why = if past_ceiling {
                found.timed_out.insert(a.job_id);
                format!("the pod's watchdog stopped it at the job's time ceiling ({})", at())
            } else {
                "the provider stopped the pod (preempted or out of credit)".to_owned()
            };
            out.push(terminate(p, &why));
            if !past_ceiling {
                learn(out);
            }
            found.trouble.insert(a.job_id, why);
        }
        Some(p) if p.phase == PodPhase::Running && a.state == AttemptState::Created => {
            out.push(Action::Booted { attempt: a.id })
        }
        Some(p)
            if p.phase == PodPhase::Running
                && a.provider() == ProviderKind::RunPod
                && a.exit_code.is_none()
                && s.jobs.iter().any(|(j, _)| {
                    j.id == a.job_id
                        && j.exit_code.is_none()
                        && matches!(j.state, JobState::Provisioning | JobState::Running)
                })
                && s.silent_wrappers
                    .get(&a.id)
                    .is_some_and(|(since, _)| s.now - since >= s.wrapper_start_ms) =>
        {
            // The container runs and prints, but not the wrapper: its image's entrypoint does
            // not run the arguments it is given. Every pod of the image would do the same, so
            // the job is given up rather than relaunched; the pod would bill until the ceiling.
            let first = &s.silent_wrappers[&a.id].1;
            let why = format!(
                "the container runs but never started the job's command: its image's ENTRYPOINT \
                 does not run the arguments podwarden gives it (its first line: {first:?}); use \
                 an image whose entrypoint ends with `exec \"$@\"`, or one without an entrypoint"
            );
            out.push(terminate(p, &why));
            out.push(Action::Job { job: a.job_id, event: JobEvent::GiveUp, reason: why });
        }
        Some(p) if p.phase == PodPhase::Booting && s.boot_failed.contains_key(&a.id) => {
            // RunPod retries a pull (or a start) that cannot succeed while the pod bills: end
            // it now rather than at the boot timeout, and give the job up (another pod of the
            // same image would fail the same way); tearing down terminates the pod.
            let why = s.boot_failed[&a.id].clone();
            out.push(terminate(p, &why));
            out.push(Action::Job { job: a.job_id, event: JobEvent::GiveUp, reason: why });
        }
        Some(p) if p.phase == PodPhase::Booting => {
            let job_timeout = ix
                .specs
                .get(&a.job_id)
                .map_or(600_000, |sp| sp.limits.boot_timeout.as_millis() as i64);
            let learned = s.boot_deadlines.get(&a.id).copied().filter(|d| *d < job_timeout);
            let timeout = learned.unwrap_or(job_timeout);
            if s.now - a.created_at >= timeout {
                let last = s
                    .boot_notes
                    .get(&a.id)
                    .map(|l| format!("; its host's last word: {l}"))
                    .unwrap_or_default();
                let said = if learned.is_some() {
                    ", a deadline learned from this image's boots on this offer"
                } else {
                    ""
                };
                let why = format!(
                    "the pod did not boot within {} s{said} (it bills while it hangs){last}",
                    timeout / 1000
                );
                out.push(terminate(p, &why));
                if learned.is_some() {
                    // Likely a dud, maybe a cold pull slower than the boots seen.
                    out.push(Action::LearnedDeadlinePassed { attempt: a.id, deadline_ms: timeout });
                } else if timeout >= MIN_LEARNED_BOOT_TIMEOUT_MS {
                    // A job's own short boot timeout (or a huge image) says little of the host.
                    out.push(Action::Learn { attempt: a.id, event: OfferEvent::Dud });
                }
                found.trouble.insert(a.job_id, why);
            }
        }
        Some(_) => {}
    }
}

/// Orphans: ours by name, owned by no live attempt.
fn plan_orphans(s: &Snapshot<'_>, ix: &Index<'_>, out: &mut Vec<Action>) {
    for p in s.pods {
        if p.phase != PodPhase::Gone
            && parse_pod_name(s.install, &p.name).is_some()
            && !ix.owned.contains(p.name.as_str())
            && !ix.owned_ids.contains(p.id.as_str())
        {
            out.push(Action::Terminate {
                pod_id: p.id.clone(),
                attempt: None,
                reason: "orphan: no live attempt owns this pod".into(),
            });
        }
    }
}

/// One job: its budget and deadline, then what its state and its attempts call for.
fn plan_job(
    s: &Snapshot<'_>,
    ix: &Index<'_>,
    found: &Found,
    booted: &HashSet<AttemptId>,
    j: &JobRow,
    spec: &JobSpec,
    out: &mut Vec<Action>,
) {
    let Ok(phase) = j.phase() else { return };
    let mine: &[&AttemptRow] = ix.by_job.get(&j.id).map_or(&[], Vec::as_slice);
    let ev = |event, reason: &str| Action::Job { job: j.id, event, reason: reason.to_owned() };
    let active = matches!(
        phase.state,
        JobState::Provisioning | JobState::Running | JobState::Recovering | JobState::Queued
    );
    if active {
        if let Some(end) = plan_budget(s, j, mine, out) {
            out.push(ev(JobEvent::BudgetExhausted, &end));
            return;
        }
        if j.deadline_at.is_some_and(|d| s.now >= d) {
            out.push(ev(JobEvent::DeadlinePassed, "max_runtime passed"));
            return;
        }
    }
    match phase.state {
        JobState::Provisioning | JobState::Running => {
            let trouble = found.trouble.get(&j.id);
            if let Some(code) = j.exit_code {
                if phase.state == JobState::Provisioning {
                    out.push(ev(
                        JobEvent::Booted,
                        "the pod is running (its command finished between two status checks)",
                    ));
                }
                out.push(ev(JobEvent::Exited { success: code == 0 }, &exit_reason(code, spec)));
            } else if let Some(why) = trouble.filter(|_| found.timed_out.contains(&j.id)) {
                out.push(ev(JobEvent::DeadlinePassed, why));
            } else if let Some(why) = trouble {
                out.push(ev(JobEvent::Interrupted, why));
            } else if spec.nodes > 1 {
                plan_nodes(s, j, spec, mine, booted, phase.state, out);
            } else if phase.state == JobState::Provisioning
                && mine.iter().any(|a| a.state == AttemptState::Running || booted.contains(&a.id))
            {
                out.push(ev(JobEvent::Booted, "the pod is running"));
            } else if mine.is_empty() && !s.creating.iter().any(|c| mine.iter().any(|a| &a.id == c))
            {
                out.push(ev(JobEvent::Interrupted, "no pod is left for this job"));
            }
        }
        JobState::Queued
            if j.queued_at
                .is_some_and(|q| s.now - q >= spec.limits.start_within.as_millis() as i64) =>
        {
            let waited = humantime::format_duration(spec.limits.start_within);
            let why = j.reason.as_deref().unwrap_or("no capacity");
            let why = why.split("; waiting").next().unwrap_or(why);
            out.push(ev(
                JobEvent::GiveUp,
                &format!(
                    "waited {waited} (limits.start_within) and nothing could be placed: {why}"
                ),
            ));
        }
        JobState::Pending | JobState::Recovering | JobState::Queued => {
            // What is left of the last launch (the nodes of a multi-node job that were not
            // lost) goes before the next: all of them start together or none does.
            // An intent (a create whose answer was lost) is waited for too: adopted, it is
            // terminated; abandoned, it is gone — never taken into the next launch.
            let left: Vec<_> = mine
                .iter()
                .filter(|a| {
                    matches!(
                        a.state,
                        AttemptState::Intent | AttemptState::Created | AttemptState::Running
                    )
                })
                .collect();
            for a in left.iter().filter(|a| a.state != AttemptState::Intent) {
                if let Some(p) = ix.pod_of(a) {
                    out.push(Action::Terminate {
                        pod_id: p.id.clone(),
                        attempt: Some(a.id),
                        reason: "another node of the job was lost: the job is launched again, all nodes together".into(),
                    });
                }
            }
            if left.is_empty() && j.next_attempt_at.is_none_or(|t| s.now >= t) {
                if j.attempts_made >= i64::from(spec.retry.attempts) {
                    let why = j.reason.clone().unwrap_or_else(|| "no attempt left".into());
                    out.push(ev(
                        JobEvent::GiveUp,
                        &format!("gave up after {} attempt(s): {why}", j.attempts_made),
                    ));
                } else {
                    out.push(Action::Launch { job: j.id });
                }
            }
        }
        JobState::TearingDown => {
            if j.teardown_at.is_none_or(|t| s.now >= t) {
                plan_teardown(ix, j, mine, out);
            }
        }
        _ => {}
    }
}

/// A multi-node job that is provisioning or running: booted once every node's pod is running;
/// interrupted (and launched again whole) when a node has no pod left.
fn plan_nodes(
    s: &Snapshot<'_>,
    j: &JobRow,
    spec: &JobSpec,
    mine: &[&AttemptRow],
    booted: &HashSet<AttemptId>,
    state: JobState,
    out: &mut Vec<Action>,
) {
    let nodes = spec.nodes as usize;
    let current: Vec<_> = mine
        .iter()
        .filter(|a| {
            matches!(a.state, AttemptState::Intent | AttemptState::Created | AttemptState::Running)
        })
        .collect();
    let creating = current.iter().any(|a| s.creating.contains(&a.id));
    let up = current
        .iter()
        .filter(|a| a.state == AttemptState::Running || booted.contains(&a.id))
        .count();
    let ev = |event, reason: String| Action::Job { job: j.id, event, reason };
    if current.len() < nodes && !creating {
        let missing: Vec<String> = (0..nodes as i64)
            .filter(|n| !current.iter().any(|a| a.node == *n))
            .map(|n| n.to_string())
            .collect();
        out.push(ev(
            JobEvent::Interrupted,
            format!(
                "node {} of {nodes} has no pod: the job is launched again, all nodes together",
                missing.join(", ")
            ),
        ));
    } else if state == JobState::Provisioning && up >= nodes {
        out.push(ev(JobEvent::Booted, format!("all {nodes} nodes are running")));
    }
}

/// A running job's budget: alerts at 80 and 90 %, and why it must end now when its spend (or
/// its spend a lookahead from now at its pods' rate) reaches the budget.
fn plan_budget(
    s: &Snapshot<'_>,
    j: &JobRow,
    mine: &[&AttemptRow],
    out: &mut Vec<Action>,
) -> Option<String> {
    let budget = j.budget?;
    let spent = j.projected_spend(mine, s.now);
    // Alerts first: a tick that jumps from 85 % past 100 % still tells of 90 %.
    let pct = spent.0.saturating_mul(100) / budget.0.max(1);
    for level in [80, 90] {
        if pct >= level && j.alert_pct < level {
            out.push(Action::BudgetAlert { job: j.id, pct: level, spent });
        }
    }
    let rate: Money = mine
        .iter()
        .filter(|a| a.state.holds_pod() && a.ended_at.is_none())
        .map(|a| a.price_per_hour)
        .sum();
    let ahead = rate.per_hour_for_millis(BUDGET_LOOKAHEAD_MS);
    if spent + ahead < budget {
        return None;
    }
    Some(if spent >= budget {
        "spend reached the budget".to_owned()
    } else {
        format!(
            "spend would reach the budget within {} s at its pods' rate: stopped now, so the final cost stays within it",
            BUDGET_LOOKAHEAD_MS / 1000
        )
    })
}

/// A job tearing down: every pod terminated, then settled once none is left.
fn plan_teardown(ix: &Index<'_>, j: &JobRow, mine: &[&AttemptRow], out: &mut Vec<Action>) {
    if mine.is_empty() {
        out.push(Action::Job {
            job: j.id,
            event: JobEvent::Settled,
            reason: "every resource is confirmed gone".into(),
        });
    }
    for a in mine.iter().filter(|a| a.state != AttemptState::Terminating) {
        let pod =
            a.pod_id.clone().or_else(|| ix.by_name.get(a.pod_name.as_str()).map(|p| p.id.clone()));
        match pod {
            Some(pod_id) => out.push(Action::Terminate {
                pod_id,
                attempt: Some(a.id),
                reason: "teardown".into(),
            }),
            None if a.state == AttemptState::Intent => {}
            None => out.push(Action::Gone { attempt: a.id, reason: "no pod to terminate".into() }),
        }
    }
}

/// Why a job whose command exited with `code` ends as it does.
fn exit_reason(code: i64, spec: &JobSpec) -> String {
    if code == i64::from(crate::wrapper::OUTPUTS_MISSING_CODE) && !spec.outputs.is_empty() {
        return "the command exited with code 0, but a declared output was not written (the pod's logs name it); \
                what was written stays on the volume"
            .into();
    }
    format!("the command exited with code {code}")
}

#[cfg(test)]
mod tests;
