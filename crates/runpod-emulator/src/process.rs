//! Containers: pods' and serverless workers' processes, each in a bubblewrap sandbox.
//!
//! A container sees what a RunPod container would and nothing of the host: a fresh root
//! (its container disk, gone when the container restarts), its image's declared programs on
//! `PATH` (bound one by one), the host's shared libraries read-only (libraries, not tools), its
//! volumes at the paths RunPod mounts them, a `/proc` of its own PID namespace, and only
//! RunPod's variables and the request's env. The exec'd argv is the image's entrypoint and
//! `args` split into words (`image.rs`); no shell is run unless the argv names one.
//!
//! The container's main process is PID 1 of its namespace, as in Docker: a stop sends it
//! SIGTERM (ignored unless it handles it) and, after the grace period, SIGKILL to the sandbox,
//! which ends every process in the namespace — including ones that ignore SIGTERM, detach or
//! start new sessions. `--die-with-parent` ends them when the emulator itself dies.
//!
//! Where bubblewrap cannot run, the emulator refuses to start unless told `unsandboxed`; then
//! containers are plain process groups with a cleared environment, their volumes are *not* at
//! RunPod's paths, and every start says so.

use crate::Shared;
pub use crate::container::ContainerSpec;
use crate::container::{Owner, SpawnSpec};
use crate::image::{HOST_TOOL_DIRS, STANDARD_PATH};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt as _, BufReader};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How containers are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// bubblewrap: new mount, PID, IPC and UTS namespaces.
    Sandbox,
    /// Plain processes (only when the operator said `unsandboxed`).
    Unsandboxed,
}

/// A container is root in a user namespace of its own, with no capability but binding low ports
/// in its own network: whatever user
/// the emulator runs as (root, in CI and most containers), a job's root is nobody on the host.
/// Without this, root in the sandbox keeps every capability, and `open_by_handle_at` on a volume
/// mount opens the host's filesystem ("shocker").
const NO_PRIVILEGE: &[&str] = &[
    "--unshare-user",
    "--uid",
    "0",
    "--gid",
    "0",
    "--cap-drop",
    "ALL",
    // Docker's default set has it, so a pod's root binds ports below 1024 (sshd's 22); the
    // network it binds in is the container's own.
    "--cap-add",
    "CAP_NET_BIND_SERVICE",
];

/// Checks that bubblewrap can create the sandbox containers need, on this machine.
pub fn probe_sandbox() -> Result<(), String> {
    let out = std::process::Command::new("bwrap")
        .args([
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-net",
        ])
        .args(NO_PRIVILEGE)
        .args(["--die-with-parent", "--as-pid-1", "--", "true"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "cannot run bwrap ({e}); install bubblewrap (Debian: apt-get install bubblewrap)"
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "bwrap cannot create a sandbox here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A live container: the process we started and how it is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Live {
    pid: i32,
}

/// Starts, watches and kills containers.
#[derive(Debug)]
pub struct Runner {
    groups: Arc<Mutex<HashMap<(Owner, u64), Live>>>,
    isolation: Isolation,
    /// The network containers see (set once the emulator's ports are bound).
    pub(crate) net: std::sync::OnceLock<crate::net::Bridge>,
    /// The accounts' global networks (`globalnet.rs`).
    pub(crate) global: crate::globalnet::GlobalNet,
    pub(crate) tracker: TaskTracker,
    pub(crate) cancel: CancellationToken,
}

impl Runner {
    pub(crate) fn new(
        tracker: TaskTracker,
        cancel: CancellationToken,
        isolation: Isolation,
    ) -> Self {
        Self {
            groups: Arc::new(Mutex::new(HashMap::new())),
            isolation,
            net: std::sync::OnceLock::new(),
            global: crate::globalnet::GlobalNet::default(),
            tracker,
            cancel,
        }
    }

    /// Number of live containers.
    pub fn live(&self) -> usize {
        self.groups.lock().len()
    }

    /// How containers are isolated.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    pub(crate) fn spawn(&self, shared: &Arc<Shared>, spec: SpawnSpec) {
        let SpawnSpec { owner, generation, container, logs, published } = spec;
        let clock = shared.clock.clone();
        let log = |line: String| logs.push(clock.now(), "system", line);
        for (host, _) in &container.volumes {
            if let Err(e) = crate::private_dir(host) {
                log(format!("cannot create volume directory {}: {e}", host.display()));
            }
        }
        if let Some((_, dir)) = &container.published {
            // Sockets of the last run go: the relay in the container makes its own.
            let _ = std::fs::remove_dir_all(dir);
            if let Err(e) = crate::private_dir(dir) {
                log(format!("cannot create the published ports' directory {}: {e}", dir.display()));
            }
        }
        // A pod on its account's global network: the namespaces, and the socket bwrap tells
        // its sandbox's pid on and waits on before the command (`globalnet.rs`).
        let global = match (&container.private_net, self.isolation) {
            (Some(n), Isolation::Sandbox) => {
                if let Err(e) = crate::private_dir(&n.hosts_dir) {
                    log(format!(
                        "cannot create the global network's hosts directory {}: {e}",
                        n.hosts_dir.display()
                    ));
                }
                match self.global.namespaces().and_then(|ns| {
                    let pair = std::os::unix::net::UnixStream::pair();
                    pair.map(|p| (ns, p)).map_err(|e| format!("cannot make a socket pair: {e}"))
                }) {
                    Ok(g) => Some((n.clone(), g)),
                    Err(why) => {
                        log(no_private_network(n, &why));
                        None
                    }
                }
            }
            (Some(n), Isolation::Unsandboxed) => {
                log(format!(
                    "emulator: UNSANDBOXED: this container shares the host's network: it is not on its account's global network (no eth0 at {}, no *.runpod.internal names)",
                    n.ip
                ));
                None
            }
            (None, _) => None,
        };
        let mut cmd = match self.isolation {
            Isolation::Sandbox => match sandboxed(
                &container,
                &log,
                self.net.get(),
                global.as_ref().map(|(_, (ns, _))| &**ns),
            ) {
                Ok(c) => c,
                Err(e) => {
                    log(format!("failed to start the container: {e}"));
                    let s = shared.clone();
                    self.tracker
                        .spawn(async move { s.process_exited(owner, generation, Some(127)) });
                    return;
                }
            },
            Isolation::Unsandboxed => {
                log("emulator: UNSANDBOXED container: it shares the host's files and tools; volumes are not at RunPod's paths".into());
                let _ = std::fs::create_dir_all(&container.scratch);
                let mut c = tokio::process::Command::new(&container.argv[0]);
                // On the host, `/root` is the host's: its home is its scratch directory, and
                // no SSH is set up (a start script would write the host's authorized_keys
                // and start the host's sshd).
                if container.env.iter().any(|(k, _)| k == "PUBLIC_KEY") {
                    log("emulator: UNSANDBOXED: PUBLIC_KEY is not given to this container (SSH would be set up on this machine)".into());
                }
                c.args(&container.argv[1..])
                    .current_dir(&container.scratch)
                    .env_clear()
                    .envs(container_env(&container).into_iter().filter(|(k, _)| k != "PUBLIC_KEY"))
                    .env("HOME", &container.scratch)
                    .process_group(0);
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let global = global.map(|(net, (ns, (ours, theirs)))| {
            cmd.stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)));
            (net, ns, ours)
        });
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                // Its environment's file (secrets among it) goes with it.
                let _ = std::fs::remove_file(container.scratch.with_extension("env"));
                log(format!("failed to start the container: {e}"));
                let s = shared.clone();
                self.tracker.spawn(async move { s.process_exited(owner, generation, Some(127)) });
                return;
            }
        };
        // (The command's copy of bwrap's socket closes here: a bwrap that dies is an end of it.)
        drop(cmd);
        let Some(pid) = child.id() else { return };
        self.groups.lock().insert((owner.clone(), generation), Live { pid: pid as i32 });
        if let Some((net, ns, ours)) = global {
            let (s, logs, clock, key) =
                (shared.clone(), logs.clone(), clock.clone(), (owner.clone(), generation));
            let cancel = self.cancel.clone();
            self.tracker.spawn(async move {
                let Ok(mut sock) = ours
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::UnixStream::from_std(ours))
                else {
                    return;
                };
                let connect = s.runner.global.connect(&ns, &mut sock, &net);
                let done = tokio::select! {
                    r = tokio::time::timeout(NETWORK_SETUP, connect) => {
                        r.unwrap_or_else(|_| Err("timed out".into()))
                    }
                    () = cancel.cancelled() => return,
                };
                // Only a container still alive has a reason to hear why (a stop during the
                // setup ends it too).
                if let Err(why) = done {
                    if s.runner.groups.lock().contains_key(&key) {
                        logs.push(clock.now(), "system", no_private_network(&net, &why));
                    }
                }
                // The command starts, connected or not: never on the host's network.
                let _ = sock.write_all(b"\n").await;
            });
        }
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn AsyncRead + Unpin + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (logs, clock) = (logs.clone(), clock.clone());
            self.tracker.spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.push(clock.now(), "container", line);
                }
            });
        }
        // The published ports relay in while this process lives.
        let ports_open = self.cancel.child_token();
        if let Some((_, dir)) = &container.published {
            crate::net::serve_published(dir, published, &self.tracker, &ports_open);
        }
        let (s, cancel, isolation) = (shared.clone(), self.cancel.clone(), self.isolation);
        let env_file = container.scratch.with_extension("env");
        self.tracker.spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s.ok(),
                () = cancel.cancelled() => {
                    hard_kill(isolation, pid as i32);
                    child.wait().await.ok()
                }
            };
            let _ = std::fs::remove_file(&env_file);
            ports_open.cancel();
            s.runner.groups.lock().remove(&(owner.clone(), generation));
            s.process_exited(owner, generation, status.and_then(|st| st.code()));
        });
    }

    /// SIGTERM to the container's main process now, SIGKILL to all of it after `grace_ms`
    /// (at once when 0).
    pub(crate) fn kill(&self, owner: Owner, generation: u64, grace_ms: u64) {
        let Some(live) = self.groups.lock().get(&(owner.clone(), generation)).copied() else {
            return;
        };
        if grace_ms == 0 {
            hard_kill(self.isolation, live.pid);
            return;
        }
        match self.isolation {
            Isolation::Sandbox => {
                for c in children(live.pid) {
                    let _ = kill(Pid::from_raw(c), Signal::SIGTERM);
                }
            }
            Isolation::Unsandboxed => {
                let _ = killpg(Pid::from_raw(live.pid), Signal::SIGTERM);
            }
        }
        let (cancel, groups, key, isolation) =
            (self.cancel.clone(), self.groups.clone(), (owner, generation), self.isolation);
        self.tracker.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(grace_ms)) => {}
                () = cancel.cancelled() => {}
            }
            // Only if the same container is still ours: a pid may have been reused since.
            if groups.lock().get(&key) == Some(&live) {
                hard_kill(isolation, live.pid);
            }
        });
    }

    /// Kills every container (shutdown).
    pub(crate) fn kill_all(&self) {
        for live in self.groups.lock().values() {
            hard_kill(self.isolation, live.pid);
        }
    }
}

/// How long connecting a container to its global network may take before it starts without.
const NETWORK_SETUP: Duration = Duration::from_secs(30);

/// The system log line of a container on a global network that could not be connected.
fn no_private_network(net: &crate::container::PrivateNet, why: &str) -> String {
    format!(
        "emulator: this container is not on its account's global network (no private address {}): {why}",
        net.ip
    )
}

/// SIGKILL to everything of a container. In the sandbox: its PID 1, whose exit the kernel
/// completes only once every process of the namespace is gone; bubblewrap then exits, so the
/// container counts as dead only when nothing of it is left. Before PID 1 exists, bubblewrap
/// itself (`--die-with-parent` takes the child along).
fn hard_kill(isolation: Isolation, pid: i32) {
    match isolation {
        Isolation::Sandbox => {
            let init = children(pid);
            if init.is_empty() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            for c in init {
                let _ = kill(Pid::from_raw(c), Signal::SIGKILL);
            }
        }
        Isolation::Unsandboxed => {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// The host pids of `pid`'s children (bubblewrap's child is the container's PID 1).
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| s.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// The container's environment: the image's `ENV` and a `PATH`, under RunPod's and the request's.
fn container_env(c: &ContainerSpec) -> Vec<(String, String)> {
    let path = c
        .image
        .path
        .iter()
        .map(String::as_str)
        .chain([STANDARD_PATH])
        .collect::<Vec<_>>()
        .join(":");
    let mut env: Vec<(String, String)> =
        vec![("PATH".into(), path), ("HOME".into(), "/root".into())];
    env.extend(c.image.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.extend(c.env.iter().cloned());
    env
}

/// Host files every container needs to run dynamically linked programs and reach the network.
const HOST_ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/mime.types",
];

/// Where a tool comes from on the host. Python images name `python3` also `python` and `pip3`
/// also `pip`; a host (Debian) with only the versioned names stands in for them.
fn host_tool(name: &str) -> Option<PathBuf> {
    let find = |n: &str| HOST_TOOL_DIRS.iter().map(|d| Path::new(d).join(n)).find(|p| p.is_file());
    find(name).or_else(|| match name {
        "python" => find("python3"),
        "pip" => find("pip3"),
        _ => None,
    })
}

/// `bwrap … -- argv`.
fn sandboxed(
    c: &ContainerSpec,
    log: &dyn Fn(String),
    net: Option<&crate::net::Bridge>,
    global: Option<&crate::globalnet::Namespaces>,
) -> Result<tokio::process::Command, String> {
    let mut a: Vec<String> = Vec::new();
    let mut arg = |xs: &[&str]| a.extend(xs.iter().map(|s| (*s).to_owned()));
    // Libraries and data, not programs.
    arg(&["--ro-bind", "/usr/lib", "/usr/lib", "--ro-bind-try", "/usr/share", "/usr/share"]);
    arg(&[
        "--ro-bind-try",
        "/usr/lib64",
        "/usr/lib64",
        "--ro-bind-try",
        "/usr/libexec",
        "/usr/libexec",
    ]);
    for top in ["/lib", "/lib64", "/lib32"] {
        match std::fs::read_link(top) {
            Ok(target) => arg(&["--symlink", &target.display().to_string(), top]),
            Err(_) if Path::new(top).is_dir() => arg(&["--ro-bind", top, top]),
            Err(_) => {}
        }
    }
    for f in HOST_ETC {
        // On a global network, its account's names (`globalnet.rs`), kept current.
        if *f == "/etc/hosts" && c.private_net.is_some() {
            continue;
        }
        arg(&["--ro-bind-try", f, f]);
    }
    if let Some(n) = &c.private_net {
        let hosts = crate::globalnet::HOSTS_IN_CONTAINER;
        arg(&["--ro-bind", &n.hosts_dir.display().to_string(), hosts]);
        arg(&["--symlink", &format!("{hosts}/hosts"), "/etc/hosts"]);
    }
    arg(&[
        "--dir",
        "/usr/bin",
        "--dir",
        "/usr/local/bin",
        "--dir",
        "/usr/sbin",
        "--symlink",
        "usr/bin",
        "/bin",
    ]);
    arg(&[
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--dir",
        "/root",
        "--dir",
        "/tmp",
        "--chmod",
        "1777",
        "/tmp",
    ]);
    for name in &c.image.tools {
        match host_tool(name) {
            Some(p) => arg(&["--ro-bind", &p.display().to_string(), &format!("/usr/bin/{name}")]),
            None => log(format!(
                "emulator: the image declares `{name}` but this host has none; the container will not have it"
            )),
        }
    }
    for (name, host) in &c.image.host_tools {
        arg(&["--ro-bind", &host.display().to_string(), &format!("/usr/local/bin/{name}")]);
    }
    for d in &c.image.dirs {
        let d = d.display().to_string();
        arg(&["--ro-bind", &d, &d]);
    }
    for (host, at) in &c.volumes {
        arg(&["--bind", &host.display().to_string(), at]);
    }
    if let Some(sshd) = &c.sshd {
        arg(&["--ro-bind", &sshd.display().to_string(), "/usr/sbin/sshd"]);
    }
    if let Some((_, dir)) = &c.published {
        arg(&["--bind", &dir.display().to_string(), crate::net::PORTS_IN_CONTAINER]);
    }
    arg(&["--proc", "/proc", "--dev", "/dev"]);
    arg(&[
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        &c.hostname,
    ]);
    arg(NO_PRIVILEGE);
    if global.is_some() {
        arg(&crate::globalnet::BWRAP_FDS);
    }
    for x in net.map(crate::net::Bridge::sandbox_args).unwrap_or_default() {
        arg(&[&x]);
    }
    arg(&["--die-with-parent", "--as-pid-1", "--new-session"]);
    let workdir = if c.image.workdir.is_empty() { "/" } else { &c.image.workdir };
    if workdir != "/" {
        arg(&["--dir", workdir]);
    }
    arg(&["--chdir", workdir, "--"]);
    // The container's environment reaches bwrap as `--setenv` arguments read from a file
    // (`--args`), never as the environment of the programs that start the sandbox: those run on
    // the host, where a pod's `LD_PRELOAD` would load its own code outside the sandbox. Nor on a
    // command line, which every user of the host can read.
    let bwrap = find_host("bwrap").ok_or("there is no bwrap on this machine")?;
    let env_file = env_args_file(c)?;
    let mut cmd = global.map_or_else(
        || tokio::process::Command::new(HOST_SH),
        crate::globalnet::Namespaces::command,
    );
    let hand_fds = if global.is_some() { crate::globalnet::HAND_FDS } else { "" };
    cmd.args(["-c", &format!("{hand_fds}{OPEN_ENV_ARGS}"), "sh"])
        .arg(&env_file)
        .arg(bwrap)
        .args(["--args", ENV_ARGS_FD]);
    let published = c.published.as_ref().map_or(&[][..], |(ports, _)| &ports[..]);
    let argv = net.map_or_else(|| c.argv.clone(), |b| b.wrap(&c.argv, published));
    cmd.args(&a).args(&argv).env_clear();
    Ok(cmd)
}

/// The host's shell, which hands bwrap its descriptors.
const HOST_SH: &str = "/bin/sh";

/// The descriptor bwrap reads the container's environment from (`--args`).
const ENV_ARGS_FD: &str = "5";

/// Opens the environment's file (`$1`) as [`ENV_ARGS_FD`] and becomes bwrap (the rest), with
/// builtins only: a child of the shell would be taken for the sandbox's PID 1 by a kill in that
/// instant, and the shell would live on to start the container. The file is removed when the
/// container ends.
const OPEN_ENV_ARGS: &str = "exec 5<\"$1\" || exit 127; shift; exec \"$@\"";

/// Writes the container's environment as bwrap arguments (`--setenv NAME VALUE`, NUL-separated)
/// to a file of the emulator's own (mode 0600) beside the container's scratch directory. A NUL
/// in a name or value would end an argument early and start another (a bwrap option of the
/// pod's choosing): such an environment is refused, as `execve` refuses it.
fn env_args_file(c: &ContainerSpec) -> Result<PathBuf, String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut bytes = Vec::new();
    for (k, v) in container_env(c) {
        if k.contains('\0') || v.contains('\0') {
            return Err(format!("the environment variable {k:?} contains a NUL byte"));
        }
        for part in ["--setenv", &k, &v] {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0);
        }
    }
    let path = c.scratch.with_extension("env");
    if let Some(dir) = path.parent() {
        crate::private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_file(&path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| format!("cannot write the container's environment: {e}"))?;
    Ok(path)
}

/// A program of the host's, by its absolute path (never looked up on a `PATH` of the pod's).
fn find_host(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
