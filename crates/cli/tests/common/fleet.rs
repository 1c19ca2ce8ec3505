//! What must hold of a fleet of pods whatever happened to the servers that ran them (the crash
//! test's and the replicas test's checks): every pod of ours belongs to a live attempt (or is
//! terminated within a few ticks), no job has two running pods, every job settles, and the
//! ledger agrees with the provider's bill.

use runpod::types::pods::PodStatus;
use runpod_emulator::RunningEmulator;
use runpod_emulator::world::ledger::Kind;
use std::time::Duration;

/// The invariants that must hold at any observation.
pub async fn check_invariants(
    emu: &RunningEmulator,
    db: &podwarden_store::Store,
    install: &str,
) -> Result<(), String> {
    let pods: Vec<(String, String, PodStatus)> = emu
        .shared
        .world
        .lock()
        .pods
        .values()
        .filter(|p| p.status != PodStatus::Terminated)
        .map(|p| (p.id.clone(), p.name.clone(), p.status))
        .collect();
    let live = db.attempts_live().await.map_err(|e| e.to_string())?;
    let mut running_per_node = std::collections::HashMap::<(String, i64), usize>::new();
    for (id, name, status) in &pods {
        if !name.starts_with(&format!("pw-{install}-")) {
            continue;
        }
        match live.iter().find(|a| &a.pod_name == name || a.pod_id.as_deref() == Some(id)) {
            Some(a) if status == &PodStatus::Running => {
                *running_per_node.entry((a.job_id.to_string(), a.node)).or_default() += 1
            }
            Some(_) => {}
            None => return Err(format!("pod {id} ({name}) belongs to no live attempt")),
        }
    }
    if let Some(((job, node), n)) = running_per_node.iter().find(|(_, n)| **n > 1) {
        return Err(format!("job {job} has {n} running pods for node {node}"));
    }
    Ok(())
}

/// Waits until every job is final, checking the invariants on the way (pods without a live
/// attempt are allowed only until the reconciler has had a tick to terminate them).
pub async fn settle_all(
    emu: &RunningEmulator,
    db: &podwarden_store::Store,
    install: &str,
    jobs: &[String],
) {
    let jobs: Vec<podwarden_core::JobId> =
        jobs.iter().map(|j| j.parse().expect("a job id from the API")).collect();
    let mut strikes = 0;
    // Three minutes: a liveness bound, not a timing claim (a loaded 2-core CI machine runs the
    // restarted servers' passes late; 60 s was once too short).
    for _ in 0..1800 {
        let mut all_final = true;
        for &j in &jobs {
            let row =
                db.job_get(j).await.expect("db").unwrap_or_else(|| panic!("job {j} was lost"));
            all_final &= row.phase().expect("phase").state.is_final();
        }
        match check_invariants(emu, db, install).await {
            Ok(()) => strikes = 0,
            Err(e) => {
                strikes += 1;
                assert!(strikes < 40, "invariant broken for 4 s (≫ one 100 ms tick): {e}");
            }
        }
        if all_final {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut stuck = Vec::new();
    for &j in &jobs {
        let row = db.job_get(j).await.expect("db").expect("job");
        if !row.phase().expect("phase").state.is_final() {
            let attempts = db.attempts_for_job(j).await.unwrap_or_default();
            let stored: Vec<String> = db
                .job_logs(j, 50)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|l| format!("{} {}", l.source, l.line))
                .collect();
            let pod_logs: Vec<String> = {
                let w = emu.shared.world.lock();
                attempts
                    .iter()
                    .filter_map(|a| a.pod_id.as_ref())
                    .filter_map(|id| w.pods.get(id.as_str()))
                    .map(|p| format!("{:?}: {:?}", p.status, p.logs.text()))
                    .collect()
            };
            stuck.push(format!(
                "{j}: {} ({:?}); attempts {attempts:?}\n  stored logs {stored:?}\n  pod {pod_logs:?}",
                row.state, row.reason
            ));
        }
    }
    panic!("jobs did not settle:\n{}", stuck.join("\n"));
}

pub async fn assert_costs_agree(emu: &RunningEmulator, db: &podwarden_store::Store) {
    let ours: podwarden_core::Money =
        db.cost_rows().await.expect("rows").iter().map(|r| r.amount).sum();
    let theirs: f64 = {
        let w = emu.shared.world.lock();
        w.pods.keys().map(|id| w.ledger.total_for(Kind::Pod, id)).sum()
    };
    assert!((ours.usd() - theirs).abs() < 0.01, "podwarden billed {ours}, the provider {theirs} $");
}

/// Pods of this install the emulator still runs.
pub fn our_live_pods(emu: &RunningEmulator, install: &str) -> usize {
    emu.shared
        .world
        .lock()
        .pods
        .values()
        .filter(|p| {
            p.status != PodStatus::Terminated && p.name.starts_with(&format!("pw-{install}-"))
        })
        .count()
}

/// Pods of this install, every one the emulator ever made, by name: a name made twice is a
/// pod launched twice for one attempt.
pub fn duplicate_pods(emu: &RunningEmulator, install: &str) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for p in emu.shared.world.lock().pods.values() {
        if p.name.starts_with(&format!("pw-{install}-")) {
            *seen.entry(p.name.clone()).or_default() += 1;
        }
    }
    seen.into_iter().filter(|(_, n)| *n > 1).map(|(name, _)| name).collect()
}
