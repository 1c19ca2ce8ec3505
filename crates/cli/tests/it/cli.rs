//! The `podwarden` binary as a user runs it: `run --follow` on the quickstart spec with no
//! account (embedded emulator, a background server started by the CLI), then `ps --json`,
//! `cost --json`, and clear errors for bad specs.

use crate::common;

use common::{Server, podwarden, until};
use std::process::Command;

#[test]
fn quickstart_runs_with_no_account_and_leaves_a_settled_record() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let out = podwarden(home.path(), &["run", "examples/quickstart.toml", "--follow"]);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    assert!(stdout.contains("epoch 3 loss=0.333333"), "the pod's logs stream to stdout:\n{stdout}");
    for stage in [
        "pending",
        "provisioning",
        "created",
        "running",
        "tearing down (succeeded)",
        "succeeded: the command exited with code 0; every resource is confirmed gone",
    ] {
        assert!(stderr.contains(stage), "stage {stage:?} missing:\n{stderr}");
    }
    // The stage display (plain lines without a terminal), every stage in order.
    let shown: Vec<usize> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|r| r.split_once("/5] ")))
        .map(|(n, _)| n.parse::<usize>().expect("stage number"))
        .collect();
    assert_eq!(shown, [1, 2, 3, 4, 5], "{stderr}");
    assert!(
        stderr.contains("[1/5] choosing GPU") && stderr.contains("[5/5] tearing down"),
        "{stderr}"
    );
    let ps = podwarden(home.path(), &["ps", "--json"]);
    let jobs: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps --json is JSON");
    // The `--json` shape is a stable, documented interface (docs/cli.md).
    insta::assert_json_snapshot!("ps_json", jobs, {
        "[].id" => "[job id]",
        "[].created_at" => "[ms]",
        "[].started_at" => "[ms]",
        "[].ended_at" => "[ms]",
        "[].spent_usd" => "[usd]",
        "[].gpu" => "[gpu]",
    });
    let gpus = podwarden(home.path(), &["gpus", "--min-vram-gb", "40"]);
    insta::assert_snapshot!("gpus_table", String::from_utf8_lossy(&gpus.stdout));
    assert_eq!(jobs[0]["state"], "succeeded");
    assert_eq!(jobs[0]["name"], "quickstart");
    assert_eq!(jobs[0]["exit_code"], 0);
    let cost = podwarden(home.path(), &["cost", "--json"]);
    let cost: serde_json::Value =
        serde_json::from_slice(&cost.stdout).expect("cost --json is JSON");
    assert!(
        cost["total_usd"].as_f64().is_some_and(|t| t > 0.0) && cost["simulated"] == true,
        "{cost}"
    );
    // What the run taught of its offer, and an operator's ban of it (`gpus --learned`).
    let learned = podwarden(home.path(), &["gpus", "--learned", "--json"]);
    let learned: serde_json::Value = serde_json::from_slice(&learned.stdout).expect("JSON");
    let offer = &learned[0];
    assert!(offer["boots"].as_i64().is_some_and(|b| b >= 1), "{learned}");
    let (gpu, dc) =
        (offer["gpu_type"].as_str().expect("gpu"), offer["data_center"].as_str().expect("dc"));
    let ban = podwarden(
        home.path(),
        &["admin", "offer", "ban", gpu, dc, "--cloud", offer["cloud"].as_str().expect("cloud")],
    );
    assert!(ban.status.success(), "{}", String::from_utf8_lossy(&ban.stderr));
    let table = podwarden(home.path(), &["gpus", "--learned"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains(gpu) && table.contains("banned"), "{table}");
    let id = jobs[0]["id"].as_str().expect("id");
    // One job in full; its logs as JSON lines; an error as JSON when JSON was asked for.
    let one = podwarden(home.path(), &["ps", id]);
    let one = String::from_utf8_lossy(&one.stdout);
    assert!(one.contains("succeeded") && one.contains("attempt 1: "), "{one}");
    let logs = podwarden(home.path(), &["logs", id, "--json"]);
    let first: serde_json::Value =
        serde_json::from_slice(logs.stdout.split(|b| *b == b'\n').next().expect("a line"))
            .expect("logs --json is JSON lines");
    assert!(first["line"].is_string() && first["source"].is_string(), "{first}");
    let bad = podwarden(home.path(), &["stop", "job_00000000000000000000000000", "--json"]);
    assert_eq!(bad.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("an error as JSON");
    assert!(err["error"].as_str().is_some_and(|e| e.contains("job_0000")), "{err}");
    // What a run would cost, without running it: the quickstart's max_runtime bounds it before
    // its $0.50 budget does.
    let est = podwarden(home.path(), &["run", "examples/quickstart.toml", "--estimate", "--json"]);
    let est: serde_json::Value = serde_json::from_slice(&est.stdout).expect("estimate JSON");
    assert_eq!(est["bound"], "max_runtime", "{est}");
    assert!(est["max_cost_usd"].as_f64().is_some_and(|m| m > 0.0 && m < 0.5), "{est}");
    assert!(est["price_per_hour_usd"].as_f64().is_some_and(|p| p > 0.0), "{est}");
    let ps = podwarden(home.path(), &["ps", "--json"]);
    let after: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps");
    assert_eq!(after.as_array().map(Vec::len), Some(1), "an estimate runs nothing");
    // The background server: said to run, then stopped, and its process is gone.
    let st = podwarden(home.path(), &["server", "status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).expect("status JSON");
    assert_eq!(st["running"], true, "{st}");
    let pid = st["pid"].as_u64().expect("pid") as u32;
    let stop = podwarden(home.path(), &["server", "stop"]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    until("the server's process to end", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    let st = podwarden(home.path(), &["server", "status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).expect("status JSON");
    assert_eq!(st["running"], false, "{st}");
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
    insta::assert_snapshot!(
        "bad_spec_stderr",
        stderr.replace(&spec.display().to_string(), "[dir]/bad.toml")
    );
    assert!(stderr.contains("hint: did you mean `budget_usd`?"), "{stderr}");
    assert!(!home.path().join("server.json").exists(), "no server was even started");
    let missing = podwarden(home.path(), &["run", "nope.toml"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("error: cannot read nope.toml"));
}

/// Kills `child` if it is still running after `secs` (a hung stream fails the test, not CI).
fn watchdog(pid: u32, secs: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
}

#[test]
fn logs_follow_waits_for_the_pod_streams_its_lines_and_ends_when_the_job_is_stopped() {
    use std::io::BufRead;
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let spec = home.path().join("logs.toml");
    std::fs::write(
        &spec,
        "name = \"logs\"\nimage = \"python:3.11-slim\"\ncommand = \"echo line-one; echo line-two; sleep 600\"\n[gpu]\nmin_vram_gb = 16\n",
    )
    .expect("write");
    let out = podwarden(home.path(), &["run", spec.to_str().expect("utf8"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run --json is JSON");
    let id = job["id"].as_str().expect("id").to_owned();

    // Started right after submit: it waits for the pod instead of failing.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(["logs", "-f", &id])
        .env("PODWARDEN_HOME", home.path())
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("logs -f");
    watchdog(follow.id(), 120);
    let mut lines = std::io::BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("utf8");
        seen.push(line.clone());
        if line.contains("line-two") {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("line-one")) && seen.iter().any(|l| l.contains("line-two")),
        "{seen:?}"
    );

    // Without -f: the backlog, then exit.
    let once = podwarden(home.path(), &["logs", &id]);
    assert!(once.status.success() && String::from_utf8_lossy(&once.stdout).contains("line-two"));

    let stop = podwarden(home.path(), &["stop", &id]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    // The stream ends when the pod is terminated, and `logs -f` with it.
    let rest: Vec<String> = lines.map(|l| l.expect("utf8")).collect();
    assert!(
        rest.iter().all(|l| l.starts_with("[system] ")),
        "only the provider's own lines follow: {rest:?}"
    );
    assert!(follow.wait().expect("wait").success(), "logs -f exits cleanly when its pod is gone");
    let ps = podwarden(home.path(), &["ps", "--json"]);
    let jobs: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("json");
    assert_eq!(jobs[0]["id"], id.as_str());
    assert!(matches!(jobs[0]["state"].as_str(), Some("tearing_down" | "cancelled")), "{}", jobs[0]);
}

#[test]
fn sigterm_stops_serve_like_ctrl_c_and_takes_every_emulated_pod_with_it() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let spec = home.path().join("sleep.toml");
    std::fs::write(&spec, "name = \"sleeper\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 4243.25\"\n[gpu]\nmin_vram_gb = 16\n")
        .expect("write");
    let out = podwarden(home.path(), &["run", spec.to_str().expect("utf8"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    common::until("the pod's command to run", || !common::processes_with("4243.25").is_empty());
    let server: serde_json::Value = serde_json::from_slice(
        &std::fs::read(home.path().join("server.json")).expect("server.json"),
    )
    .expect("json");
    let pid = server["pid"].as_i64().expect("pid");
    assert!(
        Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill").success()
    );
    // Gone, or a zombie nobody has reaped yet (the CLI that started it has exited).
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
    };
    common::until("the server to exit", || !running());
    assert_eq!(
        common::processes_with("4243.25"),
        Vec::<u32>::new(),
        "no pod process outlives the server"
    );
    let log = std::fs::read_to_string(home.path().join("server.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

/// `podwarden gpus | head`: output into a closed pipe ends the command quietly (141, as a
/// SIGPIPE death), with no panic message.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    assert!(podwarden(home.path(), &["gpus"]).status.success(), "the server is up");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .arg("gpus")
        .env("PODWARDEN_HOME", home.path())
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The reader goes away before the command prints anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
}

/// `RUST_LOG` works like `PODWARDEN_LOG` (which wins when both are set).
#[test]
fn rust_log_turns_on_logging() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let run = |vars: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_podwarden"));
        c.arg("gpus")
            .env("PODWARDEN_HOME", home.path())
            .env("NO_COLOR", "1")
            .env_remove("RUNPOD_API_KEY")
            .env_remove("PODWARDEN_URL");
        c.env_remove("RUST_LOG").env_remove("PODWARDEN_LOG");
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(!run(&[]).contains("DEBUG"));
    assert!(run(&[("RUST_LOG", "reqwest=debug")]).contains("DEBUG"), "RUST_LOG is honoured");
    assert!(
        !run(&[("RUST_LOG", "reqwest=debug"), ("PODWARDEN_LOG", "warn")]).contains("DEBUG"),
        "PODWARDEN_LOG wins"
    );
}

/// Exit 1 for the user's errors, 2 for unexpected ones (the documented contract).
#[test]
fn exit_codes_tell_a_users_error_from_an_unexpected_one() {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("bad.toml"), "name = \"Bad Name\"\n").expect("spec");
    let bad =
        podwarden(home.path(), &["run", home.path().join("bad.toml").to_str().unwrap_or_default()]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "a bad spec is the user's: {}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // Nothing listens on port 1: the server cannot be reached.
    let down = Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .arg("ps")
        .env("PODWARDEN_HOME", home.path())
        .env("PODWARDEN_URL", "http://127.0.0.1:1")
        .env("PODWARDEN_TOKEN", "pw_x")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&down.stderr);
    assert_eq!(down.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot reach the podwarden server"),
        "the message reads as before: {err}"
    );
}

/// The README's "your own work" block, command by command in its order, on a fresh install
/// (the last line lists commands to try, not a sequence; it is left out).
#[test]
fn readme_commands_run_top_to_bottom() {
    let readme = include_str!("../../../../README.md");
    let start = readme.find("Then, your own work:").expect("the block's heading");
    let block = readme[start..].split("```sh\n").nth(1).expect("a sh block");
    let block = &block[..block.find("```").expect("the block's end")];
    let commands: Vec<Vec<&str>> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim())
        .filter(|l| l.starts_with("podwarden ") && !l.contains(" | "))
        .map(|l| l.split_whitespace().skip(1).collect())
        .collect();
    assert!(commands.len() >= 6, "{commands:?}");
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    // In a copy of the examples: what the commands write (a job's outputs next to its spec,
    // `./predictions.csv`) stays out of the repository.
    let work = tempfile::tempdir().expect("work");
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"),
        &work.path().join("examples"),
    );
    for args in &commands {
        let out = Command::new(env!("CARGO_BIN_EXE_podwarden"))
            .args(args)
            .current_dir(work.path())
            .env("PODWARDEN_HOME", home.path())
            .env("NO_COLOR", "1")
            .env_remove("RUNPOD_API_KEY")
            .env_remove("PODWARDEN_URL")
            .output()
            .expect("podwarden runs");
        assert!(
            out.status.success(),
            "`podwarden {}` failed:\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let predictions =
        std::fs::read_to_string(work.path().join("predictions.csv")).expect("the predictions");
    assert!(
        predictions.lines().next().is_some_and(|h| h.contains("predicted_price")),
        "{predictions}"
    );
}

/// Copies a directory tree.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}
