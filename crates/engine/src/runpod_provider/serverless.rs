//! The `Serverless` half of `RunPodProvider`: templates and endpoints (REST v2), serverless jobs
//! (the per-endpoint job API), queue health.

use super::*;

fn template_body(d: &Deployment) -> CreateTemplateRequest {
    CreateTemplateRequest {
        name: d.template_name.clone(),
        image: d.image.clone(),
        args: d.command.clone(),
        disk: d.disk_gb,
        env: Some(d.env.clone()),
        serverless: Some(true),
        registry: d.registry_auth.clone(),
        ..CreateTemplateRequest::default()
    }
}

fn endpoint_gpu(d: &Deployment) -> CreateEndpointGpuConfig {
    CreateEndpointGpuConfig {
        pools: Some(d.gpu_pools.iter().map(|p| p.as_str().into()).collect()),
        excluded_types: None,
        count: Some(d.gpu_count),
        allowed_cuda_versions: None,
        min_cuda_version: None,
    }
}

fn endpoint_workers(d: &Deployment) -> EndpointWorkers {
    EndpointWorkers {
        min: Some(d.workers_min),
        max: Some(d.workers_max),
        idle_timeout: Some(d.idle_timeout_secs),
    }
}

fn flashboot(d: &Deployment) -> FlashBoot {
    if d.flashboot { FlashBoot::FlashBoot } else { FlashBoot::Off }
}

impl Serverless for RunPodProvider {
    async fn list_endpoints(&self) -> Result<Vec<EndpointInfo>, ProviderError> {
        Ok(self
            .client
            .list_endpoints()
            .await
            .map_err(map_err)?
            .into_iter()
            .map(|e| EndpointInfo {
                id: e.id.0,
                name: e.name,
                template_id: e.template_id.map(|t| t.0),
                image: e.image,
                args: e.args,
                env: e.env,
                workers_max: Some(e.workers.max),
            })
            .collect())
    }

    async fn list_templates(&self) -> Result<Vec<TemplateInfo>, ProviderError> {
        Ok(self
            .client
            .list_templates()
            .await
            .map_err(map_err)?
            .into_iter()
            .map(|t| TemplateInfo { id: t.id.0, name: t.name })
            .collect())
    }

    async fn create_template(&self, d: &Deployment) -> Result<TemplateInfo, ProviderError> {
        let t = self.client.create_template(&template_body(d)).await.map_err(map_err)?;
        Ok(TemplateInfo { id: t.id.0, name: t.name })
    }

    async fn update_template(&self, id: &str, d: &Deployment) -> Result<(), ProviderError> {
        let b = template_body(d);
        let req = UpdateTemplateRequest {
            image: Some(b.image),
            args: b.args,
            disk: b.disk,
            env: b.env,
            registry: b.registry,
            ..UpdateTemplateRequest::default()
        };
        self.client.update_template(&TemplateId::new(id), &req).await.map(|_| ()).map_err(map_err)
    }

    async fn create_endpoint(
        &self,
        d: &Deployment,
        template_id: &str,
    ) -> Result<EndpointInfo, ProviderError> {
        let mut req =
            CreateEndpointRequest::from_template(d.name.clone(), TemplateId::new(template_id));
        req.gpu = Some(endpoint_gpu(d));
        req.workers = Some(endpoint_workers(d));
        req.timeout = Some(d.execution_timeout_ms);
        req.flashboot = Some(flashboot(d));
        req.network_volumes = d.network_volume.as_ref().map(|v| vec![NetworkVolumeId::new(v)]);
        let e = self.client.create_endpoint(&req).await.map_err(map_err)?;
        Ok(EndpointInfo {
            id: e.id.0,
            name: e.name,
            template_id: e.template_id.map(|t| t.0),
            image: e.image,
            args: e.args,
            env: e.env,
            workers_max: Some(e.workers.max),
        })
    }

    /// RunPod resolves a template into the endpoint once (at create, or when a PATCH names it):
    /// editing the template alone changes nothing. So the PATCH carries the container settings
    /// themselves (and the template), which works whichever way RunPod reads it.
    async fn update_endpoint(&self, id: &str, d: &Deployment) -> Result<(), ProviderError> {
        let b = template_body(d);
        let req = UpdateEndpointRequest {
            image: Some(b.image),
            args: Some(b.args.unwrap_or_default()),
            env: b.env,
            disk: b.disk,
            registry: b.registry,
            gpu: Some(endpoint_gpu(d)),
            workers: Some(endpoint_workers(d)),
            timeout: Some(d.execution_timeout_ms),
            flashboot: Some(flashboot(d)),
            // Never `[]`: RunPod refuses to clear an endpoint's volumes (as pods' `network: []`,
            // API-NOTES corrections 2026-12-05); no volume means "leave them as they are".
            network_volumes: d.network_volume.as_ref().map(|v| vec![NetworkVolumeId::new(v)]),
            ..UpdateEndpointRequest::default()
        };
        self.client.update_endpoint(&EndpointId::new(id), &req).await.map(|_| ()).map_err(map_err)
    }

    async fn delete_endpoint(&self, id: &str) -> Result<(), ProviderError> {
        gone_is_ok(self.client.delete_endpoint(&EndpointId::new(id)).await)
    }

    async fn delete_template(&self, id: &str) -> Result<(), ProviderError> {
        gone_is_ok(self.client.delete_template(&TemplateId::new(id)).await)
    }

    async fn serverless_price(
        &self,
        pools: &[String],
        count: i64,
    ) -> Result<(String, Money), ProviderError> {
        let gpus =
            self.client.list_gpu_types(&GpuCatalogQuery::default()).await.map_err(map_err)?;
        gpus.into_iter()
            .filter(|g| g.pool.as_ref().is_some_and(|p| pools.iter().any(|x| x == p.as_str())))
            .filter_map(|g| g.price.serverless.map(|p| (g.id.0, Money::from_usd(p * count as f64))))
            .min_by_key(|(_, m)| m.0)
            .ok_or_else(|| {
                ProviderError::Rejected(format!(
                    "no serverless GPU is offered in pools {}",
                    pools.join(", ")
                ))
            })
    }

    async fn submit_job(
        &self,
        endpoint_id: &str,
        input: &serde_json::Value,
        o: &RunOptions,
    ) -> Result<RemoteJob, ProviderError> {
        let mut req = RunRequest::new(input.clone());
        if o.execution_timeout_ms.is_some() || o.ttl_ms.is_some() || o.low_priority {
            req.policy = Some(JobPolicy {
                execution_timeout: o.execution_timeout_ms,
                ttl: o.ttl_ms,
                low_priority: o.low_priority.then_some(true),
            });
        }
        let ep = self.client.serverless(&EndpointId::new(endpoint_id));
        let r = if o.sync { ep.run_sync(&req, None).await } else { ep.run(&req).await };
        r.map(remote).map_err(map_err)
    }

    async fn job_status(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> Result<RemoteJob, ProviderError> {
        self.client
            .serverless(&EndpointId::new(endpoint_id))
            .status(&job_id.into())
            .await
            .map(remote)
            .map_err(map_err)
    }

    async fn job_stream(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> Result<Vec<serde_json::Value>, ProviderError> {
        let r = self
            .client
            .serverless(&EndpointId::new(endpoint_id))
            .stream(&job_id.into())
            .await
            .map_err(map_err)?;
        Ok(r.stream.into_iter().map(|c| c.output).collect())
    }

    async fn cancel_job(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> Result<RemoteJob, ProviderError> {
        self.client
            .serverless(&EndpointId::new(endpoint_id))
            .cancel(&job_id.into())
            .await
            .map(remote)
            .map_err(map_err)
    }

    async fn retry_job(&self, endpoint_id: &str, job_id: &str) -> Result<RemoteJob, ProviderError> {
        self.client
            .serverless(&EndpointId::new(endpoint_id))
            .retry(&job_id.into())
            .await
            .map(remote)
            .map_err(map_err)
    }

    async fn endpoint_billed(
        &self,
        endpoint_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<Money>, ProviderError> {
        let q = runpod::types::billing::BillingQuery {
            start_time: Some(rfc3339(from_ms)),
            end_time: Some(rfc3339(to_ms)),
            bucket_size: Some("hour".into()),
            serverless_id: Some(endpoint_id.to_owned()),
            ..Default::default()
        };
        let bill = self.client.serverless_billing(&q).await.map_err(map_err)?;
        let mine: Vec<f64> = bill
            .records
            .iter()
            .filter(|r| r.serverless_id == endpoint_id)
            .map(|r| r.total_amount)
            .collect();
        // No record is no bill yet (RunPod's history lags), never a bill of $0.
        Ok((!mine.is_empty()).then(|| Money::from_usd(mine.iter().sum())))
    }

    async fn balance(&self) -> Result<Option<f64>, ProviderError> {
        Ok(Some(self.client.myself().await.map_err(map_err)?.client_balance))
    }

    async fn endpoint_health(&self, endpoint_id: &str) -> Result<QueueHealth, ProviderError> {
        let h = self
            .client
            .serverless(&EndpointId::new(endpoint_id))
            .health()
            .await
            .map_err(map_err)?;
        Ok(QueueHealth {
            in_queue: h.jobs.in_queue,
            in_progress: h.jobs.in_progress,
            idle: h.workers.idle,
            running: h.workers.running,
            initializing: h.workers.initializing,
            throttled: h.workers.throttled,
            unhealthy: h.workers.unhealthy,
        })
    }
}

fn remote(s: JobState) -> RemoteJob {
    RemoteJob {
        id: s.id.0,
        status: match s.status {
            JobStatus::InQueue => RemoteStatus::InQueue,
            JobStatus::InProgress => RemoteStatus::InProgress,
            JobStatus::Completed => RemoteStatus::Completed,
            JobStatus::Failed => RemoteStatus::Failed,
            JobStatus::Cancelled => RemoteStatus::Cancelled,
            JobStatus::TimedOut => RemoteStatus::TimedOut,
            JobStatus::Unknown => RemoteStatus::InQueue,
        },
        delay_ms: s.delay_time.map(|v| v as i64),
        execution_ms: s.execution_time.map(|v| v as i64),
        output: s.output,
        error: s.error,
    }
}
