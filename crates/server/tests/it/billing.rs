//! Billing reconciliation: the ledger is compared with RunPod's billing API pod by pod, each
//! difference is recorded and shown, and the settled cost becomes the provider's figure.

use common::{follow, server_with};
use podwarden_core::events::EventKind;
use podwarden_core::state::JobState;
use podwarden_test_utils::server as common;

#[tokio::test]
async fn the_ledger_is_corrected_to_the_providers_bill() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    // Checks only when asked (the automatic ones wait for the provider's bill to settle).
    let s = server_with(home.path(), |c| {
        c.client = Some(emu.client());
        c.billing_settle = std::time::Duration::from_secs(3600);
        // SQLite on either run: the test corrupts the ledger by writing the file directly.
        c.database = None;
    })
    .await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "billed", "image": "python:3.11-slim", "command": "sleep 1", "gpu": {"min_vram_gb": 16}});
    let job = common::submit(&http, &s.url, &s.token, &spec).await;
    let (done, _) = follow(&http, &s, &job.job.id).await;
    assert_eq!(done.job.state, JobState::Succeeded);

    // A crash that billed a span twice, as the crash test found: the ledger says $0.50 more.
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(home.path().join("podwarden.db"));
    let mut db = sqlx::SqliteConnection::connect_with(&opts).await.expect("db");
    let (attempt, pod): (String, String) =
        sqlx::query_as("SELECT id, pod_id FROM attempts WHERE job_id = $1")
            .bind(&job.job.id)
            .fetch_one(&mut db)
            .await
            .expect("attempt");
    sqlx::query("INSERT INTO cost_ledger (job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type) VALUES ($1, $2, 0, 0, 500000, 'x')")
        .bind(&job.job.id)
        .bind(&attempt)
        .execute(&mut db)
        .await
        .expect("double-billed");
    sqlx::query("UPDATE jobs SET spent_micros = spent_micros + 500000 WHERE id = $1")
        .bind(&job.job.id)
        .execute(&mut db)
        .await
        .expect("spent");
    db.close().await.expect("close");

    let before: podwarden_server::api::Reconciliation =
        common::get_json(&http, &format!("{}/api/v1/cost/reconciliation", s.url), &s.token).await;
    assert!(before.checks.is_empty(), "nothing checked before the bill settles");
    let r: podwarden_server::api::Reconciliation = common::post_json(
        &http,
        &format!("{}/api/v1/cost/reconcile", s.url),
        &s.token,
        &serde_json::json!({}),
    )
    .await;
    assert_eq!((r.checked_now, r.mismatches), (1, 1), "{r:?}");
    // The injected $0.50, plus whatever the ledger's own per-tick billing differed by.
    assert!((r.overcounted_usd - 0.5).abs() < 0.001, "{r:?}");
    let bill: f64 =
        emu.shared.world.lock().ledger.total_for(runpod_emulator::world::ledger::Kind::Pod, &pod);
    assert!((r.checks[0].theirs_usd - bill).abs() < 1e-6, "{r:?} vs {bill}");

    // The job's cost is now the provider's, to the cent; the job says what happened.
    let (after, events) = follow(&http, &s, &job.job.id).await;
    assert!((after.job.spent_usd - bill).abs() < 0.01, "{} vs {bill}", after.job.spent_usd);
    assert!(
        events.iter().any(|e| e.kind == EventKind::Billing && e.message.contains("RunPod billed")),
        "{events:#?}"
    );
    let again: podwarden_server::api::Reconciliation = common::post_json(
        &http,
        &format!("{}/api/v1/cost/reconcile", s.url),
        &s.token,
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(again.checked_now, 0, "each pod is checked once");
    let bob = common::new_user(&http, &s.url, &s.token, "bob").await;
    let r = http
        .post(format!("{}/api/v1/cost/reconcile", s.url))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);
    s.shutdown().await;
    emu.shutdown().await;
}

/// A user's own RunPod account gets its bill checked too.
#[tokio::test]
async fn a_byok_users_pods_are_checked_against_their_own_bill() {
    const USER_KEY: &str = "rpa_BILLEDUSER000000000000000000000000000000WXYZ";
    let mut ecfg = runpod_emulator::EmulatorConfig::default();
    ecfg.pods.provisioning_secs = 0.1;
    ecfg.pods.starting_secs = 0.1;
    ecfg.tick_ms = 50;
    ecfg.rate_limits = common::compressed_budgets();
    ecfg.accounts = vec![runpod_emulator::config::AccountSeed::new(USER_KEY)];
    // Time here runs 20-100x compressed and bills are read right away: they show live. The
    // billing lag is tested on the manual clock (emulator `pods::spend_shows_*`, engine
    // `a_bill_is_booked_only_once_it_settles_*`).
    ecfg.billing = runpod_emulator::config::BillingConfig::live();
    let emu =
        runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| {
        c.client = Some(emu.client());
        c.billing_settle = std::time::Duration::from_secs(3600);
    })
    .await;
    let http = reqwest::Client::new();
    let ann = common::new_user(&http, &s.url, &s.token, "ann").await;
    let r = http
        .post(format!("{}/api/v1/settings/runpod-key", s.url))
        .bearer_auth(&ann.token)
        .json(&serde_json::json!({"api_key": USER_KEY}))
        .send()
        .await
        .expect("key");
    assert_eq!(r.status().as_u16(), 200);
    let spec = serde_json::json!({"name": "mine", "image": "python:3.11-slim", "command": "sleep 1", "gpu": {"min_vram_gb": 16}});
    let job = common::submit(&http, &s.url, &ann.token, &spec).await;
    let (done, _) = common::follow_as(&http, &s.url, &ann.token, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.backend.as_str()), ("succeeded", "runpod"));
    let r: podwarden_server::api::Reconciliation = common::post_json(
        &http,
        &format!("{}/api/v1/cost/reconcile", s.url),
        &s.token,
        &serde_json::json!({}),
    )
    .await;
    let check = r
        .checks
        .iter()
        .find(|c| c.job_id == job.job.id)
        .unwrap_or_else(|| panic!("her pod was checked: {r:?}"));
    let bill: f64 = emu
        .shared
        .world
        .lock()
        .ledger
        .total_for(runpod_emulator::world::ledger::Kind::Pod, &check.pod_id);
    assert!(bill > 0.0 && (check.theirs_usd - bill).abs() < 1e-6, "{check:?} vs {bill}");
    s.shutdown().await;
    emu.shutdown().await;
}
