//! A capacity model: what RunPod's offers do over time, deterministic under a seed.
//!
//! Each modelled offer (GPU type, data center, tier) has a stock that swings over a day around
//! its mean (a phase of its own, plus noise per 10-minute bucket), and each launch on it has an
//! outcome drawn from its rates: the create is refused for capacity although the offer was
//! listed, the pod reports RUNNING but never boots (a dud: it bills while it hangs), it boots
//! after a time of its own (slow hosts), and a booted pod may be preempted. Everything is a
//! function of `(seed, offer, time bucket)` or `(seed, offer, launch number)`, so a test or a
//! benchmark replays exactly.
//!
//! The emulator uses it when configured (`capacity` in its config): the catalog's free stock
//! follows [`CapacityModel::stock`] (less the GPUs its pods hold), and each pod create takes
//! its [`Launch`] outcome. `podwarden-engine`'s `bench_capacity` example runs podwarden's
//! placement against the same model.

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

/// One offer's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferModel {
    pub gpu: String,
    pub data_center: String,
    /// `SECURE` or `COMMUNITY`.
    pub cloud: String,
    /// USD per GPU-hour.
    pub price: f64,
    /// Mean free GPUs.
    pub mean_stock: f64,
    /// How far the stock swings over a day, as a share of the mean (0: steady).
    pub swing: f64,
    /// Share of launches refused for capacity although the offer was listed.
    pub create_fail: f64,
    /// Share of launches that report RUNNING and never boot.
    pub dud: f64,
    /// Mean seconds from create to running (each launch: half to twice this).
    pub boot_secs: f64,
    /// Preemptions per booted hour.
    pub preempt_per_hour: f64,
}

/// The model: a seed and its offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityModel {
    pub seed: u64,
    pub offers: Vec<OfferModel>,
}

/// How one launch on an offer goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Launch {
    /// Refused for capacity.
    CreateFails,
    /// RUNNING, never booted.
    Dud,
    /// Boots after `boot_secs`; preempted `preempt_after_secs` after booting, if at all.
    Boots { boot_secs: f64, preempt_after_secs: Option<f64> },
}

/// Stock is redrawn every this many seconds (its noise's bucket).
pub const STOCK_BUCKET_SECS: f64 = 600.0;

impl CapacityModel {
    fn rng(&self, offer: usize, salt: u64, n: u64) -> StdRng {
        // Mixed so neighbouring inputs share no stream.
        let mix = self.seed
            ^ (offer as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9)
            ^ n.wrapping_mul(0x94D0_49BB_1331_11EB);
        StdRng::seed_from_u64(mix)
    }

    /// The offer's index, by its key (`cloud` as RunPod spells it: `SECURE`, `COMMUNITY`).
    pub fn find(&self, gpu: &str, data_center: &str, cloud: &str) -> Option<usize> {
        self.offers.iter().position(|o| {
            o.gpu == gpu && o.data_center == data_center && o.cloud.eq_ignore_ascii_case(cloud)
        })
    }

    /// Free GPUs of offer `i` at `t_secs` (seconds since the Unix epoch, by the emulator's clock): its mean, swung
    /// over a day by its own phase, with noise per [`STOCK_BUCKET_SECS`]; never negative.
    pub fn stock(&self, i: usize, t_secs: f64) -> i64 {
        let o = &self.offers[i];
        let phase = self.rng(i, 1, 0).random::<f64>() * std::f64::consts::TAU;
        let day = (t_secs / 86_400.0) * std::f64::consts::TAU;
        let bucket = (t_secs / STOCK_BUCKET_SECS).floor().max(0.0) as u64;
        let noise = self.rng(i, 2, bucket).random::<f64>() - 0.5;
        let level = o.mean_stock * (1.0 + o.swing * ((day + phase).sin() + noise));
        level.round().max(0.0) as i64
    }

    /// How launch number `n` on offer `i` goes.
    pub fn launch(&self, i: usize, n: u64) -> Launch {
        let o = &self.offers[i];
        let mut r = self.rng(i, 3, n);
        if r.random::<f64>() < o.create_fail {
            return Launch::CreateFails;
        }
        if r.random::<f64>() < o.dud {
            return Launch::Dud;
        }
        let boot_secs = o.boot_secs * (0.5 + 1.5 * r.random::<f64>());
        // Exponential time to preemption at the offer's rate.
        let preempt_after_secs = (o.preempt_per_hour > 0.0).then(|| {
            let u: f64 = r.random::<f64>().max(1e-12);
            // At most a year: a tiny rate must not overflow the clock.
            (-u.ln() / o.preempt_per_hour * 3600.0).min(365.0 * 86_400.0)
        });
        Launch::Boots { boot_secs, preempt_after_secs }
    }

    /// A day's catalog as RunPod prices it: one price per GPU type and tier, whatever the data
    /// center, while the hosts behind it differ. The same Community A4000 is a dud three
    /// launches in ten and slow to boot in one data center and sound in another; the list
    /// price cannot tell them apart, a placement that learns can. The cheapest offers are short of stock,
    /// dearer Secure ones steadier. [`CapacityModel::flaky_cheap_day`] is the other shape.
    pub fn default_day(seed: u64) -> Self {
        let o = OfferModel::new;
        CapacityModel {
            seed,
            offers: vec![
                o("NVIDIA RTX A4000", "US-TX-3", "COMMUNITY", 0.17, 3.0, 1.2)
                    .hosts(0.30, 0.30, 300.0, 0.20),
                o("NVIDIA RTX A4000", "EU-RO-1", "COMMUNITY", 0.17, 2.0, 1.0)
                    .hosts(0.10, 0.03, 90.0, 0.05),
                o("NVIDIA RTX A4000", "CA-MTL-1", "COMMUNITY", 0.17, 2.0, 1.2)
                    .hosts(0.20, 0.12, 180.0, 0.10),
                o("NVIDIA RTX A4000", "US-TX-3", "SECURE", 0.25, 4.0, 0.8)
                    .hosts(0.10, 0.05, 120.0, 0.02),
                o("NVIDIA RTX A5000", "US-TX-3", "COMMUNITY", 0.22, 4.0, 1.0)
                    .hosts(0.20, 0.20, 240.0, 0.10),
                o("NVIDIA RTX A5000", "EU-RO-1", "COMMUNITY", 0.22, 3.0, 0.8)
                    .hosts(0.05, 0.03, 90.0, 0.03),
                o("NVIDIA RTX A5000", "EU-RO-1", "SECURE", 0.29, 6.0, 0.5)
                    .hosts(0.05, 0.03, 90.0, 0.01),
                o("NVIDIA GeForce RTX 4090", "EU-RO-1", "COMMUNITY", 0.44, 8.0, 0.8)
                    .hosts(0.15, 0.10, 150.0, 0.05),
                o("NVIDIA GeForce RTX 4090", "US-TX-3", "SECURE", 0.69, 10.0, 0.3)
                    .hosts(0.02, 0.01, 60.0, 0.0),
            ],
        }
    }

    /// A harder day for learning: the cheapest offers are the flakiest everywhere (more duds,
    /// slower, preempted more, short of stock) and sound hosts cost more. An offer's launches
    /// are alike, so what was learned only says "cheap is flaky", which its price already
    /// said.
    pub fn flaky_cheap_day(seed: u64) -> Self {
        let o = OfferModel::new;
        CapacityModel {
            seed,
            offers: vec![
                o("NVIDIA RTX A4000", "US-TX-3", "COMMUNITY", 0.17, 3.0, 1.2)
                    .hosts(0.30, 0.25, 240.0, 0.20),
                o("NVIDIA RTX A4000", "EU-RO-1", "COMMUNITY", 0.17, 2.0, 1.2)
                    .hosts(0.30, 0.20, 200.0, 0.15),
                o("NVIDIA RTX A4000", "US-TX-3", "SECURE", 0.25, 4.0, 0.8)
                    .hosts(0.10, 0.05, 120.0, 0.02),
                o("NVIDIA RTX A5000", "US-TX-3", "COMMUNITY", 0.22, 4.0, 1.0)
                    .hosts(0.20, 0.15, 180.0, 0.10),
                o("NVIDIA RTX A5000", "EU-RO-1", "SECURE", 0.29, 6.0, 0.5)
                    .hosts(0.05, 0.03, 90.0, 0.01),
                o("NVIDIA GeForce RTX 4090", "EU-RO-1", "COMMUNITY", 0.44, 8.0, 0.8)
                    .hosts(0.15, 0.10, 150.0, 0.05),
                o("NVIDIA GeForce RTX 4090", "US-TX-3", "SECURE", 0.69, 10.0, 0.3)
                    .hosts(0.02, 0.01, 60.0, 0.0),
            ],
        }
    }
}

impl OfferModel {
    /// An offer with its price and stock (mean free GPUs, daily swing), and sound hosts.
    pub fn new(
        gpu: &str,
        data_center: &str,
        cloud: &str,
        price: f64,
        mean: f64,
        swing: f64,
    ) -> Self {
        OfferModel {
            gpu: gpu.into(),
            data_center: data_center.into(),
            cloud: cloud.into(),
            price,
            mean_stock: mean,
            swing,
            create_fail: 0.0,
            dud: 0.0,
            boot_secs: 60.0,
            preempt_per_hour: 0.0,
        }
    }

    /// Its hosts: creates refused although listed, duds, mean boot seconds, preemptions per hour.
    pub fn hosts(self, create_fail: f64, dud: f64, boot_secs: f64, preempt_per_hour: f64) -> Self {
        OfferModel { create_fail, dud, boot_secs, preempt_per_hour, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed replays the same day; another seed does not; stock is never negative and
    /// moves over the day.
    #[test]
    fn a_seed_replays_the_same_day() {
        let (a, b, c) = (
            CapacityModel::default_day(7),
            CapacityModel::default_day(7),
            CapacityModel::default_day(8),
        );
        let day =
            |m: &CapacityModel| (0..144).map(|k| m.stock(0, k as f64 * 600.0)).collect::<Vec<_>>();
        assert_eq!(day(&a), day(&b));
        assert_ne!(day(&a), day(&c));
        assert!(day(&a).iter().all(|s| *s >= 0));
        assert!(day(&a).iter().max() > day(&a).iter().min(), "it moves: {:?}", day(&a));
        let launches = |m: &CapacityModel| (0..50).map(|n| m.launch(0, n)).collect::<Vec<_>>();
        assert_eq!(launches(&a), launches(&b));
    }

    /// Outcomes follow the offer's rates (over many launches).
    #[test]
    fn launches_follow_the_offers_rates() {
        let m = CapacityModel::default_day(1);
        let n = 4000;
        let (mut fails, mut duds) = (0, 0);
        for k in 0..n {
            match m.launch(0, k) {
                Launch::CreateFails => fails += 1,
                Launch::Dud => duds += 1,
                Launch::Boots { boot_secs, .. } => assert!((150.0..=600.0).contains(&boot_secs)),
            }
        }
        let share = |x: i32| x as f64 / n as f64;
        assert!((0.27..0.33).contains(&share(fails)), "{fails}");
        // Duds among the launches that were not refused: 30 % of 70 %.
        assert!((0.18..0.24).contains(&share(duds)), "{duds}");
    }
}
