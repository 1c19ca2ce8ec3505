//! Capacity benchmark (issue 30): a simulated day of jobs against the emulator's capacity model
//! (`runpod_emulator::capacity`: stock that swings, creates refused although listed, dud hosts,
//! slow boots, preemptions — deterministic under a seed), placed two ways in the same run:
//!
//! - **baseline**, podwarden before issue 30: offers by list price (`rank_placements`); no
//!   capacity is a failed attempt, retried after 30 s then 60 s, the job failing after 3;
//! - **podwarden**: offers by expected cost to finish from what its own launches taught it
//!   (`podwarden_core::learned::rerank`, learning as the day goes), with the wait to start
//!   valued at `limits.wait_usd_per_hour` (run twice: at 0, and at the default); a pod that has
//!   not booted by the deadline its offer's boots taught (`BootRecord::deadline_ms`) is a dud;
//!   a job with nothing to place waits queued, looking again every 30 s, for up to an hour
//!   (`limits.start_within`).
//!
//! Both: a 10-minute boot timeout, 3 attempts for duds and preemptions, a preempted job
//! starting over. RunPod places a create naming several data centers in one with room, by its
//! own choice (here in proportion to free stock). The manual clock steps 10 s. Two days of the
//! capacity model: `default_day` (one price per GPU type and tier, hosts that differ by data
//! center) and `flaky_cheap_day` (the cheapest offers flaky everywhere). Reported per policy:
//! jobs started within 15 minutes (of those that arrived when some offer had stock), median
//! and p95 time to the first log line (arrival to the command starting), spend on pods that
//! never booted as a share of all spend, total cost, cost per finished job, and what the jobs
//! every policy finished cost under each (the same work, priced).
//!
//!   cargo run --release -p podwarden --example bench_capacity            # 2,000 jobs, a day
//!   BENCH_SEEDS=10 …                                                      # and seeds 1..=10
//!   BENCH_WAIT=0.3 …                                                      # another wait value
//!   BENCH_SMOKE=1 target/debug/examples/bench_capacity                    # 100 jobs, 6 hours

use podwarden_core::gpu::{CloudTier, GpuOffer, rank_placements};
use podwarden_core::learned::{
    BootRecord, BootSample, OfferEvent, OfferKey, OfferRecord, Ranking, RunFactors, cloud_name,
    rerank,
};
use podwarden_core::money::Money;
use podwarden_core::spec::{DEFAULT_WAIT_USD_PER_HOUR, JobSpec};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use runpod_emulator::capacity::{CapacityModel, Launch};
use std::collections::BTreeMap;

const STEP: f64 = 10.0;
const BOOT_TIMEOUT: f64 = 600.0;
const ATTEMPTS: u32 = 3;
const START_WITHIN: f64 = 3600.0;
const RECHECK: f64 = 30.0;

#[derive(Clone, Copy, PartialEq)]
enum Policy {
    Baseline,
    /// With this value on an hour of waiting to start (`limits.wait_usd_per_hour`).
    Podwarden {
        wait_usd_per_hour: f64,
    },
}

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting to (re)launch at this time.
    Waiting(f64),
    /// A pod on offer `i`, created at `since`; boots at `boots` (`None`: a dud).
    Booting {
        i: usize,
        since: f64,
        boots: Option<f64>,
        preempt: Option<f64>,
        /// When it is given up as a dud if it has not booted, after `since`.
        deadline: f64,
    },
    /// Running since `since` until `until` (its end, or its preemption when `lost`).
    Running {
        i: usize,
        since: f64,
        until: f64,
        lost: bool,
    },
    Done,
    Failed,
}

struct Job {
    arrival: f64,
    run: f64,
    phase: Phase,
    attempts: u32,
    /// Since when it has waited queued (podwarden).
    queued_at: Option<f64>,
    first_log: Option<f64>,
    /// Whether some offer had stock when it arrived.
    capacity_at_arrival: bool,
    /// A pod of it was ended at a learned deadline: the next get the full boot timeout.
    past_learned: bool,
    /// What its pods cost.
    spend: f64,
}

#[derive(Default)]
struct Tally {
    spend: f64,
    dud_spend: f64,
    /// Spend per offer (`BENCH_DETAIL`).
    by_offer: BTreeMap<usize, f64>,
}

/// One policy's day.
fn simulate(model: &CapacityModel, policy: Policy, jobs_n: usize, hours: f64, seed: u64) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let horizon = hours * 3600.0;
    let mut jobs: Vec<Job> = (0..jobs_n)
        .map(|_| {
            let arrival = rng.random::<f64>() * (horizon - 3.0 * 3600.0).max(600.0);
            Job {
                arrival,
                run: 1800.0 + rng.random::<f64>() * 5400.0,
                phase: Phase::Waiting(arrival),
                attempts: 0,
                queued_at: None,
                first_log: None,
                capacity_at_arrival: false,
                past_learned: false,
                spend: 0.0,
            }
        })
        .collect();
    let spec = JobSpec::from_toml(
        "bench.toml",
        "name = \"bench\"\nimage = \"i\"\ncommand = \"c\"\n[gpu]\nmin_vram_gb = 16\n",
    )
    .expect("spec");
    let mut held = vec![0i64; model.offers.len()];
    let mut learned: BTreeMap<OfferKey, OfferRecord> = BTreeMap::new();
    // One image all day: each offer's boots of it.
    let mut boots: BTreeMap<usize, BootRecord> = BTreeMap::new();
    let mut launches = 0u64;
    let mut tally = Tally::default();
    let key = |i: usize| {
        let o = &model.offers[i];
        let cloud = if o.cloud == "COMMUNITY" { CloudTier::Community } else { CloudTier::Secure };
        OfferKey {
            provider: "runpod".into(),
            gpu_type: o.gpu.clone(),
            data_center: o.data_center.clone(),
            cloud: cloud_name(cloud).into(),
        }
    };
    let mut t = 0.0;
    while t < horizon {
        // Free stock now; each launch this step takes one.
        let mut free: Vec<i64> =
            (0..model.offers.len()).map(|i| (model.stock(i, t) - held[i]).max(0)).collect();
        for j in &mut jobs {
            if let Phase::Waiting(at) = j.phase {
                if j.arrival <= t && t < j.arrival + STEP {
                    j.capacity_at_arrival = free.iter().any(|f| *f > 0);
                }
                if at > t {
                    continue;
                }
                // Placements as podwarden ranks them, from the catalog now.
                let mut by_gpu: BTreeMap<&str, GpuOffer> = BTreeMap::new();
                for (i, o) in model.offers.iter().enumerate() {
                    let g = by_gpu.entry(&o.gpu).or_insert_with(|| GpuOffer {
                        gpu_type: o.gpu.clone(),
                        display_name: o.gpu.clone(),
                        vram_gb: 24,
                        max_count: 8,
                        fixed_count: None,
                        secure_price: None,
                        community_price: None,
                        data_centers: Vec::new(),
                    });
                    let price = Some(Money::from_usd(o.price));
                    if o.cloud == "COMMUNITY" {
                        g.community_price = price;
                    } else {
                        g.secure_price = price;
                    }
                    if free[i] > 0 && !g.data_centers.contains(&o.data_center) {
                        g.data_centers.push(o.data_center.clone());
                    }
                }
                let offers: Vec<GpuOffer> = by_gpu.into_values().collect();
                let mut placements = rank_placements(&spec, &offers);
                if let Policy::Podwarden { wait_usd_per_hour } = policy {
                    let records: Vec<(OfferKey, OfferRecord)> =
                        learned.iter().map(|(k, r)| (k.clone(), r.clone())).collect();
                    // As the engine: a job that had a pod ended at a learned deadline gets the
                    // whole timeout, in the ranking as at the pod.
                    let boots: Vec<(OfferKey, BootRecord)> = if j.past_learned {
                        Vec::new()
                    } else {
                        boots.iter().map(|(i, r)| (key(*i), r.clone())).collect()
                    };
                    placements = rerank(
                        placements,
                        &Ranking {
                            provider: "runpod",
                            records: &records,
                            boots: &boots,
                            run_ms: j.run as i64 * 1000,
                            run_factors: &RunFactors::default(),
                            boot_timeout_ms: (BOOT_TIMEOUT * 1000.0) as i64,
                            wait_usd_per_hour,
                        },
                    );
                }
                // RunPod places a create in one of the data centers it names that has room, by
                // its own choice (here: in proportion to free stock); a refusal is the whole
                // create's, and the client moves to its next placement.
                let mut placed = None;
                for p in &placements {
                    let cloud =
                        if p.cloud == CloudTier::Community { "COMMUNITY" } else { "SECURE" };
                    let room: Vec<usize> = p
                        .data_centers
                        .iter()
                        .filter_map(|dc| model.find(&p.gpu_type, dc, cloud))
                        .filter(|i| free[*i] > 0)
                        .collect();
                    let total: i64 = room.iter().map(|i| free[*i]).sum();
                    if total == 0 {
                        continue;
                    }
                    let mut pick = rng.random_range(0..total);
                    let i = *room
                        .iter()
                        .find(|i| {
                            pick -= free[**i];
                            pick < 0
                        })
                        .expect("a data center with room");
                    launches += 1;
                    match model.launch(i, launches) {
                        Launch::CreateFails => continue,
                        Launch::Dud => {
                            placed = Some((i, None, None));
                            break;
                        }
                        Launch::Boots { boot_secs, preempt_after_secs } => {
                            placed = Some((i, Some(boot_secs), preempt_after_secs));
                            break;
                        }
                    }
                }
                match placed {
                    Some((i, boot, preempt)) => {
                        held[i] += 1;
                        free[i] -= 1;
                        j.attempts += 1;
                        j.queued_at = None;
                        // podwarden ends a dud at the deadline its offer's boots taught it.
                        let deadline = match policy {
                            Policy::Baseline => BOOT_TIMEOUT,
                            Policy::Podwarden { .. } if j.past_learned => BOOT_TIMEOUT,
                            Policy::Podwarden { .. } => {
                                let ms = (BOOT_TIMEOUT * 1000.0) as i64;
                                boots.get(&i).map_or(ms, |r| r.deadline_ms(ms)) as f64 / 1000.0
                            }
                        };
                        j.phase = Phase::Booting {
                            i,
                            since: t,
                            boots: boot.map(|b| t + b),
                            preempt,
                            deadline,
                        };
                    }
                    None => match policy {
                        Policy::Baseline => {
                            j.attempts += 1;
                            j.phase = if j.attempts >= ATTEMPTS {
                                Phase::Failed
                            } else {
                                Phase::Waiting(t + 30.0 * f64::from(1 << (j.attempts - 1)))
                            };
                        }
                        Policy::Podwarden { .. } => {
                            let since = *j.queued_at.get_or_insert(t);
                            j.phase = if t - since >= START_WITHIN {
                                Phase::Failed
                            } else {
                                Phase::Waiting(t + RECHECK)
                            };
                        }
                    },
                }
            }
        }
        // Pods move on.
        for j in &mut jobs {
            match j.phase.clone() {
                Phase::Booting { i, since, boots: Some(b), preempt, deadline }
                    if b <= t && b - since < deadline =>
                {
                    j.first_log.get_or_insert(b);
                    let boot_ms = ((b - since) * 1000.0) as i64;
                    learned.entry(key(i)).or_default().add(OfferEvent::Booted { boot_ms }, 0);
                    boots.entry(i).or_default().add(boot_ms);
                    let end = b + j.run;
                    let lost_at = preempt.map(|p| b + p).filter(|p| *p < end);
                    j.phase = Phase::Running {
                        i,
                        since,
                        until: lost_at.unwrap_or(end),
                        lost: lost_at.is_some(),
                    };
                }
                Phase::Booting { i, since, deadline, .. } if t - since >= deadline => {
                    // Not booted by its deadline (a dud, or a boot slower than a learned
                    // deadline allowed): terminated, its time billed for nothing.
                    let cost = model.offers[i].price * (t - since) / 3600.0;
                    tally.spend += cost;
                    j.spend += cost;
                    *tally.by_offer.entry(i).or_default() += cost;
                    tally.dud_spend += cost;
                    held[i] -= 1;
                    // As the engine: a dud of the offer; an end at a learned deadline is also a
                    // boot that long for the deadline, and the job's next pods get the full one.
                    learned.entry(key(i)).or_default().add(OfferEvent::Dud, 0);
                    if deadline < BOOT_TIMEOUT {
                        let ms = (deadline * 1000.0) as i64;
                        boots.entry(i).or_default().add_sample(BootSample::DeadlinePassed(ms));
                        j.past_learned = true;
                    }
                    j.phase = retry(j, t);
                }
                Phase::Running { i, since, until, lost } if until <= t => {
                    let cost = model.offers[i].price * (until - since) / 3600.0;
                    tally.spend += cost;
                    j.spend += cost;
                    *tally.by_offer.entry(i).or_default() += cost;
                    held[i] -= 1;
                    if lost {
                        learned.entry(key(i)).or_default().add(OfferEvent::Lost, 0);
                        j.phase = retry(j, t);
                    } else {
                        j.phase = Phase::Done;
                    }
                }
                _ => {}
            }
        }
        t += STEP;
    }
    // What still runs at the end of the day is billed to then.
    for j in &jobs {
        if let Phase::Booting { i, since, .. } | Phase::Running { i, since, .. } = j.phase {
            tally.spend += model.offers[i].price * (horizon - since) / 3600.0;
        }
    }
    if std::env::var("BENCH_DETAIL").is_ok() {
        for (i, usd) in &tally.by_offer {
            let o = &model.offers[*i];
            eprintln!("  {} {} {}: {usd:.2} $", o.gpu, o.data_center, o.cloud);
        }
    }
    Report::of(&jobs, &tally)
}

fn retry(j: &Job, t: f64) -> Phase {
    if j.attempts >= ATTEMPTS { Phase::Failed } else { Phase::Waiting(t + 30.0) }
}

struct Report {
    within_15: f64,
    median_first_log: f64,
    p95_first_log: f64,
    dud_share: f64,
    cost: f64,
    done: usize,
    failed: usize,
    /// Each job's spend, where it finished.
    finished: Vec<Option<f64>>,
}

impl Report {
    fn of(jobs: &[Job], tally: &Tally) -> Self {
        let eligible: Vec<&Job> = jobs.iter().filter(|j| j.capacity_at_arrival).collect();
        let within =
            eligible.iter().filter(|j| j.first_log.is_some_and(|f| f - j.arrival <= 900.0)).count();
        let mut waits: Vec<f64> =
            jobs.iter().filter_map(|j| j.first_log.map(|f| f - j.arrival)).collect();
        waits.sort_by(f64::total_cmp);
        let pct = |p: f64| waits.get(((waits.len() as f64 - 1.0) * p).round() as usize).copied();
        Report {
            within_15: within as f64 / eligible.len().max(1) as f64,
            median_first_log: pct(0.5).unwrap_or(f64::NAN),
            p95_first_log: pct(0.95).unwrap_or(f64::NAN),
            dud_share: tally.dud_spend / tally.spend.max(1e-9),
            cost: tally.spend,
            done: jobs.iter().filter(|j| matches!(j.phase, Phase::Done)).count(),
            failed: jobs.iter().filter(|j| matches!(j.phase, Phase::Failed)).count(),
            finished: jobs
                .iter()
                .map(|j| matches!(j.phase, Phase::Done).then_some(j.spend))
                .collect(),
        }
    }
}

/// The measures reported, by name, unit and how each is read from a report.
type Measure = (&'static str, &'static str, fn(&Report) -> f64);

const MEASURES: [Measure; 6] = [
    ("started within 15 min (of jobs that arrived with stock)", " %", |r| r.within_15 * 100.0),
    ("median time to first log", " min", |r| r.median_first_log / 60.0),
    ("p95 time to first log", " min", |r| r.p95_first_log / 60.0),
    ("spend on pods that never booted", " %", |r| r.dud_share * 100.0),
    ("total cost", " $", |r| r.cost),
    ("cost per finished job", " ¢", |r| 100.0 * r.cost / r.done.max(1) as f64),
];

/// A day of the capacity model, by its seed.
type Day = fn(u64) -> CapacityModel;

const SAME_WORK: &str = "cost of the jobs every policy finished";

/// One day under the three policies: baseline, podwarden with waiting at 0, podwarden at
/// `wait` $/h.
fn day(model: &CapacityModel, jobs: usize, hours: f64, seed: u64, wait: f64) -> [Report; 3] {
    [
        simulate(model, Policy::Baseline, jobs, hours, seed),
        simulate(model, Policy::Podwarden { wait_usd_per_hour: 0.0 }, jobs, hours, seed),
        simulate(model, Policy::Podwarden { wait_usd_per_hour: wait }, jobs, hours, seed),
    ]
}

/// What the jobs every policy finished cost under each: the same work, priced.
fn same_work(reports: &[Report; 3]) -> [f64; 3] {
    let all = |k: usize| reports.iter().all(|r| r.finished[k].is_some());
    let n = reports[0].finished.len();
    reports.each_ref().map(|r| (0..n).filter(|k| all(*k)).filter_map(|k| r.finished[k]).sum())
}

fn main() {
    let smoke = std::env::var("BENCH_SMOKE").is_ok();
    let (jobs, hours) = if smoke { (100, 6.0) } else { (2000, 24.0) };
    // `BENCH_WAIT`: another value of waiting for the third column (the curve in BENCHMARKS.md).
    let wait = std::env::var("BENCH_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_WAIT_USD_PER_HOUR);
    // `BENCH_SEEDS=n`: also the spread of the ratios over seeds 1..=n.
    let seeds: u64 = std::env::var("BENCH_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let days: [(&str, Day); 2] = [
        (
            "default_day: one price per GPU type and tier, hosts that differ by data center",
            CapacityModel::default_day,
        ),
        ("flaky_cheap_day: the cheapest offers flaky everywhere", CapacityModel::flaky_cheap_day),
    ];
    let scaled = |make: Day, seed: u64| {
        let mut model = make(seed);
        // Enough stock for a day of this many jobs at once, as the catalog's shape has it.
        for o in &mut model.offers {
            o.mean_stock *= jobs as f64 / 200.0;
        }
        model
    };
    for (name, make) in days {
        let seed = 42;
        let reports = day(&scaled(make, seed), jobs, hours, seed, wait);
        let [base, cheap, ours] = &reports;
        println!("\n{name}");
        println!("{jobs} jobs over {hours} h, capacity model seed {seed} (BENCH_SMOKE={smoke})\n");
        println!(
            "| | baseline (price order, fail on no capacity) | podwarden, waiting valued at 0 | \
             podwarden (waiting at {wait} $/h) | ratio (podwarden / baseline) |"
        );
        println!("|---|---|---|---|---|");
        let row = |name: &str, [b, c, o]: [f64; 3], unit: &str| {
            println!("| {name} | {b:.2}{unit} | {c:.2}{unit} | {o:.2}{unit} | {:.2} |", o / b);
        };
        for (name, unit, f) in MEASURES {
            row(name, reports.each_ref().map(f), unit);
        }
        row(SAME_WORK, same_work(&reports), " $");
        println!(
            "| jobs finished / failed | {} / {} | {} / {} | {} / {} | |",
            base.done, base.failed, cheap.done, cheap.failed, ours.done, ours.failed
        );
        if seeds == 0 {
            continue;
        }
        // The same day under other seeds: how far one seed's ratios are from the rest, and
        // podwarden's own figures (the targets are absolute for two of them).
        let runs: Vec<Vec<(f64, f64)>> = (1..=seeds)
            .map(|seed| {
                let r = day(&scaled(make, seed), jobs, hours, seed, wait);
                let w = same_work(&r);
                MEASURES
                    .iter()
                    .map(|(_, _, f)| (f(&r[2]), f(&r[2]) / f(&r[0])))
                    .chain([(w[2], w[2] / w[0])])
                    .collect()
            })
            .collect();
        println!("\npodwarden over seeds 1..={seeds}: its mean, and its ratio to the baseline\n");
        println!("| | podwarden (mean) | ratio: mean | min | max |\n|---|---|---|---|---|");
        let names = MEASURES.iter().map(|m| (m.0, m.1)).chain([(SAME_WORK, " $")]);
        for (k, (name, unit)) in names.enumerate() {
            let mean = |f: fn(&(f64, f64)) -> f64| {
                runs.iter().map(|v| f(&v[k])).sum::<f64>() / runs.len() as f64
            };
            let ratios = runs.iter().map(|v| v[k].1);
            let lo = ratios.clone().fold(f64::MAX, f64::min);
            let hi = ratios.fold(f64::MIN, f64::max);
            println!(
                "| {name} | {:.2}{unit} | {:.3} | {lo:.3} | {hi:.3} |",
                mean(|x| x.0),
                mean(|x| x.1)
            );
        }
    }
}
