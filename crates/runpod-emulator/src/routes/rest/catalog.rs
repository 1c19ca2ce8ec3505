//! `/v2/catalog`: GPU types and data centers, their queries checked as the spec says.

use super::*;

/// The query of `/v2/catalog/gpus[/{id}]`, checked as the spec says: `include` takes at most
/// one value (AVAILABILITY); `product` is required with it and valid only with it, and so are
/// `count`, `cloud`, `countryCodes`, `cudaVersions` and `minCudaVersion` (400 otherwise); a
/// malformed value is a 422; `cudaVersions` and `minCudaVersion` exclude each other (400).
fn gpu_filter(q: Option<&str>) -> ApiResult<Option<AvailabilityScope>> {
    let q = query_map(q);
    let list = |name: &str| {
        q.get(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
    };
    let invalid = |name: &str, why: String| {
        ApiError::validation(vec![format!("query parameter '{name}': {why}")])
    };
    let include = list("include").unwrap_or_default();
    if include.len() > 1 {
        return Err(invalid("include", format!("at most 1 item allowed, got {}", include.len())));
    }
    if let Some(other) = include.iter().find(|i| i.as_str() != "AVAILABILITY") {
        return Err(invalid(
            "include",
            format!("value must be one of 'AVAILABILITY', got {other:?}"),
        ));
    }
    let availability = !include.is_empty();
    let scoped = ["product", "count", "cloud", "countryCodes", "cudaVersions", "minCudaVersion"];
    if !availability {
        if let Some(p) = scoped.iter().find(|p| q.contains_key(**p)) {
            return Err(ApiError::bad_request(format!(
                "`{p}` is valid only with include=AVAILABILITY"
            )));
        }
        return Ok(None);
    }
    let products = list("product").unwrap_or_default();
    if products.is_empty() {
        return Err(ApiError::bad_request(
            "`product` is required with `include=AVAILABILITY` (POD, CLUSTER or SERVERLESS)",
        ));
    }
    if let Some(p) =
        products.iter().find(|p| !["POD", "CLUSTER", "SERVERLESS"].contains(&p.as_str()))
    {
        return Err(invalid(
            "product",
            format!("value must be one of 'POD', 'CLUSTER', 'SERVERLESS', got {p:?}"),
        ));
    }
    let cloud = match q.get("cloud").map(String::as_str) {
        None | Some("SECURE") => Some(Cloud::Secure),
        Some("COMMUNITY") => Some(Cloud::Community),
        Some(c) => {
            return Err(invalid(
                "cloud",
                format!("value must be one of 'SECURE', 'COMMUNITY', got {c:?}"),
            ));
        }
    };
    let countries = list("countryCodes").unwrap_or_default();
    if let Some(c) =
        countries.iter().find(|c| c.len() != 2 || !c.chars().all(|x| x.is_ascii_uppercase()))
    {
        return Err(invalid(
            "countryCodes",
            format!("{c:?} is not an upper-case ISO 3166-1 alpha-2 code"),
        ));
    }
    let cuda_versions = list("cudaVersions").unwrap_or_default();
    let is_num = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
    if let Some(v) = cuda_versions
        .iter()
        .find(|v| !v.split_once('.').is_some_and(|(a, b)| is_num(a) && is_num(b)))
    {
        return Err(invalid("cudaVersions", format!("{v:?} is not major.minor (e.g. 12.8)")));
    }
    let min_cuda = match q.get("minCudaVersion") {
        None => None,
        Some(v) => {
            let (a, b) = v.split_once('.').map_or((v.as_str(), None), |(a, b)| (a, Some(b)));
            match (
                a.parse::<u32>().ok().filter(|_| is_num(a)),
                b.map(|b| b.parse::<u32>().ok().filter(|_| is_num(b))),
            ) {
                (Some(maj), None) => Some((maj, None)),
                (Some(maj), Some(Some(min))) => Some((maj, Some(min))),
                _ => {
                    return Err(invalid(
                        "minCudaVersion",
                        format!("{v:?} is not a major or major.minor version"),
                    ));
                }
            }
        }
    };
    if !cuda_versions.is_empty() && min_cuda.is_some() {
        return Err(ApiError::bad_request(
            "`cudaVersions` and `minCudaVersion` are mutually exclusive",
        ));
    }
    let count = query_int(&q, "count", 1, i64::from(u16::MAX))?.unwrap_or(1);
    Ok(Some(AvailabilityScope { count, cloud, countries, cuda_versions, min_cuda }))
}

pub(crate) async fn list_gpus(
    State(s): S,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListGpuTypesResponse>> {
    let scope = gpu_filter(q.as_deref())?;
    Ok(Json(ListGpuTypesResponse {
        gpus: s.with_world(|w, now| {
            w.refresh_capacity(now);
            w.catalog
                .gpus
                .iter()
                // Countries narrow the list to GPU types deployable there (spec).
                .filter(|g| scope.as_ref().is_none_or(|sc| sc.deployable(&w.catalog, g)))
                .map(|g| w.catalog.gpu_type(g, scope.as_ref()))
                .collect()
        }),
    }))
}

pub(crate) async fn get_gpu(
    State(s): S,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let scope = gpu_filter(q.as_deref())?;
    s.with_world(|w, _| {
        w.catalog
            .offer(&id)
            .map(|g| Json(w.catalog.gpu_type(g, scope.as_ref())).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

/// The query of `/v2/catalog/datacenters`: `include` expansions, and filters that combine with
/// AND (`regions` OR within, `networkVolumeTypes` and `compliance` AND within, `globalNetwork`).
struct DcFilter {
    gpus: bool,
    regions: Vec<String>,
    volume_types: Vec<String>,
    compliance: Vec<String>,
    global_network: Option<bool>,
}

const REGIONS: [&str; 9] = [
    "NORTH_AMERICA",
    "SOUTH_AMERICA",
    "EUROPE",
    "ASIA",
    "MIDDLE_EAST",
    "AFRICA",
    "OCEANIA",
    "ANTARCTICA",
    "UNKNOWN",
];
const COMPLIANCE: [&str; 12] = [
    "GDPR",
    "ISO_IEC_27001",
    "ISO_14001",
    "PCI_DSS",
    "HITRUST",
    "SOC_1_TYPE_2",
    "SOC_2_TYPE_2",
    "SOC_3_TYPE_2",
    "ITAR",
    "FISMA_HIGH",
    "HIPAA",
    "RENEWABLE",
];

fn dc_filter(q: Option<&str>) -> ApiResult<DcFilter> {
    let q = query_map(q);
    let list = |name: &str, allowed: &[&str]| -> ApiResult<Vec<String>> {
        let v: Vec<String> = q
            .get(name)
            .map(|v| {
                v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        match v.iter().find(|x| !allowed.contains(&x.as_str())) {
            Some(bad) => Err(ApiError::validation(vec![format!(
                "query parameter '{name}': value must be one of {}, got {bad:?}",
                allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
            )])),
            None => Ok(v),
        }
    };
    let include = list("include", &["GPU_AVAILABILITY", "CPU_AVAILABILITY"])?;
    let global_network = match q.get("globalNetwork").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::validation(vec![format!(
                "query parameter 'globalNetwork': got {v:?}, want boolean"
            )]));
        }
    };
    Ok(DcFilter {
        gpus: include.iter().any(|i| i == "GPU_AVAILABILITY"),
        regions: list("regions", &REGIONS)?,
        volume_types: list("networkVolumeTypes", &["STANDARD", "HIGH_PERFORMANCE"])?,
        compliance: list("compliance", &COMPLIANCE)?,
        global_network,
    })
}

impl DcFilter {
    fn keeps(&self, d: &crate::config::DataCenterConfig) -> bool {
        (self.regions.is_empty() || self.regions.contains(&d.region))
            && self.volume_types.iter().all(|t| d.network_volume_types.contains(t))
            && self.compliance.iter().all(|c| d.compliance.contains(c))
            && self.global_network.is_none_or(|g| g == d.global_network)
    }
}

pub(crate) async fn list_data_centers(
    State(s): S,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListDataCentersResponse>> {
    let f = dc_filter(q.as_deref())?;
    Ok(Json(ListDataCentersResponse {
        data_centers: s.with_world(|w, _| {
            w.catalog
                .data_centers
                .iter()
                .filter(|d| f.keeps(d))
                .map(|d| w.catalog.data_center(d, f.gpus))
                .collect()
        }),
    }))
}

pub(crate) async fn get_data_center(
    State(s): S,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let f = dc_filter(q.as_deref())?;
    s.with_world(|w, _| {
        w.catalog
            .data_centers
            .iter()
            .find(|d| d.id == id)
            .map(|d| Json(w.catalog.data_center(d, f.gpus)).into_response())
            .ok_or_else(ApiError::not_found)
    })
}
