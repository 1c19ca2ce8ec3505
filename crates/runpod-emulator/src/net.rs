//! The network a container sees: a namespace of its own (`bwrap --unshare-net`) with only its
//! loopback, on which the host ports it may reach are bridged in. Nothing else of the host's
//! network is there: not Postgres on the host's loopback, not the host's sockets in
//! `/proc/net/tcp` (issue 25).
//!
//! A RunPod pod reaches the internet and whatever it is told (podwarden's public URL for
//! callbacks, RunPod's APIs); here those are loopback ports of this machine: the emulator's own
//! (REST v2 for the watchdog, the job API for workers), its S3 endpoints, and the ports the
//! operator allows (`allow_host_ports`: the embedded server's). For each, the emulator listens on
//! a Unix socket in a directory bind-mounted into every container, and a `socat` started inside
//! the container before its command listens on `127.0.0.1:<port>` and relays to that socket;
//! the emulator relays on to `127.0.0.1:<port>`. So URLs keep working unchanged.
//!
//! The other way, a pod's published TCP ports (`22/tcp`): the emulator listens on a port of
//! this machine's loopback for each (the pod's public port), and a `socat` in the container
//! listens on `<port>.sock` in a directory of the pod's own (bound at [`PORTS_IN_CONTAINER`])
//! and relays to `127.0.0.1:<port>` inside. The container can write that directory, so the
//! emulator never follows a name there: it opens the socket file without following links,
//! checks it is a socket, and connects through its descriptor ([`connect_published`]).

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where the bridge's sockets are inside a container.
pub(crate) const SOCKETS_IN_CONTAINER: &str = "/run/podwarden-net";
/// Where the relay's programs (`sh`, `socat`) are inside a container: off the image's `PATH`.
pub(crate) const TOOLS_IN_CONTAINER: &str = "/run/podwarden-bin";
/// Where a container's published ports' sockets are made (its own directory, writable).
pub(crate) const PORTS_IN_CONTAINER: &str = "/run/podwarden-ports";

/// The host ports containers reach, and the directory of their sockets.
#[derive(Debug, Clone)]
pub(crate) struct Bridge {
    pub dir: PathBuf,
    pub ports: Vec<u16>,
    /// Host paths of `sh` and `socat`.
    pub sh: PathBuf,
    pub socat: PathBuf,
}

/// Checks this machine has what the bridge runs in containers.
pub(crate) fn probe() -> Result<(PathBuf, PathBuf), String> {
    let find = |n: &str| {
        ["/usr/bin", "/bin", "/usr/local/bin"]
            .iter()
            .map(|d| Path::new(d).join(n))
            .find(|p| p.is_file())
    };
    match (find("sh"), find("socat")) {
        (Some(sh), Some(socat)) => Ok((sh, socat)),
        (None, _) => Err("there is no /bin/sh".into()),
        (_, None) => Err(
            "there is no socat, which relays a container's allowed ports (install socat: Debian `apt-get install socat`)".into(),
        ),
    }
}

/// Listens on `<dir>/<port>.sock` for each port, relaying each connection to `127.0.0.1:<port>`.
pub(crate) async fn serve(
    dir: &Path,
    ports: &[u16],
    tracker: &TaskTracker,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    crate::private_dir(dir)?;
    for &port in ports {
        let path = dir.join(format!("{port}.sock"));
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path)?;
        let c = cancel.clone();
        tracker.spawn(async move {
            loop {
                let conn = tokio::select! {
                    r = listener.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
                    () = c.cancelled() => break,
                };
                tokio::spawn(async move {
                    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
                    let Ok(Ok(mut up)) =
                        tokio::time::timeout(Duration::from_secs(10), connect).await
                    else {
                        return;
                    };
                    let mut conn = conn;
                    let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
                });
            }
        });
    }
    Ok(())
}

impl Bridge {
    /// bwrap's arguments for a container on this bridge: its own network namespace, the
    /// sockets and the relay's programs (read-only).
    pub(crate) fn sandbox_args(&self) -> Vec<String> {
        let mut a = vec!["--unshare-net".to_owned()];
        a.extend(["--ro-bind".into(), self.dir.display().to_string(), SOCKETS_IN_CONTAINER.into()]);
        for (host, name) in [(&self.sh, "sh"), (&self.socat, "socat")] {
            a.extend([
                "--ro-bind".into(),
                host.display().to_string(),
                format!("{TOOLS_IN_CONTAINER}/{name}"),
            ]);
        }
        a
    }

    /// The container's argv: a shell that starts one relay per port (and one per published
    /// port, the other way), waits until each host port listens (read from `/proc/net/tcp`,
    /// builtins only), then becomes `argv`.
    pub(crate) fn wrap(&self, argv: &[String], published: &[u16]) -> Vec<String> {
        let mut script = String::new();
        for p in &self.ports {
            script.push_str(&format!(
                "{TOOLS_IN_CONTAINER}/socat TCP-LISTEN:{p},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:{SOCKETS_IN_CONTAINER}/{p}.sock </dev/null >/dev/null 2>&1 &\n"
            ));
        }
        for p in published {
            script.push_str(&format!(
                "{TOOLS_IN_CONTAINER}/socat UNIX-LISTEN:{PORTS_IN_CONTAINER}/{p}.sock,fork,unlink-early TCP:127.0.0.1:{p} </dev/null >/dev/null 2>&1 &\n"
            ));
        }
        script.push_str(
            "pw_up() { while read -r _ l _ st _; do case \"$l:$st\" in *\":$1:0A\") return 0;; esac; done </proc/net/tcp; return 1; }\n",
        );
        for p in &self.ports {
            script.push_str(&format!(
                "pw_n=0; until pw_up {p:04X}; do pw_n=$((pw_n+1)); [ $pw_n -gt 200000 ] && break; done\n"
            ));
        }
        script.push_str("exec \"$@\"\n");
        let mut out =
            vec![format!("{TOOLS_IN_CONTAINER}/sh"), "-c".into(), script, "container".into()];
        out.extend(argv.iter().cloned());
        out
    }
}

/// Relays connections to each listener (a published port's public side) into the container's
/// `<dir>/<port>.sock`, until `cancel`.
pub(crate) fn serve_published(
    dir: &Path,
    published: Vec<(u16, std::net::TcpListener)>,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
) {
    for (port, listener) in published {
        let Ok(listener) = listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
        else {
            continue;
        };
        let (sock, c) = (dir.join(format!("{port}.sock")), cancel.clone());
        let open = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_RELAYED));
        tracker.spawn(async move {
            loop {
                let mut conn = tokio::select! {
                    r = listener.accept() => match r {
                        Ok((s, _)) => s,
                        // Out of descriptors, say: pause rather than spin.
                        Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue }
                    },
                    () = c.cancelled() => break,
                };
                let (sock, c) = (sock.clone(), c.clone());
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    // Too many at once: refused, as an overloaded host's port would.
                    continue;
                };
                tokio::spawn(async move {
                    let _permit = permit;
                    // Nothing listens yet (the container is starting), or its listener is
                    // full: the client sees the connection closed, as when a pod's port has
                    // no server. Never a wait: the container decides how its socket behaves.
                    let Ok(mut inner) = connect_published(&sock).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut conn, &mut inner) => {}
                        () = c.cancelled() => {}
                    }
                });
            }
        });
    }
}

/// Connections relayed at once into one published port.
const MAX_RELAYED: usize = 64;

/// Connects to a socket the container made, never following a link it may have put there:
/// the name is opened with `O_PATH | O_NOFOLLOW`, must be a socket, and is connected to
/// through `/proc/self/fd/<n>`, which names that very file. Non-blocking, and bounded: a
/// listener that never accepts (a full backlog) is a refusal, not a wait.
pub(crate) async fn connect_published(path: &Path) -> std::io::Result<tokio::net::UnixStream> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::{Mode, SFlag, fstat};
    use std::os::fd::AsRawFd as _;
    let fd = open(path, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
    let st = fstat(&fd)?;
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFSOCK {
        return Err(std::io::Error::other(format!("{} is not a socket", path.display())));
    }
    // `fd` stays open until the connect is done: the path names it.
    let at = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let s = tokio::time::timeout(Duration::from_secs(5), tokio::net::UnixStream::connect(at))
        .await
        .map_err(|_| std::io::Error::other("the container's socket did not answer"))??;
    drop(fd);
    Ok(s)
}
