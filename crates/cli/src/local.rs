//! Finding (or starting) the server the CLI talks to: `PODWARDEN_URL` + `PODWARDEN_TOKEN` when
//! set, else the local server recorded in `PODWARDEN_HOME` (default `~/.podwarden`), started
//! in the background when none answers — so budgets and deadlines keep being enforced after
//! the CLI exits.

use crate::UserError;
use anyhow::{Context, anyhow};
use server::api::{ErrorBody, Status};
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

/// A connection to a server.
#[derive(Debug, Clone)]
pub struct Api {
    pub url: String,
    token: String,
    http: reqwest::Client,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ServerFile {
    url: String,
    pid: u32,
}

impl Api {
    /// Connects per the environment, starting a local server if needed.
    pub async fn connect() -> Result<Self, UserError> {
        let http = reqwest::Client::builder().build()?;
        if let Ok(url) = std::env::var("PODWARDEN_URL") {
            let token = std::env::var("PODWARDEN_TOKEN").map_err(|_| UserError {
                error: anyhow!("PODWARDEN_URL is set but PODWARDEN_TOKEN is not"),
                hint: Some("export the server's token as PODWARDEN_TOKEN".into()),
            })?;
            return Ok(Self { url: url.trim_end_matches('/').to_owned(), token, http });
        }
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
        eprintln!("started a local podwarden server (log: {})", home.join("server.log").display());
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
        let api = Self { url: f.url, token, http: http.clone() };
        api.get::<Status>("/api/v1/status").await.ok().map(|_| api)
    }

    /// Records this process as the local server.
    pub fn record(home: &std::path::Path, url: &str) -> anyhow::Result<()> {
        let f = ServerFile { url: url.to_owned(), pid: std::process::id() };
        std::fs::write(home.join("server.json"), serde_json::to_vec(&f)?)
            .context("cannot write server.json")
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, UserError> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let mut e = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => UserError { error: anyhow!("{}", e.message), hint: e.hint },
            Err(_) => UserError {
                error: anyhow!(
                    "the server answered {status}: {}",
                    body.chars().take(500).collect::<String>()
                ),
                hint: None,
            },
        };
        if status.is_server_error() {
            // The server or RunPod failed: not the user's doing (exit 2).
            let hint = e.hint.take();
            e = UserError { hint, ..UserError::from(e.error) };
        }
        Err(e)
    }

    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, UserError> {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .context("cannot reach the podwarden server")?;
        Ok(Self::check(r).await?.json().await.context("unexpected answer from the server")?)
    }

    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, UserError> {
        self.send(self.http.post(format!("{}{path}", self.url)).json(body)).await
    }

    /// POSTs `body` to a route that answers without a body (204).
    pub async fn post_no_content(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(), UserError> {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .bearer_auth(&self.token)
            .send()
            .await
            .context("cannot reach the podwarden server")?;
        Self::check(r).await.map(|_| ())
    }

    pub async fn delete<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, UserError> {
        self.send(self.http.delete(format!("{}{path}", self.url))).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, UserError> {
        let r = req
            .bearer_auth(&self.token)
            .send()
            .await
            .context("cannot reach the podwarden server")?;
        Ok(Self::check(r).await?.json().await.context("unexpected answer from the server")?)
    }

    /// An SSE stream of the job's pod logs.
    pub async fn logs(&self, job: &str) -> Result<reqwest::Response, UserError> {
        self.request(reqwest::Method::GET, &format!("/api/v1/jobs/{job}/logs"), |r| r).await
    }

    /// Sends a request (with the token) that `build` finishes, and checks its status; the
    /// caller reads the body (streams: logs, volume files).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UserError> {
        let req = build(
            self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token),
        );
        let r = req.send().await.context("cannot reach the podwarden server")?;
        Self::check(r).await
    }
}
