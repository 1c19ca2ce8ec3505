//! `podwarden aws-prices`: a fresh EC2 price table from AWS's Price List bulk file of a region
//! (`docs/providers/aws.md` → Cost). The file is read as a stream (it runs to gigabytes); the
//! region's GPU types' on-demand Linux prices replace that region's in the table, which is
//! dated by the file. A server takes the result with `PODWARDEN_AWS_PRICES`.

use crate::UserError;
use anyhow::anyhow;
use podwarden_engine::aws_provider::PriceFile;
use std::path::PathBuf;

/// `podwarden aws-prices`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One region's EC2 offer file, as downloaded from
    /// https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/REGION/index.json
    #[arg(long)]
    from: PathBuf,
    /// The table to add the region to (default: the one this build ships).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Where to write the table (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// With `--out`: what was read as JSON on stdout, `{"region", "date", "types", "out"}`
    /// (without `--out` the table itself is the JSON on stdout).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<(), UserError> {
    let base = match &a.table {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| UserError {
                error: anyhow!("cannot read {}: {e}", p.display()),
                hint: None,
            })?;
            PriceFile::parse(&text).map_err(|e| UserError {
                error: anyhow!("{}: {e}", p.display()),
                hint: Some("a table `podwarden aws-prices` wrote, or leave --table out for the shipped one".into()),
            })?
        }
        None => PriceFile::shipped(),
    };
    let file = std::fs::File::open(&a.from).map_err(|e| UserError {
        error: anyhow!("cannot read {}: {e}", a.from.display()),
        hint: None,
    })?;
    let bulk = PriceFile::from_bulk(file).map_err(|e| UserError {
        error: anyhow!("{}: {e}", a.from.display()),
        hint: Some("download one region's file: https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/<region>/index.json".into()),
    })?;
    let summary = serde_json::json!({
        "region": bulk.region, "date": bulk.date, "types": bulk.prices.len(), "out": a.out,
    });
    note!(
        "{}: {} GPU instance types priced, published {}",
        bulk.region,
        bulk.prices.len(),
        bulk.date
    );
    let table = serde_json::to_string_pretty(&base.merged(bulk)).map_err(|e| anyhow!(e))?;
    match &a.out {
        Some(p) => {
            std::fs::write(p, format!("{table}\n")).map_err(|e| UserError {
                error: anyhow!("cannot write {}: {e}", p.display()),
                hint: None,
            })?;
            note!("wrote {} (point PODWARDEN_AWS_PRICES at it)", p.display());
            if a.json {
                out!("{summary}");
            }
        }
        None => out!("{table}"),
    }
    Ok(())
}
