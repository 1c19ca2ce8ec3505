//! `podwarden bot`: the Telegram bot (crate `podwarden-bot`), pointed at this CLI's server.

use crate::UserError;
use anyhow::anyhow;

/// `podwarden bot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Telegram's Bot API (a local Bot API server, or a test's fake); default
    /// https://api.telegram.org.
    #[arg(long, env = "TELEGRAM_API_URL")]
    telegram_api: Option<String>,
    /// Where the bot keeps its accounts file (0600) and local models; default
    /// `$PODWARDEN_HOME/bot`.
    #[arg(long, env = "PODWARDEN_BOT_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// The image that trains and predicts (podwarden's tabular image).
    #[arg(long, env = "PODWARDEN_BOT_IMAGE", default_value = "@tabular")]
    image: String,
    /// The data center of each person's network volume (default: the one with the most GPU
    /// types on offer).
    #[arg(long, env = "PODWARDEN_BOT_DATA_CENTER")]
    data_center: Option<String>,
}

pub async fn run(a: Args) -> Result<(), UserError> {
    // From the environment only: an argument would show in `ps`.
    let token = std::env::var("TELEGRAM_BOT_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UserError {
            error: anyhow!("TELEGRAM_BOT_TOKEN is not set"),
            hint: Some(
                "create a bot with @BotFather and export its token as TELEGRAM_BOT_TOKEN".into(),
            ),
        })?;
    let telegram_api = match a.telegram_api.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => Some(url::Url::parse(u).map_err(|e| UserError {
            error: anyhow!("TELEGRAM_API_URL {u:?} is not a URL: {e}"),
            hint: Some("e.g. http://127.0.0.1:8081 for a local Bot API server".into()),
        })?),
        None => None,
    };
    // The server: PODWARDEN_URL, else the local one (started if needed). The bot calls it with
    // each person's own token, and signs people up with invite codes; it needs no admin token.
    let server = match std::env::var("PODWARDEN_URL").ok().filter(|u| !u.is_empty()) {
        Some(u) => u,
        None => crate::local::Api::connect().await?.base().to_owned(),
    };
    let cfg = podwarden_bot::Config {
        telegram_token: token,
        telegram_api,
        server,
        data_dir: a.data_dir.unwrap_or_else(|| crate::local::home().join("bot")),
        image: a.image,
        data_center: a.data_center,
    };
    note!("the bot talks to the podwarden server at {}; Ctrl-C stops it", cfg.server);
    podwarden_bot::run(cfg, tokio_util::sync::CancellationToken::new()).await.map_err(|e| {
        UserError { error: e, hint: Some("check TELEGRAM_BOT_TOKEN and the network".into()) }
    })
}
