//! The serverless job spec (`podwarden run` on a spec with `endpoint = …`; the API's
//! `/api/v1/requests`, ids `req_…`): which deployed
//! endpoint, the input its handler gets, and an optional RunPod job policy.

use crate::spec::{SpecError, field_error, opt_duration, parse_json, parse_toml, spec_hint};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A serverless job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServerlessJobSpec {
    /// The endpoint's name (as deployed with `podwarden endpoint deploy`).
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z0-9-]+$"))]
    pub endpoint: String,
    /// A label for lists (default: the endpoint's name).
    #[serde(default)]
    pub name: Option<String>,
    /// The handler's input (any JSON object).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input: serde_json::Value,
    #[serde(default)]
    pub policy: Policy,
}

/// RunPod's per-job policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Fail the job when it runs longer (default: the endpoint's `execution_timeout`).
    #[serde(default, with = "opt_duration", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2h"))]
    pub execution_timeout: Option<Duration>,
    /// Delete the job this long after submission, even while it runs (RunPod's default 24 h).
    #[serde(default, with = "opt_duration", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2h"))]
    pub ttl: Option<Duration>,
    /// The job does not make the endpoint scale up.
    #[serde(default)]
    pub low_priority: bool,
}

const FIELDS: &[&str] =
    &["endpoint", "name", "input", "policy", "execution_timeout", "ttl", "low_priority"];

fn hint(message: &str) -> Option<String> {
    spec_hint(
        message,
        FIELDS,
        "docs/job-spec.md (serverless jobs)",
        "a serverless job needs `endpoint` and `input`; see examples/serverless/",
    )
}

impl ServerlessJobSpec {
    /// A job for `endpoint` with `input`, its label and policy at their defaults.
    pub fn new(endpoint: impl Into<String>, input: serde_json::Value) -> Self {
        Self { endpoint: endpoint.into(), name: None, input, policy: Policy::default() }
    }

    /// Parses and validates a TOML spec; errors carry `file:line:column` and a hint.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, Box<SpecError>> {
        parse_toml(file, text, hint, Self::validate)
    }

    /// Parses and validates the API's JSON form.
    pub fn from_json(value: serde_json::Value) -> Result<Self, Box<SpecError>> {
        parse_json(value, hint, Self::validate)
    }

    /// Whether a TOML document is a serverless job spec (it names an `endpoint`) rather than a
    /// pod job spec.
    pub fn is_serverless_job(text: &str) -> bool {
        text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("endpoint"))
    }

    /// The label in lists.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.endpoint)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), Box<SpecError>> {
        let err = |field: &str, message: String, hint: &str| Err(field_error(field, message, hint));
        if self.endpoint.is_empty()
            || !self
                .endpoint
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return err(
                "endpoint",
                format!("{} is not an endpoint name", crate::limits::shown(&self.endpoint)),
                "`podwarden endpoint ls` lists your endpoints",
            );
        }
        if self.endpoint.len() > 40 {
            return err(
                "endpoint",
                format!("is {} bytes; endpoint names are at most 40", self.endpoint.len()),
                "`podwarden endpoint ls` lists your endpoints",
            );
        }
        if let Err((f, m)) =
            crate::limits::opt_text("name", self.name.as_deref(), crate::limits::ITEM)
        {
            return err(&f, m, "a short label for lists");
        }
        if !self.input.is_object() {
            return err(
                "input",
                "must be a table (a JSON object)".into(),
                "e.g. input = { prompt = \"hello\" }",
            );
        }
        if let Some(t) = self.policy.execution_timeout {
            if !(5..=7 * 24 * 3600).contains(&t.as_secs()) {
                return err(
                    "policy.execution_timeout",
                    format!("{} s is out of range", t.as_secs()),
                    "between 5s and 7d",
                );
            }
        }
        if let Some(t) = self.policy.ttl {
            if !(10..=7 * 24 * 3600).contains(&t.as_secs()) {
                return err(
                    "policy.ttl",
                    format!("{} s is out of range", t.as_secs()),
                    "between 10s and 7d",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `new` builds is what a file giving only endpoint and input means.
    #[test]
    fn new_is_the_minimal_spec_file() {
        let file = "endpoint = \"predict\"\ninput = { x = 1 }\n";
        let built = ServerlessJobSpec::new("predict", serde_json::json!({"x": 1}));
        assert_eq!(built, ServerlessJobSpec::from_toml("r.toml", file).expect("spec"));
    }

    #[test]
    fn parses_tables_as_json_input_and_rejects_what_runpod_would() {
        let text = "endpoint = \"predict\"\ninput = { model_id = \"m1\", rows = [1, 2] }\n[policy]\nexecution_timeout = \"10m\"\n";
        assert!(ServerlessJobSpec::is_serverless_job(text));
        assert!(!ServerlessJobSpec::is_serverless_job(
            "name = \"x\"\nimage = \"i\"\ncommand = \"c\"\n"
        ));
        let s = ServerlessJobSpec::from_toml("r.toml", text).expect("valid");
        assert_eq!(s.input, serde_json::json!({"model_id": "m1", "rows": [1, 2]}));
        assert_eq!(s.policy.execution_timeout, Some(Duration::from_secs(600)));
        let e = ServerlessJobSpec::from_toml(
            "r.toml",
            "endpoint = \"predict\"\ninput = { a = 1 }\ninptu = 2\n",
        )
        .expect_err("typo");
        assert_eq!(
            (e.line, e.hint.as_deref()),
            (Some(3), Some("did you mean `input`? see docs/job-spec.md (serverless jobs)"))
        );
        let e = ServerlessJobSpec::from_json(serde_json::json!({"endpoint": "p", "input": [1]}))
            .expect_err("not an object");
        assert_eq!(e.field.as_deref(), Some("input"));
        let e = ServerlessJobSpec::from_json(
            serde_json::json!({"endpoint": "p", "input": {}, "policy": {"ttl": "1s"}}),
        )
        .expect_err("ttl");
        assert_eq!(e.field.as_deref(), Some("policy.ttl"));
    }

    #[test]
    fn every_shipped_serverless_and_tabular_example_is_valid() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let read = |dir: &str| {
            std::fs::read_dir(root.join(dir))
                .expect("examples dir")
                .map(|e| e.expect("entry").path())
                .collect::<Vec<_>>()
        };
        let requests = read("serverless");
        for path in &requests {
            let text = std::fs::read_to_string(path).expect("read");
            assert!(ServerlessJobSpec::is_serverless_job(&text), "{}", path.display());
            ServerlessJobSpec::from_toml(&path.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let jobs = read("tabular");
        for path in &jobs {
            let text = std::fs::read_to_string(path).expect("read");
            crate::spec::JobSpec::from_toml(&path.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(!requests.is_empty() && !jobs.is_empty());
    }
}
