//! SSH into a job's pod on the embedded emulator, with OpenSSH's own client: a dev pod
//! (`ssh = true`, no command) takes the user's `~/.ssh/id_ed25519.pub`, `podwarden ssh` waits
//! for it to boot and logs in through the pod's mapped `22/tcp`, and the command runs in the
//! pod (its hostname, its volume), not on this machine.

use crate::common::{Server, podwarden, podwarden_env};
use podwarden_test_utils::ssh_keygen as keygen;
use std::path::Path;

#[test]
fn a_dev_pod_takes_the_users_key_and_podwarden_ssh_runs_a_command_in_it() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    // The user's own key pair, where `ssh = true` looks for it.
    let user = home.path().join("user");
    std::fs::create_dir_all(user.join(".ssh")).expect("mkdir");
    keygen(&user.join(".ssh/id_ed25519"));
    let other = home.path().join("other_key");
    keygen(&other);
    let spec = home.path().join("dev.toml");
    std::fs::write(
        &spec,
        "name = \"dev\"\nimage = \"runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04\"\nssh = true\nvolume_gb = 10\n[gpu]\nmin_vram_gb = 16\n",
    )
    .expect("write");
    let user_home = user.to_str().expect("utf8");
    let out = podwarden_env(
        home.path(),
        &["run", spec.to_str().expect("utf8"), "--json", "--yes"],
        &[("HOME", user_home)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = job["id"].as_str().expect("id").to_owned();
    assert_eq!(job["kind"], "dev", "{job}");

    let known = home.path().join("known_hosts");
    let key = user.join(".ssh/id_ed25519");
    let ssh = |key: &Path, command: &str| {
        podwarden(
            home.path(),
            &[
                "ssh",
                &id,
                "--wait",
                "90s",
                "-i",
                key.to_str().expect("utf8"),
                "-o",
                &format!("UserKnownHostsFile={}", known.display()),
                "-o",
                "BatchMode=yes",
                "--",
                command,
            ],
        )
    };
    // `podwarden ssh` waits for the boot, then the command runs in the pod.
    let out = ssh(
        &key,
        "echo \"on $(hostname) as $(id -u)\"; ls -d /workspace; cat ~/.ssh/authorized_keys",
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let logs = podwarden(home.path(), &["logs", &id]);
        panic!(
            "{text}\n{}\npod logs:\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&logs.stdout)
        );
    }
    let detail = podwarden(home.path(), &["ps", &id, "--json"]);
    let detail: serde_json::Value = serde_json::from_slice(&detail.stdout).expect("ps json");
    let pod = detail["attempts"][0]["pod_id"].as_str().expect("pod id").to_owned();
    assert!(text.contains(&format!("on {pod} as 0")), "the pod's own hostname, as root: {text}");
    assert!(text.contains("/workspace"), "{text}");
    let public = std::fs::read_to_string(user.join(".ssh/id_ed25519.pub")).expect("pub");
    assert_eq!(text.lines().last().map(str::trim), Some(public.trim()), "only the user's key");
    // A key the job did not list is refused.
    let refused = ssh(&other, "echo in");
    assert!(!refused.status.success() && refused.stdout.is_empty(), "{refused:?}");

    // --print: the same ssh, for a script or another client.
    let printed = podwarden(home.path(), &["ssh", &id, "--print"]);
    let line = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(
        line.starts_with("ssh -p ")
            && line.contains("-o StrictHostKeyChecking=accept-new")
            && line.trim_end().ends_with("root@127.0.0.1"),
        "{line}"
    );
    let ps = podwarden(home.path(), &["ps"]);
    assert!(String::from_utf8_lossy(&ps.stdout).contains("dev (dev pod)"), "{ps:?}");

    // A dev pod is up until stopped; then there is nothing to log in to.
    let stop = podwarden(home.path(), &["stop", &id]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    let gone = podwarden(home.path(), &["ssh", &id, "--print"]);
    assert!(!gone.status.success(), "{gone:?}");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("has ended"), "{gone:?}");
}

#[test]
fn ssh_true_without_a_key_says_where_it_looked() {
    let home = tempfile::tempdir().expect("home");
    let spec = home.path().join("dev.toml");
    std::fs::write(
        &spec,
        "name = \"dev\"\nimage = \"runpod/pytorch:2.4.0\"\nssh = true\n[gpu]\nmin_vram_gb = 16\n",
    )
    .expect("write");
    let empty = home.path().join("nokeys");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = podwarden_env(
        home.path(),
        &["run", spec.to_str().expect("utf8"), "--yes"],
        &[("HOME", empty.to_str().expect("utf8"))],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("id_ed25519.pub") && err.contains("ssh-keygen"), "{err}");
}
