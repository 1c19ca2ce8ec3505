//! The emulated account: every resource, the clock-driven state machines, and billing.
//!
//! `World` is plain data behind one mutex. Operations never perform I/O: they change state and
//! queue [`Effect`]s (start a process, kill one, call a webhook, wake waiters), which the caller
//! executes after releasing the lock. That keeps every transition testable without processes
//! and every lock hold short.

pub mod catalog;
pub mod ledger;
pub mod pods;
pub mod secrets;
pub mod serverless;
pub mod storage;

use crate::config::EmulatorConfig;
use crate::faults::{PodFaults, WorkerFaults};
use crate::image::{ImageConfig, argv, lookup};
use chrono::{DateTime, Utc};
use pods::StatusExt;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::container::{Owner, SpawnSpec};
pub use ledger::Ledger;

/// Work to do outside the lock.
#[derive(Debug)]
pub enum Effect {
    /// Start a process.
    Spawn(Box<SpawnSpec>),
    /// Stop the process group of `owner` at `generation`: SIGTERM, then SIGKILL after `grace_ms`.
    Kill { owner: Owner, generation: u64, grace_ms: u64 },
    /// POST `body` to a job's webhook.
    Webhook { url: String, body: serde_json::Value },
    /// Wake the long polls waiting on something that just changed.
    Wake(Wake),
    /// Delete a directory (a pod volume destroyed with its pod).
    RemoveDir(PathBuf),
    /// Replace an account's global-network `hosts` file (in `dir`) with `text`, unless a newer
    /// `version` has been written already (effects of concurrent operations may run out of order).
    WriteHosts { dir: PathBuf, version: u64, text: String },
}

/// What a long poll waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// An endpoint's queue got a job (`job-take`).
    Queue(String),
    /// A job ended or vanished, or streamed a chunk (`/runsync`, `/status-sync`, `/stream`).
    Job(String),
    /// A worker's stop list grew (`job-stop`).
    Stops(String),
    /// Anything may have changed (rare: endpoint deleted, queue purged, results expired).
    All,
}

impl Wake {
    /// The notifier key.
    pub fn key(&self) -> String {
        match self {
            Self::Queue(ep) => format!("q/{ep}"),
            Self::Job(id) => format!("j/{id}"),
            Self::Stops(w) => format!("s/{w}"),
            Self::All => String::new(),
        }
    }
}

/// One account's money. Every resource belongs to exactly one account (its `account`
/// field); a key sees only its own account's resources, balance and bills.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub user_id: String,
    pub balance: f64,
    pub spend_limit: f64,
    /// Secret of the account's S3 API key (its access key id is `user_id`), as RunPod's
    /// console makes them: separate from every API key.
    pub s3_secret: String,
}

/// A kind of resource an account owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    Pod,
    Endpoint,
    Template,
    Volume,
    Registry,
    QueuedPod,
    Secret,
}

/// Every resource of every emulated account.
#[derive(Debug)]
pub struct World {
    pub cfg: Arc<EmulatorConfig>,
    /// Base URL processes use to call back (set once the listener is bound).
    pub base_url: String,
    pub state_dir: PathBuf,
    /// Accounts by user id; `main_account` is the one `api_key` belongs to.
    pub accounts: std::collections::BTreeMap<String, Account>,
    pub main_account: String,
    pub pods: HashMap<String, pods::PodRecord>,
    pub templates: HashMap<String, storage::TemplateRecord>,
    /// Container registry credentials (`/v2/registries`); the secret is kept only to exist.
    pub registries: HashMap<String, storage::RegistryRecord>,
    pub volumes: HashMap<String, storage::VolumeRecord>,
    /// Queued pods (`/v2/queued-pods`), seeded by tests (`PUT /_emulator/queued-pods`): how
    /// RunPod creates them is unconfirmed.
    pub queued_pods: HashMap<String, storage::QueuedRecord>,
    /// Account secrets (`/v2/account/secrets`), substituted into env at container boot.
    pub secrets: HashMap<String, secrets::SecretRecord>,
    pub endpoints: HashMap<String, serverless::EndpointRecord>,
    pub jobs: HashMap<String, serverless::JobRecord>,
    pub workers: HashMap<String, serverless::WorkerRecord>,
    /// Workers stopped for good: a late poll from one must not bring it back as "external".
    pub retired_workers: std::collections::HashSet<String>,
    pub catalog: catalog::Catalog,
    pub ledger: Ledger,
    /// Pod-scoped keys → pod id.
    pub pod_keys: HashMap<String, String>,
    /// Worker keys → endpoint id.
    pub worker_keys: HashMap<String, String>,
    pub pod_faults: PodFaults,
    pub worker_faults: WorkerFaults,
    /// The built-in images (the config's `images` are looked up first).
    default_images: std::collections::BTreeMap<String, ImageConfig>,
    /// The accounts' global networks (`pods/global_net.rs`).
    global_net: pods::GlobalNet,
    next_generation: u64,
    /// Launches drawn from the capacity model so far, per modelled offer (its launch numbers).
    capacity_launches: HashMap<usize, u64>,
    effects: Vec<Effect>,
}

impl World {
    /// The accounts per `cfg`: empty but for the main account's seeded network volumes.
    /// Returns the world and which account each key (the main one first) belongs to.
    pub fn new(
        cfg: Arc<EmulatorConfig>,
        state_dir: PathBuf,
        main_key: &str,
    ) -> (Self, HashMap<String, String>) {
        let catalog = catalog::Catalog::from_config(&cfg);
        let s3_secret = |s: &Option<String>| s.clone().unwrap_or_else(|| random_secret("rps_"));
        let main = Account {
            user_id: format!("user_{}", random_id(12)),
            balance: cfg.account.balance,
            spend_limit: cfg.account.spend_limit,
            s3_secret: s3_secret(&cfg.account.s3_secret),
        };
        let mut keys: HashMap<String, String> = HashMap::new();
        keys.insert(main_key.to_owned(), main.user_id.clone());
        for k in &cfg.extra_api_keys {
            keys.insert(k.clone(), main.user_id.clone());
        }
        let mut accounts = std::collections::BTreeMap::new();
        for a in &cfg.accounts {
            let acct = Account {
                user_id: format!("user_{}", random_id(12)),
                balance: a.balance,
                spend_limit: a.spend_limit,
                s3_secret: s3_secret(&a.s3_secret),
            };
            for k in std::iter::once(&a.api_key).chain(&a.extra_api_keys) {
                keys.insert(k.clone(), acct.user_id.clone());
            }
            accounts.insert(acct.user_id.clone(), acct);
        }
        let main_account = main.user_id.clone();
        accounts.insert(main_account.clone(), main);
        let mut ledger = Ledger::default();
        let volumes = cfg
            .volumes
            .iter()
            .map(|v| {
                let volume = runpod::types::network_volumes::NetworkVolume {
                    id: runpod::NetworkVolumeId::new(&v.id),
                    name: v.name.clone(),
                    size: v.size,
                    data_center: runpod::DataCenterId::new(&v.data_center),
                    kind: runpod::types::network_volumes::VolumeType::Standard,
                };
                ledger.own(ledger::Kind::NetworkVolume, &v.id, &main_account);
                (
                    v.id.clone(),
                    storage::VolumeRecord {
                        volume,
                        account: main_account.clone(),
                        billed_until: Utc::now(),
                    },
                )
            })
            .collect();
        let world = Self {
            accounts,
            main_account,
            pod_faults: cfg.faults.pods.clone(),
            worker_faults: cfg.faults.workers.clone(),
            cfg,
            base_url: String::new(),
            state_dir,
            pods: HashMap::new(),
            templates: HashMap::new(),
            registries: HashMap::new(),
            volumes,
            queued_pods: HashMap::new(),
            secrets: HashMap::new(),
            endpoints: HashMap::new(),
            jobs: HashMap::new(),
            workers: HashMap::new(),
            retired_workers: std::collections::HashSet::new(),
            catalog,
            ledger,
            pod_keys: HashMap::new(),
            worker_keys: HashMap::new(),
            default_images: crate::image::default_images(),
            global_net: pods::GlobalNet::default(),
            next_generation: 1,
            capacity_launches: HashMap::new(),
            effects: Vec::new(),
        };
        (world, keys)
    }

    /// The account `id`, which every resource's `account` names.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// The account `id`, to change.
    pub fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        self.accounts.get_mut(id)
    }

    /// The main account (the one `api_key` belongs to), to change.
    pub fn main_account_mut(&mut self) -> &mut Account {
        let id = self.main_account.clone();
        self.accounts.entry(id.clone()).or_insert_with(|| Account {
            user_id: id,
            balance: 0.0,
            spend_limit: 0.0,
            s3_secret: String::new(),
        })
    }

    /// The account that owns a resource, if it exists (terminated pods included).
    pub fn owner(&self, res: Res, id: &str) -> Option<&str> {
        match res {
            Res::Pod => self.pods.get(id).map(|p| p.account.as_str()),
            Res::Endpoint => self.endpoints.get(id).map(|e| e.account.as_str()),
            Res::Template => self.templates.get(id).map(|t| t.account.as_str()),
            Res::Volume => self.volumes.get(id).map(|v| v.account.as_str()),
            Res::Registry => self.registries.get(id).map(|r| r.account.as_str()),
            Res::QueuedPod => self.queued_pods.get(id).map(|q| q.account.as_str()),
            Res::Secret => self.secrets.get(id).map(|s| s.account.as_str()),
        }
    }

    /// Whether `acct` owns the resource; RunPod answers another account's resource as if it did
    /// not exist.
    pub fn owns(&self, acct: &str, res: Res, id: &str) -> bool {
        self.owner(res, id) == Some(acct)
    }

    /// Balance of `acct` (0 for an unknown account).
    pub fn balance(&self, acct: &str) -> f64 {
        self.accounts.get(acct).map_or(0.0, |a| a.balance)
    }

    /// The image a container of `image` runs and its argv, or why it cannot start: an image
    /// nobody declared does not exist (RunPod retries the pull forever), a private one needs
    /// registry credentials, `args` must split into words, and the program they start must be
    /// in the image.
    pub(crate) fn resolve_container(
        &self,
        account: &str,
        image: &str,
        registry: Option<&str>,
        args: &str,
    ) -> Result<(ImageConfig, Vec<String>), String> {
        let Some(img) = lookup(&self.cfg.images, &self.default_images, image) else {
            return Err(format!(
                "error pulling image {image:?}: manifest unknown (the emulator knows only the images in its config's `images`; docs/emulator.md)"
            ));
        };
        let credential =
            registry.and_then(|r| self.registries.get(r)).filter(|r| r.account == account);
        if img.private && credential.is_none() {
            return Err(match registry {
                None => format!(
                    "error pulling image {image:?}: unauthorized: authentication required (set `registry` to a registry credential id)"
                ),
                Some(r) => format!(
                    "error pulling image {image:?}: unauthorized: registry credential {r:?} does not exist in this account (`/v2/registries`)"
                ),
            });
        }
        let argv = argv(img, args).map_err(|e| e.to_string())?;
        if !crate::image::has_program(img, &argv[0]) {
            // Docker's words: the container never starts, and RunPod restarts it on and on.
            return Err(format!(
                "OCI runtime create failed: runc create failed: unable to start container process: exec: {:?}: executable file not found in $PATH: unknown",
                argv[0]
            ));
        }
        Ok((img.clone(), argv))
    }

    /// How long pulling `image` takes beyond the configured STARTING time (emulated seconds).
    pub(crate) fn pull_secs(&self, image: &str) -> Option<f64> {
        lookup(&self.cfg.images, &self.default_images, image).and_then(|i| i.pull_secs)
    }

    /// Directory of a network volume's files (shared by every pod and worker that mounts it).
    pub fn volume_dir(&self, id: &str) -> PathBuf {
        match self.cfg.volumes.iter().find(|v| v.id == id).and_then(|v| v.dir.clone()) {
            Some(d) => d,
            None => self.state_dir.join("volumes").join(id),
        }
    }

    /// Queues an effect.
    pub(crate) fn effect(&mut self, e: Effect) {
        self.effects.push(e);
    }

    /// Takes the queued effects.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub(crate) fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Advances every state machine to `now`: pod boot and restarts, preemption, billing,
    /// worker scaling and idle timeouts, job timeouts, TTLs and retention, and the
    /// zero-balance rule.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        self.tick_pods(now);
        self.tick_serverless(now);
        let volumes: Vec<String> = self.volumes.keys().cloned().collect();
        for v in volumes {
            self.accrue_volume(&v, now);
        }
        self.ledger.run_billing(now, &self.cfg.billing, self.cfg.seed);
        let broke: Vec<String> = self
            .accounts
            .values()
            .filter(|a| a.balance <= 0.0)
            .map(|a| a.user_id.clone())
            .collect();
        for acct in broke {
            self.enforce_zero_balance(&acct, now);
        }
    }

    /// Sum of the hourly rates of everything `acct` is billed for now.
    pub fn current_spend_per_hr(&self, acct: &str) -> f64 {
        let pods: f64 =
            self.pods.values().filter(|p| p.account == acct).map(|p| p.current_rate()).sum();
        let workers: f64 = self
            .workers
            .values()
            .filter(|w| w.is_billing() && self.owns(acct, Res::Endpoint, &w.endpoint_id))
            .map(|w| w.price_per_hr)
            .sum();
        pods + workers
    }

    /// Charges `amount` to the ledger and the balance of the resource's account.
    pub(crate) fn charge(
        &mut self,
        kind: ledger::Kind,
        resource: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        rate_per_hr: f64,
        split: ledger::Split,
    ) {
        let charged = self.ledger.accrue(kind, resource, from, to, rate_per_hr, split);
        if let Some(acct) = self.ledger.owner(kind, resource).map(str::to_owned) {
            if let Some(a) = self.accounts.get_mut(&acct) {
                a.balance -= charged;
            }
        }
    }

    /// RunPod: at $0 all of the account's pods stop; those without a network volume are
    /// terminated, and its workers stop.
    fn enforce_zero_balance(&mut self, acct: &str, now: DateTime<Utc>) {
        let ids: Vec<String> = self
            .pods
            .values()
            .filter(|p| p.account == acct && p.status.is_billing_compute())
            .map(|p| p.id.clone())
            .collect();
        for id in ids {
            let has_network = self.pods.get(&id).is_some_and(|p| p.has_network_volume());
            self.log_pod(&id, now, "system", "account balance reached $0: pod stopped by billing");
            if has_network {
                let _ = self.pod_stop(&id, now);
            } else {
                let _ = self.pod_terminate(&id, now);
            }
        }
        let workers: Vec<String> = self
            .workers
            .values()
            .filter(|w| self.owns(acct, Res::Endpoint, &w.endpoint_id))
            .map(|w| w.id.clone())
            .collect();
        for w in workers {
            self.worker_stop(&w, now);
        }
    }
}

/// A lowercase alphanumeric id of `n` characters, like RunPod's pod ids.
pub fn random_id(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A random secret for scoped keys.
pub fn random_secret(prefix: &str) -> String {
    format!("{prefix}{}", random_id(32).to_uppercase())
}

impl World {
    /// Sets the catalog's free stock of every modelled offer to the model's stock at `now`,
    /// less the GPUs its live pods hold (`capacity.rs`).
    pub(crate) fn refresh_capacity(&mut self, now: DateTime<Utc>) {
        let Some(model) = self.cfg.capacity.clone() else { return };
        let t = now.timestamp_millis() as f64 / 1000.0;
        for (i, o) in model.offers.iter().enumerate() {
            let community = o.cloud.eq_ignore_ascii_case("COMMUNITY");
            let held: i64 = self
                .pods
                .values()
                .filter(|p| p.holds_gpus && p.data_center == o.data_center)
                .filter(|p| (p.cloud == runpod::types::pods::Cloud::Community) == community)
                .filter_map(|p| p.gpu.as_ref().filter(|g| g.0 == o.gpu).map(|g| g.1))
                .sum();
            let free = (model.stock(i, t) - held).max(0);
            let mut stock = self
                .catalog
                .free
                .get(&(o.gpu.clone(), o.data_center.clone()))
                .copied()
                .unwrap_or_default();
            if community {
                stock.community = free;
            } else {
                stock.secure = free;
            }
            self.catalog.set_stock(&o.gpu, &o.data_center, stock);
        }
    }

    /// The next launch's outcome on the pod's offer, when the model has it.
    pub(crate) fn capacity_launch(
        &mut self,
        gpu: &str,
        data_center: &str,
        cloud: runpod::types::pods::Cloud,
    ) -> Option<crate::capacity::Launch> {
        let model = self.cfg.capacity.as_ref()?;
        let cloud =
            if cloud == runpod::types::pods::Cloud::Community { "COMMUNITY" } else { "SECURE" };
        let i = model.find(gpu, data_center, cloud)?;
        let n = self.capacity_launches.entry(i).or_default();
        *n += 1;
        Some(model.launch(i, *n))
    }
}
