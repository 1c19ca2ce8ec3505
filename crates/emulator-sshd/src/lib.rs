//! The SSH daemon of the emulator's images that ship OpenSSH's server (RunPod's `runpod/pytorch`
//! and `runpod/base`): the emulator binds this program at `/usr/sbin/sshd` in such images, and a
//! pod's start script starts it the way it starts OpenSSH (`ssh-keygen -A; /usr/sbin/sshd`).
//!
//! Why not OpenSSH itself: the emulator's containers are unprivileged user namespaces
//! (bubblewrap) in which only the container's root is mapped and `setgroups` is denied. OpenSSH
//! running as root always separates privileges: it `chroot`s a pre-auth child and switches it to
//! the `sshd` user, and calls `setgroups` — three things such a namespace cannot do (it fails
//! with "chroot(/run/sshd): Operation not permitted", then "setgroups: Operation not
//! permitted"). This daemon speaks the same protocol to the same clients (the tests use
//! OpenSSH's `ssh`) and keeps to what a pod's sshd does for its users:
//!
//! - **login** as `root` only (a pod's user), by public key only, checked against
//!   `/root/.ssh/authorized_keys` read at each attempt (start scripts append `PUBLIC_KEY` to it);
//! - **host key**: `/etc/ssh/ssh_host_ed25519_key` when the image has one (`ssh-keygen -A`),
//!   else one made for this run;
//! - **sessions**: `exec` runs `<shell> -c <command>`, `shell` a login shell, each with a pty
//!   when the client asks; the environment is sshd's (`HOME`, `USER`, `PATH`, `SHELL`,
//!   `SSH_CONNECTION`, `TERM`, and the client's `LANG`/`LC_*`), not the container's, as with
//!   OpenSSH; the exit status goes back to the client;
//! - **no** port forwarding, agent forwarding, X11 or subsystems (sftp): refused.
//!
//! Command line: OpenSSH's options that start scripts pass are accepted (`-D` stays in the
//! foreground, `-e` logs to stderr, `-p PORT`, `-h HOSTKEY`, `-o AuthorizedKeysFile=PATH`);
//! `-f` and the other `-o` options take their argument and are otherwise ignored. Without `-D` it forks into the background once listening, like sshd.

mod session;

use russh::keys::{Algorithm, PrivateKey, PublicKey};
use russh::server::{Auth, Config, Msg, Server, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the daemon serves.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub foreground: bool,
    /// Where `root`'s authorized keys are (`/root/.ssh/authorized_keys`).
    pub authorized_keys: PathBuf,
    /// Host key file in OpenSSH's format; absent: a key for this run.
    pub host_key: PathBuf,
    /// Home directory of the login user.
    pub home: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 22)),
            foreground: false,
            authorized_keys: "/root/.ssh/authorized_keys".into(),
            host_key: "/etc/ssh/ssh_host_ed25519_key".into(),
            home: "/root".into(),
        }
    }
}

/// The login user: a pod's only account.
pub const USER: &str = "root";

/// Parses sshd's command line (the program name excluded).
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-D" => o.foreground = true,
            "-e" | "-q" | "-d" | "-t" => {}
            "-p" => {
                let p = it.next().ok_or("-p needs a port")?;
                let port: u16 = p.parse().map_err(|_| format!("bad port {p:?}"))?;
                o.listen.set_port(port);
            }
            "-h" => o.host_key = it.next().ok_or("-h needs a file")?.into(),
            "-o" => {
                let opt = it.next().ok_or("-o needs an option")?;
                // OpenSSH's `-o Name=value` (or `Name value`); the one that matters here:
                let (name, value) = opt.split_once(['=', ' ']).unwrap_or((opt, ""));
                if name.eq_ignore_ascii_case("AuthorizedKeysFile") {
                    o.authorized_keys = value.trim().into();
                }
            }
            "-f" | "-E" | "-c" | "-g" | "-k" => {
                it.next().ok_or_else(|| format!("{a} needs an argument"))?;
            }
            other => return Err(format!("unsupported option {other:?}")),
        }
    }
    Ok(o)
}

/// The keys `root` may log in with, read now (a start script may append to the file at any
/// time). Lines with options or in another format are skipped, as OpenSSH skips bad lines.
pub fn authorized_keys(path: &Path) -> Vec<PublicKey> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| PublicKey::from_openssh(l).ok())
        .collect()
}

/// Serves until the process is killed.
pub async fn serve(opts: Options) -> anyhow::Result<()> {
    let key = match std::fs::read_to_string(&opts.host_key) {
        Ok(text) => PrivateKey::from_openssh(text)
            .map_err(|e| anyhow::anyhow!("bad host key {}: {e}", opts.host_key.display()))?,
        Err(_) => PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
            .map_err(|e| anyhow::anyhow!("cannot make a host key: {e}"))?,
    };
    let config = Arc::new(Config {
        keys: vec![key],
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(200),
        auth_rejection_time_initial: Some(Duration::ZERO),
        // A client that vanished is dropped (keepalives unanswered), as sshd's ClientAlive*.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(60)),
        keepalive_max: 3,
        ..Config::default()
    });
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    say(&format!("Server listening on {} port {}.", opts.listen.ip(), opts.listen.port()));
    let mut daemon = Daemon { opts: Arc::new(opts) };
    daemon.run_on_socket(config, &listener).await?;
    Ok(())
}

struct Daemon {
    opts: Arc<Options>,
}

impl Server for Daemon {
    type Handler = Connection;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Connection {
        Connection { opts: self.opts.clone(), peer, channels: HashMap::new() }
    }
}

/// One client connection and its session channels.
pub(crate) struct Connection {
    opts: Arc<Options>,
    peer: Option<SocketAddr>,
    channels: HashMap<ChannelId, session::ChannelState>,
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.allowed(user, offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.allowed(user, key.public_key))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), session::ChannelState::default());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(c) if c.input.is_none() => {
                c.pty = Some(session::PtyRequest { term: term.to_owned(), cols, rows });
                session.channel_success(channel)
            }
            _ => session.channel_failure(channel),
        }
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Debian's sshd_config: `AcceptEnv LANG LC_*`.
        if let Some(c) = self.channels.get_mut(&channel) {
            if (name == "LANG" || name.starts_with("LC_")) && c.env.len() < 32 {
                c.env.push((name.to_owned(), value.to_owned()));
            }
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.start(channel, None, session)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        self.start(channel, Some(command), session)
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(tx) = self.channels.get(&channel).and_then(|c| c.input.as_ref()) {
            let _ = tx.send(data.to_vec());
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(c) = self.channels.get_mut(&channel) {
            // Without a pty, EOF closes the program's stdin; a terminal has no such thing.
            if c.pty.is_none() {
                c.input = None;
            }
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(c) = self.channels.get(&channel) {
            c.resize(cols, rows);
        }
        Ok(())
    }
}

impl Connection {
    fn allowed(&self, user: &str, key: &PublicKey) -> Auth {
        let known = user == USER
            && authorized_keys(&self.opts.authorized_keys)
                .iter()
                .any(|k| k.key_data() == key.key_data());
        if known { Auth::Accept } else { Auth::reject() }
    }

    fn start(
        &mut self,
        channel: ChannelId,
        command: Option<String>,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let Some(state) = self.channels.get_mut(&channel) else {
            return session.channel_failure(channel);
        };
        if state.input.is_some() {
            return session.channel_failure(channel);
        }
        let spawned =
            session::spawn(&self.opts, self.peer, state, command, session.handle(), channel);
        match spawned {
            Ok(()) => session.channel_success(channel),
            Err(e) => {
                say(&format!("cannot start the session's program: {e}"));
                session.channel_failure(channel)
            }
        }
    }
}

/// The program: `sshd [options]`. Returns the exit code.
pub fn main(args: &[String]) -> i32 {
    if args.first().map(String::as_str) == Some(session::PTY_SESSION) {
        return session::pty_session(&args[1..]);
    }
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("sshd: {e}");
            return 1;
        }
    };
    if !opts.foreground {
        return daemonize(args);
    }
    let rt =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("sshd: {e}");
                return 1;
            }
        };
    match rt.block_on(serve(opts)) {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("sshd: {e:#}"));
            255
        }
    }
}

/// Like sshd: the daemon goes on in the background once it listens, and the command returns
/// 0; a daemon that cannot listen (the port taken, no right to bind it) makes it fail, with
/// the daemon's reason.
fn daemonize(args: &[String]) -> i32 {
    use std::io::BufRead as _;
    use std::os::unix::process::CommandExt as _;
    let spawned = std::env::current_exe().and_then(|exe| {
        let mut c = std::process::Command::new(exe);
        c.arg("-D").args(args).stdin(std::process::Stdio::null());
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        // Out of the caller's process group: a start script's end does not signal it.
        c.process_group(0);
        c.spawn()
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            say(&format!("sshd: cannot start in the background: {e}"));
            return 1;
        }
    };
    let mut first = String::new();
    if let Some(err) = child.stderr.take() {
        let _ = std::io::BufReader::new(err).read_line(&mut first);
    }
    if first.starts_with("Server listening") {
        return 0;
    }
    say(first.trim_end());
    let _ = child.wait();
    1
}

/// A line on stderr; a closed stderr (a daemon's, once its starter has gone) is not an error.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
