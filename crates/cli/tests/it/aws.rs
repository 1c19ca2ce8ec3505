//! The tabular example on AWS, as a user runs it (`examples/tabular/train-aws.toml`): the
//! dataset goes to S3 with `podwarden cp`, `podwarden run --follow` trains on an EC2 instance
//! (moto behind the test's EC2 stand, the instance's user data run in the emulator's sandbox),
//! the model lands in S3 and `podwarden cp` brings it back. The server the CLI starts has AWS
//! on through AWS's own variables, and no route from the instances to it: the exit comes from
//! the instance's console.

use crate::common;

use common::Server;
use podwarden_test_utils::aws::Ec2Stand;
use std::path::Path;
use std::process::Output;

fn podwarden_aws(home: &Path, stand: &str, args: &[&str]) -> Output {
    common::podwarden_env(
        home,
        args,
        &[
            ("PODWARDEN_AWS", "on"),
            ("PODWARDEN_AWS_AMI", "ami-12c6146b"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", stand),
            ("AWS_ACCESS_KEY_ID", "AKIDPODWARDENTEST"),
            ("AWS_SECRET_ACCESS_KEY", "moto-accepts-any-secret"),
        ],
    )
}

fn ok_stdout(out: &Output) -> String {
    ok(out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output) -> String {
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}\nstdout:\n{o}\nstderr:\n{e}", out.status.code());
    format!("{o}{e}")
}

#[test]
fn the_tabular_example_trains_on_ec2_with_its_data_in_s3() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(stand) = rt.block_on(Ec2Stand::start()) else { return };
    // The instances run podwarden's own tabular worker (the `@tabular` image's program).
    let tabular = std::path::PathBuf::from(env!("CARGO_BIN_EXE_podwarden"));
    rt.block_on(stand.boot_hosts_with(&[], &[("podwarden-tabular", tabular)]));
    rt.block_on(stand.create_bucket("your-bucket"));
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let run = |args: &[&str]| podwarden_aws(home.path(), &stand.url, args);

    let up = ok(&run(&["cp", "examples/data/houses.csv", "s3://your-bucket/datasets/"]));
    assert!(up.contains("s3://your-bucket/datasets/houses.csv"), "{up}");
    let trained = ok(&run(&["run", "examples/tabular/train-aws.toml", "--follow", "--yes"]));
    assert!(
        trained.contains("s3://your-bucket/models/houses-rf/"),
        "where the model went: {trained}"
    );

    let out = home.path().join("results");
    std::fs::create_dir_all(&out).expect("dir");
    let dest = format!("{}/", out.display());
    ok(&run(&["cp", "s3://your-bucket/models/houses-rf/metadata.json", &dest]));
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("metadata.json")).expect("the model's metadata"),
    )
    .expect("json");
    assert_eq!(meta["target"], "price", "{meta}");
    let missing = run(&["cp", "s3://your-bucket/models/nope.json", &dest]);
    assert!(!missing.status.success(), "a missing object is an error");
}

/// `podwarden aws-prices` turns a region's bulk offer file into a table a server takes: the
/// region's GPU prices added to the shipped ones, dated by the file.
#[test]
fn a_bulk_price_file_becomes_a_table_with_its_region_and_date() {
    let dir = tempfile::tempdir().expect("dir");
    let bulk = dir.path().join("ap-south-1.json");
    std::fs::write(
        &bulk,
        r#"{"formatVersion": "v1.0", "offerCode": "AmazonEC2", "publicationDate": "2026-12-01T00:00:00Z",
        "products": {"S1": {"sku": "S1", "attributes": {"instanceType": "g6.xlarge", "regionCode": "ap-south-1",
            "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}}},
        "terms": {"OnDemand": {"S1": {"S1.T": {"priceDimensions": {"S1.T.D": {"unit": "Hrs", "pricePerUnit": {"USD": "0.9100000000"}}}}}}}}"#,
    )
    .expect("bulk file");
    let out = dir.path().join("prices.json");
    let r = common::podwarden(
        dir.path(),
        &[
            "aws-prices",
            "--from",
            bulk.to_str().unwrap_or_default(),
            "--out",
            out.to_str().unwrap_or_default(),
            "--json",
        ],
    );
    let said: serde_json::Value = serde_json::from_str(&ok_stdout(&r)).expect("json");
    assert_eq!((said["region"].as_str(), said["types"].as_i64()), (Some("ap-south-1"), Some(1)));
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("json");
    assert_eq!(table["date"], "2026-12-01");
    assert_eq!(table["regions"]["ap-south-1"]["g6.xlarge"], "0.91");
    assert_eq!(table["regions"]["us-east-1"]["g5.xlarge"], "1.006", "the shipped regions stay");
    let bad =
        common::podwarden(dir.path(), &["aws-prices", "--from", out.to_str().unwrap_or_default()]);
    assert!(!bad.status.success(), "a table is no bulk file");
}
