//! `podwarden`: the command-line front of podwarden.
//!
//! A thin client of the podwarden server (`run`, `ps`, `logs`, `stop`, `cost`, `gpus`), which it
//! starts in the background when none answers; plus `serve`, the local RunPod emulator
//! (`emulator`) and a guided tour of the raw RunPod flow (`demo`). Errors print as `error:`, a
//! `Caused by:` chain and a `hint:` when one exists; exit code 0 is success, 1 a user or job
//! error, 2 anything unexpected.
//!
//! Owns: commands and their output (`print.rs`: data on stdout, messages on stderr). Must not:
//! build API paths (`podwarden-api`'s client does) or use the server's types for its client
//! commands.

#[macro_use]
mod print;

mod aws_prices;
mod bot;
mod commands;
#[cfg(feature = "embedded-emulator")]
mod demo;
mod doctor;
mod echo_worker;
mod emulator;
mod endpoint;
mod local;
mod progress;
mod quickstart;
mod run;
mod serve;
mod serverless;
mod ssh;
mod staging;
mod transfer;
mod volume;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "podwarden", version, about = "Run ML work on rented GPUs without leaking money")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job from a spec: cheapest GPU that fits, limits enforced, torn down at the end.
    Run(run::RunArgs),
    /// List jobs.
    Ps(commands::PsArgs),
    /// Show a job's pod logs.
    Logs(commands::LogsArgs),
    /// Stop a job (its pods are terminated).
    Stop(commands::StopArgs),
    /// Open a shell on a job's pod (a job with `ssh`), or run a command there: waits until the
    /// pod has booted, then runs the system's ssh.
    Ssh(ssh::SshArgs),
    /// Run a failed or timed-out serverless job again (RunPod's `/retry`, the same input).
    Retry(commands::RetryArgs),
    /// Notifications: where your job endings and budget alerts are POSTed (set, show, rm).
    #[command(subcommand)]
    Webhook(commands::WebhookCommand),
    /// Spend per job, per GPU type and per day.
    Cost(commands::CostArgs),
    /// GPU offers that fit, cheapest first.
    Gpus(commands::GpusArgs),
    /// Serverless endpoints: deploy (create or update in place), ls, rm.
    #[command(subcommand)]
    Endpoint(endpoint::Command),
    /// Network volumes: create, ls, rm.
    #[command(subcommand)]
    Volume(volume::Command),
    /// Copy a file to or from a network volume (`vol:NAME/path`) over RunPod's S3 API, or AWS's
    /// S3 (`s3://BUCKET/KEY`).
    Cp(volume::CpArgs),
    /// A fresh EC2 price table from AWS's Price List bulk file of a region (for
    /// PODWARDEN_AWS_PRICES).
    AwsPrices(aws_prices::Args),
    /// Run the podwarden server (the CLI starts one in the background when needed).
    Serve(Box<serve::ServeArgs>),
    /// The local server the CLI started in the background: status, stop.
    #[command(subcommand)]
    Server(local::ServerCommand),
    /// Serve a local RunPod emulator: REST v2, serverless job API, worker callbacks, GraphQL.
    #[cfg(feature = "embedded-emulator")]
    Emulator(emulator::Args),
    /// Start an emulator and drive a pod and a serverless job through it, end to end.
    #[cfg(feature = "embedded-emulator")]
    Demo(demo::Args),
    /// Check the RunPod key and account, the public URL, the data directory and secrets, and
    /// the examples' images; print what is wrong and how to fix it.
    Doctor(doctor::Args),
    /// A minimal serverless worker that echoes its input (used by `demo`).
    #[command(hide = true)]
    EchoWorker,
    /// Operator tasks: `rotate-secret` re-encrypts stored provider keys under a new
    /// PODWARDEN_SECRET_KEY (the previous one in PODWARDEN_OLD_SECRET_KEY).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Train a tabular model on a simulated pod, serve predictions from a serverless endpoint,
    /// print them and the cost, and tear everything down (the README's main job).
    Quickstart(quickstart::Args),
    /// Run the Telegram bot: people train and predict models on GPU pods by chat
    /// (TELEGRAM_BOT_TOKEN; people sign up with `podwarden admin invite` codes).
    Bot(bot::Args),
    /// The built-in tabular workloads (`podwarden-tabular`): train, predict, worker.
    #[command(hide = true)]
    Tabular(podwarden_tabular::cli::Cli),
}

/// `podwarden admin`.
#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Pin an offer (tried before any other that fits), ban it (never tried), or clear both:
    /// `podwarden admin offer ban "NVIDIA RTX A4000" EU-RO-1`. `gpus --learned` lists them.
    Offer {
        #[arg(value_parser = ["pin", "ban", "clear"])]
        flag: String,
        /// The GPU type id, as `podwarden gpus` shows it.
        gpu_type: String,
        data_center: String,
        /// secure, community or aws.
        #[arg(long, default_value = "secure")]
        cloud: String,
        /// runpod or aws.
        #[arg(long, default_value = "runpod")]
        provider: String,
    },
    /// Re-encrypt every stored provider key under PODWARDEN_SECRET_KEY (was: PODWARDEN_OLD_SECRET_KEY).
    /// Run it with the server stopped, then start the server with the new secret alone.
    RotateSecret,
    /// Issue an invite code: whoever redeems it (e.g. by sending it to `podwarden bot`) gets a
    /// user of their own, with this spend cap (default: PODWARDEN_DEFAULT_SPEND_CAP_USD).
    Invite {
        /// The new user's cap on hosted spend, USD.
        #[arg(long)]
        spend_cap_usd: Option<f64>,
        /// How long the code is valid (at most 90 days).
        #[arg(long, default_value = "7d")]
        expires_in: String,
        /// Whom it is for (shown by `GET /api/v1/invites`).
        #[arg(long)]
        note: Option<String>,
    },
}

async fn admin(c: AdminCommand) -> Result<(), UserError> {
    match c {
        AdminCommand::Offer { flag, gpu_type, data_center, cloud, provider } => {
            let api = local::Api::connect().await?;
            let f =
                podwarden_api::types::OfferFlag { provider, gpu_type, data_center, cloud, flag };
            api.run(|c| c.flag_offer(&f)).await?;
            note!("{} {} in {} ({}): {}", f.provider, f.gpu_type, f.data_center, f.cloud, f.flag);
            Ok(())
        }
        AdminCommand::Invite { spend_cap_usd, expires_in, note } => {
            let api = local::Api::connect().await?;
            let req = podwarden_api::types::NewInvite {
                spend_cap_usd,
                expires_in: Some(expires_in),
                note,
            };
            let i = api.run(|c| c.create_invite(&req)).await?;
            let cap = i
                .invite
                .spend_cap_usd
                .map_or("no spend cap".into(), |v| format!("a ${v:.2} spend cap"));
            out!("{}", i.code);
            note!(
                "one new user, with {cap}; valid until {} (send it to the bot: /start {})",
                chrono::DateTime::from_timestamp_millis(i.invite.expires_at)
                    .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                i.code
            );
            Ok(())
        }
        AdminCommand::RotateSecret => {
            let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
            let (Some(new), Some(old)) =
                (var("PODWARDEN_SECRET_KEY"), var("PODWARDEN_OLD_SECRET_KEY"))
            else {
                return Err(UserError {
                    error: anyhow::anyhow!(
                        "rotate-secret needs PODWARDEN_SECRET_KEY (the new secret) and PODWARDEN_OLD_SECRET_KEY (the current one)"
                    ),
                    hint: Some("generate the new one with `openssl rand -hex 32`".into()),
                });
            };
            // The server's database: PODWARDEN_DATABASE_URL (Postgres), else the data directory's.
            let file = local::home().join("podwarden.db").display().to_string();
            let url = var("PODWARDEN_DATABASE_URL");
            let n = podwarden_server::rotate_secret(url.as_deref().unwrap_or(&file), &new, &old)
                .await?;
            // The URL is not printed: it may hold a password.
            let place = if url.is_some() { "PODWARDEN_DATABASE_URL" } else { &file };
            note!(
                "re-encrypted {n} provider key(s) in {place}; start the server (every replica) with the new secret"
            );
            Ok(())
        }
    }
}

/// An error for the user, with an optional hint.
#[derive(Debug)]
pub struct UserError {
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

/// A failure the command's own `--json` output already reports (doctor's failed checks, a
/// followed job that failed): only the exit code is left to give, not a second JSON object.
#[derive(Debug)]
pub struct Reported(pub String);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Reported {}

/// An error nobody built for the user: one that came up through `?` (I/O, the network, an
/// unreadable answer) rather than a `UserError` made with a message and a hint. It reads as the
/// error it wraps; it only changes the exit code to 2.
#[derive(Debug)]
struct Unexpected(anyhow::Error);

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Unexpected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.chain().nth(1)
    }
}

impl<E: Into<anyhow::Error>> From<E> for UserError {
    fn from(e: E) -> Self {
        Self { error: anyhow::Error::new(Unexpected(e.into())), hint: None }
    }
}

impl UserError {
    /// Exit code 2 for unexpected errors, 1 for the user's (a bad spec, a refused request).
    fn exit_code(&self) -> u8 {
        if self.error.is::<Unexpected>() { 2 } else { 1 }
    }
}

/// Long-running commands (servers, workers): a closed stdout is not theirs to exit on.
fn serves(c: &Command) -> bool {
    match c {
        Command::Serve(_) | Command::EchoWorker | Command::Tabular(_) => true,
        #[cfg(feature = "embedded-emulator")]
        Command::Emulator(_) | Command::Demo(_) => true,
        _ => false,
    }
}

fn main() -> ExitCode {
    // Inside an emulated container this binary is the image's `podwarden-tabular`,
    // `podwarden-echo-worker` or `sshd` (emulator::own_images binds it under those names).
    let argv0 = std::env::args_os().next().and_then(|a| {
        std::path::Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned())
    });
    let cli = match argv0.as_deref() {
        Some("podwarden-tabular") => {
            Cli { command: Command::Tabular(podwarden_tabular::cli::Cli::parse()) }
        }
        Some("podwarden-echo-worker") => Cli { command: Command::EchoWorker },
        #[cfg(feature = "embedded-emulator")]
        Some("sshd") => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            return ExitCode::from(podwarden_emulator_sshd::main(&args).clamp(0, 255) as u8);
        }
        _ => Cli::parse(),
    };
    print::exit_on_closed_stdout(!serves(&cli.command));
    // PODWARDEN_LOG, else the ecosystem's RUST_LOG, else warnings only.
    let filter = tracing_subscriber::EnvFilter::try_from_env("PODWARDEN_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "warn".into());
    // Colour only on a terminal: a service's stderr is a log file (the bot's, `serve`'s under systemd).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            note!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Tabular(t) = cli.command {
        return rt.block_on(podwarden_tabular::cli::run(t));
    }
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let result = rt.block_on(async {
        match cli.command {
            Command::Tabular(_) => Ok(()),
            Command::Quickstart(a) => quickstart::run(a).await,
            Command::Bot(a) => bot::run(a).await,
            Command::Doctor(a) => doctor::run(a).await,
            Command::Volume(c) => volume::run(c).await,
            Command::Cp(a) => volume::cp(a).await,
            Command::AwsPrices(a) => aws_prices::run(a),
            Command::Admin(c) => admin(c).await,
            Command::Run(a) => run::run(a).await,
            Command::Ps(a) => commands::ps(a).await,
            Command::Logs(a) => commands::logs(a).await,
            Command::Stop(a) => commands::stop(a).await,
            Command::Ssh(a) => ssh::ssh(a).await,
            Command::Retry(a) => commands::retry(a).await,
            Command::Webhook(c) => commands::webhook(c).await,
            Command::Cost(a) => commands::cost(a).await,
            Command::Gpus(a) => commands::gpus(a).await,
            Command::Endpoint(c) => endpoint::run(c).await,
            Command::Serve(a) => serve::serve(*a).await,
            Command::Server(c) => local::server(c).await,
            #[cfg(feature = "embedded-emulator")]
            Command::Emulator(a) => emulator::run(a).await,
            #[cfg(feature = "embedded-emulator")]
            Command::Demo(a) => demo::run(a).await,
            Command::EchoWorker => echo_worker::run().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if json && e.error.is::<Reported>() => ExitCode::from(e.exit_code()),
        // A script that asked for JSON gets its error as JSON too, on stdout.
        Err(e) if json => {
            let causes: Vec<String> = e.error.chain().skip(1).map(|c| c.to_string()).collect();
            let v = serde_json::json!({
                "error": e.error.to_string(),
                "causes": causes,
                "hint": e.hint,
            });
            out!("{v}");
            ExitCode::from(e.exit_code())
        }
        Err(e) => {
            note!("error: {}", e.error);
            for cause in e.error.chain().skip(1) {
                note!("  Caused by: {cause}");
            }
            let code = e.exit_code();
            if let Some(h) = e.hint {
                note!("hint: {h}");
            }
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Commands that run a service or an interactive demo until stopped, where a JSON result
    /// means nothing; the README names them.
    const NO_JSON: [&str; 8] =
        ["serve", "emulator", "demo", "bot", "quickstart", "echo-worker", "tabular", "admin"];

    #[test]
    fn every_command_takes_json_but_the_services() {
        let mut missing = Vec::new();
        fn walk(c: &clap::Command, path: String, missing: &mut Vec<String>) {
            let subs: Vec<&clap::Command> = c.get_subcommands().collect();
            if subs.is_empty() {
                if !c.get_arguments().any(|a| a.get_long() == Some("json")) {
                    missing.push(path);
                }
                return;
            }
            for s in subs {
                if path.is_empty() && NO_JSON.contains(&s.get_name()) {
                    continue;
                }
                let p = format!("{path} {}", s.get_name()).trim().to_owned();
                walk(s, p, missing);
            }
        }
        walk(&super::Cli::command(), String::new(), &mut missing);
        assert!(missing.is_empty(), "without --json: {missing:?}");
    }
}
