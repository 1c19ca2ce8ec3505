//! Finding (or starting) the server the CLI talks to: `PODWARDEN_URL` + `PODWARDEN_TOKEN` when
//! set, else the local server recorded in `PODWARDEN_HOME` (default `~/.podwarden`), started
//! in the background when none answers — so budgets and deadlines keep being enforced after
//! the CLI exits.

use crate::UserError;
use anyhow::{Context, anyhow};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The data directory.
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("PODWARDEN_HOME") {
        return PathBuf::from(h);
    }
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from(".podwarden"), |h| PathBuf::from(h).join(".podwarden"))
}

/// A connection to a server: the typed API client, and where it points.
#[derive(Debug, Clone)]
pub struct Api {
    client: podwarden_api::Client,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ServerFile {
    url: String,
    pid: u32,
}

/// The HTTP client for a server at `url`. One for a plain-HTTP URL trusts no certificate: it
/// never needs one, and building a TLS verifier loads the system's root certificates (about
/// 4 ms of a 10 ms `podwarden ps --json`).
fn http_client(url: &str) -> Result<reqwest::Client, reqwest::Error> {
    if url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")) {
        plain_http_client()
    } else {
        reqwest::Client::builder().build()
    }
}

fn plain_http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_certs_only(std::iter::empty::<reqwest::Certificate>())
}

fn plain_http_client() -> Result<reqwest::Client, reqwest::Error> {
    plain_http_builder().build()
}

impl Api {
    /// The server's base URL.
    pub fn base(&self) -> &str {
        self.client.base()
    }

    /// Connects per the environment, starting a local server if needed.
    pub async fn connect() -> Result<Self, UserError> {
        if let Ok(url) = std::env::var("PODWARDEN_URL") {
            let token = std::env::var("PODWARDEN_TOKEN").map_err(|_| UserError {
                error: anyhow!("PODWARDEN_URL is set but PODWARDEN_TOKEN is not"),
                hint: Some("export the server's token as PODWARDEN_TOKEN".into()),
            })?;
            return Self::new(http_client(&url)?, &url, &token);
        }
        // The local server listens on plain HTTP (127.0.0.1).
        let http = plain_http_client()?;
        let home = home();
        if let Some(api) = Self::recorded(&home, &http).await {
            return Ok(api);
        }
        std::fs::create_dir_all(&home)
            .with_context(|| format!("cannot create {}", home.display()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join("server.log"))
            .context("cannot open the server log")?;
        let exe = std::env::current_exe().context("cannot find the podwarden binary")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["serve", "--port", "0"])
            .env("PODWARDEN_HOME", &home)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: Ctrl-C on this CLI must not stop the server.
            cmd.process_group(0);
        }
        cmd.spawn().context("cannot start a local podwarden server")?;
        note!("started a local podwarden server (log: {})", home.join("server.log").display());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(api) = Self::recorded(&home, &http).await {
                return Ok(api);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(UserError {
            error: anyhow!("the local server did not come up within 60 s"),
            hint: Some(format!("see {}", home.join("server.log").display())),
        })
    }

    async fn recorded(home: &std::path::Path, http: &reqwest::Client) -> Option<Self> {
        let f: ServerFile =
            serde_json::from_slice(&std::fs::read(home.join("server.json")).ok()?).ok()?;
        let token = std::fs::read_to_string(home.join("token")).ok()?.trim().to_owned();
        let api = Self::new(http.clone(), &f.url, &token).ok()?;
        api.run(|c| c.status()).await.ok().map(|_| api)
    }

    /// The local server recorded in `home` and answering now: its URL and pid.
    pub async fn local_server(home: &std::path::Path) -> Option<(String, u32)> {
        let f: ServerFile =
            serde_json::from_slice(&std::fs::read(home.join("server.json")).ok()?).ok()?;
        let http = plain_http_builder().timeout(Duration::from_secs(5)).build().ok()?;
        Self::recorded(home, &http).await.map(|_| (f.url, f.pid))
    }

    /// Records this process as the local server.
    pub fn record(home: &std::path::Path, url: &str) -> anyhow::Result<()> {
        let f = ServerFile { url: url.to_owned(), pid: std::process::id() };
        std::fs::write(home.join("server.json"), serde_json::to_vec(&f)?)
            .context("cannot write server.json")
    }

    fn new(http: reqwest::Client, url: &str, token: &str) -> Result<Self, UserError> {
        let client = podwarden_api::Client::with_http(http, url, token).map_err(user_error)?;
        Ok(Self { client })
    }

    /// Runs one API call; its error becomes the user's (4xx: exit 1, with the API's hint) or
    /// an unexpected one (5xx, no answer: exit 2).
    pub async fn run<'a, T, F>(
        &'a self,
        call: impl FnOnce(&'a podwarden_api::Client) -> F,
    ) -> Result<T, UserError>
    where
        F: std::future::Future<Output = Result<T, podwarden_api::Error>> + 'a,
    {
        call(&self.client).await.map_err(user_error)
    }

    /// The client itself, for a caller that decides on the API's error codes.
    pub fn client(&self) -> &podwarden_api::Client {
        &self.client
    }
}

/// An API error as the CLI reports it.
pub fn user_error(e: podwarden_api::Error) -> UserError {
    let hint = e.hint().map(str::to_owned);
    if e.is_server_side() {
        // The server or RunPod failed: not the user's doing (exit 2).
        return UserError { hint, ..UserError::from(e) };
    }
    UserError { error: anyhow!("{e}"), hint }
}

/// `podwarden server`: the local server the CLI starts in the background.
#[derive(Debug, clap::Subcommand)]
pub enum ServerCommand {
    /// Whether the local server runs, where, and as which process.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop the local server, as Ctrl-C stops `serve`: its work stays recorded, and pods on
    /// RunPod keep running and are picked up again by the next server (the embedded emulator's
    /// simulated pods end with it).
    Stop {
        #[arg(long)]
        json: bool,
    },
}

pub async fn server(c: ServerCommand) -> Result<(), UserError> {
    let home = home();
    let running = Api::local_server(&home).await;
    match c {
        ServerCommand::Status { json } => {
            if json {
                let v = match &running {
                    Some((url, pid)) => {
                        serde_json::json!({"running": true, "url": url, "pid": pid})
                    }
                    None => serde_json::json!({"running": false}),
                };
                out!("{v}");
            } else if let Some((url, pid)) = &running {
                out!(
                    "the local server runs on {url} (pid {pid}); `podwarden server stop` stops it"
                );
            } else {
                out!("no local server runs (for {}); any command starts one", home.display());
            }
            Ok(())
        }
        ServerCommand::Stop { json } => {
            let Some((url, pid)) = running else {
                // A stale record (a crash, a reboot) is dropped, never acted on.
                let _ = std::fs::remove_file(home.join("server.json"));
                if json {
                    out!("{}", serde_json::json!({"stopped": false, "running": false}));
                } else {
                    note!("no local server runs; nothing to stop");
                }
                return Ok(());
            };
            terminate(pid)?;
            // Stopped once its port no longer answers (it finishes its passes and closes).
            let deadline = Instant::now() + Duration::from_secs(60);
            while Api::local_server(&home).await.is_some() {
                if Instant::now() > deadline {
                    return Err(UserError {
                        error: anyhow!("the local server (pid {pid}) is still running after 60 s"),
                        hint: Some(format!("see {}", home.join("server.log").display())),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = std::fs::remove_file(home.join("server.json"));
            if json {
                out!("{}", serde_json::json!({"stopped": true, "url": url, "pid": pid}));
            } else {
                note!("stopped the local server on {url} (pid {pid})");
            }
            Ok(())
        }
    }
}

/// SIGTERM to the recorded server: it answered on its recorded URL just before, so the pid is
/// the server's and not a reused one.
fn terminate(pid: u32) -> Result<(), UserError> {
    #[cfg(unix)]
    {
        let pid = i32::try_from(pid).map_err(|_| anyhow!("server.json holds a bad pid {pid}"))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
            .map_err(|e| anyhow!("cannot stop the local server (pid {pid}): {e}"))?;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        Err(UserError {
            error: anyhow!("stopping the local server is supported on Unix only (pid {pid})"),
            hint: Some("stop it from your task manager".into()),
        })
    }
}
