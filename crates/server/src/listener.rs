//! The HTTP listener: connection limits and timeouts in front of the router.
//!
//! Owns: accepted connections, until they close.
//!
//! Invariants:
//! - at most `max_total` connections are open (kept under the process's file-descriptor limit,
//!   so the database, logs and the admin always have descriptors), and at most `max_per_ip`
//!   from one address; a connection past either is closed at once. An address named in
//!   `trusted_proxies` (a reverse proxy carrying everyone) has no per-address cap.
//! - a connection that does not send a complete request head within `header_timeout` is closed:
//!   idle connections, slowloris heads, and keep-alive connections between requests alike.
//! - a request body that stalls (no bytes) for `body_idle` is cut off (the router's
//!   `RequestBodyTimeoutLayer`); response streams (SSE) last as long as the client reads.

use axum::Router;
use axum::extract::ConnectInfo;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Connection limits (`podwarden serve`: `PODWARDEN_MAX_CONNECTIONS`,
/// `PODWARDEN_MAX_CONNECTIONS_PER_IP`, `PODWARDEN_TRUSTED_PROXIES`, `PODWARDEN_BODY_MEMORY_MB`).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_total: usize,
    pub max_per_ip: usize,
    pub header_timeout: Duration,
    pub body_idle: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed (and who have no per-address cap).
    pub trusted_proxies: Vec<IpAddr>,
    /// Memory for parsing large request bodies, MiB (`body_budget`).
    pub body_memory_mib: u32,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_total: 10_000,
            max_per_ip: 256,
            header_timeout: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            body_memory_mib: 256,
        }
    }
}

impl ConnLimits {
    /// These limits with `max_total` kept under the process's file-descriptor limit.
    #[must_use]
    pub fn within_fd_limit(mut self) -> Self {
        if let Some(fds) = fd_limit() {
            // Descriptors for the database, pod log followers, the embedded emulator and its pods.
            self.max_total = self.max_total.min(fds.saturating_sub(1024).max(64));
        }
        self
    }

    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.contains(&ip)
    }
}

/// The soft `RLIMIT_NOFILE` (Linux: from /proc, no `unsafe` needed).
fn fd_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Open connections, in all and per address.
#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Holds a connection's place in `Counts` until dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// A slot for a connection from `ip`, unless a cap is reached.
fn admit(counts: &Arc<Mutex<Counts>>, limits: &ConnLimits, ip: IpAddr) -> Option<Slot> {
    let mut c = counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let from_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
    if c.total >= limits.max_total || (from_ip >= limits.max_per_ip && !limits.trusts(ip)) {
        return None;
    }
    c.total += 1;
    *c.per_ip.entry(ip).or_insert(0) += 1;
    Some(Slot { counts: counts.clone(), ip })
}

/// Serves `app` on `listener` until `cancel`, within `limits`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnLimits,
    cancel: CancellationToken,
) {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_idle));
    let mut http =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    http.http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let http = http.http1_only();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let counts = Arc::new(Mutex::new(Counts::default()));
    let mut refused: u64 = 0;
    loop {
        let (socket, peer) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: not fatal.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = admit(&counts, &limits, peer.ip()) else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(peer = %peer.ip(), refused, "connection limit reached; closing new connections");
            }
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
        let conn =
            http.serve_connection(hyper_util::rt::TokioIo::new(socket), service).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Open requests finish (event streams end on the same cancellation); idle connections close.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// The client of a request: the peer, or, when the peer is a trusted proxy, the last address
/// in `X-Forwarded-For` that is not itself a trusted proxy.
pub(crate) fn client_ip(
    limits: &ConnLimits,
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
) -> IpAddr {
    if !limits.trusts(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !limits.trusts(*ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_address_and_in_all_and_free_on_drop() {
        let limits = ConnLimits {
            max_total: 3,
            max_per_ip: 2,
            trusted_proxies: vec!["10.0.0.1".parse().expect("ip")],
            ..ConnLimits::default()
        };
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (a, b, proxy): (IpAddr, IpAddr, IpAddr) = (
            "1.1.1.1".parse().expect("ip"),
            "2.2.2.2".parse().expect("ip"),
            "10.0.0.1".parse().expect("ip"),
        );
        let a1 = admit(&counts, &limits, a).expect("first");
        let _a2 = admit(&counts, &limits, a).expect("second");
        assert!(admit(&counts, &limits, a).is_none(), "per-address cap");
        let _b1 = admit(&counts, &limits, b).expect("another address");
        assert!(admit(&counts, &limits, proxy).is_none(), "total cap, even for a proxy");
        drop(a1);
        assert!(admit(&counts, &limits, a).is_some(), "a closed connection frees its slot");
        let many = ConnLimits { max_total: 100, ..limits.clone() };
        let slots: Vec<_> = (0..10).map(|_| admit(&counts, &many, proxy)).collect();
        assert!(slots.iter().all(Option::is_some), "a trusted proxy has no per-address cap");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let limits = ConnLimits {
            trusted_proxies: vec!["10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip")],
            ..ConnLimits::default()
        };
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 7.7.7.7, 10.0.0.2".parse().expect("header"));
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            client_ip(&limits, ip("10.0.0.1"), &h),
            ip("7.7.7.7"),
            "the last hop no proxy of ours added"
        );
        assert_eq!(
            client_ip(&limits, ip("8.8.8.8"), &h),
            ip("8.8.8.8"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_ip(&limits, ip("10.0.0.1"), &axum::http::HeaderMap::new()),
            ip("10.0.0.1")
        );
    }
}
