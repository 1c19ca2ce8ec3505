//! EC2's on-demand prices for the GPU instance types podwarden offers, shipped as a dated table:
//! AWS publishes no price API a key can call cheaply (the Price List bulk files run to
//! gigabytes per region), and Cost Explorer reports spend days late. The figures are
//! Linux, shared tenancy, per instance-hour, USD, as AWS's on-demand pricing page listed them
//! on [`PRICES_DATE`]; they hold for the regions in [`PRICED_REGIONS`] (AWS prices these types
//! alike there). A region without figures offers nothing, and says so.
//!
//! Billing follows EC2 Linux: per second while `running`, with a minimum of 60 seconds
//! ([`MIN_BILLED_MS`]).

use podwarden_core::Money;

/// When the figures below were read off AWS's on-demand pricing page.
pub const PRICES_DATE: &str = "2025-06-05";

/// Regions the figures hold for.
pub const PRICED_REGIONS: &[&str] = &["us-east-1", "us-east-2", "us-west-2"];

/// EC2 Linux bills at least a minute for every start.
pub const MIN_BILLED_MS: i64 = 60_000;

/// `(instance type, USD per instance-hour)`, on-demand Linux. P4d and P5 after AWS's price cut
/// of June 2025.
const PRICES: &[(&str, &str)] = &[
    ("g4dn.xlarge", "0.526"),
    ("g4dn.2xlarge", "0.752"),
    ("g4dn.4xlarge", "1.204"),
    ("g4dn.8xlarge", "2.176"),
    ("g4dn.12xlarge", "3.912"),
    ("g4dn.16xlarge", "4.352"),
    ("g5.xlarge", "1.006"),
    ("g5.2xlarge", "1.212"),
    ("g5.4xlarge", "1.624"),
    ("g5.8xlarge", "2.448"),
    ("g5.12xlarge", "5.672"),
    ("g5.16xlarge", "4.096"),
    ("g5.24xlarge", "8.144"),
    ("g5.48xlarge", "16.288"),
    ("g6.xlarge", "0.8048"),
    ("g6.2xlarge", "0.9776"),
    ("g6.4xlarge", "1.3232"),
    ("g6.8xlarge", "2.0144"),
    ("g6.12xlarge", "4.6016"),
    ("g6.16xlarge", "3.3968"),
    ("g6.24xlarge", "6.6752"),
    ("g6.48xlarge", "13.3504"),
    ("g6e.xlarge", "1.861"),
    ("g6e.2xlarge", "2.24208"),
    ("g6e.4xlarge", "3.00424"),
    ("g6e.8xlarge", "4.52856"),
    ("g6e.12xlarge", "10.49264"),
    ("g6e.16xlarge", "7.57719"),
    ("g6e.24xlarge", "15.06559"),
    ("g6e.48xlarge", "30.13118"),
    ("p4d.24xlarge", "21.96"),
    ("p5.48xlarge", "55.04"),
];

/// The price table for one region.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: Vec<(String, Money)>,
}

impl PriceTable {
    /// The shipped figures for `region`; `None` where they do not hold.
    pub fn shipped(region: &str) -> Option<Self> {
        PRICED_REGIONS.contains(&region).then(|| Self {
            prices: PRICES
                .iter()
                .map(|(t, p)| ((*t).to_owned(), Money::parse_usd(p).expect("a price in the table")))
                .collect(),
        })
    }

    /// The instance types priced, in the table's order.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.prices.iter().map(|(t, _)| t.as_str())
    }

    /// USD per hour of one instance of `instance_type`.
    pub fn hourly(&self, instance_type: &str) -> Option<Money> {
        self.prices.iter().find(|(t, _)| t == instance_type).map(|(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_parses_exactly_and_unpriced_regions_have_none() {
        let t = PriceTable::shipped("us-east-1").expect("priced");
        assert_eq!(t.types().count(), PRICES.len());
        assert_eq!(t.hourly("g5.xlarge"), Some(Money(1_006_000)));
        assert_eq!(t.hourly("g6e.48xlarge"), Some(Money(30_131_180)), "to the micro-dollar");
        assert_eq!(t.hourly("m5.large"), None);
        assert!(PriceTable::shipped("eu-west-1").is_none());
        assert!(chrono::NaiveDate::parse_from_str(PRICES_DATE, "%Y-%m-%d").is_ok());
    }
}
