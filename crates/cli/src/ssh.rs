//! `podwarden ssh JOB`: waits until the job's pod has booted and its `22/tcp` is mapped, then
//! runs the system's `ssh` there (or prints the command). And the keys a spec's `ssh = true`
//! sends: the user's default public key, as the multi-cloud seed takes it.

use crate::UserError;
use crate::local::Api;
use anyhow::anyhow;
use podwarden_api::types::{ErrorCode, SshInfo};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `podwarden ssh`.
#[derive(Debug, clap::Args)]
pub struct SshArgs {
    /// The job (submitted with `ssh`).
    job: String,
    /// Which pod of a multi-node job (0 is the first).
    #[arg(long, default_value_t = 0)]
    node: u32,
    /// Print the ssh command instead of running it.
    #[arg(long)]
    print: bool,
    /// Print where to connect (host, port, user, command) as JSON instead of connecting.
    #[arg(long)]
    json: bool,
    /// The private key to log in with (ssh's `-i`); default: ssh's own choice.
    #[arg(long, short = 'i')]
    identity: Option<PathBuf>,
    /// More ssh options (`-o Name=value`), repeatable.
    #[arg(long = "option", short = 'o')]
    options: Vec<String>,
    /// How long to wait for the pod to boot.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    wait: Duration,
    /// A command to run on the pod instead of a shell (after `--`).
    #[arg(last = true)]
    command: Vec<String>,
}

/// How often a booting pod is asked about.
const POLL: Duration = Duration::from_secs(2);

pub async fn ssh(a: SshArgs) -> Result<(), UserError> {
    let api = Api::connect().await?;
    let started = Instant::now();
    let mut said = String::new();
    let info: SshInfo = loop {
        let why = match api.client().job_ssh(&a.job, a.node).await {
            // Mapped is not listening: the pod's sshd starts after its port is published.
            Ok(info) if a.print || a.json || sshd_answers(&info.host, info.port).await => {
                break info;
            }
            Ok(_) => "its sshd does not answer yet".to_owned(),
            Err(e) if e.code() == Some(ErrorCode::NotReady) => e.to_string(),
            Err(e) => return Err(crate::local::user_error(e)),
        };
        if started.elapsed() >= a.wait {
            return Err(UserError {
                error: anyhow!("gave up after {}: {why}", humantime::format_duration(a.wait)),
                hint: Some(format!("see the pod's log: podwarden logs {}", a.job)),
            });
        }
        if why != said {
            note!("waiting: {why}");
            said = why;
        }
        tokio::time::sleep(POLL).await;
    };
    if a.json {
        out!("{}", serde_json::to_string_pretty(&info).unwrap_or_default());
        return Ok(());
    }
    let argv = ssh_argv(&info, &a);
    if a.print {
        out!(
            "{}",
            argv.iter().map(|w| podwarden_core::spec::shell_quote(w)).collect::<Vec<_>>().join(" ")
        );
        return Ok(());
    }
    exec(&argv)
}

/// Whether an SSH server answers at `host:port`: its version line (`SSH-2.0-…`) arrives.
async fn sshd_answers(host: &str, port: u16) -> bool {
    use tokio::io::AsyncReadExt as _;
    let probe = async {
        let mut s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let mut banner = [0u8; 4];
        s.read_exact(&mut banner).await.ok()?;
        Some(&banner == b"SSH-")
    };
    tokio::time::timeout(Duration::from_secs(10), probe).await.ok().flatten().unwrap_or(false)
}

/// `ssh -p PORT -o StrictHostKeyChecking=accept-new [-i KEY] [-o …] root@HOST [-- CMD…]`.
fn ssh_argv(info: &SshInfo, a: &SshArgs) -> Vec<String> {
    let mut argv = vec!["ssh".to_owned(), "-p".into(), info.port.to_string()];
    // Every pod has a host key of its own, and a public ip:port is reused by later pods: the
    // key is remembered under the pod's id, so a new pod is accepted once and a changed key
    // for the same pod still refused.
    argv.extend(["-o".into(), "StrictHostKeyChecking=accept-new".into()]);
    argv.extend(["-o".into(), format!("HostKeyAlias=podwarden-{}", info.pod_id)]);
    if let Some(i) = &a.identity {
        argv.extend(["-i".into(), i.display().to_string()]);
    }
    for o in &a.options {
        argv.extend(["-o".into(), o.clone()]);
    }
    argv.push(format!("{}@{}", info.user, info.host));
    if !a.command.is_empty() {
        argv.push("--".into());
        argv.extend(a.command.iter().cloned());
    }
    argv
}

#[cfg(unix)]
fn exec(argv: &[String]) -> Result<(), UserError> {
    use std::os::unix::process::CommandExt as _;
    let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    Err(UserError {
        error: anyhow!("cannot run ssh: {e}"),
        hint: Some(
            "install OpenSSH's client (Debian: apt-get install openssh-client), or use --print"
                .into(),
        ),
    })
}

#[cfg(not(unix))]
fn exec(argv: &[String]) -> Result<(), UserError> {
    let status = std::process::Command::new(&argv[0]).args(&argv[1..]).status().map_err(|e| {
        UserError { error: anyhow!("cannot run ssh: {e}"), hint: Some("use --print".into()) }
    })?;
    match status.code() {
        Some(0) => Ok(()),
        code => Err(UserError { error: anyhow!("ssh exited with {code:?}"), hint: None }),
    }
}

/// The public key `ssh = true` sends when the spec lists none: `~/.ssh/id_ed25519.pub`, else
/// `~/.ssh/id_rsa.pub`.
pub fn default_public_key(home: &Path) -> Result<String, UserError> {
    for name in ["id_ed25519.pub", "id_rsa.pub"] {
        let path = home.join(".ssh").join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty()) {
                return Ok(line.to_owned());
            }
        }
    }
    Err(UserError {
        error: anyhow!(
            "ssh = true, but there is no public key at {0}/.ssh/id_ed25519.pub or {0}/.ssh/id_rsa.pub",
            home.display()
        ),
        hint: Some(
            "make one with `ssh-keygen -t ed25519`, or list keys in the spec: [ssh] public_keys = [\"ssh-ed25519 AAAA… you@laptop\"]".into(),
        ),
    })
}
