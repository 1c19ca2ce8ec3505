//! `/v2/billing`: pods, serverless, network volumes, clusters; windows and buckets checked as
//! the spec says.

use super::*;

/// The resolved window of a billing query: `startTime` snapped down and `endTime` snapped up to
/// bucket boundaries, or the last `lastN` buckets ending with the current one (spec: the two
/// forms are mutually exclusive).
struct BillingWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: Bucket,
}

fn billing_window(
    q: &std::collections::HashMap<String, String>,
    now: DateTime<Utc>,
) -> ApiResult<BillingWindow> {
    let time = |name: &str| -> ApiResult<Option<DateTime<Utc>>> {
        q.get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                    ApiError::validation(vec![format!(
                        "query parameter '{name}': {v:?} is not an RFC 3339 date-time"
                    )])
                })
            })
            .transpose()
    };
    let bucket_name = q.get("bucketSize").map_or("day", String::as_str);
    let Some(bucket) = Bucket::parse(bucket_name) else {
        return Err(ApiError::validation(vec![format!(
            "query parameter 'bucketSize': value must be one of 'hour', 'day', 'week', 'month', 'year', got {bucket_name:?}"
        )]));
    };
    let (start, end) = (time("startTime")?, time("endTime")?);
    let last_n = query_int(q, "lastN", 1, 100_000)?;
    if let Some(n) = last_n {
        if start.is_some() || end.is_some() {
            return Err(ApiError::bad_request(
                "lastN is mutually exclusive with startTime/endTime; provide one or the other",
            ));
        }
        let current = bucket.floor(now);
        return Ok(BillingWindow {
            start: bucket.back(current, (n - 1) as u32),
            end: bucket.next(current),
            bucket,
        });
    }
    let end = bucket.ceil(end.unwrap_or(now));
    let start = bucket.floor(start.unwrap_or(now - TimeDelta::days(30)));
    if start > end {
        return Err(ApiError::bad_request("startTime must not be after endTime"));
    }
    Ok(BillingWindow { start, end, bucket })
}

fn echo(w: &BillingWindow, pod: Option<&str>, serverless: Option<&str>) -> BillingQueryEcho {
    BillingQueryEcho {
        start_time: rfc3339(w.start),
        end_time: rfc3339(w.end),
        bucket_size: w.bucket.name().into(),
        pod_id: pod.map(str::to_owned),
        serverless_id: serverless.map(str::to_owned),
    }
}

/// Runs `f` on the world with a billing window parsed from the query, after a tick (so the
/// records include everything billed up to now).
fn with_billing<R>(
    s: &Arc<Shared>,
    q: Option<&str>,
    f: impl FnOnce(
        &crate::world::World,
        &std::collections::HashMap<String, String>,
        &BillingWindow,
    ) -> R,
) -> ApiResult<R> {
    let q = query_map(q);
    s.with_world(|w, now| {
        w.tick(now);
        let win = billing_window(&q, now)?;
        Ok(f(w, &q, &win))
    })
}

pub(crate) async fn pod_billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListPodBillingResponse>> {
    with_billing(&s, q.as_deref(), |w, q, win| {
        let pod = q.get("podId").map(String::as_str);
        let records: Vec<PodBillingRecord> = w
            .ledger
            .records(&a, Kind::Pod, win.start, win.end, win.bucket, pod)
            .into_iter()
            .map(|(id, t, a)| PodBillingRecord {
                start_time: rfc3339(t),
                end_time: rfc3339(win.bucket.next(t)),
                pod_id: id,
                total_amount: a.total(),
                gpu_amount: a.gpu,
                cpu_amount: 0.0,
                disk_amount: a.disk,
            })
            .collect();
        let mut totals = PodBillingAmounts::default();
        for r in &records {
            totals.total_amount += r.total_amount;
            totals.gpu_amount += r.gpu_amount;
            totals.disk_amount += r.disk_amount;
        }
        let unique = records
            .iter()
            .map(|r| r.pod_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        Json(ListPodBillingResponse {
            metadata: PodBillingMetadata {
                query: echo(win, pod, None),
                record_count: records.len() as i64,
                unique_pod_count: unique,
                totals,
            },
            records,
        })
    })
}

pub(crate) async fn serverless_billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListServerlessBillingResponse>> {
    with_billing(&s, q.as_deref(), |w, q, win| {
        let ep = q.get("serverlessId").map(String::as_str);
        let records: Vec<ServerlessBillingRecord> = w
            .ledger
            .records(&a, Kind::Serverless, win.start, win.end, win.bucket, ep)
            .into_iter()
            .map(|(id, t, a)| ServerlessBillingRecord {
                start_time: rfc3339(t),
                end_time: rfc3339(win.bucket.next(t)),
                serverless_id: id,
                total_amount: a.total(),
                gpu_amount: a.gpu,
                cpu_amount: 0.0,
                disk_amount: a.disk,
                fee_amount: 0.0,
            })
            .collect();
        let mut totals = ServerlessBillingAmounts::default();
        for r in &records {
            totals.total_amount += r.total_amount;
            totals.gpu_amount += r.gpu_amount;
            totals.disk_amount += r.disk_amount;
        }
        let unique = records
            .iter()
            .map(|r| r.serverless_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        Json(ListServerlessBillingResponse {
            metadata: ServerlessBillingMetadata {
                query: echo(win, None, ep),
                record_count: records.len() as i64,
                unique_serverless_count: unique,
                totals,
            },
            records,
        })
    })
}

fn query_echo(win: &BillingWindow) -> Value {
    json!({"startTime": rfc3339(win.start), "endTime": rfc3339(win.end), "bucketSize": win.bucket.name()})
}

/// `GET /v2/billing`: every resource family's spend per bucket.
pub(crate) async fn billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |w, _, win| {
        const FIELDS: [&str; 14] = [
            "totalAmount",
            "podGpuAmount",
            "podCpuAmount",
            "podDiskAmount",
            "serverlessGpuAmount",
            "serverlessCpuAmount",
            "serverlessDiskAmount",
            "serverlessFeeAmount",
            "storageStandardAmount",
            "storageHighPerformanceAmount",
            "endpointAmount",
            "clusterGpuAmount",
            "clusterDiskAmount",
            "clusterNetworkingAmount",
        ];
        let mut buckets: std::collections::BTreeMap<
            DateTime<Utc>,
            std::collections::HashMap<&str, f64>,
        > = Default::default();
        let mut add = |t: DateTime<Utc>, field: &'static str, v: f64| {
            let b = buckets.entry(t).or_default();
            *b.entry(field).or_default() += v;
            *b.entry("totalAmount").or_default() += v;
        };
        for (_, t, am) in w.ledger.records(&a, Kind::Pod, win.start, win.end, win.bucket, None) {
            add(t, "podGpuAmount", am.gpu);
            add(t, "podDiskAmount", am.disk);
        }
        for (_, t, am) in
            w.ledger.records(&a, Kind::Serverless, win.start, win.end, win.bucket, None)
        {
            add(t, "serverlessGpuAmount", am.gpu);
            add(t, "serverlessDiskAmount", am.disk);
        }
        for (_, t, am) in
            w.ledger.records(&a, Kind::NetworkVolume, win.start, win.end, win.bucket, None)
        {
            add(t, "storageStandardAmount", am.total());
        }
        let amounts = |m: &std::collections::HashMap<&str, f64>| {
            Value::Object(
                FIELDS
                    .iter()
                    .map(|f| ((*f).to_owned(), json!(m.get(f).copied().unwrap_or(0.0))))
                    .collect(),
            )
        };
        let mut totals = std::collections::HashMap::new();
        let records: Vec<Value> = buckets
            .iter()
            .map(|(t, m)| {
                for (k, v) in m {
                    *totals.entry(*k).or_insert(0.0) += v;
                }
                let mut r = amounts(m);
                r["startTime"] = json!(rfc3339(*t));
                r["endTime"] = json!(rfc3339(win.bucket.next(*t)));
                r
            })
            .collect();
        Json(
            json!({"records": records, "metadata": {"query": query_echo(win), "recordCount": records.len(), "totals": amounts(&totals)}}),
        )
    })
}

/// `GET /v2/billing/endpoints`: RunPod's public endpoints, which the emulator does not offer.
pub(crate) async fn endpoint_billing(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |_, _, win| {
        Json(
            json!({"records": [], "metadata": {"query": query_echo(win), "recordCount": 0, "totals": {"totalAmount": 0.0}}}),
        )
    })
}

/// `GET /v2/billing/network-volumes`.
pub(crate) async fn volume_billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |w, q, win| {
        let vol = q.get("networkVolumeId").map(String::as_str);
        let rows = w.ledger.records(&a, Kind::NetworkVolume, win.start, win.end, win.bucket, vol);
        let total: f64 = rows.iter().map(|r| r.2.total()).sum();
        let unique =
            rows.iter().map(|r| r.0.as_str()).collect::<std::collections::BTreeSet<_>>().len();
        let records: Vec<Value> = rows
            .iter()
            .map(|(id, t, am)| {
                json!({"startTime": rfc3339(*t), "endTime": rfc3339(win.bucket.next(*t)), "networkVolumeId": id,
                       "totalAmount": am.total(), "standardAmount": am.total(), "highPerformanceAmount": 0.0})
            })
            .collect();
        let mut query = query_echo(win);
        query["networkVolumeId"] = json!(vol);
        Json(
            json!({"records": records, "metadata": {"query": query, "recordCount": records.len(), "uniqueNetworkVolumeCount": unique,
            "totals": {"totalAmount": total, "standardAmount": total, "highPerformanceAmount": 0.0}}}),
        )
    })
}

/// `GET /v2/billing/clusters`: Instant Clusters are not emulated, so there is never a record.
pub(crate) async fn cluster_billing(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |_, q, win| {
        let mut query = query_echo(win);
        query["clusterId"] = json!(q.get("clusterId"));
        Json(
            json!({"records": [], "metadata": {"query": query, "recordCount": 0, "uniqueClusterCount": 0,
            "totals": {"totalAmount": 0.0, "gpuAmount": 0.0, "diskAmount": 0.0, "networkingAmount": 0.0}}}),
        )
    })
}
