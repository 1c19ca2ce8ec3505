//! GPU types for sale and their stock per data center and cloud.

use crate::config::{DataCenterConfig, EmulatorConfig, GpuOffer, Stock};
use runpod::types::catalog::{
    AvailabilityLevel, CatalogResourceAvailability, CudaVersionAvailability, DataCenter,
    DataCenterAvailability, GpuManufacturer, GpuMaxCount, GpuPrice, GpuType,
};
use runpod::types::pods::Cloud;
use runpod::{DataCenterId, GpuPoolId, GpuTypeId};
use std::collections::BTreeMap;

/// The catalog and what is free right now.
#[derive(Debug)]
pub struct Catalog {
    pub gpus: Vec<GpuOffer>,
    pub data_centers: Vec<DataCenterConfig>,
    /// Free GPUs by (gpu type, data center).
    pub free: BTreeMap<(String, String), Stock>,
}

impl Catalog {
    /// From the config's offers.
    pub fn from_config(cfg: &EmulatorConfig) -> Self {
        let mut free = BTreeMap::new();
        for g in &cfg.gpus {
            for (dc, s) in &g.stock {
                free.insert((g.id.clone(), dc.clone()), *s);
            }
        }
        Self { gpus: cfg.gpus.clone(), data_centers: cfg.data_centers.clone(), free }
    }

    /// The offer for a GPU type id.
    pub fn offer(&self, id: &str) -> Option<&GpuOffer> {
        self.gpus.iter().find(|g| g.id == id)
    }

    /// Takes `count` GPUs of `gpu` in the first allowed data center with stock. `cloud: None`
    /// means any cloud (secure first). Returns the data center and cloud used.
    pub fn allocate(
        &mut self,
        gpu: &str,
        count: i64,
        cloud: Option<Cloud>,
        dcs: &[String],
    ) -> Option<(String, Cloud)> {
        // `cloud` defaults to SECURE when omitted (spec `CreatePodRequest.cloud`): an omitted
        // cloud never lands on Community.
        let clouds: &[Cloud] = match cloud {
            Some(Cloud::Community) => &[Cloud::Community],
            _ => &[Cloud::Secure],
        };
        for c in clouds {
            for ((g, dc), stock) in self.free.iter_mut() {
                if g != gpu || (!dcs.is_empty() && !dcs.contains(dc)) {
                    continue;
                }
                let slot =
                    if *c == Cloud::Community { &mut stock.community } else { &mut stock.secure };
                if *slot >= count {
                    *slot -= count;
                    return Some((dc.clone(), *c));
                }
            }
        }
        None
    }

    /// Takes `count` GPUs in a specific data center and cloud (resuming a stopped pod).
    pub fn allocate_exact(&mut self, gpu: &str, count: i64, dc: &str, cloud: Cloud) -> bool {
        match self.free.get_mut(&(gpu.to_owned(), dc.to_owned())) {
            Some(s) => {
                let slot = if cloud == Cloud::Community { &mut s.community } else { &mut s.secure };
                if *slot >= count {
                    *slot -= count;
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }

    /// Returns GPUs to stock.
    pub fn release(&mut self, gpu: &str, count: i64, dc: &str, cloud: Cloud) {
        let s = self.free.entry((gpu.to_owned(), dc.to_owned())).or_default();
        if cloud == Cloud::Community {
            s.community += count;
        } else {
            s.secure += count;
        }
    }

    /// Sets the free count (admin API).
    pub fn set_stock(&mut self, gpu: &str, dc: &str, stock: Stock) {
        self.free.insert((gpu.to_owned(), dc.to_owned()), stock);
    }

    /// Free GPUs of `gpu` in `dc` (any when `None`) on the scoped clouds.
    fn free_in(&self, gpu: &str, dc: Option<&str>, scope: &AvailabilityScope) -> i64 {
        self.free
            .iter()
            .filter(|((g, d), _)| g == gpu && dc.is_none_or(|x| x == d) && scope.has_dc(self, d))
            .map(|(_, s)| match scope.cloud {
                Some(Cloud::Secure) => s.secure,
                Some(Cloud::Community) => s.community,
                _ => s.secure + s.community,
            })
            .sum()
    }

    /// A GPU type as `/v2/catalog/gpus` shows it; availability (when asked) is scoped as the
    /// query says: to `count` GPUs, a cloud, countries and CUDA versions.
    pub fn gpu_type(&self, g: &GpuOffer, scope: Option<&AvailabilityScope>) -> GpuType {
        let secure_stock: bool = g.stock.values().any(|s| s.secure > 0);
        let community_stock: bool = g.stock.values().any(|s| s.community > 0);
        // A level for `count` GPUs: fewer free than asked is none.
        let level_for = |free: i64, count: i64| {
            if free < count { AvailabilityLevel::None } else { level(free / count.max(1)) }
        };
        let cuda_ok =
            |scope: &AvailabilityScope| g.cuda_versions.iter().any(|v| scope.cuda_matches(v));
        GpuType {
            id: GpuTypeId::new(&g.id),
            name: g.name.clone(),
            pool: g.pool.as_deref().map(GpuPoolId::new),
            manufacturer: if g.manufacturer.eq_ignore_ascii_case("AMD") {
                GpuManufacturer::Amd
            } else {
                GpuManufacturer::Nvidia
            },
            memory: g.memory_gb,
            secure: secure_stock,
            community: community_stock,
            price: GpuPrice {
                secure: g.secure_price,
                community: g.community_price,
                serverless: g.serverless_price,
            },
            max_count: GpuMaxCount { secure: g.max_count, community: g.max_count },
            // A pod's GPUs share one machine: the best single data center decides.
            availability: scope.map(|sc| {
                if sc.count > g.max_count || !cuda_ok(sc) {
                    return AvailabilityLevel::None;
                }
                g.stock
                    .keys()
                    .map(|dc| level_for(self.free_in(&g.id, Some(dc), sc), sc.count))
                    .max_by_key(|l| rank(*l))
                    .unwrap_or(AvailabilityLevel::None)
            }),
            data_centers: scope.map(|sc| {
                self.data_centers
                    .iter()
                    .filter(|dc| g.stock.contains_key(&dc.id) && sc.has_dc(self, &dc.id))
                    .map(|dc| DataCenterAvailability {
                        id: DataCenterId::new(&dc.id),
                        name: dc.name.clone(),
                        availability: if cuda_ok(sc) {
                            level_for(self.free_in(&g.id, Some(&dc.id), sc), sc.count)
                        } else {
                            AvailabilityLevel::None
                        },
                    })
                    .collect()
            }),
            cuda_versions: scope.map(|sc| {
                let any = self.free_in(&g.id, None, sc) >= sc.count;
                g.cuda_versions
                    .iter()
                    .filter(|v| sc.cuda_matches(v))
                    .map(|v| CudaVersionAvailability { version: v.clone(), available: any })
                    .collect()
            }),
        }
    }

    /// A data center as `/v2/catalog/datacenters` shows it.
    pub fn data_center(&self, dc: &DataCenterConfig, with_gpus: bool) -> DataCenter {
        DataCenter {
            id: DataCenterId::new(&dc.id),
            name: dc.name.clone(),
            region: serde_json::from_value(serde_json::Value::String(dc.region.clone()))
                .unwrap_or(runpod::types::catalog::DataCenterRegion::Unknown),
            global_network: dc.global_network,
            network_volume_types: dc.network_volume_types.clone(),
            compliance: dc.compliance.clone(),
            gpu_availability: with_gpus.then(|| {
                self.gpus
                    .iter()
                    .filter(|g| g.stock.contains_key(&dc.id))
                    .map(|g| CatalogResourceAvailability {
                        id: g.id.clone(),
                        name: g.name.clone(),
                        availability: level(self.free_in(
                            &g.id,
                            Some(&dc.id),
                            &AvailabilityScope::default(),
                        )),
                    })
                    .collect()
            }),
            cpu_availability: None,
        }
    }
}

/// What `include=AVAILABILITY` is computed for (`/v2/catalog/gpus` query).
#[derive(Debug, Clone)]
pub struct AvailabilityScope {
    pub count: i64,
    /// `None`: both clouds (a query's default is SECURE, as the spec says upstream's is).
    pub cloud: Option<Cloud>,
    /// Upper-case ISO country codes; empty: everywhere.
    pub countries: Vec<String>,
    /// Exact `major.minor` versions; empty: any.
    pub cuda_versions: Vec<String>,
    /// Lowest acceptable version, `(major, minor)`; a bare major means any of its releases.
    pub min_cuda: Option<(u32, Option<u32>)>,
}

impl Default for AvailabilityScope {
    fn default() -> Self {
        Self {
            count: 1,
            cloud: None,
            countries: Vec::new(),
            cuda_versions: Vec::new(),
            min_cuda: None,
        }
    }
}

impl AvailabilityScope {
    /// Whether `g` is deployable within the scope's countries (any, without countries).
    pub fn deployable(&self, catalog: &Catalog, g: &GpuOffer) -> bool {
        self.countries.is_empty() || g.stock.keys().any(|dc| self.has_dc(catalog, dc))
    }

    fn has_dc(&self, catalog: &Catalog, dc: &str) -> bool {
        self.countries.is_empty()
            || catalog
                .data_centers
                .iter()
                .find(|d| d.id == dc)
                .is_some_and(|d| self.countries.contains(&d.country()))
    }

    fn cuda_matches(&self, v: &str) -> bool {
        let parse = |v: &str| -> Option<(u32, u32)> {
            let (a, b) = v.split_once('.').unwrap_or((v, "0"));
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        if !self.cuda_versions.is_empty() && !self.cuda_versions.iter().any(|c| c == v) {
            return false;
        }
        match (self.min_cuda, parse(v)) {
            (None, _) => true,
            (Some((maj, None)), Some((m, _))) => m >= maj,
            (Some((maj, Some(min))), Some(x)) => x >= (maj, min),
            (Some(_), None) => false,
        }
    }
}

/// Order of stock levels, lowest first.
fn rank(l: AvailabilityLevel) -> u8 {
    match l {
        AvailabilityLevel::High => 3,
        AvailabilityLevel::Medium => 2,
        AvailabilityLevel::Low => 1,
        _ => 0,
    }
}

/// Coarse stock level, as RunPod shows it.
pub fn level(free: i64) -> AvailabilityLevel {
    match free {
        i64::MIN..=0 => AvailabilityLevel::None,
        1..=2 => AvailabilityLevel::Low,
        3..=6 => AvailabilityLevel::Medium,
        _ => AvailabilityLevel::High,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_respects_cloud_data_center_and_count() {
        let mut c = Catalog::from_config(&EmulatorConfig::default());
        let gpu = "NVIDIA L40S";
        assert_eq!(
            c.allocate(gpu, 1, Some(Cloud::Community), &[]),
            None,
            "L40S has no community stock"
        );
        assert_eq!(
            c.allocate(gpu, 2, None, &["EU-RO-1".into()]),
            Some(("EU-RO-1".into(), Cloud::Secure))
        );
        assert_eq!(c.allocate(gpu, 1, None, &["EU-RO-1".into()]), None);
        c.release(gpu, 2, "EU-RO-1", Cloud::Secure);
        assert!(c.allocate_exact(gpu, 2, "EU-RO-1", Cloud::Secure));
        assert_eq!(level(0), AvailabilityLevel::None);
        assert_eq!(level(8), AvailabilityLevel::High);
    }
}
