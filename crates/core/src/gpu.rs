//! GPU choice: from the provider's offers, every placement that satisfies a spec, best first.
//! Pure, so the planner's choice is table-tested; the engine tries placements in this order and
//! falls through on no capacity.

use crate::money::Money;
use crate::spec::{CloudChoice, JobSpec};
use serde::{Deserialize, Serialize};

/// A provider cloud tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudTier {
    Secure,
    Community,
}

/// One GPU type as offered, with where it has stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuOffer {
    pub gpu_type: String,
    pub display_name: String,
    pub vram_gb: i64,
    pub max_count: i64,
    /// Per GPU-hour; `None` when the tier does not sell it.
    pub secure_price: Option<Money>,
    pub community_price: Option<Money>,
    /// Data centers reporting stock (availability above NONE).
    pub data_centers: Vec<String>,
}

/// Where and how a pod could be placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub gpu_type: String,
    pub display_name: String,
    pub vram_gb: i64,
    pub count: i64,
    pub cloud: CloudTier,
    /// For all `count` GPUs.
    pub price_per_hour: Money,
    /// Data centers to ask for, in stock and allowed by the spec.
    pub data_centers: Vec<String>,
    /// Listed in the spec's `gpu.types` (rather than a fallback that merely fits).
    pub preferred: bool,
}

/// Every placement satisfying `spec`, best first: the spec's preferred types in their order,
/// then (when the retry policy allows) any other type that fits, cheapest first.
pub fn rank_placements(spec: &JobSpec, offers: &[GpuOffer]) -> Vec<Placement> {
    let count = spec.gpu_count();
    let preferred = &spec.gpu.types;
    let min_vram = spec.gpu.min_vram_gb.unwrap_or_else(|| {
        // With only types given, a fallback must have at least the smallest preferred VRAM.
        offers
            .iter()
            .filter(|o| preferred.contains(&o.gpu_type))
            .map(|o| o.vram_gb)
            .min()
            .unwrap_or(i64::MAX)
    });
    let max_price = spec.gpu.max_price_per_hour.map(Money::from_usd);
    let mut out = Vec::new();
    for o in offers {
        let is_preferred = preferred.contains(&o.gpu_type);
        let fits = if preferred.is_empty() {
            o.vram_gb >= min_vram
        } else {
            is_preferred || (spec.retry.allow_other_gpu_types && o.vram_gb >= min_vram)
        };
        if !fits || o.max_count < count || (spec.gpu.min_vram_gb.is_some_and(|v| o.vram_gb < v)) {
            continue;
        }
        let dcs: Vec<String> = o
            .data_centers
            .iter()
            .filter(|d| spec.data_centers.is_empty() || spec.data_centers.contains(d))
            .cloned()
            .collect();
        if dcs.is_empty() {
            continue;
        }
        let tiers: &[(CloudTier, Option<Money>)] =
            &[(CloudTier::Secure, o.secure_price), (CloudTier::Community, o.community_price)];
        for (cloud, price) in tiers {
            let wanted = matches!(
                (spec.cloud, cloud),
                (CloudChoice::Any, _)
                    | (CloudChoice::Secure, CloudTier::Secure)
                    | (CloudChoice::Community, CloudTier::Community)
            );
            // Network volumes are Secure Cloud only on RunPod (`storage/network-volumes.mdx`):
            // a Community create with one is refused, so it is never a candidate.
            let volume_allows = spec.network_volume.is_none() || *cloud == CloudTier::Secure;
            let Some(price) = price.filter(|p| p.0 > 0) else { continue };
            if !wanted || !volume_allows || max_price.is_some_and(|m| price > m) {
                continue;
            }
            out.push(Placement {
                gpu_type: o.gpu_type.clone(),
                display_name: o.display_name.clone(),
                vram_gb: o.vram_gb,
                count,
                cloud: *cloud,
                price_per_hour: Money(price.0 * count),
                data_centers: dcs.clone(),
                preferred: is_preferred,
            });
        }
    }
    let rank =
        |p: &Placement| preferred.iter().position(|t| t == &p.gpu_type).unwrap_or(usize::MAX);
    out.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(a.price_per_hour.cmp(&b.price_per_hour))
            .then(a.gpu_type.cmp(&b.gpu_type))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(id: &str, vram: i64, secure: f64, community: f64, dcs: &[&str]) -> GpuOffer {
        GpuOffer {
            gpu_type: id.into(),
            display_name: id.into(),
            vram_gb: vram,
            max_count: 8,
            secure_price: Some(Money::from_usd(secure)),
            community_price: (community > 0.0).then(|| Money::from_usd(community)),
            data_centers: dcs.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn offers() -> Vec<GpuOffer> {
        vec![
            offer("A4000", 16, 0.25, 0.17, &["US"]),
            offer("A5000", 24, 0.29, 0.22, &["US", "EU"]),
            offer("4090", 24, 0.69, 0.44, &["EU"]),
            offer("A100", 80, 1.64, 0.0, &["US"]),
            offer("H100", 80, 2.69, 2.39, &[]),
        ]
    }

    fn spec(extra: &str) -> JobSpec {
        JobSpec::from_toml("t", &format!("name=\"t\"\nimage=\"i\"\ncommand=\"c\"\n{extra}"))
            .expect("valid")
    }

    fn names(p: &[Placement]) -> Vec<String> {
        p.iter().map(|p| format!("{}/{:?}", p.gpu_type, p.cloud)).collect()
    }

    #[test]
    fn requirements_pick_the_cheapest_fit_first() {
        let p = rank_placements(&spec("[gpu]\nmin_vram_gb = 24\n"), &offers());
        assert_eq!(
            names(&p),
            ["A5000/Community", "A5000/Secure", "4090/Community", "4090/Secure", "A100/Secure"],
            "H100 has no stock"
        );
        let p = rank_placements(
            &spec("cloud = \"secure\"\n[gpu]\nmin_vram_gb = 24\nmax_price_per_hour = 0.5\n"),
            &offers(),
        );
        assert_eq!(names(&p), ["A5000/Secure"]);
    }

    #[test]
    fn explicit_types_keep_their_order_then_fall_back_to_fits() {
        let p = rank_placements(&spec("[gpu]\ntypes = [\"4090\", \"A5000\"]\n"), &offers());
        assert_eq!(
            names(&p)[..4],
            ["4090/Community", "4090/Secure", "A5000/Community", "A5000/Secure"]
        );
        assert!(
            p[4..].iter().all(|x| !x.preferred && x.vram_gb >= 24),
            "fallbacks fit the smallest preferred VRAM"
        );
        let strict = rank_placements(
            &spec("[gpu]\ntypes = [\"4090\"]\n[retry]\nallow_other_gpu_types = false\n"),
            &offers(),
        );
        assert_eq!(names(&strict), ["4090/Community", "4090/Secure"]);
    }

    #[test]
    fn data_centers_and_counts_filter_and_price_scales_with_count() {
        let p = rank_placements(
            &spec("data_centers = [\"EU\"]\n[gpu]\nmin_vram_gb = 16\ncount = 2\n"),
            &offers(),
        );
        assert_eq!(names(&p), ["A5000/Community", "A5000/Secure", "4090/Community", "4090/Secure"]);
        assert_eq!(p[0].price_per_hour, Money::from_usd(0.44));
        assert_eq!(p[0].data_centers, ["EU"]);
        assert!(rank_placements(&spec("[gpu]\nmin_vram_gb = 200\n"), &offers()).is_empty());
    }

    #[test]
    fn a_network_volume_keeps_every_placement_on_secure_cloud() {
        let p = rank_placements(
            &spec("network_volume = \"vol\"\n[gpu]\nmin_vram_gb = 24\n"),
            &offers(),
        );
        assert_eq!(names(&p), ["A5000/Secure", "4090/Secure", "A100/Secure"]);
    }
}
