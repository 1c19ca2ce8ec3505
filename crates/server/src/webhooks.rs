//! Notifications: each user's job events POSTed to the webhook URL they set (issue 26), for
//! people whose jobs run for hours.
//!
//! Owns: reading `job_events` past the `webhooks` cursor (`podwarden_store::webhooks`) and delivering the
//! ones worth telling: a pod or serverless job that finished (`job.succeeded`, `job.failed`,
//! `job.cancelled`, `job.budget_exceeded`, `job.timed_out`) and budget alerts (`budget.alert`).
//!
//! Each delivery is a JSON POST signed with HMAC-SHA256 of the body under the user's webhook
//! secret (`X-Podwarden-Signature: sha256=<hex>`; the secret is shown when the URL is set),
//! tried three times (at once, after 2 s and after 10 s), each with a 10 s timeout and no
//! redirects. Invariants: a URL is `https` on a host whose every address is public (the server
//! must not be a way into its own network), checked when it is set and again, with the address
//! pinned, at each delivery; `webhooks_local` lifts that for tests. Delivery is at most once per
//! event: a server that stops mid-batch does not send the rest of it again.

use crate::AppState;
use hmac::{KeyInit, Mac};
use std::sync::Arc;
use std::time::Duration;

/// Pause between reads of the event table when nothing woke the notifier.
const IDLE: Duration = Duration::from_secs(5);
/// Waits before the second and third tries.
const RETRIES: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(10)];

/// The webhook event type of a job event, if it is one that is told: a job or serverless job
/// that settled, or a budget alert. Decided from the event's kind and typed state change.
pub(crate) fn event_type(e: &podwarden_store::EventRow) -> Option<&'static str> {
    use podwarden_core::events::{EventKind, StateChange};
    use podwarden_core::state::{JobState, ServerlessJobState};
    match e.kind {
        EventKind::State => {
            let change = StateChange::of(e.kind, e.data.as_deref());
            let job = change.state.filter(|s| s.is_final());
            let request = change.request.filter(|s| s.is_final()).map(|s| match s {
                ServerlessJobState::Succeeded => JobState::Succeeded,
                ServerlessJobState::TimedOut => JobState::TimedOut,
                ServerlessJobState::Cancelled => JobState::Cancelled,
                _ => JobState::Failed,
            });
            match job.or(request)? {
                JobState::Succeeded => Some("job.succeeded"),
                JobState::Failed => Some("job.failed"),
                JobState::Cancelled => Some("job.cancelled"),
                JobState::BudgetExceeded => Some("job.budget_exceeded"),
                JobState::TimedOut => Some("job.timed_out"),
                _ => None,
            }
        }
        EventKind::BudgetAlert => Some("budget.alert"),
        _ => None,
    }
}

/// `sha256=<hex>` of `body` under `secret`.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Why `url` cannot be a webhook, if it cannot: not a URL, not https, credentials in it, or a
/// host that is not on the public internet (unless `local_ok`).
pub(crate) async fn refused(url: &str, local_ok: bool) -> Option<String> {
    let Ok(u) = url::Url::parse(url) else {
        return Some(format!("{url:?} is not a URL"));
    };
    if u.scheme() != "https" && !(local_ok && u.scheme() == "http") {
        return Some("a webhook URL must be https".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Some(
            "a webhook URL may not carry credentials; verify the signature instead".into(),
        );
    }
    match pinned(&u, local_ok).await {
        Some(_) => None,
        None => Some(format!(
            "{} is not a host on the public internet (or does not resolve): the server posts only there",
            u.host_str().unwrap_or_default()
        )),
    }
}

/// The address to send to: every address of the host is public (or `local_ok`); the first.
async fn pinned(u: &url::Url, local_ok: bool) -> Option<std::net::SocketAddr> {
    let host = u.host_str()?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = u.port_or_known_default()?;
    let addrs: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((host.as_str(), port)).await.ok()?.collect();
    let ok =
        !addrs.is_empty() && (local_ok || addrs.iter().all(|a| crate::registry::public(a.ip())));
    ok.then(|| addrs[0])
}

/// Runs until shutdown: claims events past the cursor and delivers each told one.
pub(crate) async fn run(s: Arc<AppState>) {
    let local_ok = s.webhooks_local;
    let mut rx = s.engine.subscribe();
    loop {
        let now = s.engine.now_ms();
        match s.engine.store().webhook_claim(now, 200).await {
            Ok(batch) => {
                let more = batch.len() == 200;
                for c in batch {
                    let Some(kind) = event_type(&c.event) else { continue };
                    let secret = s.engine.webhook_secret(&c.owner, &c.url);
                    let body = serde_json::json!({
                        "id": c.event.id,
                        "type": kind,
                        "job": c.event.job_id,
                        "message": c.event.message,
                        "at": c.event.at,
                    });
                    let shutdown = s.shutdown.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            () = deliver(&c.url, kind, &secret, &body, local_ok) => {}
                            () = shutdown.cancelled() => {}
                        }
                    });
                }
                if more {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read events for webhooks"),
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            () = tokio::time::sleep(IDLE) => {}
            () = s.shutdown.cancelled() => return,
        }
    }
}

/// One event to one URL, tried three times.
async fn deliver(url: &str, kind: &str, secret: &str, body: &serde_json::Value, local_ok: bool) {
    let bytes = body.to_string().into_bytes();
    let sig = signature(secret, &bytes);
    for (n, wait) in std::iter::once(Duration::ZERO).chain(RETRIES).enumerate() {
        tokio::time::sleep(wait).await;
        let Ok(u) = url::Url::parse(url) else { return };
        // The address checked is the one connected to: a name that re-resolves elsewhere
        // between the check and the send is not followed.
        let Some(addr) = pinned(&u, local_ok).await else {
            tracing::warn!(
                host = u.host_str().unwrap_or_default(),
                "webhook host is not public; not sent"
            );
            return;
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .resolve(u.host_str().unwrap_or_default(), addr)
            .build();
        let Ok(client) = client else { return };
        let sent = client
            .post(u.clone())
            .header("Content-Type", "application/json")
            .header("X-Podwarden-Event", kind)
            .header("X-Podwarden-Signature", &sig)
            .body(bytes.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::info!(status = %r.status(), attempt = n + 1, "webhook refused"),
            Err(e) => tracing::info!(error = %e, attempt = n + 1, "webhook unreachable"),
        }
    }
    tracing::warn!(kind, "webhook not delivered after 3 tries");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_endings_and_budget_alerts_are_told() {
        use podwarden_core::events::{EventKind, StateChange};
        use podwarden_core::state::{JobState, ServerlessJobState};
        let ev = |kind, change: StateChange, message: &str| podwarden_store::EventRow {
            id: 1,
            job_id: podwarden_core::JobId::new().into(),
            at: 0,
            kind,
            message: message.into(),
            data: Some(change.to_json().to_string()),
        };
        let job = |s| StateChange { state: Some(s), ..Default::default() };
        let request = |s| StateChange { request: Some(s), ..Default::default() };
        let none = StateChange::default();
        assert_eq!(
            event_type(&ev(EventKind::State, job(JobState::Succeeded), "")),
            Some("job.succeeded")
        );
        assert_eq!(
            event_type(&ev(EventKind::State, request(ServerlessJobState::Failed), "")),
            Some("job.failed")
        );
        assert_eq!(
            event_type(&ev(EventKind::State, job(JobState::BudgetExceeded), "")),
            Some("job.budget_exceeded")
        );
        let ending = StateChange {
            state: Some(JobState::TearingDown),
            ending: Some(JobState::Succeeded),
            ..Default::default()
        };
        assert_eq!(event_type(&ev(EventKind::State, ending, "tearing down (succeeded)")), None);
        assert_eq!(event_type(&ev(EventKind::State, job(JobState::Running), "")), None);
        // The message's words decide nothing.
        assert_eq!(event_type(&ev(EventKind::State, none, "succeeded: exit 0")), None);
        assert_eq!(
            event_type(&ev(EventKind::BudgetAlert, none, "80 % of the budget spent")),
            Some("budget.alert")
        );
        assert_eq!(event_type(&ev(EventKind::Budget, none, "80 % of the budget spent")), None);
        assert_eq!(event_type(&ev(EventKind::Attempt, job(JobState::Succeeded), "")), None);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn only_public_https_urls_are_webhooks() {
        assert!(
            refused("http://example.com/hook", false).await.is_some_and(|m| m.contains("https"))
        );
        assert!(
            refused("https://127.0.0.1/hook", false).await.is_some_and(|m| m.contains("public"))
        );
        assert!(refused("https://10.1.2.3/hook", false).await.is_some());
        assert!(
            refused("https://u:p@8.8.8.8/hook", false)
                .await
                .is_some_and(|m| m.contains("credentials"))
        );
        assert!(refused("not a url", false).await.is_some());
        assert_eq!(refused("https://8.8.8.8/hook", false).await, None);
        assert_eq!(
            refused("http://127.0.0.1:9/hook", true).await,
            None,
            "tests may use this machine"
        );
    }
}
