//! Templates and network volumes.

use super::World;
use super::ledger::{Kind, Split};
use super::random_id;
use crate::problem::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use runpod::types::network_volumes::{
    CreateNetworkVolumeRequest, NetworkVolume, UpdateNetworkVolumeRequest, VolumeType,
};
use runpod::types::templates::{
    CreateTemplateRequest, ListTemplatesResponse, Template, TemplateCategory, UpdateTemplateRequest,
};
use runpod::{NetworkVolumeId, TemplateId};

/// USD per GB-month of a network volume under 1 TB.
const VOLUME_GB_MONTH: f64 = 0.07;

/// A stored template.
#[derive(Debug, Clone)]
pub struct TemplateRecord {
    pub template: Template,
    pub account: String,
    pub created_at: DateTime<Utc>,
}

/// A container registry credential. Only its name is ever shown again, as on RunPod.
#[derive(Debug, Clone)]
pub struct RegistryRecord {
    pub id: String,
    pub name: String,
    pub account: String,
    pub created_at: DateTime<Utc>,
}

/// A queued pod entry of an account.
#[derive(Debug, Clone)]
pub struct QueuedRecord {
    pub entry: runpod::types::queued_pods::QueuedPod,
    pub account: String,
    pub created_at: DateTime<Utc>,
}

/// A stored network volume.
#[derive(Debug, Clone)]
pub struct VolumeRecord {
    pub volume: NetworkVolume,
    pub account: String,
    pub billed_until: DateTime<Utc>,
}

impl World {
    /// `POST /v2/templates`.
    pub fn template_create(
        &mut self,
        acct: &str,
        req: CreateTemplateRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Template> {
        if self.templates.values().any(|t| t.account == acct && t.template.name == req.name) {
            return Err(ApiError::bad_request(format!(
                "template name must be unique: {:?} exists",
                req.name
            )));
        }
        let id = random_id(10);
        let t = Template {
            id: TemplateId::new(&id),
            name: req.name,
            image: req.image,
            args: req.args.unwrap_or_default(),
            disk: req.disk.unwrap_or(50),
            mounts: req.mounts.unwrap_or_default(),
            ports: req.ports.unwrap_or_default(),
            env: req.env.unwrap_or_default(),
            registry: req.registry,
            serverless: req.serverless.unwrap_or(false),
            public: req.public.unwrap_or(false),
            category: req.category.unwrap_or(TemplateCategory::Nvidia),
            start_ssh: req.start_ssh.unwrap_or(true),
            start_jupyter: req.start_jupyter.unwrap_or(true),
            allowed_cuda_versions: req.allowed_cuda_versions.unwrap_or_default(),
        };
        self.templates.insert(
            id,
            TemplateRecord { template: t.clone(), account: acct.to_owned(), created_at: now },
        );
        Ok(t)
    }

    /// `GET /v2/templates` of `acct`, oldest first.
    pub fn template_list(
        &self,
        acct: &str,
        page: &crate::paging::PageRequest,
    ) -> ListTemplatesResponse {
        let mut v: Vec<&TemplateRecord> =
            self.templates.values().filter(|t| t.account == acct).collect();
        v.sort_by(|a, b| {
            a.created_at.cmp(&b.created_at).then_with(|| a.template.id.cmp(&b.template.id))
        });
        let keyed = v
            .into_iter()
            .map(|t| {
                (
                    crate::paging::created_key(
                        t.created_at.timestamp_millis(),
                        t.template.id.as_str(),
                    ),
                    t,
                )
            })
            .collect();
        let (shown, pagination) = page.page(keyed);
        ListTemplatesResponse {
            templates: shown.into_iter().map(|t| t.template.clone()).collect(),
            pagination,
        }
    }

    /// `PATCH /v2/templates/{id}`.
    pub fn template_update(&mut self, id: &str, req: UpdateTemplateRequest) -> ApiResult<Template> {
        let acct = self.owner(super::Res::Template, id).unwrap_or_default().to_owned();
        if let Some(n) = &req.name {
            if self
                .templates
                .values()
                .any(|t| t.account == acct && &t.template.name == n && t.template.id.as_str() != id)
            {
                return Err(ApiError::bad_request(format!(
                    "template name must be unique: {n:?} exists"
                )));
            }
        }
        let t = &mut self.templates.get_mut(id).ok_or_else(ApiError::not_found)?.template;
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = req.$f { t.$f = v; })* };
        }
        set!(
            name,
            image,
            args,
            disk,
            env,
            ports,
            allowed_cuda_versions,
            category,
            mounts,
            public,
            serverless,
            start_jupyter,
            start_ssh
        );
        if let Some(r) = req.registry {
            t.registry = Some(r);
        }
        let t = t.clone();
        // Endpoints built on this template pick up the change (RunPod bumps their version).
        for ep in self.endpoints.values_mut().filter(|e| e.template_id.as_deref() == Some(id)) {
            ep.version += 1;
        }
        Ok(t)
    }

    /// `DELETE /v2/templates/{id}`: refused while an endpoint uses it.
    pub fn template_delete(&mut self, id: &str) -> ApiResult<()> {
        if !self.templates.contains_key(id) {
            return Err(ApiError::not_found());
        }
        if self.endpoints.values().any(|e| e.template_id.as_deref() == Some(id)) {
            return Err(ApiError::bad_request(
                "template is in use by an endpoint; delete the endpoint first",
            ));
        }
        self.templates.remove(id);
        Ok(())
    }

    /// `POST /v2/registries`: names are unique per account; the username and password are
    /// checked for presence and then never shown.
    pub fn registry_create(
        &mut self,
        acct: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<RegistryRecord> {
        if self.registries.values().any(|r| r.account == acct && r.name == name) {
            return Err(ApiError::bad_request(format!(
                "registry credential name must be unique: {name:?} exists"
            )));
        }
        let rec = RegistryRecord {
            id: random_id(10),
            name: name.to_owned(),
            account: acct.to_owned(),
            created_at: now,
        };
        self.registries.insert(rec.id.clone(), rec.clone());
        Ok(rec)
    }

    /// `GET /v2/registries` of `acct`, oldest first.
    pub fn registry_list(&self, acct: &str) -> Vec<&RegistryRecord> {
        let mut v: Vec<&RegistryRecord> =
            self.registries.values().filter(|r| r.account == acct).collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        v
    }

    /// `DELETE /v2/registries/{id}`: refused while a live pod or an endpoint uses it.
    pub fn registry_delete(&mut self, id: &str) -> ApiResult<()> {
        if !self.registries.contains_key(id) {
            return Err(ApiError::not_found());
        }
        let pods = self.pods.values().any(|p| {
            p.status != runpod::types::pods::PodStatus::Terminated
                && p.registry.as_deref() == Some(id)
        });
        if pods || self.endpoints.values().any(|e| e.registry.as_deref() == Some(id)) {
            return Err(ApiError::bad_request(
                "registry credential is in use by a pod or endpoint",
            ));
        }
        self.registries.remove(id);
        Ok(())
    }

    /// `POST /v2/network-volumes`.
    pub fn volume_create(
        &mut self,
        acct: &str,
        req: CreateNetworkVolumeRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<NetworkVolume> {
        if !self.catalog.data_centers.iter().any(|d| d.id == req.data_center.0) {
            return Err(ApiError::bad_request(format!("unknown data center: {}", req.data_center)));
        }
        let id = random_id(10);
        let v = NetworkVolume {
            id: NetworkVolumeId::new(&id),
            name: req.name,
            size: req.size,
            data_center: req.data_center,
            kind: req.kind.unwrap_or(VolumeType::Standard),
        };
        crate::private_dir(&self.state_dir.join("volumes").join(&id)).ok();
        self.ledger.own(Kind::NetworkVolume, &id, acct);
        self.volumes.insert(
            id,
            VolumeRecord { volume: v.clone(), account: acct.to_owned(), billed_until: now },
        );
        Ok(v)
    }

    /// `PATCH /v2/network-volumes/{id}`: rename or grow.
    pub fn volume_update(
        &mut self,
        id: &str,
        req: UpdateNetworkVolumeRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<NetworkVolume> {
        self.accrue_volume(id, now);
        let v = &mut self.volumes.get_mut(id).ok_or_else(ApiError::not_found)?.volume;
        if let Some(size) = req.size {
            if size < v.size {
                return Err(ApiError::bad_request(format!(
                    "network volume size can only grow: {} GB < current {} GB",
                    size, v.size
                )));
            }
            v.size = size;
        }
        if let Some(n) = req.name {
            v.name = n;
        }
        Ok(v.clone())
    }

    /// `DELETE /v2/network-volumes/{id}`: refused while a live pod mounts it.
    pub fn volume_delete(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        if !self.volumes.contains_key(id) {
            return Err(ApiError::not_found());
        }
        let in_use = self.pods.values().any(|p| {
            p.status != runpod::types::pods::PodStatus::Terminated
                && p.mounts
                    .network
                    .as_ref()
                    .is_some_and(|n| n.iter().any(|m| m.volume_id.as_str() == id))
        });
        if in_use {
            return Err(ApiError::bad_request(
                "network volume is attached to a pod; terminate the pod first",
            ));
        }
        self.accrue_volume(id, now);
        self.volumes.remove(id);
        Ok(())
    }

    pub(crate) fn accrue_volume(&mut self, id: &str, to: DateTime<Utc>) {
        let Some(v) = self.volumes.get_mut(id) else { return };
        let from = v.billed_until;
        v.billed_until = to.max(from);
        let rate = v.volume.size as f64 * VOLUME_GB_MONTH / 730.0;
        self.charge(Kind::NetworkVolume, id, from, to, rate, Split { gpu_share: 0.0 });
    }
}

impl World {
    /// `GET /v2/queued-pods`, a page of `acct`'s entries, oldest first.
    pub fn queued_list(
        &self,
        acct: &str,
        page: &crate::paging::PageRequest,
    ) -> runpod::types::queued_pods::ListQueuedPodsResponse {
        let mut v: Vec<&QueuedRecord> =
            self.queued_pods.values().filter(|q| q.account == acct).collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.entry.id.cmp(&b.entry.id)));
        let keyed = v
            .into_iter()
            .map(|q| (crate::paging::created_key(q.created_at.timestamp_millis(), &q.entry.id), q))
            .collect();
        let (shown, pagination) = page.page(keyed);
        runpod::types::queued_pods::ListQueuedPodsResponse {
            queued_pods: shown.into_iter().map(|q| q.entry.clone()).collect(),
            pagination,
        }
    }

    /// `DELETE /v2/queued-pods/{id}`: a waiting entry is cancelled; one that already ended
    /// (deployed, failed, expired, cancelled) cannot be (stricter reading: RunPod's docs say
    /// only "Cancelled. Response has no body.").
    pub fn queued_cancel(&mut self, id: &str) -> ApiResult<()> {
        use runpod::types::queued_pods::QueuedPodStatus;
        let q = self.queued_pods.get_mut(id).ok_or_else(ApiError::not_found)?;
        if q.entry.status != QueuedPodStatus::Queued {
            return Err(ApiError::bad_request(format!(
                "queued pod {id} is {}; only a QUEUED entry can be cancelled",
                q.entry.status
            )));
        }
        q.entry.status = QueuedPodStatus::Cancelled;
        Ok(())
    }

    /// Seeds a queued entry for `acct` (tests: RunPod's way of creating one is unconfirmed).
    pub fn queued_seed(&mut self, acct: &str, name: &str, now: DateTime<Utc>) -> String {
        let id = random_id(25);
        let entry = runpod::types::queued_pods::QueuedPod {
            id: id.clone(),
            status: runpod::types::queued_pods::QueuedPodStatus::Queued,
            name: Some(name.to_owned()),
            pod_id: None,
            failure_reason: None,
            queue: Some(serde_json::json!({"startsAt": crate::clock::rfc3339(now)})),
        };
        self.queued_pods
            .insert(id.clone(), QueuedRecord { entry, account: acct.to_owned(), created_at: now });
        id
    }
}
