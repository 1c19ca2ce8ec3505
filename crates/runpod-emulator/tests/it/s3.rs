//! RunPod's S3 API for network volumes: bucket = volume id, one endpoint per data center,
//! SigV4 with the account's S3 key (not its API key); the same files pods see at their mounts.

use podwarden_test_utils::emulator as common;

use common::*;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use runpod::types::network_volumes::{CreateNetworkVolumeRequest, S3_API_DATA_CENTERS};
use runpod::types::pods::{Mounts, NetworkMount};
use std::time::Duration;

fn store(url: &str, region: &str, bucket: &str, key: &str, secret: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(url)
        .with_region(region)
        .with_bucket_name(bucket)
        .with_access_key_id(key)
        .with_secret_access_key(secret)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .expect("client")
}

async fn volume_in(c: &runpod::Client, dc: &str) -> String {
    c.create_network_volume(&CreateNetworkVolumeRequest {
        name: "data".into(),
        size: 10,
        data_center: dc.into(),
        kind: None,
    })
    .await
    .expect("volume")
    .id
    .0
}

/// A new volume in EU-RO-1 and an S3 client on it with the main account's S3 key.
async fn volume_over_s3(
    emu: &runpod_emulator::RunningEmulator,
    c: &runpod::Client,
) -> (String, AmazonS3) {
    let vol = volume_in(c, "EU-RO-1").await;
    let (key, secret) = emu.s3_credentials(emu.api_key().expose()).expect("s3 key");
    let s3 = store(emu.s3_url("EU-RO-1").expect("endpoint"), "EU-RO-1", &vol, &key, &secret);
    (vol, s3)
}

#[tokio::test]
async fn a_volume_is_a_bucket_pods_and_s3_see_the_same_files() {
    let mut cfg = config();
    cfg.accounts =
        vec![runpod_emulator::config::AccountSeed::new("rpa_OTHERS3ACCOUNT00000000000000000000")];
    // A second data center with the S3 API (RunPod's docs list it), for the refusals below.
    cfg.data_centers.push(runpod_emulator::config::DataCenterConfig::new(
        "US-KS-2",
        "Kansas 2",
        "NORTH_AMERICA",
    ));
    let emu = emu_with(cfg).await;
    // As on RunPod, only the data centers its docs list serve S3: US-TX-3 has none.
    assert_eq!(emu.s3_url("US-TX-3"), None);
    assert!(emu.s3_urls().keys().all(|dc| S3_API_DATA_CENTERS.contains(&dc.as_str())));
    let c = emu.client();
    let vol = volume_in(&c, "EU-RO-1").await;
    let (key, secret) = emu.s3_credentials(emu.api_key().expose()).expect("s3 key");
    assert!(
        key.starts_with("user_") && secret.starts_with("rps_"),
        "access key = user id, secret = rps_…"
    );
    let tx = emu.s3_url("EU-RO-1").expect("endpoint");
    let s3 = store(tx, "EU-RO-1", &vol, &key, &secret);

    // Upload over S3, read it in a pod at the mount path, and the pod's output over S3.
    s3.put(&Path::from("in/data.csv"), PutPayload::from_static(b"a,b\n1,2\n")).await.expect("put");
    let mut p = runpod::types::pods::CreatePodRequest {
        name: "reader".into(),
        image: Some("python:3.11-slim".into()),
        args: Some(
            "python3 -c \"open('/workspace/out/rows.txt','w').write(str(len(open('/workspace/in/data.csv').read().splitlines())))\"".into(),
        ),
        gpu: Some(runpod::types::pods::CreateGpuConfig {
            id: "NVIDIA RTX A4000".into(),
            count: Some(1),
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..Default::default()
    };
    std::fs::create_dir_all(emu.shared.world.lock().volume_dir(&vol).join("out")).expect("out dir");
    p.mounts = Some(Mounts {
        persistent: None,
        network: Some(vec![NetworkMount {
            volume_id: vol.clone().into(),
            path: "/workspace".into(),
        }]),
    });
    let pod = c.create_pod(&p).await.expect("pod");
    emu.advance(Duration::from_secs(60));
    emu.wait_for("the pod's container to exit", LIMIT, |w| {
        w.pods.get(pod.id.as_str()).filter(|p| p.container.last_exit_code.is_some()).map(|_| ())
    })
    .await
    .expect("exit");
    let rows =
        s3.get(&Path::from("out/rows.txt")).await.expect("get").bytes().await.expect("bytes");
    assert_eq!(&rows[..], b"2", "the pod's file, over S3");
    let listed: Vec<String> = {
        use futures::TryStreamExt;
        s3.list(None).map_ok(|m| m.location.to_string()).try_collect().await.expect("list")
    };
    assert!(
        listed.contains(&"in/data.csv".to_owned()) && listed.contains(&"out/rows.txt".to_owned()),
        "{listed:?}"
    );
    assert!(
        listed.iter().all(|k| !k.starts_with('.')),
        "no bookkeeping files on the volume: {listed:?}"
    );

    // Multipart: parts assembled into one file on the volume.
    let big = vec![7u8; 12 * 1024 * 1024];
    let mut up = object_store::WriteMultipart::new(
        s3.put_multipart(&Path::from("big.bin")).await.expect("multipart"),
    );
    up.write(&big);
    up.finish().await.expect("complete");
    assert_eq!(
        std::fs::read(emu.shared.world.lock().volume_dir(&vol).join("big.bin"))
            .expect("on the volume")
            .len(),
        big.len()
    );

    // Refusals: the wrong region, another data center's endpoint, a bad secret, the API key as a
    // secret, another account's volume.
    let wrong_region = store(tx, "US-KS-2", &vol, &key, &secret);
    assert!(
        wrong_region.head(&Path::from("in/data.csv")).await.is_err(),
        "region must be the data center"
    );
    let ro = emu.s3_url("US-KS-2").expect("endpoint");
    assert!(
        store(ro, "US-KS-2", &vol, &key, &secret).head(&Path::from("in/data.csv")).await.is_err(),
        "the volume lives in EU-RO-1"
    );
    assert!(
        store(tx, "EU-RO-1", &vol, &key, "rps_WRONG")
            .head(&Path::from("in/data.csv"))
            .await
            .is_err()
    );
    assert!(
        store(tx, "EU-RO-1", &vol, &key, emu.api_key().expose())
            .head(&Path::from("in/data.csv"))
            .await
            .is_err(),
        "S3 keys are not API keys"
    );
    let (okey, osecret) =
        emu.s3_credentials("rpa_OTHERS3ACCOUNT00000000000000000000").expect("other");
    assert!(
        store(tx, "EU-RO-1", &vol, &okey, &osecret).head(&Path::from("in/data.csv")).await.is_err(),
        "another account's volume"
    );
}

/// A pod can leave a symbolic link on its volume pointing anywhere; the emulator (which, unlike
/// the pod, is not sandboxed) must not follow it for an S3 client, reading or writing.
#[tokio::test]
async fn s3_never_follows_a_symlink_off_the_volume() {
    let emu = emu().await;
    let c = emu.client();
    let (vol, s3) = volume_over_s3(&emu, &c).await;
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("secret.txt"), "host secret").expect("secret");
    let dir = emu.shared.world.lock().volume_dir(&vol);
    std::fs::create_dir_all(&dir).expect("volume dir");
    std::os::unix::fs::symlink(outside.path(), dir.join("escape"))
        .expect("symlink, as a pod could make");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.join("secret-link"))
        .expect("file symlink");

    assert!(
        s3.get(&Path::from("escape/secret.txt")).await.is_err(),
        "no read through a directory link"
    );
    assert!(s3.get(&Path::from("secret-link")).await.is_err(), "no read through a file link");
    assert!(s3.head(&Path::from("escape/secret.txt")).await.is_err());
    assert!(
        s3.put(&Path::from("escape/planted.txt"), PutPayload::from_static(b"x")).await.is_err(),
        "no write through a link"
    );
    assert!(!outside.path().join("planted.txt").exists());
    s3.put(&Path::from("fine.txt"), PutPayload::from_static(b"ok"))
        .await
        .expect("an ordinary key works");
    // The volume is its owner's alone on the host: 0700, and the files S3 writes 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the volume's directory");
    assert_eq!(mode(&dir.join("fine.txt")), 0o600, "a file written over S3");
}

/// A pod swapping a directory and a symbolic link to outside the volume, again and again, while
/// S3 reads and writes through that path: no request ever reaches the outside (the emulator
/// resolves every path beneath the volume in the kernel, so there is no check-then-use window).
#[tokio::test]
async fn s3_wins_no_race_against_a_pod_swapping_a_directory_for_a_symlink() {
    let emu = emu().await;
    let c = emu.client();
    let (vol, s3) = volume_over_s3(&emu, &c).await;
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("x"), "host secret").expect("secret");
    let dir = emu.shared.world.lock().volume_dir(&vol);
    std::fs::create_dir_all(&dir).expect("volume dir");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The "pod": `swap` is a directory with an `x` of its own or a link out, exchanged
    // atomically (`renameat2(RENAME_EXCHANGE)`), as fast as it can.
    let swapper = {
        let (stop, dir, out) = (stop.clone(), dir.clone(), outside.path().to_path_buf());
        std::thread::spawn(move || {
            use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
            let (swap, link) = (dir.join("swap"), dir.join("link"));
            std::fs::create_dir_all(&swap).expect("swap");
            std::fs::write(swap.join("x"), "volume file").expect("x");
            std::os::unix::fs::symlink(&out, &link).expect("link");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                renameat2(AT_FDCWD, &swap, AT_FDCWD, &link, RenameFlags::RENAME_EXCHANGE)
                    .expect("exchange");
            }
        })
    };
    for i in 0..300 {
        if let Ok(got) = s3.get(&Path::from("swap/x")).await {
            let body = got.bytes().await.unwrap_or_default();
            assert_ne!(&body[..], b"host secret", "read a host file through the swapped link");
        }
        let _ =
            s3.put(&Path::from(format!("swap/planted{i}")), PutPayload::from_static(b"x")).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().expect("swapper");
    let planted: Vec<_> = std::fs::read_dir(outside.path())
        .expect("outside")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("planted"))
        .collect();
    assert!(planted.is_empty(), "wrote {planted:?} outside the volume");
}

/// A network volume has a fixed size: a write over S3 that would pass it is refused and leaves
/// nothing; replacing a file counts only the new one (here 1000 bytes a GB: a 10 GB volume
/// holds 10,000 bytes).
#[tokio::test]
async fn a_volume_is_full_at_its_size() {
    let mut cfg = config();
    cfg.volume_bytes_per_gb = 1000;
    let emu = emu_with(cfg).await;
    let c = emu.client();
    let (vol, s3) = volume_over_s3(&emu, &c).await;
    let put = |name: &'static str, n: usize| {
        let s3 = s3.clone();
        async move { s3.put(&Path::from(name), PutPayload::from(vec![1u8; n])).await }
    };
    put("a.bin", 6_000).await.expect("fits");
    put("a.bin", 9_000).await.expect("a replacement counts only itself");
    assert!(put("b.bin", 2_000).await.is_err(), "9,000 + 2,000 is past 10,000");
    let dir = emu.shared.world.lock().volume_dir(&vol);
    let left: Vec<String> = std::fs::read_dir(&dir)
        .expect("volume")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["a.bin"], "nothing of the refused write is left");
    put("b.bin", 1_000).await.expect("what is left fits");
}
