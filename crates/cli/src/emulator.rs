//! `podwarden emulator`: a standalone local RunPod.

#[cfg(feature = "embedded-emulator")]
use crate::UserError;
#[cfg(feature = "embedded-emulator")]
use anyhow::Context;
#[cfg(feature = "embedded-emulator")]
use runpod_emulator::{EmulatorConfig, Options, start};
#[cfg(feature = "embedded-emulator")]
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[cfg(feature = "embedded-emulator")]
/// Options of `podwarden emulator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8710)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The account API key clients must send (default: a random one, printed).
    #[arg(long, env = "PODWARDEN_EMULATOR_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Directory for pod workspaces and worker directories (default: a temporary one).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// TOML config: catalog, account, delays, faults, images (see docs/emulator.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run pods and workers as plain processes when bubblewrap is not available: they then
    /// share this machine's files and tools, and their volumes are not at RunPod's paths.
    #[arg(long, env = "PODWARDEN_EMULATOR_UNSANDBOXED")]
    unsandboxed: bool,
    /// A port of this machine's loopback pods and workers may reach besides the emulator's own
    /// (a podwarden server's, for callbacks); repeatable. Nothing else of the host's network is
    /// theirs.
    #[arg(long = "allow-port", value_name = "PORT")]
    allow_ports: Vec<u16>,
}

/// The embedded emulator's network volume for `quickstart`: its files are `home/store`, so
/// the CLI can put the data on it (what `podwarden cp` does over RunPod's S3 API).
pub const QUICKSTART_VOLUME: &str = "pwquickstart";
#[cfg_attr(not(feature = "embedded-emulator"), allow(dead_code))]
pub const QUICKSTART_VOLUME_DC: &str = "EU-RO-1";
pub const QUICKSTART_VOLUME_NAME: &str = "podwarden-quickstart";

/// The host directory of the quickstart volume's files.
#[cfg_attr(not(feature = "embedded-emulator"), allow(dead_code))]
pub fn quickstart_store(home: &std::path::Path) -> PathBuf {
    let dir = home.join("store");
    std::path::absolute(&dir).unwrap_or(dir)
}

#[cfg(feature = "embedded-emulator")]
/// Seeds the quickstart's network volume over `home/store` (embedded emulator only).
pub fn quickstart_volume(cfg: &mut EmulatorConfig, home: &std::path::Path) {
    if cfg.volumes.iter().any(|v| v.id == QUICKSTART_VOLUME) {
        return;
    }
    let dir = quickstart_store(home);
    cfg.volumes.push(runpod_emulator::config::VolumeSeed {
        id: QUICKSTART_VOLUME.into(),
        name: QUICKSTART_VOLUME_NAME.into(),
        data_center: QUICKSTART_VOLUME_DC.into(),
        size: 10,
        dir: Some(dir),
    });
}

#[cfg(feature = "embedded-emulator")]
/// Gives the images whose programs are podwarden's own (`podwarden-tabular`,
/// `podwarden-echo-worker`, the sshd of images that ship one) this binary, which answers to
/// those names (`main.rs`), unless the config declares them itself.
pub fn own_images(cfg: &mut EmulatorConfig) {
    let Ok(exe) = std::env::current_exe() else { return };
    if cfg.sshd_program.is_none() {
        cfg.sshd_program = Some(exe.clone());
    }
    let defaults = runpod_emulator::image::default_images();
    for (name, tool) in [
        ("ghcr.io/podwarden/podwarden-tabular:*", "podwarden-tabular"),
        ("podwarden/echo-worker:demo", "podwarden-echo-worker"),
    ] {
        if cfg.images.contains_key(name) {
            continue;
        }
        if let Some(mut img) = defaults.get(name).cloned() {
            img.tools.retain(|t| t != tool);
            img.host_tools.insert(tool.into(), exe.clone());
            cfg.images.insert(name.into(), img);
        }
    }
    // The tabular image under the name `@tabular` resolves to here (PODWARDEN_IMAGE_TABULAR).
    if let Ok(name) = podwarden_core::images::resolve_env("@tabular") {
        let known = runpod_emulator::image::lookup(&cfg.images, &defaults, &name).is_some();
        if !known {
            if let Some(img) = cfg.images.get("ghcr.io/podwarden/podwarden-tabular:*").cloned() {
                cfg.images.insert(name, img);
            }
        }
    }
}

#[cfg(feature = "embedded-emulator")]
/// Reads an emulator config file (`--config`, and `serve --emulator-config`).
pub fn load_config(p: &std::path::Path) -> Result<EmulatorConfig, UserError> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config file {}", p.display()))?;
    EmulatorConfig::from_toml(&text).map_err(|e| UserError {
        error: anyhow::anyhow!("invalid emulator config {}: {e}", p.display()),
        hint: Some("see docs/emulator.md for every key; unknown keys are rejected".into()),
    })
}

#[cfg(feature = "embedded-emulator")]
pub async fn run(a: Args) -> Result<(), UserError> {
    let mut cfg = match &a.config {
        Some(p) => load_config(p)?,
        None => EmulatorConfig::default(),
    };
    if a.api_key.is_some() {
        cfg.api_key = a.api_key.clone();
    }
    if a.state_dir.is_some() {
        cfg.state_dir = a.state_dir.clone();
    }
    cfg.unsandboxed |= a.unsandboxed;
    cfg.allow_host_ports.extend(&a.allow_ports);
    own_images(&mut cfg);
    let emu = start(cfg, Options { addr: SocketAddr::new(a.host, a.port), record: false })
        .await
        .map_err(|e| {
            let taken = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
            });
            UserError {
                hint: taken
                    .then(|| format!("port {} is taken; try --port 0 for a free one", a.port)),
                error: e,
            }
        })?;
    if emu.shared.runner.isolation() == runpod_emulator::process::Isolation::Unsandboxed {
        note!(
            "warning: containers run UNSANDBOXED: they see this machine's files and tools (--unsandboxed)"
        );
    }
    let base = emu.base_url();
    out!("podwarden emulator: a local RunPod on {base}");
    // Second and third lines: the S3 API of network volumes (tests parse them).
    let s3: Vec<String> = emu.s3_urls().iter().map(|(dc, url)| format!("{dc}={url}")).collect();
    out!(
        "  S3 API:         {} (bucket = network volume id, region = data center id)",
        s3.join(" ")
    );
    if let Some((key, secret)) = emu.s3_credentials(emu.api_key().expose()) {
        out!("  S3 key:         {key} {secret} (access key id and secret; not the API key)");
    }
    out!("  REST v2:        {base}/v2/pods, /v2/serverless, /v2/templates, /v2/catalog/gpus, ...");
    out!("  serverless API: {base}/v2/{{endpoint_id}}/run|runsync|status|stream|cancel|health");
    out!("  GraphQL:        {base}/graphql");
    out!("  admin:          {base}/_emulator/state");
    out!();
    out!("Point clients at it:");
    out!("  export RUNPOD_REST_URL={base}");
    out!("  export RUNPOD_ENDPOINT_BASE_URL={base}/v2");
    out!("  export RUNPOD_API_BASE_URL={base}");
    out!("  export RUNPOD_API_KEY={}", emu.api_key().expose());
    out!();
    out!("Ctrl-C stops it and every process it started.");
    shutdown_signal().await;
    note!("stopping: killing pods and workers…");
    emu.shutdown().await;
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
