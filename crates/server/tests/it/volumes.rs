//! Network volumes on the embedded emulator across restarts, and their files through the
//! server: a volume made on one run, and the files on it, are there on the next (RunPod keeps a
//! volume until it is deleted).

use podwarden_test_utils::server as common;

use common::{new_user, server};

#[tokio::test]
async fn a_volume_and_its_files_survive_a_restart_of_the_server() {
    let home = tempfile::tempdir().expect("home");
    let http = reqwest::Client::new();
    let s = server(home.path()).await;
    let ana = new_user(&http, &s.url, &s.token, "ana").await.token;
    let r = http
        .post(format!("{}/api/v1/volumes", s.url))
        .bearer_auth(&ana)
        .json(&serde_json::json!({"name": "keep", "size_gb": 10, "data_center": "EU-RO-1"}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    let file = format!("{}/api/v1/volumes/keep/files/notes/a.txt", s.url);
    let r =
        http.put(&file).bearer_auth(&ana).body("kept across restarts\n").send().await.expect("put");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    let url = s.url.clone();
    s.shutdown().await;

    let s = server(home.path()).await;
    let file = file.replace(&url, &s.url);
    let vols: serde_json::Value =
        common::get_json(&http, &format!("{}/api/v1/volumes", s.url), &ana).await;
    assert_eq!(vols.as_array().map(|v| v.len()), Some(1), "{vols}");
    assert_eq!(
        (vols[0]["name"].as_str(), vols[0]["state"].as_str()),
        (Some("keep"), Some("ready")),
        "{vols}"
    );
    let r = http.get(&file).bearer_auth(&ana).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.expect("body"), "kept across restarts\n");
    // Resuming: the rest from an offset, with its place in the whole.
    let r =
        http.get(&file).bearer_auth(&ana).header("Range", "bytes=5-").send().await.expect("range");
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers().get("content-range").and_then(|v| v.to_str().ok()),
        Some("bytes 5-20/21")
    );
    assert_eq!(r.text().await.expect("body"), "across restarts\n");
    let r = http
        .get(&file)
        .bearer_auth(&ana)
        .header("Range", "bytes=21-")
        .send()
        .await
        .expect("past the end");
    assert_eq!(r.status().as_u16(), 416);
    assert_eq!(r.headers().get("content-range").and_then(|v| v.to_str().ok()), Some("bytes */21"));
    // The admin's quickstart volume was not handed to ana on the second start either.
    let admin_vols: serde_json::Value =
        common::get_json(&http, &format!("{}/api/v1/volumes", s.url), &s.token).await;
    assert!(
        admin_vols.as_array().is_some_and(|v| v.iter().all(|v| v["name"] != "keep")),
        "{admin_vols}"
    );
    s.shutdown().await;
}

/// Hosted users share the operator's RunPod account, so a volume's RunPod id is no secret
/// boundary: a job or endpoint may name a volume by its name or by the id of one of the caller's
/// own volumes, never another user's (an admin may name any); a registry credential or a secret
/// of the operator's account is the admin's alone (issue 25).
#[tokio::test]
async fn a_users_volume_cannot_be_mounted_by_another_by_its_raw_id() {
    let home = tempfile::tempdir().expect("home");
    let http = reqwest::Client::new();
    let s = server(home.path()).await;
    let ana = new_user(&http, &s.url, &s.token, "ana").await.token;
    let bob = new_user(&http, &s.url, &s.token, "bob").await.token;
    let v = create_volume(&http, &s.url, &ana, "private").await;
    let raw = v["volume_id"].as_str().expect("the volume's RunPod id").to_owned();
    let job = |token: &str, volume: &str, auth: Option<&str>| {
        let mut spec = serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "ls /workspace",
            "gpu": {"min_vram_gb": 16}, "network_volume": volume});
        if let Some(a) = auth {
            spec["registry_auth"] = a.into();
        }
        http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(token).json(&spec).send()
    };
    let r = job(&bob, &raw, None).await.expect("post");
    assert_eq!(r.status().as_u16(), 404, "bob mounts ana's volume by its id");
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("among yours")), "{body}");
    let r = http
        .post(format!("{}/api/v1/endpoints", s.url))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"name": "ep", "image": "python:3.11-slim", "command": "x", "network_volume": raw}))
        .send()
        .await
        .expect("deploy");
    assert_eq!(r.status().as_u16(), 404, "nor an endpoint of his");
    for (who, token) in [("ana, by name", &ana), ("ana, by id", &ana), ("the admin", &s.token)] {
        let volume = if who.ends_with("name") { "private" } else { raw.as_str() };
        let r = job(token, volume, None).await.expect("post");
        assert_eq!(r.status().as_u16(), 201, "{who}: {}", r.text().await.unwrap_or_default());
    }
    let r = job(&bob, "never-heard-of-it", Some("cred123")).await.expect("post");
    assert_eq!(r.status().as_u16(), 403, "the operator's registry credentials are the admin's");
    // Nor its secrets, which RunPod would put into bob's pod at boot (job tokens included).
    for reference in ["{{ RUNPOD_SECRET_my_hf_token }}", "x{{runpod_secret_pw-abc-tok-1}}"] {
        let r = http
            .post(format!("{}/api/v1/jobs", s.url))
            .bearer_auth(&bob)
            .json(&serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "env",
                "gpu": {"min_vram_gb": 16}, "env": {"T": reference}}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 403, "{reference}");
    }
    s.shutdown().await;
}

/// A file's name is the same through the API and on the volume (what a pod sees): `é`, `%` and
/// spaces are not percent-encoded into the object's name, and a file a pod wrote is served.
#[tokio::test]
async fn file_names_round_trip_between_the_api_and_the_volume() {
    let home = tempfile::tempdir().expect("home");
    let http = reqwest::Client::new();
    let s = server(home.path()).await;
    let ana = new_user(&http, &s.url, &s.token, "ana").await.token;
    let v = create_volume(&http, &s.url, &ana, "names").await;
    let id = v["volume_id"].as_str().expect("id").to_owned();
    let files = |name: &str| {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        format!("{}/api/v1/volumes/names/files/{}", s.url, encoded.replace('+', "%20"))
    };
    for name in ["café.txt", "50%.txt", "a b.txt"] {
        let r = http
            .put(files(name))
            .bearer_auth(&ana)
            .body(name.to_owned())
            .send()
            .await
            .expect("put");
        assert_eq!(r.status().as_u16(), 201, "{name}: {}", r.text().await.unwrap_or_default());
    }
    // Where the embedded emulator keeps the volume (what a pod mounts).
    let dir = walk_for(home.path(), &id).expect("the volume's directory");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("volume")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, ["50%.txt", "a b.txt", "café.txt"]);
    std::fs::write(dir.join("été.txt"), "from a pod").expect("a pod's file");
    let r = http.get(files("été.txt")).bearer_auth(&ana).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.expect("body"), "from a pod");
    // A HEAD is audited like a read, and so is a refused request (another user's volume).
    let r = http.head(files("café.txt")).bearer_auth(&ana).send().await.expect("head");
    assert_eq!(r.status().as_u16(), 200);
    let bob = new_user(&http, &s.url, &s.token, "bob").await.token;
    let r = http.get(files("café.txt")).bearer_auth(&bob).send().await.expect("bob");
    assert_eq!(r.status().as_u16(), 404);
    let audit_of = |token: String| {
        let (http, url) = (http.clone(), s.url.clone());
        async move {
            common::get_json::<serde_json::Value>(
                &http,
                &format!("{url}/api/v1/audit?limit=100"),
                &token,
            )
            .await
        }
    };
    let has = |audit: &serde_json::Value, op: &str, result: &str| {
        audit.as_array().expect("entries").iter().any(|e| {
            e["op"] == op
                && e["path"] == "café.txt"
                && e["result"].as_str().is_some_and(|r| r.starts_with(result))
        })
    };
    let (theirs, his) = (audit_of(ana.clone()).await, audit_of(bob.clone()).await);
    assert!(has(&theirs, "head", "ok"), "{theirs}");
    assert!(has(&his, "download", "refused: "), "{his}");
    s.shutdown().await;
}

/// A 10 GB volume `name` in EU-RO-1 of the token's user, as the API answers it.
async fn create_volume(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
) -> serde_json::Value {
    http.post(format!("{url}/api/v1/volumes"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name, "size_gb": 10, "data_center": "EU-RO-1"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json")
}

/// The directory named `id` somewhere under `root`.
fn walk_for(root: &std::path::Path, id: &str) -> Option<std::path::PathBuf> {
    let mut queue = vec![root.to_path_buf()];
    while let Some(d) = queue.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                if e.file_name() == id && p.parent().is_some_and(|q| q.ends_with("volumes")) {
                    return Some(p);
                }
                queue.push(p);
            }
        }
    }
    None
}

/// The README's order mistake (an endpoint deployed before its volume exists) is told as a
/// podwarden object missing and the command that makes it, not as RunPod refusing a field.
#[tokio::test]
async fn work_naming_a_volume_that_does_not_exist_says_how_to_make_it() {
    let home = tempfile::tempdir().expect("home");
    let http = reqwest::Client::new();
    let s = server(home.path()).await;
    for (route, body) in [
        (
            "endpoints",
            serde_json::json!({"name": "predict", "image": "acme/predict:1", "network_volume": "houses",
                "gpu": {"pools": ["AMPERE_24"]}}),
        ),
        (
            "jobs",
            serde_json::json!({"name": "train", "image": "acme/train:1", "command": "true",
                "network_volume": "houses", "gpu": {"min_vram_gb": 16}}),
        ),
    ] {
        let r = http
            .post(format!("{}/api/v1/{route}", s.url))
            .bearer_auth(&s.token)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 404, "{route}");
        let e: serde_json::Value = r.json().await.expect("json");
        assert_eq!(e["code"], "no_such_volume", "{e}");
        assert!(
            e["hint"].as_str().is_some_and(|h| h.contains("podwarden volume create houses")),
            "{e}"
        );
    }
    s.shutdown().await;
}
