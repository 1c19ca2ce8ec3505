//! Time from a pod's exit to its job ending (issue 11), and to its pod confirmed gone at the
//! provider (what stops its bill): with the pod's callback reachable, and with the callback
//! refused (the server then reads the wrapper's exit line from the pod's log stream). Target
//! without the callback: at most two reconcile ticks.
//!
//! Each job's command prints the time just before it exits (`date +%s%3N`, in the sandboxed
//! container); the job's `tearing down` state event carries the time the server decided the
//! job had ended. A real `podwarden_server::start` on its embedded emulator, on loopback, on this machine.
//!
//! `cargo run --release -p podwarden-server --example bench_exit` (results: BENCHMARKS.md).

use std::time::Duration;

const TICK: Duration = Duration::from_secs(1);

async fn run(label: &str, public_url: Option<&str>) -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let mut cfg =
        podwarden_server::ServerConfig::new(home.path().to_path_buf(), "127.0.0.1:0".parse()?);
    cfg.tick = TICK;
    cfg.public_url = public_url.map(str::to_owned);
    let s = podwarden_server::start(cfg).await?;
    let api = podwarden_api::Client::new(&s.url, &s.token)?;
    let mut ids = Vec::new();
    for i in 0..podwarden_test_utils::bench_size(12, 2) {
        let job = api
            .submit_job(&{
                let mut spec = podwarden_api::types::JobSpec::new(
                    format!("exit-{i}"),
                    "python:3.11-slim",
                    "echo EXIT_AT=$(date +%s%3N)",
                );
                spec.gpu.min_vram_gb = Some(16);
                spec
            })
            .await?;
        ids.push(job.job.id);
    }
    let (mut lat, mut gone) = (Vec::new(), Vec::new());
    for id in &ids {
        let (mut after, mut ended_at) = (0, None);
        // The job's end, then its pod confirmed gone at the provider (what stops its bill).
        let gone_at = loop {
            let evs = api.job_events(id, after, 5000).await?;
            if let Some(e) =
                evs.iter().find(|e| e.state == Some(podwarden_api::types::JobState::TearingDown))
            {
                ended_at = ended_at.or(Some(e.at));
            }
            if let Some(e) = evs.iter().find(|e| {
                ended_at.is_some()
                    && e.attempt == Some(podwarden_api::types::AttemptState::Terminated)
            }) {
                break e.at;
            }
            after = evs.last().map_or(after, |e| e.id);
        };
        let ended_at = ended_at.unwrap_or(gone_at);
        let logs = api.job_logs(id).await?.text().await?;
        let exit_at: i64 = logs
            .lines()
            .find_map(|l| l.split("EXIT_AT=").nth(1))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("job {id}: no EXIT_AT line in {logs}"))?;
        lat.push((ended_at - exit_at) as f64);
        gone.push((gone_at - exit_at) as f64);
    }
    let tick = TICK.as_millis() as f64;
    for (what, mut ms) in [("exit -> job ended", lat), ("exit -> pod gone", gone)] {
        ms.sort_by(f64::total_cmp);
        println!(
            "{label}, {what}: n={} p50={:.0} ms ({:.2} ticks) max={:.0} ms ({:.2} ticks); tick = {} ms",
            ms.len(),
            ms[ms.len() / 2],
            ms[ms.len() / 2] / tick,
            ms[ms.len() - 1],
            ms[ms.len() - 1] / tick,
            tick
        );
    }
    s.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run("callback reachable", None).await?;
    run("callback refused (exit read from the pod's logs)", Some("http://127.0.0.1:9")).await?;
    Ok(())
}
