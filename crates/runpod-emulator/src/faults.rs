//! Injected faults: per-route HTTP failures and latency, lost create responses, pods that never
//! boot, preemption, and serverless workers that crash on start.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// All faults, as set by the config file or `PUT /_emulator/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// HTTP faults, checked in order; the first that fires wins.
    pub http: Vec<HttpFault>,
    pub pods: PodFaults,
    pub workers: WorkerFaults,
}

/// A fault on matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFault {
    /// `METHOD /route/template` (the route as declared, e.g. `POST /v2/pods` or
    /// `GET /v2/{endpoint_id}/status/{job_id}`), `* /route`, or `*` for everything.
    pub route: String,
    /// Answer with this status instead of (or, with `lose_response`, after) handling.
    #[serde(default)]
    pub status: Option<u16>,
    /// Chance that the fault fires on a matching request (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// Fire this many times, then expire. `None`: forever.
    #[serde(default)]
    pub times: Option<u32>,
    /// `Retry-After` seconds on the injected response.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Extra latency before handling, real ms.
    #[serde(default)]
    pub latency_ms: u64,
    /// Run the handler (the create happens) but answer `status` (default 502) as if the
    /// response had been lost on the way back.
    #[serde(default)]
    pub lose_response: bool,
}

fn one() -> f64 {
    1.0
}

/// Faults applied to pods created while they are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodFaults {
    /// New pods stay STARTING forever (and bill).
    pub boot_hang: bool,
    /// New pods are preempted (stopped, volume kept) this many emulated seconds after they
    /// reach RUNNING.
    pub preempt_after_secs: Option<f64>,
    /// Only this many new pods are preempted; then the fault ends (`None`: every new pod).
    pub preempt_pods: Option<u32>,
}

/// Faults applied to serverless workers started while they are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerFaults {
    /// Workers exit with status 1 right after start (a crash loop).
    pub crash_on_start: bool,
    /// No GPU of the endpoint's pools is free: new workers stay THROTTLED and never start.
    pub throttled: bool,
}

/// What the HTTP fault layer decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultAction {
    pub latency_ms: u64,
    /// Answer this status without handling.
    pub fail: Option<(u16, Option<u64>)>,
    /// Handle, then answer this status.
    pub lose: Option<u16>,
}

/// Live fault state: rules with their remaining counts, and a seeded generator.
#[derive(Debug)]
pub struct FaultState {
    pub config: FaultConfig,
    remaining: Vec<Option<u32>>,
    rng: StdRng,
}

impl FaultState {
    /// Fresh state for `config`, deterministic for `seed`.
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        let remaining = config.http.iter().map(|f| f.times).collect();
        Self { config, remaining, rng: StdRng::seed_from_u64(seed) }
    }

    /// Replaces every fault.
    pub fn set(&mut self, config: FaultConfig) {
        self.remaining = config.http.iter().map(|f| f.times).collect();
        self.config = config;
    }

    /// Decides for a request to `route` (e.g. `POST /v2/pods`).
    pub fn decide(&mut self, method: &str, route: &str) -> Option<FaultAction> {
        for (i, f) in self.config.http.iter().enumerate() {
            if !route_matches(&f.route, method, route) || self.remaining[i] == Some(0) {
                continue;
            }
            if f.probability < 1.0 && self.rng.random::<f64>() >= f.probability {
                continue;
            }
            if let Some(n) = self.remaining[i].as_mut() {
                *n -= 1;
            }
            let mut action = FaultAction { latency_ms: f.latency_ms, fail: None, lose: None };
            if f.lose_response {
                action.lose = Some(f.status.unwrap_or(502));
            } else if let Some(s) = f.status {
                action.fail = Some((s, f.retry_after));
            }
            return Some(action);
        }
        None
    }
}

fn route_matches(pattern: &str, method: &str, route: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    match pattern.split_once(' ') {
        Some((m, p)) => (m == "*" || m.eq_ignore_ascii_case(method)) && p.trim() == route,
        None => pattern == route,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: &str, status: u16, times: Option<u32>) -> HttpFault {
        HttpFault {
            route: route.into(),
            status: Some(status),
            probability: 1.0,
            times,
            retry_after: Some(1),
            latency_ms: 0,
            lose_response: false,
        }
    }

    #[test]
    fn counted_rules_expire() {
        let mut s = FaultState::new(
            FaultConfig {
                http: vec![rule("GET /v2/pods", 429, Some(2))],
                ..FaultConfig::default()
            },
            7,
        );
        assert_eq!(s.decide("GET", "/v2/pods").and_then(|a| a.fail), Some((429, Some(1))));
        assert!(s.decide("POST", "/v2/pods").is_none());
        assert!(s.decide("GET", "/v2/pods").is_some());
        assert!(s.decide("GET", "/v2/pods").is_none());
    }

    #[test]
    fn random_rules_are_repeatable_for_a_seed() {
        let cfg = FaultConfig {
            http: vec![HttpFault { probability: 0.5, ..rule("*", 503, None) }],
            ..FaultConfig::default()
        };
        let run = |seed| {
            let mut s = FaultState::new(cfg.clone(), seed);
            (0..64).map(|_| s.decide("GET", "/x").is_some()).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        let fired = run(3).into_iter().filter(|b| *b).count();
        assert!((16..=48).contains(&fired), "{fired}");
    }

    #[test]
    fn lost_responses_default_to_502() {
        let mut s = FaultState::new(
            FaultConfig {
                http: vec![HttpFault {
                    status: None,
                    lose_response: true,
                    ..rule("POST /v2/pods", 0, None)
                }],
                ..FaultConfig::default()
            },
            1,
        );
        assert_eq!(s.decide("POST", "/v2/pods").and_then(|a| a.lose), Some(502));
    }
}
