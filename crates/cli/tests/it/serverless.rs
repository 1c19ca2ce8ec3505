//! The serverless side as a user drives it with no account: the README's main job
//! (`quickstart`: train on a pod, deploy, predict, print, tear down), and `endpoint deploy|ls|rm`
//! with `run` on a serverless spec (followed, `--sync`, a failing job with its reason).

use crate::common;

use common::{Server, podwarden};
use std::path::Path;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_main_job_trains_deploys_predicts_prints_and_leaves_nothing_running() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let out = podwarden(home.path(), &["quickstart", "--model", "linear"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // The trainer ran on the pod and reported a real score.
    let model = stdout
        .lines()
        .find(|l| l.starts_with("model quickstart-"))
        .unwrap_or_else(|| panic!("no model line:\n{stdout}"));
    assert!(
        model.contains(
            "linear predicting price from sqft, bedrooms, age_years, distance_km; r2 = 0.9"
        ),
        "{model}"
    );
    // Progress and the score reached the control plane's metrics endpoint (6 steps + score).
    assert!(
        stdout
            .contains("the trainer reported 7 metric points to the control plane (last score: 0.9"),
        "{stdout}"
    );
    // The first rows with predictions, and the cost.
    assert!(
        stdout.contains("predicted_price") && stdout.contains("(20 rows with predictions"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cost (simulated): training $") && stdout.contains("+ prediction $"),
        "{stdout}"
    );
    assert!(stderr.contains("left running: 0 endpoint(s)"), "{stderr}");
    // The predictions are plausible prices (positive, the scale of the shipped data).
    // They are on the network volume, fetched over its S3 API as a user would.
    let local = home.path().join("predictions.csv");
    let cp = podwarden(
        home.path(),
        &[
            "cp",
            "vol:podwarden-quickstart/predictions/local/houses_new.csv",
            local.to_str().unwrap_or_default(),
        ],
    );
    assert!(cp.status.success(), "{}", text(&cp.stderr));
    let csv = std::fs::read_to_string(&local).expect("predictions");
    let prices: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().expect("cell").parse().expect("number"))
        .collect();
    assert_eq!(prices.len(), 20);
    assert!(prices.iter().all(|p| (10_000.0..2_000_000.0).contains(p)), "{prices:?}");
    // Nothing left: no endpoint, every pod of the training job gone.
    let ls: serde_json::Value =
        serde_json::from_slice(&podwarden(home.path(), &["endpoint", "ls", "--json"]).stdout)
            .expect("json");
    assert_eq!(ls, serde_json::json!([]));
    let ps: serde_json::Value =
        serde_json::from_slice(&podwarden(home.path(), &["ps", "--json"]).stdout).expect("json");
    assert_eq!(ps[0]["state"], "succeeded");
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write");
    p.display().to_string()
}

#[test]
fn endpoints_deploy_idempotently_serve_jobs_and_are_removed() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let ep = |workers_max: i64| {
        format!(
            "name = \"echo\"\nimage = \"podwarden/echo-worker:demo\"\n[gpu]\npools = [\"AMPERE_24\"]\n[workers]\nmax = {workers_max}\nidle_timeout = \"5s\"\n"
        )
    };
    let spec = write(home.path(), "ep.toml", &ep(1));
    let first = podwarden(home.path(), &["endpoint", "deploy", &spec]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("endpoint echo created"), "{}", text(&first.stderr));
    let again = podwarden(home.path(), &["endpoint", "deploy", &spec]);
    assert!(text(&again.stderr).contains("endpoint echo unchanged"), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), text(&first.stdout), "same endpoint id");
    let changed =
        podwarden(home.path(), &["endpoint", "deploy", &write(home.path(), "ep2.toml", &ep(2))]);
    assert!(text(&changed.stderr).contains("endpoint echo updated"), "{}", text(&changed.stderr));
    assert_eq!(text(&changed.stdout), text(&first.stdout), "updated in place");

    // A followed serverless job: chunks on stdout as they come, then the output.
    let job = write(
        home.path(),
        "job.toml",
        "endpoint = \"echo\"\ninput = { text = \"hello rented gpus\" }\n",
    );
    let out = podwarden(home.path(), &["run", &job, "--follow"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("\"words\": 3"), "{stdout}");
    assert!(
        stderr.contains("at most $") && stderr.contains("succeeded") && stderr.contains("cost $"),
        "{stderr}"
    );
    // --sync (runsync) gives the same result.
    let out = podwarden(home.path(), &["run", &job, "--sync", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["state"].as_str(), v["output"]["words"].as_i64()),
        (Some("succeeded"), Some(3)),
        "{v}"
    );

    // A job whose handler fails (the model does not exist): failed, with the reason, exit 1.
    let tab = write(
        home.path(),
        "tab.toml",
        // The tabular image's worker reads the store at /runpod-volume (the quickstart volume).
        "name = \"tab\"\nimage = \"@tabular\"\nnetwork_volume = \"pwquickstart\"\n[gpu]\npools = [\"AMPERE_24\"]\n",
    );
    assert!(podwarden(home.path(), &["endpoint", "deploy", &tab]).status.success());
    let bad = write(
        home.path(),
        "bad.toml",
        "endpoint = \"tab\"\ninput = { user = \"local\", model_id = \"nope\", input = \"datasets/local/x.csv\", output = \"predictions/local/x.csv\" }\n",
    );
    let out = podwarden(home.path(), &["run", &bad, "--follow"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ended failed") && stderr.contains("nope"),
        "the error names the model:\n{stderr}"
    );

    // A serverless spec naming an endpoint that does not exist.
    let none = write(home.path(), "none.toml", "endpoint = \"missing\"\ninput = {}\n");
    let out = podwarden(home.path(), &["run", &none]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("endpoint missing not found")
            && text(&out.stderr).contains("endpoint ls"),
        "{}",
        text(&out.stderr)
    );

    let ps = text(&podwarden(home.path(), &["ps"]).stdout);
    assert!(ps.contains("SERVERLESS JOB") && ps.contains("echo") && ps.contains("failed"), "{ps}");
    for name in ["echo", "tab"] {
        let rm = podwarden(home.path(), &["endpoint", "rm", name]);
        assert!(text(&rm.stderr).contains("deleted"), "{}", text(&rm.stderr));
    }
    let ls: serde_json::Value =
        serde_json::from_slice(&podwarden(home.path(), &["endpoint", "ls", "--json"]).stdout)
            .expect("json");
    assert_eq!(ls, serde_json::json!([]));
    let rm = podwarden(home.path(), &["endpoint", "rm", "echo"]);
    assert_eq!(rm.status.code(), Some(1), "a second rm says not found");
}

#[test]
fn a_training_job_on_bad_data_fails_with_the_column_named_and_leaves_no_pod() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    // The embedded emulator's quickstart volume: its files are `home/store`.
    let store = home.path().join("store");
    std::fs::create_dir_all(store.join("datasets/local")).expect("dir");
    std::fs::write(store.join("datasets/local/d.csv"), "a,b\n1,2\n3,4\n").expect("csv");
    let job = write(
        home.path(),
        "train.toml",
        "name = \"bad-train\"\nimage = \"@tabular\"\nnetwork_volume = \"pwquickstart\"\ncommand = \"podwarden-tabular --store /workspace train --user local --dataset datasets/local/d.csv --target price --model linear\"\n[gpu]\nmin_vram_gb = 16\n",
    );
    let out = podwarden(home.path(), &["run", &job, "--follow"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("price"), "the trainer's error names the missing column:\n{stdout}");
    assert!(stderr.contains("exited with code 1") && stderr.contains("ended failed"), "{stderr}");
    let ps: serde_json::Value =
        serde_json::from_slice(&podwarden(home.path(), &["ps", "--json"]).stdout).expect("json");
    assert_eq!(ps[0]["state"], "failed");
}
