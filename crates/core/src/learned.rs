//! Placement that learns: what podwarden has seen of each offer — (provider, GPU type, data
//! center, cloud tier) — from its own launches, and the ranking that uses it.
//!
//! Each attempt adds to its offer's record: a boot (and how long it took, from create to
//! RUNNING with a runtime), a dud (a pod that never booted within the job's boot timeout: it
//! billed while it hung), or a loss (a booted pod preempted or vanished). An operator may pin an
//! offer (tried first) or ban it (never tried).
//!
//! [`rerank`] orders a job's placements by the expected cost *to finish* rather than list
//! price: `price × (expected boot + expected run) + expected duds × price × boot timeout +
//! loss rate × price × half the run`. Rates start from a prior (one dud and one loss in ten
//! launches, two-minute boots), so an offer never tried is judged by its price and a prior, not
//! shunned: a newly cheap offer is tried (exploration), and a few duds push it down. The wait
//! before the command starts (the expected boot, and the duds' time before it) is added at the
//! job's value of waiting (`limits.wait_usd_per_hour`), so a slow cheap offer can lose to a
//! quick dearer one.
//!
//! [`BootRecord`] keeps how an image booted on an offer: once a few boots were seen, a pod
//! there that has not booted by twice the slowest (or three times the mean, at least 3 min) is
//! ended well before the job's own `boot_timeout`; such an end counts in the mean at the
//! deadline, so the deadline grows after slow boots.
//! [`SpeedRecord`] keeps how fast a workload (a user's job, by name and image) ran on a GPU
//! type and count, from the `samples_per_second` it reports: the expected run on a GPU half as
//! fast as the fastest seen for that workload is twice as long ([`RunFactors`]), so a dearer
//! GPU that finishes sooner can be the cheaper one to finish on.
//! The spec's preferred GPU types keep their order; within them and among the rest, the
//! expected cost decides.

use crate::gpu::{CloudTier, Placement};
use crate::money::Money;

/// The offer a record is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferKey {
    /// `runpod` or `aws`.
    pub provider: String,
    pub gpu_type: String,
    pub data_center: String,
    /// `secure` or `community` (`aws` for EC2).
    pub cloud: String,
}

/// What was seen of one offer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferRecord {
    pub boots: i64,
    /// Create to RUNNING, summed over `boots`.
    pub boot_ms_total: i64,
    /// Pods that never booted within their boot timeout.
    pub duds: i64,
    /// Booted pods lost (preempted, vanished).
    pub losses: i64,
    pub last_dud_at: Option<i64>,
    /// Operator: try first.
    pub pinned: bool,
    /// Operator: never try.
    pub banned: bool,
}

/// What one attempt adds to its offer's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferEvent {
    Booted { boot_ms: i64 },
    Dud,
    Lost,
}

/// The prior's weight, in launches: one dud and one loss in [`PRIOR_LAUNCHES`].
pub const PRIOR_LAUNCHES: f64 = 10.0;
/// The prior boot time (`estimate::TYPICAL_BOOT_MS`).
pub const PRIOR_BOOT_MS: f64 = crate::estimate::TYPICAL_BOOT_MS as f64;

impl OfferRecord {
    /// Adds one attempt's outcome.
    pub fn add(&mut self, e: OfferEvent, now: i64) {
        match e {
            OfferEvent::Booted { boot_ms } => {
                self.boots += 1;
                self.boot_ms_total += boot_ms.max(0);
            }
            OfferEvent::Dud => {
                self.duds += 1;
                self.last_dud_at = Some(now);
            }
            OfferEvent::Lost => self.losses += 1,
        }
    }

    /// The share of launches that never boot, with the prior.
    pub fn dud_rate(&self) -> f64 {
        (self.duds as f64 + 1.0) / (self.boots as f64 + self.duds as f64 + PRIOR_LAUNCHES)
    }

    /// The share of booted pods lost before their end, with the prior.
    pub fn loss_rate(&self) -> f64 {
        (self.losses as f64 + 1.0) / (self.boots as f64 + PRIOR_LAUNCHES)
    }

    /// Expected create-to-RUNNING time, with the prior (weighted as two boots).
    pub fn expected_boot_ms(&self) -> f64 {
        (self.boot_ms_total as f64 + 2.0 * PRIOR_BOOT_MS) / (self.boots as f64 + 2.0)
    }

    /// The expected cost to finish a run of `run_ms` at `price` per hour here, when a dud is
    /// found out after `boot_timeout_ms`.
    pub fn expected_cost(&self, price: Money, run_ms: i64, boot_timeout_ms: i64) -> f64 {
        self.expected_cost_waiting(price, run_ms, boot_timeout_ms, 0.0)
    }

    /// [`OfferRecord::expected_cost`] plus the wait until the command starts (the boot and
    /// the duds before it), valued at `wait_usd_per_hour`.
    pub fn expected_cost_waiting(
        &self,
        price: Money,
        run_ms: i64,
        boot_timeout_ms: i64,
        wait_usd_per_hour: f64,
    ) -> f64 {
        let per_ms = price.usd() / 3_600_000.0;
        let q = self.dud_rate().min(0.95);
        let duds = q / (1.0 - q);
        let run = run_ms as f64;
        let wait = self.expected_boot_ms() + duds * boot_timeout_ms as f64;
        per_ms * (wait + run + self.loss_rate() * run / 2.0)
            + wait_usd_per_hour / 3_600_000.0 * wait
    }
}

/// How one image booted on one offer: the evidence for a boot deadline shorter than the job's.
/// Per image, because a boot's time is mostly the image's pull: a big image's first boot on a
/// host is slow without the host being at fault.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BootRecord {
    pub boots: i64,
    /// Create to RUNNING, summed over `boots`.
    pub boot_ms_total: i64,
    /// The slowest boot seen.
    pub boot_ms_max: i64,
}

/// One piece of a [`BootRecord`]'s evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootSample {
    /// A pod booted after this many ms.
    Booted(i64),
    /// A pod was ended at its learned deadline (this many ms): it counts in the mean at the
    /// deadline, not in the slowest boot (it may have been a dud), so a deadline learned from
    /// quick boots grows after slow ones and shrinks again with the next quick boots.
    DeadlinePassed(i64),
}

/// Boots of an image on an offer before their times set its deadline.
pub const MIN_BOOTS_FOR_DEADLINE: i64 = 3;
/// A learned boot deadline is never shorter than this.
pub const MIN_LEARNED_DEADLINE_MS: i64 = 180_000;

impl BootRecord {
    /// Adds one boot.
    pub fn add(&mut self, boot_ms: i64) {
        self.add_sample(BootSample::Booted(boot_ms));
    }

    /// Adds one sample.
    pub fn add_sample(&mut self, s: BootSample) {
        let ms = match s {
            BootSample::Booted(ms) | BootSample::DeadlinePassed(ms) => ms.max(0),
        };
        self.boots += 1;
        self.boot_ms_total += ms;
        if matches!(s, BootSample::Booted(_)) {
            self.boot_ms_max = self.boot_ms_max.max(ms);
        }
    }

    /// How long the next boot of this image here may take before its pod is a dud: twice the
    /// slowest boot seen or three times the mean, whichever is longer, at least
    /// [`MIN_LEARNED_DEADLINE_MS`], never past the job's own `boot_timeout_ms` (which stands
    /// alone until [`MIN_BOOTS_FOR_DEADLINE`] boots were seen).
    pub fn deadline_ms(&self, boot_timeout_ms: i64) -> i64 {
        if self.boots < MIN_BOOTS_FOR_DEADLINE {
            return boot_timeout_ms;
        }
        let mean = self.boot_ms_total / self.boots;
        (2 * self.boot_ms_max).max(3 * mean).max(MIN_LEARNED_DEADLINE_MS).min(boot_timeout_ms)
    }
}

/// Which workload on which GPU a [`SpeedRecord`] is about. A workload is a user's job by name
/// and image: a sample is the job's own unit, so speeds compare only within one workload (the
/// same image runs other people's models at other speeds), and one user's figures never rank
/// another's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpeedKey {
    pub owner: String,
    pub job_name: String,
    pub image: String,
    /// `runpod` or `aws`.
    pub provider: String,
    pub gpu_type: String,
    pub gpu_count: i64,
}

/// How fast one workload ran on one GPU type and count: the `samples_per_second` its metrics
/// report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeedRecord {
    /// Metric batches that reported a speed.
    pub reports: i64,
    /// Each batch's mean speed, summed.
    pub sps_total: f64,
}

impl SpeedRecord {
    /// The mean speed, once any was reported.
    pub fn mean(&self) -> Option<f64> {
        (self.reports > 0).then(|| self.sps_total / self.reports as f64)
    }
}

/// Reports of a workload on a GPU before its speed counts in the ranking.
pub const MIN_SPEED_REPORTS: i64 = 3;

/// A reported speed above this is not believed (and not kept): no GPU job does a billion
/// samples a second, and one absurd report would otherwise rule its mean.
pub const MAX_SAMPLES_PER_SECOND: f64 = 1e9;

/// How many times longer a workload's run takes on each GPU (type, count) than on the fastest
/// seen for it: 1 for the fastest, 2 for one half as fast. A GPU with fewer than
/// [`MIN_SPEED_REPORTS`] reports counts as 1, as fast as the fastest, so it is tried
/// (exploration) and then judged by what it did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFactors(std::collections::BTreeMap<(String, i64), f64>);

impl RunFactors {
    /// From the speed records of one workload on one provider.
    pub fn from_records(records: &[(SpeedKey, SpeedRecord)]) -> Self {
        let known: Vec<(&SpeedKey, f64)> = records
            .iter()
            .filter(|(_, r)| r.reports >= MIN_SPEED_REPORTS)
            .filter_map(|(k, r)| r.mean().filter(|m| m.is_finite() && *m > 0.0).map(|m| (k, m)))
            .collect();
        let fastest = known.iter().map(|(_, m)| *m).fold(0.0, f64::max);
        Self(
            known
                .into_iter()
                .map(|(k, m)| ((k.gpu_type.clone(), k.gpu_count), fastest / m))
                .collect(),
        )
    }

    /// The factor of `count` × `gpu_type`.
    pub fn of(&self, gpu_type: &str, count: i64) -> f64 {
        self.0.get(&(gpu_type.to_owned(), count)).copied().unwrap_or(1.0)
    }
}

/// The tier's name as records keep it.
pub fn cloud_name(c: CloudTier) -> &'static str {
    match c {
        CloudTier::Secure => "secure",
        CloudTier::Community => "community",
    }
}

/// What [`rerank`] weighs besides the placements: one provider's records and the job's run.
#[derive(Debug, Clone, Copy)]
pub struct Ranking<'a> {
    /// `runpod` or `aws`: only its records count.
    pub provider: &'a str,
    /// What was seen of each offer, with the operator's pins and bans.
    pub records: &'a [(OfferKey, OfferRecord)],
    /// How the job's image booted on each offer: a dud there is ended at its learned
    /// deadline ([`BootRecord::deadline_ms`]), so it costs that long rather than the timeout.
    pub boots: &'a [(OfferKey, BootRecord)],
    /// The run expected on the fastest GPU.
    pub run_ms: i64,
    /// How much longer the run takes on each GPU.
    pub run_factors: &'a RunFactors,
    /// The job's boot timeout.
    pub boot_timeout_ms: i64,
    /// The job's value of an hour's wait to start (`limits.wait_usd_per_hour`).
    pub wait_usd_per_hour: f64,
}

/// `placements` (best first by the spec's order and price) ordered by expected cost to finish
/// (a run of `run_ms` on the fastest GPU, longer on slower ones by `run_factors`, a dud found
/// out at the image's learned deadline there), with what `records` say of each (`provider`'s):
/// banned data centers dropped (a placement left with none is dropped), pinned ones first;
/// within a placement its data centers cheapest first. The spec's preferred types keep their
/// order ahead of the others.
pub fn rerank(placements: Vec<Placement>, how: &Ranking<'_>) -> Vec<Placement> {
    let provider = how.provider;
    // Records name an EC2 placement's tier `aws` (the attempt's `cloud`).
    let tier = |p: &Placement| if provider == "aws" { "aws" } else { cloud_name(p.cloud) };
    let is = |k: &OfferKey, p: &Placement, dc: &str| {
        k.provider == provider
            && k.gpu_type == p.gpu_type
            && k.data_center == dc
            && k.cloud == tier(p)
    };
    let record = |p: &Placement, dc: &str| {
        how.records.iter().find(|(k, _)| is(k, p, dc)).map(|(_, r)| r.clone()).unwrap_or_default()
    };
    let dud_found_after = |p: &Placement, dc: &str| {
        how.boots
            .iter()
            .find(|(k, _)| is(k, p, dc))
            .map_or(how.boot_timeout_ms, |(_, b)| b.deadline_ms(how.boot_timeout_ms))
    };
    let preferred_rank = |p: &Placement| if p.preferred { 0 } else { 1 };
    let mut scored: Vec<(bool, f64, Placement)> = placements
        .into_iter()
        .flat_map(|p| {
            // As long as this GPU takes for the image's run, relative to the fastest seen.
            let run_ms = (how.run_ms as f64 * how.run_factors.of(&p.gpu_type, p.count)) as i64;
            let mut dcs: Vec<(bool, f64, String)> = p
                .data_centers
                .iter()
                .map(|d| (d, record(&p, d)))
                .filter(|(_, r)| !r.banned)
                .map(|(d, r)| {
                    (
                        r.pinned,
                        r.expected_cost_waiting(
                            p.price_per_hour,
                            run_ms,
                            dud_found_after(&p, d),
                            how.wait_usd_per_hour,
                        ),
                        d.clone(),
                    )
                })
                .collect();
            dcs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)));
            // A create names its data centers without an order (RunPod places by availability):
            // where the learned costs differ, each data center is a placement of its own, so
            // the better one is asked first; where they do not, one create names them all.
            let differ = match (dcs.first(), dcs.last()) {
                (Some(a), Some(b)) => a.0 != b.0 || b.1 > a.1 * 1.02,
                _ => false,
            };
            if differ {
                dcs.into_iter()
                    .map(|(pinned, cost, d)| (pinned, cost, p.in_data_center(&d)))
                    .collect::<Vec<_>>()
            } else if let Some(&(pinned, cost, _)) = dcs.first() {
                let all = dcs.into_iter().map(|(_, _, d)| d).collect();
                vec![(pinned, cost, Placement { data_centers: all, ..p })]
            } else {
                Vec::new()
            }
        })
        .collect();
    // Stable: equal costs keep the spec's order (its preferred types, then price).
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0).then(preferred_rank(&a.2).cmp(&preferred_rank(&b.2))).then(
            if a.2.preferred && b.2.preferred {
                std::cmp::Ordering::Equal
            } else {
                a.1.total_cmp(&b.1)
            },
        )
    });
    scored.into_iter().map(|(_, _, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(gpu: &str, usd: f64, dcs: &[&str], preferred: bool) -> Placement {
        Placement {
            gpu_type: gpu.into(),
            display_name: gpu.into(),
            vram_gb: 24,
            count: 1,
            cloud: CloudTier::Secure,
            price_per_hour: Money::from_usd(usd),
            data_centers: dcs.iter().map(|d| (*d).to_owned()).collect(),
            preferred,
        }
    }

    fn key(gpu: &str, dc: &str) -> OfferKey {
        OfferKey {
            provider: "runpod".into(),
            gpu_type: gpu.into(),
            data_center: dc.into(),
            cloud: "secure".into(),
        }
    }

    fn with(events: &[OfferEvent]) -> OfferRecord {
        let mut r = OfferRecord::default();
        for e in events {
            r.add(*e, 1);
        }
        r
    }

    const HOUR: i64 = 3_600_000;
    const BOOT: i64 = 600_000;

    /// RunPod's records, an hour's run, a 10-minute boot timeout, no boots learned.
    fn how<'a>(
        records: &'a [(OfferKey, OfferRecord)],
        run_factors: &'a RunFactors,
        wait_usd_per_hour: f64,
    ) -> Ranking<'a> {
        Ranking {
            provider: "runpod",
            records,
            boots: &[],
            run_ms: HOUR,
            run_factors,
            boot_timeout_ms: BOOT,
            wait_usd_per_hour,
        }
    }

    /// With nothing learned, the list price decides (a new offer is tried on its price).
    #[test]
    fn unknown_offers_rank_by_price() {
        let out = rerank(
            vec![placement("B", 0.5, &["X"], false), placement("A", 0.3, &["X"], false)],
            &how(&[], &RunFactors::default(), 0.0),
        );
        assert_eq!(out.iter().map(|p| p.gpu_type.as_str()).collect::<Vec<_>>(), ["A", "B"]);
    }

    /// An offer whose pods keep hanging (8 of 8) costs more to finish an hour on than one 13 %
    /// dearer that boots: it falls behind.
    #[test]
    fn duds_push_a_cheap_offer_behind_a_dearer_one_that_boots() {
        let cheap_duds = with(&[OfferEvent::Dud; 8]);
        let boots = with(&[OfferEvent::Booted { boot_ms: 60_000 }; 6]);
        let out = rerank(
            vec![placement("A", 0.30, &["X"], false), placement("B", 0.34, &["X"], false)],
            &how(
                &[(key("A", "X"), cheap_duds.clone()), (key("B", "X"), boots)],
                &RunFactors::default(),
                0.0,
            ),
        );
        assert_eq!(out[0].gpu_type, "B", "{out:?}");
        assert!(
            cheap_duds.expected_cost(Money::from_usd(0.30), HOUR, BOOT)
                > OfferRecord::default().expected_cost(Money::from_usd(0.34), HOUR, BOOT)
        );
    }

    /// Within a placement, its data centers go cheapest to finish first (each its own
    /// placement when they differ); a banned one is dropped, and a placement with nothing left
    /// with it; a pinned one goes first.
    #[test]
    fn data_centers_are_ordered_banned_dropped_pinned_first() {
        let dud = with(&[OfferEvent::Dud; 3]);
        let banned = OfferRecord { banned: true, ..OfferRecord::default() };
        let pinned = OfferRecord { pinned: true, ..with(&[OfferEvent::Dud]) };
        let out = rerank(
            vec![
                placement("A", 0.3, &["X", "Y", "Z"], false),
                placement("B", 0.2, &["W"], false),
                placement("C", 0.9, &["V"], false),
            ],
            &how(
                &[
                    (key("A", "X"), dud),
                    (key("A", "Z"), banned.clone()),
                    (key("B", "W"), banned),
                    (key("C", "V"), pinned),
                ],
                &RunFactors::default(),
                0.0,
            ),
        );
        let got: Vec<(&str, Vec<&str>)> = out
            .iter()
            .map(|p| (p.gpu_type.as_str(), p.data_centers.iter().map(String::as_str).collect()))
            .collect();
        // A's data centers differ in what was learned: each is asked on its own, the better
        // first.
        assert_eq!(got, [("C", vec!["V"]), ("A", vec!["Y"]), ("A", vec!["X"])]);
    }

    /// A dud costs as long as it is waited for: where the image's boots taught a short
    /// deadline, an offer's duds are found out sooner, and of two data centers alike in what
    /// was learned, the one with the learned deadline is cheaper to finish in.
    #[test]
    fn a_learned_deadline_makes_duds_cheaper_to_find_out() {
        let flaky =
            with(&[OfferEvent::Dud, OfferEvent::Dud, OfferEvent::Booted { boot_ms: 30_000 }]);
        let mut quick = BootRecord::default();
        (0..3).for_each(|_| quick.add(30_000));
        assert_eq!(quick.deadline_ms(BOOT), MIN_LEARNED_DEADLINE_MS);
        let records = [(key("A", "X"), flaky.clone()), (key("A", "Y"), flaky)];
        let boots = [(key("A", "Y"), quick)];
        let factors = RunFactors::default();
        let rank = |boots| {
            let how = Ranking { boots, ..how(&records, &factors, 0.0) };
            rerank(vec![placement("A", 0.3, &["X", "Y"], false)], &how)
                .into_iter()
                .map(|p| p.data_centers)
                .collect::<Vec<_>>()
        };
        assert_eq!(rank(&[]), [vec!["X".to_owned(), "Y".to_owned()]], "alike: one create");
        assert_eq!(rank(&boots), [vec!["Y".to_owned()], vec!["X".to_owned()]]);
    }

    /// Valued, the wait to start moves a job from a cheap offer that boots slowly (and now and
    /// then never) to a dearer one that boots at once; unvalued, the cheaper to finish stays
    /// first.
    #[test]
    fn a_value_on_waiting_trades_price_for_a_quick_start() {
        let slow = with(&[
            OfferEvent::Booted { boot_ms: 300_000 },
            OfferEvent::Booted { boot_ms: 300_000 },
            OfferEvent::Dud,
        ]);
        let quick = with(&[OfferEvent::Booted { boot_ms: 60_000 }; 3]);
        let order = |wait: f64| {
            rerank(
                vec![
                    placement("Slow", 0.17, &["X"], false),
                    placement("Quick", 0.22, &["X"], false),
                ],
                &how(
                    &[(key("Slow", "X"), slow.clone()), (key("Quick", "X"), quick.clone())],
                    &RunFactors::default(),
                    wait,
                ),
            )
            .into_iter()
            .map(|p| p.gpu_type)
            .collect::<Vec<_>>()
        };
        assert_eq!(order(0.0), ["Slow", "Quick"]);
        assert_eq!(order(1.0), ["Quick", "Slow"]);
    }

    /// A boot deadline is learned from an image's boots on the offer: none before three, then
    /// twice the slowest or three times the mean, within [3 min, the job's timeout].
    #[test]
    fn the_boot_deadline_follows_what_boots_took() {
        let mut r = BootRecord::default();
        r.add(50_000);
        r.add(50_000);
        assert_eq!(r.deadline_ms(BOOT), BOOT, "two boots say too little");
        r.add(200_000);
        assert_eq!(r.deadline_ms(BOOT), 400_000, "twice the slowest");
        let mut even = BootRecord::default();
        (0..4).for_each(|_| even.add(100_000));
        assert_eq!(even.deadline_ms(BOOT), 300_000, "three times the mean");
        let mut fast = BootRecord::default();
        (0..5).for_each(|_| fast.add(20_000));
        assert_eq!(fast.deadline_ms(BOOT), MIN_LEARNED_DEADLINE_MS, "never under 3 min");
        let mut slow = BootRecord::default();
        (0..5).for_each(|_| slow.add(400_000));
        assert_eq!(slow.deadline_ms(BOOT), BOOT, "never past the job's own");
        assert_eq!(r.deadline_ms(100_000), 100_000, "a job's shorter timeout stands");
        // Cached pulls taught 3 min; a cold pull ended there raises the deadline (in the mean,
        // not the slowest), and quick boots bring it back down.
        let mut cached = BootRecord::default();
        (0..3).for_each(|_| cached.add(30_000));
        assert_eq!(cached.deadline_ms(BOOT), 180_000);
        cached.add_sample(BootSample::DeadlinePassed(180_000));
        assert_eq!(cached.deadline_ms(BOOT), 3 * (270_000 / 4));
        cached.add_sample(BootSample::DeadlinePassed(cached.deadline_ms(BOOT)));
        let raised = cached.deadline_ms(BOOT);
        assert!(raised > 3 * (270_000 / 4), "{raised}");
        (0..6).for_each(|_| cached.add(30_000));
        assert!(cached.deadline_ms(BOOT) < raised);
    }

    /// The spec's preferred types keep their order whatever was learned.
    #[test]
    fn preferred_types_keep_their_order() {
        let dud = with(&[OfferEvent::Dud; 5]);
        let out = rerank(
            vec![
                placement("First", 0.9, &["X"], true),
                placement("Second", 0.1, &["X"], true),
                placement("Other", 0.05, &["X"], false),
            ],
            &how(&[(key("First", "X"), dud)], &RunFactors::default(), 0.0),
        );
        let got: Vec<&str> = out.iter().map(|p| p.gpu_type.as_str()).collect();
        assert_eq!(got, ["First", "Second", "Other"]);
    }

    /// Another provider's record says nothing of this one's offers; an EC2 offer's record is
    /// under its tier `aws`.
    #[test]
    fn records_are_per_provider() {
        let banned_aws = OfferRecord { banned: true, ..OfferRecord::default() };
        let mut aws = key("g5.xlarge", "us-east-1a");
        (aws.provider, aws.cloud) = ("aws".into(), "aws".into());
        let out = rerank(
            vec![placement("g5.xlarge", 1.0, &["us-east-1a"], false)],
            &Ranking { provider: "aws", ..how(&[(aws, banned_aws)], &RunFactors::default(), 0.0) },
        );
        assert!(out.is_empty(), "banned on AWS: {out:?}");
        let banned = OfferRecord { banned: true, ..OfferRecord::default() };
        let mut k = key("A", "X");
        k.provider = "aws".into();
        let out = rerank(
            vec![placement("A", 0.3, &["X"], false)],
            &how(&[(k, banned)], &RunFactors::default(), 0.0),
        );
        assert_eq!(out.len(), 1);
    }

    /// An image that ran 3× as fast on a GPU twice the price finishes cheaper there: the
    /// ranking follows its speeds once each GPU reported a few times; a GPU never seen with it
    /// is taken as fast as the fastest (so it is tried).
    #[test]
    fn a_dearer_gpu_that_finishes_sooner_ranks_first_once_speeds_are_known() {
        let speed = |gpu: &str, reports: i64, sps: f64| {
            let key = SpeedKey {
                owner: "ann".into(),
                job_name: "train".into(),
                image: "img".into(),
                provider: "runpod".into(),
                gpu_type: gpu.into(),
                gpu_count: 1,
            };
            (key, SpeedRecord { reports, sps_total: sps * reports as f64 })
        };
        let factors = RunFactors::from_records(&[speed("SLOW", 5, 10.0), speed("FAST", 4, 30.0)]);
        assert_eq!((factors.of("FAST", 1), factors.of("SLOW", 1)), (1.0, 3.0));
        assert_eq!(factors.of("FAST", 2), 1.0, "another count is another GPU");
        let rank = |f: &RunFactors| {
            rerank(
                vec![placement("SLOW", 0.5, &["X"], false), placement("FAST", 1.0, &["X"], false)],
                &how(&[], f, 0.0),
            )
            .into_iter()
            .map(|p| p.gpu_type)
            .collect::<Vec<_>>()
        };
        assert_eq!(rank(&RunFactors::default()), ["SLOW", "FAST"], "by price alone");
        assert_eq!(rank(&factors), ["FAST", "SLOW"]);
        // Two reports are not yet evidence.
        let early = RunFactors::from_records(&[speed("SLOW", 2, 10.0), speed("FAST", 4, 30.0)]);
        assert_eq!(early.of("SLOW", 1), 1.0);
        assert_eq!(rank(&early), ["SLOW", "FAST"]);
    }
}
