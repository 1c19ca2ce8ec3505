//! `podwarden bot`: the statistical-modeling bot (seed `000_*`) on Telegram, as a client of
//! podwarden's REST API like the dashboard. A person sends a CSV; the bot asks for the target,
//! the features and the model, then cloud (a RunPod GPU pod, billed per second) or local (this
//! machine); for the cloud it recommends a GPU by the seed's rules with live prices, shows the
//! estimated time and cost, and after a confirmation keeps one message updated with the stage,
//! the progress and the last log lines until the score, the cost and the model's id. Predict
//! runs a CSV through a model (the predict endpoint for cloud models, this machine for local
//! ones) and answers with the first rows and the whole CSV.
//!
//! What it owns: `accounts` (Telegram user → podwarden user and token, their models, and the
//! cloud runs being followed — followed again after a restart — in a 0600 file); the conversations (`conversation`, in memory: a restart forgets half-asked
//! questions, never jobs); the local store of local models. Everything else — jobs, pods,
//! volumes, endpoints, budgets, costs — is podwarden's, reached through the API with each
//! person's own token, so a person sees only their own work and the operator's spend caps hold.
//!
//! Invariants: a Telegram user becomes a podwarden user only by redeeming an operator's invite
//! code; every Telegram call is retried on 429 (after `retry_after`) and on 5xx and network
//! errors; no token or key is ever written to a message or a log.

mod accounts;
mod conversation;
mod plan;
mod podwarden;
mod predict;
mod telegram;
mod text;
mod train;

use std::path::PathBuf;
use std::sync::Arc;
use teloxide::prelude::*;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How to run the bot.
#[derive(Clone)]
pub struct Config {
    /// The bot's token from @BotFather (`TELEGRAM_BOT_TOKEN`).
    pub telegram_token: String,
    /// Telegram's Bot API (default `https://api.telegram.org`; a local Bot API server or a
    /// test's fake otherwise).
    pub telegram_api: Option<url::Url>,
    /// The podwarden server.
    pub server: String,
    /// Where the bot keeps its accounts file and the local store.
    pub data_dir: PathBuf,
    /// The image that trains and predicts (`@tabular`: podwarden's tabular image).
    pub image: String,
    /// Where each person's network volume is made (default: where the most GPU types are).
    pub data_center: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("telegram_api", &self.telegram_api.as_ref().map(url::Url::as_str))
            .field("server", &self.server)
            .field("data_dir", &self.data_dir)
            .field("image", &self.image)
            .field("data_center", &self.data_center)
            .finish_non_exhaustive()
    }
}

/// What the handlers share.
pub(crate) struct App {
    pub cfg: Config,
    pub tg: telegram::Tg,
    pub http: reqwest::Client,
    pub accounts: accounts::Accounts,
    pub chats: conversation::Chats,
    /// Local models and their data (`datasets/<user>/…`, `models/<user>/…`).
    pub local: podwarden_tabular::storage::Storage,
    /// Training and prediction runs, awaited at shutdown.
    pub runs: TaskTracker,
    pub shutdown: CancellationToken,
}

impl App {
    /// Runs `work` in its own task (awaited at shutdown) for the run whose message is `msg`;
    /// an error is logged and concludes that message with `failed(error)`.
    pub(crate) fn spawn_run(
        self: &Arc<Self>,
        chat: ChatId,
        msg: teloxide::types::MessageId,
        failed: fn(&str) -> String,
        work: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let app = self.clone();
        self.runs.spawn(async move {
            if let Err(e) = work.await {
                tracing::warn!(error = %format!("{e:#}"), "a run failed");
                let _ = app.tg.conclude(chat, msg, &failed(&text::short(&e))).await;
            }
        });
    }

    /// A podwarden client with `token`.
    pub(crate) fn client(&self, token: &str) -> anyhow::Result<podwarden_api::Client> {
        Ok(podwarden_api::Client::with_http(self.http.clone(), &self.cfg.server, token)?)
    }
}

/// Runs the bot until `shutdown` (or Ctrl-C) fires.
pub async fn run(cfg: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
    let local_dir = cfg.data_dir.join("local-store");
    std::fs::create_dir_all(&local_dir)?;
    let local = podwarden_tabular::storage::Storage::local(&local_dir)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", local_dir.display()))?;
    let accounts = accounts::Accounts::open(&cfg.data_dir.join("accounts.json"))?;
    // Long polls hold for 10 s; a request may take a little longer.
    let http =
        reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10)).build()?;
    let tg_http = teloxide::net::default_reqwest_settings()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut bot = Bot::with_client(&cfg.telegram_token, tg_http);
    if let Some(api) = &cfg.telegram_api {
        bot = bot.set_api_url(api.clone());
    }
    let app = Arc::new(App {
        cfg,
        tg: telegram::Tg::new(bot.clone()),
        http,
        accounts,
        chats: conversation::Chats::default(),
        local,
        runs: TaskTracker::new(),
        shutdown: shutdown.clone(),
    });
    // The command menu Telegram shows; without it the bot still answers every command.
    if let Err(e) = app.tg.commands().await {
        tracing::warn!(error = %e, "cannot set the bot's command menu");
    }
    // Runs a previous process left unfinished are followed again (their jobs went on).
    train::resume(&app);
    let handler = dptree::entry()
        .branch(Update::filter_message().endpoint(conversation::on_message))
        .branch(Update::filter_callback_query().endpoint(conversation::on_callback));
    let mut dispatcher = Dispatcher::builder(bot.clone(), handler)
        .dependencies(dptree::deps![app.clone()])
        .default_handler(|_| async {})
        .error_handler(teloxide::error_handlers::LoggingErrorHandler::with_custom_text(
            "a bot handler failed",
        ))
        .build();
    let stop = dispatcher.shutdown_token();
    let watcher = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                r = tokio::signal::ctrl_c() => { if r.is_ok() { shutdown.cancel(); } }
            }
            // The dispatcher may still be starting; try until it takes the stop.
            loop {
                match stop.shutdown() {
                    Ok(done) => {
                        done.await;
                        break;
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            }
        }
    });
    let listener = teloxide::update_listeners::Polling::builder(bot.clone())
        .timeout(std::time::Duration::from_secs(10))
        .delete_webhook()
        .await
        .build();
    tracing::info!(server = %app.cfg.server, "the bot is polling Telegram for updates");
    dispatcher
        .try_dispatch_with_listener(
            listener,
            teloxide::error_handlers::LoggingErrorHandler::with_custom_text(
                "cannot get updates from Telegram (retrying)",
            ),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Telegram's Bot API: {e}"))?;
    shutdown.cancel();
    let _ = watcher.await;
    app.runs.close();
    app.runs.wait().await;
    Ok(())
}
