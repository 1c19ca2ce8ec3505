//! The endpoint reconciler.
//!
//! Owns: the serverless endpoints and templates with this install's name prefix on this
//! engine's account, and the `endpoints` rows that name them.
//!
//! Invariants: an `intent` row nobody is deploying is converged (found by name, else created;
//! then updated to its spec); a `ready` endpoint that vanished at the provider is re-created,
//! and one whose provider copy drifted from its spec is redeployed; a `deleting` row is retried
//! until the provider confirms; an endpoint or template with this install's prefix and no live
//! row (of any account: a user's key may be the operator's account) is an orphan and deleted.
//! Foreign names are never touched.

use super::Status;
use crate::provider::{EndpointInfo, Provider};
use crate::sagas::endpoint_deploy::{advance, drifted};
use crate::{Engine, EngineError};
use podwarden_core::EndpointRecordId;
use podwarden_core::ids::parse_endpoint_name;
use podwarden_core::state::{EndpointEvent, EndpointState};
use podwarden_store::EndpointRow;
use std::collections::HashSet;

/// One thing to do to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Finish an `intent` row's deploy.
    Converge { endpoint: EndpointRecordId, name: String },
    /// The provider's copy runs another `drift` than the spec: redeploy.
    Repair { endpoint: EndpointRecordId, name: String, drift: String },
    /// The provider no longer lists a `ready` endpoint: create it again.
    Recreate { endpoint: EndpointRecordId, name: String },
    /// Finish a removal.
    Delete { endpoint: EndpointRecordId, name: String },
    /// An endpoint of this install with no live row.
    DeleteOrphan { provider_id: String, name: String },
    /// Templates of this install with no live row (looked for only when an orphan endpoint was
    /// found: a crash between a template's create and its endpoint's leaves the row, which
    /// converges instead).
    DeleteOrphanTemplates,
}

/// What the plan sees.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub install: &'a str,
    pub account: &'a podwarden_core::Account,
    /// Every live endpoint row, of every account.
    pub rows: &'a [EndpointRow],
    /// What the provider lists on this account.
    pub listed: &'a [EndpointInfo],
    /// Rows a deploy is working on right now.
    pub held: &'a HashSet<EndpointRecordId>,
}

/// The actions that bring the provider's endpoints and the rows together.
pub fn plan(s: &Snapshot<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    for row in s.rows.iter().filter(|r| r.account == *s.account && !s.held.contains(&r.id)) {
        let (endpoint, name) = (row.id, row.name.clone());
        // A row whose state does not parse is left alone (the API reports it as corrupt).
        let state = row.state;
        match state {
            EndpointState::Intent => actions.push(Action::Converge { endpoint, name }),
            EndpointState::Ready => {
                if let Some(drift) = drifted(row, s.listed) {
                    actions.push(Action::Repair { endpoint, name, drift });
                } else if row
                    .endpoint_id
                    .as_ref()
                    .is_some_and(|id| !s.listed.iter().any(|e| &e.id == id))
                {
                    actions.push(Action::Recreate { endpoint, name });
                }
            }
            EndpointState::Deleting => actions.push(Action::Delete { endpoint, name }),
            EndpointState::Deleted => {}
        }
    }
    let orphans: Vec<Action> = s
        .listed
        .iter()
        .filter(|e| is_orphan(s, &e.name))
        .map(|e| Action::DeleteOrphan { provider_id: e.id.clone(), name: e.name.clone() })
        .collect();
    if !orphans.is_empty() {
        actions.extend(orphans);
        actions.push(Action::DeleteOrphanTemplates);
    }
    actions
}

/// A provider name of this install (endpoint or template) whose row is not live.
fn is_orphan(s: &Snapshot<'_>, name: &str) -> bool {
    parse_endpoint_name(s.install, name).is_some_and(|id| !s.rows.iter().any(|r| r.id == id))
}

impl<C: Provider> Engine<C> {
    /// One pass over endpoints: plan, then execute. An idle account (no `intent` or `deleting`
    /// row) is listed only every sweep period.
    pub(crate) async fn reconcile_endpoints(
        &self,
        status: &mut Status<Action>,
    ) -> Result<(), EngineError> {
        let rows = self.store().endpoints_live().await?;
        status.live = rows.iter().filter(|r| r.account == *self.account()).count();
        let now = self.now_ms();
        let busy = rows
            .iter()
            .filter(|r| r.account == *self.account())
            .any(|r| matches!(r.state, EndpointState::Intent | EndpointState::Deleting));
        if busy {
            self.last_endpoint_list.store(now, std::sync::atomic::Ordering::Relaxed);
        } else if !self.sweep_due(&self.last_endpoint_list, now) {
            return Ok(());
        }
        status.ran = true;
        let listed = self.provider().list_endpoints().await?;
        status.seen = listed.len();
        let held: HashSet<EndpointRecordId> =
            self.deploying.lock().map(|g| g.clone()).unwrap_or_default();
        let actions = plan(&Snapshot {
            install: self.install(),
            account: self.account(),
            rows: &rows,
            listed: &listed,
            held: &held,
        });
        for action in actions {
            if self.crashed() {
                break;
            }
            status.actions.push(action.clone());
            if let Err(e) = self.execute_endpoint(&action, &rows).await {
                if !status.failed(format!("{action:?}: {e}"), &e, error_policy) {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn execute_endpoint(
        &self,
        action: &Action,
        rows: &[EndpointRow],
    ) -> Result<(), EngineError> {
        let row_of = |id: EndpointRecordId| rows.iter().find(|r| r.id == id).cloned();
        match action {
            Action::Converge { endpoint, .. } => {
                let Some(mut row) = row_of(*endpoint) else { return Ok(()) };
                self.converge(&mut row).await
            }
            Action::Repair { endpoint, drift, .. } => {
                let Some(mut row) = row_of(*endpoint) else { return Ok(()) };
                advance(&mut row, EndpointEvent::Drifted)?;
                row.reason = Some(format!(
                    "the endpoint at the provider runs another {drift} than deployed; redeploying"
                ));
                self.store().endpoint_cas(&mut row, self.now_ms()).await?;
                Ok(())
            }
            Action::Recreate { endpoint, .. } => {
                let Some(mut row) = row_of(*endpoint) else { return Ok(()) };
                row.endpoint_id = None;
                advance(&mut row, EndpointEvent::Vanished)?;
                row.reason =
                    Some("the endpoint disappeared at the provider; re-creating it".into());
                self.store().endpoint_cas(&mut row, self.now_ms()).await?;
                Ok(())
            }
            Action::Delete { endpoint, .. } => {
                let Some(mut row) = row_of(*endpoint) else { return Ok(()) };
                self.delete_resources(&mut row).await
            }
            Action::DeleteOrphan { provider_id, .. } => {
                self.provider().delete_endpoint(provider_id).await?;
                Ok(())
            }
            Action::DeleteOrphanTemplates => {
                let snapshot = Snapshot {
                    install: self.install(),
                    account: self.account(),
                    rows,
                    listed: &[],
                    held: &HashSet::new(),
                };
                let mut failed = Vec::new();
                for t in self.provider().list_templates().await? {
                    if is_orphan(&snapshot, &t.name) {
                        if let Err(e) = self.provider().delete_template(&t.id).await {
                            failed.push(format!("{}: {e}", t.name));
                        }
                    }
                }
                match failed.is_empty() {
                    true => Ok(()),
                    false => Err(EngineError::Provider(crate::provider::ProviderError::Transient(
                        format!("orphan templates not deleted: {}", failed.join("; ")),
                    ))),
                }
            }
        }
    }
}

/// The endpoints reconciler's error policy: the shared one (`provider_policy`); a converge
/// that fails is retried on the next pass, found by name, never made twice.
pub fn error_policy(e: &EngineError) -> super::OnError {
    super::provider_policy(e)
}
