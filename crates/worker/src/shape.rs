//! Result bodies with the Python runtime's shapes (`rp_job.run_job`/`handle_job`, API-NOTES
//! §3.3 c–d), so clients see the same `/status` whichever runtime served them.

use runpod::client::worker::PROTOCOL_VERSION;
use runpod::types::worker::JobResultBody;
use serde_json::{Value, json};

/// The body for a handler's returned value: a dict's `error` fails the job, its
/// `refresh_worker` recycles the worker, and an empty dict has no `output`.
pub fn from_output(v: Value, refresh: bool) -> JobResultBody {
    let mut body = JobResultBody::default();
    let mut stop = refresh;
    match v {
        Value::Object(mut d) => {
            let error = d.remove("error");
            if d.remove("refresh_worker").is_some_and(|r| truthy(&r)) {
                stop = true;
            }
            if let Some(e) = error.filter(truthy) {
                body.error = Some(e);
            }
            if !d.is_empty() {
                body.output = Some(Value::Object(d));
            }
        }
        other => body.output = Some(other),
    }
    body.stop_pod = stop.then_some(true);
    body
}

/// The body for a handler that failed (returned `Err` or panicked): like the Python runtime's,
/// the error is a JSON string with the error's type and message.
pub fn from_failure(kind: &str, message: &str, worker_id: &str, refresh: bool) -> JobResultBody {
    let detail = json!({
        "error_type": kind,
        "error_message": message,
        "error_traceback": "",
        "hostname": hostname(),
        "worker_id": worker_id,
        "runpod_version": PROTOCOL_VERSION,
    });
    JobResultBody {
        error: Some(Value::String(detail.to_string())),
        stop_pod: refresh.then_some(true),
        ..JobResultBody::default()
    }
}

/// The end of a stream: all chunks (with `return_aggregate_stream`) or none.
pub fn stream_end(chunks: Vec<Value>, aggregate: bool, refresh: bool) -> JobResultBody {
    JobResultBody {
        output: Some(Value::Array(if aggregate { chunks } else { Vec::new() })),
        stop_pod: refresh.then_some(true),
        ..JobResultBody::default()
    }
}

/// A stream that failed: the Python runtime's `handler: <msg>` text.
pub fn stream_failed(message: &str, refresh: bool) -> JobResultBody {
    JobResultBody {
        error: Some(Value::String(format!("handler: {message} \ntraceback: "))),
        stop_pod: refresh.then_some(true),
        ..JobResultBody::default()
    }
}

/// A chunk that carries an error ends the stream failed (and is not streamed).
pub fn chunk_error(chunk: &Value) -> Option<String> {
    let e = chunk.get("error").or_else(|| chunk.get("output").and_then(|o| o.get("error")))?;
    Some(match e {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn hostname() -> String {
    std::env::var("RUNPOD_POD_HOSTNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_results_are_shaped_like_the_python_runtime() {
        assert_eq!(
            from_output(json!(3), false),
            JobResultBody { output: Some(json!(3)), ..Default::default() }
        );
        assert_eq!(from_output(json!({"a": 1}), false).output, Some(json!({"a": 1})));
        let e = from_output(json!({"error": "bad"}), false);
        assert_eq!(
            (e.output, e.error),
            (None, Some(json!("bad"))),
            "an error-only dict has no output"
        );
        let r = from_output(json!({"ok": true, "refresh_worker": true}), false);
        assert_eq!((r.output, r.stop_pod), (Some(json!({"ok": true})), Some(true)));
        assert_eq!(
            from_output(json!({"error": "", "x": 1}), false).error,
            None,
            "a falsy error is no error"
        );
        assert_eq!(from_output(json!({}), true).stop_pod, Some(true));
    }

    #[test]
    fn failures_carry_a_json_string_with_type_and_message() {
        let b = from_failure("panic", "boom", "w1", false);
        let detail: Value =
            serde_json::from_str(b.error.as_ref().and_then(Value::as_str).expect("string"))
                .expect("json");
        assert_eq!(
            (detail["error_type"].as_str(), detail["error_message"].as_str()),
            (Some("panic"), Some("boom"))
        );
        assert_eq!(detail["worker_id"], "w1");
    }

    #[test]
    fn streams_end_with_the_aggregate_only_when_asked() {
        assert_eq!(stream_end(vec![json!(1)], true, false).output, Some(json!([1])));
        assert_eq!(stream_end(vec![json!(1)], false, false).output, Some(json!([])));
        assert_eq!(chunk_error(&json!({"error": "x"})), Some("x".into()));
        assert_eq!(chunk_error(&json!({"output": {"error": "y"}})), Some("y".into()));
        assert_eq!(chunk_error(&json!({"word": "ok"})), None);
    }
}
