//! `podwarden volume` and `podwarden cp` as a user runs them, on the embedded emulator: a
//! volume is created on the account, a file goes up over RunPod's S3 API (multipart), a pod job
//! reads it at its mount, the file comes back (resuming a partial download), and the volume is
//! removed.

use crate::common;

use common::{Server, podwarden};

fn ok(out: &std::process::Output) -> String {
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}\nstdout:\n{o}\nstderr:\n{e}", out.status.code());
    o.into_owned()
}

#[test]
fn a_file_goes_to_a_volume_a_pod_reads_it_and_it_comes_back() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let id = ok(&podwarden(
        home.path(),
        &["volume", "create", "data", "--size-gb", "10", "--data-center", "EU-RO-1"],
    ))
    .trim()
    .to_owned();
    assert!(!id.is_empty(), "prints the volume id");
    let ls: serde_json::Value =
        serde_json::from_str(&ok(&podwarden(home.path(), &["volume", "ls", "--json"])))
            .expect("json");
    let names = |ls: &serde_json::Value| {
        ls.as_array()
            .expect("list")
            .iter()
            .map(|v| v["name"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    // The embedded emulator's quickstart volume is the admin's too.
    assert_eq!(names(&ls), ["podwarden-quickstart", "data"]);
    let data = &ls[1];
    assert_eq!(
        (data["data_center"].as_str(), data["state"].as_str()),
        (Some("EU-RO-1"), Some("ready"))
    );
    assert!((data["monthly_usd"].as_f64().unwrap_or_default() - 0.7).abs() < 1e-9, "{ls}");

    // 40 MB: more than one part.
    let local = home.path().join("big.bin");
    let bytes: Vec<u8> = (0..40 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&local, &bytes).expect("write");
    let small = home.path().join("hello.txt");
    std::fs::write(&small, "hello from the laptop\n").expect("write");
    // An upload interrupted after 2 of its 5 parts resumes with the other 3.
    let interrupted = std::process::Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(["cp", local.to_str().unwrap_or_default(), "vol:data/in/"])
        .env("PODWARDEN_HOME", home.path())
        .env("PODWARDEN_CP_STOP_AFTER_PARTS", "2")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .output()
        .expect("cp");
    assert!(!interrupted.status.success(), "{}", String::from_utf8_lossy(&interrupted.stderr));
    assert!(home.path().join("big.bin.podwarden-upload").exists(), "the upload's progress is kept");
    let resumed =
        podwarden(home.path(), &["cp", local.to_str().unwrap_or_default(), "vol:data/in/"]);
    ok(&resumed);
    assert!(
        String::from_utf8_lossy(&resumed.stderr)
            .contains("resuming the upload of in/big.bin after 2 of 5 parts"),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(!home.path().join("big.bin.podwarden-upload").exists());
    ok(&podwarden(
        home.path(),
        &["cp", small.to_str().unwrap_or_default(), "vol:data/in/hello.txt"],
    ));

    // A pod job with the volume at /workspace reads what was uploaded.
    let spec = home.path().join("read.toml");
    std::fs::write(
        &spec,
        format!("name = \"read\"\nimage = \"python:3.11-slim\"\nnetwork_volume = \"{id}\"\ncommand = \"cat /workspace/in/hello.txt && wc -c < /workspace/in/big.bin\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nbudget_usd = 1\n"),
    )
    .expect("spec");
    let run = ok(&podwarden(home.path(), &["run", spec.to_str().unwrap_or_default(), "--follow"]));
    assert!(run.contains("hello from the laptop"), "{run}");
    assert!(run.contains(&bytes.len().to_string()), "{run}");

    // Download, resuming from a partial file a previous run left.
    let back = home.path().join("back.bin");
    // (Marked bytes: a resume keeps what is there and fetches only the rest.)
    let head = 5 * 1024 * 1024;
    std::fs::write(home.path().join("back.bin.part"), vec![0xAAu8; head]).expect("partial");
    ok(&podwarden(home.path(), &["cp", "vol:data/in/big.bin", back.to_str().unwrap_or_default()]));
    let got = std::fs::read(&back).expect("read");
    assert_eq!(got.len(), bytes.len());
    assert!(
        got[..head].iter().all(|b| *b == 0xAA),
        "the partial file's bytes were kept, not fetched again"
    );
    assert!(got[head..] == bytes[head..], "the rest byte for byte");
    assert!(!home.path().join("back.bin.part").exists());
    ok(&podwarden(home.path(), &["cp", "vol:data/in/big.bin", back.to_str().unwrap_or_default()]));
    assert!(std::fs::read(&back).expect("read") == bytes, "a fresh download is byte for byte");

    let missing = podwarden(
        home.path(),
        &["cp", "vol:data/nope.txt", home.path().join("x").to_str().unwrap_or_default()],
    );
    assert!(
        !missing.status.success()
            && String::from_utf8_lossy(&missing.stderr).contains("not on the volume")
    );
    let taken = podwarden(home.path(), &["volume", "create", "data", "--data-center", "EU-RO-1"]);
    assert!(!taken.status.success(), "a second volume of that name is refused");

    // Every storage operation is in the audit log: who, what, bytes, result.
    let audit: serde_json::Value = serde_json::from_str(&ok(&podwarden(
        home.path(),
        &["volume", "audit", "--json", "--limit", "100"],
    )))
    .expect("json");
    let ops: Vec<(String, String, i64)> = audit
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["op"].as_str().unwrap_or_default().to_owned(),
                e["result"].as_str().unwrap_or_default().to_owned(),
                e["bytes"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert!(ops.iter().any(|(op, r, _)| op == "volume_create" && r == "ok"), "{ops:?}");
    // `cp` moves bytes over S3 itself: its entries say they are its report.
    assert!(
        ops.iter().any(|(op, r, b)| op == "upload (reported by cp)"
            && r == "ok"
            && *b == bytes.len() as i64),
        "{ops:?}"
    );
    assert!(
        ops.iter().any(|(op, r, _)| op == "download (reported by cp)"
            && r.starts_with("failed: ")
            && r.contains("not on the volume")),
        "a failed transfer is recorded too: {ops:?}"
    );
    assert!(audit.as_array().expect("entries").iter().all(|e| e["user"] == "local"));
    ok(&podwarden(home.path(), &["volume", "rm", "data"]));
    let ls: serde_json::Value =
        serde_json::from_str(&ok(&podwarden(home.path(), &["volume", "ls", "--json"])))
            .expect("json");
    assert_eq!(names(&ls), ["podwarden-quickstart"]);
}

/// `[[inputs]]` go to the job's volume before it runs (and only when changed); `[[outputs]]`
/// must exist for the job to succeed and are fetched to `to`; a missing one fails the job with
/// a reason that says so.
#[test]
fn a_job_declares_its_inputs_and_outputs() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    ok(&podwarden(home.path(), &["volume", "create", "work", "--data-center", "EU-RO-1"]));
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("data.csv"), "a,b\n1,2\n3,4\n").expect("csv");
    let spec = |name: &str, output: &str| {
        format!(
            r#"name = "{name}"
image = "python:3.11-slim"
network_volume = "work"
command = '''python3 -c "import os; os.makedirs('/workspace/out', exist_ok=True); open('/workspace/out/rows.txt','w').write(str(len(open('/workspace/in/data.csv').read().splitlines())))"'''
[gpu]
min_vram_gb = 16
[limits]
budget_usd = 1
[[inputs]]
source = "data.csv"
path = "in/data.csv"
[[outputs]]
path = "{output}"
to = "results"
"#
        )
    };
    std::fs::write(dir.join("io.toml"), spec("io", "out/rows.txt")).expect("spec");
    let first = podwarden(
        home.path(),
        &["run", dir.join("io.toml").to_str().unwrap_or_default(), "--follow"],
    );
    ok(&first);
    assert_eq!(
        std::fs::read_to_string(dir.join("results").join("rows.txt")).expect("fetched"),
        "3"
    );
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("input"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let again = podwarden(
        home.path(),
        &["run", dir.join("io.toml").to_str().unwrap_or_default(), "--follow"],
    );
    ok(&again);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("unchanged"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    std::fs::write(dir.join("missing.toml"), spec("missing", "out/model.json")).expect("spec");
    let failed = podwarden(
        home.path(),
        &["run", dir.join("missing.toml").to_str().unwrap_or_default(), "--follow"],
    );
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{err}");
    assert!(err.contains("declared output was not written"), "{err}");
    assert!(String::from_utf8_lossy(&failed.stdout).contains("out/model.json"), "the logs name it");
}

/// A hosted user who is not an admin gets no S3 key (RunPod's key opens every volume on the
/// account): their `cp` goes through the server, which checks the volume is theirs, streams the
/// bytes in parts, resumes downloads, and writes the audit log itself.
#[test]
fn a_hosted_user_copies_through_the_server() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let _server = Server(h);
    ok(&podwarden(h, &["volume", "ls"]));
    let server: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.join("server.json")).expect("server.json"))
            .expect("json");
    let url = server["url"].as_str().expect("url").to_owned();
    let admin = std::fs::read_to_string(h.join("token")).expect("token").trim().to_owned();
    let curl = |token: &str, args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "Content-Type: application/json",
            ])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let made: serde_json::Value = serde_json::from_str(&curl(
        &admin,
        &["-X", "POST", "-d", r#"{"name":"ana"}"#, &format!("{url}/api/v1/users")],
    ))
    .expect("user");
    let ana = made["token"].as_str().expect("ana's token").to_owned();
    let as_ana = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_podwarden"))
            .args(args)
            .current_dir(h)
            .env("PODWARDEN_HOME", h.join("ana-home"))
            .env("PODWARDEN_URL", &url)
            .env("PODWARDEN_TOKEN", &ana)
            .env("NO_COLOR", "1")
            .env_remove("RUNPOD_API_KEY")
            .env_remove("RUNPOD_S3_ACCESS_KEY_ID")
            .env_remove("RUNPOD_S3_SECRET_ACCESS_KEY")
            .output()
            .expect("podwarden")
    };
    ok(&as_ana(&["volume", "create", "mine", "--data-center", "EU-RO-1"]));
    let s3: serde_json::Value =
        serde_json::from_str(&curl(&ana, &[&format!("{url}/api/v1/volumes/mine/s3")])).expect("s3");
    assert!(
        s3["bucket"].is_string() && s3["access_key_id"].is_null(),
        "no key for a non-admin: {s3}"
    );

    // 20 MB: more than one part on the server's side.
    let bytes: Vec<u8> = (0..20 * 1024 * 1024).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(h.join("big.bin"), &bytes).expect("write");
    ok(&as_ana(&["cp", "big.bin", "vol:mine/in/"]));
    let spec = h.join("read.toml");
    std::fs::write(
        &spec,
        "name = \"read\"\nimage = \"python:3.11-slim\"\nnetwork_volume = \"mine\"\ncommand = \"wc -c < /workspace/in/big.bin\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nbudget_usd = 1\n",
    )
    .expect("spec");
    let run = ok(&as_ana(&["run", spec.to_str().unwrap_or_default(), "--follow"]));
    assert!(
        run.contains(&bytes.len().to_string()),
        "the pod sees what went through the server: {run}"
    );

    // Down again, resuming a partial file.
    let head = 3 * 1024 * 1024 + 17;
    std::fs::write(h.join("back.bin.part"), &bytes[..head]).expect("partial");
    ok(&as_ana(&["cp", "vol:mine/in/big.bin", "back.bin"]));
    assert!(std::fs::read(h.join("back.bin")).expect("back") == bytes, "byte for byte");
    let missing = as_ana(&["cp", "vol:mine/nope.bin", "x.bin"]);
    assert!(
        !missing.status.success()
            && String::from_utf8_lossy(&missing.stderr).contains("not on the volume"),
        "{missing:?}"
    );
    // Another user's volume is not there for her, and `..` is refused.
    let theirs = as_ana(&["cp", "big.bin", "vol:podwarden-quickstart/x.bin"]);
    assert!(String::from_utf8_lossy(&theirs.stderr).contains("no volume named"), "{theirs:?}");
    let sneaky = curl(
        &ana,
        &[
            "-X",
            "PUT",
            "--data-binary",
            "x",
            &format!("{url}/api/v1/volumes/mine/files/a/%2E%2E/%2E%2E/etc"),
        ],
    );
    assert!(sneaky.contains("bad_path"), "{sneaky}");

    // The server recorded what moved through it, with the bytes it saw.
    let audit: serde_json::Value =
        serde_json::from_str(&curl(&ana, &[&format!("{url}/api/v1/audit?limit=100")]))
            .expect("audit");
    let entries = audit.as_array().expect("entries");
    let has = |op: &str, bytes: i64| {
        entries.iter().any(|e| {
            e["op"] == op && e["result"] == "ok" && e["bytes"] == bytes && e["path"] == "in/big.bin"
        })
    };
    assert!(has("upload", bytes.len() as i64), "{audit}");
    assert!(has("download", (bytes.len() - head) as i64), "only the rest was sent: {audit}");
    // Refusals are recorded too (the traversal attempt above).
    assert!(
        entries.iter().any(|e| e["op"] == "upload"
            && e["result"].as_str().is_some_and(|r| r.starts_with("refused: "))
            && e["path"].as_str().is_some_and(|p| p.contains(".."))),
        "{audit}"
    );
}

/// RunPod serves S3 only in some data centers (`storage/s3-api.mdx`); US-TX-3 is not one. A
/// volume there is created with a warning, and `cp` refuses at once, naming where S3 is.
#[test]
fn a_volume_without_runpods_s3_api_is_warned_about_and_cp_refuses_early() {
    let home = tempfile::tempdir().expect("home");
    let _server = Server(home.path());
    let made = podwarden(home.path(), &["volume", "create", "tx", "--data-center", "US-TX-3"]);
    let err = String::from_utf8_lossy(&made.stderr);
    assert!(made.status.success(), "{err}");
    assert!(err.contains("warning: US-TX-3 has no S3 API on RunPod"), "{err}");
    let ls: serde_json::Value =
        serde_json::from_str(&ok(&podwarden(home.path(), &["volume", "ls", "--json"])))
            .expect("json");
    let s3: Vec<(String, bool)> = ls
        .as_array()
        .expect("list")
        .iter()
        .map(|v| (v["name"].as_str().unwrap_or_default().into(), v["s3_api"] == true))
        .collect();
    assert_eq!(s3, [("podwarden-quickstart".into(), true), ("tx".into(), false)]);

    let local = home.path().join("a.csv");
    std::fs::write(&local, "a,b\n").expect("write");
    let cp = podwarden(home.path(), &["cp", local.to_str().unwrap_or_default(), "vol:tx/in/"]);
    let err = String::from_utf8_lossy(&cp.stderr);
    assert_eq!(cp.status.code(), Some(1), "{err}");
    assert!(err.contains("is in US-TX-3, where RunPod has no S3 API"), "{err}");
    assert!(err.contains("EU-RO-1"), "names a data center that has one: {err}");
}
