//! The client: region, endpoints, credentials, and the two request shapes AWS's APIs here use
//! (a Query form post answered in XML; a JSON post with an `X-Amz-Target`).

use crate::{Error, Result, sign};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The AWS services this client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ec2,
    Sts,
    Ssm,
}

impl Service {
    /// The signing name, and the first label of its public endpoint.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ec2 => "ec2",
            Self::Sts => "sts",
            Self::Ssm => "ssm",
        }
    }

    /// The suffix of its endpoint variable (`AWS_ENDPOINT_URL_EC2`).
    fn env_suffix(self) -> &'static str {
        match self {
            Self::Ec2 => "EC2",
            Self::Sts => "STS",
            Self::Ssm => "SSM",
        }
    }
}

/// An access key pair (and a session token for temporary credentials). The secret and the token
/// are never printed.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"****")
            .field("session_token", &self.session_token.as_ref().map(|_| "****"))
            .finish()
    }
}

impl Credentials {
    /// A key pair.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::from(secret_access_key.into()),
            session_token: None,
        }
    }

    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Option<Self> {
        let id = std::env::var("AWS_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty())?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").ok().filter(|v| !v.is_empty())?;
        let token = std::env::var("AWS_SESSION_TOKEN").ok().filter(|v| !v.is_empty());
        Some(Self {
            access_key_id: id,
            secret_access_key: SecretString::from(secret),
            session_token: token.map(SecretString::from),
        })
    }

    /// From the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`), profile `AWS_PROFILE` (else `default`), as AWS's CLI keeps them.
    pub fn from_profile() -> Option<Self> {
        let file = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials"))
            })?;
        let text = std::fs::read_to_string(file).ok()?;
        let section = profile_section(&text, &profile_name())?;
        Some(Self {
            access_key_id: section.get("aws_access_key_id")?.clone(),
            secret_access_key: SecretString::from(section.get("aws_secret_access_key")?.clone()),
            session_token: section.get("aws_session_token").cloned().map(SecretString::from),
        })
    }

    /// The secret, for another signer (an S3 client) of the same credentials. Never printed.
    pub fn secret(&self) -> &str {
        self.secret_access_key.expose_secret()
    }

    /// The session token of temporary credentials. Never printed.
    pub fn token(&self) -> Option<&str> {
        self.session_token.as_ref().map(|t| t.expose_secret())
    }
}

/// `AWS_PROFILE`, else `default`.
fn profile_name() -> String {
    std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into())
}

/// The keys of section `[name]` (or `[profile name]`, the config file's spelling) of an AWS
/// INI file; `None` when it has no such section.
fn profile_section(text: &str, name: &str) -> Option<std::collections::HashMap<String, String>> {
    let mut found = None;
    let mut current = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let h = h.trim();
            current = h == name || h.strip_prefix("profile ").map(str::trim) == Some(name);
            if current {
                found.get_or_insert_with(std::collections::HashMap::new);
            }
            continue;
        }
        if let (true, Some((k, v))) = (current, line.split_once('=')) {
            if let Some(map) = found.as_mut() {
                map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
    }
    found
}

/// The region as AWS's SDKs find it: `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's.
pub fn env_region() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).or_else(profile_region)
}

/// The region of the config file's profile (`AWS_CONFIG_FILE`, else `~/.aws/config`).
fn profile_region() -> Option<String> {
    let file = std::env::var_os("AWS_CONFIG_FILE").map(std::path::PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".aws/config"))
    })?;
    let text = std::fs::read_to_string(file).ok()?;
    profile_section(&text, &profile_name())?.get("region").cloned().filter(|r| !r.is_empty())
}

/// Where a client's credentials come from.
#[derive(Debug, Clone)]
enum Keys {
    /// Given, or read from the environment or a profile.
    Fixed(Credentials),
    /// The EC2 instance's role, from its metadata service (`role`).
    Role(Arc<crate::role::RoleKeys>),
}

/// A client of one region under one set of credentials.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    region: String,
    keys: Keys,
    /// Where each of `SERVICES` is called.
    endpoints: Vec<Url>,
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    region: Option<String>,
    credentials: Option<Credentials>,
    /// The metadata service to read an instance role's credentials from, when none are given.
    role: Option<String>,
    endpoint: Option<String>,
    service_endpoints: Vec<(Service, String)>,
    timeout: Option<Duration>,
}

impl ClientBuilder {
    /// The region (`us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The credentials to sign with.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = Some(c);
        self
    }

    /// One endpoint for every service (a stand-in such as moto serves them all on one port).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Credentials from the EC2 instance's role, read from the metadata service at `endpoint`
    /// (`http://169.254.169.254` on EC2) and renewed before they expire.
    pub fn instance_role(mut self, endpoint: impl Into<String>) -> Self {
        self.role = Some(endpoint.into());
        self
    }

    /// The endpoint of one service.
    pub fn service_endpoint_url(mut self, service: Service, url: impl Into<String>) -> Self {
        self.service_endpoints.push((service, url.into()));
        self
    }

    /// How long one call may take (default 30 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Fills what was not given from the environment, as AWS's SDKs do: `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`, else the profile's), the credentials' variables (else the shared
    /// credentials file's profile, `AWS_PROFILE`), `AWS_ENDPOINT_URL` and
    /// `AWS_ENDPOINT_URL_<SERVICE>`; without credentials there, the instance role's from the
    /// metadata service (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, else EC2's; not with
    /// `AWS_EC2_METADATA_DISABLED=true`).
    pub fn from_env(mut self) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if self.region.is_none() {
            self.region = env_region();
        }
        if self.credentials.is_none() {
            self.credentials = Credentials::from_env().or_else(Credentials::from_profile);
        }
        let imds_off =
            var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if self.credentials.is_none() && self.role.is_none() && !imds_off {
            self.role = Some(
                var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                    .unwrap_or_else(|| crate::role::EC2_METADATA.to_owned()),
            );
        }
        if self.endpoint.is_none() {
            self.endpoint = var("AWS_ENDPOINT_URL");
        }
        for s in SERVICES {
            if !self.service_endpoints.iter().any(|(x, _)| *x == s) {
                if let Some(u) = var(&format!("AWS_ENDPOINT_URL_{}", s.env_suffix())) {
                    self.service_endpoints.push((s, u));
                }
            }
        }
        self
    }

    pub fn build(self) -> Result<Client> {
        let region = self.region.ok_or_else(|| {
            Error::Config("no AWS region: set AWS_REGION (e.g. us-east-1) or give one".into())
        })?;
        let keys = match (self.credentials, self.role) {
            (Some(c), _) => Keys::Fixed(c),
            (None, Some(endpoint)) => Keys::Role(Arc::new(crate::role::RoleKeys::new(&endpoint)?)),
            (None, None) => {
                return Err(Error::Config(
                    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE to a profile of ~/.aws/credentials, or run on an EC2 instance with a role".into(),
                ));
            }
        };
        let parse = |u: &str| {
            Url::parse(u)
                .map_err(|e| Error::Config(format!("AWS endpoint URL {u:?} is not a URL: {e}")))
        };
        let shared = self.endpoint.as_deref().map(parse).transpose()?;
        // Each service: its own endpoint, else the shared one, else AWS's public one (a region
        // that makes no host name is refused here, not at the first call).
        let mut endpoints = Vec::with_capacity(SERVICES.len());
        for s in SERVICES {
            let given = self.service_endpoints.iter().find(|(x, _)| *x == s).map(|(_, u)| u);
            endpoints.push(match (given, &shared) {
                (Some(u), _) => parse(u)?,
                (None, Some(u)) => u.clone(),
                (None, None) => parse(&format!("https://{}.{region}.amazonaws.com/", s.name()))
                    .map_err(|_| {
                        Error::Config(format!("{region:?} is not an AWS region (e.g. us-east-1)"))
                    })?,
            });
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout.unwrap_or(Duration::from_secs(30)))
            .build()
            .map_err(|e| Error::Config(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client { http, region, keys, endpoints })
    }
}

/// Every service, in the order of `Client::endpoints`.
const SERVICES: [Service; 3] = [Service::Ec2, Service::Sts, Service::Ssm];

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The same endpoints and region under other credentials (a user's own key).
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self { keys: Keys::Fixed(credentials), ..self.clone() }
    }

    /// The credentials to sign with now.
    async fn credentials(&self) -> Result<Credentials> {
        match &self.keys {
            Keys::Fixed(c) => Ok(c.clone()),
            Keys::Role(r) => r.get(&self.http).await,
        }
    }

    /// Where `service` is called.
    pub fn endpoint(&self, service: Service) -> Url {
        let i = SERVICES.iter().position(|s| *s == service).unwrap_or_default();
        self.endpoints[i].clone()
    }

    /// A Query API call (EC2, STS): `Action` and `Version` with `params`, form-posted; the XML
    /// answer's text.
    pub(crate) async fn query(
        &self,
        service: Service,
        action: &str,
        version: &str,
        params: &[(String, String)],
    ) -> Result<String> {
        let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", version)];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = serde_urlencoded::to_string(&form).map_err(|e| Error::Undecodable {
            service: service.name(),
            action: action.into(),
            detail: format!("cannot encode the request: {e}"),
        })?;
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let (status, text) = self.post(service, content_type, None, body).await?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(crate::xml::api_error(service, action, status, &text))
    }

    /// A JSON API call (SSM): `target` (`AmazonSSM.GetParameter`) with `body`; the JSON answer.
    pub(crate) async fn json(
        &self,
        service: Service,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let action = target.rsplit('.').next().unwrap_or(target);
        let (status, text) = self
            .post(service, "application/x-amz-json-1.1", Some(target), body.to_string())
            .await?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Undecodable {
            service: service.name(),
            action: action.into(),
            detail: format!("not JSON ({e}): {}", text.chars().take(200).collect::<String>()),
        })?;
        if (200..300).contains(&status) {
            return Ok(v);
        }
        let code = v["__type"].as_str().unwrap_or("Unknown");
        Err(Error::Api {
            service: service.name(),
            action: action.into(),
            // `com.amazonaws.ssm#ParameterNotFound` → `ParameterNotFound`.
            code: code.rsplit('#').next().unwrap_or(code).to_owned(),
            message: v["message"].as_str().or(v["Message"].as_str()).unwrap_or("").to_owned(),
            status,
        })
    }

    /// Signs and sends one POST; the status and the body.
    async fn post(
        &self,
        service: Service,
        content_type: &str,
        target: Option<&str>,
        body: String,
    ) -> Result<(u16, String)> {
        let url = self.endpoint(service);
        let mut headers: Vec<(String, String)> = vec![("content-type".into(), content_type.into())];
        if let Some(t) = target {
            headers.push(("x-amz-target".into(), t.into()));
        }
        let credentials = self.credentials().await?;
        let signed = sign::sign(
            &credentials,
            &self.region,
            service.name(),
            url.as_str(),
            &headers,
            body.as_bytes(),
        )?;
        let mut req = self.http.post(url);
        for (k, v) in headers.iter().chain(&signed) {
            req = req.header(k.as_str(), v.as_str());
        }
        let transport = |source| Error::Transport { service: service.name(), source };
        let resp = req.body(body).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(transport)?;
        Ok((status, text))
    }
}

#[cfg(test)]
mod tests {
    use super::profile_section;

    #[test]
    fn a_profile_is_read_from_either_files_spelling() {
        let text = "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n\n[profile work]\nregion = eu-west-1\n[other]\nregion=us-west-2\n";
        let d = profile_section(text, "default").expect("default");
        assert_eq!(d.get("aws_access_key_id").map(String::as_str), Some("AKIDDEFAULT"));
        let w = profile_section(text, "work").expect("the config file's spelling");
        assert_eq!(w.get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(
            profile_section(text, "other").and_then(|o| o.get("region").cloned()).as_deref(),
            Some("us-west-2")
        );
        assert!(profile_section(text, "missing").is_none());
    }
}
