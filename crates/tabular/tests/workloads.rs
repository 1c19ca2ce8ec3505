//! The tabular workloads end to end on a local store: every model kind trains and scores,
//! predictions land as a new column, and each kind of bad input gets an error that names it.

use podwarden_tabular::TabularError;
use podwarden_tabular::model::ModelKind;
use podwarden_tabular::predict::{PredictSpec, predict};
use podwarden_tabular::storage::Storage;
use podwarden_tabular::train::{Metadata, TrainSpec, train};
use std::process::Command;

/// y = 3a − 2b + small noise; `class` is whether a + b > 1 (separable).
fn synthetic(n: usize) -> String {
    let mut s = String::from("a,b,noise,y,class\n");
    let mut x: u64 = 12345;
    let mut r = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..n {
        let (a, b, e) = (r(), r(), r() - 0.5);
        let class = if a + b > 1.0 { "big" } else { "small" };
        s.push_str(&format!("{a},{b},{e},{},{class}\n", 3.0 * a - 2.0 * b + 0.01 * e));
    }
    s
}

async fn store_with(csv: &str) -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Storage::local(dir.path()).expect("store");
    s.put("alice", "datasets/alice/d.csv", csv.as_bytes().to_vec()).await.expect("dataset");
    (dir, s)
}

fn spec(model: ModelKind, target: &str) -> TrainSpec {
    let mut s = TrainSpec::new("alice", "datasets/alice/d.csv", target, model);
    s.features = Some(vec!["a".into(), "b".into()]);
    s.hyperparameters.alpha = 0.01;
    s
}

async fn trained(store: &Storage, s: &TrainSpec) -> Metadata {
    let mut steps = Vec::new();
    let meta = train(store, s, &mut |p| steps.push(p.step))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", s.model.name()));
    assert_eq!(steps, [1, 2, 3, 4, 5, 6], "every step is reported");
    meta
}

#[tokio::test]
async fn every_model_kind_trains_scores_and_saves_its_files() {
    let (dir, store) = store_with(&synthetic(400)).await;
    for (name, kind) in ModelKind::ALL {
        let target = if kind.is_classifier() { "class" } else { "y" };
        let meta = trained(&store, &spec(kind, target)).await;
        let floor = match kind {
            ModelKind::Lasso | ModelKind::ElasticNet => 0.5, // regularized: shrunk, still far better than the mean
            ModelKind::DecisionTreeRegressor
            | ModelKind::RandomForestRegressor
            | ModelKind::GradientBoostingRegressor => 0.8,
            _ => 0.9,
        };
        assert!(meta.score > floor, "{name}: {} {} ≤ {floor}", meta.metric, meta.score);
        assert_eq!((meta.train_samples, meta.test_samples), (320, 80), "{name}");
        assert_eq!(meta.metric, if kind.is_classifier() { "accuracy" } else { "r2" });
        let base = dir.path().join("models/alice").join(&meta.model_id);
        for f in ["model.json", "preprocessor.json", "metadata.json"] {
            assert!(base.join(f).is_file(), "{name}: {f}");
        }
        let stored: Metadata =
            serde_json::from_slice(&std::fs::read(base.join("metadata.json")).expect("read"))
                .expect("json");
        assert_eq!(stored, meta);
    }
}

#[tokio::test]
async fn predictions_are_added_as_a_column_and_are_right() {
    let (_dir, store) = store_with(&synthetic(300)).await;
    let meta = trained(&store, &spec(ModelKind::Linear, "y")).await;
    store
        .put("alice", "datasets/alice/new.csv", b"b,a\n0.5,0.5\n0,1\n".to_vec())
        .await
        .expect("input");
    let p = PredictSpec {
        user: "alice".into(),
        model_id: meta.model_id.clone(),
        input: "datasets/alice/new.csv".into(),
        output: "predictions/alice/new.csv".into(),
        column: "y_hat".into(),
    };
    let r = predict(&store, &p).await.expect("predict");
    assert_eq!(r.rows, 2);
    let out = String::from_utf8(
        store.get("alice", "predictions/alice/new.csv").await.expect("out").to_vec(),
    )
    .expect("utf8");
    assert_eq!(r.csv.as_deref(), Some(out.as_str()), "small predictions come back inline too");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("b,a,y_hat"), "columns in any order; the prediction is appended");
    let got: Vec<f64> =
        lines.map(|l| l.rsplit(',').next().and_then(|v| v.parse().ok()).expect("number")).collect();
    for (g, want) in got.iter().zip([0.5, 3.0]) {
        assert!((g - want).abs() < 0.05, "{got:?}");
    }

    // Classes come back as their names.
    let clf = trained(&store, &spec(ModelKind::RandomForestClassifier, "class")).await;
    store
        .put("alice", "datasets/alice/c.csv", b"a,b\n0.9,0.9\n0.05,0.05\n".to_vec())
        .await
        .expect("input");
    let p = PredictSpec {
        model_id: clf.model_id,
        input: "datasets/alice/c.csv".into(),
        column: "prediction".into(),
        ..p
    };
    predict(&store, &p).await.expect("predict");
    let out = String::from_utf8(
        store.get("alice", "predictions/alice/new.csv").await.expect("out").to_vec(),
    )
    .expect("utf8");
    assert_eq!(out, "a,b,prediction\n0.9,0.9,big\n0.05,0.05,small\n");

    // A large one stays on the volume only.
    let mut big = String::from("b,a\n");
    while big.len() <= podwarden_tabular::predict::INLINE_BYTES {
        big.push_str("0.123456789,0.987654321\n");
    }
    store.put("alice", "datasets/alice/big.csv", big.into_bytes()).await.expect("input");
    let p = PredictSpec {
        model_id: meta.model_id.clone(),
        input: "datasets/alice/big.csv".into(),
        column: "y_hat".into(),
        ..p
    };
    let r = predict(&store, &p).await.expect("predict");
    assert!(r.csv.is_none() && r.rows > 10_000, "{} rows", r.rows);
}

#[tokio::test]
async fn bad_input_gets_errors_that_name_the_column_file_or_model() {
    let (_dir, store) = store_with("a,b,y\n1,2,3\n2,x,5\n3,4,7\n4,5,9\n5,6,11\n").await;
    let e =
        train(&store, &spec(ModelKind::Linear, "price"), &mut |_| {}).await.expect_err("no target");
    assert_eq!(e.to_string(), "datasets/alice/d.csv: no column \"price\" (columns: a, b, y)");
    let e =
        train(&store, &spec(ModelKind::Linear, "y"), &mut |_| {}).await.expect_err("non-numeric");
    assert_eq!(
        e.to_string(),
        "datasets/alice/d.csv: column \"b\" row 3 is not a number: \"x\"; features must be numeric"
    );
    store.put("alice", "datasets/alice/empty.csv", Vec::new()).await.expect("put");
    let mut s = spec(ModelKind::Linear, "y");
    s.dataset = "datasets/alice/empty.csv".into();
    assert!(matches!(train(&store, &s, &mut |_| {}).await, Err(TabularError::EmptyCsv { .. })));
    s.dataset = "datasets/bob/d.csv".into();
    assert!(
        matches!(train(&store, &s, &mut |_| {}).await, Err(TabularError::Forbidden { .. })),
        "another user's data"
    );

    let p = PredictSpec {
        user: "alice".into(),
        model_id: "m-nope".into(),
        input: "datasets/alice/d.csv".into(),
        output: "predictions/alice/o.csv".into(),
        column: "prediction".into(),
    };
    let e = predict(&store, &p).await.expect_err("no model");
    assert!(e.to_string().starts_with("no model \"m-nope\" for user \"alice\""), "{e}");

    let (_d2, good) = store_with(&synthetic(50)).await;
    let meta = trained(&good, &spec(ModelKind::Ridge, "y")).await;
    good.put("alice", "datasets/alice/wrong.csv", b"a,c\n1,2\n".to_vec()).await.expect("put");
    let p = PredictSpec {
        model_id: meta.model_id.clone(),
        input: "datasets/alice/wrong.csv".into(),
        ..p
    };
    let e = predict(&good, &p).await.expect_err("header mismatch");
    assert_eq!(
        e.to_string(),
        "datasets/alice/wrong.csv: header does not match the model: missing [\"b\"]; the model was trained on [\"a\", \"b\"]"
    );
    let p = PredictSpec {
        input: "datasets/alice/d.csv".into(),
        output: "predictions/bob/o.csv".into(),
        ..p
    };
    assert!(
        matches!(predict(&good, &p).await, Err(TabularError::Forbidden { .. })),
        "a write outside the caller's prefix"
    );
}

#[test]
fn the_predict_worker_runs_one_job_locally_and_fails_cleanly_on_a_missing_model() {
    let dir = tempfile::tempdir().expect("tmp");
    let bin = env!("CARGO_BIN_EXE_podwarden-tabular");
    let data = dir.path().join("datasets/alice");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("d.csv"), synthetic(100)).expect("write");
    let out = Command::new(bin)
        .args([
            "--store",
            dir.path().to_str().expect("utf8"),
            "train",
            "--user",
            "alice",
            "--dataset",
            "datasets/alice/d.csv",
        ])
        .args(["--target", "y", "--features", "a,b", "--model", "linear", "--model-id", "m1"])
        .output()
        .expect("train");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("progress 6/6: saving"));

    let job = |model: &str| {
        serde_json::json!({"input": {"user": "alice", "model_id": model, "input": "datasets/alice/d.csv", "output": "predictions/alice/p.csv"}})
            .to_string()
    };
    let run = |model: &str| {
        Command::new(bin)
            .args([
                "--store",
                dir.path().to_str().expect("utf8"),
                "worker",
                "--test-input",
                &job(model),
            ])
            .env_remove("RUNPOD_WEBHOOK_GET_JOB")
            .output()
            .expect("worker")
    };
    let ok = run("m1");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let body: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("result body");
    assert_eq!(body["output"]["rows"], 100);
    assert!(dir.path().join("predictions/alice/p.csv").is_file());

    let bad = run("m-missing");
    assert_eq!(bad.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("result body");
    let detail: serde_json::Value =
        serde_json::from_str(body["error"].as_str().expect("error")).expect("json");
    assert!(
        detail["error_message"].as_str().is_some_and(|m| m.contains("no model \"m-missing\"")),
        "{detail}"
    );
}

/// In a job with `checkpoint_dir`, a fit is kept there; a relaunched pod that finds the same
/// training resumes from it (no fit: the dataset may even be gone), and a different training
/// (another seed) does not take it.
#[tokio::test]
async fn a_fit_is_kept_as_a_checkpoint_and_a_relaunch_resumes_from_it() {
    use podwarden_tabular::train::{Checkpoints, train_with_checkpoints};
    let (dir, store) = store_with(&synthetic(200)).await;
    let ck_dir = dir.path().join("checkpoints");
    let mut s = spec(ModelKind::RandomForestRegressor, "y");
    s.model_id = Some("m-resume".into());
    let ck = Checkpoints { dir: Some(ck_dir.clone()), resume_from: None };
    let first = train_with_checkpoints(&store, &s, &ck, &mut |_| {}).await.expect("fit");
    let kept = ck_dir.join("checkpoint-1");
    assert!(kept.join(".complete").exists() && kept.join("model.json").exists());

    // The pod was lost after the fit: the next one resumes, without reading the dataset.
    std::fs::remove_dir_all(dir.path().join("models")).expect("outputs lost");
    std::fs::remove_file(dir.path().join("datasets/alice/d.csv")).expect("dataset gone");
    let resumed = Checkpoints { dir: Some(ck_dir.clone()), resume_from: Some(kept.clone()) };
    let mut steps = Vec::new();
    let again = train_with_checkpoints(&store, &s, &resumed, &mut |p| steps.push(p.what))
        .await
        .expect("resumed");
    assert_eq!(again, first);
    assert!(steps.contains(&"resumed from a checkpoint"), "{steps:?}");
    assert!(dir.path().join("models/alice/m-resume/model.json").exists(), "saved again");

    // Another training is not this checkpoint's: it fits (and fails here: no dataset).
    s.seed += 1;
    let other = train_with_checkpoints(&store, &s, &resumed, &mut |_| {}).await;
    assert!(other.is_err(), "{other:?}");
}
