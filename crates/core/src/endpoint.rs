//! The serverless endpoint spec (`podwarden endpoint deploy SPEC`): a template (image,
//! command, env) and the endpoint around it (GPU pools, workers, timeouts, FlashBoot, volume).

use crate::spec::{SpecError, duration, field_error, parse_json, parse_toml, spec_hint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// An endpoint spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Your name for it (lowercase letters, digits, `-`); unique per user.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9-]{1,40}$"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, pattern = r"\S"))]
    pub image: String,
    /// A private image's pull credential: a container registry credential id of the RunPod
    /// account the endpoint lives on (REST v2's `registry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<String>,
    /// The worker's command (default: the image's own).
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub gpu: EndpointGpu,
    #[serde(default)]
    pub workers: Workers,
    /// A job running longer fails and its worker is stopped (default 2 h, for training-style
    /// jobs; RunPod's own default is 10 min).
    #[serde(default = "two_hours", with = "duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, default = "2h", example = "2h"))]
    pub execution_timeout: Duration,
    #[serde(default)]
    pub flashboot: bool,
    #[serde(default)]
    pub network_volume: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10_000))]
    pub disk_gb: Option<i64>,
    /// An input field podwarden sets to the caller's user id on every job, overwriting what
    /// the caller sent, so a worker that keys storage by it (the tabular worker's `user`)
    /// serves each user only their own prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_field: Option<String>,
}

/// GPU pools the workers may run on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointGpu {
    /// RunPod GPU pools in order of preference, e.g. `["ADA_24", "AMPERE_24"]`.
    pub pools: Vec<String>,
    #[serde(default = "one")]
    pub count: i64,
}

impl Default for EndpointGpu {
    fn default() -> Self {
        Self { pools: vec!["ADA_24".into()], count: 1 }
    }
}

/// Worker scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Workers {
    #[serde(default)]
    pub min: i64,
    #[serde(default = "one")]
    pub max: i64,
    /// How long an idle worker is kept (default 5 s, RunPod's default).
    #[serde(default = "five_secs", with = "duration")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, default = "5s", example = "5s"))]
    pub idle_timeout: Duration,
}

impl Default for Workers {
    fn default() -> Self {
        Self { min: 0, max: 1, idle_timeout: five_secs() }
    }
}

fn one() -> i64 {
    1
}
fn two_hours() -> Duration {
    Duration::from_secs(7200)
}
fn five_secs() -> Duration {
    Duration::from_secs(5)
}

impl EndpointSpec {
    /// The spec as another RunPod account may run it (a BYOK user's copy of a published
    /// endpoint): without the publisher's env (it may hold the operator's secrets, and the
    /// copy's template is the user's to read), network volume and registry credential (ids of
    /// the publisher's account, refused on any other).
    pub fn for_another_account(&self) -> Self {
        Self { env: BTreeMap::new(), network_volume: None, registry_auth: None, ..self.clone() }
    }
}

const FIELDS: &[&str] = &[
    "name",
    "image",
    "registry_auth",
    "command",
    "env",
    "gpu",
    "workers",
    "execution_timeout",
    "flashboot",
    "network_volume",
    "disk_gb",
    "user_field",
    "pools",
    "count",
    "min",
    "max",
    "idle_timeout",
];

fn hint(message: &str) -> Option<String> {
    spec_hint(
        message,
        FIELDS,
        "docs/endpoints.md for every field",
        "an endpoint spec needs `name` and `image`; see examples/endpoints/",
    )
}

impl EndpointSpec {
    /// An endpoint of `image`'s workers running its own command, every other field at its
    /// default (what a spec file giving only these two means).
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            registry_auth: None,
            command: None,
            env: BTreeMap::new(),
            gpu: EndpointGpu::default(),
            workers: Workers::default(),
            execution_timeout: two_hours(),
            flashboot: false,
            network_volume: None,
            disk_gb: None,
            user_field: None,
        }
    }

    /// Parses and validates a TOML spec; errors carry `file:line:column` and a hint.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, Box<SpecError>> {
        parse_toml(file, text, hint, Self::validate)
    }

    /// Parses and validates the API's JSON form.
    pub fn from_json(value: serde_json::Value) -> Result<Self, Box<SpecError>> {
        parse_json(value, hint, Self::validate)
    }

    /// Every field within `crate::limits`.
    fn check_sizes(&self) -> Result<(), crate::limits::Problem> {
        use crate::limits::{self as l, opt_text, text};
        text("image", &self.image, l::IMAGE)?;
        opt_text("command", self.command.as_deref(), l::COMMAND)?;
        opt_text("registry_auth", self.registry_auth.as_deref(), l::ITEM)?;
        opt_text("network_volume", self.network_volume.as_deref(), l::ITEM)?;
        opt_text("user_field", self.user_field.as_deref(), l::ITEM)?;
        l::env("env", &self.env)?;
        l::list("gpu.pools", &self.gpu.pools)?;
        if self.disk_gb.is_some_and(|d| !(1..=l::DISK_GB).contains(&d)) {
            return Err(("disk_gb".into(), format!("must be between 1 and {} GB", l::DISK_GB)));
        }
        l::duration("workers.idle_timeout", self.workers.idle_timeout)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), Box<SpecError>> {
        let err = |field: &str, message: String, hint: &str| Err(field_error(field, message, hint));
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 40
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return err(
                "name",
                format!("{} is not a valid endpoint name", crate::limits::shown(&self.name)),
                "use 1–40 lowercase letters, digits and `-`",
            );
        }
        if self.image.trim().is_empty() {
            return err(
                "image",
                "must not be empty".into(),
                "the container image of the worker, e.g. ghcr.io/you/worker:1",
            );
        }
        self.check_sizes().map_err(|(f, m)| field_error(&f, m, "see docs/endpoints.md"))?;
        if let Some(why) = crate::images::problem(&self.image) {
            return err("image", why, "the worker's image, e.g. ghcr.io/you/worker:1");
        }
        if self.gpu.pools.is_empty() {
            return err(
                "gpu.pools",
                "must name at least one GPU pool".into(),
                "e.g. pools = [\"ADA_24\", \"AMPERE_24\"]",
            );
        }
        if !(1..=8).contains(&self.gpu.count) {
            return err(
                "gpu.count",
                format!("{} GPUs per worker is out of range", self.gpu.count),
                "1 to 8",
            );
        }
        if self.workers.min < 0 || self.workers.max < self.workers.min || self.workers.max > 100 {
            return err(
                "workers.max",
                format!(
                    "workers min {} / max {} are not a valid range",
                    self.workers.min, self.workers.max
                ),
                "0 ≤ min ≤ max ≤ 100",
            );
        }
        let t = self.execution_timeout.as_secs();
        if !(5..=7 * 24 * 3600).contains(&t) {
            return err(
                "execution_timeout",
                format!("{t} s is out of range"),
                "between 5s and 7d, e.g. \"2h\"",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `new` builds is what a file giving only name and image means.
    #[test]
    fn new_is_the_minimal_spec_file() {
        let file = "name = \"predict\"\nimage = \"img\"\n";
        assert_eq!(
            EndpointSpec::new("predict", "img"),
            EndpointSpec::from_toml("e.toml", file).expect("spec")
        );
    }

    #[test]
    fn defaults_and_located_errors() {
        let s = EndpointSpec::from_toml("e.toml", "name = \"predict\"\nimage = \"img\"\n")
            .expect("minimal");
        assert_eq!(
            (s.execution_timeout.as_secs(), s.workers.max, s.gpu.pools.as_slice()),
            (7200, 1, &["ADA_24".to_owned()][..])
        );
        let e = EndpointSpec::from_toml(
            "e.toml",
            "name = \"p\"\nimage = \"i\"\n[workers]\nmax = 2\nidle_timeot = \"5s\"\n",
        )
        .expect_err("typo");
        assert_eq!(
            (e.line, e.hint.as_deref()),
            (Some(5), Some("did you mean `idle_timeout`? see docs/endpoints.md for every field"))
        );
        let e = EndpointSpec::from_toml("e.toml", "name = \"Bad Name\"\nimage = \"i\"\n")
            .expect_err("name");
        assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("name")));
        let e = EndpointSpec::from_toml(
            "e.toml",
            "name = \"p\"\nimage = \"i\"\n[workers]\nmin = 3\nmax = 1\n",
        )
        .expect_err("range");
        assert!(e.to_string().starts_with("e.toml:5:1: `workers.max`"), "{e}");
        let e = EndpointSpec::from_json(
            serde_json::json!({"name": "p", "image": "i", "execution_timeout": "1s"}),
        )
        .expect_err("too short");
        assert!(e.to_string().contains("execution_timeout"), "{e}");
    }

    #[test]
    fn every_shipped_endpoint_example_is_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/endpoints");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("examples/endpoints/") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            EndpointSpec::from_toml(&path.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
        assert!(n >= 1);
    }
}
