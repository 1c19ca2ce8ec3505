//! A `finetune` job as it would run on RunPod, on the strict emulator: the dataset is uploaded
//! from the laptop to the job's network volume (`[[inputs]]`), the generated training script
//! reads it at `/workspace`, posts its loss live, and writes the adapter to the volume; the job
//! succeeds only once the adapter is there, and `podwarden cp` fetches it after the pod is gone.
//!
//! The ML libraries in the image are fakes (`tests/fixtures/fake_ml`, see its README): this
//! machine has no GPU and no torch. Everything around them is podwarden's real code.

use crate::common;

use common::Server;
use std::path::Path;
use std::process::{Command, Output};

const IMAGE: &str = "podwarden-test/finetune:fake";

/// An emulator config declaring a RunPod pytorch image whose Python has the fake libraries.
fn emulator_config(dir: &Path) -> std::path::PathBuf {
    let fakes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_ml");
    let defaults = runpod_emulator::image::default_images();
    let mut image = defaults.get("runpod/pytorch:*").cloned().expect("the pytorch image");
    image.dirs.push(fakes.clone());
    image.env.insert("PYTHONPATH".into(), fakes.display().to_string());
    image.env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
    image.pull_secs = Some(1.0);
    let cfg = serde_json::json!({
        "pods": {"provisioning_secs": 1.0, "starting_secs": 1.0},
        "images": {IMAGE: image},
    });
    let path = dir.join("emulator.toml");
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write");
    path
}

fn podwarden(home: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(args)
        .current_dir(home)
        .env("PODWARDEN_HOME", home)
        .env("PODWARDEN_EMULATOR_CONFIG", config)
        .env("NO_COLOR", "1")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .output()
        .expect("podwarden runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spec(name: &str, text_field: &str) -> String {
    format!(
        r#"name = "{name}"
image = "{IMAGE}"
network_volume = "models"
env = {{ HF_TOKEN = "hf_test_token", FAKE_HF_HUB = "/workspace/fake-hub" }}
[gpu]
min_vram_gb = 16
[limits]
budget_usd = 1
[[inputs]]
source = "train.jsonl"
path = "data/train.jsonl"
[finetune]
model = "fake/tiny-llama"
dataset_path = "/workspace/data/train.jsonl"
text_field = "{text_field}"
epochs = 2
batch_size = 2
gradient_accumulation_steps = 1
logging_steps = 5
output_dir = "/workspace/adapters/{name}"
push_to_hub = "me/{name}-lora"
hf_token_env = "HF_TOKEN"
[finetune.lora]
r = 8
alpha = 16
"#
    )
}

/// `podwarden ARGS`, which must succeed; its stdout.
fn succeeds(home: &Path, config: &Path, args: &[&str]) -> String {
    let out = podwarden(home, config, args);
    let (o, e) = text(&out);
    assert!(
        out.status.success(),
        "podwarden {args:?}: exit {:?}\nstdout:\n{o}\nstderr:\n{e}",
        out.status.code()
    );
    o
}

/// The job's metric points, read from the API as the dashboard does.
fn metrics(home: &Path, job: &str) -> Vec<serde_json::Value> {
    let server: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("server.json")).expect("server.json"))
            .expect("json");
    let token = std::fs::read_to_string(home.join("token")).expect("token");
    let url = format!("{}/api/v1/jobs/{job}/metrics", server["url"].as_str().expect("url"));
    let out = Command::new("curl")
        .args(["-fsS", "-H", &format!("Authorization: Bearer {}", token.trim()), &url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("points")
}

#[test]
fn a_finetune_job_reads_its_dataset_from_the_volume_and_leaves_the_adapter_there() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let config = emulator_config(h);
    let _server = Server(h);
    let ok = |args: &[&str]| succeeds(h, &config, args);
    ok(&["volume", "create", "models", "--data-center", "EU-RO-1"]);
    let rows: Vec<String> = (0..30)
        .map(|i| {
            serde_json::json!({"text": format!("example {i}: the answer is {}", i * 7)}).to_string()
        })
        .collect();
    std::fs::write(h.join("train.jsonl"), rows.join("\n")).expect("dataset");
    std::fs::write(h.join("ft.toml"), spec("ft", "text")).expect("spec");

    ok(&["run", "ft.toml", "--follow"]);
    let ps: serde_json::Value = serde_json::from_str(&ok(&["ps", "--json"])).expect("ps");
    let id = ps[0]["id"].as_str().expect("the job's id").to_owned();
    let logs = ok(&["logs", &id]);
    assert!(
        logs.contains("training libraries already installed"),
        "the image has them: no pip install\n{logs}"
    );
    assert!(logs.contains("adapter and tokenizer saved to /workspace/adapters/ft"), "{logs}");

    // 30 rows, batch 2, 2 epochs: 30 steps, a point every 5.
    let points = metrics(h, &id);
    let steps: Vec<i64> = points.iter().filter_map(|p| p["point"]["step"].as_i64()).collect();
    assert_eq!(steps, [5, 10, 15, 20, 25, 30], "{points:?}");
    assert_eq!(points.last().map(|p| p["point"]["progress"].as_f64()), Some(Some(100.0)));

    // The pod is gone; the adapter is on the volume and comes back over S3.
    let local = h.join("adapter");
    std::fs::create_dir_all(&local).expect("dir");
    ok(&[
        "cp",
        "vol:models/adapters/ft/adapter_config.json",
        local.join("adapter_config.json").to_str().expect("utf-8"),
    ]);
    ok(&[
        "cp",
        "vol:models/adapters/ft/adapter_model.safetensors",
        local.join("adapter_model.safetensors").to_str().expect("utf-8"),
    ]);
    let adapter: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.join("adapter_config.json")).expect("adapter"))
            .expect("adapter json");
    assert_eq!(
        (adapter["r"].as_i64(), adapter["lora_alpha"].as_i64()),
        (Some(8), Some(16)),
        "{adapter}"
    );
    assert_eq!(adapter["base_model_name_or_path"], "fake/tiny-llama");
    assert_eq!(adapter["target_modules"][0], "q_proj", "llama's targets, detected");
    assert!(std::fs::metadata(local.join("adapter_model.safetensors")).expect("weights").len() > 0);
    // Pushed to the (fake) Hub as well, with the job's token, private.
    ok(&[
        "cp",
        "vol:models/fake-hub/me/ft-lora/adapter.json",
        h.join("pushed.json").to_str().expect("utf-8"),
    ]);
    let pushed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.join("pushed.json")).expect("pushed"))
            .expect("json");
    assert_eq!(
        pushed,
        serde_json::json!({"repo": "me/ft-lora", "token_given": true, "private": true})
    );
    // The dataset and the script stayed off the volume but for the declared input.
    ok(&["cp", "vol:models/data/train.jsonl", h.join("back.jsonl").to_str().expect("utf-8")]);
    let missing = podwarden(
        h,
        &config,
        &["cp", "vol:models/pw_train.py", h.join("x.py").to_str().expect("utf-8")],
    );
    assert!(
        !missing.status.success(),
        "the training script was written in the pod's own scratch directory"
    );

    // A dataset without the text field: a clear failure, from the pod's logs.
    std::fs::write(h.join("bad.toml"), spec("bad", "prompt")).expect("spec");
    let bad = podwarden(h, &config, &["run", "bad.toml", "--follow"]);
    let (o, e) = text(&bad);
    assert!(!bad.status.success(), "{o}\n{e}");
    assert!(o.contains("the dataset has no field 'prompt'"), "{o}\n{e}");
    let ps: serde_json::Value = serde_json::from_str(&ok(&["ps", "--json"])).expect("ps");
    let states: Vec<(String, String)> = ps
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap_or_default().to_owned(),
                j["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&("ft".into(), "succeeded".into()))
            && states.contains(&("bad".into(), "failed".into())),
        "{states:?}"
    );
}

/// A fine-tune with `checkpoint_dir` saves HF-style checkpoints on the volume and, when one
/// is there (a lost pod's), resumes from it: the generated script hands
/// `PODWARDEN_RESUME_FROM` to `Trainer.train(resume_from_checkpoint=…)`.
#[test]
fn a_finetune_job_with_checkpoints_resumes_from_the_newest_one_on_the_volume() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let config = emulator_config(h);
    let _server = Server(h);
    let ok = |args: &[&str]| succeeds(h, &config, args);
    ok(&["volume", "create", "models", "--data-center", "EU-RO-1"]);
    let rows: Vec<String> =
        (0..30).map(|i| serde_json::json!({"text": format!("example {i}")}).to_string()).collect();
    std::fs::write(h.join("train.jsonl"), rows.join("\n")).expect("dataset");
    // What a lost pod left: a complete checkpoint at step 10, a half-written one at 15.
    std::fs::write(h.join("state.json"), r#"{"global_step": 10}"#).expect("state");
    ok(&[
        "cp",
        h.join("state.json").to_str().expect("utf-8"),
        "vol:models/ck/checkpoint-10/trainer_state.json",
    ]);
    ok(&[
        "cp",
        h.join("state.json").to_str().expect("utf-8"),
        "vol:models/ck/checkpoint-15/adapter.bin",
    ]);
    // `checkpoint_dir` is the job's (top level, before the first table); the interval is the
    // fine-tune's.
    let spec = spec("ftck", "text")
        .replacen("[gpu]", "checkpoint_dir = \"ck\"\n[gpu]", 1)
        .replace("[finetune]\n", "[finetune]\ncheckpoint_steps = 10\n");
    std::fs::write(h.join("ft.toml"), spec).expect("spec");
    ok(&["run", "ft.toml", "--follow"]);
    let ps: serde_json::Value = serde_json::from_str(&ok(&["ps", "--json"])).expect("ps");
    let id = ps[0]["id"].as_str().expect("id").to_owned();
    let logs = ok(&["logs", &id]);
    assert!(logs.contains("podwarden: resuming from /workspace/ck/checkpoint-10"), "{logs}");
    assert!(logs.contains("resumed at step 11"), "{logs}");
    let steps: Vec<i64> =
        metrics(h, &id).iter().filter_map(|p| p["point"]["step"].as_i64()).collect();
    assert_eq!(steps, [15, 20, 25, 30], "only the steps after the checkpoint ran");
    // New checkpoints went to the volume, each with its trainer_state.json.
    ok(&[
        "cp",
        "vol:models/ck/checkpoint-30/trainer_state.json",
        h.join("s30.json").to_str().expect("utf-8"),
    ]);
}
