//! The script an EC2 instance runs at first boot (its user data): the job's container, started
//! the way RunPod starts a pod's — the image's entrypoint with the pod's `args` — so the same
//! wrapper (`crate::wrapper`) reports the exit, the job's data moved around it, and a ceiling
//! that ends the instance even when no control plane is left to do it.
//!
//! - The ceiling is the host's own `shutdown -h +<minutes>`: the instance is launched with
//!   `InstanceInitiatedShutdownBehavior=terminate`, so powering off terminates it and its
//!   billing. (RunPod's in-pod watchdog calls RunPod's REST API; on EC2 the host can simply
//!   power off, and needs no credential to do it.) Once the job's exit is reported, the host
//!   also powers off after its keep-alive and a grace, should nobody terminate it.
//! - The container runs with `docker run --gpus all` on Docker's bridge network: the AMI (a Deep
//!   Learning AMI by default) has Docker and NVIDIA's runtime; the wrapper reaches the callback
//!   URL through NAT as a RunPod pod does, and the instance's metadata service (its role's keys)
//!   not at all (the launch requires tokens with a hop limit of 1). `/workspace` is the job's;
//!   `/run/podwarden` (read-only inside) is the host's, where it gives the wrapper its verdict.
//! - Around the container the host moves the job's data: `s3://` inputs fetched before it,
//!   outputs uploaded after a zero exit and before the exit is reported (`PODWARDEN_HOST_DONE`).
//! - Output goes where cloud-init sends a user-data script's (its log and the serial console),
//!   which podwarden reads with `GetConsoleOutput` for the job's log and its exit line: the
//!   control plane needs no inbound route to the instance (a laptop behind NAT works).
//!
//! The job is hostile and the host is root: nothing of the job's reaches the host's shell as
//! anything but data. Its env never becomes the host's (each `NAME=value` is one single-quoted
//! word of `docker run -e`, so `PATH`, `LD_PRELOAD` or `BASH_ENV` change only the container), the
//! host's `PATH` is pinned, the image and every path and URL are single-quoted words, what the
//! container leaves in `/workspace` is read as a number only (the exit mark) and uploaded only
//! when it resolves inside `/workspace`, with the container paused meanwhile (a symlink swapped
//! in cannot send a host file), and the host never writes where the container can. The start command is the wrapper's one-line `sh -c '…'`
//! (base64 inside), which splits into the same words under any shell.

use crate::provider::{PodRequest, ProviderError};
use crate::wrapper::sq;

/// What the script needs beyond the pod request.
#[derive(Debug, Clone, PartialEq)]
pub struct Boot<'a> {
    pub req: &'a PodRequest,
    /// Power off after this long (the job's ceiling); `None`: no ceiling.
    pub ceiling_secs: Option<u64>,
}

/// How long an instance whose job has ended waits (after its keep-alive) to be terminated by
/// the control plane before it powers itself off: time for the console to be read.
pub const ENDED_GRACE_SECS: u64 = 600;

/// Where the host keeps what the container must not write.
const HOST_DIR: &str = "/run/podwarden";

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
    s.push_str("export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    if let Some(secs) = b.ceiling_secs {
        // Whole minutes, rounded up: `shutdown` schedules in minutes.
        let minutes = secs.div_ceil(60).max(1);
        s.push_str(&format!(
            "shutdown -h +{minutes} 'podwarden: the job time ceiling passed; this instance terminates'\n"
        ));
    }
    let mut env = String::new();
    for (name, value) in &req.env {
        if !is_env_name(name) {
            return Err(ProviderError::Rejected(format!(
                "env name {name:?} is not a variable name (letters, digits, _; not starting with a digit)"
            )));
        }
        env.push_str(&format!(" -e {}", sq(&format!("{name}={value}"))));
    }
    let inputs = req.host_inputs.iter().map(|(u, p)| (u, p));
    for (a, b) in inputs.chain(req.host_outputs.iter().map(|(p, u)| (u, p))) {
        // Checked at submit too (`JobSpec::validate`); here again, since the host is root.
        let path_ok = !b.starts_with('/')
            && !b.split('/').any(|p| p == "..")
            && !b.chars().any(char::is_control);
        if !a.starts_with("s3://") || !path_ok {
            return Err(ProviderError::Rejected(format!(
                "{a:?} → {b:?} is not an S3 URL and a path under /workspace"
            )));
        }
    }
    // The default bridge network, not the host's: the container reaches the callback and the
    // internet through NAT, but not the host's loopback services, and not the metadata service
    // (launched with tokens required and a hop limit of 1), so never the instance role's keys.
    let run = format!(
        "docker run --name podwarden-job --gpus all --cap-drop MKNOD --cap-drop NET_RAW -v /workspace:/workspace -v {HOST_DIR}:{HOST_DIR}:ro{env}"
    );
    let image_and_args = format!("{} {}", sq(&req.image), req.command);
    s.push_str(&format!("mkdir -p /workspace {HOST_DIR}\n"));
    // Wrapped when the control plane gave a job id (its own, over any of the spec's).
    match req.env.get("PODWARDEN_JOB_ID").filter(|j| j.parse::<podwarden_core::JobId>().is_ok()) {
        // No wrapper (a server without callbacks): the command alone, no data around it.
        None => {
            if !req.host_inputs.is_empty() || !req.host_outputs.is_empty() {
                return Err(ProviderError::Rejected(
                    "inputs and outputs on AWS need the job wrapper, which runs only with a callback URL".into(),
                ));
            }
            s.push_str(&format!(
                "{run} {image_and_args}\necho \"podwarden: the container ended ($?); powering off\"\n"
            ));
        }
        Some(job) => s.push_str(&host_data(req, job, &run, &image_and_args)),
    }
    s.push_str("shutdown -h now 'podwarden: the container ended'\n");
    Ok(s)
}

/// The wrapper's container between the host's data work: inputs fetched from S3 before it
/// (a failure tells the wrapper, which then runs nothing and exits 1), outputs uploaded after
/// a zero exit and before the exit is reported (the wrapper waits for the host's verdict in
/// `PODWARDEN_HOST_DONE`; a failed upload makes it `OUTPUTS_MISSING_CODE`). Without inputs or
/// outputs the same protocol runs with nothing to move.
fn host_data(req: &PodRequest, job: &str, run: &str, image_and_args: &str) -> String {
    let state = "/workspace/.podwarden";
    let mut s = format!("pw_job={}\nmkdir -p {state}\npw_fetch_failed=0\n", sq(job));
    for (url, path) in &req.host_inputs {
        let dest = sq(&format!("/workspace/{path}"));
        s.push_str(&format!(
            "mkdir -p \"$(dirname {dest})\"; aws s3 cp --only-show-errors {} {dest} || {{ echo 'podwarden: could not fetch input '{} >&2; pw_fetch_failed=1; }}\n",
            sq(url),
            sq(path)
        ));
    }
    s.push_str(&format!(
        "{run} -e PODWARDEN_STATE_DIR={state} -e PODWARDEN_HOST_DONE={HOST_DIR}/host-done -e \"PODWARDEN_FETCH_FAILED=$pw_fetch_failed\" {image_and_args} &\n"
    ));
    // The mark is the container's file: a regular file (not a FIFO that would hang the host),
    // read as a number or not at all.
    s.push_str(&format!(
        r#"pw_container=$!
pw_mark="{state}/$pw_job.exit"
pw_done() {{ [ -f "$pw_mark" ] && [ ! -L "$pw_mark" ]; }}
while ! pw_done && kill -0 "$pw_container" 2>/dev/null; do sleep 1; done
if pw_done; then
  # Frozen while the host reads what it left and uploads: no file can be swapped for a link
  # between the host's check and its read.
  docker pause podwarden-job >/dev/null
  pw_code=$(timeout 5 head -c 16 "$pw_mark" | tr -d '[:space:]')
  case "$pw_code" in ''|*[!0-9]*) pw_code=1 ;; esac
"#
    ));
    if !req.host_outputs.is_empty() {
        s.push_str(
            r#"  pw_up() {
    pw_real=$(realpath -e -- "$1" 2>/dev/null) || return 1
    case "$pw_real" in /workspace/*) aws s3 cp --only-show-errors "$pw_real" "$2" ;; *) echo "podwarden: output $3 resolves outside /workspace; not uploaded" >&2; return 1 ;; esac
  }
  if [ "$pw_code" = 0 ]; then
"#,
        );
        for (path, url) in &req.host_outputs {
            s.push_str(&format!(
                "    pw_up {} {} {} || {{ echo 'podwarden: could not upload output '{}' to '{} >&2; pw_code={}; }}\n",
                sq(&format!("/workspace/{path}")),
                sq(url),
                sq(path),
                sq(path),
                sq(url),
                crate::wrapper::OUTPUTS_MISSING_CODE
            ));
        }
        s.push_str("  fi\n");
    }
    s.push_str(&format!(
        "  echo \"$pw_code\" > {HOST_DIR}/host-done\n  docker unpause podwarden-job >/dev/null\n  ( sleep {}; shutdown -h now 'podwarden: the job ended and nothing terminated this instance' ) &\n  wait \"$pw_container\"\n",
        req.keep_alive_secs + ENDED_GRACE_SECS
    ));
    s.push_str(&format!("else\n{CONTAINER_DIED}fi\n"));
    s
}

/// The container ended before the wrapper wrote its exit (the image could not be pulled, it has
/// no `sh`, it was killed): its status is the job's exit, said on the console where the control
/// plane reads it; the instance then waits a while to be terminated and powers itself off.
const CONTAINER_DIED: &str = r#"  wait "$pw_container"; pw_code=$?
  echo "podwarden: the container ended ($pw_code) before the job's command reported an exit" >&2
  echo "podwarden-exit: job=$pw_job code=$pw_code"
  sleep 600
"#;

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
            keep_alive_secs: 0,
            host_inputs: Vec::new(),
            host_outputs: Vec::new(),
            global_networking: false,
        }
    }

    /// The host's pinned `PATH`, which the tests replace with their stand-ins' directory.
    const PINNED: &str = "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// Values are data and the job's env never becomes the host's: `$(…)`, backticks and quotes
    /// reach the container as written, nothing in them runs on the host, and a job's `PATH` or
    /// `LD_PRELOAD` changes only the container (the review of the AWS provider found the host
    /// exporting them). Run with stand-ins that print what they were given.
    #[test]
    fn values_are_data_and_the_jobs_env_is_not_the_hosts() {
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
        shim("docker", "printf 'args:%s\\n' \"$@\"");
        shim("shutdown", "echo \"shutdown $* (host PATH=$PATH LD_PRELOAD=$LD_PRELOAD)\"");
        // Nothing of this machine's is touched (the script makes /workspace on an instance).
        shim("mkdir", "echo \"mkdir $*\"");
        let r = req(&[("V", &evil), ("PATH", "/evil"), ("LD_PRELOAD", "/evil.so")]);
        let text = script(&Boot { req: &r, ceiling_secs: Some(3601) }).expect("a script");
        assert!(text.contains(PINNED), "{text}");
        let text = text.replace(PINNED, &format!("export PATH={}:/usr/bin:/bin", bin.display()));
        let out = std::process::Command::new("bash").arg("-c").arg(&text).output().expect("bash");
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(!mark.exists(), "a value ran as code:\n{out}");
        assert!(out.contains(&format!("args:V={evil}\n")), "the value arrives as written:\n{out}");
        assert!(out.contains("args:PATH=/evil\n"), "the container gets it:\n{out}");
        assert!(!out.contains("host PATH=/evil") && !out.contains("LD_PRELOAD=/evil.so)"), "{out}");
        assert!(out.starts_with("shutdown -h +61 "), "the ceiling in minutes, first:\n{out}");
        assert!(out.contains("args:/workspace:/workspace\n"), "{out}");
        assert!(out.contains("args:/run/podwarden:/run/podwarden:ro\n"), "{out}");
        assert!(!out.contains("args:host\n"), "not the host's network:\n{out}");
        assert!(out.contains("args:python:3.11-slim\nargs:sh\nargs:-c\n"), "{out}");
        assert!(out.contains("shutdown -h now podwarden: the container ended"), "{out}");
    }

    #[test]
    fn paths_leaving_workspace_are_refused_again_here() {
        let mut r = req(&[]);
        r.host_inputs = vec![("s3://b/k".into(), "../etc/cron.d/x".into())];
        assert!(script(&Boot { req: &r, ceiling_secs: None }).is_err());
        r.host_inputs = vec![("https://x/k".into(), "in/k".into())];
        assert!(script(&Boot { req: &r, ceiling_secs: None }).is_err());
        r.host_inputs = Vec::new();
        r.host_outputs = vec![("/etc/shadow".into(), "s3://b/out/".into())];
        assert!(script(&Boot { req: &r, ceiling_secs: None }).is_err());
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
