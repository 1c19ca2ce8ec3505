//! `podwarden doctor`: checks that a deployment can work before a job finds out it cannot —
//! the RunPod key (a REST v2 call) and its account's balance and spend limit, the public URL
//! pods report to, the data directory and its secrets, and the images the examples run. Each
//! problem says what is wrong and how to fix it; `--json` prints the same for scripts. Exit code
//! 1 when any check fails.
//!
//! The checks read only the environment `podwarden serve` reads; they never print a key.

use crate::UserError;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the checks as JSON (`{"ok": bool, "checks": [...]}`).
    #[arg(long)]
    json: bool,
    /// Skip asking container registries whether the examples' images exist.
    #[arg(long)]
    offline: bool,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Ok, detail: detail.into(), fix: None }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, status: Status::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    checks: &'a [Check],
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub async fn run(a: Args) -> Result<(), UserError> {
    let checks = checks(&crate::local::home(), a.offline).await;
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    if a.json {
        out!("{}", serde_json::to_string_pretty(&Report { ok, checks: &checks })?);
    } else {
        for c in &checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            out!("{mark} {:<12} {}", c.name, c.detail);
            if let Some(f) = &c.fix {
                out!("     {:<12} fix: {f}", "");
            }
        }
    }
    if ok {
        Ok(())
    } else {
        Err(UserError {
            error: if a.json {
                anyhow::Error::new(crate::Reported("some checks failed".into()))
            } else {
                anyhow::anyhow!("some checks failed")
            },
            hint: Some("apply the fixes above and run `podwarden doctor` again".into()),
        })
    }
}

/// Every check, in the order a user would fix them.
pub async fn checks(home: &Path, offline: bool) -> Vec<Check> {
    let on_runpod = env("RUNPOD_API_KEY").is_some();
    let mut out = Vec::new();
    out.extend(key_and_account(home).await);
    out.push(public_url(on_runpod));
    out.extend(data_dir(home, on_runpod));
    out.extend(images(on_runpod, offline).await);
    out
}

async fn key_and_account(home: &Path) -> Vec<Check> {
    if env("RUNPOD_API_KEY").is_none() {
        let byok = env("PODWARDEN_PROVIDER").as_deref() == Some("runpod");
        return vec![if byok {
            Check::ok(
                "runpod_key",
                "no operator key and PODWARDEN_PROVIDER=runpod: BYOK only, every user computes on their own key",
            )
        } else {
            Check::warn(
                "runpod_key",
                "RUNPOD_API_KEY is not set: `podwarden serve` runs jobs on its embedded emulator, not on RunPod",
                "export RUNPOD_API_KEY=<key> (RunPod console → Settings → API Keys) to run on RunPod, or PODWARDEN_PROVIDER=runpod for BYOK only",
            )
        }];
    }
    let client = match runpod::Client::from_env() {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
                "runpod_key",
                format!("the RunPod settings are invalid: {e}"),
                "check RUNPOD_REST_URL and RUNPOD_ENDPOINT_BASE_URL",
            )];
        }
    };
    let at = client.rest_url().to_string();
    let (key, strays_check) = match client.list_pods_brief().await {
        Ok(pods) => (
            Check::ok(
                "runpod_key",
                format!(
                    "the key works against REST v2 at {at} ({} pods on the account)",
                    pods.len()
                ),
            ),
            strays(home, &pods),
        ),
        Err(e) => {
            let fix = match e.kind() {
                runpod::ErrorKind::Unauthorized => {
                    "RunPod rejected the key: create a new one in RunPod's console → Settings → API Keys"
                }
                runpod::ErrorKind::Forbidden => {
                    "the key lacks a scope podwarden needs: give it read/write on pods, endpoints, templates and network volumes"
                }
                runpod::ErrorKind::RateLimited => {
                    "the account's request budget is spent: wait, and lower other tools' polling"
                }
                _ => "check the network path to RunPod (proxy, firewall) and RUNPOD_REST_URL",
            };
            return vec![Check::fail("runpod_key", format!("GET {at}v2/pods failed: {e}"), fix)];
        }
    };
    let account = account(&client).await;
    let secrets = secrets(&client).await;
    vec![key, account, secrets, strays_check]
}

/// The account's balance and spend limit: REST v2 where the account has the routes
/// (documented without a confirmed path), else GraphQL `myself` (retiring in early 2027).
async fn account(client: &runpod::Client) -> Check {
    let v2 = match (client.account_limits().await, client.account_balance().await) {
        (Ok(l), Ok(b)) => Some(runpod::types::graphql::Myself {
            client_balance: b.balance_amount,
            current_spend_per_hr: l.spend_rate.current.unwrap_or(0.0),
            spend_limit: l.spend_rate.limit.unwrap_or(0.0),
            ..Default::default()
        }),
        _ => None,
    };
    let source = if v2.is_some() { "REST v2" } else { "GraphQL `myself`" };
    let me = match v2 {
        Some(me) => Ok(me),
        None => client.myself().await,
    };
    match me {
        Ok(me) if me.client_balance <= 0.0 => Check::fail(
            "account",
            format!(
                "the account's balance is {}: RunPod starts no pod or worker",
                usd(me.client_balance)
            ),
            "add funds in RunPod's console → Billing",
        ),
        Ok(me) if me.current_spend_per_hr >= me.spend_limit && me.spend_limit > 0.0 => Check::fail(
            "account",
            format!(
                "spending {}/h, at the account's {}/h spend limit: no new pod can start",
                usd(me.current_spend_per_hr),
                usd(me.spend_limit)
            ),
            "stop pods you do not need, or ask RunPod to raise the spend limit",
        ),
        Ok(me) if me.client_balance < 5.0 => Check::warn(
            "account",
            format!(
                "balance {} is low (spending {}/h of a {}/h limit)",
                usd(me.client_balance),
                usd(me.current_spend_per_hr),
                usd(me.spend_limit)
            ),
            "add funds in RunPod's console → Billing before long jobs",
        ),
        Ok(me) => Check::ok(
            "account",
            format!(
                "balance {}, spending {}/h of a {}/h limit ({source})",
                usd(me.client_balance),
                usd(me.current_spend_per_hr),
                usd(me.spend_limit)
            ),
        ),
        Err(e) => Check::warn(
            "account",
            format!("cannot read the balance and spend limit ({source}): {e}"),
            "give the key read access to the account, or check the balance in RunPod's console",
        ),
    }
}

/// Whether the key can use account secrets (how job tokens reach pods).
async fn secrets(client: &runpod::Client) -> Check {
    match client.list_secrets().await {
        Ok(all) => Check::ok(
            "secrets",
            format!(
                "the key can use account secrets ({} on the account): job tokens reach pods as secrets, not in their env",
                all.len()
            ),
        ),
        Err(e) => Check::warn(
            "secrets",
            format!(
                "cannot list the account's secrets ({e}): job tokens will go into the pods' env, readable by anyone who can list this account's pods"
            ),
            "give the key access to account secrets (RunPod console → Settings → API Keys)",
        ),
    }
}

/// Pods another podwarden install named (a lost data directory's, or another podwarden on
/// this account): they bill, and this install will not touch them unasked.
fn strays(home: &Path, pods: &[runpod::types::pods::PodBrief]) -> Check {
    let own = std::fs::read_to_string(home.join("install_id")).ok().map(|s| s.trim().to_owned());
    let mut by_install: std::collections::BTreeMap<&str, (usize, f64)> =
        std::collections::BTreeMap::new();
    for p in pods.iter().filter(|p| p.status != runpod::types::pods::PodStatus::Terminated) {
        if let Some(i) =
            podwarden_engine::strays::install_of(&p.name).filter(|i| Some(*i) != own.as_deref())
        {
            let e = by_install.entry(i).or_default();
            e.0 += 1;
            e.1 += p.cost;
        }
    }
    if by_install.is_empty() {
        return Check::ok("strays", "no pod of another podwarden install on the account");
    }
    let list: Vec<String> = by_install
        .iter()
        .map(|(i, (n, c))| format!("{n} of install {i} ({}/h)", usd(*c)))
        .collect();
    Check::warn(
        "strays",
        format!("pods named by another podwarden install are on the account: {}", list.join(", ")),
        "if no podwarden of yours runs as that install any more, terminate them: POST /api/v1/strays/reap {\"install\": \"<id>\"} (admin), or in RunPod's console",
    )
}

fn public_url(on_runpod: bool) -> Check {
    if !on_runpod {
        return Check::ok(
            "public_url",
            "not needed: the embedded emulator's pods reach the server locally",
        );
    }
    let url = env("PODWARDEN_PUBLIC_URL");
    if let Some(rest) = env("RUNPOD_REST_URL").and_then(|u| u.parse::<url::Url>().ok()) {
        if url.is_none() && podwarden_server::is_local_provider(&rest) {
            return Check::ok(
                "public_url",
                format!("not needed: the provider at {rest} runs its pods on this machine"),
            );
        }
    }
    match podwarden_server::check_public_url(url.as_deref()) {
        Ok(()) if url.as_deref() == Some("none") => Check::warn(
            "public_url",
            "PODWARDEN_PUBLIC_URL=none: no callbacks; exits are read from pod logs (up to two ticks later) and pods post no metrics",
            "serve podwarden at an https URL pods can reach (docs/deployment.md) and set PODWARDEN_PUBLIC_URL to it",
        ),
        Ok(()) => Check::ok("public_url", format!("pods report to {}", url.unwrap_or_default())),
        Err(e) => Check::fail(
            "public_url",
            format!("{e:#}"),
            "see docs/deployment.md: TLS behind a reverse proxy, reachable from RunPod",
        ),
    }
}

fn data_dir(home: &Path, on_runpod: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let probe = home.join(".doctor-probe");
    let writable = std::fs::create_dir_all(home)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    out.push(match writable {
        Ok(()) => Check::ok("data_dir", format!("{} is writable", home.display())),
        Err(e) => Check::fail(
            "data_dir",
            format!("{} is not writable: {e}", home.display()),
            "set PODWARDEN_HOME to a directory the server's user owns",
        ),
    });
    #[cfg(unix)]
    for name in ["token", "secret", "secret_key"] {
        use std::os::unix::fs::PermissionsExt;
        let path = home.join(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                out.push(Check::fail(
                    "data_dir",
                    format!(
                        "{} is readable by others (mode {mode:o}): it holds a secret",
                        path.display()
                    ),
                    format!("chmod 600 {}", path.display()),
                ));
            }
        }
    }
    if on_runpod {
        out.push(match env("PODWARDEN_SECRET_KEY") {
            Some(k) if k.len() >= 32 => Check::ok("secret_key", "PODWARDEN_SECRET_KEY is set: users' RunPod keys are sealed with it"),
            Some(_) => {
                Check::fail("secret_key", "PODWARDEN_SECRET_KEY is shorter than 32 characters", "generate one with `openssl rand -hex 32`")
            }
            None => Check::fail(
                "secret_key",
                "PODWARDEN_SECRET_KEY is not set: against RunPod the server refuses to start without it (it seals users' keys)",
                "export PODWARDEN_SECRET_KEY=$(openssl rand -hex 32) and keep it outside the data directory",
            ),
        });
    }
    out
}

/// Images the shipped examples run (`examples/*.toml`).
pub const EXAMPLE_IMAGES: &[&str] =
    &["python:3.11-slim", "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04", "@tabular"];

async fn images(on_runpod: bool, offline: bool) -> Vec<Check> {
    #[cfg(not(feature = "embedded-emulator"))]
    if !on_runpod {
        return vec![Check::ok("images", "no embedded emulator in this build: nothing to check")];
    }
    #[cfg(feature = "embedded-emulator")]
    if !on_runpod {
        // The embedded emulator runs only declared images (docs/emulator.md).
        let mut cfg = runpod_emulator::EmulatorConfig::default();
        crate::emulator::own_images(&mut cfg);
        let defaults = runpod_emulator::image::default_images();
        let missing: Vec<String> = EXAMPLE_IMAGES
            .iter()
            .map(|i| podwarden_core::images::resolve_env(i).unwrap_or_else(|_| (*i).to_owned()))
            .filter(|i| runpod_emulator::image::lookup(&cfg.images, &defaults, i).is_none())
            .collect();
        return vec![if missing.is_empty() {
            Check::ok(
                "images",
                format!(
                    "the embedded emulator runs every example image ({})",
                    EXAMPLE_IMAGES.len()
                ),
            )
        } else {
            Check::fail(
                "images",
                format!("the embedded emulator does not know {}", missing.join(", ")),
                "declare them under [images] in the emulator config",
            )
        }];
    }
    if offline {
        return vec![Check::warn(
            "images",
            "not checked (--offline)",
            "run without --offline where registries are reachable",
        )];
    }
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            return vec![Check::warn(
                "images",
                format!("cannot build an HTTP client: {e}"),
                "run again",
            )];
        }
    };
    let mut out = Vec::new();
    for image in EXAMPLE_IMAGES {
        let image =
            &podwarden_core::images::resolve_env(image).unwrap_or_else(|_| (*image).to_owned());
        out.push(match podwarden_server::registry::manifest_exists(&http, image, false).await {
            Ok(true) => Check::ok("images", format!("{image} can be pulled")),
            Ok(false) => Check::fail(
                "images",
                format!("{image} does not exist or is private: pods using it would retry the pull forever"),
                "build and push it (Dockerfile, .github/workflows) or set `image` to one that exists; private images need `registry_auth`",
            ),
            Err(e) => Check::warn(
                "images",
                format!("cannot ask the registry about {image}: {e:#}"),
                "check this machine's network, or use --offline",
            ),
        });
    }
    out
}

/// Dollars to the cent, as people write them: `$0.00` for a float that sums to `-0.000001`
/// (RunPod's `currentSpendPerHr` after pods stop), `-$1.50` for a debt.
fn usd(v: f64) -> String {
    // `+ 0.0` turns a rounded -0.0 into 0.0, which formats without its sign.
    let cents = (v * 100.0).round() + 0.0;
    if cents < 0.0 { format!("-${:.2}", -cents / 100.0) } else { format!("${:.2}", cents / 100.0) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_never_print_a_negative_zero() {
        assert_eq!(super::usd(-0.000_01), "$0.00");
        assert_eq!(super::usd(0.694_9), "$0.69");
        assert_eq!(super::usd(-1.5), "-$1.50");
    }
}
