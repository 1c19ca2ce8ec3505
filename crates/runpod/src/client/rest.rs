//! REST v2 calls: pods, endpoints, templates, network volumes, catalog, billing.

use super::retry::Idempotency::{self, Create, Idempotent, NonIdempotent};
use super::{Call, Client, Error, ErrorKind, to_body};
use crate::ids::{EndpointId, GpuTypeId, NetworkVolumeId, PodId, TemplateId};
use crate::types::billing::{BillingQuery, ListPodBillingResponse, ListServerlessBillingResponse};
use crate::types::catalog::{
    GpuCatalogQuery, GpuType, ListDataCentersResponse, ListGpuTypesResponse,
};
use crate::types::endpoints::{
    CreateEndpointRequest, Endpoint, ListEndpointWorkersResponse, ListEndpointsResponse,
    UpdateEndpointRequest,
};
use crate::types::logs::{LogEvent, LogLine, LogsQuery};
use crate::types::network_volumes::{
    CreateNetworkVolumeRequest, ListNetworkVolumesResponse, NetworkVolume,
    UpdateNetworkVolumeRequest,
};
use crate::types::pagination::Pagination;
use crate::types::pods::{
    CreatePodRequest, ListPodsResponse, Pod, PodAction, PodActionRequest, UpdatePodRequest,
};
use crate::types::templates::{
    CreateTemplateRequest, ListTemplatesResponse, Template, UpdateTemplateRequest,
};
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use reqwest::Method;
use serde::Serialize;
use url::Url;

/// The most pages one list walks (10 million items at RunPod's 1,000 a page).
const MAX_PAGES: usize = 10_000;

impl Client {
    fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<bytes::Bytes>,
        idem: Idempotency,
    ) -> Call {
        Call { operation, method, url, body, idem, timeout: None }
    }

    fn get(&self, operation: &'static str, url: Url) -> Call {
        self.call(operation, Method::GET, url, None, Idempotent)
    }

    /// Every item of a v2 list, page after page (at most `MAX_PAGES`): follows `pagination.nextCursor` until a page
    /// has none. A cursor seen before is an error, not the end (an inventory cut short would
    /// hide pods that bill).
    async fn all_pages<R: serde::de::DeserializeOwned, T>(
        &self,
        operation: &'static str,
        segments: &[&str],
        split: fn(R) -> (Vec<T>, Option<Pagination>),
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.rest(segments);
            if let Some(c) = &cursor {
                url.query_pairs_mut().append_pair("cursor", c);
            }
            let path = url.path().to_owned();
            let (items, page) = split(self.json(self.get(operation, url)).await?);
            out.extend(items);
            let broken = |detail: String| {
                let mut e = Error::new(ErrorKind::Undecodable, operation, "GET", path.clone());
                e.inner.detail = Some(detail);
                e
            };
            let Some(next) = page.as_ref().and_then(Pagination::next) else {
                if page.as_ref().is_some_and(|p| p.has_next_page == Some(true)) {
                    return Err(broken(
                        "RunPod said another page follows but gave no cursor".into(),
                    ));
                }
                return Ok(out);
            };
            if !seen.insert(next.to_owned()) || seen.len() > MAX_PAGES {
                return Err(broken(format!(
                    "RunPod repeated the page cursor {next:?}, or paged past {MAX_PAGES} pages"
                )));
            }
            cursor = Some(next.to_owned());
        }
    }

    // ---- pods ----

    /// `GET /v2/pods`: every pod of the account, every page.
    pub async fn list_pods(&self) -> Result<Vec<Pod>, Error> {
        self.all_pages("list pods", &["v2", "pods"], |r: ListPodsResponse| (r.pods, r.pagination))
            .await
    }

    /// `GET /v2/pods`, decoding only id, name, status, cost and data center (reconcilers), every
    /// page.
    pub async fn list_pods_brief(&self) -> Result<Vec<crate::types::pods::PodBrief>, Error> {
        self.all_pages("list pods", &["v2", "pods"], |r: crate::types::pods::ListPodsBrief| {
            (r.pods, r.pagination)
        })
        .await
    }

    /// `GET /v2/pods/{id}`.
    pub async fn get_pod(&self, id: &PodId) -> Result<Pod, Error> {
        self.json(self.get("get pod", self.rest(&["v2", "pods", id.as_str()]))).await
    }

    /// `POST /v2/pods`. A [`ErrorKind::MaybeCreated`] error means: look the pod up by name
    /// before creating it again.
    pub async fn create_pod(&self, req: &CreatePodRequest) -> Result<Pod, Error> {
        self.json(self.call(
            "create pod",
            Method::POST,
            self.rest(&["v2", "pods"]),
            to_body(req),
            Create,
        ))
        .await
    }

    /// `PATCH /v2/pods/{id}`.
    pub async fn update_pod(&self, id: &PodId, req: &UpdatePodRequest) -> Result<Pod, Error> {
        self.json(self.call(
            "update pod",
            Method::PATCH,
            self.rest(&["v2", "pods", id.as_str()]),
            to_body(req),
            NonIdempotent,
        ))
        .await
    }

    /// `DELETE /v2/pods/{id}`: terminate. Idempotent; a 404 means it is already gone.
    pub async fn delete_pod(&self, id: &PodId) -> Result<(), Error> {
        self.execute(self.call(
            "terminate pod",
            Method::DELETE,
            self.rest(&["v2", "pods", id.as_str()]),
            None,
            Idempotent,
        ))
        .await
        .map(|_| ())
    }

    /// `POST /v2/pods/{id}/action`. Returns the pod when RunPod sends it (200), `None` on 204.
    pub async fn pod_action(&self, id: &PodId, action: PodAction) -> Result<Option<Pod>, Error> {
        // stop/terminate converge, so retrying them is safe; start/restart are not repeated.
        let idem = if matches!(action, PodAction::Stop | PodAction::Terminate) {
            Idempotent
        } else {
            NonIdempotent
        };
        let operation = match action {
            PodAction::Start => "start pod",
            PodAction::Stop => "stop pod",
            PodAction::Restart => "restart pod",
            PodAction::Terminate | PodAction::Unknown => "terminate pod",
        };
        let url = self.rest(&["v2", "pods", id.as_str(), "action"]);
        self.json(self.call(
            operation,
            Method::POST,
            url,
            to_body(&PodActionRequest { action }),
            idem,
        ))
        .await
    }

    /// `GET /v2/pods/{id}/logs` as a stream of log lines (SSE). The stream ends when the
    /// server closes it; resume with `last_event_id` of the last line seen.
    pub async fn pod_logs(
        &self,
        id: &PodId,
        q: &LogsQuery,
    ) -> Result<impl Stream<Item = Result<LogLine, Error>> + use<>, Error> {
        let mut url = self.rest(&["v2", "pods", id.as_str(), "logs"]);
        {
            let mut qp = url.query_pairs_mut();
            if let Some(s) = &q.source {
                qp.append_pair("source", s);
            }
            if let Some(t) = q.tail {
                qp.append_pair("tail", &t.to_string());
            }
            if let Some(s) = &q.since {
                qp.append_pair("since", s);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let path = url.path().to_owned();
        let resp = self.open_stream("stream pod logs", url, q.last_event_id.as_deref()).await?;
        Ok(resp.bytes_stream().eventsource().filter_map(move |ev| {
            let path = path.clone();
            async move {
                match ev {
                    Ok(ev) if ev.data.is_empty() => None,
                    Ok(ev) => Some(
                        serde_json::from_str::<LogEvent>(&ev.data)
                            .map(|event| LogLine { id: ev.id, event })
                            .map_err(|e| {
                                let mut err = Error::new(
                                    ErrorKind::Undecodable,
                                    "stream pod logs",
                                    "GET",
                                    path,
                                );
                                err.inner.detail = Some(e.to_string());
                                err.inner.body = Some(bytes::Bytes::from(ev.data));
                                err
                            }),
                    ),
                    Err(e) => {
                        let mut err =
                            Error::new(ErrorKind::Transport, "stream pod logs", "GET", path);
                        err.inner.detail = Some(e.to_string());
                        Some(Err(err))
                    }
                }
            }
        }))
    }

    // ---- serverless endpoints ----

    /// `GET /v2/serverless`.
    pub async fn list_endpoints(&self) -> Result<Vec<Endpoint>, Error> {
        self.all_pages("list endpoints", &["v2", "serverless"], |r: ListEndpointsResponse| {
            (r.endpoints, r.pagination)
        })
        .await
    }

    /// `GET /v2/serverless/{id}`.
    pub async fn get_endpoint(&self, id: &EndpointId) -> Result<Endpoint, Error> {
        self.json(self.get("get endpoint", self.rest(&["v2", "serverless", id.as_str()]))).await
    }

    /// `POST /v2/serverless`.
    pub async fn create_endpoint(&self, req: &CreateEndpointRequest) -> Result<Endpoint, Error> {
        self.json(self.call(
            "create endpoint",
            Method::POST,
            self.rest(&["v2", "serverless"]),
            to_body(req),
            Create,
        ))
        .await
    }

    /// `PATCH /v2/serverless/{id}`.
    pub async fn update_endpoint(
        &self,
        id: &EndpointId,
        req: &UpdateEndpointRequest,
    ) -> Result<Endpoint, Error> {
        self.json(self.call(
            "update endpoint",
            Method::PATCH,
            self.rest(&["v2", "serverless", id.as_str()]),
            to_body(req),
            NonIdempotent,
        ))
        .await
    }

    /// `DELETE /v2/serverless/{id}`.
    pub async fn delete_endpoint(&self, id: &EndpointId) -> Result<(), Error> {
        self.execute(self.call(
            "delete endpoint",
            Method::DELETE,
            self.rest(&["v2", "serverless", id.as_str()]),
            None,
            Idempotent,
        ))
        .await
        .map(|_| ())
    }

    /// `GET /v2/serverless/{id}/workers`.
    pub async fn list_endpoint_workers(
        &self,
        id: &EndpointId,
    ) -> Result<ListEndpointWorkersResponse, Error> {
        self.json(
            self.get(
                "list endpoint workers",
                self.rest(&["v2", "serverless", id.as_str(), "workers"]),
            ),
        )
        .await
    }

    // ---- templates ----

    /// `GET /v2/templates`.
    pub async fn list_templates(&self) -> Result<Vec<Template>, Error> {
        self.all_pages("list templates", &["v2", "templates"], |r: ListTemplatesResponse| {
            (r.templates, r.pagination)
        })
        .await
    }

    /// `GET /v2/templates/{id}`.
    pub async fn get_template(&self, id: &TemplateId) -> Result<Template, Error> {
        self.json(self.get("get template", self.rest(&["v2", "templates", id.as_str()]))).await
    }

    /// `POST /v2/templates`.
    pub async fn create_template(&self, req: &CreateTemplateRequest) -> Result<Template, Error> {
        self.json(self.call(
            "create template",
            Method::POST,
            self.rest(&["v2", "templates"]),
            to_body(req),
            Create,
        ))
        .await
    }

    /// `PATCH /v2/templates/{id}`.
    pub async fn update_template(
        &self,
        id: &TemplateId,
        req: &UpdateTemplateRequest,
    ) -> Result<Template, Error> {
        self.json(self.call(
            "update template",
            Method::PATCH,
            self.rest(&["v2", "templates", id.as_str()]),
            to_body(req),
            NonIdempotent,
        ))
        .await
    }

    /// `DELETE /v2/templates/{id}`.
    pub async fn delete_template(&self, id: &TemplateId) -> Result<(), Error> {
        self.execute(self.call(
            "delete template",
            Method::DELETE,
            self.rest(&["v2", "templates", id.as_str()]),
            None,
            Idempotent,
        ))
        .await
        .map(|_| ())
    }

    // ---- network volumes ----

    /// `GET /v2/network-volumes`.
    pub async fn list_network_volumes(&self) -> Result<Vec<NetworkVolume>, Error> {
        self.all_pages(
            "list network volumes",
            &["v2", "network-volumes"],
            |r: ListNetworkVolumesResponse| (r.network_volumes, r.pagination),
        )
        .await
    }

    /// `GET /v2/network-volumes/{id}`.
    pub async fn get_network_volume(&self, id: &NetworkVolumeId) -> Result<NetworkVolume, Error> {
        self.json(
            self.get("get network volume", self.rest(&["v2", "network-volumes", id.as_str()])),
        )
        .await
    }

    /// `POST /v2/network-volumes`.
    pub async fn create_network_volume(
        &self,
        req: &CreateNetworkVolumeRequest,
    ) -> Result<NetworkVolume, Error> {
        self.json(self.call(
            "create network volume",
            Method::POST,
            self.rest(&["v2", "network-volumes"]),
            to_body(req),
            Create,
        ))
        .await
    }

    /// `PATCH /v2/network-volumes/{id}`.
    pub async fn update_network_volume(
        &self,
        id: &NetworkVolumeId,
        req: &UpdateNetworkVolumeRequest,
    ) -> Result<NetworkVolume, Error> {
        self.json(self.call(
            "update network volume",
            Method::PATCH,
            self.rest(&["v2", "network-volumes", id.as_str()]),
            to_body(req),
            NonIdempotent,
        ))
        .await
    }

    /// `DELETE /v2/network-volumes/{id}`.
    pub async fn delete_network_volume(&self, id: &NetworkVolumeId) -> Result<(), Error> {
        self.execute(self.call(
            "delete network volume",
            Method::DELETE,
            self.rest(&["v2", "network-volumes", id.as_str()]),
            None,
            Idempotent,
        ))
        .await
        .map(|_| ())
    }

    // ---- account ----

    /// `GET /v2/account/limits` (path *unconfirmed*; a 404 means this API has none).
    pub async fn account_limits(&self) -> Result<crate::types::account::AccountLimits, Error> {
        self.json(self.get("read account limits", self.rest(&["v2", "account", "limits"]))).await
    }

    /// `GET /v2/billing/balance` (path *unconfirmed*; a 404 means this API has none).
    pub async fn account_balance(&self) -> Result<crate::types::account::AccountBalance, Error> {
        self.json(self.get("read account balance", self.rest(&["v2", "billing", "balance"]))).await
    }

    // ---- queued pods ----

    /// `GET /v2/queued-pods`: every queued entry of the account (any status), every page.
    pub async fn list_queued_pods(
        &self,
    ) -> Result<Vec<crate::types::queued_pods::QueuedPod>, Error> {
        self.all_pages(
            "list queued pods",
            &["v2", "queued-pods"],
            |r: crate::types::queued_pods::ListQueuedPodsResponse| (r.queued_pods, r.pagination),
        )
        .await
    }

    /// `DELETE /v2/queued-pods/{id}`: cancels a queued entry (no body).
    pub async fn cancel_queued_pod(&self, id: &str) -> Result<(), Error> {
        self.execute(self.call(
            "cancel queued pod",
            Method::DELETE,
            self.rest(&["v2", "queued-pods", id]),
            None,
            Idempotent,
        ))
        .await
        .map(|_| ())
    }

    // ---- account secrets ----

    /// `POST /v2/account/secrets`: stores a write-only value pods reference from env.
    pub async fn create_secret(
        &self,
        req: &crate::types::secrets::CreateSecretRequest,
    ) -> Result<crate::types::secrets::Secret, Error> {
        self.json(self.call(
            "create secret",
            Method::POST,
            self.rest(&["v2", "account", "secrets"]),
            to_body(req),
            Create,
        ))
        .await
    }

    /// `GET /v2/account/secrets`: every secret's metadata (never a value), every page.
    pub async fn list_secrets(&self) -> Result<Vec<crate::types::secrets::Secret>, Error> {
        self.all_pages(
            "list secrets",
            &["v2", "account", "secrets"],
            |r: crate::types::secrets::ListSecretsResponse| (r.secrets, r.pagination),
        )
        .await
    }

    /// `DELETE /v2/account/secrets/{id}`.
    pub async fn delete_secret(&self, id: &str) -> Result<(), Error> {
        self.execute(self.call(
            "delete secret",
            Method::DELETE,
            self.rest(&["v2", "account", "secrets", id]),
            None,
            Idempotent,
        ))
        .await
        .map(|_| ())
    }

    // ---- catalog ----

    /// `GET /v2/catalog/gpus`: GPU types with prices (and stock with `include=AVAILABILITY`).
    pub async fn list_gpu_types(&self, q: &GpuCatalogQuery) -> Result<Vec<GpuType>, Error> {
        let url = with_query(self.rest(&["v2", "catalog", "gpus"]), q);
        let r: ListGpuTypesResponse = self.json(self.get("list GPU types", url)).await?;
        Ok(r.gpus)
    }

    /// `GET /v2/catalog/gpus/{id}`.
    pub async fn get_gpu_type(
        &self,
        id: &GpuTypeId,
        q: &GpuCatalogQuery,
    ) -> Result<GpuType, Error> {
        let url = with_query(self.rest(&["v2", "catalog", "gpus", id.as_str()]), q);
        self.json(self.get("get GPU type", url)).await
    }

    /// `GET /v2/catalog/datacenters?include=GPU_AVAILABILITY`.
    pub async fn list_data_centers(&self) -> Result<ListDataCentersResponse, Error> {
        let mut url = self.rest(&["v2", "catalog", "datacenters"]);
        url.query_pairs_mut().append_pair("include", "GPU_AVAILABILITY");
        self.json(self.get("list data centers", url)).await
    }

    // ---- billing ----

    /// `GET /v2/billing/pods`.
    pub async fn pod_billing(&self, q: &BillingQuery) -> Result<ListPodBillingResponse, Error> {
        let url = with_query(self.rest(&["v2", "billing", "pods"]), q);
        self.json(self.get("pod billing", url)).await
    }

    /// `GET /v2/billing/serverless`.
    pub async fn serverless_billing(
        &self,
        q: &BillingQuery,
    ) -> Result<ListServerlessBillingResponse, Error> {
        let url = with_query(self.rest(&["v2", "billing", "serverless"]), q);
        self.json(self.get("serverless billing", url)).await
    }
}

/// Adds a flat serde struct as query pairs (camelCase keys, `None` skipped).
fn with_query<Q: Serialize>(mut url: Url, q: &Q) -> Url {
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(q) {
        if !map.is_empty() {
            let mut qp = url.query_pairs_mut();
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => qp.append_pair(&k, &s),
                    serde_json::Value::Null => continue,
                    other => qp.append_pair(&k, &other.to_string()),
                };
            }
        }
    }
    url
}
