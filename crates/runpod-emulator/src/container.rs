//! What the world asks the process runner to start: a container (image, argv, env, volumes),
//! who owns it, and where its log goes. The world (`world/`) decides and the runner
//! (`process.rs`) executes; both depend on these types, neither on the other.

use crate::image::ImageConfig;
use crate::logs::LogBuffer;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Who owns a local process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Owner {
    Pod(String),
    Worker(String),
}

/// A container to start (`process.rs` runs it in its sandbox).
#[derive(Debug)]
pub struct SpawnSpec {
    pub owner: Owner,
    pub generation: u64,
    pub container: ContainerSpec,
    pub logs: Arc<LogBuffer>,
    /// The host's side of its published TCP ports: (port in the container, the listener on
    /// this machine that stands for its public port). `net.rs` relays them in.
    pub published: Vec<(u16, std::net::TcpListener)>,
}

/// What a container is: its image, argv, env and volumes.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub image: ImageConfig,
    /// Entrypoint + args, already split (never empty).
    pub argv: Vec<String>,
    /// RunPod's variables and the request's env (the image's `ENV` is added under them).
    pub env: Vec<(String, String)>,
    /// Host directory → path in the container, writable (pod volume, network volumes).
    pub volumes: Vec<(PathBuf, String)>,
    /// Hostname inside the container.
    pub hostname: String,
    /// Working directory when unsandboxed (the container's paths do not exist then).
    pub scratch: PathBuf,
    /// The program bound at `/usr/sbin/sshd` (an image that ships OpenSSH's server).
    pub sshd: Option<PathBuf>,
    /// The container's published TCP ports and the host directory their sockets are made in
    /// (bound at `net::PORTS_IN_CONTAINER`).
    pub published: Option<(Vec<u16>, PathBuf)>,
    /// The pod's place on its account's global network, if it has one (`globalnet.rs`).
    pub private_net: Option<PrivateNet>,
}

/// A container's address on its account's private network (RunPod's global networking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateNet {
    /// Its address in `10.65.0.0/16`.
    pub ip: std::net::Ipv4Addr,
    /// The account's network (its bridge is `br<network>`).
    pub network: u32,
    /// The directory of the account's `hosts` file (`/etc/hosts` in the container links into it).
    pub hosts_dir: PathBuf,
}
