//! AWS for tests: moto's server (`moto_server` from the repo's `.venv`, or
//! `PODWARDEN_MOTO_SERVER`) as the API, and [`Ec2Stand`], a proxy in front of it that adds what
//! moto does not do (`docs/providers/aws.md` → Testing):
//!
//! - it runs an instance's user data, as EC2 would at first boot, in the emulator's sandbox:
//!   each launched instance becomes a pod of a private `runpod-emulator` ("the hosts") running
//!   `bash` on the script, with `docker` and `shutdown` stand-ins on its `PATH` — `docker run …
//!   IMAGE ARGS` runs ARGS in the same sandbox (the image's entrypoint is not applied; the
//!   emulator's images are the host's programs), `shutdown -h now` asks the stand to terminate
//!   the instance (`InstanceInitiatedShutdownBehavior=terminate`), a delayed one is recorded;
//! - `GetConsoleOutput` answers with what that script printed (moto's is a fixed text);
//! - a `TerminateInstances` ends the instance's sandbox;
//! - the instance's `aws s3 cp` reaches moto's S3 through the stand, which signs (an instance
//!   would sign with its role's credentials; moto refuses unsigned reads);
//! - faults: the next calls of an action answer with an EC2 error (`InsufficientInstanceCapacity`,
//!   `VcpuLimitExceeded`, …) that moto never gives.
//!
//! Without moto the helpers say so and return `None`, except under CI, where they panic.

use aws::{Client, Credentials};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A `moto_server` on a free port, killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("PODWARDEN_MOTO_SERVER") {
        return Some(p.into());
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    venv.exists().then_some(venv)
}

/// A fresh moto server (its own state), or `None` without moto outside CI.
pub async fn moto() -> Option<Moto> {
    let Some(bin) = moto_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto_server is not installed (scripts/test installs it in .venv)"
        );
        eprintln!("note: no moto_server (.venv/bin/moto_server); this AWS test is skipped");
        return None;
    };
    let port =
        TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let m = Moto { child, url: format!("http://127.0.0.1:{port}") };
    // A liveness bound for another process's start (up to 30 s), not a timing claim.
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{}/moto-api/", m.url)).send().await.is_ok() {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not answer on {}", m.url);
}

/// Test credentials (moto takes any).
pub fn credentials() -> Credentials {
    Credentials::new("AKIDPODWARDENTEST", "moto-accepts-any-secret")
}

/// A client of `url` in us-east-1 with the test credentials.
pub fn client(url: &str) -> Client {
    Client::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials(credentials())
        .build()
        .expect("client")
}

/// An EC2 error the stand answers instead of moto.
#[derive(Debug, Clone)]
pub struct Fault {
    pub code: String,
    pub message: String,
    pub status: u16,
}

/// What the stand knows of an instance it booted.
#[derive(Debug, Clone, Default)]
pub struct Booted {
    /// The hosts' pod running its user data.
    pub pod: String,
    /// `shutdown` calls the script made (`-h +61 …`), in order.
    pub shutdowns: Vec<String>,
}

#[derive(Debug, Default)]
struct StandState {
    faults: HashMap<String, VecDeque<Fault>>,
    booted: HashMap<String, Booted>,
    /// Every action the stand saw, in order.
    calls: Vec<String>,
}

/// moto behind a proxy that boots instances in the emulator's sandbox (module docs).
#[derive(Debug)]
pub struct Ec2Stand {
    pub moto: Moto,
    /// Where podwarden (or a test's client) calls EC2, STS and SSM.
    pub url: String,
    inner: Arc<Inner>,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Inner {
    moto: String,
    url: String,
    http: reqwest::Client,
    direct: Client,
    state: Mutex<StandState>,
    hosts: OnceLock<runpod_emulator::RunningEmulator>,
    shims: std::path::PathBuf,
}

/// The image the hosts' pods run (the instance's operating system).
const HOST_IMAGE: &str = "podwarden-ec2-host:latest";

impl Ec2Stand {
    /// moto and the proxy; `None` without moto outside CI. Instances boot once
    /// [`Ec2Stand::boot_hosts`] has started the hosts.
    pub async fn start() -> Option<Self> {
        let moto = moto().await?;
        let dir = tempfile::tempdir().expect("a directory for the stand-ins");
        write_shims(dir.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Inner {
            moto: moto.url.clone(),
            url: url.clone(),
            http: reqwest::Client::new(),
            direct: client(&moto.url),
            state: Mutex::new(StandState::default()),
            hosts: OnceLock::new(),
            shims: dir.path().to_owned(),
        });
        let app = axum::Router::new()
            .route("/harness/shutdown/{id}", axum::routing::post(shutdown_now))
            .route("/harness/s3/{bucket}/{*key}", axum::routing::get(s3_get).put(s3_put))
            .fallback(proxy)
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Some(Self { moto, url, inner, _dir: dir })
    }

    /// Starts the hosts: instances launched from now on run their user data, and reach the
    /// stand and the loopback `ports` (a podwarden server's, for its callbacks).
    pub async fn boot_hosts(&self, ports: &[u16]) {
        self.boot_hosts_with(ports, &[]).await;
    }

    /// [`Ec2Stand::boot_hosts`] with more programs on the instances' `PATH` (`name`, host path),
    /// e.g. podwarden's own tabular worker.
    pub async fn boot_hosts_with(&self, ports: &[u16], extra_tools: &[(&str, std::path::PathBuf)]) {
        let mut cfg = runpod_emulator::EmulatorConfig::default();
        cfg.pods.provisioning_secs = 0.0;
        cfg.pods.starting_secs = 0.0;
        cfg.tick_ms = 20;
        cfg.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::unlimited();
        // Every launched instance boots: the hosts never run out of machines.
        for g in &mut cfg.gpus {
            for s in g.stock.values_mut() {
                s.secure = 100_000;
                s.community = 100_000;
            }
        }
        let stand_port: u16 =
            self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the stand's port");
        cfg.allow_host_ports = [stand_port].into_iter().chain(ports.iter().copied()).collect();
        let shim = |n: &str| self.inner.shims.join(n);
        cfg.images.insert(
            HOST_IMAGE.into(),
            runpod_emulator::image::ImageConfig {
                cmd: vec!["bash".into()],
                tools: [
                    "sh", "bash", "cat", "echo", "mkdir", "mv", "cp", "rm", "ls", "sleep",
                    "printf", "dirname", "basename", "base64", "curl", "python3", "env", "test",
                    "[", "wc", "head", "tail", "grep", "sed", "tr", "touch", "realpath", "timeout",
                ]
                .map(str::to_owned)
                .to_vec(),
                host_tools: [
                    ("docker".to_owned(), shim("docker")),
                    ("shutdown".to_owned(), shim("shutdown")),
                    ("aws".to_owned(), shim("aws")),
                ]
                .into_iter()
                .chain(extra_tools.iter().map(|(n, p)| ((*n).to_owned(), p.clone())))
                .collect(),
                ..Default::default()
            },
        );
        let emu = runpod_emulator::start(cfg, runpod_emulator::Options::default())
            .await
            .expect("the hosts' emulator");
        self.inner.hosts.set(emu).expect("hosts are booted once");
    }

    /// The next `times` calls of `action` answer `code` (HTTP `status`) instead of moto.
    pub fn fail(&self, action: &str, code: &str, status: u16, times: usize) {
        let mut st = self.inner.state.lock().expect("state");
        let q = st.faults.entry(action.to_owned()).or_default();
        for _ in 0..times {
            q.push_back(Fault {
                code: code.into(),
                message: format!("{code} (injected by the test's EC2 stand)"),
                status,
            });
        }
    }

    /// What the stand knows of instance `id`.
    pub fn booted(&self, id: &str) -> Option<Booted> {
        self.inner.state.lock().expect("state").booted.get(id).cloned()
    }

    /// Every EC2/STS/SSM action called through the stand, in order.
    pub fn calls(&self) -> Vec<String> {
        self.inner.state.lock().expect("state").calls.clone()
    }

    /// A client of moto itself (what AWS holds, without the stand's faults).
    pub fn direct(&self) -> &Client {
        &self.inner.direct
    }

    /// Makes an S3 bucket in moto.
    pub async fn create_bucket(&self, bucket: &str) {
        let r =
            self.inner.http.put(format!("{}/{bucket}", self.moto.url)).send().await.expect("moto");
        assert!(r.status().is_success(), "creating bucket {bucket}: {}", r.status());
    }

    /// Writes an object to moto's S3.
    pub async fn s3_put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        use object_store::ObjectStoreExt as _;
        self.inner.s3(bucket).put(&key.into(), bytes.into()).await.expect("put");
    }

    /// An object of moto's S3, `None` when it is not there.
    pub async fn s3_get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        use object_store::ObjectStoreExt as _;
        let got = self.inner.s3(bucket).get(&key.into()).await.ok()?;
        Some(got.bytes().await.expect("body").to_vec())
    }
}

impl Inner {
    /// A signed S3 client of `bucket` in moto.
    fn s3(&self, bucket: &str) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.moto)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("AKIDPODWARDENTEST")
            .with_secret_access_key("moto-accepts-any-secret")
            .with_bucket_name(bucket)
            .build()
            .expect("an S3 client")
    }
}

/// `GET /harness/s3/{bucket}/{key}`: an instance's `aws s3 cp s3://… FILE`.
async fn s3_get(
    State(s): State<Arc<Inner>>,
    Path((bucket, key)): Path<(String, String)>,
) -> Response {
    use object_store::ObjectStoreExt as _;
    match s.s3(&bucket).get(&key.as_str().into()).await {
        Ok(got) => match got.bytes().await {
            Ok(b) => (StatusCode::OK, b).into_response(),
            Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        },
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

/// `PUT /harness/s3/{bucket}/{key}`: an instance's `aws s3 cp FILE s3://…`.
async fn s3_put(
    State(s): State<Arc<Inner>>,
    Path((bucket, key)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    use object_store::ObjectStoreExt as _;
    match s.s3(&bucket).put(&key.as_str().into(), body.into()).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// The `docker` and `shutdown` an instance finds on its `PATH`.
fn write_shims(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let put = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).expect("a stand-in");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    put(
        "docker",
        r#"#!/bin/sh
# The EC2 stand's docker: `docker run [options] IMAGE ARGS...` runs ARGS here, in the
# instance's sandbox, with the variables of its `-e NAME=value` words. An image
# named `…does-not-exist…` cannot be pulled, as Docker says it.
# `pause`/`unpause` do nothing here: the "container" is the instance's own sandbox.
# That sandbox is a pod of the hosts' emulator: its RunPod variables are no EC2 container's.
for v in $(env | sed -n 's/^\(RUNPOD_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
case "$1" in pause|unpause) exit 0 ;; esac
[ "$1" = run ] || { echo "stand docker: only 'run', 'pause', 'unpause'" >&2; exit 125; }
shift
while [ $# -gt 0 ]; do
  case "$1" in
    -e) export "$2"; shift 2 ;;
    --name|--gpus|--network|-v|--cap-drop) shift 2 ;;
    --rm|-i|-t) shift ;;
    -*) echo "stand docker: unknown option $1" >&2; exit 125 ;;
    *) break ;;
  esac
done
case "$1" in
  *does-not-exist*) echo "docker: Error response from daemon: manifest for $1 not found: manifest unknown" >&2; exit 125 ;;
esac
shift
exec "$@"
"#,
    );
    put(
        "aws",
        r#"#!/bin/sh
# The EC2 stand's AWS CLI: `aws s3 cp [--only-show-errors] SRC DST`, one side s3://BUCKET/KEY,
# through the stand, which signs for moto's S3.
[ "$1" = s3 ] && [ "$2" = cp ] || { echo "stand aws: only 's3 cp'" >&2; exit 2; }
shift 2
[ "$1" = --only-show-errors ] && shift
case "$1" in
  s3://*) mkdir -p "$(dirname "$2")" && curl -fsS -o "$2" "$PODWARDEN_STAND_URL/harness/s3/${1#s3://}" ;;
  *) case "$2" in
       s3://*) curl -fsS -X PUT --data-binary @"$1" "$PODWARDEN_STAND_URL/harness/s3/${2#s3://}" >/dev/null ;;
       *) echo "stand aws: one side must be s3://" >&2; exit 2 ;;
     esac ;;
esac
"#,
    );
    put(
        "shutdown",
        r#"#!/bin/sh
# The EC2 stand's shutdown: `now` terminates this instance (launched to terminate on
# shutdown); a delayed one is recorded.
curl -fsS -X POST --data-binary "$*" "$PODWARDEN_STAND_URL/harness/shutdown/$PODWARDEN_STAND_INSTANCE" >/dev/null
"#,
    );
}

/// `POST /harness/shutdown/{id}` with the arguments of `shutdown`.
async fn shutdown_now(
    State(s): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let now = body.split_whitespace().any(|w| w == "now");
    s.state.lock().expect("state").booted.entry(id.clone()).or_default().shutdowns.push(body);
    if now {
        let _ = s.direct.terminate_instance(&id).await;
        s.end(&id).await;
    }
    StatusCode::NO_CONTENT
}

impl Inner {
    /// Ends the sandbox of instance `id`.
    async fn end(&self, id: &str) {
        let pod = self.state.lock().expect("state").booted.get(id).map(|b| b.pod.clone());
        if let (Some(pod), Some(hosts)) = (pod, self.hosts.get()) {
            let _ = hosts.client().delete_pod(&runpod::PodId::new(&pod)).await;
        }
    }

    /// Runs `user_data` for instance `id` on the hosts.
    async fn boot(&self, id: &str, user_data: &str) {
        let Some(hosts) = self.hosts.get() else {
            eprintln!("EC2 stand: instance {id} launched before boot_hosts; it never boots");
            return;
        };
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(user_data);
        let mut req = crate::emulator::pod(id);
        req.image = Some(HOST_IMAGE.into());
        req.args = Some(format!("bash -c 'p={b64}; eval \"$(printf %s \"$p\" | base64 -d)\"'"));
        req.env = Some(
            [
                ("PODWARDEN_STAND_URL".to_owned(), self.url.clone()),
                ("PODWARDEN_STAND_INSTANCE".to_owned(), id.to_owned()),
            ]
            .into(),
        );
        match hosts.client().create_pod(&req).await {
            Ok(p) => {
                self.state.lock().expect("state").booted.entry(id.to_owned()).or_default().pod =
                    p.id.0
            }
            Err(e) => eprintln!("EC2 stand: instance {id} could not boot: {e}"),
        }
    }

    /// What instance `id`'s script printed (its serial console).
    fn console(&self, id: &str) -> String {
        let pod = self.state.lock().expect("state").booted.get(id).map(|b| b.pod.clone());
        let (Some(pod), Some(hosts)) = (pod, self.hosts.get()) else { return String::new() };
        let w = hosts.shared.world.lock();
        w.pods.get(&pod).map(|p| p.logs.text().join("\n")).unwrap_or_default()
    }
}

/// Every request: a fault, the console, or moto (booting and ending sandboxes on the way).
async fn proxy(
    State(s): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // In a task of its own: a client that hangs up (a server killed mid-call) does not stop a
    // launch half-way: EC2 boots an instance whether or not its launcher heard the answer.
    let task = tokio::spawn(answer(s, method, uri, headers, body));
    task.await
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

async fn answer(
    s: Arc<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let action = param("Action").unwrap_or_default();
    let fault = {
        let mut st = s.state.lock().expect("state");
        st.calls.push(action.clone());
        st.faults.get_mut(&action).and_then(VecDeque::pop_front)
    };
    if let Some(f) = fault {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>stand</RequestID></Response>",
            f.code, f.message
        );
        return (StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST), xml)
            .into_response();
    }
    if action == "GetConsoleOutput" {
        use base64::Engine as _;
        let id = param("InstanceId").unwrap_or_default();
        let out = base64::engine::general_purpose::STANDARD.encode(s.console(&id));
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetConsoleOutputResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>stand</requestId><instanceId>{id}</instanceId><timestamp>2026-01-01T00:00:00.000Z</timestamp><output>{out}</output></GetConsoleOutputResponse>"
        );
        return (StatusCode::OK, xml).into_response();
    }
    let mut fwd = s.http.request(
        method.clone(),
        format!("{}{}", s.moto, uri.path_and_query().map_or("/", |p| p.as_str())),
    );
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            fwd = fwd.header(k, v);
        }
    }
    let answer = match fwd.body(body.clone()).send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status().as_u16();
    // moto's headers go back as they came (S3's ETag, ranges, lengths of HEAD answers).
    let mut kept = HeaderMap::new();
    for (k, v) in answer.headers() {
        if k != "transfer-encoding"
            && k != "connection"
            && (method == Method::HEAD || k != "content-length")
        {
            kept.insert(k.clone(), v.clone());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if status == 200 && action == "RunInstances" {
        if let (Some(id), Some(data)) = (first_tag(&text, "instanceId"), param("UserData")) {
            use base64::Engine as _;
            let script = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            s.boot(&id, &script).await;
        }
    }
    if status == 200 && action == "TerminateInstances" {
        for (k, v) in &form {
            if k.starts_with("InstanceId.") {
                s.end(v).await;
            }
        }
    }
    let mut r =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), bytes).into_response();
    r.headers_mut().extend(kept);
    r
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn first_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// A stand-in for an EC2 instance's metadata service (IMDSv2) whose role is `role`: a session
/// token first (`PUT /latest/api/token`), then the role's name and its credentials for that
/// token only. `reads` counts the credential reads.
#[derive(Debug)]
pub struct Imds {
    pub url: String,
    pub reads: Arc<std::sync::atomic::AtomicUsize>,
}

/// Starts an [`Imds`] serving `role`'s credentials (`access_key_id`, any secret).
pub async fn imds(role: &str, access_key_id: &str) -> Imds {
    use axum::routing::{get, put};
    use std::sync::atomic::{AtomicUsize, Ordering};
    const TOKEN: &str = "imds-session-token";
    let reads = Arc::new(AtomicUsize::new(0));
    let authorized = |h: &HeaderMap| h.get("x-aws-ec2-metadata-token").is_some_and(|t| t == TOKEN);
    let (role, key, counter) = (role.to_owned(), access_key_id.to_owned(), reads.clone());
    let role2 = role.clone();
    let app = axum::Router::new()
        .route(
            "/latest/api/token",
            put(|h: HeaderMap| async move {
                match h.get("x-aws-ec2-metadata-token-ttl-seconds") {
                    Some(_) => (StatusCode::OK, TOKEN).into_response(),
                    None => StatusCode::BAD_REQUEST.into_response(),
                }
            }),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/",
            get(move |h: HeaderMap| async move {
                if authorized(&h) {
                    (StatusCode::OK, role2).into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/{name}",
            get(move |Path(name): Path<String>, h: HeaderMap| async move {
                if !authorized(&h) || name != role {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                counter.fetch_add(1, Ordering::SeqCst);
                axum::Json(serde_json::json!({
                    "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": key,
                    "SecretAccessKey": "role-secret", "Token": "role-session-token",
                    "Expiration": "2099-01-01T00:00:00Z", "LastUpdated": "2026-01-01T00:00:00Z",
                }))
                .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Imds { url, reads }
}
