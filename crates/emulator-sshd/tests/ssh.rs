//! The daemon against OpenSSH's own client: key login as root, exec with the exit status,
//! stdin and stderr, a pty when asked, and refusals (a key not authorized, another user).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Daemon {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (Debian: openssh-client)");
    assert!(ok.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
}

/// A daemon in the foreground whose authorized keys are `user.pub`'s.
fn daemon() -> Daemon {
    let dir = tempfile::tempdir().expect("tmp");
    keygen(&dir.path().join("user"));
    keygen(&dir.path().join("other"));
    keygen(&dir.path().join("host"));
    std::fs::copy(dir.path().join("user.pub"), dir.path().join("authorized_keys")).expect("copy");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwarden-emulator-sshd"))
        .args(["-D", "-e", "-p", &port.to_string(), "-h"])
        .arg(dir.path().join("host"))
        .arg("-o")
        .arg(format!("AuthorizedKeysFile={}", dir.path().join("authorized_keys").display()))
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon");
    // It says when it listens (sshd's own line).
    let mut line = String::new();
    let stderr = child.stderr.take().expect("stderr");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line).expect("line");
    assert!(line.contains("Server listening"), "{line}");
    Daemon { child, port, dir }
}

impl Daemon {
    fn ssh(&self, key: &str, user: &str, extra: &[&str], command: &str, stdin: &str) -> Output {
        let key: PathBuf = self.dir.path().join(key);
        let mut c = Command::new("ssh");
        c.args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", self.dir.path().join("known_hosts").display()))
        .arg("-i")
        .arg(key)
        .args(["-p", &self.port.to_string()])
        .args(extra)
        .arg(format!("{user}@127.0.0.1"))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("ssh (Debian: openssh-client)");
        use std::io::Write as _;
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
        child.wait_with_output().expect("ssh output")
    }
}

#[test]
fn root_logs_in_with_an_authorized_key_and_runs_a_command() {
    let d = daemon();
    let out = d.ssh(
        "user",
        "root",
        &[],
        "read x; echo \"got $x as $USER\"; echo oops >&2; exit 3",
        "hello\n",
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello as root\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"), "{out:?}");
    // The host key was the one given: the client recorded it.
    let known = std::fs::read_to_string(d.dir.path().join("known_hosts")).expect("known_hosts");
    let host = std::fs::read_to_string(d.dir.path().join("host.pub")).expect("host.pub");
    let host_key = host.split_whitespace().nth(1).expect("key");
    assert!(known.contains(host_key), "{known}");
}

#[test]
fn a_pty_is_given_when_asked() {
    let d = daemon();
    let out = d.ssh("user", "root", &["-tt"], "tty; echo \"TERM=$TERM\"", "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("TERM="), "{text}");
    let out = d.ssh("user", "root", &["-T"], "tty", "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a tty"), "{out:?}");
}

#[test]
fn other_keys_and_other_users_are_refused() {
    let d = daemon();
    let out = d.ssh("other", "root", &[], "echo in", "");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");
    let out = d.ssh("user", "nobody", &[], "echo in", "");
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(out.stdout.is_empty());
    // The file is read at each login: a key appended later is let in.
    let other = std::fs::read_to_string(d.dir.path().join("other.pub")).expect("other.pub");
    let keys = d.dir.path().join("authorized_keys");
    let mut all = std::fs::read_to_string(&keys).expect("keys");
    all.push_str(&other);
    std::fs::write(&keys, all).expect("append");
    let out = d.ssh("other", "root", &[], "echo in", "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in\n", "{out:?}");
}
