//! `podwarden run`: a job spec submitted (its inputs staged first, its cost estimated and
//! confirmed when it has no budget), and `--follow`: stages and events on stderr, the pod's
//! logs on stdout, until the job settles (shared with `quickstart`).

use crate::UserError;
use crate::commands::money;
use crate::local::Api;
use anyhow::anyhow;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use podwarden_api::types::{AttemptState, JobState};
use podwarden_api::types::{EventView, JobDetail};
use podwarden_core::spec::JobSpec;
use std::path::PathBuf;

/// `podwarden run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job spec (TOML), e.g. examples/quickstart.toml.
    spec: PathBuf,
    /// Follow stages and logs until the job settles; exit 0 only if it succeeded.
    #[arg(long, short)]
    follow: bool,
    /// Print the job as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Serverless jobs: use RunPod's `runsync` (waits up to 90 s; for short requests).
    #[arg(long)]
    sync: bool,
    /// Print what the job would cost (the GPU it would get, its price, what bounds the cost)
    /// and run nothing.
    #[arg(long)]
    estimate: bool,
    /// Run without asking, also with no budget (the question is asked only on a terminal).
    #[arg(long, short)]
    yes: bool,
    /// Where it runs, over the spec's `provider` (and `providers`: only this one): runpod or aws
    /// (default: the spec's, else the server's default).
    #[arg(long, value_parser = ["runpod", "aws"])]
    provider: Option<String>,
}

pub async fn run(a: RunArgs) -> Result<(), UserError> {
    let file = a.spec.display().to_string();
    let text = std::fs::read_to_string(&a.spec).map_err(|e| UserError {
        error: anyhow!("cannot read {file}: {e}"),
        hint: Some("pass the path of a job spec, e.g. examples/quickstart.toml".into()),
    })?;
    if podwarden_core::serverless_job::ServerlessJobSpec::is_serverless_job(&text) {
        return crate::serverless::run(&file, &text, a.follow, a.sync, a.json).await;
    }
    // Validate locally first: errors then name the file, line and column.
    let mut spec = JobSpec::from_toml(&file, &text)
        .map_err(|e| UserError { error: anyhow!("invalid job spec: {e}"), hint: e.hint.clone() })?;
    if let Some(p) = &a.provider {
        spec.provider =
            Some(p.parse().map_err(|e: String| UserError { error: anyhow!(e), hint: None })?);
        spec.providers.clear();
        spec.validate().map_err(|e| UserError {
            error: anyhow!("invalid job spec with --provider {p}: {e}"),
            hint: e.hint.clone(),
        })?;
    }
    // `ssh = true`: the user's own key, read here (the server cannot see ~/.ssh).
    if let Some(ssh) = spec.ssh.as_mut().filter(|s| s.public_keys.is_empty()) {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        ssh.public_keys.push(crate::ssh::default_public_key(&home)?);
        spec.validate().map_err(|e| UserError {
            error: anyhow!("invalid public key for ssh: {e}"),
            hint: e.hint.clone(),
        })?;
    }
    let api = Api::connect().await?;
    if a.estimate || spec.limits.budget_usd.is_none() {
        let e: podwarden_api::types::EstimateView = api.run(|c| c.estimate(&spec)).await?;
        if a.estimate {
            if a.json {
                out!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
            } else {
                out!("{}", describe_estimate(&e));
            }
            return Ok(());
        }
        // No budget: say what it may cost, and on a terminal ask first.
        note!("{}", describe_estimate(&e));
        if !a.yes && std::io::IsTerminal::is_terminal(&std::io::stdin()) && !confirm("Run it?")? {
            return Err(UserError {
                error: anyhow!("not run"),
                hint: Some("set limits.budget_usd to cap the cost, or pass --yes".into()),
            });
        }
    }
    // Inputs and outputs are relative to the spec file, like a Makefile's.
    let spec_dir = a.spec.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    crate::staging::stage_inputs(&api, &spec, &spec_dir).await?;
    let created: JobDetail = api.run(|c| c.submit_job(&spec)).await?;
    let id = created.job.id.clone();
    if !a.follow {
        if a.json {
            out!("{}", serde_json::to_string_pretty(&created).unwrap_or_default());
        } else {
            out!("{id}");
            note!(
                "submitted {} ({}); follow it with `podwarden logs -f {id}`",
                spec.name,
                if created.simulated { "simulated: embedded emulator" } else { "RunPod" }
            );
        }
        return Ok(());
    }
    note!(
        "job {id} submitted{}",
        if created.simulated {
            " (simulated: no RUNPOD_API_KEY, running on the embedded emulator)"
        } else {
            ""
        }
    );
    let final_job = follow(&api, &id, !a.json, created.simulated).await?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&final_job).unwrap_or_default());
    } else {
        note!(
            "job {id} {}: {} spent",
            final_job.job.state,
            money(final_job.job.spent_usd, final_job.simulated)
        );
    }
    if final_job.job.state == JobState::Succeeded {
        crate::staging::collect_outputs(&api, &spec, &spec_dir).await
    } else {
        let why = format!(
            "job {id} ended {}: {}",
            final_job.job.state,
            final_job.job.reason.unwrap_or_default()
        );
        Err(UserError {
            // With --json the printed job says so already.
            error: if a.json { anyhow::Error::new(crate::Reported(why)) } else { anyhow!(why) },
            hint: Some(format!("`podwarden ps` and the events of {id} say more")),
        })
    }
}

/// An estimate in one paragraph.
fn describe_estimate(e: &podwarden_api::types::EstimateView) -> String {
    let sim = if e.simulated { " (simulated)" } else { "" };
    let most = match (e.bound.as_str(), e.max_cost_usd) {
        ("budget", Some(m)) => format!("at most ${m:.2}: the budget stops it"),
        ("max_runtime", Some(m)) => {
            format!("at most ${m:.2}: max_runtime stops it (with a {} s boot)", e.boot_s)
        }
        _ => "no limit: nothing caps the cost (no budget, no max_runtime)".to_owned(),
    };
    format!(
        "estimate: {} × {} ({}) at ${:.2}/h{sim}; booting costs about ${:.4}; {most}",
        e.count, e.name, e.cloud, e.price_per_hour_usd, e.boot_cost_usd
    )
}

/// Asks a yes/no question on the terminal.
fn confirm(question: &str) -> Result<bool, UserError> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| anyhow!("cannot read the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Shows the stages and events (stderr) and streams pod logs (stdout) until the job settles.
pub(crate) async fn follow(
    api: &Api,
    id: &str,
    print_logs: bool,
    simulated: bool,
) -> Result<JobDetail, UserError> {
    let mut after = 0;
    // One log stream per attempt: a relaunched job's new pod is followed too.
    let mut logs: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut attached: Option<usize> = None;
    let mut stages = crate::progress::Stages::new(simulated);
    // Whether the event of the job's final state was shown (it is written just after the state).
    let mut final_shown = false;
    let result = loop {
        // Short long-polls, so the spinner's spend stays fresh while nothing happens.
        let evs: Vec<EventView> = match api.run(|c| c.job_events(id, after, 2000)).await {
            Ok(v) => v,
            Err(e) => break Err(e),
        };
        final_shown |= show(&mut stages, &evs, &mut after);
        let d: JobDetail = match api.run(|c| c.job(id)).await {
            Ok(d) => d,
            Err(e) => break Err(e),
        };
        stages.update(&d);
        // Attach as soon as a pod exists (a short command may finish before the job shows
        // `running`); the provider's stream starts from the container's first line.
        // Node 0's (a multi-node job's others: `podwarden logs JOB --node N`), numbered as
        // the API numbers them.
        let node0: Vec<_> = d.attempts.iter().filter(|a| a.node == 0).cloned().collect();
        let current = node0.iter().rposition(|a| {
            a.pod_id.is_some() && matches!(a.state, AttemptState::Created | AttemptState::Running)
        });
        if let Some(n) = current.filter(|n| print_logs && attached < Some(*n)) {
            if let Ok(resp) = api.run(|c| c.job_logs_of(id, Some(n as u32 + 1), None)).await {
                attached = Some(n);
                let bar = stages.handle();
                if n > 0 {
                    let pod = node0[n].pod_id.clone().unwrap_or_default();
                    bar.suspend(|| out!("── attempt {} of {}: pod {pod} ──", n + 1, node0.len()));
                }
                logs.push(tokio::spawn(async move {
                    let mut s = resp.bytes_stream().eventsource();
                    while let Some(Ok(ev)) = s.next().await {
                        if ev.event == "container" {
                            bar.suspend(|| out!("{}", ev.data));
                        }
                    }
                }));
            }
        }
        if d.job.state.is_final() {
            // The events up to the final one, when it was not in the batches already shown.
            while !final_shown {
                let Ok(evs) = api.run(|c| c.job_events(id, after, 2000)).await else { break };
                if evs.is_empty() {
                    break;
                }
                final_shown |= show(&mut stages, &evs, &mut after);
            }
            break Ok(d);
        }
    };
    for h in logs {
        h.abort();
    }
    stages.finish();
    result
}

/// Shows `evs` and moves the cursor past them; whether the job's final state was among them.
fn show(stages: &mut crate::progress::Stages, evs: &[EventView], after: &mut i64) -> bool {
    let mut final_state = false;
    for e in evs {
        stages.event(e);
        *after = e.id;
        final_state |= e.state.is_some_and(|s| s.is_final());
    }
    final_state
}
