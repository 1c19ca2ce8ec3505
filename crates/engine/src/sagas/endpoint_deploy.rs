//! The endpoint deploy saga: a serverless endpoint and its template, created or updated in
//! place to match a spec, and removed.
//!
//! Its steps, crash points and what heals each: `steps::ENDPOINT_DEPLOY` (the table in
//! `docs/state-machines.md` → Sagas is generated from it).
//!
//! Removal: row `deleting` (commit), endpoint deleted, then the template, then row `deleted`;
//! the reconciler retries `deleting` rows until the provider confirms.
//!
//! Invariant: nothing is created at the provider before the row naming it is committed; an
//! update the provider refuses restores the previous spec; a create it refuses for good leaves
//! nothing behind.
use crate::crash::CrashPoint;
use crate::provider::{Deployment, EndpointInfo, Provider, ProviderError};
use crate::sagas::InFlight;
use crate::{Engine, EngineError};
use podwarden_core::endpoint::EndpointSpec;
use podwarden_core::ids::{EndpointRecordId, endpoint_name, template_name};
use podwarden_core::state::{EndpointEvent, EndpointState, endpoint_transition};
use podwarden_store::EndpointRow;
use sha2::{Digest, Sha256};

/// Moves an endpoint row along its state machine (`core::state::endpoint`).
pub(crate) fn advance(row: &mut EndpointRow, event: EndpointEvent) -> Result<(), EngineError> {
    let to = endpoint_transition(row.state, event).map_err(|error| EngineError::Transition {
        what: format!("endpoint {}", row.name),
        error,
    })?;
    row.state = to;
    Ok(())
}

/// What a deploy changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// A deployed endpoint and what the deploy did.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub row: EndpointRow,
    pub change: Change,
}

/// SHA-256 of the spec's canonical JSON: equal specs, equal hashes.
pub fn spec_hash(spec: &EndpointSpec) -> String {
    let json = serde_json::to_string(spec).unwrap_or_default();
    Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The provider shape of a row's spec.
pub fn deployment(resource_name: &str, spec: &EndpointSpec) -> Deployment {
    Deployment {
        name: resource_name.to_owned(),
        template_name: template_name(resource_name),
        image: spec.image.clone(),
        command: spec.command.clone(),
        env: spec.env.clone(),
        disk_gb: spec.disk_gb,
        gpu_pools: spec.gpu.pools.clone(),
        gpu_count: spec.gpu.count,
        workers_min: spec.workers.min,
        workers_max: spec.workers.max,
        idle_timeout_secs: spec.workers.idle_timeout.as_secs() as i64,
        execution_timeout_ms: spec.execution_timeout.as_millis() as i64,
        flashboot: spec.flashboot,
        network_volume: spec.network_volume.clone(),
        registry_auth: spec.registry_auth.clone(),
    }
}

/// What the provider's copy of a ready endpoint runs that its spec does not say.
pub(crate) fn drifted(row: &EndpointRow, listed: &[EndpointInfo]) -> Option<String> {
    let id = row.endpoint_id.as_ref()?;
    let spec = parse_spec(row).ok()?;
    listed.iter().find(|e| &e.id == id)?.drift(&deployment(&row.resource_name, &spec))
}

pub(crate) fn parse_spec(row: &EndpointRow) -> Result<EndpointSpec, EngineError> {
    serde_json::from_str(&row.spec)
        .map_err(|e| EngineError::Corrupt(format!("endpoint {}: stored spec: {e}", row.id)))
}

impl<C: Provider> Engine<C> {
    /// The owner's live endpoints.
    pub async fn endpoints(&self, owner: &str) -> Result<Vec<EndpointRow>, EngineError> {
        Ok(self.store().endpoints_live().await?.into_iter().filter(|e| e.owner == owner).collect())
    }

    /// The owner's live endpoint `name`.
    pub async fn endpoint(&self, owner: &str, name: &str) -> Result<EndpointRow, EngineError> {
        self.store()
            .endpoint_by_name(owner, name)
            .await?
            .ok_or_else(|| EngineError::NoSuchEndpoint(name.into()))
    }

    /// Creates the endpoint, or updates it in place when the spec changed; the same spec twice
    /// changes nothing. A create the provider refuses leaves nothing behind.
    pub async fn deploy(&self, spec: EndpointSpec, owner: &str) -> Result<Deployed, EngineError> {
        let hash = spec_hash(&spec);
        let json = serde_json::to_string(&spec).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let now = self.now_ms();
        let existing = match self.store().endpoint_by_name(owner, &spec.name).await? {
            Some(row) => Some((row.state, row)),
            None => None,
        };
        let (mut row, change, previous) = match existing {
            None => {
                let id = EndpointRecordId::new();
                let row = EndpointRow {
                    id,
                    name: spec.name.clone(),
                    owner: owner.to_owned(),
                    spec: json,
                    spec_hash: hash,
                    state: EndpointState::Intent,
                    generation: 0,
                    resource_name: endpoint_name(self.install(), id),
                    template_id: None,
                    endpoint_id: None,
                    reason: None,
                    created_at: now,
                    updated_at: now,
                    account: self.account.clone(),
                };
                // Invariant 1: the row is committed before the create calls.
                self.store().endpoint_insert(&row).await?;
                (row, Change::Created, None)
            }
            Some((EndpointState::Deleting | EndpointState::Deleted, row)) => {
                return Err(EngineError::WrongState {
                    job: row.name,
                    what: "deployed",
                    state: "being removed".into(),
                });
            }
            Some((EndpointState::Ready, row)) if row.spec_hash == hash => {
                return Ok(Deployed { row, change: Change::Unchanged });
            }
            Some((state, mut row)) => {
                let previous = (row.spec.clone(), row.spec_hash.clone(), state);
                row.spec = json;
                row.spec_hash = hash;
                advance(&mut row, EndpointEvent::Deploy)?;
                if !self.store().endpoint_cas(&mut row, now).await? {
                    return Err(EngineError::WrongState {
                        job: row.name,
                        what: "deployed",
                        state: "changed concurrently; retry".into(),
                    });
                }
                (row, Change::Updated, Some(previous))
            }
        };
        let result = {
            let _in_flight = InFlight::hold(&self.deploying, row.id);
            self.converge(&mut row).await
        };
        match result {
            Ok(()) => Ok(Deployed { row, change }),
            Err(EngineError::Provider(
                e @ (ProviderError::Rejected(_)
                | ProviderError::Auth(_)
                | ProviderError::InsufficientBalance(_)),
            )) => {
                // Will not get better by retrying: undo rather than leave a half-made endpoint.
                let reason = e.to_string();
                match previous {
                    None => {
                        advance(&mut row, EndpointEvent::CreateRefused)?;
                        row.reason = Some(format!("deploy refused: {reason}"));
                        if self.store().endpoint_cas(&mut row, self.now_ms()).await? {
                            let _ = self.delete_resources(&mut row).await;
                        }
                    }
                    Some((spec, hash, state)) => {
                        (row.spec, row.spec_hash) = (spec, hash);
                        advance(&mut row, EndpointEvent::UpdateRefused { previous: state })?;
                        row.reason = Some(format!("update refused: {reason}"));
                        self.store().endpoint_cas(&mut row, self.now_ms()).await?;
                    }
                }
                Err(EngineError::Provider(e))
            }
            // Transient: the row stays `intent` and the reconciler finishes the deploy.
            Err(e) => Err(e),
        }
    }

    /// Removes the endpoint and its template; the row stays `deleting` until the provider
    /// confirms both are gone (the reconciler retries).
    pub async fn remove(&self, owner: &str, name: &str) -> Result<EndpointRow, EngineError> {
        let mut row = self.endpoint(owner, name).await?;
        if row.state != EndpointState::Deleting {
            advance(&mut row, EndpointEvent::Remove)?;
            row.reason = Some("removed by the user".into());
            if !self.store().endpoint_cas(&mut row, self.now_ms()).await? {
                return Err(EngineError::WrongState {
                    job: name.into(),
                    what: "removed",
                    state: "changed concurrently; retry".into(),
                });
            }
        }
        if let Err(e) = self.delete_resources(&mut row).await {
            tracing::warn!(endpoint = %row.id, error = %e, "endpoint removal pending; the reconciler retries");
        }
        Ok(row)
    }

    /// Makes the provider match the row: the template (found by name, else created) updated to
    /// the spec, then the endpoint likewise; then `ready`.
    pub(crate) async fn converge(&self, row: &mut EndpointRow) -> Result<(), EngineError> {
        let spec = parse_spec(row)?;
        let d = deployment(&row.resource_name, &spec);
        let cloud = self.provider();
        let template_id = match row.template_id.clone() {
            Some(id) => id,
            None => {
                match cloud.list_templates().await?.into_iter().find(|t| t.name == d.template_name)
                {
                    Some(t) => t.id,
                    None => {
                        self.crash_point(CrashPoint::BeforeTemplateCreate)?;
                        cloud.create_template(&d).await?.id
                    }
                }
            }
        };
        let template_id = if row.template_id.as_deref() == Some(&template_id) {
            match cloud.update_template(&template_id, &d).await {
                // Deleted behind our back: make a new one.
                Err(ProviderError::NotFound(_)) => cloud.create_template(&d).await?.id,
                other => other.map(|()| template_id)?,
            }
        } else {
            template_id
        };
        if row.template_id.as_deref() != Some(&template_id) {
            row.template_id = Some(template_id.clone());
            if !self.store().endpoint_cas(row, self.now_ms()).await? {
                return Err(EngineError::WrongState {
                    job: row.name.clone(),
                    what: "deployed",
                    state: "changed concurrently".into(),
                });
            }
        }
        self.crash_point(CrashPoint::AfterTemplate)?;
        let endpoint = match row.endpoint_id.clone() {
            Some(id) => Some(id),
            None => {
                cloud.list_endpoints().await?.into_iter().find(|e| e.name == d.name).map(|e| e.id)
            }
        };
        let endpoint_id = match endpoint {
            Some(id) => match cloud.update_endpoint(&id, &d).await {
                Err(ProviderError::NotFound(_)) => {
                    cloud.create_endpoint(&d, &template_id).await?.id
                }
                other => other.map(|()| id)?,
            },
            None => cloud.create_endpoint(&d, &template_id).await?.id,
        };
        self.crash_point(CrashPoint::AfterEndpointCreate)?;
        row.endpoint_id = Some(endpoint_id);
        advance(row, EndpointEvent::Converged)?;
        row.reason = None;
        if !self.store().endpoint_cas(row, self.now_ms()).await? {
            return Err(EngineError::WrongState {
                job: row.name.clone(),
                what: "deployed",
                state: "changed concurrently".into(),
            });
        }
        Ok(())
    }

    /// Deletes the endpoint, then its template (by id, else by name), then marks the row
    /// `deleted`.
    pub(crate) async fn delete_resources(&self, row: &mut EndpointRow) -> Result<(), EngineError> {
        let cloud = self.provider();
        let endpoint = match row.endpoint_id.clone() {
            Some(id) => Some(id),
            None => cloud
                .list_endpoints()
                .await?
                .into_iter()
                .find(|e| e.name == row.resource_name)
                .map(|e| e.id),
        };
        if let Some(id) = endpoint {
            cloud.delete_endpoint(&id).await?;
        }
        let template = match row.template_id.clone() {
            Some(id) => Some(id),
            None => {
                let name = template_name(&row.resource_name);
                cloud.list_templates().await?.into_iter().find(|t| t.name == name).map(|t| t.id)
            }
        };
        if let Some(id) = template {
            cloud.delete_template(&id).await?;
        }
        advance(row, EndpointEvent::ResourcesGone)?;
        self.store().endpoint_cas(row, self.now_ms()).await?;
        Ok(())
    }
}
