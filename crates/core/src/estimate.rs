//! What a pod job will cost before it runs: the placement the planner would try first, at its
//! live price, for a typical boot plus the job's run time (its `max_runtime`), capped by its
//! budget. The CLI (`run --estimate`, the prompt before a run without a budget) and the API
//! (`POST /api/v1/estimate`) show this one function's answer.

use crate::gpu::{CloudTier, GpuOffer, rank_placements};
use crate::money::Money;
use crate::spec::JobSpec;

/// How long a pod usually takes from create to its command starting (image pull included),
/// billed like the rest. An assumption, said so wherever the estimate is shown.
pub const TYPICAL_BOOT_MS: i64 = 120_000;

/// How long a job without `max_runtime` is assumed to run, where an expectation is needed (the
/// placement ranking, what a queued job holds of its owner's spend cap). Not a limit.
pub const ASSUMED_RUN_MS: i64 = 3_600_000;

/// What bounds the cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The budget stops the job first.
    Budget,
    /// `max_runtime` stops it first.
    MaxRuntime,
    /// Nothing: the job runs until its command ends (or the server's watchdog ceiling).
    None,
}

/// A pod job's cost estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub gpu_type: String,
    pub display_name: String,
    pub count: i64,
    pub cloud: CloudTier,
    /// For all `count` GPUs of every node.
    pub price_per_hour: Money,
    /// Pods that run together (the spec's `nodes`): the price is for all of them.
    pub nodes: u32,
    /// The most it can cost (`None` when nothing bounds it).
    pub max_cost: Option<Money>,
    pub bound: Bound,
    /// What the boot alone costs at this price.
    pub boot_cost: Money,
}

/// The estimate for `spec` on `offers`, or `None` when no offer fits it.
pub fn estimate(spec: &JobSpec, offers: &[GpuOffer]) -> Option<Estimate> {
    let p = rank_placements(spec, offers).into_iter().next()?;
    let price = Money(p.price_per_hour.0.saturating_mul(i64::from(spec.nodes.max(1))));
    let budget = spec.limits.budget_usd.map(Money::from_usd);
    let by_time = spec
        .max_runtime()
        .map(|d| price.per_hour_for_millis(TYPICAL_BOOT_MS + d.as_millis() as i64));
    let (max_cost, bound) = match (budget, by_time) {
        (Some(b), Some(t)) if t < b => (Some(t), Bound::MaxRuntime),
        (Some(b), _) => (Some(b), Bound::Budget),
        (None, Some(t)) => (Some(t), Bound::MaxRuntime),
        (None, None) => (None, Bound::None),
    };
    Some(Estimate {
        gpu_type: p.gpu_type,
        display_name: p.display_name,
        count: p.count,
        cloud: p.cloud,
        price_per_hour: price,
        nodes: spec.nodes.max(1),
        max_cost,
        bound,
        boot_cost: price.per_hour_for_millis(TYPICAL_BOOT_MS),
    })
}

/// What a queued job holds of its owner's spend cap while it waits: the first placement the
/// spec allows, in stock or not (it waits for one), at its list price for all its nodes, for a
/// typical boot plus its run (`max_runtime`, or [`ASSUMED_RUN_MS`]), never more than its
/// budget. `None` when no listed offer fits the spec at all.
pub fn queued_hold(spec: &JobSpec, offers: &[GpuOffer]) -> Option<Money> {
    // Stock is what the job waits for: price every listed offer as if it had some, in any of
    // the spec's data centers (a type's price is the same in each).
    let anywhere = spec.data_centers.first().cloned().unwrap_or_else(|| "any".into());
    let listed: Vec<GpuOffer> = offers
        .iter()
        .map(|o| GpuOffer { data_centers: vec![anywhere.clone()], ..o.clone() })
        .collect();
    let e = estimate(spec, &listed)?;
    let run = spec.max_runtime().map_or(ASSUMED_RUN_MS, |d| d.as_millis() as i64);
    let hold = e.price_per_hour.per_hour_for_millis(TYPICAL_BOOT_MS + run);
    Some(spec.limits.budget_usd.map(Money::from_usd).map_or(hold, |b| hold.min(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers() -> Vec<GpuOffer> {
        vec![GpuOffer {
            fixed_count: None,
            gpu_type: "NVIDIA RTX A5000".into(),
            display_name: "RTX A5000".into(),
            vram_gb: 24,
            max_count: 8,
            secure_price: Some(Money::from_usd(0.30)),
            community_price: None,
            data_centers: vec!["US".into()],
        }]
    }

    fn spec(limits: &str) -> JobSpec {
        JobSpec::from_toml(
            "t",
            &format!(
                "name=\"t\"\nimage=\"i\"\ncommand=\"c\"\n[gpu]\nmin_vram_gb=24\n[limits]\n{limits}"
            ),
        )
        .expect("valid")
    }

    #[test]
    fn the_cost_is_bounded_by_whichever_limit_comes_first() {
        // $0.30/h: 2 min of boot is $0.01; 1 h of run time and the boot, $0.31.
        let e = estimate(&spec("max_runtime = \"1h\"\n"), &offers()).expect("fits");
        assert_eq!((e.max_cost, e.bound), (Some(Money::from_usd(0.31)), Bound::MaxRuntime));
        assert_eq!(e.boot_cost, Money::from_usd(0.01));
        let e =
            estimate(&spec("max_runtime = \"1h\"\nbudget_usd = 0.2\n"), &offers()).expect("fits");
        assert_eq!((e.max_cost, e.bound), (Some(Money::from_usd(0.2)), Bound::Budget));
        let e = estimate(&spec(""), &offers()).expect("fits");
        assert_eq!((e.max_cost, e.bound), (None, Bound::None));
        assert_eq!(e.price_per_hour, Money::from_usd(0.30));
        let mut big = spec("");
        big.gpu.min_vram_gb = Some(80);
        assert!(estimate(&big, &offers()).is_none(), "nothing fits");
    }

    #[test]
    fn a_queued_job_holds_its_run_at_list_price_in_stock_or_not() {
        let mut sold_out = offers();
        sold_out[0].data_centers.clear();
        // An hour (no max_runtime) and the boot at $0.30/h, for both nodes.
        let mut two = spec("");
        two.nodes = 2;
        assert_eq!(queued_hold(&two, &sold_out), Some(Money::from_usd(0.62)));
        assert_eq!(
            queued_hold(&spec("max_runtime = \"3h\"\n"), &sold_out),
            Some(Money::from_usd(0.91))
        );
        let capped = spec("budget_usd = 0.5\nmax_runtime = \"3h\"\n");
        assert_eq!(
            queued_hold(&capped, &offers()),
            Some(Money::from_usd(0.5)),
            "at most the budget"
        );
        let mut big = spec("");
        big.gpu.min_vram_gb = Some(80);
        assert_eq!(queued_hold(&big, &offers()), None, "nothing listed fits");
    }
}
