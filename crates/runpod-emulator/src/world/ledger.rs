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
#[derive(Debug, Default)]
pub struct Ledger {
    pub buckets: BTreeMap<(Kind, DateTime<Utc>), HashMap<String, Amounts>>,
}

impl Ledger {
    /// Bills `[from, to)` at `rate_per_hr`, splitting at hour boundaries. Returns the total.
    pub fn accrue(&mut self, kind: Kind, resource: &str, from: DateTime<Utc>, to: DateTime<Utc>, rate_per_hr: f64, split: Split) -> f64 {
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

    /// Total billed to one resource.
    pub fn total_for(&self, kind: Kind, resource: &str) -> f64 {
        self.buckets.iter().filter(|((k, _), _)| *k == kind).filter_map(|(_, row)| row.get(resource)).map(Amounts::total).sum()
    }

    /// Records of `kind` in `[start, end)`, regrouped into buckets of `bucket` size.
    pub fn records(
        &self,
        kind: Kind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        bucket: TimeDelta,
        resource: Option<&str>,
    ) -> Vec<(String, DateTime<Utc>, Amounts)> {
        let mut out: BTreeMap<(DateTime<Utc>, String), Amounts> = BTreeMap::new();
        for ((k, hour), row) in &self.buckets {
            if *k != kind || *hour < start || *hour >= end {
                continue;
            }
            for (r, a) in row.iter().filter(|(r, _)| resource.is_none_or(|x| x == r.as_str())) {
                let e = out.entry((bucket_start(*hour, bucket), r.clone())).or_default();
                e.gpu += a.gpu;
                e.disk += a.disk;
            }
        }
        out.into_iter().map(|((t, r), a)| (r, t, a)).collect()
    }
}

/// Start of the bucket containing `t` (days and longer align to midnight UTC).
pub fn bucket_start(t: DateTime<Utc>, bucket: TimeDelta) -> DateTime<Utc> {
    t.duration_trunc(bucket.min(TimeDelta::days(1))).unwrap_or(t)
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
        let billed = l.accrue(Kind::Pod, "p", t("2026-01-01T00:30:00Z"), t("2026-01-01T01:30:00Z"), 3.6, Split { gpu_share: 1.0 });
        assert!((billed - 3.6).abs() < 1e-9, "{billed}");
        assert_eq!(l.buckets.len(), 2);
        assert!((l.total_for(Kind::Pod, "p") - 3.6).abs() < 1e-9);
        let day = l.records(Kind::Pod, t("2026-01-01T00:00:00Z"), t("2026-01-02T00:00:00Z"), TimeDelta::days(1), None);
        assert_eq!(day.len(), 1);
        assert!((day[0].2.total() - 3.6).abs() < 1e-9);
    }
}
