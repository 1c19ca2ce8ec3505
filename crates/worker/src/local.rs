//! Mode selection and the local one-shot run (API-NOTES §3.1, §3.8): `--test-input JSON`
//! (also `--test_input`, the Python runtime's spelling), else `./test_input.json` when not on
//! RunPod. The job runs once; its result body is printed on stdout; exit 1 when it failed.

use crate::{Worker, runtime::Job};
use runpod::client::worker::WorkerConfig;
use runpod::types::worker::TakenJob;
use serde_json::Value;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

pub enum Mode {
    TestInput(Value),
    Production(WorkerConfig),
    ServeApi(u16),
}

/// `--serve-api PORT` (or the Python runtime's `--rp_serve_api [--rp_api_port PORT]`).
fn serve_api(args: &[String]) -> Result<Option<u16>, String> {
    let port = |v: &str| {
        v.parse::<u16>().map_err(|_| format!("--serve-api needs a port number, got {v:?}"))
    };
    let mut it = args.iter().peekable();
    let mut python = false;
    let mut python_port = 8000;
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--serve-api=") {
            return port(v).map(Some);
        }
        match a.as_str() {
            "--serve-api" => {
                return port(it.next().ok_or("--serve-api needs a port, e.g. --serve-api 8000")?)
                    .map(Some);
            }
            "--rp_serve_api" => python = true,
            "--rp_api_port" => python_port = port(it.next().ok_or("--rp_api_port needs a port")?)?,
            _ => {}
        }
    }
    Ok(python.then_some(python_port))
}

/// Which mode `args` and the environment ask for.
pub fn mode(args: &[String]) -> Result<Mode, String> {
    if let Some(p) = serve_api(args)? {
        return Ok(Mode::ServeApi(p));
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let inline = a.strip_prefix("--test-input=").or_else(|| a.strip_prefix("--test_input="));
        let text = match (a.as_str(), inline) {
            (_, Some(v)) => v.to_owned(),
            ("--test-input" | "--test_input", _) => it
                .next()
                .cloned()
                .ok_or("--test-input needs a JSON value, e.g. '{\"input\": {}}'")?,
            _ => continue,
        };
        return parse_test_input(&text, "--test-input");
    }
    if let Some(cfg) = WorkerConfig::from_env() {
        return Ok(Mode::Production(cfg));
    }
    match std::fs::read_to_string("test_input.json") {
        Ok(text) => parse_test_input(&text, "test_input.json"),
        Err(_) => Err("not on RunPod (RUNPOD_WEBHOOK_GET_JOB is unset) and no test input: pass --test-input '{\"input\": {...}}' \
             or put a test_input.json in the working directory"
            .into()),
    }
}

fn parse_test_input(text: &str, from: &str) -> Result<Mode, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("{from} is not valid JSON: {e}"))?;
    if v.get("input").is_none() {
        return Err(format!(
            "{from} has no \"input\" key; wrap the handler's input as {{\"input\": ...}}"
        ));
    }
    Ok(Mode::TestInput(v))
}

/// Runs one job locally and prints its result body.
pub async fn one_shot(w: &Worker, job: Value) -> ExitCode {
    let id = job.get("id").and_then(Value::as_str).unwrap_or("local_test").to_owned();
    let raw =
        TakenJob { id: id.clone(), input: job["input"].clone(), webhook: None, s3_config: None };
    let job =
        Job { id, input: raw.input.clone(), raw, client: None, cancel: CancellationToken::new() };
    // Streams are aggregated into a list, as the Python runtime's local mode does.
    let body = match tokio::spawn(crate::runtime::drive(w.clone(), job, None, true)).await {
        Ok((body, _)) => body,
        Err(e) => crate::runtime::panicked(e, "local", w.refresh_worker),
    };
    println!("{}", serde_json::to_string(&body).unwrap_or_default());
    if body.error.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn serve_api_flags_in_ours_and_the_python_spelling() {
        assert!(matches!(mode(&args(&["--serve-api", "8123"])), Ok(Mode::ServeApi(8123))));
        assert!(matches!(mode(&args(&["--serve-api=9000"])), Ok(Mode::ServeApi(9000))));
        assert!(matches!(mode(&args(&["--rp_serve_api"])), Ok(Mode::ServeApi(8000))));
        assert!(matches!(
            mode(&args(&["--rp_serve_api", "--rp_api_port", "7000"])),
            Ok(Mode::ServeApi(7000))
        ));
        let e = mode(&args(&["--serve-api", "http"])).err().unwrap_or_default();
        assert!(e.contains("port number"), "{e}");
    }

    #[test]
    fn test_input_flags_in_both_spellings_and_clear_errors() {
        for a in
            [args(&["--test-input", r#"{"input": 1}"#]), args(&[r#"--test_input={"input": 1}"#])]
        {
            assert!(matches!(mode(&a), Ok(Mode::TestInput(v)) if v["input"] == 1));
        }
        let e = mode(&args(&["--test-input", "{"])).err().unwrap_or_default();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = mode(&args(&["--test-input", r#"{"x": 1}"#])).err().unwrap_or_default();
        assert!(e.contains("no \"input\" key"), "{e}");
        let e = mode(&args(&["--test-input"])).err().unwrap_or_default();
        assert!(e.contains("needs a JSON value"), "{e}");
    }
}
