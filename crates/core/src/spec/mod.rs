//! The job spec: what a user asks podwarden to run. Written as TOML (`podwarden run job.toml`)
//! or sent as the same structure in JSON (the API). Invalid specs fail before anything is
//! created, naming the file, line and column, with a hint. Documented in `docs/job-spec.md`.
//!
//! Here: the spec's types and what they mean; `validate` checks what serde cannot, `parse`
//! reads TOML and JSON with located errors. The fine-tune and serverless specs live in their
//! own files.

mod parse;
mod ssh;
mod validate;

pub use parse::SpecError;
pub(crate) use parse::{
    duration, edit_distance, field_error, opt_duration, parse_json, parse_toml, spec_hint,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which RunPod cloud a pod may run in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CloudChoice {
    Secure,
    Community,
    #[default]
    Any,
}

/// GPU selection: preferred types in order, or requirements (cheapest that fits wins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct GpuSpec {
    /// GPU type ids in order of preference, e.g. `["NVIDIA RTX A4000", "NVIDIA RTX A5000"]`.
    pub types: Vec<String>,
    /// Minimum VRAM per GPU, GB.
    pub min_vram_gb: Option<i64>,
    /// GPUs per pod (default 1).
    pub count: Option<i64>,
    /// Highest acceptable price per GPU-hour, USD.
    pub max_price_per_hour: Option<f64>,
}

/// Limits enforced by the control plane (and again inside the pod).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Stop the job when spend reaches this (events at 80 % and 90 %).
    pub budget_usd: Option<f64>,
    /// Wall-clock limit from the first pod's create (a wait for capacity does not count).
    #[serde(with = "opt_duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2h"))]
    pub max_runtime: Option<Duration>,
    /// A pod that is not RUNNING after this is terminated (it bills while it hangs).
    #[serde(with = "duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, default = "10m", example = "10m"))]
    pub boot_timeout: Duration,
    /// Keep the pod up this long after the command ends (e.g. to download outputs).
    #[serde(with = "duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, default = "0s", example = "0s"))]
    pub keep_alive: Duration,
    /// When no offer has room (or the account is at its spend limit), wait this long for one,
    /// queued with the reason, before failing ("0s": fail at once).
    #[serde(with = "duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, default = "1h", example = "1h"))]
    pub start_within: Duration,
    /// What an hour of waiting for the command to start is worth to you, in USD: placement
    /// weighs each offer's expected boot time, and the pods there that never boot, at this
    /// rate against its list price. `0`: the cheapest to finish, however slow to start.
    #[cfg_attr(feature = "openapi", schema(default = 1.0, example = 1.0, minimum = 0.0))]
    pub wait_usd_per_hour: f64,
}

/// How long a job waits for capacity by default (`limits.start_within`).
pub const DEFAULT_START_WITHIN: Duration = Duration::from_secs(3600);

/// What an hour of waiting to start is worth by default (`limits.wait_usd_per_hour`): in the
/// capacity benchmark (BENCHMARKS.md) 21-31 % off the median time to the first log for 1-3 %
/// more per finished job.
pub const DEFAULT_WAIT_USD_PER_HOUR: f64 = 1.0;

impl Default for Limits {
    fn default() -> Self {
        Self {
            budget_usd: None,
            max_runtime: None,
            boot_timeout: Duration::from_secs(600),
            keep_alive: Duration::ZERO,
            start_within: DEFAULT_START_WITHIN,
            wait_usd_per_hour: DEFAULT_WAIT_USD_PER_HOUR,
        }
    }
}

/// What to do when a pod is preempted or no capacity is found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in total (first included).
    pub attempts: u32,
    /// Wait between attempts (doubles each time, capped at 10 min).
    #[serde(with = "duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, default = "30s", example = "30s"))]
    pub backoff: Duration,
    /// Fall through to other GPU types that satisfy the spec.
    pub allow_other_gpu_types: bool,
    /// Fall through to other data centers.
    pub allow_other_data_centers: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_secs(30),
            allow_other_gpu_types: true,
            allow_other_data_centers: true,
        }
    }
}

/// A GPU job on a pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Lowercase letters, digits and dashes; shown in lists and in the pod's name.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9-]{1,40}$"))]
    pub name: String,
    /// The cloud it runs on (`runpod`, `aws`); absent: the install's default. With
    /// `providers`, where it runs now (the server sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::ProviderKind>,
    /// Clouds it may run on, in order of preference (`["runpod", "aws"]`): it starts on the
    /// first this server has an account for, and while it waits for capacity it moves to the
    /// next that lists some. The spec must be valid on each. Absent: `provider` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<crate::ProviderKind>,
    /// Container image.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, pattern = r"\S"))]
    pub image: String,
    /// A private image's pull credential: the id of a container registry credential of the
    /// RunPod account the job runs on (RunPod console → Settings → Container Registry Auth,
    /// or `POST /v2/registries`), sent as REST v2's `registry` (v1's `containerRegistryAuthId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<String>,
    /// Shell command (`sh -c`). Exactly one of `command` and `args`.
    #[serde(default)]
    pub command: Option<String>,
    /// Command as an argument vector (joined with shell quoting).
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Exposed ports, `8888/http` or `22/tcp`.
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub gpu: GpuSpec,
    #[serde(default)]
    pub cloud: CloudChoice,
    /// Allowed data centers (empty: any).
    #[serde(default)]
    pub data_centers: Vec<String>,
    /// Container disk, GB.
    #[serde(default = "default_disk")]
    pub disk_gb: i64,
    /// Pod volume at `/workspace`, GB (0: none).
    #[serde(default)]
    pub volume_gb: i64,
    /// A network volume id to mount at `/workspace` instead.
    #[serde(default)]
    pub network_volume: Option<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Stop the job when a reported metric diverges (see `podwarden_core::metrics::EarlyStop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<crate::metrics::EarlyStop>,
    /// The `finetune` job kind: podwarden writes the command (see `podwarden_core::finetune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<crate::finetune::FinetuneSpec>,
    /// Files the job reads, put on its network volume before it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// Files the job writes on its network volume; the job succeeds only when every one exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Output>,
    /// Where on the network volume the command keeps its checkpoints (`checkpoints`): a
    /// relaunched pod gets the newest complete one as `PODWARDEN_RESUME_FROM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_dir: Option<String>,
    /// SSH into the pod: `ssh = true` (the CLI sends your `~/.ssh/id_ed25519.pub` or
    /// `id_rsa.pub`), or `[ssh] public_keys = [...]`. With no command it is a dev pod.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "ssh::deserialize"
    )]
    pub ssh: Option<SshSpec>,
    /// Pods that run the job together (default 1): same image, GPU type and count, one data
    /// center, on RunPod's global networking; each gets `PODWARDEN_NODE_RANK`,
    /// `PODWARDEN_NUM_NODES` and `PODWARDEN_MASTER_ADDR`/`PORT` (rank 0's private address).
    #[serde(default = "one_node", skip_serializing_if = "is_one_node")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 64))]
    pub nodes: u32,
}

fn one_node() -> u32 {
    1
}

fn is_one_node(n: &u32) -> bool {
    *n == 1
}

/// The most pods one job may run together.
pub const MAX_NODES: u32 = 64;

/// The port rank 0 listens on for the other nodes (`PODWARDEN_MASTER_PORT`): torchrun's default.
pub const MASTER_PORT: u16 = 29500;

pub use ssh::{DEV_POD_MAX_RUNTIME, SshSpec};

/// A file the job reads (`[[inputs]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// A local file (uploaded by `podwarden run` over the volume's S3 API, skipped when
    /// unchanged) or an `https://` URL (fetched by the pod before the command, once).
    pub source: String,
    /// Where on the volume, relative to its root (the pod sees it under `/workspace`).
    pub path: String,
}

/// A file the job writes (`[[outputs]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// On the volume, relative to its root (`/workspace/<path>` in the pod).
    pub path: String,
    /// A local directory `podwarden run --follow` downloads it into once the job succeeded;
    /// without it the output stays on the volume (`podwarden cp` fetches it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl Input {
    /// Whether the pod fetches it (a URL) rather than the CLI uploading it.
    pub fn is_url(&self) -> bool {
        self.source.starts_with("https://") || self.source.starts_with("http://")
    }
}

/// Where a job's network volume is in its pod (RunPod's default `volumeMountPath`).
pub const NETWORK_VOLUME_MOUNT: &str = "/workspace";

/// Checks a path on a volume: relative, no `..`, no empty segment.
pub fn check_volume_path(p: &str) -> Result<(), String> {
    if p.is_empty()
        || p.starts_with('/')
        || p.split('/').any(|s| s.is_empty() || s == ".." || s == ".")
    {
        return Err(format!(
            "{} is not a path on the volume: use a relative path like \"data/train.csv\" (no `..`)",
            crate::limits::shown(p)
        ));
    }
    // The wrapper quotes every path it is given; these are refused anyway, as the docs say,
    // so no path can look like shell to anyone reading a script or a log.
    if p.chars().any(|c| c.is_control() || matches!(c, '\'' | '"' | '`' | '$' | '\\')) {
        return Err(format!(
            "{}: quotes, `$`, backslashes and control characters are not allowed in volume paths",
            crate::limits::shown(p)
        ));
    }
    Ok(())
}

fn default_disk() -> i64 {
    20
}

/// The first key of `env` whose value references a RunPod account secret (`{{
/// RUNPOD_SECRET_… }}`).
pub fn env_referencing_account_secrets(env: &BTreeMap<String, String>) -> Option<&str> {
    let refers = |v: &str| {
        v.split("{{")
            .skip(1)
            .any(|r| r.trim_start().to_ascii_uppercase().starts_with("RUNPOD_SECRET_"))
    };
    env.iter().find(|(_, v)| refers(v)).map(|(k, _)| k.as_str())
}

/// Fields a spec may have, for "did you mean" hints.
const TOP_FIELDS: &[&str] = &[
    "name",
    "provider",
    "providers",
    "image",
    "command",
    "args",
    "env",
    "ports",
    "gpu",
    "cloud",
    "data_centers",
    "disk_gb",
    "volume_gb",
    "network_volume",
    "registry_auth",
    "limits",
    "retry",
    "early_stop",
    "finetune",
    "inputs",
    "outputs",
    "ssh",
    "public_keys",
    "checkpoint_dir",
    "nodes",
    "source",
    "path",
    "to",
];

impl JobSpec {
    /// A job running the shell command `command` in `image`, every other field at its default
    /// (what a spec file giving only these three means). Clients set the rest as fields (a
    /// valid job also says which GPUs fit: `gpu`); the server validates what it receives.
    pub fn new(
        name: impl Into<String>,
        image: impl Into<String>,
        command: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            provider: None,
            providers: Vec::new(),
            image: image.into(),
            registry_auth: None,
            command: Some(command.into()),
            args: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            gpu: GpuSpec::default(),
            cloud: CloudChoice::default(),
            data_centers: Vec::new(),
            disk_gb: default_disk(),
            volume_gb: 0,
            network_volume: None,
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            early_stop: None,
            finetune: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            checkpoint_dir: None,
            ssh: None,
            nodes: 1,
        }
    }

    /// A job running the argument vector `args` (no shell) in `image`, otherwise as [`Self::new`].
    pub fn with_args(name: impl Into<String>, image: impl Into<String>, args: Vec<String>) -> Self {
        Self { command: None, args: Some(args), ..Self::new(name, image, "") }
    }

    /// Parses and validates a TOML spec. Errors carry `file:line:column` and a hint.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, Box<SpecError>> {
        parse_toml(file, text, hint_for, Self::validate)
    }

    /// Parses and validates a JSON spec (the API form).
    pub fn from_json(value: serde_json::Value) -> Result<Self, Box<SpecError>> {
        parse_json(value, hint_for, Self::validate)
    }

    /// `finetune` for a fine-tuning job, `dev` for a dev pod, else `command`.
    pub fn kind(&self) -> &'static str {
        if self.finetune.is_some() {
            "finetune"
        } else if self.is_dev_pod() {
            "dev"
        } else {
            "command"
        }
    }

    /// [`Self::kind`] of a stored spec's JSON, reading only the fields that decide it (lists
    /// show it for thousands of jobs); `command` when the text is not a spec.
    pub fn kind_of_json(text: &str) -> &'static str {
        use serde::de::IgnoredAny;
        #[derive(Deserialize)]
        struct Kind {
            command: Option<IgnoredAny>,
            args: Option<IgnoredAny>,
            finetune: Option<IgnoredAny>,
            ssh: Option<IgnoredAny>,
        }
        match serde_json::from_str::<Kind>(text) {
            Ok(k) if k.finetune.is_some() => "finetune",
            Ok(k) if k.ssh.is_some() && k.command.is_none() && k.args.is_none() => "dev",
            _ => "command",
        }
    }

    /// A pod to work in over SSH: `ssh` and nothing to run. It stays up until stopped, its
    /// budget spent or its `max_runtime` (default [`DEV_POD_MAX_RUNTIME`]) reached.
    pub fn is_dev_pod(&self) -> bool {
        self.ssh.is_some()
            && self.finetune.is_none()
            && self.command.is_none()
            && self.args.is_none()
    }

    /// The wall-clock limit that applies: the spec's, or a dev pod's default.
    pub fn max_runtime(&self) -> Option<Duration> {
        self.limits.max_runtime.or(self.is_dev_pod().then_some(DEV_POD_MAX_RUNTIME))
    }

    /// The first `env` key whose value references a RunPod account secret (`{{
    /// RUNPOD_SECRET_… }}`, which RunPod substitutes at boot from the account's secrets): on the
    /// operator's account those are not the user's (others' job tokens among them).
    pub fn env_referencing_account_secrets(&self) -> Option<&str> {
        env_referencing_account_secrets(&self.env)
    }

    /// The shell command the pod runs (generated for a `finetune` job; a dev pod's waits).
    pub fn shell_command(&self) -> String {
        if let Some(f) = &self.finetune {
            return f.script();
        }
        match (&self.command, &self.args) {
            (Some(c), _) => c.clone(),
            (None, Some(a)) => a.iter().map(|x| shell_quote(x)).collect::<Vec<_>>().join(" "),
            (None, None) if self.is_dev_pod() => ssh::DEV_POD_COMMAND.to_owned(),
            (None, None) => String::new(),
        }
    }

    /// Ports the pod exposes: the spec's, and `22/tcp` for SSH.
    pub fn exposed_ports(&self) -> Vec<String> {
        let mut ports = self.ports.clone();
        if self.ssh.is_some() && !ports.iter().any(|p| p == "22/tcp") {
            ports.push("22/tcp".into());
        }
        ports
    }

    /// Paths on the network volume that must exist after a zero exit: the declared outputs and,
    /// for a `finetune` job keeping its adapter on the volume, the adapter's config.
    pub fn required_outputs(&self) -> Vec<String> {
        let mut out: Vec<String> = self.outputs.iter().map(|o| o.path.clone()).collect();
        if let (Some(f), Some(_)) = (&self.finetune, &self.network_volume) {
            if let Some(rel) = f
                .output_dir
                .strip_prefix(NETWORK_VOLUME_MOUNT)
                .map(|r| r.trim_matches('/'))
                .filter(|r| !r.is_empty())
            {
                out.push(format!("{rel}/adapter_config.json"));
            }
        }
        out
    }

    /// GPUs per pod.
    pub fn gpu_count(&self) -> i64 {
        self.gpu.count.unwrap_or(1)
    }
}

/// One word as a POSIX shell reads it back: as is when plain, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A hint for serde's messages: the closest known field for an unknown one, an example for a
/// bad duration.
pub(crate) fn hint_for(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        let closest = TOP_FIELDS
            .iter()
            .chain(
                [
                    "types",
                    "min_vram_gb",
                    "count",
                    "max_price_per_hour",
                    "budget_usd",
                    "max_runtime",
                    "boot_timeout",
                    "keep_alive",
                    "start_within",
                    "wait_usd_per_hour",
                    "attempts",
                    "backoff",
                    "metric",
                    "factor",
                    "patience",
                    "warmup_points",
                    "model",
                    "dataset_url",
                    "dataset_path",
                    "push_to_hub",
                    "text_field",
                    "epochs",
                    "batch_size",
                    "gradient_accumulation_steps",
                    "learning_rate",
                    "max_seq_length",
                    "quantization",
                    "gradient_checkpointing",
                    "logging_steps",
                    "checkpoint_steps",
                    "output_dir",
                    "hf_token_env",
                    "lora",
                    "target_modules",
                    "alpha",
                    "dropout",
                    "bias",
                ]
                .iter(),
            )
            .min_by_key(|f| edit_distance(name, f))
            .filter(|f| edit_distance(name, f) <= 3);
        return Some(match closest {
            Some(c) => format!("did you mean `{c}`? see docs/job-spec.md for every field"),
            None => "see docs/job-spec.md for every field".to_owned(),
        });
    }
    if message.contains("duration") {
        return Some("durations are strings like \"90s\", \"10m\", \"2h 30m\"".to_owned());
    }
    if message.contains("missing field") {
        return Some("every spec needs `name`, `image` and a `command`; see examples/".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `new` builds is what a file giving only name, image and command means.
    #[test]
    fn new_is_the_minimal_spec_file() {
        // A valid job also says which GPUs fit.
        let gpu = "[gpu]\nmin_vram_gb = 16\n";
        let mut built = JobSpec::new("t", "img", "echo hi");
        built.gpu.min_vram_gb = Some(16);
        let file = format!("name = \"t\"\nimage = \"img\"\ncommand = \"echo hi\"\n{gpu}");
        assert_eq!(built, JobSpec::from_toml("j.toml", &file).expect("spec"));
        let mut built = JobSpec::with_args("t", "img", vec!["echo".into(), "a b".into()]);
        built.gpu.min_vram_gb = Some(16);
        let file = format!("name = \"t\"\nimage = \"img\"\nargs = [\"echo\", \"a b\"]\n{gpu}");
        assert_eq!(built, JobSpec::from_toml("j.toml", &file).expect("spec"));
    }

    /// `nodes`: 1 to 64 pods, RunPod only; absent is 1, and 1 is not written back (a stored
    /// spec of a single-node job reads as before).
    #[test]
    fn nodes_run_one_to_64_pods_on_runpod() {
        let spec = |extra: &str| {
            JobSpec::from_toml(
                "j.toml",
                &format!(
                    "name = \"t\"\nimage = \"i\"\ncommand = \"c\"\n{extra}\n[gpu]\nmin_vram_gb = 16\n"
                ),
            )
        };
        assert_eq!(spec("").expect("one").nodes, 1);
        assert_eq!(spec("nodes = 64").expect("64").nodes, 64);
        for (extra, says) in [
            ("nodes = 0", "1 to 64"),
            ("nodes = 65", "1 to 64"),
            ("nodes = 2\nprovider = \"aws\"", "AWS"),
        ] {
            let e = spec(extra).expect_err(extra);
            assert_eq!(e.field.as_deref(), Some("nodes"), "{extra}");
            assert!(e.to_string().contains(says), "{extra}: {e}");
        }
        assert!(spec("nodes = -1").is_err());
        let one = serde_json::to_value(spec("").expect("one")).expect("json");
        assert!(one.get("nodes").is_none(), "{one}");
        let two = serde_json::to_value(spec("nodes = 2").expect("two")).expect("json");
        assert_eq!(two["nodes"], 2);
    }

    /// `providers`: an ordered list of clouds, each once, the spec valid on every one of them
    /// (a RunPod-only feature is refused, naming the field and the cloud).
    #[test]
    fn providers_list_clouds_the_spec_is_valid_on() {
        let spec = |extra: &str| {
            JobSpec::from_toml(
                "j.toml",
                &format!(
                    "name = \"t\"\nimage = \"i\"\ncommand = \"c\"\n{extra}\n[gpu]\nmin_vram_gb = 16\n"
                ),
            )
        };
        let both = spec("providers = [\"runpod\", \"aws\"]").expect("both");
        assert_eq!(both.providers, [crate::ProviderKind::RunPod, crate::ProviderKind::Aws]);
        spec("providers = [\"aws\", \"runpod\"]\nprovider = \"runpod\"").expect("runs on one");
        for (extra, field, says) in [
            ("providers = [\"aws\", \"aws\"]", "providers", "twice"),
            ("providers = [\"aws\"]\nprovider = \"runpod\"", "provider", "does not list"),
            ("providers = [\"runpod\", \"aws\"]\nnodes = 2", "nodes", "lists AWS"),
            ("providers = [\"runpod\", \"aws\"]\nvolume_gb = 10", "network_volume", "lists AWS"),
        ] {
            let e = spec(extra).expect_err(extra);
            assert_eq!(e.field.as_deref(), Some(field), "{extra}: {e}");
            assert!(e.to_string().contains(says), "{extra}: {e}");
        }
        let e = spec("providers = [\"gcp\"]").expect_err("gcp");
        assert!(e.to_string().contains("expected `runpod` or `aws`"), "{e}");
        let json = serde_json::to_value(spec("").expect("one")).expect("json");
        assert!(json.get("providers").is_none(), "not written when absent: {json}");
    }

    /// An AWS job's data moves through S3: s3:// or URL sources, s3:// destinations (its disk
    /// goes with the instance); RunPod's jobs keep theirs on a volume, and refuse s3://.
    #[test]
    fn aws_jobs_move_data_through_s3_and_runpods_do_not() {
        let spec = |extra: &str| {
            JobSpec::from_toml(
                "j.toml",
                &format!(
                    "name = \"t\"\nimage = \"i\"\ncommand = \"c\"\n{extra}\n[gpu]\nmin_vram_gb = 16\n"
                ),
            )
        };
        let aws = "provider = \"aws\"";
        let input = |src: &str| format!("[[inputs]]\nsource = \"{src}\"\npath = \"in/a.csv\"\n");
        let output = |to: &str| format!("[[outputs]]\npath = \"out/m.json\"\n{to}\n");
        let ok = spec(&format!(
            "{aws}\n{}{}{}",
            input("s3://my-bucket/data/a.csv"),
            input("https://example.com/b.csv"),
            output("to = \"s3://my-bucket/runs/\"")
        ));
        assert!(ok.is_ok(), "{ok:?}");
        let field =
            |r: Result<JobSpec, Box<SpecError>>| r.expect_err("refused").field.unwrap_or_default();
        assert_eq!(
            field(spec(&format!("{aws}\n{}", input("data/a.csv")))),
            "inputs[0].source",
            "local file"
        );
        assert_eq!(
            field(spec(&format!("{aws}\n{}", output("")))),
            "outputs[0].to",
            "nowhere to keep it"
        );
        assert_eq!(field(spec(&format!("{aws}\n{}", input("s3://A_B/x")))), "inputs[0].source");
        assert_eq!(
            field(spec(&format!("{aws}\n{}", input("s3://bucket/a b")))),
            "inputs[0].source"
        );
        assert_eq!(
            field(spec(&format!("network_volume = \"v\"\n{}", input("s3://bucket/x")))),
            "inputs[0].source"
        );
        assert_eq!(
            field(spec(&format!("network_volume = \"v\"\n{}", output("to = \"s3://bucket/x/\"")))),
            "outputs[0].to"
        );
        assert_eq!(field(spec(&format!("{aws}\nnetwork_volume = \"v\""))), "network_volume");
    }

    const GOOD: &str = r#"
name = "train-demo"
image = "python:3.11-slim"
command = "python train.py"
env = { EPOCHS = "3" }

[gpu]
min_vram_gb = 24
max_price_per_hour = 0.5

[limits]
budget_usd = 2.5
max_runtime = "2h"
keep_alive = "5m"
"#;

    #[test]
    fn a_good_spec_parses_with_defaults() {
        let s = JobSpec::from_toml("job.toml", GOOD).expect("valid");
        assert_eq!(s.limits.boot_timeout, Duration::from_secs(600));
        assert_eq!(s.limits.max_runtime, Some(Duration::from_secs(7200)));
        assert_eq!(s.limits.keep_alive, Duration::from_secs(300));
        assert_eq!(
            (s.cloud, s.disk_gb, s.gpu_count(), s.retry.attempts),
            (CloudChoice::Any, 20, 1, 3)
        );
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(JobSpec::from_json(json).expect("same over the API"), s);
    }

    #[test]
    fn a_network_volume_cannot_go_on_community_cloud() {
        let with = |extra: &str| {
            JobSpec::from_toml("t.toml", &GOOD.replace("env =", &format!("{extra}\nenv =")))
        };
        let e = with("network_volume = \"data\"\ncloud = \"community\"").expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("cloud"));
        assert!(e.message.contains("Secure Cloud only"), "{e}");
        with("network_volume = \"data\"\ncloud = \"secure\"").expect("secure is fine");
        with("network_volume = \"data\"").expect("any becomes secure at placement");
    }

    #[test]
    fn inputs_and_outputs_need_a_network_volume_and_paths_on_it() {
        let with = |extra: &str| JobSpec::from_toml("job.toml", &format!("{GOOD}{extra}"));
        let io = "[[inputs]]\nsource = \"data.csv\"\npath = \"in/data.csv\"\n[[outputs]]\npath = \"out/m.json\"\nto = \"results\"\n";
        let e = with(io).expect_err("no volume");
        assert_eq!(e.field.as_deref(), Some("inputs"), "{e}");
        assert!(e.hint.as_deref().unwrap_or_default().contains("podwarden volume create"), "{e:?}");
        let ok = JobSpec::from_toml(
            "job.toml",
            &GOOD.replace("env =", "network_volume = \"data\"\nenv ="),
        )
        .map(|mut s| {
            s.inputs = vec![Input { source: "data.csv".into(), path: "in/data.csv".into() }];
            s
        });
        assert!(ok.as_ref().is_ok_and(|s| s.validate().is_ok()));
        for bad in ["/etc/passwd", "../up", "a//b", "x/./y", "", "a\"b", "$(id)", "`id`", "a\\b"] {
            assert!(check_volume_path(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["out/model.json", "été.txt", "50%.txt", "a b/c"] {
            assert!(check_volume_path(good).is_ok(), "{good:?}");
        }
        let with_input = |source: &str| {
            let mut s = ok.clone().expect("spec");
            s.inputs = vec![Input { source: source.into(), path: "in/d.csv".into() }];
            s.validate()
        };
        for bad in ["file:///etc/passwd", "gopher://x/1", "ftp://x/d", "http://example.com/d"] {
            assert!(with_input(bad).is_err(), "{bad} must be refused");
        }
        for good in ["https://example.com/d.csv", "http://127.0.0.1:8080/d", "data.csv"] {
            assert!(with_input(good).is_ok(), "{good}");
        }
        let url = Input { source: "https://example.com/d.csv".into(), path: "d.csv".into() };
        assert!(url.is_url() && !Input { source: "d.csv".into(), path: "d.csv".into() }.is_url());
    }

    #[test]
    fn a_typo_names_file_line_column_and_suggests_the_field() {
        let bad = GOOD.replace("budget_usd", "budjet_usd");
        let e = JobSpec::from_toml("job.toml", &bad).expect_err("typo");
        assert_eq!((e.line, e.column), (Some(12), Some(1)), "{e}");
        assert!(e.to_string().starts_with("job.toml:12:1: unknown field `budjet_usd`"), "{e}");
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean `budget_usd`? see docs/job-spec.md for every field")
        );
    }

    #[test]
    fn semantic_errors_point_at_the_field() {
        let bad = GOOD.replace("budget_usd = 2.5", "budget_usd = -1.0");
        let e = JobSpec::from_toml("job.toml", &bad).expect_err("negative budget");
        assert_eq!((e.line, e.field.as_deref()), (Some(12), Some("limits.budget_usd")), "{e}");
        let bad = GOOD.replace("budget_usd = 2.5", "budget_usd = 2.5\nwait_usd_per_hour = -1");
        let e = JobSpec::from_toml("job.toml", &bad).expect_err("negative value of waiting");
        assert_eq!(e.field.as_deref(), Some("limits.wait_usd_per_hour"), "{e}");
        let free = GOOD.replace("budget_usd = 2.5", "budget_usd = 2.5\nwait_usd_per_hour = 0");
        assert_eq!(
            JobSpec::from_toml("job.toml", &free).expect("0 is allowed").limits.wait_usd_per_hour,
            0.0
        );
        let bad = GOOD.replace("command = \"python train.py\"", "command = \"x\"\nargs = [\"y\"]");
        let e = JobSpec::from_toml("job.toml", &bad).expect_err("both");
        assert_eq!(e.line, Some(5), "{e}");
        let bad = GOOD.replace("max_runtime = \"2h\"", "max_runtime = \"two hours\"");
        let e = JobSpec::from_toml("job.toml", &bad).expect_err("duration");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("10m")), "{e:?}");
        let no_gpu = "name = \"x\"\nimage = \"i\"\ncommand = \"c\"\n";
        let e = JobSpec::from_toml("j.toml", no_gpu).expect_err("no gpu");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("podwarden gpus")));
    }

    #[test]
    fn args_are_shell_quoted() {
        let s = JobSpec::from_toml("j", "name=\"a\"\nimage=\"i\"\nargs=[\"python\",\"-c\",\"print('hi there')\"]\n[gpu]\nmin_vram_gb=8\n")
            .expect("valid");
        assert_eq!(s.shell_command(), r#"python -c 'print('\''hi there'\'')'"#);
    }

    #[test]
    fn every_shipped_example_is_a_valid_spec() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut n = 0;
        let entries = std::fs::read_dir(&root)
            .expect("examples/")
            .chain(std::fs::read_dir(root.join("tabular")).expect("examples/tabular/"));
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("read");
                JobSpec::from_toml(&path.display().to_string(), &text)
                    .unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 5, "{n} examples");
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = JobSpec::from_json(serde_json::json!({"name": "x", "image": "i", "command": "c", "gpu": {"min_vram_gb": 8}, "colour": 1}))
            .expect_err("unknown");
        assert!(e.message.contains("colour"), "{e}");
        assert_eq!(e.file, "<api>");
    }
}
