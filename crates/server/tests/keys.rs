//! Bring-your-own RunPod key: validated against RunPod before it is stored (invalid key, no
//! funds), stored sealed (AES-256-GCM), shown only as its last 4 characters, removable — and
//! the key appears in no response and no log line of the whole run, a job run on it included.

use podwarden_server::api::ErrorCode;
use podwarden_test_utils::server as common;

use podwarden_server::api::{ComputeSettings, ErrorBody};
use podwarden_server::{ServerConfig, start};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Every log line of this test binary, at every level.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_saved_key_is_verified_sealed_masked_and_never_shown() {
    let logs = Logs::default();
    let w = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || w.clone())
        .with_ansi(false)
        .init();

    let mut ecfg = runpod_emulator::EmulatorConfig::default();
    (ecfg.pods.provisioning_secs, ecfg.pods.starting_secs, ecfg.tick_ms) = (0.1, 0.1, 50);
    ecfg.rate_limits = common::compressed_budgets();
    let emu =
        runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let mut cfg =
        ServerConfig::new(home.path().to_path_buf(), "127.0.0.1:0".parse().expect("addr"));
    cfg.client = Some(emu.client());
    cfg.tick = std::time::Duration::from_millis(100);
    let s = start(cfg).await.expect("server");
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/settings/runpod-key", s.url);
    let key = emu.api_key().expose().to_owned();
    let mut bodies = String::new();

    let before: ComputeSettings =
        http.get(&url).bearer_auth(&s.token).send().await.expect("get").json().await.expect("json");
    assert_eq!((before.backend.as_str(), before.last4.as_deref()), ("hosted", None));

    // A key RunPod rejects.
    let wrong = format!("{key}X");
    let r = http
        .post(&url)
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"api_key": wrong}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.expect("body");
    bodies.push_str(&text);
    let e: ErrorBody = serde_json::from_str(&text).expect("error");
    assert_eq!(e.code, ErrorCode::InvalidApiKey);

    // A valid key on an account without funds.
    emu.shared.world.lock().main_account_mut().balance = 0.0;
    let r = http
        .post(&url)
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"api_key": key}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 402);
    let text = r.text().await.expect("body");
    bodies.push_str(&text);
    assert!(text.contains("insufficient_balance") && text.contains("no funds"), "{text}");

    // Funded: saved, masked.
    emu.shared.world.lock().main_account_mut().balance = 25.0;
    let r = http
        .post(&url)
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"api_key": key}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.expect("body");
    bodies.push_str(&text);
    let saved: ComputeSettings = serde_json::from_str(&text).expect("json");
    assert_eq!(saved.backend, "runpod");
    assert_eq!(saved.last4.as_deref(), Some(&key[key.len() - 4..]));
    let text =
        http.get(&url).bearer_auth(&s.token).send().await.expect("get").text().await.expect("body");
    bodies.push_str(&text);
    assert!(text.contains("\"runpod\""), "{text}");

    // At rest it is sealed: the database file does not hold it.
    let db = std::fs::read(home.path().join("podwarden.db")).expect("db");
    let wal = std::fs::read(home.path().join("podwarden.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "the key is in the database in clear"
        );
    }

    // A job on the saved key runs to the end (its account's engine decrypts and uses the key);
    // everything the API says about it goes into the haystack too.
    let spec = serde_json::json!({"name": "byok", "image": "python:3.11-slim", "command": "echo on my key", "gpu": {"min_vram_gb": 16}});
    let text = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("job")
        .text()
        .await
        .expect("body");
    bodies.push_str(&text);
    let job: podwarden_server::api::JobDetail = serde_json::from_str(&text).expect("job json");
    assert_eq!(job.job.backend, "runpod");
    let mut after = 0;
    loop {
        let text = http
            .get(format!("{}/api/v1/jobs/{}", s.url, job.job.id))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        bodies.push_str(&text);
        if serde_json::from_str::<podwarden_server::api::JobDetail>(&text).expect("json").job.state
            == podwarden_server::api::JobState::Succeeded
        {
            break;
        }
        let text = http
            .get(format!("{}/api/v1/jobs/{}/events?after={after}&wait_ms=5000", s.url, job.job.id))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("events")
            .text()
            .await
            .expect("body");
        bodies.push_str(&text);
        let evs: Vec<podwarden_server::api::EventView> =
            serde_json::from_str(&text).expect("events json");
        after = evs.last().map_or(after, |e| e.id);
        assert!(!evs.iter().any(|e| e.message.starts_with("failed")), "{evs:?}");
    }

    // Removing it reverts to hosted.
    let text = http
        .delete(&url)
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("delete")
        .text()
        .await
        .expect("body");
    bodies.push_str(&text);
    assert!(text.contains("\"hosted\""), "{text}");

    s.shutdown().await;
    emu.shutdown().await;
    let logged = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(!logged.is_empty(), "the log capture works");
    for (what, hay) in [("responses", &bodies), ("logs", &logged)] {
        assert!(!hay.contains(&key) && !hay.contains(&wrong), "the key leaked into {what}");
    }
}

#[tokio::test]
async fn rotate_secret_re_encrypts_what_the_old_secret_sealed() {
    use podwarden_server::keys::{Sealed, Sealer};
    // This run's backend: a SQLite file, or a Postgres schema.
    let test_db = podwarden_store::testing::TestDb::new().await;
    let db = test_db.url.clone();
    let (old, new) =
        ("old-secret-0123456789abcdefghijklmnop", "new-secret-9876543210zyxwvutsrqponmlk");
    {
        let store = test_db.open().await.expect("store");
        store
            .user_insert(&podwarden_store::UserRow {
                id: "u1".into(),
                name: "u1".into(),
                is_admin: false,
                created_at: 0,
                spend_cap: None,
            })
            .await
            .expect("user")
            .then_some(())
            .expect("a new name");
        let s = Sealer::new(old, None).expect("old").seal("rpa_SECRET_KEY_9999");
        store
            .provider_key_put(&podwarden_store::ProviderKeyRow {
                user_id: "u1".into(),
                provider: "runpod".into(),
                key_id: s.key_id,
                nonce: s.nonce,
                ciphertext: s.ciphertext,
                last4: "9999".into(),
                created_at: 0,
            })
            .await
            .expect("put");
    }
    assert_eq!(podwarden_server::rotate_secret(&db, new, old).await.expect("rotate"), 1);
    assert_eq!(
        podwarden_server::rotate_secret(&db, new, old).await.expect("again"),
        0,
        "already under the new secret"
    );
    let store = test_db.open().await.expect("store");
    let row = store.provider_key_get("u1", "runpod").await.expect("get").expect("row");
    let sealed = Sealed { key_id: row.key_id, nonce: row.nonce, ciphertext: row.ciphertext };
    assert_eq!(
        Sealer::new(new, None)
            .expect("new")
            .open(&sealed)
            .expect("opens with the new secret alone"),
        "rpa_SECRET_KEY_9999"
    );
    // A weak new secret is refused before anything is touched.
    assert!(podwarden_server::rotate_secret(&db, "short", new).await.is_err());
}

/// Replicas on one Postgres must share their secrets: one whose job-token secret or sealing key
/// differs from the first replica's refuses to start and names the setting; with both the same,
/// it joins.
#[tokio::test]
async fn a_replica_whose_secrets_differ_from_the_others_refuses_to_start() {
    let Some(db) = podwarden_store::testing::TestDb::postgres().await else { return };
    let emu = common::standalone_emulator().await;
    let cfg = |home: &std::path::Path| {
        let mut c = podwarden_server::ServerConfig::new(
            home.to_path_buf(),
            "127.0.0.1:0".parse().expect("addr"),
        );
        c.client = Some(emu.client());
        c.database = Some(db.url.clone());
        c.tick = std::time::Duration::from_millis(100);
        c
    };
    let homes: Vec<tempfile::TempDir> =
        (0..3).map(|_| tempfile::tempdir().expect("home")).collect();
    // Each data directory makes its own secrets (`token`, `secret`, `secret_key`) on first start.
    let first = podwarden_server::start(cfg(homes[0].path())).await.expect("the first replica");
    let copy = |what: &str, to: usize| {
        std::fs::create_dir_all(homes[to].path()).expect("home");
        std::fs::copy(homes[0].path().join(what), homes[to].path().join(what)).expect("copy");
    };
    let e = podwarden_server::start(cfg(homes[1].path())).await.expect_err("another admin token");
    assert!(format!("{e:#}").contains("PODWARDEN_ADMIN_TOKEN"), "{e:#}");
    copy("token", 1);
    let e = podwarden_server::start(cfg(homes[1].path())).await.expect_err("another token secret");
    assert!(format!("{e:#}").contains("PODWARDEN_TOKEN_SECRET"), "{e:#}");
    copy("token", 2);
    copy("secret", 2);
    let e = podwarden_server::start(cfg(homes[2].path())).await.expect_err("another sealing key");
    assert!(format!("{e:#}").contains("PODWARDEN_SECRET_KEY"), "{e:#}");
    copy("secret_key", 2);
    let joined =
        podwarden_server::start(cfg(homes[2].path())).await.expect("the same secrets: it joins");
    joined.shutdown().await;
    first.shutdown().await;
}

/// Starting with a new admin token (a new token file, or `PODWARDEN_ADMIN_TOKEN`) is the
/// rotation: the old one stops working; tokens the admin made over the API stay.
#[tokio::test]
async fn a_new_admin_token_revokes_the_old_one() {
    let home = tempfile::tempdir().expect("home");
    let http = reqwest::Client::new();
    let s = common::server(home.path()).await;
    let old = s.token.clone();
    let made: podwarden_server::api::NewToken = http
        .post(format!("{}/api/v1/tokens", s.url))
        .bearer_auth(&old)
        .json(&serde_json::json!({"label": "ci"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    s.shutdown().await;
    std::fs::write(home.path().join("token"), "pw_admin_rotated_0123456789abcdef0123")
        .expect("new");
    // On Postgres (replicas may share it) the rotation names the old token; alone on SQLite the
    // new one is enough.
    let s =
        common::server_with(home.path(), |c| c.old_admin_token = Some(old.clone().into())).await;
    assert_eq!(s.token, "pw_admin_rotated_0123456789abcdef0123");
    let status = |t: String| {
        let (http, url) = (http.clone(), s.url.clone());
        async move {
            http.get(format!("{url}/api/v1/jobs"))
                .bearer_auth(t)
                .send()
                .await
                .expect("get")
                .status()
        }
    };
    assert_eq!(status(s.token.clone()).await.as_u16(), 200, "the new token");
    assert_eq!(status(old).await.as_u16(), 401, "the old one is revoked");
    assert_eq!(status(made.token).await.as_u16(), 200, "a token made over the API stays");
    s.shutdown().await;
}
