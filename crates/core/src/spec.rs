//! The job spec: what a user asks podwarden to run. Written as TOML (`podwarden run job.toml`)
//! or sent as the same structure in JSON (the API). Invalid specs fail before anything is
//! created, naming the file, line and column, with a hint. Documented in `docs/job-spec.md`.
//!
//! Over 600 lines: the spec's types, their validation with located errors and hints, and the
//! tests (from line ~880); the fine-tune and serverless specs already live in their own files.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
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
    /// Wall-clock limit from the first launch.
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            budget_usd: None,
            max_runtime: None,
            boot_timeout: Duration::from_secs(600),
            keep_alive: Duration::ZERO,
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
    pub name: String,
    /// Container image.
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
}

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

/// A spec problem, located when it came from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// File name as given (or `<api>` for JSON bodies).
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted path of the offending field, when known.
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

/// Fields a spec may have, for "did you mean" hints.
const TOP_FIELDS: &[&str] = &[
    "name",
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
    "source",
    "path",
    "to",
];

impl JobSpec {
    /// Parses and validates a TOML spec. Errors carry `file:line:column` and a hint.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, Box<SpecError>> {
        parse_toml(file, text, hint_for, Self::validate)
    }

    /// Parses and validates a JSON spec (the API form).
    pub fn from_json(value: serde_json::Value) -> Result<Self, Box<SpecError>> {
        parse_json(value, hint_for, Self::validate)
    }

    /// `finetune` for a fine-tuning job, else `command`.
    pub fn kind(&self) -> &'static str {
        if self.finetune.is_some() { "finetune" } else { "command" }
    }

    /// The shell command the pod runs (generated for a `finetune` job).
    pub fn shell_command(&self) -> String {
        if let Some(f) = &self.finetune {
            return f.script();
        }
        match (&self.command, &self.args) {
            (Some(c), _) => c.clone(),
            (None, Some(a)) => a.iter().map(|x| shell_quote(x)).collect::<Vec<_>>().join(" "),
            (None, None) => String::new(),
        }
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

    /// Every field within `crate::limits`.
    fn check_sizes(&self) -> Result<(), crate::limits::Problem> {
        use crate::limits::{self as l, text};
        text("image", &self.image, l::IMAGE)?;
        l::opt_text("registry_auth", self.registry_auth.as_deref(), l::ITEM)?;
        l::opt_text("command", self.command.as_deref(), l::COMMAND)?;
        if let Some(a) = &self.args {
            if a.len() > 4096 {
                return Err((
                    "args".into(),
                    format!("has {} arguments; at most 4096 are allowed", a.len()),
                ));
            }
            text("args", &self.shell_command(), l::COMMAND)?;
        }
        l::env("env", &self.env)?;
        l::list("ports", &self.ports)?;
        l::list("data_centers", &self.data_centers)?;
        l::list("gpu.types", &self.gpu.types)?;
        l::opt_text("network_volume", self.network_volume.as_deref(), l::ITEM)?;
        for (field, gb) in [("disk_gb", self.disk_gb), ("volume_gb", self.volume_gb)] {
            if gb > l::DISK_GB {
                return Err((field.into(), format!("{gb} GB is more than {} GB", l::DISK_GB)));
            }
        }
        if self.gpu.min_vram_gb.is_some_and(|v| v > 10_000) {
            return Err(("gpu.min_vram_gb".into(), "no GPU has that much memory".into()));
        }
        if let Some(d) = self.limits.max_runtime {
            l::duration("limits.max_runtime", d)?;
        }
        l::duration("limits.boot_timeout", self.limits.boot_timeout)?;
        l::duration("limits.keep_alive", self.limits.keep_alive)?;
        l::duration("retry.backoff", self.retry.backoff)?;
        if self.retry.attempts > 100 {
            return Err((
                "retry.attempts".into(),
                format!("{} attempts is more than 100", self.retry.attempts),
            ));
        }
        for (what, n) in [("inputs", self.inputs.len()), ("outputs", self.outputs.len())] {
            if n > l::LIST {
                return Err((
                    what.into(),
                    format!("has {n} items; at most {} are allowed", l::LIST),
                ));
            }
        }
        for (i, x) in self.inputs.iter().enumerate() {
            text(&format!("inputs[{i}].source"), &x.source, 2048)?;
            text(&format!("inputs[{i}].path"), &x.path, 1024)?;
        }
        for (i, o) in self.outputs.iter().enumerate() {
            text(&format!("outputs[{i}].path"), &o.path, 1024)?;
            l::opt_text(&format!("outputs[{i}].to"), o.to.as_deref(), 1024)?;
        }
        Ok(())
    }

    /// Checks what serde cannot: one command, a sane name, positive limits, a GPU selection.
    pub fn validate(&self) -> Result<(), Box<SpecError>> {
        let err = |field: &str, message: String, hint: Option<&str>| {
            Box::new(SpecError {
                file: String::new(),
                line: None,
                column: None,
                field: Some(field.to_owned()),
                message,
                hint: hint.map(str::to_owned),
            })
        };
        if self.name.is_empty()
            || self.name.len() > 40
            || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(err(
                "name",
                format!("{} is not a valid job name", crate::limits::shown(&self.name)),
                Some("use 1-40 lowercase letters, digits and dashes, e.g. \"finetune-llama\""),
            ));
        }
        if self.image.trim().is_empty() {
            return Err(err(
                "image",
                "must not be empty".into(),
                Some(
                    "set the container image, e.g. image = \"runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04\"",
                ),
            ));
        }
        if let Some(why) = crate::images::problem(&self.image) {
            return Err(err(
                "image",
                why,
                Some("e.g. image = \"runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04\""),
            ));
        }
        if let Some(f) = &self.finetune {
            if self.command.is_some() || self.args.is_some() {
                return Err(err(
                    "finetune",
                    "a `finetune` job has no `command` or `args`: podwarden writes its start script".into(),
                    Some("remove `command`/`args`, or remove [finetune] to run your own command"),
                ));
            }
            if let Some((field, message, hint)) = f.problem() {
                return Err(err(field, message, Some(hint)));
            }
            // The adapter must outlive the pod: on the network volume, or pushed to the Hub.
            let on_volume = f
                .output_dir
                .strip_prefix(NETWORK_VOLUME_MOUNT)
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1);
            match (&self.network_volume, &f.push_to_hub) {
                (None, None) => {
                    return Err(err(
                        "finetune",
                        "the adapter would be lost: a pod's own disk is destroyed at teardown, and the job has no network volume and no push_to_hub".into(),
                        Some("set network_volume = \"NAME\" (podwarden volume create NAME) to keep it there, or finetune.push_to_hub = \"owner/repo\""),
                    ));
                }
                (Some(_), _) if !on_volume => {
                    return Err(err(
                        "finetune.output_dir",
                        format!(
                            "{} is not on the network volume, which pods mount at {NETWORK_VOLUME_MOUNT}",
                            crate::limits::shown(&f.output_dir)
                        ),
                        Some("e.g. output_dir = \"/workspace/adapters/llama-lora\""),
                    ));
                }
                _ => {}
            }
        }
        match (&self.command, &self.args) {
            _ if self.finetune.is_some() => {}
            (Some(_), Some(_)) => {
                return Err(err(
                    "args",
                    "`command` and `args` are mutually exclusive".into(),
                    Some("keep one: `command` is run with sh -c, `args` is an argument vector"),
                ));
            }
            (None, None) => {
                return Err(err(
                    "command",
                    "missing: the pod needs something to run".into(),
                    Some("add command = \"python train.py\""),
                ));
            }
            (Some(c), None) if c.trim().is_empty() => {
                return Err(err("command", "must not be empty".into(), None));
            }
            (None, Some(a)) if a.is_empty() => {
                return Err(err("args", "must not be empty".into(), None));
            }
            _ => {}
        }
        if self.gpu.types.is_empty() && self.gpu.min_vram_gb.is_none() {
            return Err(err(
                "gpu",
                "say which GPUs fit: `types` or `min_vram_gb`".into(),
                Some(
                    "add [gpu] with min_vram_gb = 24, or types = [\"NVIDIA GeForce RTX 4090\"]; `podwarden gpus` lists what is offered",
                ),
            ));
        }
        if let Some(v) = self.gpu.min_vram_gb {
            if v <= 0 {
                return Err(err("gpu.min_vram_gb", format!("must be positive, got {v}"), None));
            }
        }
        if let Some(c) = self.gpu.count {
            if !(1..=8).contains(&c) {
                return Err(err("gpu.count", format!("must be between 1 and 8, got {c}"), None));
            }
        }
        if let Some(p) = self.gpu.max_price_per_hour {
            if !(p.is_finite() && p > 0.0 && p <= crate::limits::PRICE_PER_HOUR) {
                return Err(err(
                    "gpu.max_price_per_hour",
                    format!(
                        "must be a price between 0 and {} USD, got {p}",
                        crate::limits::PRICE_PER_HOUR
                    ),
                    None,
                ));
            }
        }
        if let Some(b) = self.limits.budget_usd {
            crate::limits::usd("limits.budget_usd", b)
                .map_err(|(f, m)| err(&f, m, Some("e.g. budget_usd = 5.0")))?;
        }
        self.check_sizes()
            .map_err(|(f, m)| err(&f, m, Some("see docs/job-spec.md#limits-of-fields")))?;
        if self.limits.max_runtime.is_some_and(|d| d.is_zero()) {
            return Err(err(
                "limits.max_runtime",
                "must be longer than zero".into(),
                Some("e.g. max_runtime = \"2h\""),
            ));
        }
        if self.limits.boot_timeout.is_zero() {
            return Err(err(
                "limits.boot_timeout",
                "must be longer than zero".into(),
                Some("the default is \"10m\""),
            ));
        }
        if let Some((field, message)) =
            self.early_stop.as_ref().and_then(crate::metrics::EarlyStop::problem)
        {
            return Err(err(
                field,
                message,
                Some("e.g. [early_stop] metric = \"loss\", factor = 3.0, patience = 3"),
            ));
        }
        if self.retry.attempts == 0 {
            return Err(err("retry.attempts", "must be at least 1".into(), None));
        }
        if self.disk_gb < 1 {
            return Err(err(
                "disk_gb",
                format!("must be at least 1 GB, got {}", self.disk_gb),
                None,
            ));
        }
        if self.volume_gb != 0 && self.volume_gb < 10 {
            return Err(err(
                "volume_gb",
                format!("RunPod volumes are at least 10 GB, got {}", self.volume_gb),
                Some("use 0 for no volume, or 10 or more"),
            ));
        }
        if self.volume_gb > 0 && self.network_volume.is_some() {
            return Err(err(
                "network_volume",
                "a pod has either a pod volume (`volume_gb`) or a network volume".into(),
                None,
            ));
        }
        if self.network_volume.is_some() && self.cloud == CloudChoice::Community {
            return Err(err(
                "cloud",
                "network volumes are Secure Cloud only on RunPod; a Community pod cannot mount one"
                    .into(),
                Some("drop `cloud` (or set cloud = \"secure\"), or run without the network volume"),
            ));
        }
        if (!self.inputs.is_empty() || !self.outputs.is_empty()) && self.network_volume.is_none() {
            return Err(err(
                if self.inputs.is_empty() { "outputs" } else { "inputs" },
                "inputs and outputs live on a network volume, and the job has none (a pod's own disk is destroyed at teardown)".into(),
                Some("create one with `podwarden volume create NAME --data-center DC` and set network_volume = \"NAME\""),
            ));
        }
        for (i, x) in self.inputs.iter().enumerate() {
            check_volume_path(&x.path).map_err(|m| err(&format!("inputs[{i}].path"), m, None))?;
            if x.source.trim().is_empty() {
                return Err(err(
                    &format!("inputs[{i}].source"),
                    "must not be empty".into(),
                    Some("a local file or an https:// URL"),
                ));
            }
            if let Some((scheme, rest)) = x.source.split_once("://") {
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                let loopback = ["localhost", "127.0.0.1", "[::1]"].iter().any(|l| {
                    host == *l || host.strip_prefix(l).is_some_and(|p| p.starts_with(':'))
                });
                if !(scheme == "https" || scheme == "http" && loopback) {
                    return Err(err(
                        &format!("inputs[{i}].source"),
                        format!(
                            "{} is not fetched: a pod fetches only https:// URLs (http:// only from this machine, for tests)",
                            crate::limits::shown(&x.source)
                        ),
                        Some("an https:// URL, or a local file that `podwarden run` uploads"),
                    ));
                }
            }
            if x.is_url()
                && x.source.chars().any(|c| c.is_control() || c == '\'' || c.is_whitespace())
            {
                return Err(err(
                    &format!("inputs[{i}].source"),
                    "a URL may not contain quotes or whitespace".into(),
                    None,
                ));
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            check_volume_path(&o.path).map_err(|m| err(&format!("outputs[{i}].path"), m, None))?;
        }
        for (i, p) in self.ports.iter().enumerate() {
            let ok = p.split_once('/').is_some_and(|(n, proto)| {
                n.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "http" | "tcp")
            });
            if !ok {
                return Err(err(
                    &format!("ports[{i}]"),
                    format!("{} is not `<port>/http` or `<port>/tcp`", crate::limits::shown(p)),
                    Some("e.g. ports = [\"8888/http\", \"22/tcp\"]"),
                ));
            }
        }
        Ok(())
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses a TOML spec of any kind: serde's errors located by span, `validate`'s by field.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    hint: fn(&str) -> Option<String>,
    validate: impl Fn(&T) -> Result<(), Box<SpecError>>,
) -> Result<T, Box<SpecError>> {
    let spec: T = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
        let message = clip(e.message().trim());
        Box::new(SpecError {
            file: file.to_owned(),
            line,
            column,
            field: None,
            hint: hint(&message),
            message,
        })
    })?;
    validate(&spec).map_err(|mut e| {
        e.file = file.to_owned();
        if let Some((l, c)) = e.field.as_deref().and_then(|f| locate(text, f)) {
            e.line = Some(l);
            e.column = Some(c);
        }
        e
    })?;
    Ok(spec)
}

/// An error message of at most 300 characters.
fn clip(m: &str) -> String {
    if m.chars().count() <= 300 {
        m.to_owned()
    } else {
        format!("{}…", m.chars().take(300).collect::<String>())
    }
}

/// Parses the API's JSON form of a spec of any kind.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    hint: fn(&str) -> Option<String>,
    validate: impl Fn(&T) -> Result<(), Box<SpecError>>,
) -> Result<T, Box<SpecError>> {
    let spec: T = serde_json::from_value(value).map_err(|e| {
        // serde quotes the offending value: keep the message short whatever was sent.
        let message = clip(&e.to_string());
        Box::new(SpecError {
            file: "<api>".into(),
            line: None,
            column: None,
            field: None,
            hint: hint(&message),
            message,
        })
    })?;
    validate(&spec).map_err(|mut e| {
        e.file = "<api>".into();
        e
    })?;
    Ok(spec)
}

/// Finds the line and column of a dotted field (`limits.budget_usd`, `ports[1]`) in a TOML
/// text: the key inside its `[table]`, or the table header itself.
fn locate(text: &str, field: &str) -> Option<(usize, usize)> {
    let field = field.split('[').next().unwrap_or(field);
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (t, k),
        None => ("", field),
    };
    let mut current = "";
    let mut table_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let indent = raw.len() - line.len();
        if let Some(h) = line.strip_prefix('[') {
            current = h.split(']').next().unwrap_or("").trim();
            if current == table || (table.is_empty() && current == key) {
                table_line = Some((i + 1, indent + 1));
            }
            continue;
        }
        let k = line.split('=').next().unwrap_or("").trim();
        if current == table && k == key && line.contains('=') {
            return Some((i + 1, indent + 1));
        }
        if table.is_empty() && current.is_empty() && k == key && line.contains('=') {
            return Some((i + 1, indent + 1));
        }
        // `gpu = { ... }` or `limits.budget_usd = 1` at top level.
        if current.is_empty()
            && !table.is_empty()
            && (k == table || k == field)
            && line.contains('=')
        {
            return Some((i + 1, indent + 1));
        }
    }
    table_line
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

/// The hint for a serde message of a spec: "did you mean" among `fields` for an unknown field
/// (pointing at `doc`), the duration syntax, and `missing` for a missing field.
pub(crate) fn spec_hint(
    message: &str,
    fields: &[&str],
    doc: &str,
    missing: &str,
) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        let closest = fields
            .iter()
            .min_by_key(|f| edit_distance(name, f))
            .filter(|f| edit_distance(name, f) <= 3);
        return Some(match closest {
            Some(c) => format!("did you mean `{c}`? see {doc}"),
            None => format!("see {doc}"),
        });
    }
    if message.contains("duration") {
        return Some("durations are strings like \"90s\", \"10m\", \"2h\"".into());
    }
    message.contains("missing field").then(|| missing.to_owned())
}

/// A validation error on `field` (located by the parser afterwards).
pub(crate) fn field_error(field: &str, message: String, hint: &str) -> Box<SpecError> {
    Box::new(SpecError {
        file: String::new(),
        line: None,
        column: None,
        field: Some(field.into()),
        message,
        hint: Some(hint.into()),
    })
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(crate) mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration {}: {e}", crate::limits::shown(&s)))
        })
    }
}

pub(crate) mod opt_duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => humantime::parse_duration(&s).map(Some).map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {}: {e}",
                    crate::limits::shown(&s)
                ))
            }),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
