//! The `finetune` job kind: a spec with a `[finetune]` table instead of a command. podwarden
//! generates the pod's start script (seed `003_*` §3): install the libraries, download the
//! dataset, write `train.py` — LoRA target modules detected from the model's architecture,
//! 4-/8-bit quantization, a callback that posts every log step to the job's metrics endpoint,
//! the adapter and tokenizer saved — and run it.
//!
//! User values reach the script only as base64-encoded JSON that `train.py` decodes: a model
//! name or URL cannot break out of a string, a heredoc or the shell. (A `# config:` comment
//! repeats the JSON for readers; JSON escapes newlines, so it stays one comment line.)

use serde::{Deserialize, Serialize};

/// Weight quantization while training (QLoRA with `4bit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    #[default]
    #[serde(rename = "4bit")]
    FourBit,
    #[serde(rename = "8bit")]
    EightBit,
    None,
}

/// LoRA adapter settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct LoraSpec {
    /// Rank (default 16).
    pub r: u32,
    /// Scaling (default 32).
    pub alpha: u32,
    /// Dropout (default 0.05).
    pub dropout: f64,
    /// Modules to adapt; empty: detected from the model's architecture.
    pub target_modules: Vec<String>,
    /// `none`, `all` or `lora_only` (default `none`).
    pub bias: String,
}

impl Default for LoraSpec {
    fn default() -> Self {
        Self { r: 16, alpha: 32, dropout: 0.05, target_modules: Vec::new(), bias: "none".into() }
    }
}

/// `[finetune]`: what to fine-tune on what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FinetuneSpec {
    /// Hugging Face model id, e.g. `meta-llama/Llama-3.2-1B`.
    pub model: String,
    /// `http(s)://` URL of a JSON or JSON Lines dataset (fetched by the pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_url: Option<String>,
    /// Or an absolute path in the pod: a file on the job's network volume, e.g. one an
    /// `[[inputs]]` entry uploads (`/workspace/data/train.jsonl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_path: Option<String>,
    /// Field of each record holding the training text (default `text`).
    #[serde(default = "default_text_field")]
    pub text_field: String,
    #[serde(default = "default_epochs")]
    pub epochs: f64,
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    #[serde(default = "default_accum")]
    pub gradient_accumulation_steps: u32,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    #[serde(default = "default_seq")]
    pub max_seq_length: u32,
    #[serde(default)]
    pub quantization: Quantization,
    /// Trade compute for memory (default true).
    #[serde(default = "yes")]
    pub gradient_checkpointing: bool,
    /// Log (and post metrics) every this many steps (default 10).
    #[serde(default = "default_logging")]
    pub logging_steps: u32,
    /// With the job's `checkpoint_dir`: save a checkpoint there every this many steps (default
    /// 200), which a relaunched pod resumes from.
    #[serde(default = "default_checkpoint_steps")]
    pub checkpoint_steps: u32,
    /// Where the adapter and tokenizer are saved (default `/workspace/fine_tuned_model`). With a
    /// network volume it must be on it (under `/workspace`): the pod's own disk is destroyed at
    /// teardown.
    #[serde(default = "default_output")]
    pub output_dir: String,
    /// Also push the adapter and tokenizer to this Hugging Face Hub repository (`owner/name`,
    /// private when created), with the token in `hf_token_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_to_hub: Option<String>,
    /// Secret-free env var holding a Hugging Face token for gated models (the token itself
    /// goes in the spec's `env`).
    #[serde(default)]
    pub hf_token_env: Option<String>,
    #[serde(default)]
    pub lora: LoraSpec,
}

fn default_text_field() -> String {
    "text".into()
}
fn default_epochs() -> f64 {
    3.0
}
fn default_batch() -> u32 {
    4
}
fn default_accum() -> u32 {
    4
}
fn default_lr() -> f64 {
    2e-4
}
fn default_seq() -> u32 {
    512
}
fn yes() -> bool {
    true
}
fn default_logging() -> u32 {
    10
}
fn default_checkpoint_steps() -> u32 {
    200
}
fn default_output() -> String {
    "/workspace/fine_tuned_model".into()
}

/// The Python program the pod runs (configuration comes in as `PW_FINETUNE_CONFIG`).
const TRAIN_PY: &str = include_str!("finetune/train.py");

/// Marks the end of `train.py` in the start script's heredoc.
const HEREDOC_END: &str = "PW_TRAIN_PY_END";

/// A problem with a `[finetune]` table: the field, what is wrong, what to do.
type Problem = (&'static str, String, &'static str);

impl FinetuneSpec {
    /// What is wrong with it, if anything (field, message, hint).
    pub fn problem(&self) -> Option<(&'static str, String, &'static str)> {
        self.model_problem()
            .or_else(|| self.dataset_problem())
            .or_else(|| self.training_problem())
            .or_else(|| self.lora_problem())
            .or_else(|| self.hub_problem())
            .or_else(|| self.size_problem())
    }

    /// The model is a Hugging Face model id.
    fn model_problem(&self) -> Option<Problem> {
        let model_ok = !self.model.is_empty()
            && self.model.len() <= 200
            && self.model.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            && !self.model.contains("..");
        if !model_ok {
            return Some((
                "finetune.model",
                format!("{} is not a Hugging Face model id", crate::limits::shown(&self.model)),
                "e.g. model = \"meta-llama/Llama-3.2-1B\"",
            ));
        }
        None
    }

    /// Exactly one dataset: an http(s) URL or an absolute path in the pod.
    fn dataset_problem(&self) -> Option<Problem> {
        match (&self.dataset_url, &self.dataset_path) {
            (Some(url), None) => {
                let url_ok = (url.starts_with("https://") || url.starts_with("http://"))
                    && url.len() <= 2000
                    && !url.chars().any(char::is_whitespace);
                if !url_ok {
                    return Some((
                        "finetune.dataset_url",
                        format!("{} is not an http(s) URL", crate::limits::shown(url)),
                        "a JSON or JSON Lines file reachable from the pod",
                    ));
                }
            }
            (None, Some(path)) => {
                if !path.starts_with('/')
                    || path.len() > 1000
                    || path.split('/').any(|s| s == "..")
                    || path.chars().any(char::is_control)
                {
                    return Some((
                        "finetune.dataset_path",
                        format!(
                            "{} is not an absolute path in the pod",
                            crate::limits::shown(path)
                        ),
                        "e.g. dataset_path = \"/workspace/data/train.jsonl\", uploaded by an [[inputs]] entry",
                    ));
                }
            }
            (None, None) => {
                return Some((
                    "finetune.dataset_url",
                    "missing: the job needs a dataset".into(),
                    "set dataset_url (an https:// URL) or dataset_path (a file on the job's network volume)",
                ));
            }
            (Some(_), Some(_)) => {
                return Some((
                    "finetune.dataset_path",
                    "give dataset_url or dataset_path, not both".into(),
                    "keep the one the pod should read",
                ));
            }
        }
        None
    }

    /// Training settings in their ranges.
    fn training_problem(&self) -> Option<Problem> {
        if !(self.epochs.is_finite() && self.epochs > 0.0 && self.epochs <= 1000.0) {
            return Some((
                "finetune.epochs",
                format!("must be between 0 and 1000, got {}", self.epochs),
                "e.g. epochs = 3",
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate < 1.0)
        {
            return Some((
                "finetune.learning_rate",
                format!("must be between 0 and 1, got {}", self.learning_rate),
                "LoRA usually wants 1e-4 to 3e-4",
            ));
        }
        for (field, v) in [
            ("finetune.batch_size", self.batch_size),
            ("finetune.gradient_accumulation_steps", self.gradient_accumulation_steps),
            ("finetune.max_seq_length", self.max_seq_length),
            ("finetune.logging_steps", self.logging_steps),
            ("finetune.checkpoint_steps", self.checkpoint_steps),
            ("finetune.lora.r", self.lora.r),
            ("finetune.lora.alpha", self.lora.alpha),
        ] {
            if v == 0 {
                return Some((field, "must be at least 1".into(), "see docs/job-spec.md"));
            }
        }
        None
    }

    /// LoRA settings in their ranges.
    fn lora_problem(&self) -> Option<Problem> {
        if !(0.0..1.0).contains(&self.lora.dropout) {
            return Some((
                "finetune.lora.dropout",
                format!("must be in [0, 1), got {}", self.lora.dropout),
                "e.g. dropout = 0.05",
            ));
        }
        if !["none", "all", "lora_only"].contains(&self.lora.bias.as_str()) {
            return Some((
                "finetune.lora.bias",
                format!("{} is not none, all or lora_only", crate::limits::shown(&self.lora.bias)),
                "the default is \"none\"",
            ));
        }
        None
    }

    /// A push to the Hub names a repository and the token to push with.
    fn hub_problem(&self) -> Option<Problem> {
        if let Some(repo) = &self.push_to_hub {
            let ok = repo.split_once('/').is_some_and(|(owner, name)| {
                let part = |p: &str| {
                    !p.is_empty()
                        && p.len() <= 96
                        && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                };
                part(owner) && part(name) && !repo.contains("..")
            });
            if !ok {
                return Some((
                    "finetune.push_to_hub",
                    format!("{} is not a Hugging Face repository id", crate::limits::shown(repo)),
                    "e.g. push_to_hub = \"my-org/llama-lora\"",
                ));
            }
            if self.hf_token_env.is_none() {
                return Some((
                    "finetune.hf_token_env",
                    "push_to_hub needs a Hugging Face token with write access".into(),
                    "put the token in the job's env and name the variable: hf_token_env = \"HF_TOKEN\"",
                ));
            }
        }
        None
    }

    /// Strings and lists within their sizes; an absolute output directory.
    fn size_problem(&self) -> Option<Problem> {
        for (field, v, max) in [
            ("finetune.text_field", &self.text_field, 256),
            ("finetune.output_dir", &self.output_dir, 1024),
            ("finetune.hf_token_env", self.hf_token_env.as_ref().unwrap_or(&String::new()), 128),
        ] {
            if v.len() > max {
                return Some((
                    field,
                    format!("is {} bytes; at most {max} are allowed", v.len()),
                    "see docs/job-spec.md",
                ));
            }
        }
        if self.lora.target_modules.len() > crate::limits::LIST
            || self.lora.target_modules.iter().any(|m| m.len() > crate::limits::ITEM)
        {
            return Some((
                "finetune.lora.target_modules",
                format!(
                    "at most {} names of at most {} bytes",
                    crate::limits::LIST,
                    crate::limits::ITEM
                ),
                "e.g. [\"q_proj\", \"v_proj\"]",
            ));
        }
        if !self.output_dir.starts_with('/') || self.output_dir.split('/').any(|s| s == "..") {
            return Some((
                "finetune.output_dir",
                format!("{} is not an absolute path", crate::limits::shown(&self.output_dir)),
                "e.g. /workspace/fine_tuned_model",
            ));
        }
        None
    }

    /// Where the dataset comes from (a URL or a path in the pod).
    pub fn dataset(&self) -> &str {
        self.dataset_url.as_deref().or(self.dataset_path.as_deref()).unwrap_or_default()
    }

    /// The Python libraries training needs (bitsandbytes only when quantizing).
    fn libraries(&self) -> &'static str {
        match self.quantization {
            Quantization::None => "transformers datasets accelerate peft",
            _ => "transformers datasets accelerate peft bitsandbytes",
        }
    }

    /// The pod's start script (POSIX sh; the wrapper runs it with `sh -c`).
    pub fn script(&self) -> String {
        use base64::Engine as _;
        let config = serde_json::to_string(self).unwrap_or_default();
        let config_b64 = base64::engine::general_purpose::STANDARD.encode(&config);
        let libraries = self.libraries();
        format!(
            r#"# Generated by podwarden for a `finetune` job: LoRA fine-tuning of a Hugging Face model (POSIX sh).
# config: {config}
set -eu
export PW_FINETUNE_CONFIG='{config_b64}'
# A private working directory: the script and a downloaded dataset stay off the shared volume.
cd "$(mktemp -d)"
# Images that already have the libraries (a team's own training image) skip the install.
if python3 -c 'import sys, importlib.util as u; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))' {libraries}; then
  echo "podwarden: training libraries already installed"
else
  echo "podwarden: installing training libraries"
  python3 -m pip install --quiet --disable-pip-version-check {libraries}
fi
cat > pw_train.py <<'{HEREDOC_END}'
{TRAIN_PY}{HEREDOC_END}
echo "podwarden: training"
exec python3 pw_train.py
"#
        )
    }
}

/// The Python part of `script` (for syntax checks and tests that import it).
pub fn train_py() -> &'static str {
    TRAIN_PY
}
