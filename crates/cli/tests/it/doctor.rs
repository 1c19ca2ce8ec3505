//! `podwarden doctor` against the emulator: a working setup passes; each broken piece (a key
//! RunPod rejects, an empty account, a public URL pods cannot reach, a readable secret, no
//! sealing key) is named with its fix, in text and in `--json`, and the exit code says so.

use std::path::Path;
use std::process::{Command, Output};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn doctor(home: &Path, env: &[(&str, &str)]) -> (Output, serde_json::Value) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podwarden"));
    c.args(["doctor", "--json", "--offline"]).env("PODWARDEN_HOME", home);
    for v in [
        "RUNPOD_API_KEY",
        "RUNPOD_REST_URL",
        "PODWARDEN_PUBLIC_URL",
        "PODWARDEN_SECRET_KEY",
        "PODWARDEN_PROVIDER",
    ] {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("podwarden runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("--json is JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    });
    (out, report)
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_a_working_setup_and_names_each_problem_with_its_fix() {
    let cfg = runpod_emulator::EmulatorConfig {
        accounts: vec![runpod_emulator::config::AccountSeed {
            balance: 0.0,
            ..runpod_emulator::config::AccountSeed::new("rpa_BROKEACCOUNT000000000000000000000")
        }],
        ..Default::default()
    };
    let emu =
        runpod_emulator::start(cfg, runpod_emulator::Options::default()).await.expect("emulator");
    let key = emu.api_key().expose().to_owned();
    let base = emu.base_url();
    let home = tempfile::tempdir().expect("home");
    let good = [
        ("RUNPOD_API_KEY", key.as_str()),
        ("RUNPOD_REST_URL", base.as_str()),
        ("PODWARDEN_PUBLIC_URL", "https://pw.example.com"),
        ("PODWARDEN_SECRET_KEY", SECRET),
    ];

    let (out, report) = tokio::task::block_in_place(|| doctor(home.path(), &good));
    assert!(out.status.success(), "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(check(&report, "runpod_key")["status"], "ok");
    assert!(
        check(&report, "account")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("balance $100.00"),
        "{report:#}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&key), "the key never appears");

    assert_eq!(check(&report, "strays")["status"], "ok");
    assert_eq!(check(&report, "secrets")["status"], "ok", "{report:#}");
    // A pod another podwarden install named: a warning naming the install, and what to do.
    let stray = runpod::types::pods::CreatePodRequest {
        name: "pw-deadbeef-0123456789abcdef0123456789abcdef".into(),
        image: Some("runpod/pytorch:test".into()),
        args: Some("sleep 1000".into()),
        gpu: Some(runpod::types::pods::CreateGpuConfig {
            id: runpod::GpuTypeId::new("NVIDIA GeForce RTX 4090"),
            count: Some(1),
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..Default::default()
    };
    emu.client().create_pod(&stray).await.expect("a pod of another install");
    let (out, report) = tokio::task::block_in_place(|| doctor(home.path(), &good));
    assert!(out.status.success(), "a warning, not a failure: {report:#}");
    let strays = check(&report, "strays");
    assert_eq!(strays["status"], "warn", "{report:#}");
    assert!(
        strays["detail"].as_str().unwrap_or_default().contains("install deadbeef"),
        "{strays:#}"
    );
    assert!(strays["fix"].as_str().unwrap_or_default().contains("strays/reap"), "{strays:#}");

    let with = |k: &'static str, v: &'static str| {
        good.iter().map(|(a, b)| if *a == k { (*a, v) } else { (*a, *b) }).collect::<Vec<_>>()
    };
    for (env, name, fix) in [
        (
            with("RUNPOD_API_KEY", "rpa_NOTAKEYATALL00000000000000000000000"),
            "runpod_key",
            "API Keys",
        ),
        (with("RUNPOD_API_KEY", "rpa_BROKEACCOUNT000000000000000000000"), "account", "add funds"),
        (with("PODWARDEN_PUBLIC_URL", "http://127.0.0.1:8711"), "public_url", "reverse proxy"),
        (with("PODWARDEN_SECRET_KEY", "short"), "secret_key", "openssl rand"),
    ] {
        let (out, report) = tokio::task::block_in_place(|| doctor(home.path(), &env));
        assert_eq!(out.status.code(), Some(1), "{report:#}");
        let c = check(&report, name);
        assert_eq!(c["status"], "fail", "{report:#}");
        assert!(c["fix"].as_str().unwrap_or_default().contains(fix), "{c:#}");
    }

    // A secret file others can read is a failure with the chmod that fixes it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let token = home.path().join("token");
        std::fs::write(&token, "t").expect("token");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let (out, report) = tokio::task::block_in_place(|| doctor(home.path(), &good));
        assert_eq!(out.status.code(), Some(1));
        let bad: Vec<_> = report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["status"] == "fail")
            .collect();
        assert!(
            bad.len() == 1 && bad[0]["fix"].as_str().unwrap_or_default().starts_with("chmod 600"),
            "{report:#}"
        );
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    // No key at all: the embedded emulator is used, which is a warning, not a failure.
    let (out, report) = tokio::task::block_in_place(|| doctor(home.path(), &[]));
    assert!(out.status.success(), "{report:#}");
    assert_eq!(check(&report, "runpod_key")["status"], "warn");
    assert_eq!(
        check(&report, "images")["status"],
        "ok",
        "the embedded emulator runs every example image"
    );
    emu.shutdown().await;
}
