//! Every provider an install can use, as one type: the server holds `Engine<AnyProvider>` (one
//! engine per account, each over the provider its account is on), so nothing above the engine
//! names a provider.
//!
//! Adding a provider is a module implementing [`Provider`] and [`Serverless`] (the defaults say
//! what it does not support) and one variant here; `each!` is the only match over the variants,
//! so every method below delegates without naming them. An enum rather than `dyn Provider`:
//! the traits' methods return `impl Future` (not object-safe), and a match costs nothing.

use super::{
    Deployment, EndpointInfo, Headroom, KeyCheck, PodInfo, PodLogQuery, PodLogStream, PodRequest,
    Provider, ProviderError, PublishedPort, QueueHealth, RemoteJob, RunOptions, Serverless,
    TemplateInfo, VolumeInfo,
};
use crate::{AwsProvider, RunPodProvider};
use podwarden_core::gpu::GpuOffer;
use podwarden_core::money::Money;

/// One of the providers podwarden speaks.
#[derive(Debug, Clone)]
pub enum AnyProvider {
    /// RunPod's REST, GraphQL and serverless APIs (or the emulator's).
    RunPod(RunPodProvider),
    /// AWS's EC2 (pods only).
    Aws(AwsProvider),
}

impl From<RunPodProvider> for AnyProvider {
    fn from(p: RunPodProvider) -> Self {
        Self::RunPod(p)
    }
}

impl From<AwsProvider> for AnyProvider {
    fn from(p: AwsProvider) -> Self {
        Self::Aws(p)
    }
}

/// `$body` with `$p` bound to the provider inside `$any`, whichever it is.
macro_rules! each {
    ($any:expr, $p:ident => $body:expr) => {
        match $any {
            AnyProvider::RunPod($p) => $body,
            AnyProvider::Aws($p) => $body,
        }
    };
}

impl AnyProvider {
    /// The same provider under another account's key: a user's own (bring your own key).
    pub fn with_key(&self, key: String) -> Result<Self, ProviderError> {
        each!(self, p => p.with_key(key).map(Self::from))
    }
}

impl Provider for AnyProvider {
    async fn offers(&self) -> Result<Vec<GpuOffer>, ProviderError> {
        each!(self, p => p.offers().await)
    }
    async fn list_pods(&self) -> Result<Vec<PodInfo>, ProviderError> {
        each!(self, p => p.list_pods().await)
    }
    async fn create_pod(&self, req: &PodRequest) -> Result<PodInfo, ProviderError> {
        each!(self, p => p.create_pod(req).await)
    }
    async fn terminate_pod(&self, id: &str) -> Result<(), ProviderError> {
        each!(self, p => p.terminate_pod(id).await)
    }
    async fn network_volume_data_center(&self, id: &str) -> Result<String, ProviderError> {
        each!(self, p => p.network_volume_data_center(id).await)
    }
    async fn account_headroom(&self) -> Result<Option<Headroom>, ProviderError> {
        each!(self, p => p.account_headroom().await)
    }
    async fn list_queued_pods(&self) -> Result<Vec<(String, String)>, ProviderError> {
        each!(self, p => p.list_queued_pods().await)
    }
    async fn cancel_queued_pod(&self, id: &str) -> Result<(), ProviderError> {
        each!(self, p => p.cancel_queued_pod(id).await)
    }
    async fn pod_billed(
        &self,
        pod_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Option<Money>, ProviderError> {
        each!(self, p => p.pod_billed(pod_id, since_ms, until_ms).await)
    }
    async fn create_network_volume(
        &self,
        name: &str,
        size_gb: i64,
        data_center: &str,
    ) -> Result<VolumeInfo, ProviderError> {
        each!(self, p => p.create_network_volume(name, size_gb, data_center).await)
    }
    async fn list_network_volumes(&self) -> Result<Vec<VolumeInfo>, ProviderError> {
        each!(self, p => p.list_network_volumes().await)
    }
    async fn delete_network_volume(&self, id: &str) -> Result<(), ProviderError> {
        each!(self, p => p.delete_network_volume(id).await)
    }
    async fn put_secret(&self, name: &str, value: &str) -> Result<Option<String>, ProviderError> {
        each!(self, p => p.put_secret(name, value).await)
    }
    async fn list_secrets(&self) -> Result<Vec<(String, String)>, ProviderError> {
        each!(self, p => p.list_secrets().await)
    }
    async fn delete_secret(&self, id: &str) -> Result<(), ProviderError> {
        each!(self, p => p.delete_secret(id).await)
    }
    fn rest_base(&self) -> Option<String> {
        each!(self, p => p.rest_base())
    }
    fn bills_pods(&self) -> bool {
        each!(self, p => p.bills_pods())
    }
    fn min_billed_ms(&self) -> i64 {
        each!(self, p => p.min_billed_ms())
    }
    async fn pod_logs(&self, pod_id: &str, q: PodLogQuery) -> Result<PodLogStream, ProviderError> {
        each!(self, p => p.pod_logs(pod_id, q).await)
    }
    async fn check_key(&self) -> KeyCheck {
        each!(self, p => p.check_key().await)
    }
    async fn pod_ports(&self, pod_id: &str) -> Result<Vec<PublishedPort>, ProviderError> {
        each!(self, p => p.pod_ports(pod_id).await)
    }
    async fn private_network_data_centers(&self) -> Result<Option<Vec<String>>, ProviderError> {
        each!(self, p => p.private_network_data_centers().await)
    }
}

impl Serverless for AnyProvider {
    async fn list_endpoints(&self) -> Result<Vec<EndpointInfo>, ProviderError> {
        each!(self, p => p.list_endpoints().await)
    }
    async fn list_templates(&self) -> Result<Vec<TemplateInfo>, ProviderError> {
        each!(self, p => p.list_templates().await)
    }
    async fn create_template(&self, d: &Deployment) -> Result<TemplateInfo, ProviderError> {
        each!(self, p => p.create_template(d).await)
    }
    async fn update_template(&self, id: &str, d: &Deployment) -> Result<(), ProviderError> {
        each!(self, p => p.update_template(id, d).await)
    }
    async fn create_endpoint(
        &self,
        d: &Deployment,
        template_id: &str,
    ) -> Result<EndpointInfo, ProviderError> {
        each!(self, p => p.create_endpoint(d, template_id).await)
    }
    async fn update_endpoint(&self, id: &str, d: &Deployment) -> Result<(), ProviderError> {
        each!(self, p => p.update_endpoint(id, d).await)
    }
    async fn delete_endpoint(&self, id: &str) -> Result<(), ProviderError> {
        each!(self, p => p.delete_endpoint(id).await)
    }
    async fn delete_template(&self, id: &str) -> Result<(), ProviderError> {
        each!(self, p => p.delete_template(id).await)
    }
    async fn serverless_price(
        &self,
        pools: &[String],
        count: i64,
    ) -> Result<(String, Money), ProviderError> {
        each!(self, p => p.serverless_price(pools, count).await)
    }
    async fn submit_job(
        &self,
        endpoint_id: &str,
        input: &serde_json::Value,
        opts: &RunOptions,
    ) -> Result<RemoteJob, ProviderError> {
        each!(self, p => p.submit_job(endpoint_id, input, opts).await)
    }
    async fn job_status(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> Result<RemoteJob, ProviderError> {
        each!(self, p => p.job_status(endpoint_id, job_id).await)
    }
    async fn job_stream(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> Result<Vec<serde_json::Value>, ProviderError> {
        each!(self, p => p.job_stream(endpoint_id, job_id).await)
    }
    async fn cancel_job(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> Result<RemoteJob, ProviderError> {
        each!(self, p => p.cancel_job(endpoint_id, job_id).await)
    }
    async fn retry_job(&self, endpoint_id: &str, job_id: &str) -> Result<RemoteJob, ProviderError> {
        each!(self, p => p.retry_job(endpoint_id, job_id).await)
    }
    async fn endpoint_billed(
        &self,
        endpoint_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<Money>, ProviderError> {
        each!(self, p => p.endpoint_billed(endpoint_id, from_ms, to_ms).await)
    }
    async fn balance(&self) -> Result<Option<f64>, ProviderError> {
        each!(self, p => p.balance().await)
    }
    async fn endpoint_health(&self, endpoint_id: &str) -> Result<QueueHealth, ProviderError> {
        each!(self, p => p.endpoint_health(endpoint_id).await)
    }
}

#[cfg(test)]
mod tests {
    /// The traits' methods with a default (`Err(unsupported)`, `None`) would compile undelegated
    /// and quietly disable a feature: every method of both traits must be delegated here.
    #[test]
    fn every_provider_method_is_delegated() {
        let methods = |src: &str, trait_: &str| -> Vec<String> {
            let start = src.find(&format!("pub trait {trait_}")).expect("the trait");
            let body = &src[start..];
            let end = body.find("\n}\n").expect("its end");
            body[..end]
                .lines()
                .filter_map(|l| l.trim().strip_prefix("fn "))
                .map(|l| l.split(['(', '<']).next().unwrap_or_default().to_owned())
                .collect()
        };
        let ours = include_str!("any.rs");
        let wanted = [
            methods(include_str!("mod.rs"), "Provider"),
            methods(include_str!("serverless.rs"), "Serverless"),
        ]
        .concat();
        assert!(wanted.len() > 30, "found the traits' methods: {wanted:?}");
        for m in wanted {
            assert!(
                ours.contains(&format!("fn {m}(")) && ours.contains(&format!("p.{m}(")),
                "AnyProvider does not delegate `{m}`"
            );
        }
    }
}
