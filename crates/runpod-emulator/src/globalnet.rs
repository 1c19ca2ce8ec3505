//! RunPod's global networking, wired: each account's pods that have it share a private network
//! of their own (`world/pods/global_net.rs` gives the addresses; this connects the containers).
//!
//! The emulator keeps a network namespace of its own, made once, at the first container that
//! needs it, by `unshare --user --map-root-user --net` (the user namespace makes it work when
//! the emulator is not root): it holds its loopback and one bridge per account (`br<n>`) and
//! nothing else — no address on a bridge, no other interface, no route out — so a container on
//! a bridge reaches the other containers on it and nothing of the host's. The namespaces are
//! kept open (their files, and the helper process that made them) for the emulator's life.
//!
//! A container of a pod with an address is bwrap as always (its network namespace of its own,
//! `--unshare-net`), started from inside that user namespace (`nsenter --user`), so the
//! sandbox's namespaces belong to the helper's root, who may configure them. bwrap tells the
//! sandbox's pid (`--info-fd`) and holds it before its command (`--block-fd`) while the
//! emulator makes a veth pair: `eth0` with `<ip>/16` in the container, its peer on the
//! account's bridge. Then the command starts, with its address up; the pair goes with the
//! container's namespace. `/etc/hosts` is a link into a directory of the account's, bound
//! read-only, where the world's `hosts` file is replaced whole at every change.
//!
//! Every namespace step is an external program (`nsenter`, `ip`): the workspace forbids
//! `unsafe`, so no `setns` in a `pre_exec` hook. When one is missing or fails, the container
//! starts without the private network (never on the host's) and its log says why.

use crate::container::PrivateNet;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufRead as _;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Where a container sees its account's `hosts` file's directory.
pub(crate) const HOSTS_IN_CONTAINER: &str = "/run/podwarden-hosts";

/// bwrap's descriptors, as the wrapper of [`Namespaces::command`] lays them out: the sandbox's
/// pid is written to 3, and the sandbox waits on 4 before its command.
pub(crate) const BWRAP_FDS: [&str; 4] = ["--info-fd", "3", "--block-fd", "4"];

/// The one socket the emulator hands bwrap (its stdin) becomes both descriptors (bwrap closes
/// the info one in the sandbox before it reads the other, so they must differ); the sandbox's
/// own stdin is `/dev/null`, as every container's. The start of the host shell's script
/// (`process.rs` adds the rest).
pub(crate) const HAND_FDS: &str = "exec 3<&0 4<&0 </dev/null; ";

const TOOL_DIRS: &[&str] =
    &["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"];

/// The private networks of every account, and what makes them.
#[derive(Debug, Default)]
pub(crate) struct GlobalNet {
    /// The emulator's network namespace, made at first use (or why it cannot be).
    ns: OnceLock<Result<Arc<Namespaces>, String>>,
    /// Bridges made so far, by account network.
    bridges: Mutex<HashMap<u32, Arc<tokio::sync::OnceCell<()>>>>,
    /// Names the containers' veth peers (`v<k>`, within the 15 characters of an interface name).
    next_link: AtomicU64,
    /// The newest `hosts` version written, per directory.
    hosts: Mutex<HashMap<PathBuf, u64>>,
}

/// The helper's user and network namespaces and the programs that enter them.
#[derive(Debug)]
pub(crate) struct Namespaces {
    /// The helper, alive (a shell waiting on its stdin) for the emulator's life: `ip` names its
    /// namespace by its pid, which stays its own while the emulator has not reaped it.
    helper: std::process::Child,
    user: File,
    net: File,
    nsenter: PathBuf,
    ip: PathBuf,
    sh: PathBuf,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Its stdin closes: the helper's shell reads the end and exits.
        drop(self.helper.stdin.take());
        let _ = self.helper.kill();
        let _ = self.helper.wait();
    }
}

/// A file of this process, by a path another process can open.
fn fd_path(f: &File) -> String {
    format!("/proc/{}/fd/{}", std::process::id(), f.as_raw_fd())
}

fn find(name: &str) -> Option<PathBuf> {
    TOOL_DIRS.iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

impl GlobalNet {
    /// The namespaces, made now if this is the first container on a global network.
    pub(crate) fn namespaces(&self) -> Result<Arc<Namespaces>, String> {
        self.ns.get_or_init(|| Namespaces::make().map(Arc::new)).clone()
    }

    /// Connects a container, held by bwrap before its command (`sock`: the other side of
    /// its descriptors 3 and 4), to its account's network; then lets it run.
    pub(crate) async fn connect(
        &self,
        ns: &Namespaces,
        sock: &mut tokio::net::UnixStream,
        net: &PrivateNet,
    ) -> Result<(), String> {
        let (pid, netns_id) = read_info(sock).await?;
        // The sandbox's namespace itself, not whatever process has its pid by now.
        let netns = File::open(format!("/proc/{pid}/ns/net"))
            .map_err(|e| format!("cannot open the sandbox's network namespace: {e}"))?;
        if let Some(id) = netns_id {
            use std::os::unix::fs::MetadataExt as _;
            if netns.metadata().map(|m| m.ino()).ok() != Some(id) {
                return Err("the sandbox ended before its network was made".into());
            }
        }
        self.bridge(ns, net.network).await?;
        let link = format!("v{}", self.next_link.fetch_add(1, Ordering::Relaxed));
        // Not `lo`: bwrap brings it up itself, perhaps at this very moment, and a loopback
        // already up (the kernel gives it 127.0.0.1 then) fails bwrap's own setup
        // ("loopback: Failed RTM_NEWADDR"), ending the container.
        ns.ip(
            &fd_path(&netns),
            &format!(
                "link add eth0 type veth peer name {link} netns {helper}\n\
                 link set eth0 up\naddr add {ip}/16 dev eth0\n",
                helper = ns.helper.id(),
                ip = net.ip,
            ),
        )
        .await?;
        ns.ip(
            &fd_path(&ns.net),
            &format!("link set {link} master br{n}\nlink set {link} up\n", n = net.network),
        )
        .await
    }

    /// Makes account network `n`'s bridge, once.
    async fn bridge(&self, ns: &Namespaces, n: u32) -> Result<(), String> {
        let cell = self.bridges.lock().entry(n).or_default().clone();
        let (net, batch) =
            (fd_path(&ns.net), format!("link add br{n} type bridge\nlink set br{n} up\n"));
        cell.get_or_try_init(|| ns.ip(&net, &batch)).await.copied()
    }

    /// Replaces `<dir>/hosts` with `text` (a new file renamed over it, so a reader sees one or
    /// the other), unless a newer version is there already.
    pub(crate) fn write_hosts(&self, dir: &Path, version: u64, text: &str) -> std::io::Result<()> {
        let mut written = self.hosts.lock();
        if written.get(dir).is_some_and(|v| *v >= version) {
            return Ok(());
        }
        crate::private_dir(dir)?;
        let new = dir.join(".hosts.new");
        std::fs::write(&new, text)?;
        std::fs::rename(&new, dir.join("hosts"))?;
        written.insert(dir.to_owned(), version);
        Ok(())
    }
}

impl Namespaces {
    /// Starts the helper in new user and network namespaces and opens them.
    fn make() -> Result<Self, String> {
        let missing = |name: &str, package: &str| {
            format!("there is no `{name}` on this machine (Debian: apt-get install {package})")
        };
        let unshare = find("unshare").ok_or_else(|| missing("unshare", "util-linux"))?;
        let nsenter = find("nsenter").ok_or_else(|| missing("nsenter", "util-linux"))?;
        let ip = find("ip").ok_or_else(|| missing("ip", "iproute2"))?;
        let sh = find("sh").ok_or_else(|| missing("sh", "dash"))?;
        let mut helper = std::process::Command::new(&unshare)
            .args(["--user", "--map-root-user", "--net", "--"])
            .arg(&sh)
            .arg("-c")
            .arg(format!("{} link set lo up && echo ready && read _", ip.display()))
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut line = String::new();
        if let Some(out) = helper.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            drop(helper.stdin.take());
            let _ = helper.kill();
            let out = helper.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "cannot make the global network's namespaces (unshare --user --map-root-user --net): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let open = |kind: &str| {
            File::open(format!("/proc/{}/ns/{kind}", helper.id()))
                .map_err(|e| format!("cannot open the global network's {kind} namespace: {e}"))
        };
        let (user, net) = match (open("user"), open("net")) {
            (Ok(u), Ok(n)) => (u, n),
            (Err(e), _) | (_, Err(e)) => {
                drop(helper.stdin.take());
                let _ = helper.kill();
                let _ = helper.wait();
                return Err(e);
            }
        };
        Ok(Self { helper, user, net, nsenter, ip, sh })
    }

    /// The host's shell started in the helper's user namespace: its script (from
    /// `process.rs`, beginning with [`HAND_FDS`]) makes [`BWRAP_FDS`] from its stdin and becomes
    /// bwrap.
    pub(crate) fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.nsenter);
        c.arg(format!("--user={}", fd_path(&self.user)))
            .args(["--preserve-credentials", "--"])
            .arg(&self.sh);
        c
    }

    /// Runs `ip -batch` with `batch` as root of the helper's user namespace in network
    /// namespace `net` (a path).
    async fn ip(&self, net: &str, batch: &str) -> Result<(), String> {
        let mut child = tokio::process::Command::new(&self.nsenter)
            .arg(format!("--user={}", fd_path(&self.user)))
            .arg(format!("--net={net}"))
            .args(["--preserve-credentials", "--"])
            .arg(&self.ip)
            .args(["-batch", "-"])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run nsenter: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(batch.as_bytes()).await.map_err(|e| format!("ip: {e}"))?;
        }
        let out = child.wait_with_output().await.map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`ip {}` failed: {}",
                batch.trim().replace('\n', "; "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// bwrap's `--info-fd` object: the sandbox's pid (as this machine sees it) and the id of its
/// network namespace, when bwrap could read it.
async fn read_info(sock: &mut tokio::net::UnixStream) -> Result<(i32, Option<u64>), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.contains(&b'}') {
        let n = sock.read(&mut chunk).await.map_err(|e| format!("reading bwrap's info: {e}"))?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Err("bwrap ended before its sandbox started".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = buf.iter().position(|b| *b == b'}').map_or(buf.len(), |i| i + 1);
    let info: serde_json::Value =
        serde_json::from_slice(&buf[..end]).map_err(|e| format!("bwrap's info: {e}"))?;
    let pid = info["child-pid"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or("bwrap's info has no child-pid")?;
    Ok((pid, info["net-namespace"].as_u64()))
}
