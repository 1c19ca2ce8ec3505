//! The `finetune` job kind: the generated start script against golden files, its shell and
//! Python syntax (`sh -n`, `python3 -m py_compile`), and the Python helpers run for real.
//! `UPDATE_GOLDEN=1 cargo test -p podwarden-core --test finetune` rewrites the golden files.

use podwarden_core::spec::JobSpec;
use std::path::PathBuf;
use std::process::Command;

const LLAMA: &str = r#"
name = "llama-lora"
image = "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"
network_volume = "models"
[gpu]
min_vram_gb = 24
[finetune]
model = "meta-llama/Llama-3.2-1B"
dataset_url = "https://data.example/train.jsonl"
"#;

const T5: &str = r#"
name = "t5-lora"
image = "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"
env = { HF_TOKEN = "hf_x" }
[gpu]
min_vram_gb = 16
[finetune]
model = "google/flan-t5-base"
dataset_path = "/workspace/data/qa.json"
push_to_hub = "my-org/t5-qa-lora"
hf_token_env = "HF_TOKEN"
text_field = "question"
epochs = 1.5
batch_size = 8
learning_rate = 0.0003
quantization = "none"
output_dir = "/workspace/t5-adapter"
[finetune.lora]
r = 8
alpha = 16
target_modules = ["q", "v"]
"#;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

fn script(toml: &str) -> String {
    JobSpec::from_toml("job.toml", toml).expect("valid finetune spec").shell_command()
}

/// The Python program inside a script's heredoc.
fn python_of(script: &str) -> String {
    let start =
        script.find("<<'PW_TRAIN_PY_END'\n").expect("heredoc") + "<<'PW_TRAIN_PY_END'\n".len();
    let end = script.rfind("\nPW_TRAIN_PY_END\n").expect("heredoc end");
    script[start..end].to_owned()
}

/// The base64 configuration the script exports.
fn config_of(script: &str) -> String {
    let line =
        script.lines().find(|l| l.starts_with("export PW_FINETUNE_CONFIG='")).expect("config line");
    line.trim_start_matches("export PW_FINETUNE_CONFIG='").trim_end_matches('\'').to_owned()
}

#[test]
fn generated_scripts_match_their_golden_files() {
    for (name, toml) in [("finetune-llama-4bit.sh", LLAMA), ("finetune-t5-custom.sh", T5)] {
        let got = script(toml);
        let path = golden(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).expect("write golden");
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
        assert_eq!(
            got, want,
            "{name} changed; if intended, rerun with UPDATE_GOLDEN=1 and review the diff"
        );
    }
}

#[test]
fn the_script_is_valid_sh_and_its_python_compiles() {
    let dir = tempfile::tempdir().expect("dir");
    for toml in [LLAMA, T5] {
        let s = script(toml);
        let sh = Command::new("sh").arg("-n").arg("-c").arg(&s).output().expect("sh");
        assert!(sh.status.success(), "sh -n: {}", String::from_utf8_lossy(&sh.stderr));
        let py = dir.path().join("pw_train.py");
        std::fs::write(&py, python_of(&s)).expect("write");
        let out =
            Command::new("python3").args(["-m", "py_compile"]).arg(&py).output().expect("python3");
        assert!(out.status.success(), "py_compile: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Runs Python code after importing the generated program as a module.
fn run_python(script: &str, code: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("pw_train.py"), python_of(script)).expect("write");
    let out = Command::new("python3")
        .current_dir(dir.path())
        .env("PW_FINETUNE_CONFIG", config_of(script))
        .args(["-c", &format!("import json, pw_train as t\n{code}")])
        .output()
        .expect("python3");
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_python_reads_its_config_detects_targets_and_builds_points() {
    // Quotes and shell syntax in a value reach Python intact and run nothing.
    let nasty = LLAMA.replace(
        "https://data.example/train.jsonl",
        "https://data.example/a'$(touch${IFS}pwned)\\\"`id`.jsonl",
    );
    let s = script(&nasty);
    let cfg: serde_json::Value =
        serde_json::from_str(&run_python(&s, "print(json.dumps(t.load_config()))")).expect("json");
    assert_eq!(cfg["dataset_url"], "https://data.example/a'$(touch${IFS}pwned)\"`id`.jsonl");
    assert_eq!(cfg["model"], "meta-llama/Llama-3.2-1B");
    assert_eq!(cfg["lora"]["r"], 16);
    assert_eq!(cfg["quantization"], "4bit");

    let targets = run_python(
        &s,
        "print(json.dumps([t.detect_target_modules('llama'), t.detect_target_modules('T5'), \
         t.detect_target_modules('newarch', ['model.layers.0.attn.q_proj', 'model.layers.0.mlp.fc1', 'lm_head']), \
         t.detect_target_modules('newarch', ['a.fc1', 'a.fc2', 'lm_head'])]))",
    );
    let targets: Vec<Vec<String>> = serde_json::from_str(&targets).expect("json");
    assert_eq!(
        targets[0],
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    );
    assert_eq!(targets[1], ["q", "k", "v", "o"]);
    assert_eq!(
        targets[2],
        ["q_proj"],
        "unknown architectures: the attention-looking linear layers"
    );
    assert_eq!(targets[3], ["fc1", "fc2"], "else every linear layer but the head");

    let point = run_python(
        &s,
        "print(json.dumps(t.metrics_point(50, 200, 100.0, {'loss': float('nan'), 'epoch': 0.25, 'learning_rate': 2e-4, 'eval_loss': None}, \
         {'gpu_memory_allocated_gb': 7.1})))",
    );
    let p: serde_json::Value = serde_json::from_str(&point).expect("json");
    assert_eq!(p["loss"], "NaN");
    assert_eq!(p["progress"], 25.0);
    assert_eq!(p["remaining_seconds"], 300);
    assert!(p.get("eval_loss").is_none());
    // podwarden's own check accepts what the script sends.
    podwarden_core::metrics::normalize_point(&p).expect("the server accepts the generated point");
    assert!(!std::path::Path::new("pwned").exists());
}

#[test]
fn finetune_specs_are_checked() {
    let with_command = LLAMA.replace("[gpu]", "command = \"python train.py\"\n[gpu]");
    let e = JobSpec::from_toml("job.toml", &with_command).expect_err("command and finetune");
    assert_eq!(e.field.as_deref(), Some("finetune"));
    let bad_model = LLAMA.replace("meta-llama/Llama-3.2-1B", "meta llama; rm -rf /");
    let e = JobSpec::from_toml("job.toml", &bad_model).expect_err("bad model");
    assert_eq!(e.field.as_deref(), Some("finetune.model"));
    assert_eq!(e.line, Some(8), "located in the file: {e}");
    let bad_url = LLAMA.replace("https://data.example/train.jsonl", "file:///etc/passwd");
    assert_eq!(
        JobSpec::from_toml("job.toml", &bad_url).expect_err("url").field.as_deref(),
        Some("finetune.dataset_url")
    );
    let typo = LLAMA.replace("dataset_url", "datset_url");
    let e = JobSpec::from_toml("job.toml", &typo).expect_err("typo");
    assert!(e.hint.as_deref().unwrap_or("").contains("dataset_url"), "{e}");
    let spec = JobSpec::from_toml("job.toml", LLAMA).expect("valid");
    assert_eq!(spec.kind(), "finetune");
    // The job is not done until the adapter is on the volume.
    assert_eq!(spec.required_outputs(), ["fine_tuned_model/adapter_config.json"]);
    assert!(
        JobSpec::from_toml("job.toml", T5).expect("valid").required_outputs().is_empty(),
        "pushed to the Hub, not kept on a volume"
    );
}

/// Where the adapter goes and where the dataset comes from are checked before anything bills.
#[test]
fn the_adapter_outlives_the_pod_and_the_dataset_is_one_thing() {
    let field = |toml: &str| JobSpec::from_toml("job.toml", toml).expect_err("refused").field;
    // No volume and no Hub: the adapter would die with the pod.
    let e = JobSpec::from_toml("job.toml", &LLAMA.replace("network_volume = \"models\"\n", ""))
        .expect_err("lost adapter");
    assert_eq!(e.field.as_deref(), Some("finetune"));
    assert!(
        e.message.contains("lost") && e.hint.as_deref().unwrap_or("").contains("volume create"),
        "{e}"
    );
    // A volume, but the adapter saved beside it.
    let off = LLAMA.replace("[finetune]\n", "[finetune]\noutput_dir = \"/root/adapter\"\n");
    assert_eq!(field(&off).as_deref(), Some("finetune.output_dir"));
    let mount_itself = LLAMA.replace("[finetune]\n", "[finetune]\noutput_dir = \"/workspace\"\n");
    assert_eq!(field(&mount_itself).as_deref(), Some("finetune.output_dir"));
    let sideways =
        LLAMA.replace("[finetune]\n", "[finetune]\noutput_dir = \"/workspace-other/a\"\n");
    assert_eq!(field(&sideways).as_deref(), Some("finetune.output_dir"));
    // Exactly one dataset.
    let both = LLAMA.replace("[finetune]\n", "[finetune]\ndataset_path = \"/workspace/d.jsonl\"\n");
    assert_eq!(field(&both).as_deref(), Some("finetune.dataset_path"));
    let none = LLAMA.replace("dataset_url = \"https://data.example/train.jsonl\"\n", "");
    assert_eq!(field(&none).as_deref(), Some("finetune.dataset_url"));
    let relative = T5.replace("/workspace/data/qa.json", "data/qa.json");
    assert_eq!(field(&relative).as_deref(), Some("finetune.dataset_path"));
    // Pushing needs a repository id and a token.
    let bad_repo = T5.replace("my-org/t5-qa-lora", "not a repo");
    assert_eq!(field(&bad_repo).as_deref(), Some("finetune.push_to_hub"));
    let no_token = T5.replace("hf_token_env = \"HF_TOKEN\"\n", "");
    assert_eq!(field(&no_token).as_deref(), Some("finetune.hf_token_env"));
}

/// Images that already have the libraries skip the install (no network needed); the check
/// is the script's own, run by the host's python3.
#[test]
fn the_install_is_skipped_when_the_libraries_are_there() {
    let s = script(LLAMA);
    assert!(s.contains("bitsandbytes"), "4-bit needs bitsandbytes");
    assert!(!script(T5).contains("bitsandbytes"), "no quantization, no bitsandbytes");
    let check = s.lines().find(|l| l.starts_with("if python3 -c")).expect("the check").to_owned();
    let check = check.trim_start_matches("if ").trim_end_matches("; then");
    let dir = tempfile::tempdir().expect("dir");
    let run = |extra: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(check.replace("peft bitsandbytes", &format!("peft bitsandbytes {extra}")))
            .env("PYTHONPATH", dir.path())
            .status()
            .expect("sh")
            .success()
    };
    assert!(!run(""), "this machine has no transformers: install");
    for m in ["transformers", "datasets", "accelerate", "peft", "bitsandbytes"] {
        std::fs::write(dir.path().join(format!("{m}.py")), "").expect("module");
    }
    assert!(run(""), "every library importable: skip");
    assert!(!run("no_such_module_pw"), "one missing: install");
}
