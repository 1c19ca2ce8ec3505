//! The REST side of pods besides create: read, list, update (which resets the pod), and the stop/start/restart/reset actions.

use super::*;

impl World {
    /// A live (not terminated) pod.
    pub fn pod_live(&self, id: &str) -> ApiResult<&PodRecord> {
        self.pods
            .get(id)
            .filter(|p| p.status != PodStatus::Terminated)
            .ok_or_else(ApiError::not_found)
    }

    /// `GET /v2/pods` rendered straight to JSON (`{"pods":[...]}`), without cloning records.
    pub fn pod_list_json(
        &self,
        acct: &str,
        page: &crate::paging::PageRequest,
        now: DateTime<Utc>,
    ) -> Vec<u8> {
        let keyed = self
            .live_pods_sorted(acct)
            .into_iter()
            .map(|p| (crate::paging::created_key(p.created_at.timestamp_millis(), &p.id), p))
            .collect();
        let (shown, pagination) = page.page(keyed);
        let pods: Vec<PodView<'_>> = shown.into_iter().map(|p| p.view(now)).collect();
        let mut out = Vec::with_capacity(64 + pods.len() * 512);
        // Serializing borrowed views of our own data cannot fail.
        let _ = serde_json::to_writer(&mut out, &ListView { pods, pagination });
        out
    }

    pub(super) fn live_pods_sorted(&self, acct: &str) -> Vec<&PodRecord> {
        let mut v: Vec<&PodRecord> = self
            .pods
            .values()
            .filter(|p| p.account == acct && p.status != PodStatus::Terminated)
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        v
    }

    /// `PATCH /v2/pods/{id}`.
    pub fn pod_update(
        &mut self,
        id: &str,
        req: UpdatePodRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Pod> {
        let acct = self.owner(super::super::Res::Pod, id).unwrap_or_default().to_owned();
        let tpl = match &req.template_id {
            Some(t) => {
                let t = self
                    .templates
                    .get(t.as_str())
                    .filter(|t| t.account == acct)
                    .ok_or_else(ApiError::not_found)?;
                if t.template.serverless {
                    return Err(ApiError::new(
                        422,
                        "a serverless template cannot be applied to a pod",
                    ));
                }
                Some(t.template.clone())
            }
            None => None,
        };
        if req.global_networking == Some(true) {
            // The rule of create: it takes effect at the next start, but is refused now.
            let pod = self.pod_live(id)?;
            self.check_global_networking(pod.gpu.as_ref().map(|g| g.0.as_str()))?;
        }
        let pod = self
            .pods
            .get_mut(id)
            .filter(|p| p.status != PodStatus::Terminated)
            .ok_or_else(ApiError::not_found)?;
        if let Some(m) = &req.mounts {
            if m.network.as_ref().is_some_and(|n| n.is_empty()) {
                return Err(ApiError::bad_request("clearing mounts is not supported"));
            }
            let had_network = pod.has_network_volume();
            if (m.persistent.is_some() && pod.mounts.persistent.is_none())
                || (m.network.is_some() && !had_network)
            {
                return Err(ApiError::bad_request("mount kind is fixed at create"));
            }
            if let (Some(new), Some(old)) = (
                m.network.as_ref().and_then(|n| n.first()),
                pod.mounts.network.as_ref().and_then(|n| n.first()),
            ) {
                if new.volume_id != old.volume_id {
                    return Err(ApiError::bad_request(
                        "the volumeId of a network mount is immutable",
                    ));
                }
            }
        }
        let before = (pod.image.clone(), pod.args.clone(), pod.env.clone());
        if let Some(t) = &tpl {
            pod.image = t.image.clone();
            pod.args = t.args.clone();
            pod.disk = t.disk;
            pod.ports = t.ports.clone();
        }
        if let Some(v) = req.name {
            pod.name = v;
        }
        if let Some(v) = req.image {
            pod.image = v;
        }
        if let Some(v) = req.args {
            pod.args = v;
        }
        if let Some(v) = req.disk {
            pod.disk = v;
        }
        if req.env.is_some() || tpl.is_some() {
            let mut env = tpl.map(|t| t.env).unwrap_or_default();
            env.extend(req.env.unwrap_or_default());
            pod.env = env;
        }
        if let Some(v) = req.ports {
            pod.ports = v;
        }
        if let Some(v) = req.registry {
            pod.registry = Some(v);
        }
        if let Some(v) = req.locked {
            pod.locked = v;
        }
        if let Some(v) = req.global_networking {
            // The address follows at the next container start (`private_net_at_start`).
            pod.global_networking = v;
        }
        if let Some(m) = req.mounts {
            if let Some(p) = m.persistent {
                pod.mounts.persistent = Some(p);
            }
            if let Some(n) = m.network {
                pod.mounts.network = Some(n);
            }
        }
        let changed = before != (pod.image.clone(), pod.args.clone(), pod.env.clone());
        if changed && pod.status == PodStatus::Running {
            // RunPod resets the container when its definition changes.
            self.pod_restart_container(id, now, "pod updated: restarting container");
        }
        Ok(self.pods[id].to_api(now))
    }

    /// `POST /v2/pods/{id}/action`.
    pub fn pod_action(
        &mut self,
        id: &str,
        action: PodAction,
        now: DateTime<Utc>,
    ) -> ApiResult<Pod> {
        self.tick_pod(id, now);
        let pod = self.pod_live(id)?;
        if !pod.actions().contains(&action) {
            return Err(ApiError::new(
                409,
                format!("cannot {} a pod in status {}", action.as_str(), pod.status),
            ));
        }
        if pod.locked && matches!(action, PodAction::Stop | PodAction::Restart) {
            return Err(ApiError::bad_request(
                "pod is locked: unlock it before stopping or restarting",
            ));
        }
        match action {
            PodAction::Stop => self.pod_stop(id, now)?,
            PodAction::Terminate => self.pod_terminate(id, now)?,
            PodAction::Start => self.pod_start(id, now)?,
            PodAction::Restart => {
                self.accrue_pod(id, now);
                self.pod_restart_container(id, now, "pod restart requested");
            }
            PodAction::Unknown => {
                return Err(ApiError::validation(vec![
                    "$.action: value must be one of 'start', 'stop', 'restart', 'terminate'".into(),
                ]));
            }
        }
        Ok(self.pods[id].to_api(now))
    }
}
