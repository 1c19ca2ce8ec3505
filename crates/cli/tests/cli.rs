//! The `podwarden` binary as a user runs it: `run --follow` on the quickstart spec with no
//! account (embedded emulator, a background server started by the CLI), then `ps --json`,
//! `cost --json`, and clear errors for bad specs.

use std::path::Path;
use std::process::{Command, Output};

fn podwarden(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("PODWARDEN_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .output()
        .expect("podwarden runs")
}

/// Stops the background server the CLI started.
struct Server<'a>(&'a Path);

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if let Ok(b) = std::fs::read(self.0.join("server.json")) {
            if let Some(pid) = serde_json::from_slice::<serde_json::Value>(&b).ok().and_then(|v| v["pid"].as_i64()) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

#[test]
fn quickstart_runs_with_no_account_and_leaves_a_settled_record() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let out = podwarden(home.path(), &["run", "examples/quickstart.toml", "--follow"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status.code());
    assert!(stdout.contains("epoch 3 loss=0.333333"), "the pod's logs stream to stdout:\n{stdout}");
    for stage in
        ["pending", "provisioning", "created", "running", "tearing down (succeeded)", "succeeded: every resource is confirmed gone"]
    {
        assert!(stderr.contains(stage), "stage {stage:?} missing:\n{stderr}");
    }
    assert!(stderr.contains("(simulated)"), "money is marked simulated:\n{stderr}");

    let ps = podwarden(home.path(), &["ps", "--json"]);
    let jobs: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps --json is JSON");
    // The `--json` shape is a stable, documented interface (docs/cli.md).
    insta::assert_json_snapshot!("ps_json", jobs, {
        "[].id" => "[job id]",
        "[].created_at" => "[ms]",
        "[].started_at" => "[ms]",
        "[].spent_usd" => "[usd]",
        "[].gpu" => "[gpu]",
    });
    let gpus = podwarden(home.path(), &["gpus", "--min-vram-gb", "40"]);
    insta::assert_snapshot!("gpus_table", String::from_utf8_lossy(&gpus.stdout));
    assert_eq!(jobs[0]["state"], "succeeded");
    assert_eq!(jobs[0]["name"], "quickstart");
    assert_eq!(jobs[0]["exit_code"], 0);
    let cost = podwarden(home.path(), &["cost", "--json"]);
    let cost: serde_json::Value = serde_json::from_slice(&cost.stdout).expect("cost --json is JSON");
    assert!(cost["total_usd"].as_f64().is_some_and(|t| t > 0.0) && cost["simulated"] == true, "{cost}");
}

#[test]
fn a_bad_spec_fails_before_anything_runs_with_file_line_and_hint() {
    let home = tempfile::tempdir().expect("home");
    let spec = home.path().join("bad.toml");
    std::fs::write(&spec, "name = \"x\"\nimage = \"i\"\ncommand = \"c\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nbudjet_usd = 1.0\n")
        .expect("write");
    let out = podwarden(home.path(), &["run", spec.to_str().expect("utf8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("bad.toml:7:1: unknown field `budjet_usd`"), "{stderr}");
    insta::assert_snapshot!("bad_spec_stderr", stderr.replace(&spec.display().to_string(), "[dir]/bad.toml"));
    assert!(stderr.contains("hint: did you mean `budget_usd`?"), "{stderr}");
    assert!(!home.path().join("server.json").exists(), "no server was even started");
    let missing = podwarden(home.path(), &["run", "nope.toml"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("error: cannot read nope.toml"));
}
