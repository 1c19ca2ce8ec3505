//! Strays: pods named as podwarden names them (`pw-<install>-<attempt>`) by an install this
//! one is not — a database lost and replaced without its identity, another podwarden on the
//! same account, a copy restored elsewhere.
//!
//! Owns nothing: strays are reported (API, doctor, the log) and terminated only on the
//! operator's word (`reap`), one install prefix at a time, because another live podwarden on
//! the same RunPod account names its pods the same way. This install's own orphans are not
//! strays: the pod reconciler terminates those itself (`reconcilers::pods`).

use crate::provider::{PodPhase, Provider};
use crate::{Engine, EngineError};
use podwarden_core::Money;
use podwarden_core::ids::NAME_PREFIX;

/// A pod of another podwarden install.
#[derive(Debug, Clone, PartialEq)]
pub struct Stray {
    pub pod_id: String,
    pub name: String,
    /// The install prefix in its name.
    pub install: String,
    pub running: bool,
    pub cost_per_hour: Money,
}

/// The install prefix of a podwarden pod name (`pw-<install>-<32 hex>`), if it is one.
pub fn install_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (install, attempt) = rest.split_once('-')?;
    let ok = !install.is_empty()
        && attempt.len() == 32
        && attempt.chars().all(|c| c.is_ascii_hexdigit());
    ok.then_some(install)
}

impl<C: Provider> Engine<C> {
    /// Pods on this account that another podwarden install named.
    pub async fn strays(&self) -> Result<Vec<Stray>, EngineError> {
        let pods = self.provider().list_pods().await?;
        Ok(pods
            .into_iter()
            .filter_map(|p| {
                let install = install_of(&p.name)?.to_owned();
                (install != self.install() && p.phase != PodPhase::Gone).then_some(Stray {
                    running: matches!(p.phase, PodPhase::Running | PodPhase::Booting),
                    cost_per_hour: p.cost_per_hour,
                    pod_id: p.id,
                    name: p.name,
                    install,
                })
            })
            .collect())
    }

    /// Terminates every stray of `install` (the operator's decision); the pods terminated.
    pub async fn reap_strays(&self, install: &str) -> Result<Vec<String>, EngineError> {
        if install == self.install() {
            return Err(EngineError::WrongState {
                job: format!("install {install}"),
                what: "reaped",
                state: "it is this install: its own orphans are terminated by the reconciler"
                    .into(),
            });
        }
        let mut done = Vec::new();
        for s in self.strays().await?.into_iter().filter(|s| s.install == install) {
            self.provider().terminate_pod(&s.pod_id).await?;
            tracing::warn!(pod = %s.pod_id, name = %s.name, "terminated a stray pod on the operator's word");
            done.push(s.pod_id);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn podwarden_names_are_recognised_and_others_are_not() {
        assert_eq!(
            super::install_of("pw-ab12cd34-0123456789abcdef0123456789abcdef"),
            Some("ab12cd34")
        );
        assert_eq!(
            super::install_of("pw-ab12cd34-ep-0123456789abcdef0123456789abcdef"),
            None,
            "an endpoint, not a pod"
        );
        assert_eq!(super::install_of("my-pod"), None);
        assert_eq!(super::install_of("pw-x-123"), None);
    }
}
