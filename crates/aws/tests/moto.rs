//! The client against moto's server (`moto_server`, installed in the repo's `.venv` by
//! `scripts/test`, or named by `PODWARDEN_MOTO_SERVER`): AWS's own request and answer shapes,
//! which moto implements from AWS's service models. Where moto is more forgiving than AWS
//! (`docs/providers/aws-api-notes.md`) these tests do not lean on it. Without moto the tests say
//! so and pass, except under CI, where they fail.

use aws::ec2::RunInstance;
use aws::{Client, Credentials};
use podwarden_test_utils::aws::{Moto, moto};

fn client(m: &Moto) -> Client {
    podwarden_test_utils::aws::client(&m.url)
}

#[tokio::test]
async fn a_key_check_names_the_account() {
    let Some(m) = moto().await else { return };
    let id = client(&m).caller_identity().await.expect("caller identity");
    assert_eq!(id.account, "123456789012", "moto's default account");
    assert!(id.arn.starts_with("arn:aws:"), "{id:?}");
}

#[tokio::test]
async fn gpu_instance_types_say_their_gpus_memory_and_cpus() {
    let Some(m) = moto().await else { return };
    let c = client(&m);
    let types = c.describe_instance_types(&["g5.xlarge", "p4d.24xlarge"]).await.expect("types");
    let g5 = types.iter().find(|t| t.name == "g5.xlarge").expect("g5.xlarge");
    let gpu = &g5.gpu.as_ref().expect("a GPU type").gpus.item[0];
    assert_eq!((gpu.name.as_str(), gpu.count), ("A10G", 1));
    assert!(gpu.memory.size_mib > 20_000, "{gpu:?}");
    assert_eq!((g5.vcpu.default_vcpus, g5.memory.size_mib), (4, 16_384));
    let p4d = types.iter().find(|t| t.name == "p4d.24xlarge").expect("p4d.24xlarge");
    let gpus = &p4d.gpu.as_ref().expect("a GPU type").gpus.item[0];
    assert_eq!((gpus.name.as_str(), gpus.count), ("A100", 8));
    let err = c.describe_instance_types(&["g9.nonesuch"]).await.expect_err("unknown type");
    assert!(err.code().is_some(), "AWS's code, not a transport error: {err}");
}

#[tokio::test]
async fn an_instance_is_launched_with_its_tags_found_by_them_and_terminated() {
    let Some(m) = moto().await else { return };
    let c = client(&m);
    let script = "#!/bin/sh\necho 'quotes \" and & = + survive' ünïcødé\n";
    let launched = c
        .run_instance(&RunInstance {
            image_id: "ami-12c6146b".into(),
            instance_type: "g5.xlarge".into(),
            user_data: Some(script.into()),
            tags: vec![
                ("podwarden:install".into(), "inst1".into()),
                ("podwarden:attempt".into(), "att_1".into()),
            ],
            shutdown_terminates: true,
            client_token: Some("att_1".into()),
            ..Default::default()
        })
        .await
        .expect("launched");
    assert!(launched.id.starts_with("i-"), "{launched:?}");
    assert_eq!(launched.instance_type, "g5.xlarge");
    let ours = c.instances_tagged("podwarden:install", "inst1").await.expect("listed");
    let found = ours.iter().find(|i| i.id == launched.id).expect("found by its tag");
    assert_eq!(found.tag("podwarden:attempt"), Some("att_1"));
    assert!(!found.is_ending());
    let kept = c.user_data(&launched.id).await.expect("user data");
    assert_eq!(kept.as_deref(), Some(script), "the script arrives as written");
    assert!(c.instances_tagged("podwarden:install", "other").await.expect("listed").is_empty());
    c.terminate_instance(&launched.id).await.expect("terminated");
    let after = c.instances_tagged("podwarden:install", "inst1").await.expect("listed");
    assert!(after.iter().filter(|i| i.id == launched.id).all(|i| i.is_ending()), "{after:?}");
    let gone = c.terminate_instance("i-0123456789abcdef0").await.expect_err("no such instance");
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn zones_offering_a_type_and_an_instances_console() {
    let Some(m) = moto().await else { return };
    let c = client(&m);
    let zones = c.instance_type_zones(&["g5.xlarge", "p5.48xlarge"]).await.expect("offerings");
    assert!(
        zones.iter().any(|(t, z)| t == "g5.xlarge" && z.starts_with("us-east-1")),
        "g5.xlarge is offered in a zone of us-east-1: {zones:?}"
    );
    assert!(zones.iter().all(|(t, _)| t == "g5.xlarge" || t == "p5.48xlarge"), "{zones:?}");
    let i = c
        .run_instance(&RunInstance {
            image_id: "ami-12c6146b".into(),
            instance_type: "g4dn.xlarge".into(),
            root_volume: Some(("/dev/sda1".into(), 80)),
            ..Default::default()
        })
        .await
        .expect("launched");
    // moto's console is a fixed text; that it decodes is what the client can show.
    let console = c.console_output(&i.id).await.expect("console output");
    assert!(console.is_some_and(|t| !t.is_empty()));
}

/// Without keys given, on an instance: its role's credentials from the metadata service
/// (IMDSv2, a session token first), read once and reused; off EC2, the error says what to set.
#[tokio::test]
async fn an_instance_role_signs_when_no_keys_are_given() {
    let Some(m) = moto().await else { return };
    let role = podwarden_test_utils::aws::imds("podwarden-server", "ASIAROLEKEY0001").await;
    let c = Client::builder()
        .region("us-east-1")
        .endpoint_url(&m.url)
        .instance_role(&role.url)
        .build()
        .expect("a client without keys");
    assert_eq!(c.caller_identity().await.expect("signed with the role's").account, "123456789012");
    c.caller_identity().await.expect("again");
    assert_eq!(role.reads.load(std::sync::atomic::Ordering::SeqCst), 1, "read once, reused");
    // No metadata service there (a laptop): the first call says what to do.
    let off = Client::builder()
        .region("us-east-1")
        .endpoint_url(&m.url)
        .instance_role("http://127.0.0.1:9")
        .build()
        .expect("built; the role is read at the first call");
    let e = off.caller_identity().await.expect_err("no credentials");
    assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");
}

#[tokio::test]
async fn a_missing_parameter_is_not_found() {
    let Some(m) = moto().await else { return };
    let err = client(&m)
        .ssm_parameter("/aws/service/deeplearning/ami/x86_64/nonesuch/latest/ami-id")
        .await
        .expect_err("no such parameter");
    assert!(err.is_not_found(), "{err}");
    // moto publishes Amazon Linux's current AMI the way AWS does.
    let ami = client(&m)
        .ssm_parameter("/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2")
        .await
        .expect("a public parameter");
    assert!(ami.starts_with("ami-"), "{ami}");
}

#[test]
fn credentials_never_print_their_secret() {
    let mut c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    c.session_token = Some("FwoGZXIvYXdzEXAMPLETOKEN".to_owned().into());
    let shown = format!("{c:?}");
    assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
    assert!(!shown.contains("wJalr") && !shown.contains("FwoG"), "{shown}");
    let client = Client::builder().region("us-east-1").credentials(c).build().expect("client");
    let shown = format!("{client:?}");
    assert!(!shown.contains("wJalr") && !shown.contains("FwoG"), "{shown}");
}

#[test]
fn endpoints_follow_the_sdks_convention() {
    let c = Client::builder()
        .region("eu-west-1")
        .credentials(Credentials::new("a", "b"))
        .build()
        .expect("client");
    assert_eq!(c.endpoint(aws::Service::Ec2).as_str(), "https://ec2.eu-west-1.amazonaws.com/");
    let c = Client::builder()
        .region("eu-west-1")
        .credentials(Credentials::new("a", "b"))
        .endpoint_url("http://127.0.0.1:5000")
        .service_endpoint_url(aws::Service::Ssm, "http://127.0.0.1:6000")
        .build()
        .expect("client");
    assert_eq!(c.endpoint(aws::Service::Sts).as_str(), "http://127.0.0.1:5000/");
    assert_eq!(c.endpoint(aws::Service::Ssm).as_str(), "http://127.0.0.1:6000/");
    let no_region = Client::builder().credentials(Credentials::new("a", "b")).build();
    assert!(no_region.expect_err("no region").to_string().contains("AWS_REGION"));
}
