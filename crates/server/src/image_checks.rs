//! Images jobs name, checked in their registry before RunPod is asked to pull them.
//!
//! RunPod reports a pod whose image cannot be pulled as RUNNING and retries the pull, billing,
//! until the boot timeout; podwarden reads the pull error from the pod's logs and gives the job
//! up, but that costs the first job a pod. So on RunPod the server asks the image's registry
//! first (anonymously, as `doctor` does): a job or endpoint naming an image the registry says does
//! not exist or is private is refused with the reason, unless it brings a registry credential
//! (`registry_auth`: then only RunPod can tell). Images podwarden itself names (`@tabular`) are
//! checked at start and said in the server's log when missing.
//!
//! Invariants: a verdict is reused for `PRESENT_FOR` (present) or `MISSING_FOR` (missing); a
//! registry that cannot be asked (network, timeout, odd answer) refuses nothing; only registries
//! on public addresses are asked, no redirect is followed and a token realm must be public https,
//! so a user cannot make the server probe its own network; at most one
//! check per image runs at a time per submit. Off on the embedded emulator, which knows its
//! images itself (docs/emulator.md).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long "the registry has it" is believed.
const PRESENT_FOR: Duration = Duration::from_secs(3600);
/// How long "the registry does not have it" is believed (a push may fix it).
const MISSING_FOR: Duration = Duration::from_secs(300);
/// The longest a submit waits for a registry.
const ASK_FOR: Duration = Duration::from_secs(5);
/// Images remembered at most (a client sending endless names must not grow memory).
const REMEMBERED: usize = 10_000;

/// The registry's word on images, when checking is on.
#[derive(Debug)]
pub(crate) struct ImageChecks {
    http: Option<reqwest::Client>,
    /// Registries on this machine or its network may be asked (tests).
    local_ok: bool,
    known: std::sync::Mutex<HashMap<String, (Instant, bool)>>,
}

impl ImageChecks {
    /// Checks in registries (`on`), or nothing; registries on private addresses only when
    /// `local_ok`.
    pub(crate) fn new(on: bool, local_ok: bool) -> Self {
        let http = on
            .then(|| {
                reqwest::Client::builder()
                    .timeout(ASK_FOR)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .ok()
            })
            .flatten();
        Self { http, local_ok, known: std::sync::Mutex::new(HashMap::new()) }
    }

    /// Why `image` would not pull on RunPod, when its registry says so (`None`: it exists, the
    /// job brings a credential, checking is off, or the registry could not be asked).
    pub(crate) async fn missing(&self, image: &str, has_credential: bool) -> Option<String> {
        let http = self.http.as_ref()?;
        if has_credential {
            return None;
        }
        let now = Instant::now();
        let cached = {
            let known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            known.get(image).copied()
        };
        let present = match cached {
            Some((at, p)) if now.duration_since(at) < if p { PRESENT_FOR } else { MISSING_FOR } => {
                p
            }
            _ => {
                let asked = tokio::time::timeout(
                    ASK_FOR,
                    crate::registry::manifest_exists(http, image, self.local_ok),
                )
                .await;
                let p = match asked {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => {
                        tracing::debug!(image, error = %e, "cannot ask the registry; not refusing");
                        return None;
                    }
                    Err(_) => return None,
                };
                let mut known =
                    self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if known.len() >= REMEMBERED {
                    known.clear();
                }
                known.insert(image.to_owned(), (now, p));
                p
            }
        };
        (!present).then(|| {
            format!(
                "image {image} does not exist in its registry or is private: RunPod would retry the pull, billing, until the boot timeout"
            )
        })
    }

    /// Checks podwarden's own images (`@tabular` …) and says in the log which are missing.
    pub(crate) async fn check_own(&self) {
        for (alias, _) in podwarden_core::images::ALIASES {
            let Ok(image) = podwarden_core::images::resolve_env(alias) else { continue };
            if let Some(why) = self.missing(&image, false).await {
                tracing::error!(
                    alias,
                    "{why}; jobs naming {alias} will be refused: publish Dockerfile.tabular (.github/workflows/images.yml) and make the package public, or set PODWARDEN_IMAGE_TABULAR"
                );
            }
        }
    }
}
