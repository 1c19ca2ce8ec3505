//! EC2's on-demand prices for the GPU instance types podwarden offers, as a dated table: AWS
//! publishes no price API a key can call cheaply, and Cost Explorer reports spend days late.
//! The shipped table (`prices.json` beside this file: Linux, shared tenancy, USD per
//! instance-hour, with its date and source) is the default; `podwarden aws-prices --from
//! <bulk file>` makes a fresh one from AWS's Price List bulk file of a region
//! ([`PriceFile::from_bulk`], read as a stream: the files run to gigabytes), which a server
//! takes with `PODWARDEN_AWS_PRICES`. A region without figures offers nothing, and says so.
//!
//! Billing follows EC2 Linux: per second while `running`, with a minimum of 60 seconds
//! ([`MIN_BILLED_MS`]).

use podwarden_core::Money;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// EC2 Linux bills at least a minute for every start.
pub const MIN_BILLED_MS: i64 = 60_000;

/// The table shipped with this build.
const SHIPPED: &str = include_str!("prices.json");

/// A price table as stored: when and where its figures were read, and per region, per instance
/// type, USD per instance-hour as a decimal string (exact: no float on the way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub source: String,
    pub regions: BTreeMap<String, BTreeMap<String, String>>,
}

impl PriceFile {
    /// The table this build ships.
    pub fn shipped() -> Self {
        serde_json::from_str(SHIPPED).expect("the shipped price table parses (tested)")
    }

    /// A table from its JSON, every figure checked.
    pub fn parse(json: &str) -> Result<Self, String> {
        let f: Self = serde_json::from_str(json).map_err(|e| format!("not a price table: {e}"))?;
        for (region, types) in &f.regions {
            for (t, p) in types {
                if Money::parse_usd(p).is_none() {
                    return Err(format!("{region} {t}: {p:?} is not a dollar amount"));
                }
            }
        }
        Ok(f)
    }

    /// The figures of `region`.
    pub fn table(&self, region: &str) -> Option<PriceTable> {
        let types = self.regions.get(region)?;
        Some(PriceTable {
            date: self.date.clone(),
            prices: types
                .iter()
                .filter_map(|(t, p)| Some((t.clone(), Money::parse_usd(p)?)))
                .collect(),
        })
    }

    /// The regions with figures.
    pub fn regions(&self) -> Vec<&str> {
        self.regions.keys().map(String::as_str).collect()
    }
}

/// The price table for one region.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    pub date: String,
    prices: Vec<(String, Money)>,
}

impl PriceTable {
    /// The shipped figures for `region`; `None` where there are none.
    pub fn shipped(region: &str) -> Option<Self> {
        PriceFile::shipped().table(region)
    }

    /// The instance types priced.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.prices.iter().map(|(t, _)| t.as_str())
    }

    /// USD per hour of one instance of `instance_type`.
    pub fn hourly(&self, instance_type: &str) -> Option<Money> {
        self.prices.iter().find(|(t, _)| t == instance_type).map(|(_, p)| *p)
    }
}

/// The instance families podwarden offers (their types have NVIDIA GPUs and Docker's runtime
/// works on the Deep Learning AMI).
pub const GPU_FAMILIES: &[&str] = &["g4dn", "g5", "g6", "g6e", "p4d", "p5"];

/// What one region's bulk offer file says: its region, publication date and the on-demand
/// Linux shared-tenancy price of each GPU instance type of [`GPU_FAMILIES`].
#[derive(Debug, Clone, PartialEq)]
pub struct BulkPrices {
    pub region: String,
    /// `YYYY-MM-DD` of the file's `publicationDate`.
    pub date: String,
    pub prices: BTreeMap<String, String>,
}

impl PriceFile {
    /// Reads AWS's Price List bulk file of one region
    /// (`https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/<region>/index.json`)
    /// as a stream: only the GPU types' products and their on-demand terms are kept, so memory
    /// stays small however large the file.
    pub fn from_bulk(reader: impl std::io::Read) -> Result<BulkPrices, String> {
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
        let raw =
            OfferFile.deserialize(&mut de).map_err(|e| format!("not an EC2 offer file: {e}"))?;
        let region =
            raw.region.ok_or("the file names no region: is it one region's EC2 offer file?")?;
        let mut prices = BTreeMap::new();
        for (sku, t) in &raw.skus {
            let Some(usd) = raw.on_demand.get(sku).and_then(|p| exact_usd(p)) else { continue };
            // One price per type, whatever order the file lists them in.
            if let Some(other) = prices.insert(t.clone(), usd.clone()).filter(|o| *o != usd) {
                return Err(format!(
                    "two on-demand prices for {t} ({other} and {usd}): not one region's Linux offers?"
                ));
            }
        }
        if prices.is_empty() {
            return Err(format!("no on-demand Linux price of a GPU type in the {region} file"));
        }
        Ok(BulkPrices { region, date: raw.date.chars().take(10).collect(), prices })
    }

    /// This table with `b`'s region replaced by its figures, dated by it.
    pub fn merged(mut self, b: BulkPrices) -> Self {
        self.regions.insert(b.region, b.prices);
        self.date = b.date;
        self.source = "AWS Price List bulk files (podwarden aws-prices)".into();
        self
    }
}

/// `"1.0060000000"` as `"1.006"`, when it is an exact amount to the micro-dollar.
fn exact_usd(p: &str) -> Option<String> {
    let t = if p.contains('.') { p.trim_end_matches('0').trim_end_matches('.') } else { p };
    Money::parse_usd(t).map(|_| t.to_owned())
}

/// What is kept of a bulk file while it streams by.
#[derive(Default)]
struct Raw {
    date: String,
    region: Option<String>,
    /// SKU → instance type, of the products that are GPU types, Linux, shared, no software.
    skus: HashMap<String, String>,
    /// SKU → its hourly on-demand price.
    on_demand: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default)]
    attributes: HashMap<String, String>,
}

impl Product {
    /// The instance type, when this is a priced offer podwarden would use.
    fn gpu_type(&self) -> Option<(&str, &str)> {
        let a = |k: &str| self.attributes.get(k).map(String::as_str);
        let t = a("instanceType")?;
        let family = t.split('.').next()?;
        // The region itself, not one of its Local or Wavelength Zones (priced apart).
        let plain = a("operatingSystem") == Some("Linux")
            && a("locationType").is_none_or(|l| l == "AWS Region")
            && a("tenancy") == Some("Shared")
            && a("preInstalledSw").is_none_or(|s| s == "NA")
            && a("capacitystatus").is_none_or(|c| c == "Used");
        (plain && GPU_FAMILIES.contains(&family)).then(|| (t, a("regionCode").unwrap_or_default()))
    }
}

#[derive(Deserialize)]
struct Term {
    #[serde(rename = "priceDimensions", default)]
    dimensions: HashMap<String, Dimension>,
}

#[derive(Deserialize)]
struct Dimension {
    #[serde(default)]
    unit: String,
    #[serde(rename = "pricePerUnit", default)]
    price: HashMap<String, String>,
}

/// The whole file, visited key by key.
struct OfferFile;

impl<'de> DeserializeSeed<'de> for OfferFile {
    type Value = Raw;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OfferFile {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an EC2 offer file")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Raw, A::Error> {
        let mut raw = Raw::default();
        while let Some(k) = m.next_key::<String>()? {
            match k.as_str() {
                "publicationDate" => raw.date = m.next_value()?,
                "products" => m.next_value_seed(Products(&mut raw))?,
                "terms" => m.next_value_seed(Terms(&mut raw))?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// `products`: SKU → product, the GPU ones kept.
struct Products<'a>(&'a mut Raw);

impl<'de> DeserializeSeed<'de> for Products<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Products<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("products by SKU")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(sku) = m.next_key::<String>()? {
            let p: Product = m.next_value()?;
            if let Some((t, region)) = p.gpu_type() {
                if !region.is_empty() {
                    self.0.region.get_or_insert_with(|| region.to_owned());
                }
                self.0.skus.insert(sku, t.to_owned());
            }
        }
        Ok(())
    }
}

/// `terms`: `OnDemand` read for the kept SKUs, the rest skipped.
struct Terms<'a>(&'a mut Raw);

impl<'de> DeserializeSeed<'de> for Terms<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Terms<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("terms by kind")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(kind) = m.next_key::<String>()? {
            if kind != "OnDemand" {
                m.next_value::<IgnoredAny>()?;
                continue;
            }
            let wanted: HashSet<String> = self.0.skus.keys().cloned().collect();
            m.next_value_seed(OnDemand { wanted: &wanted, out: &mut self.0.on_demand })?;
        }
        Ok(())
    }
}

/// `terms.OnDemand`: SKU → offer term → price dimensions; the hourly USD price kept.
struct OnDemand<'a> {
    wanted: &'a HashSet<String>,
    out: &'a mut HashMap<String, String>,
}

impl<'de> DeserializeSeed<'de> for OnDemand<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnDemand<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("on-demand terms by SKU")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(sku) = m.next_key::<String>()? {
            if !self.wanted.contains(&sku) {
                m.next_value::<IgnoredAny>()?;
                continue;
            }
            let terms: HashMap<String, Term> = m.next_value()?;
            let hourly = terms
                .values()
                .flat_map(|t| t.dimensions.values())
                .find(|d| d.unit == "Hrs")
                .and_then(|d| d.price.get("USD"))
                .cloned();
            if let Some(p) = hourly {
                self.out.insert(sku, p);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_parses_exactly_and_unpriced_regions_have_none() {
        let shipped = PriceFile::parse(SHIPPED).expect("the shipped table is valid");
        assert!(chrono::NaiveDate::parse_from_str(&shipped.date, "%Y-%m-%d").is_ok());
        let t = PriceTable::shipped("us-east-1").expect("priced");
        assert_eq!(t.types().count(), 32);
        assert_eq!(t.hourly("g5.xlarge"), Some(Money(1_006_000)));
        assert_eq!(t.hourly("g6e.48xlarge"), Some(Money(30_131_180)), "to the micro-dollar");
        assert_eq!(t.hourly("m5.large"), None);
        assert!(PriceTable::shipped("eu-west-1").is_none());
        assert!(PriceFile::parse(&SHIPPED.replace("\"0.526\"", "\"0.5x\"")).is_err());
    }

    /// A bulk file in AWS's shape: only the Linux, shared, plain GPU product's on-demand hourly
    /// price is taken; Windows, dedicated, reserved and CPU types are not.
    #[test]
    fn a_bulk_file_yields_the_gpu_types_on_demand_linux_prices() {
        let product = |sku: &str, t: &str, os: &str, tenancy: &str| {
            format!(
                r#""{sku}": {{"sku": "{sku}", "productFamily": "Compute Instance", "attributes": {{"instanceType": "{t}", "regionCode": "eu-west-1", "operatingSystem": "{os}", "tenancy": "{tenancy}", "preInstalledSw": "NA", "capacitystatus": "Used", "vcpu": "4"}}}}"#
            )
        };
        let term = |sku: &str, usd: &str| {
            format!(
                r#""{sku}": {{"{sku}.JRTCKXETXF": {{"offerTermCode": "JRTCKXETXF", "sku": "{sku}", "priceDimensions": {{"{sku}.JRTCKXETXF.6YS6EN2CT7": {{"unit": "Hrs", "pricePerUnit": {{"USD": "{usd}"}}, "description": "x"}}}}}}}}"#
            )
        };
        let file = format!(
            r#"{{"formatVersion": "v1.0", "disclaimer": "…", "offerCode": "AmazonEC2", "publicationDate": "2026-11-30T18:00:00Z",
            "products": {{{}, {}, {}, {}, {}}},
            "terms": {{"OnDemand": {{{}, {}, {}, {}, {}}}, "Reserved": {{{}}}}}}}"#,
            product("A", "g5.xlarge", "Linux", "Shared"),
            product("B", "g5.xlarge", "Windows", "Shared"),
            product("C", "g5.xlarge", "Linux", "Dedicated"),
            product("D", "m5.large", "Linux", "Shared"),
            product("E", "g5.xlarge", "Linux", "Shared")
                .replace("\"vcpu\"", "\"locationType\": \"AWS Local Zone\", \"vcpu\""),
            term("A", "1.1230000000"),
            term("B", "2.0000000000"),
            term("C", "3.0000000000"),
            term("D", "0.0960000000"),
            term("E", "1.4000000000"),
            term("A", "0.7000000000"),
        );
        let b = PriceFile::from_bulk(file.as_bytes()).expect("read");
        assert_eq!((b.region.as_str(), b.date.as_str()), ("eu-west-1", "2026-11-30"));
        assert_eq!(b.prices, BTreeMap::from([("g5.xlarge".to_owned(), "1.123".to_owned())]));
        let merged = PriceFile::shipped().merged(b);
        assert_eq!(
            merged.table("eu-west-1").and_then(|t| t.hourly("g5.xlarge")),
            Some(Money(1_123_000))
        );
        assert!(merged.table("us-east-1").is_some(), "other regions kept");
        assert!(PriceFile::from_bulk(&b"{\"products\": {}}"[..]).is_err(), "no region, no prices");
    }
}
