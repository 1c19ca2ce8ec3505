//! A session channel's program: started with pipes, or on a pty when the client asked for one;
//! its output goes back on the channel (stderr as extended data without a pty), the client's
//! data to its input, and its exit status ends the channel.

use crate::Options;
use russh::ChannelId;
use russh::server::Handle;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// `pty-req`'s terminal.
#[derive(Debug, Clone)]
pub(crate) struct PtyRequest {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
}

/// What a session channel has asked for, and its running program.
#[derive(Debug, Default)]
pub(crate) struct ChannelState {
    pub pty: Option<PtyRequest>,
    pub env: Vec<(String, String)>,
    /// The program's input; `Some` once it runs. Unbounded: the handler must never wait
    /// (it would stall the connection whose output the program may be waiting to send).
    pub input: Option<mpsc::UnboundedSender<Vec<u8>>>,
    master: Option<Arc<OwnedFd>>,
}

impl ChannelState {
    /// `window-change`: the pty's new size.
    pub fn resize(&self, cols: u32, rows: u32) {
        if let Some(m) = &self.master {
            set_size(m, cols, rows);
        }
    }
}

fn winsize(cols: u32, rows: u32) -> nix::pty::Winsize {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    nix::pty::Winsize { ws_row: clamp(rows), ws_col: clamp(cols), ws_xpixel: 0, ws_ypixel: 0 }
}

fn set_size(fd: &OwnedFd, cols: u32, rows: u32) {
    let w = winsize(cols, rows);
    let size =
        rustix::termios::Winsize { ws_row: w.ws_row, ws_col: w.ws_col, ws_xpixel: 0, ws_ypixel: 0 };
    let _ = rustix::termios::tcsetwinsize(fd, size);
}

/// The argument that makes this program a pty session's first process (`crate::main`): it
/// becomes a session leader whose controlling terminal is its stdin, then execs the rest.
pub(crate) const PTY_SESSION: &str = "--podwarden-pty-session";

/// In the session's process: `setsid`, the pty on stdin as controlling terminal, exec.
pub(crate) fn pty_session(argv: &[String]) -> i32 {
    use std::os::unix::process::CommandExt as _;
    let Some((program, args)) = argv.split_first() else { return 2 };
    if let Err(e) = rustix::process::setsid()
        .map_err(std::io::Error::from)
        .and_then(|_| rustix::process::ioctl_tiocsctty(std::io::stdin()).map_err(Into::into))
    {
        crate::say(&format!("sshd: cannot give the session its terminal: {e}"));
        return 1;
    }
    let e = std::process::Command::new(program).args(args).exec();
    crate::say(&format!("sshd: cannot run {program}: {e}"));
    127
}

/// The login shell: bash where the image has it, else sh.
fn shell() -> &'static str {
    if std::path::Path::new("/bin/bash").exists() { "/bin/bash" } else { "/bin/sh" }
}

/// Starts the channel's program and the tasks that move its bytes.
pub(crate) fn spawn(
    opts: &Options,
    peer: Option<SocketAddr>,
    state: &mut ChannelState,
    command: Option<String>,
    handle: Handle,
    channel: ChannelId,
) -> std::io::Result<()> {
    let sh = shell();
    let mut cmd = match state.pty {
        // The pty's first process is this program again, which gives the session its
        // terminal and execs the shell (`pty_session`).
        Some(_) => {
            let mut c = tokio::process::Command::new(std::env::current_exe()?);
            c.args([PTY_SESSION, sh]);
            c
        }
        None => tokio::process::Command::new(sh),
    };
    match &command {
        Some(c) => cmd.arg("-c").arg(c),
        None => cmd.arg("-l"),
    };
    let home = if opts.home.is_dir() { opts.home.clone() } else { "/".into() };
    let (peer_ip, peer_port) =
        peer.map_or(("127.0.0.1".to_owned(), 0), |p| (p.ip().to_string(), p.port()));
    let local = opts.listen;
    cmd.env_clear()
        .current_dir(&home)
        .env("HOME", &home)
        .env("USER", crate::USER)
        .env("LOGNAME", crate::USER)
        .env("SHELL", sh)
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SSH_CLIENT", format!("{peer_ip} {peer_port} {}", local.port()))
        .env("SSH_CONNECTION", format!("{peer_ip} {peer_port} {} {}", local.ip(), local.port()))
        .envs(state.env.iter().cloned())
        .kill_on_drop(false);
    let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    match state.pty.clone() {
        Some(pty) => {
            let pair = nix::pty::openpty(Some(&winsize(pty.cols, pty.rows)), None)
                .map_err(std::io::Error::from)?;
            let slave = pair.slave;
            cmd.env("TERM", &pty.term)
                .stdin(Stdio::from(slave.try_clone()?))
                .stdout(Stdio::from(slave.try_clone()?))
                .stderr(Stdio::from(slave));
            let mut child = cmd.spawn()?;
            let master = Arc::new(pair.master);
            let reader = tokio::fs::File::from_std(std::fs::File::from(master.try_clone()?));
            let writer = tokio::fs::File::from_std(std::fs::File::from(master.try_clone()?));
            state.master = Some(master);
            tokio::spawn(feed(writer, rx));
            tokio::spawn(async move {
                // The pty reads EIO once every holder of its slave is gone.
                pump(reader, &handle, channel, None).await;
                let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(255);
                finish(&handle, channel, code).await;
            });
        }
        None => {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn()?;
            let (stdin, stdout, stderr) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take());
            if let Some(stdin) = stdin {
                tokio::spawn(feed(stdin, rx));
            }
            tokio::spawn(async move {
                let out = async {
                    if let Some(o) = stdout {
                        pump(o, &handle, channel, None).await;
                    }
                };
                let err = async {
                    if let Some(e) = stderr {
                        pump(e, &handle, channel, Some(1)).await;
                    }
                };
                tokio::join!(out, err);
                let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(255);
                finish(&handle, channel, code).await;
            });
        }
    }
    state.input = Some(tx);
    Ok(())
}

/// The client's data into the program, until the channel's input is dropped.
async fn feed(
    mut to: impl tokio::io::AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(chunk) = rx.recv().await {
        if to.write_all(&chunk).await.is_err() || to.flush().await.is_err() {
            break;
        }
    }
}

/// The program's output onto the channel (as extended data `ext` when given).
async fn pump(
    mut from: impl AsyncRead + Unpin,
    handle: &Handle,
    channel: ChannelId,
    ext: Option<u32>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = buf[..n].to_vec();
        let sent = match ext {
            Some(code) => handle.extended_data(channel, code, chunk).await,
            None => handle.data(channel, chunk).await,
        };
        if sent.is_err() {
            return;
        }
    }
}

async fn finish(handle: &Handle, channel: ChannelId, code: i32) {
    let _ = handle.exit_status_request(channel, u32::try_from(code).unwrap_or(255)).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}
