//! The Rust side of the worker cross-check: the same scenarios as the Python workers in
//! `crates/runpod-emulator/tests/python/workers/` (`scenarios <name>`), run by the emulator as
//! serverless workers. `tests/python/test_worker_parity.py` runs one suite against both.

use futures::stream;
use podwarden_worker::{Job, Worker};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Duration;

async fn plain(job: Job) -> Result<Value, String> {
    let inp = job.input.clone();
    if inp.get("fail").is_some_and(|v| v != &Value::Null && v != &json!(false)) {
        return Err("asked to fail".into());
    }
    if inp.get("panic").is_some() {
        panic!("asked to panic");
    }
    if let Some(e) = inp.get("error") {
        return Ok(json!({ "error": e }));
    }
    Ok(json!({"echo": inp, "job_id": job.id}))
}

async fn progress(job: Job) -> Result<Value, String> {
    job.progress(json!({"step": 1, "of": 2})).await;
    let gate = job.input["gate"].as_str().unwrap_or_default().to_owned();
    // The test creates the gate file when it has seen the progress (bounded like the Python one).
    for _ in 0..1200 {
        if std::path::Path::new(&gate).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(json!({"step": 2, "of": 2}))
}

async fn slow(job: Job) -> Result<Value, String> {
    if job.input.get("quick").is_some() {
        return Ok(json!({"quick": true}));
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(json!({"never": true}))
}

async fn concurrent(job: Job) -> Result<Value, String> {
    let gate = job.input["gate"].as_str().unwrap_or_default().to_owned();
    for _ in 0..1200 {
        if std::path::Path::new(&gate).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(json!({"i": job.input["i"]}))
}

fn main() -> ExitCode {
    let name = std::env::args().nth(1).unwrap_or_default();
    let w = match name.as_str() {
        "plain" => Worker::new(plain),
        "generator" => Worker::streaming(|job: Job| {
            let words: Vec<Result<Value, String>> = job.input["text"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(|w| Ok(json!({ "word": w })))
                .collect();
            stream::iter(words)
        })
        .return_aggregate_stream(true),
        "progress" => Worker::new(progress),
        "slow" => Worker::new(slow),
        "concurrency" => Worker::new(concurrent).concurrency(4),
        // The benchmark's no-op; concurrency from the next argument (default 1).
        "noop" => Worker::new(|_job: Job| async { Ok::<_, String>(json!({"ok": true})) })
            .concurrency(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(1)),
        "refresh" => {
            Worker::new(|job: Job| async move { Ok::<_, String>(json!({"ok": job.input["n"]})) })
                .refresh_worker(true)
        }
        other => {
            eprintln!(
                "error: unknown scenario {other:?} (plain, generator, progress, slow, concurrency, noop, refresh)"
            );
            return ExitCode::from(2);
        }
    };
    // The scenario name is not for the worker's own argument parsing.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // After the name: the worker's own flags (`--test-input ...`), less noop's concurrency.
    let rest: Vec<String> =
        std::env::args().skip(2).skip_while(|a| a.parse::<usize>().is_ok()).collect();
    rt.block_on(w.run(&rest))
}
