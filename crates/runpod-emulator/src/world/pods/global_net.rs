//! Global networking: an account's private network between its NVIDIA GPU pods.
//!
//! RunPod (`pods/networking`): "Global networking creates a secure, private network that
//! connects all your Pods within your Runpod account … provides each Pod with a private IP
//! address accessible only to other Pods in your account … only available for NVIDIA GPU
//! Pods". The spec's `PodGlobalNetworking`: `enabled` ("derived from whether the pod has an
//! assigned global-network address"), `ip` (`10.65.1.42`) and `internalDns`
//! (`<podId>.runpod.internal`), both present only when enabled.
//!
//! Here: a pod asking for it gets the lowest free address of `10.65.0.0/16` from `10.65.0.2`
//! among its account's pods, kept until it is terminated; every container of the account's
//! network resolves the others' (and its own) `internalDns` through a `hosts` file of the
//! account's that the runner keeps current (`Effect::WriteHosts`); `globalnet.rs` wires the
//! containers to one bridge per account.

use super::*;
use crate::container::PrivateNet;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// The refusal of `globalNetworking` for a pod that is not on an NVIDIA GPU. RunPod's own
/// wording is unpublished (its docs: "only available for NVIDIA GPU Pods").
pub const GLOBAL_NETWORKING_GPU_ONLY: &str = "global networking is only available for NVIDIA GPU pods (synthetic message: RunPod publishes no exact text)";

/// `10.65.0.0/16`: the first address handed out, and the last.
const FIRST: u32 = u32::from_be_bytes([10, 65, 0, 2]);
const LAST: u32 = u32::from_be_bytes([10, 65, 255, 254]);

/// The suffix of a pod's `internalDns`.
const INTERNAL_DNS: &str = ".runpod.internal";

/// The accounts' private networks.
#[derive(Debug, Default)]
pub struct GlobalNet {
    /// Each account's network, numbered from 1 in order of first use: its bridge is
    /// `br<n>`, its `hosts` file in `<state>/global-network/<n>/`.
    networks: HashMap<String, u32>,
    /// Bumped at each `hosts` rendering, so the runner keeps the newest.
    hosts_version: u64,
}

/// `<podId>.runpod.internal`.
pub(super) fn internal_dns(id: &str) -> String {
    format!("{id}{INTERNAL_DNS}")
}

impl World {
    /// Refuses `globalNetworking` for a CPU pod (`gpu: None`) or a GPU that is not NVIDIA's.
    /// An unknown GPU type is left to placement, which names it.
    pub(super) fn check_global_networking(&self, gpu: Option<&str>) -> ApiResult<()> {
        let nvidia = match gpu {
            None => false,
            Some(g) => {
                self.catalog.offer(g).is_none_or(|o| !o.manufacturer.eq_ignore_ascii_case("AMD"))
            }
        };
        if nvidia { Ok(()) } else { Err(ApiError::bad_request(GLOBAL_NETWORKING_GPU_ONLY)) }
    }

    /// The lowest address of `10.65.0.0/16` from `10.65.0.2` that no live pod of `acct` holds.
    pub(super) fn free_private_ip(&self, acct: &str) -> ApiResult<Ipv4Addr> {
        let held: std::collections::HashSet<u32> = self
            .pods
            .values()
            .filter(|p| p.account == acct && p.status != PodStatus::Terminated)
            .filter_map(|p| p.private_ip.map(u32::from))
            .collect();
        (FIRST..=LAST).find(|a| !held.contains(a)).map(Ipv4Addr::from).ok_or_else(|| {
            ApiError::bad_request(
                "no free global-networking address in this account (synthetic message: RunPod publishes no limit)",
            )
        })
    }

    /// The number of `acct`'s network, given at its first use.
    fn network_of(&mut self, acct: &str) -> u32 {
        let next = self.global_net.networks.len() as u32 + 1;
        *self.global_net.networks.entry(acct.to_owned()).or_insert(next)
    }

    fn hosts_dir(&self, network: u32) -> std::path::PathBuf {
        self.state_dir.join("global-network").join(network.to_string())
    }

    /// Queues `acct`'s `hosts` file as its pods' addresses now are: one line per live pod that
    /// holds an address, its `internalDns` only.
    pub(super) fn hosts_changed(&mut self, acct: &str) {
        let network = self.network_of(acct);
        let mut held: Vec<(Ipv4Addr, &str)> = self
            .pods
            .values()
            .filter(|p| p.account == acct && p.status != PodStatus::Terminated)
            .filter_map(|p| p.private_ip.map(|ip| (ip, p.id.as_str())))
            .collect();
        held.sort();
        let mut text = String::from(
            "# The account's global network (podwarden's RunPod emulator).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        );
        for (ip, id) in held {
            text.push_str(&format!("{ip}\t{id}{INTERNAL_DNS}\n"));
        }
        self.global_net.hosts_version += 1;
        let (dir, version) = (self.hosts_dir(network), self.global_net.hosts_version);
        self.effect(Effect::WriteHosts { dir, version, text });
    }

    /// At a container start: a `globalNetworking` changed by a PATCH takes effect ("on the next
    /// pod start/restart, not live", spec `UpdatePodRequest`): an address is given or given
    /// back. Then the container's place on the network, if it has one.
    pub(super) fn private_net_at_start(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Option<PrivateNet> {
        let p = self.pods.get(id)?;
        let (acct, wanted, held) = (p.account.clone(), p.global_networking, p.private_ip);
        match (wanted, held) {
            (true, None) => match self.free_private_ip(&acct) {
                Ok(ip) => {
                    if let Some(p) = self.pods.get_mut(id) {
                        p.private_ip = Some(ip);
                    }
                    self.hosts_changed(&acct);
                }
                Err(e) => self.log_pod(id, now, "system", &format!("emulator: {}", e.detail)),
            },
            (false, Some(_)) => {
                if let Some(p) = self.pods.get_mut(id) {
                    p.private_ip = None;
                }
                self.hosts_changed(&acct);
            }
            _ => {}
        }
        let ip = self.pods.get(id)?.private_ip?;
        let network = self.network_of(&acct);
        Some(PrivateNet { ip, network, hosts_dir: self.hosts_dir(network) })
    }
}
