//! Money as integer micro-dollars: sums and per-second costs never drift.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An amount in USD, stored as micro-dollars (1e-6 USD).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// From a dollar amount (rounded to the micro-dollar).
    pub fn from_usd(usd: f64) -> Self {
        Money((usd * 1e6).round() as i64)
    }

    /// A decimal dollar amount as written (`"30.13118"`), exactly: no float on the way.
    /// `None` for anything else (signs, exponents, more than six decimals, overflow).
    pub fn parse_usd(s: &str) -> Option<Self> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 6 {
            return None;
        }
        let micros: i64 = format!("{frac:0<6}").parse().ok()?;
        whole.parse::<i64>().ok()?.checked_mul(1_000_000)?.checked_add(micros).map(Money)
    }

    /// As dollars.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Cost of `millis` at `self` per hour, rounded half up to the micro-dollar.
    pub fn per_hour_for_millis(self, millis: i64) -> Money {
        let v = i128::from(self.0) * i128::from(millis);
        Money(((v + 1_800_000) / 3_600_000) as i64)
    }

    /// `self + o`, at the bounds of `i64` instead of overflowing (sums of caps and budgets).
    pub fn saturating_add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }

    /// `self - o`, at the bounds of `i64` instead of overflowing.
    pub fn saturating_sub(self, o: Money) -> Money {
        Money(self.0.saturating_sub(o.0))
    }

    /// `self` as a fraction of `of`, in percent (0 when `of` is zero).
    pub fn percent_of(self, of: Money) -> f64 {
        if of.0 == 0 { 0.0 } else { self.0 as f64 * 100.0 / of.0 as f64 }
    }
}

impl fmt::Display for Money {
    /// `$1.2345` (four decimals; costs of seconds are small).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}${}.{:04}", a / 1_000_000, (a % 1_000_000 + 50) / 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({}µ$)", self.0)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        self.0 = self.0.saturating_add(o.0);
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0.saturating_sub(o.0))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

/// What a pod has run up since it was last billed at `rate` per hour: from `billed_from` to
/// `now`, or to the moment its terminate was accepted (`ended_at`) when that came first. The
/// ledger holds what was billed; spend shown and budgets enforced add this (the server and the
/// engine alike, so they never disagree).
pub fn unbilled(rate: Money, billed_from: i64, ended_at: Option<i64>, now: i64) -> Money {
    let to = ended_at.map_or(now, |e| e.min(now));
    rate.per_hour_for_millis((to - billed_from).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_amounts_parse_exactly() {
        assert_eq!(Money::parse_usd("30.13118"), Some(Money(30_131_180)));
        assert_eq!(Money::parse_usd("0.526"), Some(Money(526_000)));
        assert_eq!(Money::parse_usd("7"), Some(Money(7_000_000)));
        for bad in ["", ".5", "-1", "1e3", "1.1234567", "1.2.3", " 1", "99999999999999"] {
            assert_eq!(Money::parse_usd(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unbilled_time_ends_at_the_terminate_and_never_runs_backwards() {
        let rate = Money::from_usd(3.6); // 1,000 µ$ a second
        assert_eq!(unbilled(rate, 10_000, None, 15_000), Money(5_000));
        assert_eq!(unbilled(rate, 10_000, Some(12_000), 15_000), Money(2_000), "to the terminate");
        assert_eq!(unbilled(rate, 10_000, Some(20_000), 15_000), Money(5_000), "not past now");
        assert_eq!(unbilled(rate, 10_000, None, 9_000), Money(0), "a clock behind the bill");
    }

    #[test]
    fn per_second_costs_are_exact() {
        let rate = Money::from_usd(0.69);
        assert_eq!(rate.per_hour_for_millis(3_600_000), rate);
        assert_eq!(
            rate.per_hour_for_millis(1_000),
            Money(192),
            "0.69 $/h for one second = 191.67 µ$"
        );
        let sum: Money = (0..3600).map(|_| rate.per_hour_for_millis(1_000)).sum();
        assert!(
            (sum.0 - rate.0).abs() <= 1200,
            "per-second rounding stays within a cent per hour: {sum:?}"
        );
    }

    #[test]
    fn display_rounds_to_four_decimals() {
        assert_eq!(Money(1_234_567).to_string(), "$1.2346");
        assert_eq!(Money(-500).to_string(), "-$0.0005");
        assert_eq!(Money::ZERO.to_string(), "$0.0000");
        assert_eq!(Money::from_usd(80.0).percent_of(Money::from_usd(100.0)), 80.0);
    }
}
