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

    /// As dollars.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Cost of `millis` at `self` per hour, rounded half up to the micro-dollar.
    pub fn per_hour_for_millis(self, millis: i64) -> Money {
        let v = i128::from(self.0) * i128::from(millis);
        Money(((v + 1_800_000) / 3_600_000) as i64)
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

#[cfg(test)]
mod tests {
    use super::*;

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
