//! What a pod's host says of its boot, read from its system log lines: the failures that are
//! certain (an image that cannot be pulled, a container that cannot start), so the attempt
//! ends at once instead of at the boot timeout while it bills.

/// Whether a pod's *system* log line says its image cannot be pulled and never will be (Docker's
/// pull errors: no such image or tag, a private image without working credentials). A rate limit
/// or a network error is not: RunPod retries those, and the boot timeout still applies.
pub fn image_pull_failure(source: &str, line: &str) -> bool {
    if source != "system" {
        // A job may print anything; only the host's own lines are trusted.
        return false;
    }
    let l = line.to_ascii_lowercase();
    let pulling = l.contains("pull") || l.contains("manifest");
    pulling
        && [
            "manifest unknown",
            "not found: manifest",
            "repository does not exist",
            "pull access denied",
            "authentication required",
            "unauthorized",
            "denied: requested access",
        ]
        .iter()
        .any(|m| l.contains(m))
}

/// Whether a pod's *system* log line says its container cannot start and never will with this
/// image, whatever the host: the runtime cannot exec the first program (runc's "executable file
/// not found", "no such file or directory", "exec format error": an image without `sh`, a
/// distroless one, one built for another CPU). RunPod restarts such a container on and on.
pub fn container_start_failure(source: &str, line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    source == "system"
        && (l.contains("oci runtime create failed")
            || l.contains("unable to start container process"))
        && ["executable file not found", "no such file or directory", "exec format error"]
            .iter()
            .any(|m| l.contains(m))
}

/// What a pod's log line says of its boot when the failure is certain: the reason the attempt
/// ends with (the job is given up: another pod of the same image fails the same way).
pub fn boot_failure(source: &str, line: &str) -> Option<String> {
    let line: String = line.chars().take(300).collect();
    if image_pull_failure(source, &line) {
        Some(format!(
            "the pod's image cannot be pulled ({line}); fix `image`, or `registry_auth` for a private one"
        ))
    } else if container_start_failure(source, &line) {
        Some(format!(
            "the pod's container cannot start ({line}); podwarden starts jobs with `sh` and needs an image that has it (and base64 or python3), built for linux/amd64"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod pull_tests {
    use super::image_pull_failure;

    #[test]
    fn permanent_pull_errors_are_told_from_transient_ones_and_from_job_output() {
        for line in [
            "error pulling image \"acme/x:1\": manifest unknown",
            "Error response from daemon: manifest for acme/x:1 not found: manifest unknown: manifest unknown",
            "Error response from daemon: pull access denied for acme/x, repository does not exist or may require 'docker login'",
            "error pulling image \"ghcr.io/a/b:1\": unauthorized: authentication required",
        ] {
            assert!(image_pull_failure("system", line), "{line}");
        }
        for line in [
            "error pulling image \"x\": toomanyrequests: You have reached your pull rate limit",
            "error pulling image \"x\": net/http: TLS handshake timeout",
            "pulling image x: 45% done",
        ] {
            assert!(!image_pull_failure("system", line), "{line}");
        }
        assert!(!image_pull_failure("container", "error pulling image: manifest unknown"));
    }

    #[test]
    fn a_container_that_cannot_start_is_told_from_one_that_ran() {
        use super::{boot_failure, container_start_failure};
        for line in [
            "OCI runtime create failed: runc create failed: unable to start container process: exec: \"sh\": executable file not found in $PATH: unknown",
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/start.sh\": stat /start.sh: no such file or directory: unknown",
            "Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: unable to start container process: exec format error",
        ] {
            assert!(container_start_failure("system", line), "{line}");
            let why = boot_failure("system", line).expect("a reason");
            assert!(why.starts_with("the pod's container cannot start (") && why.contains("`sh`"));
        }
        // The job's own output proves nothing; a file the job could not find is its own matter.
        assert!(!container_start_failure(
            "container",
            "OCI runtime create failed: exec format error"
        ));
        assert!(!container_start_failure("system", "cat: x: No such file or directory"));
        assert!(boot_failure("system", "pulling image python:3.11-slim").is_none());
        assert!(
            boot_failure("system", "error pulling image \"x\": manifest unknown")
                .is_some_and(|w| w.contains("cannot be pulled"))
        );
    }
}
