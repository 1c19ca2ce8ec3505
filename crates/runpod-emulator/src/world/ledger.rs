//! Per-second billing into hourly buckets, the source of `/v2/billing/*` and the balance.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};

/// What was billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Pod,
    Serverless,
    NetworkVolume,
}

/// How an amount splits into the record's columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// Share that is GPU (the rest is disk).
    pub gpu_share: f64,
}

/// Amounts of one resource in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Amounts {
    pub gpu: f64,
    pub disk: f64,
}

impl Amounts {
    /// GPU + disk.
    pub fn total(&self) -> f64 {
        self.gpu + self.disk
    }
}

/// Hourly buckets per (kind, hour), then per resource. Keyed this way so the per-second
/// accrual of every pod on every tick finds its row without allocating.
/// Amounts per (kind, hour), then per resource.
pub type Buckets = BTreeMap<(Kind, DateTime<Utc>), HashMap<String, Amounts>>;

#[derive(Debug, Default)]
pub struct Ledger {
    pub buckets: Buckets,
    /// What the billing routes show: `buckets` as of the last billing run, or `None` when
    /// billing runs continuously (they show `buckets`).
    published: Option<Buckets>,
    /// When the next billing run is due, and how many runs there were.
    next_run: Option<DateTime<Utc>>,
    runs: u64,
    /// The account each billed resource belongs to (kept after the resource is gone, as its
    /// bills are).
    owners: HashMap<(Kind, String), String>,
}

impl Ledger {
    /// Records that `resource` is billed to `account`.
    pub fn own(&mut self, kind: Kind, resource: &str, account: &str) {
        self.owners.insert((kind, resource.to_owned()), account.to_owned());
    }

    /// The account `resource` is billed to.
    pub fn owner(&self, kind: Kind, resource: &str) -> Option<&str> {
        self.owners.get(&(kind, resource.to_owned())).map(String::as_str)
    }

    /// Bills `[from, to)` at `rate_per_hr`, splitting at hour boundaries. Returns the total.
    pub fn accrue(
        &mut self,
        kind: Kind,
        resource: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        rate_per_hr: f64,
        split: Split,
    ) -> f64 {
        if to <= from || rate_per_hr <= 0.0 {
            return 0.0;
        }
        let mut total = 0.0;
        let mut start = from;
        while start < to {
            let hour = start.duration_trunc(TimeDelta::hours(1)).unwrap_or(start);
            let end = (hour + TimeDelta::hours(1)).min(to);
            let secs = (end - start).num_milliseconds() as f64 / 1000.0;
            let amount = secs * rate_per_hr / 3600.0;
            let row = self.buckets.entry((kind, hour)).or_default();
            let e = match row.get_mut(resource) {
                Some(e) => e,
                None => row.entry(resource.to_owned()).or_default(),
            };
            e.gpu += amount * split.gpu_share;
            e.disk += amount * (1.0 - split.gpu_share);
            total += amount;
            start = end;
        }
        total
    }

    /// Runs billing when one is due under `cfg`: the routes then show the ledger as of now.
    pub fn run_billing(
        &mut self,
        now: DateTime<Utc>,
        cfg: &crate::config::BillingConfig,
        seed: u64,
    ) {
        if cfg.cycle_secs <= 0.0 {
            self.published = None;
            return;
        }
        let Some(due) = self.next_run else {
            // The first run comes a cycle after the emulator starts: nothing is billed yet.
            self.published = Some(BTreeMap::new());
            self.next_run = Some(self.after(now, cfg, seed));
            return;
        };
        if now >= due {
            self.published = Some(self.buckets.clone());
            self.runs += 1;
            self.next_run = Some(self.after(now, cfg, seed));
        }
    }

    fn after(
        &self,
        now: DateTime<Utc>,
        cfg: &crate::config::BillingConfig,
        seed: u64,
    ) -> DateTime<Utc> {
        // A jitter that repeats run for run with the seed (no clock or RNG state involved).
        let frac = ((self.runs.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f64 / 1000.0;
        let secs = cfg.cycle_secs + cfg.jitter_secs.max(0.0) * frac;
        now + TimeDelta::milliseconds((secs * 1000.0) as i64)
    }

    /// Total billed to one resource.
    pub fn total_for(&self, kind: Kind, resource: &str) -> f64 {
        self.buckets
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .filter_map(|(_, row)| row.get(resource))
            .map(Amounts::total)
            .sum()
    }

    /// Records of `account`'s resources of `kind` in `[start, end)`, regrouped into buckets of
    /// `bucket` size.
    pub fn records(
        &self,
        account: &str,
        kind: Kind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        bucket: Bucket,
        resource: Option<&str>,
    ) -> Vec<(String, DateTime<Utc>, Amounts)> {
        let mut out: BTreeMap<(DateTime<Utc>, String), Amounts> = BTreeMap::new();
        let shown = self.published.as_ref().unwrap_or(&self.buckets);
        for ((k, hour), row) in shown.range((kind, start)..(kind, end)) {
            debug_assert_eq!(*k, kind);
            let mine = |r: &str| self.owner(kind, r) == Some(account);
            for (r, a) in
                row.iter().filter(|(r, _)| resource.is_none_or(|x| x == r.as_str()) && mine(r))
            {
                let e = out.entry((bucket.floor(*hour), r.clone())).or_default();
                e.gpu += a.gpu;
                e.disk += a.disk;
            }
        }
        out.into_iter().map(|((t, r), a)| (r, t, a)).collect()
    }
}

/// A billing bucket size (`bucketSize`): calendar-aligned in UTC, as RunPod's records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    Day,
    /// ISO weeks, from Monday 00:00.
    Week,
    Month,
    Year,
}

impl Bucket {
    /// Parses `hour|day|week|month|year`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// The name in queries and echoes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// Start of the bucket containing `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::{Datelike, TimeZone};
        let day = t.duration_trunc(TimeDelta::days(1)).unwrap_or(t);
        match self {
            Self::Hour => t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t),
            Self::Day => day,
            Self::Week => day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday())),
            Self::Month => {
                Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0).single().unwrap_or(day)
            }
            Self::Year => Utc.with_ymd_and_hms(t.year(), 1, 1, 0, 0, 0).single().unwrap_or(day),
        }
    }

    /// Start of the bucket after the one starting at `start` (a bucket boundary).
    pub fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Hour => start + TimeDelta::hours(1),
            Self::Day => start + TimeDelta::days(1),
            Self::Week => start + TimeDelta::weeks(1),
            Self::Month => start
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(start + TimeDelta::days(31)),
            Self::Year => start
                .checked_add_months(chrono::Months::new(12))
                .unwrap_or(start + TimeDelta::days(366)),
        }
    }

    /// Start of the bucket `n` buckets before the one starting at `start`.
    pub fn back(self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        match self {
            Self::Hour => start - TimeDelta::hours(i64::from(n)),
            Self::Day => start - TimeDelta::days(i64::from(n)),
            Self::Week => start - TimeDelta::weeks(i64::from(n)),
            Self::Month => start.checked_sub_months(chrono::Months::new(n)).unwrap_or(start),
            Self::Year => {
                start.checked_sub_months(chrono::Months::new(n.saturating_mul(12))).unwrap_or(start)
            }
        }
    }

    /// `t` snapped up to a bucket boundary (unchanged when it is one).
    pub fn ceil(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let f = self.floor(t);
        if f == t { t } else { self.next(f) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("date").with_timezone(&Utc)
    }

    #[test]
    fn per_second_billing_splits_across_hours() {
        let mut l = Ledger::default();
        l.own(Kind::Pod, "p", "a");
        let billed = l.accrue(
            Kind::Pod,
            "p",
            t("2026-01-01T00:30:00Z"),
            t("2026-01-01T01:30:00Z"),
            3.6,
            Split { gpu_share: 1.0 },
        );
        assert!((billed - 3.6).abs() < 1e-9, "{billed}");
        assert_eq!(l.buckets.len(), 2);
        assert!((l.total_for(Kind::Pod, "p") - 3.6).abs() < 1e-9);
        let day = l.records(
            "a",
            Kind::Pod,
            t("2026-01-01T00:00:00Z"),
            t("2026-01-02T00:00:00Z"),
            Bucket::Day,
            None,
        );
        assert_eq!(day.len(), 1);
        assert!((day[0].2.total() - 3.6).abs() < 1e-9);
        assert!(
            l.records(
                "b",
                Kind::Pod,
                t("2026-01-01T00:00:00Z"),
                t("2026-01-02T00:00:00Z"),
                Bucket::Day,
                None
            )
            .is_empty()
        );
    }

    #[test]
    fn buckets_align_to_the_calendar() {
        let x = t("2026-03-18T13:45:10Z"); // a Wednesday
        assert_eq!(Bucket::Hour.floor(x), t("2026-03-18T13:00:00Z"));
        assert_eq!(Bucket::Day.floor(x), t("2026-03-18T00:00:00Z"));
        assert_eq!(Bucket::Week.floor(x), t("2026-03-16T00:00:00Z"));
        assert_eq!(Bucket::Month.floor(x), t("2026-03-01T00:00:00Z"));
        assert_eq!(Bucket::Year.floor(x), t("2026-01-01T00:00:00Z"));
        assert_eq!(Bucket::Month.ceil(x), t("2026-04-01T00:00:00Z"));
        assert_eq!(
            Bucket::Day.ceil(t("2026-03-18T00:00:00Z")),
            t("2026-03-18T00:00:00Z"),
            "a boundary stays"
        );
        assert_eq!(Bucket::Month.back(t("2026-03-01T00:00:00Z"), 2), t("2026-01-01T00:00:00Z"));
        assert_eq!(Bucket::Month.next(t("2026-01-01T00:00:00Z")), t("2026-02-01T00:00:00Z"));
    }
}
