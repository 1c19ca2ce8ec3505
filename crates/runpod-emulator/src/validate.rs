//! Request validation with RunPod's outcomes: malformed JSON is a 400; a body that breaks the
//! REST v2 contract is a 422 `Request validation failed.` whose `errors[]` name each violation
//! as `$.path: message`, in the style of RunPod's own validator.
//!
//! Shape (types, required and unknown properties, enum values) comes from strict serde types
//! in `runpod::types`; constraints the types cannot express (lengths, ranges, patterns, item
//! counts) are checked here. The `spec_conformance` test compares the outcome with a JSON
//! Schema validator running the pinned official spec on thousands of generated bodies.

use crate::problem::{ApiError, ApiResult};
use regex::Regex;
use runpod::types::endpoints::{
    CreateEndpointGpuConfig, CreateEndpointRequest, EndpointScaling, EndpointType, EndpointWorkers,
    FlashBoot, UpdateEndpointRequest,
};
use runpod::types::network_volumes::{
    CreateNetworkVolumeRequest, UpdateNetworkVolumeRequest, VolumeType,
};
use runpod::types::pods::{
    Cloud, CreateCpuConfig, CreateGpuConfig, CreatePodRequest, Mounts, PodAction, PodActionRequest,
    UpdatePodRequest,
};
use runpod::types::templates::{
    CreateTemplateRequest, TemplateCategory, TemplateMounts, UpdateTemplateRequest,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::LazyLock;

static CUDA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d+\.\d+$").unwrap_or_else(|_| unreachable!()));
static EXCLUDED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*[^-\s]").unwrap_or_else(|_| unreachable!()));

/// Constraints beyond shape.
pub trait Validate {
    /// Paths (`/a/b`, `*` for every array item) whose values must be JSON objects. serde
    /// would also read a struct from an array, which RunPod's schema forbids.
    const OBJECTS: &'static [&'static str] = &[];

    /// Appends one `$.path: message` per violation.
    fn validate(&self, errs: &mut Vec<String>);
}

/// Parses and validates a request body.
pub fn parse<T: DeserializeOwned + Validate>(bytes: &[u8]) -> ApiResult<T> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    parse_value(value)
}

/// Validates an already-parsed body.
pub fn parse_value<T: DeserializeOwned + Validate>(value: Value) -> ApiResult<T> {
    if !value.is_object() {
        return Err(ApiError::validation(vec![format!("$: got {}, want object", kind(&value))]));
    }
    let mut errs = Vec::new();
    find_nulls(&value, "$", &mut errs);
    for p in T::OBJECTS {
        require_objects(
            &value,
            p.trim_start_matches('/').split('/').collect::<Vec<_>>().as_slice(),
            "$",
            &mut errs,
        );
    }
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    let parsed: T = serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::validation(vec![serde_message(&e)]))?;
    parsed.validate(&mut errs);
    if errs.is_empty() { Ok(parsed) } else { Err(ApiError::validation(errs)) }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Only `registry` is nullable in request bodies; serde would read other nulls as "absent".
fn find_nulls(v: &Value, path: &str, errs: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if x.is_null() && k != "registry" {
                    errs.push(format!("{path}.{k}: got null, want a value"));
                } else {
                    find_nulls(x, &format!("{path}.{k}"), errs);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                if x.is_null() {
                    errs.push(format!("{path}[{i}]: got null, want a value"));
                } else {
                    find_nulls(x, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

fn require_objects(v: &Value, path: &[&str], at: &str, errs: &mut Vec<String>) {
    let Some((head, rest)) = path.split_first() else {
        if !v.is_object() {
            errs.push(format!("{at}: got {}, want object", kind(v)));
        }
        return;
    };
    match (*head, v) {
        ("*", Value::Array(items)) => {
            for (i, x) in items.iter().enumerate() {
                require_objects(x, rest, &format!("{at}[{i}]"), errs);
            }
        }
        (key, Value::Object(m)) => {
            if let Some(x) = m.get(key) {
                require_objects(x, rest, &format!("{at}.{key}"), errs);
            }
        }
        // A wrong type higher up is reported by serde.
        _ => {}
    }
}

fn serde_message(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let mut segs: Vec<String> = Vec::new();
    for s in e.path().iter() {
        match s {
            serde_path_to_error::Segment::Seq { index } => segs.push(format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => segs.push(format!(".{key}")),
            serde_path_to_error::Segment::Enum { variant } => segs.push(format!(".{variant}")),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let inner = e.inner().to_string();
    let inner = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
    let ticked = |s: &str| s.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>();
    if let Some(rest) = inner.strip_prefix("unknown field ") {
        let name = ticked(rest).into_iter().next().unwrap_or_default();
        if segs.last().is_some_and(|l| l == &format!(".{name}")) {
            segs.pop();
        }
        return format!("${}: additional properties '{name}' not allowed", segs.concat());
    }
    if let Some(rest) = inner.strip_prefix("missing field ") {
        let name = ticked(rest).into_iter().next().unwrap_or_default();
        return format!("${}: missing property '{name}'", segs.concat());
    }
    if let Some(rest) = inner.strip_prefix("unknown variant ") {
        let names = ticked(rest)
            .into_iter()
            .skip(1)
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        return format!("${}: value must be one of {names}", segs.concat());
    }
    if let Some(rest) = inner.strip_prefix("invalid type: ") {
        let (got, want) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        return format!("${}: got {got}, want {want}", segs.concat());
    }
    format!("${}: {inner}", segs.concat())
}

struct V<'a>(&'a mut Vec<String>);

impl V<'_> {
    fn min_len(&mut self, path: &str, s: Option<&str>, n: usize) {
        if let Some(s) = s {
            if s.chars().count() < n {
                self.0
                    .push(format!("{path}: length must be >= {n}, but got {}", s.chars().count()));
            }
        }
    }
    fn min(&mut self, path: &str, v: Option<i64>, n: i64) {
        if let Some(v) = v {
            if v < n {
                self.0.push(format!("{path}: must be >= {n} but found {v}"));
            }
        }
    }
    fn max(&mut self, path: &str, v: Option<i64>, n: i64) {
        if let Some(v) = v {
            if v > n {
                self.0.push(format!("{path}: must be <= {n} but found {v}"));
            }
        }
    }
    fn pattern(&mut self, path: &str, s: Option<&str>, re: &Regex, shown: &str) {
        if let Some(s) = s {
            if !re.is_match(s) {
                self.0.push(format!("{path}: '{s}' does not match pattern '{shown}'"));
            }
        }
    }
    fn cuda_list(&mut self, path: &str, v: Option<&Vec<String>>) {
        for (i, s) in v.into_iter().flatten().enumerate() {
            self.pattern(&format!("{path}[{i}]"), Some(s), &CUDA, r"^\d+\.\d+$");
        }
    }
    fn known<E: PartialEq + Copy>(&mut self, path: &str, v: Option<E>, unknown: E, names: &[&str]) {
        if v == Some(unknown) {
            let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
            self.0.push(format!("{path}: value must be one of {list}"));
        }
    }
    fn required(&mut self, path: &str, present: bool, name: &str) {
        if !present {
            self.0.push(format!("{path}: missing property '{name}'"));
        }
    }
}

fn mounts(v: &mut V<'_>, m: Option<&Mounts>) {
    let Some(m) = m else { return };
    if let Some(p) = &m.persistent {
        v.min("$.mounts.persistent.size", Some(p.size), 10);
    }
    if let Some(n) = &m.network {
        if n.len() > 1 {
            v.0.push(format!("$.mounts.network: maxItems: got {}, want 1", n.len()));
        }
    }
}

fn gpu(v: &mut V<'_>, g: Option<&CreateGpuConfig>) {
    let Some(g) = g else { return };
    v.min("$.gpu.count", g.count, 1);
    v.cuda_list("$.gpu.allowedCudaVersions", g.allowed_cuda_versions.as_ref());
    v.pattern("$.gpu.minCudaVersion", g.min_cuda_version.as_deref(), &CUDA, r"^\d+\.\d+$");
}

fn cpu(v: &mut V<'_>, path: &str, c: &CreateCpuConfig) {
    v.min_len(&format!("{path}.id"), Some(&c.id), 1);
    v.min(&format!("{path}.vcpuCount"), Some(c.vcpu_count), 2);
}

fn container(v: &mut V<'_>, disk: Option<i64>) {
    v.min("$.disk", disk, 1);
}

const POD_MOUNTS: [&str; 3] = ["/mounts", "/mounts/persistent", "/mounts/network/*"];
const ENDPOINT_OBJECTS: &[&str] = &["/scaling", "/gpu", "/cpu/*", "/workers"];

impl Validate for CreatePodRequest {
    const OBJECTS: &'static [&'static str] =
        &["/gpu", "/cpu", POD_MOUNTS[0], POD_MOUNTS[1], POD_MOUNTS[2]];
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", Some(&self.name), 1);
        container(&mut v, self.disk);
        v.known("$.cloud", self.cloud, Cloud::Unknown, Cloud::NAMES);
        gpu(&mut v, self.gpu.as_ref());
        if let Some(c) = &self.cpu {
            cpu(&mut v, "$.cpu", c);
        }
        mounts(&mut v, self.mounts.as_ref());
        v.min_len("$.templateId", self.template_id.as_ref().map(|t| t.as_str()), 1);
        if self.template_id.is_none() {
            v.required("$", self.image.is_some(), "image");
        }
    }
}

impl Validate for UpdatePodRequest {
    const OBJECTS: &'static [&'static str] = &POD_MOUNTS;
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", self.name.as_deref(), 1);
        container(&mut v, self.disk);
        mounts(&mut v, self.mounts.as_ref());
    }
}

impl Validate for PodActionRequest {
    fn validate(&self, errs: &mut Vec<String>) {
        V(errs).known("$.action", Some(self.action), PodAction::Unknown, PodAction::NAMES);
    }
}

fn scaling(v: &mut V<'_>, s: &EndpointScaling) {
    match s {
        EndpointScaling::QueueDelay { queue_delay } => {
            if *queue_delay < 0.5 {
                v.0.push(format!("$.scaling.queueDelay: must be >= 0.5 but found {queue_delay}"));
            }
        }
        EndpointScaling::RequestCount { request_count } => {
            v.min("$.scaling.requestCount", Some(*request_count), 1)
        }
    }
}

fn endpoint_gpu(v: &mut V<'_>, g: &CreateEndpointGpuConfig, create: bool) {
    if create {
        v.required("$.gpu", g.pools.is_some(), "pools");
    } else if g.excluded_types.is_some() && g.pools.is_none() {
        v.0.push("$.gpu: property 'pools' is required, if 'excludedTypes' property exists".into());
    }
    if let Some(p) = &g.pools {
        if p.is_empty() {
            v.0.push("$.gpu.pools: minItems: got 0, want 1".into());
        }
    }
    if let Some(x) = &g.excluded_types {
        for (i, t) in x.iter().enumerate() {
            v.pattern(
                &format!("$.gpu.excludedTypes[{i}]"),
                Some(t.as_str()),
                &EXCLUDED,
                r"^\s*[^-\s]",
            );
            if x[..i].contains(t) {
                v.0.push(format!(
                    "$.gpu.excludedTypes: items at {} and {i} are equal",
                    x.iter().position(|y| y == t).unwrap_or(0)
                ));
            }
        }
    }
    v.min("$.gpu.count", g.count, 1);
    v.cuda_list("$.gpu.allowedCudaVersions", g.allowed_cuda_versions.as_ref());
    if create {
        v.pattern("$.gpu.minCudaVersion", g.min_cuda_version.as_deref(), &CUDA, r"^\d+\.\d+$");
    } else if let Some(m) = g.min_cuda_version.as_deref().filter(|m| !m.is_empty()) {
        v.pattern("$.gpu.minCudaVersion", Some(m), &CUDA, r"^$|^\d+\.\d+$");
    }
}

fn endpoint_cpu(v: &mut V<'_>, c: &[CreateCpuConfig]) {
    if c.is_empty() {
        v.0.push("$.cpu: minItems: got 0, want 1".into());
    }
    for (i, x) in c.iter().enumerate() {
        cpu(v, &format!("$.cpu[{i}]"), x);
        if c[..i].contains(x) {
            v.0.push(format!(
                "$.cpu: items at {} and {i} are equal",
                c.iter().position(|y| y == x).unwrap_or(0)
            ));
        }
    }
}

fn workers(v: &mut V<'_>, w: &EndpointWorkers) {
    v.min("$.workers.min", w.min, 0);
    v.min("$.workers.max", w.max, 0);
    v.min("$.workers.idleTimeout", w.idle_timeout, 1);
    v.max("$.workers.idleTimeout", w.idle_timeout, 3600);
}

impl Validate for CreateEndpointRequest {
    const OBJECTS: &'static [&'static str] = ENDPOINT_OBJECTS;
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", Some(&self.name), 1);
        container(&mut v, self.disk);
        v.known("$.type", Some(self.kind), EndpointType::Unknown, EndpointType::NAMES);
        scaling(&mut v, &self.scaling);
        if self.kind == EndpointType::LoadBalancer
            && !matches!(self.scaling, EndpointScaling::RequestCount { .. })
        {
            v.0.push(
                "$.scaling: value must be REQUEST_COUNT scaling for LOAD_BALANCER endpoints".into(),
            );
        }
        if let Some(g) = &self.gpu {
            endpoint_gpu(&mut v, g, true);
        }
        if let Some(c) = &self.cpu {
            endpoint_cpu(&mut v, c);
        }
        v.known("$.flashboot", self.flashboot, FlashBoot::Unknown, FlashBoot::NAMES);
        v.min_len("$.templateId", self.template_id.as_ref().map(|t| t.as_str()), 1);
        if let Some(w) = &self.workers {
            workers(&mut v, w);
        }
        if self.template_id.is_none() {
            v.required("$", self.image.is_some(), "image");
        }
    }
}

impl Validate for UpdateEndpointRequest {
    const OBJECTS: &'static [&'static str] = ENDPOINT_OBJECTS;
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", self.name.as_deref(), 1);
        container(&mut v, self.disk);
        if let Some(s) = &self.scaling {
            scaling(&mut v, s);
        }
        if let Some(g) = &self.gpu {
            endpoint_gpu(&mut v, g, false);
        }
        if let Some(c) = &self.cpu {
            endpoint_cpu(&mut v, c);
        }
        v.known("$.flashboot", self.flashboot, FlashBoot::Unknown, FlashBoot::NAMES);
        if let Some(w) = &self.workers {
            workers(&mut v, w);
        }
    }
}

fn template_common(
    v: &mut V<'_>,
    disk: Option<i64>,
    cuda: Option<&Vec<String>>,
    category: Option<TemplateCategory>,
    m: Option<&TemplateMounts>,
) {
    container(v, disk);
    v.cuda_list("$.allowedCudaVersions", cuda);
    v.known("$.category", category, TemplateCategory::Unknown, TemplateCategory::NAMES);
    if let Some(p) = m.and_then(|m| m.persistent.as_ref()) {
        v.min("$.mounts.persistent.size", Some(p.size), 10);
    }
}

impl Validate for CreateTemplateRequest {
    const OBJECTS: &'static [&'static str] = &["/mounts", "/mounts/persistent"];
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", Some(&self.name), 1);
        template_common(
            &mut v,
            self.disk,
            self.allowed_cuda_versions.as_ref(),
            self.category,
            self.mounts.as_ref(),
        );
    }
}

impl Validate for UpdateTemplateRequest {
    const OBJECTS: &'static [&'static str] = &["/mounts", "/mounts/persistent"];
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", self.name.as_deref(), 1);
        template_common(
            &mut v,
            self.disk,
            self.allowed_cuda_versions.as_ref(),
            self.category,
            self.mounts.as_ref(),
        );
    }
}

impl Validate for CreateNetworkVolumeRequest {
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        v.min_len("$.name", Some(&self.name), 1);
        v.min_len("$.dataCenter", Some(self.data_center.as_str()), 1);
        v.min("$.size", Some(self.size), 10);
        v.max("$.size", Some(self.size), 4096);
        v.known("$.type", self.kind, VolumeType::Unknown, VolumeType::NAMES);
    }
}

impl Validate for UpdateNetworkVolumeRequest {
    fn validate(&self, errs: &mut Vec<String>) {
        let mut v = V(errs);
        if self.name.is_none() && self.size.is_none() {
            v.0.push("$: minProperties: got 0, want 1".into());
        }
        v.min_len("$.name", self.name.as_deref(), 1);
        v.min("$.size", self.size, 10);
        v.max("$.size", self.size, 4096);
    }
}

impl Validate for runpod::types::secrets::CreateSecretRequest {
    fn validate(&self, errs: &mut Vec<String>) {
        use runpod::types::secrets::{MAX_DESCRIPTION_CHARS, MAX_VALUE_BYTES, name_problem};
        if let Some(why) = name_problem(&self.name) {
            errs.push(format!("$.name: {why}"));
        }
        if self.value.is_empty() || self.value.len() > MAX_VALUE_BYTES {
            errs.push(format!(
                "$.value: length must be between 1 and {MAX_VALUE_BYTES}, but got {}",
                self.value.len()
            ));
        }
        if let Some(n) = self.description.as_ref().map(|d| d.chars().count()) {
            if n > MAX_DESCRIPTION_CHARS {
                errs.push(format!(
                    "$.description: length must be <= {MAX_DESCRIPTION_CHARS}, but got {n}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of<T: DeserializeOwned + Validate + std::fmt::Debug>(
        body: &str,
    ) -> (u16, Vec<String>) {
        match parse::<T>(body.as_bytes()) {
            Ok(_) => (200, Vec::new()),
            Err(e) => (e.status, e.errors.unwrap_or_default()),
        }
    }

    #[test]
    fn unknown_action_matches_runpods_wording() {
        let (s, e) = errors_of::<PodActionRequest>(r#"{"action":"explode"}"#);
        assert_eq!(s, 422);
        assert_eq!(e, ["$.action: value must be one of 'start', 'stop', 'restart', 'terminate'"]);
    }

    #[test]
    fn unknown_properties_and_missing_ones_are_named() {
        let (s, e) = errors_of::<CreatePodRequest>(r#"{"name":"x","image":"i","bogus":1}"#);
        assert_eq!((s, e), (422, vec!["$: additional properties 'bogus' not allowed".to_owned()]));
        let (_, e) = errors_of::<CreatePodRequest>(r#"{"image":"i"}"#);
        assert_eq!(e, ["$: missing property 'name'"]);
        let (_, e) = errors_of::<CreatePodRequest>(r#"{"name":"x"}"#);
        assert_eq!(e, ["$: missing property 'image'"]);
        let (_, e) = errors_of::<CreatePodRequest>(
            r#"{"name":"x","image":"i","gpu":{"id":"g","count":0,"extra":true}}"#,
        );
        assert_eq!(e, ["$.gpu: additional properties 'extra' not allowed"]);
    }

    #[test]
    fn constraints_are_all_reported() {
        let (s, e) = errors_of::<CreatePodRequest>(
            r#"{"name":"","image":"i","disk":0,"gpu":{"id":"g","count":0,"minCudaVersion":"12"}}"#,
        );
        assert_eq!(s, 422);
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn malformed_json_is_a_400_with_position() {
        let e = parse::<CreatePodRequest>(b"{\"name\":").expect_err("malformed");
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("line 1"), "{}", e.detail);
    }

    #[test]
    fn wrong_types_and_nulls_are_422() {
        let (s, e) = errors_of::<CreatePodRequest>(r#"{"name":"x","image":5}"#);
        assert_eq!(s, 422);
        assert!(e[0].starts_with("$.image: got integer"), "{e:?}");
        let (_, e) = errors_of::<CreatePodRequest>(r#"{"name":"x","image":null}"#);
        assert_eq!(e, ["$.image: got null, want a value"]);
        assert_eq!(
            errors_of::<CreatePodRequest>(r#"{"name":"x","image":"i","registry":null}"#).0,
            200
        );
        assert_eq!(errors_of::<CreatePodRequest>("[]").0, 422);
    }

    #[test]
    fn structs_are_not_read_from_arrays() {
        let (s, e) = errors_of::<CreatePodRequest>(r#"{"name":"x","image":"i","mounts":[]}"#);
        assert_eq!((s, e), (422, vec!["$.mounts: got array, want object".to_owned()]));
        let (_, e) = errors_of::<CreatePodRequest>(
            r#"{"name":"x","image":"i","mounts":{"network":[["v","/p"]]}}"#,
        );
        assert_eq!(e, ["$.mounts.network[0]: got array, want object"]);
    }

    #[test]
    fn scaling_is_discriminated_on_type() {
        let ok = r#"{"name":"e","type":"QUEUE","templateId":"t","scaling":{"type":"QUEUE_DELAY","queueDelay":4}}"#;
        assert_eq!(errors_of::<CreateEndpointRequest>(ok).0, 200);
        let bad = r#"{"name":"e","type":"QUEUE","templateId":"t","scaling":{"type":"QUEUE_DELAY","requestCount":4}}"#;
        assert_eq!(errors_of::<CreateEndpointRequest>(bad).0, 422);
    }
}
