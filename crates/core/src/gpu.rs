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
    /// Sold only as this many GPUs together (an EC2 instance type's); `None`: any count up to
    /// `max_count` (RunPod).
    pub fixed_count: Option<i64>,
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

impl Placement {
    /// The same offer in one data center.
    pub fn in_data_center(&self, dc: &str) -> Placement {
        Placement { data_centers: vec![dc.to_owned()], ..self.clone() }
    }
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
        let counts = o.max_count >= count && o.fixed_count.is_none_or(|n| n == count);
        if !fits || !counts || (spec.gpu.min_vram_gb.is_some_and(|v| o.vram_gb < v)) {
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
            // SSH needs the pod's 22/tcp on a public IP, which a Community host may not have
            // (and REST v2 has no field to ask for one): Secure Cloud only.
            let reachable = spec.ssh.is_none() || *cloud == CloudTier::Secure;
            let Some(price) = price.filter(|p| p.0 > 0) else { continue };
            if !wanted || !volume_allows || !reachable || max_price.is_some_and(|m| price > m) {
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

/// A `gpu.types` entry that names no GPU offered, with the closest names that are.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownGpuType {
    pub name: String,
    /// Up to three offered names, closest first (display names, as `podwarden gpus` shows).
    pub closest: Vec<String>,
}

impl std::fmt::Display for UnknownGpuType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no GPU offered is called {:?}", self.name)?;
        if !self.closest.is_empty() {
            write!(f, "; the closest names offered are {}", self.closest.join(", "))?;
        }
        Ok(())
    }
}

/// The spec's `gpu.types` as the provider's ids. An id (any case) stays itself; any other entry
/// stands for every offer whose id or display name holds its words in order, as whole words:
/// `A100` is `NVIDIA A100 80GB PCIe` and `NVIDIA A100-SXM4-80GB` (cheapest first), `4090` is
/// `NVIDIA GeForce RTX 4090`, and `A10` is neither (people write the short name; RunPod wants
/// the id). An entry that matches nothing is an error naming the closest offers.
pub fn resolve_gpu_types(
    types: &[String],
    offers: &[GpuOffer],
) -> Result<Vec<String>, UnknownGpuType> {
    let mut out: Vec<String> = Vec::new();
    for t in types {
        let mut matched: Vec<&GpuOffer> =
            offers.iter().filter(|o| o.gpu_type.eq_ignore_ascii_case(t)).collect();
        if matched.is_empty() {
            let want = words(t);
            matched = offers
                .iter()
                .filter(|o| {
                    !want.is_empty()
                        && (holds(&words(&o.gpu_type), &want)
                            || holds(&words(&o.display_name), &want))
                })
                .collect();
            let cheapest = |o: &&GpuOffer| {
                o.community_price.into_iter().chain(o.secure_price).map(|m| m.0).min()
            };
            matched.sort_by_key(|o| (cheapest(o).unwrap_or(i64::MAX), o.gpu_type.clone()));
        }
        if matched.is_empty() {
            return Err(UnknownGpuType { name: t.clone(), closest: closest(t, offers) });
        }
        for o in matched {
            if !out.contains(&o.gpu_type) {
                out.push(o.gpu_type.clone());
            }
        }
    }
    Ok(out)
}

/// Lower-case words of a GPU name: `NVIDIA A100-SXM4-80GB` → nvidia, a100, sxm4, 80gb.
fn words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `want` appears in `have` as consecutive whole words.
fn holds(have: &[String], want: &[String]) -> bool {
    have.windows(want.len()).any(|w| w == want)
}

/// The offers whose names share the longest run of characters with `name` (at least three, and
/// half of it: `B200` is not close to anything with `00` in it).
fn closest(name: &str, offers: &[GpuOffer]) -> Vec<String> {
    let squash = |s: &str| -> Vec<char> {
        s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
    };
    let want = squash(name);
    let common = |have: &[char]| {
        let mut best = 0;
        for i in 0..want.len() {
            for j in 0..have.len() {
                let n = want[i..].iter().zip(&have[j..]).take_while(|(a, b)| a == b).count();
                best = best.max(n);
            }
        }
        best
    };
    let mut scored: Vec<(usize, &str)> = offers
        .iter()
        .map(|o| {
            let n = common(&squash(&o.gpu_type)).max(common(&squash(&o.display_name)));
            (n, o.display_name.as_str())
        })
        .filter(|(n, _)| *n >= 3.max(want.len() / 2))
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, n)| n.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_stand_for_every_offer_they_name_and_unknown_ones_say_what_is_close() {
        let named = |id: &str, display: &str, price: f64| GpuOffer {
            display_name: display.into(),
            ..offer(id, 80, price, 0.0, &["US"])
        };
        let offers = vec![
            named("NVIDIA A100-SXM4-80GB", "A100 SXM", 1.89),
            named("NVIDIA A100 80GB PCIe", "A100 PCIe", 1.64),
            named("NVIDIA GeForce RTX 4090", "RTX 4090", 0.69),
            named("NVIDIA A10", "A10", 0.40),
        ];
        let r = |t: &[&str]| {
            resolve_gpu_types(&t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), &offers)
        };
        assert_eq!(
            r(&["A100"]).expect("matches"),
            ["NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB"],
            "both A100s, the cheaper first"
        );
        assert_eq!(r(&["a10"]).expect("matches"), ["NVIDIA A10"], "whole words: not the A100s");
        assert_eq!(
            r(&["rtx 4090", "nvidia a100-sxm4-80gb"]).expect("matches"),
            ["NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-80GB"]
        );
        let e = r(&["4090", "A100X"]).expect_err("no A100X");
        assert_eq!(e.name, "A100X");
        assert_eq!(e.closest[..2], ["A100 PCIe", "A100 SXM"]);
        assert!(e.to_string().contains("no GPU offered is called \"A100X\""), "{e}");
        assert!(r(&["B200"]).expect_err("none").closest.is_empty());
    }

    fn offer(id: &str, vram: i64, secure: f64, community: f64, dcs: &[&str]) -> GpuOffer {
        GpuOffer {
            fixed_count: None,
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
