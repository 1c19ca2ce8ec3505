//! The script an EC2 instance runs at first boot (its user data): the job's container, started
//! the way RunPod starts a pod's — the image's entrypoint with the pod's `args` — so the same
//! wrapper (`crate::wrapper`) reports the exit, and a ceiling that ends the instance even when
//! no control plane is left to do it.
//!
//! - The ceiling is the host's own `shutdown -h +<minutes>`: the instance is launched with
//!   `InstanceInitiatedShutdownBehavior=terminate`, so powering off terminates it and its
//!   billing. (RunPod's in-pod watchdog calls RunPod's REST API; on EC2 the host can simply
//!   power off, and needs no credential to do it.)
//! - The container runs with `docker run --gpus all --network host`: the AMI (a Deep Learning
//!   AMI by default) has Docker and NVIDIA's runtime; host networking lets the wrapper reach the
//!   callback URL as a RunPod pod does.
//! - Output goes where cloud-init sends a user-data script's (its log and the serial console),
//!   which podwarden reads with `GetConsoleOutput` for the job's log and its exit line: the
//!   control plane needs no inbound route to the instance (a laptop behind NAT works).
//!
//! Everything from the request is data: the image and every env value are single-quoted
//! words, env names are checked to be names, and the start command is the wrapper's one-line
//! `sh -c '…'` (base64 inside), which splits into the same words under any shell.

use crate::provider::{PodRequest, ProviderError};
use crate::wrapper::sq;

/// What the script needs beyond the pod request.
#[derive(Debug, Clone, PartialEq)]
pub struct Boot<'a> {
    pub req: &'a PodRequest,
    /// Power off after this long (the job's ceiling); `None`: no ceiling.
    pub ceiling_secs: Option<u64>,
}

/// The user data for `b`, or why the request cannot become one.
pub fn script(b: &Boot<'_>) -> Result<String, ProviderError> {
    let req = b.req;
    if req.image.trim().is_empty() || req.image.starts_with('-') {
        return Err(ProviderError::Rejected(format!(
            "{:?} is not a container image name",
            req.image
        )));
    }
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# podwarden pod {}: the job's container, its output on the serial console.\n",
        sq(&req.name)
    ));
    if let Some(secs) = b.ceiling_secs {
        // Whole minutes, rounded up: `shutdown` schedules in minutes.
        let minutes = secs.div_ceil(60).max(1);
        s.push_str(&format!(
            "shutdown -h +{minutes} 'podwarden: the job time ceiling passed; this instance terminates'\n"
        ));
    }
    let mut pass = String::new();
    for (name, value) in &req.env {
        if !is_env_name(name) {
            return Err(ProviderError::Rejected(format!(
                "env name {name:?} is not a variable name (letters, digits, _; not starting with a digit)"
            )));
        }
        s.push_str(&format!("export {name}={}\n", sq(value)));
        pass.push_str(&format!(" -e {name}"));
    }
    s.push_str(&format!(
        "docker run --name podwarden-job --gpus all --network host{pass} {} {}\n",
        sq(&req.image),
        req.command
    ));
    s.push_str(
        "echo \"podwarden: the container ended ($?); powering off\"\nshutdown -h now 'podwarden: the container ended'\n",
    );
    Ok(s)
}

/// A POSIX shell variable name.
fn is_env_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use podwarden_core::gpu::CloudTier;

    fn req(env: &[(&str, &str)]) -> PodRequest {
        PodRequest {
            name: "pw-inst-0123".into(),
            image: "python:3.11-slim".into(),
            command: crate::wrapper::start_args("echo hi"),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ports: Vec::new(),
            gpu_type: "g5.xlarge".into(),
            gpu_count: 1,
            tier: CloudTier::Secure,
            data_centers: vec!["us-east-1a".into()],
            disk_gb: 50,
            volume_gb: 0,
            network_volume: None,
            registry_auth: None,
            ceiling_secs: None,
        }
    }

    /// Values are data: `$(…)`, backticks and quotes reach the container as written and
    /// nothing in them runs on the host. Run with a `docker` that prints its environment and
    /// a `shutdown` that records its arguments.
    #[test]
    fn values_are_data_and_the_ceiling_is_the_hosts() {
        let dir = tempfile::tempdir().expect("dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let mark = dir.path().join("pwned");
        let evil = format!("$(touch {m})`touch {m}`'\"x\ny", m = mark.display());
        let shim = |name: &str, body: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("shim");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        shim("docker", "printf 'args:%s\\n' \"$@\"; printf 'V=%s\\n' \"$V\"");
        shim("shutdown", "echo \"shutdown $*\"");
        let r = req(&[("V", &evil)]);
        let text = script(&Boot { req: &r, ceiling_secs: Some(3601) }).expect("a script");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&text)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .expect("bash");
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(!mark.exists(), "a value ran as code:\n{out}");
        assert!(out.contains(&format!("V={evil}")), "the value arrives as written:\n{out}");
        assert!(out.starts_with("shutdown -h +61 "), "the ceiling in minutes, first:\n{out}");
        assert!(out.contains("args:python:3.11-slim\nargs:sh\nargs:-c\n"), "{out}");
        assert!(out.trim_end().ends_with("shutdown -h now podwarden: the container ended"));
    }

    #[test]
    fn names_that_are_not_names_and_flag_like_images_are_refused() {
        let bad = req(&[("A;B", "x")]);
        assert!(script(&Boot { req: &bad, ceiling_secs: None }).is_err());
        let mut flag = req(&[]);
        flag.image = "--privileged".into();
        assert!(script(&Boot { req: &flag, ceiling_secs: None }).is_err());
        let ok = script(&Boot { req: &req(&[]), ceiling_secs: None }).expect("ok");
        assert!(!ok.contains("shutdown -h +"), "no ceiling asked, none set");
    }
}
