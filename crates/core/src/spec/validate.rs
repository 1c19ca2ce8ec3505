//! What serde cannot check in a job spec: one command, a sane name, positive limits, a GPU
//! selection, fields within `crate::limits`, inputs and outputs on a network volume. Each part
//! is its own function; the first problem found is the answer, with its field and a hint.

use super::{CloudChoice, JobSpec, NETWORK_VOLUME_MOUNT, SpecError, check_volume_path};

impl JobSpec {
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
        l::duration("limits.start_within", self.limits.start_within)?;
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
    /// The parts run in this order; the first problem is the answer.
    pub fn validate(&self) -> Result<(), Box<SpecError>> {
        self.check_name_and_image()?;
        self.check_finetune()?;
        self.check_command()?;
        self.check_gpu()?;
        self.check_limits()?;
        self.check_storage()?;
        self.check_inputs_and_outputs()?;
        self.check_ports()?;
        self.check_checkpoints()?;
        self.check_ssh()?;
        self.check_nodes()?;
        self.check_provider()?;
        self.check_providers()
    }

    /// `providers`: each cloud once, `provider` (where the job runs now) among them, and the
    /// spec valid on each, checked as if it named that one alone.
    fn check_providers(&self) -> Result<(), Box<SpecError>> {
        for (i, p) in self.providers.iter().enumerate() {
            if self.providers[..i].contains(p) {
                return Err(invalid(
                    "providers",
                    format!("lists {p} twice"),
                    Some("name each cloud once, in order of preference"),
                ));
            }
        }
        if let Some(p) = self.provider
            && !self.providers.is_empty()
            && !self.providers.contains(&p)
        {
            return Err(invalid(
                "provider",
                format!("is {p}, which `providers` does not list"),
                Some("give `providers` alone: the job starts on the first with an account here"),
            ));
        }
        for p in &self.providers {
            let mut on = self.clone();
            on.provider = Some(*p);
            on.providers.clear();
            if let Err(e) = on.validate() {
                let message = format!(
                    "{} (`providers` lists {}, and the spec must be valid on each)",
                    e.message,
                    p.title()
                );
                return Err(Box::new(SpecError { message, ..*e }));
            }
        }
        Ok(())
    }

    /// Several nodes: RunPod pods on one global network (not AWS yet), at most
    /// [`super::MAX_NODES`].
    fn check_nodes(&self) -> Result<(), Box<SpecError>> {
        if self.nodes == 0 || self.nodes > super::MAX_NODES {
            return Err(invalid(
                "nodes",
                format!("is {}; a job runs on 1 to {} nodes", self.nodes, super::MAX_NODES),
                None,
            ));
        }
        if self.nodes > 1 && self.on_aws() {
            return Err(invalid(
                "nodes",
                "multi-node jobs run on RunPod's global networking; AWS jobs run on one instance"
                    .into(),
                Some("run it on RunPod (drop `provider`), or set nodes = 1"),
            ));
        }
        Ok(())
    }

    /// Checkpoints live on the job's network volume, the one thing a relaunched pod shares
    /// with the lost one (a pod volume goes with its pod).
    fn check_checkpoints(&self) -> Result<(), Box<SpecError>> {
        let Some(dir) = &self.checkpoint_dir else { return Ok(()) };
        crate::limits::text("checkpoint_dir", dir, 1024).map_err(|(f, m)| invalid(&f, m, None))?;
        check_volume_path(dir).map_err(|m| invalid("checkpoint_dir", m, None))?;
        if self.on_aws() {
            return Err(invalid(
                "checkpoint_dir",
                "checkpoints on a network volume are RunPod's; AWS jobs cannot use them".into(),
                Some("run it on RunPod (drop `provider`), or checkpoint to S3 from the command"),
            ));
        }
        if self.network_volume.is_none() {
            return Err(invalid(
                "checkpoint_dir",
                "is on the job's network volume, and the job has none: a relaunched pod would find nothing to resume from".into(),
                Some("add network_volume = \"<volume>\" (`podwarden volume create`)"),
            ));
        }
        Ok(())
    }

    /// SSH keys in `authorized_keys` form, not too many; RunPod's images read `PUBLIC_KEY`.
    fn check_ssh(&self) -> Result<(), Box<SpecError>> {
        let Some(ssh) = &self.ssh else { return Ok(()) };
        if let Err((field, why)) = ssh.check() {
            return Err(invalid(
                &field,
                why,
                Some(
                    "each key is one line of a `.pub` file, e.g. \"ssh-ed25519 AAAAC3Nza… you@laptop\"",
                ),
            ));
        }
        if self.cloud == CloudChoice::Community {
            return Err(invalid(
                "cloud",
                "SSH needs a public IP for the pod's 22/tcp, which a Community Cloud host may not have".into(),
                Some("drop `cloud` (SSH jobs run on Secure Cloud) or set cloud = \"secure\""),
            ));
        }
        if self.env.contains_key("PUBLIC_KEY") {
            return Err(invalid(
                "env.PUBLIC_KEY",
                "is set by podwarden for `ssh` (your keys go to the pod as PUBLIC_KEY)".into(),
                Some("put the keys in [ssh] public_keys instead"),
            ));
        }
        Ok(())
    }

    /// What AWS cannot do of what the spec asks (RunPod's features without an EC2 counterpart
    /// here), refused before anything is created.
    fn check_provider(&self) -> Result<(), Box<SpecError>> {
        if self.provider != Some(crate::ProviderKind::Aws) {
            return Ok(());
        }
        let refuse = |field: &str, what: &str, hint: &str| {
            Err(invalid(field, format!("{what} is RunPod's; AWS jobs cannot use it"), Some(hint)))
        };
        if self.network_volume.is_some() || self.volume_gb > 0 {
            return refuse(
                "network_volume",
                "a network volume (or volume_gb)",
                "drop it: an EC2 instance's disk is disk_gb; keep data in S3",
            );
        }
        if self.registry_auth.is_some() {
            return refuse(
                "registry_auth",
                "a RunPod registry credential",
                "use a public image, or ECR with the instance's role",
            );
        }
        if self.cloud == CloudChoice::Community {
            return refuse("cloud", "the community cloud", "drop `cloud` for AWS jobs");
        }
        if self.finetune.is_some() {
            return refuse("finetune", "[finetune]", "run fine-tunes on RunPod (drop `provider`)");
        }
        if self.ssh.is_some() {
            return refuse("ssh", "SSH into the pod", "run it on RunPod (drop `provider`)");
        }
        Ok(())
    }

    fn check_name_and_image(&self) -> Result<(), Box<SpecError>> {
        if self.name.is_empty()
            || self.name.len() > 40
            || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "name",
                format!("{} is not a valid job name", crate::limits::shown(&self.name)),
                Some("use 1-40 lowercase letters, digits and dashes, e.g. \"finetune-llama\""),
            ));
        }
        if self.image.trim().is_empty() {
            return Err(invalid(
                "image",
                "must not be empty".into(),
                Some(
                    "set the container image, e.g. image = \"runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04\"",
                ),
            ));
        }
        if let Some(why) = crate::images::problem(&self.image) {
            return Err(invalid(
                "image",
                why,
                Some("e.g. image = \"runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04\""),
            ));
        }
        Ok(())
    }

    /// A `finetune` job: no command of its own, and its adapter kept.
    fn check_finetune(&self) -> Result<(), Box<SpecError>> {
        if let Some(f) = &self.finetune {
            if self.command.is_some() || self.args.is_some() {
                return Err(invalid(
                    "finetune",
                    "a `finetune` job has no `command` or `args`: podwarden writes its start script".into(),
                    Some("remove `command`/`args`, or remove [finetune] to run your own command"),
                ));
            }
            if let Some((field, message, hint)) = f.problem() {
                return Err(invalid(field, message, Some(hint)));
            }
            // The adapter must outlive the pod: on the network volume, or pushed to the Hub.
            let on_volume = f
                .output_dir
                .strip_prefix(NETWORK_VOLUME_MOUNT)
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1);
            match (&self.network_volume, &f.push_to_hub) {
                (None, None) => {
                    return Err(invalid(
                        "finetune",
                        "the adapter would be lost: a pod's own disk is destroyed at teardown, and the job has no network volume and no push_to_hub".into(),
                        Some("set network_volume = \"NAME\" (podwarden volume create NAME) to keep it there, or finetune.push_to_hub = \"owner/repo\""),
                    ));
                }
                (Some(_), _) if !on_volume => {
                    return Err(invalid(
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
        Ok(())
    }

    /// One command: `command` or `args`, not empty.
    fn check_command(&self) -> Result<(), Box<SpecError>> {
        match (&self.command, &self.args) {
            _ if self.finetune.is_some() => {}
            // A dev pod: nothing to run, a shell over SSH.
            (None, None) if self.ssh.is_some() => {}
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "args",
                    "`command` and `args` are mutually exclusive".into(),
                    Some("keep one: `command` is run with sh -c, `args` is an argument vector"),
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "command",
                    "missing: the pod needs something to run".into(),
                    Some("add command = \"python train.py\""),
                ));
            }
            (Some(c), None) if c.trim().is_empty() => {
                return Err(invalid("command", "must not be empty".into(), None));
            }
            (None, Some(a)) if a.is_empty() => {
                return Err(invalid("args", "must not be empty".into(), None));
            }
            _ => {}
        }
        Ok(())
    }

    /// A GPU selection: types or memory, a count, a price ceiling.
    fn check_gpu(&self) -> Result<(), Box<SpecError>> {
        if self.gpu.types.is_empty() && self.gpu.min_vram_gb.is_none() {
            return Err(invalid(
                "gpu",
                "say which GPUs fit: `types` or `min_vram_gb`".into(),
                Some(
                    "add [gpu] with min_vram_gb = 24, or types = [\"NVIDIA GeForce RTX 4090\"]; `podwarden gpus` lists what is offered",
                ),
            ));
        }
        if let Some(v) = self.gpu.min_vram_gb {
            if v <= 0 {
                return Err(invalid("gpu.min_vram_gb", format!("must be positive, got {v}"), None));
            }
        }
        if let Some(c) = self.gpu.count {
            if !(1..=8).contains(&c) {
                return Err(invalid(
                    "gpu.count",
                    format!("must be between 1 and 8, got {c}"),
                    None,
                ));
            }
        }
        if let Some(p) = self.gpu.max_price_per_hour {
            if !(p.is_finite() && p > 0.0 && p <= crate::limits::PRICE_PER_HOUR) {
                return Err(invalid(
                    "gpu.max_price_per_hour",
                    format!(
                        "must be a price between 0 and {} USD, got {p}",
                        crate::limits::PRICE_PER_HOUR
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }

    /// Budget, durations and retries, and every field within `crate::limits`.
    fn check_limits(&self) -> Result<(), Box<SpecError>> {
        if let Some(b) = self.limits.budget_usd {
            crate::limits::usd("limits.budget_usd", b)
                .map_err(|(f, m)| invalid(&f, m, Some("e.g. budget_usd = 5.0")))?;
        }
        let w = self.limits.wait_usd_per_hour;
        if !(w.is_finite() && (0.0..=crate::limits::USD).contains(&w)) {
            return Err(invalid(
                "limits.wait_usd_per_hour",
                format!("must be an amount between 0 and {} USD, got {w}", crate::limits::USD),
                Some("e.g. wait_usd_per_hour = 1.0 (0: the cheapest offer to finish on)"),
            ));
        }
        self.check_sizes()
            .map_err(|(f, m)| invalid(&f, m, Some("see docs/job-spec.md#limits-of-fields")))?;
        if self.limits.max_runtime.is_some_and(|d| d.is_zero()) {
            return Err(invalid(
                "limits.max_runtime",
                "must be longer than zero".into(),
                Some("e.g. max_runtime = \"2h\""),
            ));
        }
        if self.limits.boot_timeout.is_zero() {
            return Err(invalid(
                "limits.boot_timeout",
                "must be longer than zero".into(),
                Some("the default is \"10m\""),
            ));
        }
        if let Some((field, message)) =
            self.early_stop.as_ref().and_then(crate::metrics::EarlyStop::problem)
        {
            return Err(invalid(
                field,
                message,
                Some("e.g. [early_stop] metric = \"loss\", factor = 3.0, patience = 3"),
            ));
        }
        if self.retry.attempts == 0 {
            return Err(invalid("retry.attempts", "must be at least 1".into(), None));
        }
        Ok(())
    }

    /// Disks and volumes: sizes RunPod takes, and one kind of volume per pod.
    fn check_storage(&self) -> Result<(), Box<SpecError>> {
        if self.disk_gb < 1 {
            return Err(invalid(
                "disk_gb",
                format!("must be at least 1 GB, got {}", self.disk_gb),
                None,
            ));
        }
        if self.volume_gb != 0 && self.volume_gb < 10 {
            return Err(invalid(
                "volume_gb",
                format!("RunPod volumes are at least 10 GB, got {}", self.volume_gb),
                Some("use 0 for no volume, or 10 or more"),
            ));
        }
        if self.volume_gb > 0 && self.network_volume.is_some() {
            return Err(invalid(
                "network_volume",
                "a pod has either a pod volume (`volume_gb`) or a network volume".into(),
                None,
            ));
        }
        if self.network_volume.is_some() && self.cloud == CloudChoice::Community {
            return Err(invalid(
                "cloud",
                "network volumes are Secure Cloud only on RunPod; a Community pod cannot mount one"
                    .into(),
                Some("drop `cloud` (or set cloud = \"secure\"), or run without the network volume"),
            ));
        }
        // On AWS they move through S3 instead (`check_inputs_and_outputs`).
        if (!self.inputs.is_empty() || !self.outputs.is_empty())
            && self.network_volume.is_none()
            && !self.on_aws()
        {
            return Err(invalid(
                if self.inputs.is_empty() { "outputs" } else { "inputs" },
                "inputs and outputs live on a network volume, and the job has none (a pod's own disk is destroyed at teardown)".into(),
                Some("create one with `podwarden volume create NAME --data-center DC` and set network_volume = \"NAME\""),
            ));
        }
        Ok(())
    }

    fn on_aws(&self) -> bool {
        self.provider == Some(crate::ProviderKind::Aws)
    }

    /// Inputs and outputs: paths on the volume (on AWS, under the instance's `/workspace`),
    /// sources a pod may fetch; on AWS, `s3://` sources and destinations, which the instance
    /// itself reads and writes.
    fn check_inputs_and_outputs(&self) -> Result<(), Box<SpecError>> {
        let aws = self.on_aws();
        for (i, x) in self.inputs.iter().enumerate() {
            check_volume_path(&x.path)
                .map_err(|m| invalid(&format!("inputs[{i}].path"), m, None))?;
            if x.source.trim().is_empty() {
                return Err(invalid(
                    &format!("inputs[{i}].source"),
                    "must not be empty".into(),
                    Some("a local file or an https:// URL"),
                ));
            }
            if let Some(s3) = x.source.strip_prefix("s3://") {
                if !aws {
                    return Err(invalid(
                        &format!("inputs[{i}].source"),
                        "an s3:// source is fetched only by AWS jobs (their instance's role reads it)".into(),
                        Some("on RunPod, a local file (uploaded by `podwarden run`) or an https:// URL; or set provider = \"aws\""),
                    ));
                }
                check_s3_url(s3, false)
                    .map_err(|m| invalid(&format!("inputs[{i}].source"), m, None))?;
                continue;
            }
            if aws && !x.is_url() {
                return Err(invalid(
                    &format!("inputs[{i}].source"),
                    format!(
                        "{} is a local file; an AWS job's inputs come from S3 or a URL",
                        crate::limits::shown(&x.source)
                    ),
                    Some(
                        "upload it first (`podwarden cp FILE s3://BUCKET/KEY`) and name that s3:// URL",
                    ),
                ));
            }
            if let Some((scheme, rest)) = x.source.split_once("://") {
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                let loopback = ["localhost", "127.0.0.1", "[::1]"].iter().any(|l| {
                    host == *l || host.strip_prefix(l).is_some_and(|p| p.starts_with(':'))
                });
                if !(scheme == "https" || scheme == "http" && loopback) {
                    return Err(invalid(
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
                return Err(invalid(
                    &format!("inputs[{i}].source"),
                    "a URL may not contain quotes or whitespace".into(),
                    None,
                ));
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            check_volume_path(&o.path)
                .map_err(|m| invalid(&format!("outputs[{i}].path"), m, None))?;
            match (aws, o.to.as_deref().map(|t| t.strip_prefix("s3://"))) {
                (true, Some(Some(s3))) => check_s3_url(s3, true)
                    .map_err(|m| invalid(&format!("outputs[{i}].to"), m, None))?,
                // The instance's disk goes with it: an output not sent to S3 would be lost.
                (true, _) => {
                    return Err(invalid(
                        &format!("outputs[{i}].to"),
                        "an AWS job's output must go to S3: the instance's disk is deleted with it"
                            .into(),
                        Some(
                            "to = \"s3://BUCKET/PREFIX/\" (the instance uploads it there; `podwarden cp` fetches it)",
                        ),
                    ));
                }
                (false, Some(Some(_))) => {
                    return Err(invalid(
                        &format!("outputs[{i}].to"),
                        "an s3:// destination is for AWS jobs; on RunPod `to` is a local directory `run --follow` downloads into".into(),
                        Some("to = \"results/\", or set provider = \"aws\""),
                    ));
                }
                (false, _) => {}
            }
        }
        Ok(())
    }

    /// Ports as `<port>/http` or `<port>/tcp`.
    fn check_ports(&self) -> Result<(), Box<SpecError>> {
        for (i, p) in self.ports.iter().enumerate() {
            let ok = p.split_once('/').is_some_and(|(n, proto)| {
                n.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "http" | "tcp")
            });
            if !ok {
                return Err(invalid(
                    &format!("ports[{i}]"),
                    format!("{} is not `<port>/http` or `<port>/tcp`", crate::limits::shown(p)),
                    Some("e.g. ports = [\"8888/http\", \"22/tcp\"]"),
                ));
            }
        }
        Ok(())
    }
}

/// `BUCKET/KEY` of an `s3://` URL: a bucket name as S3 names them, a key (for a destination,
/// a prefix ending in `/` or a key), no quotes, whitespace or `..`.
fn check_s3_url(rest: &str, destination: bool) -> Result<(), String> {
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !bucket_ok {
        return Err(format!(
            "{bucket:?} is not an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)"
        ));
    }
    if key.is_empty() && !destination {
        return Err("name the object: s3://BUCKET/KEY".into());
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\'' || c == '"')
        || key.split('/').any(|p| p == "..")
    {
        return Err("an S3 key may not contain quotes, whitespace or `..`".into());
    }
    Ok(())
}

/// A problem with `field` (located by the parser afterwards).
fn invalid(field: &str, message: String, hint: Option<&str>) -> Box<SpecError> {
    Box::new(SpecError {
        file: String::new(),
        line: None,
        column: None,
        field: Some(field.to_owned()),
        message,
        hint: hint.map(str::to_owned),
    })
}
