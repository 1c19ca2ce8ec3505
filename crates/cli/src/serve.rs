//! `podwarden serve`: every setting of a server in one struct, read once from flags and the
//! environment by clap (a flag wins over its variable, a variable over the default), checked
//! here with an error per bad value, and handed to `podwarden_server::start` as a
//! `ServerConfig`. The server itself reads no environment.
//!
//! Secrets (tokens, keys) come from the environment: their flags exist but are hidden, since a
//! command line is readable by every user of the machine. An empty variable (as compose passes
//! an unset one) is unset. `docs/configuration.md` lists every variable here (a test checks).

use crate::UserError;
use crate::local::{Api, home};
use anyhow::anyhow;
use podwarden_server::ServerConfig;
use secrecy::SecretString;
use std::time::Duration;

/// `podwarden serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8711)]
    port: u16,
    /// Address to listen on (`0.0.0.0` for every interface; put TLS in front, docs/deployment.md).
    #[arg(long, env = "PODWARDEN_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// The in-pod watchdog stops a job's pod after this long when the job has no `max_runtime`
    /// (so no pod bills forever once the control plane is gone).
    #[arg(long, env = "PODWARDEN_WATCHDOG_CEILING", default_value = "24h", value_parser = humantime::parse_duration)]
    watchdog_ceiling: Duration,
    /// A RunPod container that prints this long without podwarden's wrapper starting has an
    /// image whose entrypoint ignores its arguments: its job is given up.
    #[arg(long, env = "PODWARDEN_WRAPPER_START", default_value = "10m", value_parser = humantime::parse_duration)]
    wrapper_start: Duration,
    /// Run the embedded emulator's pods and workers unsandboxed (no bubblewrap here).
    #[arg(long, env = "PODWARDEN_EMULATOR_UNSANDBOXED")]
    unsandboxed: bool,
    /// The embedded emulator's config (TOML, docs/emulator.md): declare your own images there,
    /// since an image the emulator does not know does not exist for it.
    #[arg(long, env = "PODWARDEN_EMULATOR_CONFIG")]
    emulator_config: Option<std::path::PathBuf>,
    /// URL pods use to report back (needed for real RunPod pods; defaults to this server).
    #[arg(long, env = "PODWARDEN_PUBLIC_URL")]
    public_url: Option<String>,
    /// Reconcile period, ms.
    #[arg(long, env = "PODWARDEN_TICK_MS", default_value_t = 2000)]
    tick_ms: u64,
    /// Where work runs: `runpod` (with RUNPOD_API_KEY as the operator's key, or without it
    /// BYOK-only: every user's work on their own key), `emulator` (the embedded one), or `auto`
    /// (RunPod when RUNPOD_API_KEY is set, else the emulator).
    #[arg(long, env = "PODWARDEN_PROVIDER", default_value = "auto", value_parser = ["auto", "runpod", "emulator"])]
    provider: String,
    /// How long a pod create may take to show up before its intent is abandoned, ms.
    #[arg(long, env = "PODWARDEN_INTENT_GRACE_MS", default_value_t = 60_000, hide = true)]
    intent_grace_ms: u64,
    /// The database: `postgres://USER:PASSWORD@HOST/DB` for a Postgres several replicas share
    /// (docs/deployment.md), or `sqlite://PATH`; default: `podwarden.db` in the data directory.
    #[arg(long, env = "PODWARDEN_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// The hosted-spend cap, USD, of a user who signs up with an invite code when the admin's
    /// invite names none (`podwarden admin invite`); default: no cap.
    #[arg(long, env = "PODWARDEN_DEFAULT_SPEND_CAP_USD")]
    default_spend_cap_usd: Option<String>,
    /// RunPod's REST URL (a standalone `podwarden emulator`'s, for one).
    #[arg(long, env = "RUNPOD_REST_URL")]
    runpod_rest_url: Option<String>,
    /// RunPod's serverless job API base URL.
    #[arg(long, env = "RUNPOD_ENDPOINT_BASE_URL")]
    runpod_endpoint_base_url: Option<String>,
    /// Data centers whose volumes RunPod serves over S3, comma-separated (default RunPod's list).
    #[arg(long, env = "PODWARDEN_S3_DATA_CENTERS")]
    s3_data_centers: Option<String>,
    /// The S3 endpoint of each data center, `DC=URL,DC=URL` (default RunPod's).
    #[arg(long, env = "PODWARDEN_S3_ENDPOINTS")]
    s3_endpoints: Option<String>,
    /// `off`: do not ask registries whether the images jobs name exist (default `on`).
    #[arg(long, env = "PODWARDEN_IMAGE_CHECKS")]
    image_checks: Option<String>,
    /// Open connections in all (default 10,000, kept under the file-descriptor limit).
    #[arg(long, env = "PODWARDEN_MAX_CONNECTIONS")]
    max_connections: Option<String>,
    /// Open connections from one address (default 256).
    #[arg(long, env = "PODWARDEN_MAX_CONNECTIONS_PER_IP")]
    max_connections_per_ip: Option<String>,
    /// Memory for parsing large request bodies, MiB (default 256).
    #[arg(long, env = "PODWARDEN_BODY_MEMORY_MB")]
    body_memory_mb: Option<String>,
    /// Addresses of your reverse proxies, comma-separated.
    #[arg(long, env = "PODWARDEN_TRUSTED_PROXIES")]
    trusted_proxies: Option<String>,
    /// This install's identity (4–16 lowercase letters and digits; default: kept in the data
    /// directory).
    #[arg(long, env = "PODWARDEN_INSTALL_ID")]
    install_id: Option<String>,
    /// This replica's name in leases (default `replica`).
    #[arg(long, env = "HOSTNAME", hide = true)]
    replica_name: Option<String>,
    /// The crash test's failpoint (`docs/state-machines.md`).
    #[arg(long, env = "PODWARDEN_CRASH_AT", hide = true)]
    crash_at: Option<String>,
    #[command(flatten)]
    secrets: Secrets,
    #[command(flatten)]
    aws: AwsArgs,
}

/// The operator's AWS account (`docs/providers/aws.md`). Its credentials and region are AWS's
/// own variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`), read by the `aws` client.
#[derive(Debug, clap::Args)]
struct AwsArgs {
    /// `on`: jobs with `provider = "aws"` run on EC2 instances of this AWS account.
    #[arg(long = "aws", env = "PODWARDEN_AWS")]
    enabled: Option<String>,
    /// Where jobs that name no provider run: `runpod` (default) or `aws`.
    #[arg(long, env = "PODWARDEN_DEFAULT_PROVIDER")]
    default_provider: Option<String>,
    /// The AMI instances boot: an id (`ami-…`) or an SSM parameter path (`/aws/service/…`);
    /// default AWS's current Deep Learning Base AMI (Ubuntu 22.04, Docker, NVIDIA runtime).
    #[arg(long = "aws-ami", env = "PODWARDEN_AWS_AMI")]
    ami: Option<String>,
    /// The AMI's root device, sized to a job's `disk_gb` (default `/dev/sda1`).
    #[arg(long = "aws-root-device", env = "PODWARDEN_AWS_ROOT_DEVICE")]
    root_device: Option<String>,
    /// The subnet instances launch in (default: the default VPC's).
    #[arg(long = "aws-subnet", env = "PODWARDEN_AWS_SUBNET")]
    subnet: Option<String>,
    /// Security group ids, comma-separated (default: the VPC's default group).
    #[arg(long = "aws-security-groups", env = "PODWARDEN_AWS_SECURITY_GROUPS")]
    security_groups: Option<String>,
    /// An EC2 key pair's name, for SSH into instances (default none).
    #[arg(long = "aws-key-name", env = "PODWARDEN_AWS_KEY_NAME")]
    key_name: Option<String>,
    /// The instance profile jobs' programs act as (default none: no AWS rights on the instance).
    #[arg(long = "aws-instance-profile", env = "PODWARDEN_AWS_INSTANCE_PROFILE")]
    instance_profile: Option<String>,
    /// A price table `podwarden aws-prices` wrote (default: the one this build ships).
    #[arg(long = "aws-prices", env = "PODWARDEN_AWS_PRICES")]
    prices: Option<std::path::PathBuf>,
}

impl AwsArgs {
    fn apply(self, cfg: &mut ServerConfig) -> Result<(), UserError> {
        use podwarden_engine::aws_provider::{Ami, AwsSettings};
        cfg.default_provider = match given(self.default_provider) {
            None => podwarden_core::ProviderKind::RunPod,
            Some(v) => {
                v.parse().map_err(|_| bad("PODWARDEN_DEFAULT_PROVIDER", &v, "`runpod` or `aws`"))?
            }
        };
        match given(self.enabled).as_deref() {
            None | Some("off") => {
                if cfg.default_provider == podwarden_core::ProviderKind::Aws {
                    return Err(UserError {
                        error: anyhow!("PODWARDEN_DEFAULT_PROVIDER=aws, but AWS is off"),
                        hint: Some(
                            "set PODWARDEN_AWS=on (with AWS credentials and AWS_REGION)".into(),
                        ),
                    });
                }
                return Ok(());
            }
            Some("on") => {}
            Some(v) => return Err(bad("PODWARDEN_AWS", v, "`on` or `off`")),
        }
        let client = aws::Client::builder().from_env().build().map_err(|e| UserError {
            error: anyhow!("PODWARDEN_AWS=on: {e}"),
            hint: Some("see docs/providers/aws.md → Set-up".into()),
        })?;
        let mut settings = AwsSettings::new(String::new());
        if let Some(ami) = given(self.ami) {
            settings.ami = if ami.starts_with('/') {
                Ami::Ssm(ami)
            } else if ami.starts_with("ami-") {
                Ami::Id(ami)
            } else {
                return Err(bad(
                    "PODWARDEN_AWS_AMI",
                    &ami,
                    "an AMI id (ami-…) or an SSM parameter path (/…)",
                ));
            };
        }
        if let Some(d) = given(self.root_device) {
            settings.root_device = d;
        }
        settings.subnet_id = given(self.subnet);
        settings.security_group_ids = given(self.security_groups)
            .map(|v| list(&v).map(str::to_owned).collect())
            .unwrap_or_default();
        settings.key_name = given(self.key_name);
        settings.instance_profile = given(self.instance_profile);
        if let Some(p) = self.prices {
            let text = std::fs::read_to_string(&p).map_err(|e| UserError {
                error: anyhow!("PODWARDEN_AWS_PRICES: cannot read {}: {e}", p.display()),
                hint: None,
            })?;
            settings.prices =
                Some(podwarden_engine::aws_provider::PriceFile::parse(&text).map_err(|e| {
                    UserError {
                        error: anyhow!("PODWARDEN_AWS_PRICES {}: {e}", p.display()),
                        hint: Some(
                            "make one with `podwarden aws-prices --from <bulk file> --out FILE`"
                                .into(),
                        ),
                    }
                })?);
        }
        cfg.aws = Some(podwarden_server::AwsConfig { client, settings });
        Ok(())
    }
}

/// The secrets a server takes, from the environment (`docs/configuration.md`).
#[derive(Debug, clap::Args)]
struct Secrets {
    #[arg(long, env = "RUNPOD_API_KEY", hide = true, hide_env_values = true)]
    runpod_api_key: Option<String>,
    #[arg(long, env = "PODWARDEN_ADMIN_TOKEN", hide = true, hide_env_values = true)]
    admin_token: Option<String>,
    #[arg(long, env = "PODWARDEN_OLD_ADMIN_TOKEN", hide = true, hide_env_values = true)]
    old_admin_token: Option<String>,
    #[arg(long, env = "PODWARDEN_TOKEN_SECRET", hide = true, hide_env_values = true)]
    token_secret: Option<String>,
    #[arg(long, env = "PODWARDEN_SECRET_KEY", hide = true, hide_env_values = true)]
    secret_key: Option<String>,
    #[arg(long, env = "PODWARDEN_OLD_SECRET_KEY", hide = true, hide_env_values = true)]
    old_secret_key: Option<String>,
    #[arg(long, env = "RUNPOD_S3_ACCESS_KEY_ID", hide = true, hide_env_values = true)]
    s3_access_key_id: Option<String>,
    #[arg(long, env = "RUNPOD_S3_SECRET_ACCESS_KEY", hide = true, hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    #[arg(long, env = "PODWARDEN_EMULATOR_API_KEY", hide = true, hide_env_values = true)]
    emulator_api_key: Option<String>,
}

/// A value as given; empty is unset.
fn given(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A secret, trimmed (tokens are pasted with stray whitespace); empty is unset.
fn secret(v: Option<String>) -> Option<SecretString> {
    given(v).map(SecretString::from)
}

/// A key exactly as given (the sealing key is used byte for byte, as before: trimming it would
/// make another key, and the users' keys sealed with it would not open); blank is unset.
fn key_as_given(v: Option<String>) -> Option<SecretString> {
    v.filter(|v| !v.trim().is_empty()).map(SecretString::from)
}

/// `var`'s value `v` is not `what`.
fn bad(var: &str, v: &str, what: &str) -> UserError {
    UserError {
        error: anyhow!("{var}={v:?} is not {what}"),
        hint: Some(format!("fix or unset {var} (docs/configuration.md)")),
    }
}

/// `v` parsed, or an error naming `var`.
fn parsed<T: std::str::FromStr>(
    v: Option<String>,
    var: &str,
    what: &str,
) -> Result<Option<T>, UserError> {
    given(v).map(|v| v.parse::<T>().map_err(|_| bad(var, &v, what))).transpose()
}

/// A comma-separated list, empty items dropped.
fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|i| !i.is_empty())
}

impl ServeArgs {
    /// The server's configuration for data directory `home`, or the first bad value.
    fn config(self, home: std::path::PathBuf) -> Result<ServerConfig, UserError> {
        let mut cfg =
            ServerConfig::new(home.clone(), std::net::SocketAddr::new(self.host, self.port));
        self.emulator_settings(&mut cfg, &home)?;
        cfg.public_url = given(self.public_url);
        cfg.tick = Duration::from_millis(self.tick_ms.max(50));
        cfg.intent_grace = Duration::from_millis(self.intent_grace_ms);
        cfg.watchdog_ceiling = self.watchdog_ceiling;
        cfg.wrapper_start = self.wrapper_start;
        cfg.database = given(self.database);
        let (cap, what) = ("PODWARDEN_DEFAULT_SPEND_CAP_USD", "an amount in USD (e.g. 5)");
        cfg.default_spend_cap_usd = match parsed::<f64>(self.default_spend_cap_usd, cap, what)? {
            Some(usd) if !(usd.is_finite() && usd >= 0.0) => {
                return Err(bad(cap, &usd.to_string(), what));
            }
            usd => usd,
        };
        let l = &mut cfg.limits;
        if let Some(n) = parsed(self.max_connections, "PODWARDEN_MAX_CONNECTIONS", "a number")? {
            l.max_total = n;
        }
        let per_ip =
            parsed(self.max_connections_per_ip, "PODWARDEN_MAX_CONNECTIONS_PER_IP", "a number")?;
        if let Some(n) = per_ip {
            l.max_per_ip = n;
        }
        if let Some(n) = parsed(self.body_memory_mb, "PODWARDEN_BODY_MEMORY_MB", "a number")? {
            l.body_memory_mib = n;
        }
        if let Some(v) = given(self.trusted_proxies) {
            l.trusted_proxies = list(&v)
                .map(|a| {
                    a.parse().map_err(|_| bad("PODWARDEN_TRUSTED_PROXIES", a, "an IP address"))
                })
                .collect::<Result<_, _>>()?;
        }
        cfg.s3_data_centers =
            given(self.s3_data_centers).map(|v| list(&v).map(str::to_owned).collect());
        if let Some(v) = given(self.s3_endpoints) {
            cfg.s3_endpoints = list(&v)
                .map(|kv| match kv.split_once('=') {
                    Some((dc, url)) => Ok((dc.trim().to_owned(), url.trim().to_owned())),
                    None => Err(bad("PODWARDEN_S3_ENDPOINTS", kv, "DC=URL")),
                })
                .collect::<Result<_, _>>()?;
        }
        cfg.image_checks = match given(self.image_checks).as_deref() {
            None | Some("on") => None,
            Some("off") => Some(false),
            Some(v) => return Err(bad("PODWARDEN_IMAGE_CHECKS", v, "`on` or `off`")),
        };
        cfg.install_id = given(self.install_id);
        cfg.replica_name = given(self.replica_name);
        cfg.crash_at = match given(self.crash_at) {
            None => None,
            Some(v) => Some(v.parse().map_err(|e| UserError {
                error: anyhow!("PODWARDEN_CRASH_AT: {e}"),
                hint: None,
            })?),
        };
        cfg.runpod.rest_url = given(self.runpod_rest_url);
        cfg.runpod.endpoint_base_url = given(self.runpod_endpoint_base_url);
        self.secrets.apply(&mut cfg)?;
        self.aws.apply(&mut cfg)?;
        match self.provider.as_str() {
            "runpod" => cfg.byok_only = cfg.runpod.api_key.is_none(),
            "emulator" if cfg.runpod.api_key.is_some() => {
                return Err(UserError {
                    error: anyhow!("--provider emulator, but RUNPOD_API_KEY is set"),
                    hint: Some(
                        "unset RUNPOD_API_KEY to use the embedded emulator, or use --provider runpod"
                            .into(),
                    ),
                });
            }
            _ => {}
        }
        Ok(cfg)
    }

    /// The embedded emulator's settings (its config file, sandbox, podwarden's own images).
    fn emulator_settings(
        &self,
        cfg: &mut ServerConfig,
        home: &std::path::Path,
    ) -> Result<(), UserError> {
        #[cfg(feature = "embedded-emulator")]
        {
            if let Some(p) = &self.emulator_config {
                cfg.emulator = crate::emulator::load_config(p)?;
            }
            cfg.emulator.unsandboxed |= self.unsandboxed;
            if let Some(k) = given(self.secrets.emulator_api_key.clone()) {
                cfg.emulator.api_key = Some(k);
            }
            crate::emulator::own_images(&mut cfg.emulator);
            crate::emulator::quickstart_volume(&mut cfg.emulator, home);
            Ok(())
        }
        #[cfg(not(feature = "embedded-emulator"))]
        {
            let _ = (cfg, home);
            if self.emulator_config.is_some() || self.unsandboxed {
                return Err(UserError {
                    error: anyhow!("this podwarden was built without the embedded emulator"),
                    hint: Some(
                        "use a build with the `embedded-emulator` feature (the default)".into(),
                    ),
                });
            }
            Ok(())
        }
    }
}

impl Secrets {
    fn apply(self, cfg: &mut ServerConfig) -> Result<(), UserError> {
        cfg.runpod.api_key = given(self.runpod_api_key).map(runpod::ApiKey::new);
        cfg.admin_token = secret(self.admin_token);
        cfg.old_admin_token = secret(self.old_admin_token);
        cfg.token_secret = secret(self.token_secret);
        cfg.secret_key = key_as_given(self.secret_key);
        cfg.old_secret_key = key_as_given(self.old_secret_key);
        cfg.s3_operator_key = match (given(self.s3_access_key_id), given(self.s3_secret_access_key))
        {
            (Some(id), Some(secret)) => Some((id, SecretString::from(secret))),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(UserError {
                    error: anyhow!(
                        "RUNPOD_S3_ACCESS_KEY_ID and RUNPOD_S3_SECRET_ACCESS_KEY go together: one is set, the other is not"
                    ),
                    hint: Some("set both (an S3 API key of RunPod's), or neither".into()),
                });
            }
        };
        Ok(())
    }
}

pub async fn serve(a: ServeArgs) -> Result<(), UserError> {
    let home = home();
    let port = a.port;
    let cfg = a.config(home.clone())?;
    let byok_only = cfg.byok_only;
    let aws =
        cfg.aws.as_ref().map(|a| format!("; AWS in {}", a.client.region())).unwrap_or_default();
    let s = podwarden_server::start(cfg).await.map_err(|e| {
        let taken = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
        });
        UserError { hint: taken.then(|| format!("port {port} is taken; try --port 0")), error: e }
    })?;
    Api::record(&home, &s.url)?;
    let on = match (s.simulated, byok_only) {
        (true, _) => "simulated: embedded RunPod emulator",
        (false, true) => "RunPod, BYOK only: every user's work runs on their own key",
        (false, false) => "RunPod",
    };
    out!("podwarden server on {} ({on}{aws})", s.url);
    // SIGTERM (systemd, Docker) stops it like Ctrl-C: the embedded emulator's pods go with it.
    crate::emulator::shutdown_signal().await;
    s.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ServeArgs;
    use clap::{Args, Command};

    /// The variables `podwarden serve` reads.
    fn variables() -> Vec<String> {
        let cmd = ServeArgs::augment_args(Command::new("serve"));
        cmd.get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect()
    }

    /// `docs/configuration.md` names every variable the server reads (those only tests and
    /// container runtimes set aside).
    #[test]
    fn the_configuration_doc_lists_every_server_variable() {
        let doc = include_str!("../../../docs/configuration.md");
        let internal = ["HOSTNAME", "PODWARDEN_CRASH_AT", "PODWARDEN_INTENT_GRACE_MS"];
        let vars = variables();
        assert!(vars.len() > 25, "{vars:?}");
        for v in vars.iter().filter(|v| !internal.contains(&v.as_str())) {
            assert!(doc.contains(&format!("`{v}`")), "docs/configuration.md does not list {v}");
        }
    }

    /// Each bad value is refused with its variable's name, and a secret's value never shows.
    #[test]
    fn a_bad_value_names_its_variable() {
        use clap::FromArgMatches;
        let parse = |args: &[&str]| {
            let cmd = ServeArgs::augment_args(Command::new("serve").no_binary_name(true));
            let m = cmd.try_get_matches_from(args).expect("parses");
            ServeArgs::from_arg_matches(&m).expect("args")
        };
        let home = std::path::PathBuf::from("/nonexistent");
        for (args, var) in [
            (&["--max-connections", "many"][..], "PODWARDEN_MAX_CONNECTIONS"),
            (&["--trusted-proxies", "10.0.0.1,proxy"], "PODWARDEN_TRUSTED_PROXIES"),
            (&["--s3-endpoints", "EU-RO-1"], "PODWARDEN_S3_ENDPOINTS"),
            (&["--image-checks", "of"], "PODWARDEN_IMAGE_CHECKS"),
            (&["--default-spend-cap-usd=-1"], "PODWARDEN_DEFAULT_SPEND_CAP_USD"),
            (&["--crash-at", "nowhere"], "PODWARDEN_CRASH_AT"),
            (&["--s3-access-key-id", "user_sekrit"], "RUNPOD_S3_SECRET_ACCESS_KEY"),
        ] {
            let e = parse(args).config(home.clone()).expect_err("refused");
            let said = format!("{:#}", e.error);
            assert!(said.contains(var), "{args:?}: {said}");
            assert!(!said.contains("sekrit"), "{said}");
        }
        // Empty is unset (compose passes an unset variable as empty).
        let cfg = parse(&["--max-connections", "", "--image-checks", "off"])
            .config(home)
            .expect("accepted");
        assert_eq!(
            cfg.limits.max_total,
            podwarden_server::listener::ConnLimits::default().max_total
        );
        assert_eq!(cfg.image_checks, Some(false));
    }
}
