//! The job commands: `ps`, `logs`, `stop`, `retry`, `webhook`, `cost`, `gpus` (`run` is in
//! `run.rs`, `serve` in `serve.rs`). Data goes to
//! stdout (tables, or stable JSON with `--json`); progress and logs of `--follow` go to stderr
//! and stdout respectively.

use crate::UserError;
use crate::local::Api;
use crate::print::table;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use podwarden_api::types::JobState;
use podwarden_api::types::{CostReport, EventView, GpuRow, JobDetail, JobSummary};

/// A pod job's cost: to the hundredth of a cent.
pub(crate) fn money(v: f64, simulated: bool) -> String {
    crate::print::usd(v, 4, simulated)
}

/// `podwarden ps`.
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// One job, in full (its whole reason, its attempts); without it, a table of recent jobs.
    job: Option<String>,
    /// How many of the most recent jobs to show.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// Every job (up to 10 000).
    #[arg(long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

pub async fn ps(a: PsArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    if let Some(id) = &a.job {
        return ps_one(&api, id, a.json).await;
    }
    let jobs: Vec<JobSummary> = api.run(|c| c.jobs(if a.all { 10_000 } else { a.limit })).await?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&jobs).unwrap_or_default());
        return Ok(());
    }
    let simulated = api.run(|c| c.status()).await.map(|s| s.simulated).unwrap_or(false);
    let mut t = table(&[
        "JOB",
        "NAME",
        "STATE",
        "GPU",
        if simulated { "SPENT (simulated)" } else { "SPENT" },
        "BUDGET",
        "REASON",
    ]);
    for j in jobs {
        // A dev pod is up until stopped: say so beside its name.
        let name = if j.kind == "dev" { format!("{} (dev pod)", j.name) } else { j.name };
        // A queued job says how long it has waited (its reason says for what).
        let state = match j.queued_since {
            Some(since) => format!("{} {}", j.state, waited(since)),
            None => j.state.to_string(),
        };
        t.add_row(vec![
            j.id,
            name,
            state,
            j.gpu.unwrap_or_default(),
            format!("${:.4}", j.spent_usd),
            j.budget_usd.map(|b| format!("${b:.2}")).unwrap_or_else(|| "-".into()),
            short_reason(j.reason.as_deref().unwrap_or_default()),
        ]);
    }
    out!("{t}");
    let reqs: Vec<podwarden_api::types::ServerlessJobView> =
        api.run(|c| c.serverless_jobs(if a.all { 10_000 } else { a.limit })).await?;
    if !reqs.is_empty() {
        let mut t = table(&[
            "SERVERLESS JOB",
            "ENDPOINT",
            "STATE",
            "GPU",
            "RAN",
            if simulated { "COST (simulated)" } else { "COST" },
            "REASON",
        ]);
        for r in reqs {
            t.add_row(vec![
                r.id,
                r.endpoint,
                r.state.to_string(),
                r.gpu,
                r.execution_ms
                    .map(|m| format!("{:.1} s", m as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                format!("${:.6}", r.cost_usd),
                short_reason(r.reason.as_deref().unwrap_or_default()),
            ]);
        }
        out!("{t}");
    }
    Ok(())
}

/// `podwarden ps JOB`: one job with its whole reason and its attempts.
async fn ps_one(api: &Api, id: &str, json: bool) -> Result<(), UserError> {
    if matches!(id.parse(), Ok(podwarden_core::WorkId::ServerlessJob(_))) {
        let r: podwarden_api::types::ServerlessJobView = api.run(|c| c.serverless_job(id)).await?;
        if json {
            out!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        } else {
            out!("serverless job {} on {}: {}", r.id, r.endpoint, r.state);
            out!("cost: {}", money(r.cost_usd, r.simulated));
            if let Some(reason) = &r.reason {
                out!("reason: {reason}");
            }
        }
        return Ok(());
    }
    let d: JobDetail = api.run(|c| c.job(id)).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        return Ok(());
    }
    let j = &d.job;
    out!("job {} ({}): {}", j.id, j.name, j.state);
    out!("image: {}", d.image);
    out!("command: {}", d.command);
    let budget = j.budget_usd.map(|b| format!(" of a {} budget", money(b, d.simulated)));
    out!("spent: {}{}", money(j.spent_usd, d.simulated), budget.unwrap_or_default());
    if let Some(code) = j.exit_code {
        out!("exit code: {code}");
    }
    if let Some(reason) = &j.reason {
        out!("reason: {reason}");
    }
    if d.duds.pods > 0 {
        out!(
            "lost to pods that never booted: {} pod(s), {:.0} s, {}",
            d.duds.pods,
            d.duds.secs,
            money(d.duds.cost_usd, d.simulated)
        );
    }
    let multi = d.attempts.iter().any(|a| a.node > 0);
    for (n, at) in d.attempts.iter().enumerate() {
        out!(
            "attempt {}{}: {} on {} × {} ({}{})",
            n + 1,
            if multi { format!(" (node {})", at.node) } else { String::new() },
            at.state,
            at.gpu_count,
            at.gpu_type,
            at.cloud,
            at.pod_id.as_deref().map(|p| format!(", pod {p}")).unwrap_or_default()
        );
    }
    Ok(())
}

/// How long ago `since_ms` (ms since the epoch) was, in whole minutes (seconds under one).
fn waited(since_ms: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let secs = (now - since_ms).max(0) / 1000;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// A reason as a table cell: its first line, whitespace collapsed, at most 80 characters; a
/// JSON error blob (a handler's) by its message. The whole is in `ps JOB` and `--json`.
pub(crate) fn short_reason(reason: &str) -> String {
    const MAX: usize = 80;
    let from_json = reason.find('{').and_then(|i| {
        let v: serde_json::Value = serde_json::from_str(&reason[i..]).ok()?;
        let msg = ["error", "message", "error_message", "detail"]
            .iter()
            .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))?;
        Some(format!("{}{msg}", &reason[..i]))
    });
    let text = from_json.as_deref().unwrap_or(reason);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX {
        return flat;
    }
    let cut: String = flat.chars().take(MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

/// `podwarden logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    job: String,
    /// Keep following new lines.
    #[arg(long, short)]
    follow: bool,
    /// Only this attempt's lines (1 is the job's first pod); by default every attempt's, each
    /// after a separator line.
    #[arg(long)]
    attempt: Option<u32>,
    /// Which node of a multi-node job (`nodes = N`; default 0); `--attempt` then counts that
    /// node's pods.
    #[arg(long)]
    node: Option<u32>,
    /// One JSON object per line: `{"attempt": N, "source": …, "line": …}` (`attempt` is absent
    /// for lines kept before attempts were recorded).
    #[arg(long)]
    json: bool,
}

pub async fn logs(a: LogsArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    if a.follow {
        // Like `kubectl logs -f`: a job still choosing or booting its pod is waited for.
        let mut after = 0;
        loop {
            let d: JobDetail = api.run(|c| c.job(&a.job)).await?;
            if d.job.state == JobState::Running || d.job.state.is_final() {
                break;
            }
            let evs: Vec<EventView> = api.run(|c| c.job_events(&a.job, after, 10_000)).await?;
            after = evs.last().map_or(after, |e| e.id);
        }
    }
    let resp = api.run(|c| c.job_logs_of(&a.job, a.attempt, a.node)).await?;
    let mut s = resp.bytes_stream().eventsource();
    let mut attempt = a.attempt;
    loop {
        let next = if a.follow {
            s.next().await
        } else {
            // Without --follow: what the pod has logged so far, ending once the backlog is out.
            tokio::time::timeout(std::time::Duration::from_millis(500), s.next())
                .await
                .ok()
                .flatten()
        };
        match next {
            Some(Ok(ev)) if a.json => {
                if ev.event == "attempt" {
                    // "── attempt N of M: …": the lines after it are attempt N's.
                    attempt = ev.data.split_whitespace().nth(2).and_then(|n| n.parse().ok());
                    continue;
                }
                let mut line = serde_json::json!({"source": ev.event, "line": ev.data});
                if let Some(n) = attempt {
                    line["attempt"] = n.into();
                }
                out!("{line}");
            }
            Some(Ok(ev)) => {
                out!("{}{}", if ev.event == "system" { "[system] " } else { "" }, ev.data)
            }
            _ => return Ok(()),
        }
    }
}

/// `podwarden stop`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    job: String,
    /// The stopped job as JSON (what `ps JOB --json` shows).
    #[arg(long)]
    json: bool,
}

pub async fn stop(a: StopArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    if matches!(a.job.parse(), Ok(podwarden_core::WorkId::ServerlessJob(_))) {
        let r: podwarden_api::types::ServerlessJobView =
            api.run(|c| c.stop_serverless_job(&a.job)).await?;
        if a.json {
            out!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        } else {
            note!("serverless job {}: {} (cost {})", r.id, r.state, money(r.cost_usd, r.simulated));
        }
        return Ok(());
    }
    let d: JobDetail = api.run(|c| c.stop_job(&a.job)).await?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        note!("stopping {}: {}", d.job.id, d.job.state);
    }
    Ok(())
}

/// `podwarden retry`.
#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// A failed or timed-out serverless job (`req_…`).
    request: String,
    /// The new serverless job as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a failed or timed-out serverless job again (RunPod's `/retry`, the same input).
pub async fn retry(a: RetryArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    let r: podwarden_api::types::ServerlessJobView =
        api.run(|c| c.retry_serverless_job(&a.request)).await?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    } else {
        out!("{}", r.id);
        note!(
            "retrying {} as {} on {} ({}); follow it with `podwarden ps {}`",
            a.request,
            r.id,
            r.endpoint,
            r.state,
            r.id
        );
    }
    Ok(())
}

/// `podwarden webhook`: where your job endings and budget alerts are POSTed.
#[derive(Debug, clap::Subcommand)]
pub enum WebhookCommand {
    /// Set the URL (https, a public host); prints the secret deliveries are signed with.
    Set {
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the URL.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Stop notifications.
    Rm {
        #[arg(long)]
        json: bool,
    },
}

pub async fn webhook(c: WebhookCommand) -> Result<(), UserError> {
    let api = Api::connect().await?;
    let (v, json) = match &c {
        WebhookCommand::Set { url, json } => (api.run(|c| c.set_webhook(url)).await?, *json),
        WebhookCommand::Show { json } => (api.run(|c| c.webhook()).await?, *json),
        WebhookCommand::Rm { json } => (api.run(|c| c.delete_webhook()).await?, *json),
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    match (&v.url, &v.secret) {
        (Some(url), Some(secret)) => {
            out!("{secret}");
            note!(
                "job endings and budget alerts now go to {url}, signed: X-Podwarden-Signature is sha256=<hex HMAC-SHA256 of the body> under the secret above (shown once; setting the URL again shows it again)"
            );
        }
        (Some(url), None) => out!("{url} ({})", v.events.join(", ")),
        (None, _) => note!("no webhook set"),
    }
    Ok(())
}

/// `podwarden cost`.
#[derive(Debug, clap::Args)]
pub struct CostArgs {
    #[arg(long)]
    json: bool,
    /// Compare the ledger with RunPod's billing API pod by pod now, correct it to the bill, and
    /// show every difference found (admin).
    #[arg(long)]
    reconcile: bool,
}

pub async fn cost(a: CostArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    if a.reconcile {
        let r: podwarden_api::types::Reconciliation = api.run(|c| c.reconcile_cost()).await?;
        if a.json {
            out!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            return Ok(());
        }
        let mut t = table(&["JOB", "POD", "LEDGER SAID", "RUNPOD BILLED", "DIFFERENCE"]);
        for c in r.checks.iter().filter(|c| (c.ours_usd - c.theirs_usd).abs() >= 1e-6) {
            t.add_row(vec![
                c.job_id.clone(),
                c.pod_id.clone(),
                format!("${:.6}", c.ours_usd),
                format!("${:.6}", c.theirs_usd),
                format!("{:+.6}", c.ours_usd - c.theirs_usd),
            ]);
        }
        out!("{t}");
        out!(
            "{} pods checked now, {} in all; {} differed; the ledger had over-counted ${:.6}, and now agrees with RunPod's bill (pods RunPod has no bill for yet stay as the ledger says)",
            r.checked_now,
            r.checks.len(),
            r.mismatches,
            r.overcounted_usd
        );
        return Ok(());
    }
    let c: CostReport = api.run(|c| c.cost()).await?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
        return Ok(());
    }
    let mut t = table(&["JOB", "NAME", "COST"]);
    for (id, name, v) in &c.by_job {
        t.add_row(vec![id.clone(), name.clone(), format!("${v:.4}")]);
    }
    out!("{t}");
    let mut g = table(&["GPU", "COST"]);
    for (k, v) in &c.by_gpu {
        g.add_row(vec![k.clone(), format!("${v:.4}")]);
    }
    out!("{g}");
    // By provider once a second one is in the ledger (RunPod-only spend is as it was).
    if c.by_provider.iter().any(|(p, _)| p != "runpod") {
        let mut p = table(&["PROVIDER", "COST"]);
        for (k, v) in &c.by_provider {
            p.add_row(vec![k.clone(), format!("${v:.4}")]);
        }
        out!("{p}");
    }
    let mut d = table(&["DAY", "COST"]);
    for (k, v) in &c.by_day {
        d.add_row(vec![k.clone(), format!("${v:.4}")]);
    }
    out!("{d}");
    out!("total: {}", money(c.total_usd, c.simulated));
    if c.awaiting_bills > 0 {
        out!(
            "awaiting bill: {} ended pod(s) not yet checked against RunPod's bill (it lags); their figures are podwarden's and may still change",
            c.awaiting_bills
        );
    }
    Ok(())
}

/// `podwarden gpus`.
#[derive(Debug, clap::Args)]
pub struct GpusArgs {
    /// Minimum VRAM per GPU, GB.
    #[arg(long, default_value_t = 1)]
    min_vram_gb: i64,
    /// GPUs per pod.
    #[arg(long, default_value_t = 1)]
    count: i64,
    /// secure, community or any.
    #[arg(long, default_value = "any")]
    cloud: String,
    /// Highest price per GPU-hour, USD.
    #[arg(long)]
    max_price: Option<f64>,
    /// Only this provider's offers: runpod or aws (default: every provider the server has).
    #[arg(long, value_parser = ["runpod", "aws"])]
    provider: Option<String>,
    /// What this install has learned of each offer from its own launches (boots, their time,
    /// duds, losses) and the operator's pins and bans, instead of the offers (admins).
    #[arg(long)]
    learned: bool,
    /// How fast each user's jobs (by name and image) ran on each GPU, from their
    /// `samples_per_second` (admins): the factor the ranking stretches their run by on each.
    #[arg(long, conflicts_with = "learned")]
    speeds: bool,
    #[arg(long)]
    json: bool,
}

pub async fn gpus(a: GpusArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    if a.learned {
        return learned(&api, a.json).await;
    }
    if a.speeds {
        return speeds(&api, a.json).await;
    }
    let q = podwarden_api::client::GpuQuery {
        min_vram_gb: a.min_vram_gb,
        count: a.count,
        cloud: a.cloud.to_string(),
        max_price_per_hour: a.max_price,
        provider: a.provider,
    };
    let rows: Vec<GpuRow> = api.run(|c| c.gpus(&q)).await?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(());
    }
    let simulated = api.run(|c| c.status()).await.map(|s| s.simulated).unwrap_or(false);
    // The provider column once a second provider is in the list (a RunPod-only server's table
    // is as it was).
    let providers = rows.iter().any(|r| r.provider != "runpod");
    let mut head = vec!["GPU", "VRAM", "CLOUD", "PRICE/H", "IN STOCK IN"];
    if providers {
        head.insert(0, "PROVIDER");
    }
    let mut t = table(&head);
    for r in rows {
        let mut row = vec![
            r.gpu_type,
            format!("{} GB", r.vram_gb),
            r.cloud,
            money(r.price_per_hour_usd, simulated),
            r.data_centers.join(", "),
        ];
        if providers {
            row.insert(0, r.provider);
        }
        t.add_row(row);
    }
    out!("{t}");
    Ok(())
}

/// `gpus --learned`: the learned figures per offer, as the ranking uses them.
async fn learned(api: &Api, json: bool) -> Result<(), UserError> {
    let rows = api.run(|c| c.learned_offers()).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(());
    }
    let mut t = table(&[
        "PROVIDER",
        "GPU",
        "DATA CENTER",
        "CLOUD",
        "BOOTS",
        "MEAN BOOT",
        "DUDS",
        "LOSSES",
        "DUD RATE",
        "OPERATOR",
    ]);
    for r in rows {
        t.add_row(vec![
            r.provider,
            r.gpu_type,
            r.data_center,
            r.cloud,
            r.boots.to_string(),
            r.mean_boot_secs.map_or_else(|| "-".into(), |s| format!("{s:.0} s")),
            r.duds.to_string(),
            r.losses.to_string(),
            format!("{:.0} %", r.dud_rate * 100.0),
            match (r.pinned, r.banned) {
                (true, _) => "pinned".into(),
                (_, true) => "banned".into(),
                _ => "-".into(),
            },
        ]);
    }
    out!("{t}");
    Ok(())
}

/// `gpus --speeds`: how fast each workload ran on each GPU, as the ranking uses it.
async fn speeds(api: &Api, json: bool) -> Result<(), UserError> {
    let rows = api.run(|c| c.learned_speeds()).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(());
    }
    let mut t =
        table(&["OWNER", "JOB", "IMAGE", "PROVIDER", "GPU", "REPORTS", "SAMPLES/S", "RUN ×"]);
    for r in rows {
        t.add_row(vec![
            r.owner,
            r.job_name,
            r.image,
            r.provider,
            format!("{} × {}", r.gpu_count, r.gpu_type),
            r.reports.to_string(),
            format!("{:.1}", r.mean_samples_per_second),
            format!("{:.2}", r.run_factor),
        ]);
    }
    out!("{t}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::short_reason;

    #[test]
    fn a_long_reason_is_summarised_for_the_table() {
        // A handler's raw error blob (what made `ps` 300 columns wide): its message, shortened.
        let blob = format!(
            "the handler failed: {{\"error\": \"CUDA out of memory. {}\", \"traceback\": \"{}\"}}",
            "Tried to allocate 20.00 GiB",
            "x".repeat(400)
        );
        let s = short_reason(&blob);
        assert!(s.chars().count() <= 80, "{s}");
        assert!(s.starts_with("the handler failed: CUDA out of memory."), "{s}");
        assert!(!s.contains("traceback"), "{s}");
        // Lines and runs of spaces fold; a short reason is as it was.
        assert_eq!(short_reason("exited with\n  code 1"), "exited with code 1");
        let long = "word ".repeat(40);
        let s = short_reason(&long);
        assert_eq!(s.chars().count(), 80);
        assert!(s.ends_with('…'));
    }
}
