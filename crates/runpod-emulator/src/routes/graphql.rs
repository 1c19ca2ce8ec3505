//! The GraphQL subset still needed beside REST v2: `myself` (balance, spend rate, spend limit,
//! pods) and `gpuTypes` (with `lowestPrice`). Parsed and executed by async-graphql, so
//! aliases, fragments, variables and error shapes behave like a real GraphQL server.

use super::Caller;
use crate::Shared;
use crate::problem::{ApiError, ApiResult};
use async_graphql::{
    ComplexObject, Context, EmptyMutation, EmptySubscription, InputObject, Object, Schema,
    SimpleObject,
};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use runpod::types::pods::PodStatus;
use std::sync::{Arc, LazyLock};

#[derive(Debug, Clone, SimpleObject)]
struct GqlPod {
    id: String,
    name: String,
    desired_status: String,
    cost_per_hr: f64,
    gpu_count: i64,
    image_name: String,
    docker_args: String,
    machine_id: String,
}

#[derive(Debug, Clone, SimpleObject)]
struct GqlNetworkVolume {
    id: String,
    name: String,
    size: i64,
    data_center_id: String,
}

#[derive(Debug, Clone, SimpleObject)]
struct Myself {
    id: String,
    email: String,
    pub_key: String,
    network_volumes: Vec<GqlNetworkVolume>,
    client_balance: f64,
    current_spend_per_hr: f64,
    spend_limit: f64,
    pods: Vec<GqlPod>,
}

#[derive(Debug, Clone, SimpleObject)]
struct LowestPrice {
    minimum_bid_price: Option<f64>,
    uninterruptable_price: Option<f64>,
    stock_status: Option<String>,
    available_gpu_counts: Vec<i64>,
}

#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
struct GpuType {
    id: String,
    display_name: String,
    memory_in_gb: i64,
    manufacturer: String,
    max_gpu_count: i64,
    secure_cloud: bool,
    community_cloud: bool,
    secure_price: f64,
    community_price: f64,
    cuda_cores: i64,
    one_week_price: Option<f64>,
    one_month_price: Option<f64>,
    three_month_price: Option<f64>,
    /// Spot pricing is gone from RunPod's docs; always null here.
    community_spot_price: Option<f64>,
    secure_spot_price: Option<f64>,
    #[graphql(skip)]
    free_secure: i64,
    #[graphql(skip)]
    free_community: i64,
}

#[derive(Debug, InputObject)]
struct LowestPriceInput {
    gpu_count: Option<i64>,
    secure_cloud: Option<bool>,
}

#[ComplexObject]
impl GpuType {
    async fn lowest_price(&self, input: Option<LowestPriceInput>) -> LowestPrice {
        let secure = input.as_ref().and_then(|i| i.secure_cloud).unwrap_or(false);
        let count = input.as_ref().and_then(|i| i.gpu_count).unwrap_or(1).max(1);
        let free = if secure { self.free_secure } else { self.free_secure + self.free_community };
        let price = if secure || self.free_community == 0 {
            self.secure_price
        } else {
            self.community_price.min(self.secure_price)
        };
        LowestPrice {
            minimum_bid_price: None,
            uninterruptable_price: (free >= count).then_some(price * count as f64),
            stock_status: Some(
                match free {
                    f if f >= 7 => "High",
                    f if f >= 3 => "Medium",
                    f if f >= 1 => "Low",
                    _ => "None",
                }
                .to_owned(),
            ),
            available_gpu_counts: (1..=free.min(8)).collect(),
        }
    }
}

#[derive(Debug, InputObject)]
struct GpuTypeFilter {
    id: Option<String>,
}

/// A consistent view of the world taken before execution (resolvers never lock).
#[derive(Debug)]
struct Snapshot {
    myself: Myself,
    gpus: Vec<GpuType>,
}

struct Query;

#[Object]
impl Query {
    async fn myself(&self, ctx: &Context<'_>) -> async_graphql::Result<Myself> {
        Ok(ctx.data::<Snapshot>()?.myself.clone())
    }

    async fn gpu_types(
        &self,
        ctx: &Context<'_>,
        input: Option<GpuTypeFilter>,
    ) -> async_graphql::Result<Vec<GpuType>> {
        let id = input.and_then(|i| i.id);
        Ok(ctx
            .data::<Snapshot>()?
            .gpus
            .iter()
            .filter(|g| id.as_ref().is_none_or(|x| x == &g.id))
            .cloned()
            .collect())
    }
}

type EmuSchema = Schema<Query, EmptyMutation, EmptySubscription>;
static SCHEMA: LazyLock<EmuSchema> = LazyLock::new(|| {
    Schema::build(Query, EmptyMutation, EmptySubscription).limit_depth(12).finish()
});

fn snapshot(s: &Arc<Shared>, acct: &str) -> Snapshot {
    s.with_world(|w, now| {
        w.tick(now);
        let account = w.account(acct).cloned().unwrap_or_else(|| crate::world::Account {
            user_id: acct.to_owned(),
            balance: 0.0,
            spend_limit: 0.0,
            s3_secret: String::new(),
        });
        let pods = w
            .pods
            .values()
            .filter(|p| p.account == acct && p.status != PodStatus::Terminated)
            .map(|p| GqlPod {
                id: p.id.clone(),
                name: p.name.clone(),
                desired_status: if p.status == PodStatus::Exited {
                    "EXITED".into()
                } else {
                    "RUNNING".into()
                },
                cost_per_hr: p.current_rate(),
                gpu_count: p.gpu.as_ref().map_or(0, |g| g.1),
                image_name: p.image.clone(),
                docker_args: p.args.clone(),
                machine_id: format!("emu-{}", p.data_center.to_lowercase()),
            })
            .collect();
        let gpus = w
            .catalog
            .gpus
            .iter()
            .map(|g| {
                let (mut fs, mut fc) = (0, 0);
                for ((gid, _), st) in &w.catalog.free {
                    if gid == &g.id {
                        fs += st.secure;
                        fc += st.community;
                    }
                }
                GpuType {
                    id: g.id.clone(),
                    display_name: g.name.clone(),
                    memory_in_gb: g.memory_gb,
                    manufacturer: g.manufacturer.clone(),
                    max_gpu_count: g.max_count,
                    secure_cloud: g.stock.values().any(|s| s.secure > 0),
                    community_cloud: g.stock.values().any(|s| s.community > 0),
                    secure_price: g.secure_price,
                    community_price: g.community_price,
                    cuda_cores: 0,
                    one_week_price: None,
                    one_month_price: None,
                    three_month_price: None,
                    community_spot_price: None,
                    secure_spot_price: None,
                    free_secure: fs,
                    free_community: fc,
                }
            })
            .collect();
        Snapshot {
            myself: Myself {
                id: account.user_id.clone(),
                email: "emulator@example.invalid".into(),
                pub_key: String::new(),
                network_volumes: w
                    .volumes
                    .values()
                    .filter(|v| v.account == acct)
                    .map(|v| GqlNetworkVolume {
                        id: v.volume.id.0.clone(),
                        name: v.volume.name.clone(),
                        size: v.volume.size,
                        data_center_id: v.volume.data_center.0.clone(),
                    })
                    .collect(),
                client_balance: (account.balance * 100.0).round() / 100.0,
                current_spend_per_hr: w.current_spend_per_hr(acct),
                spend_limit: account.spend_limit,
                pods,
            },
            gpus,
        }
    })
}

pub(crate) async fn handle(
    State(s): State<Arc<Shared>>,
    Extension(Caller(acct)): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Json<async_graphql::Response>> {
    let req: async_graphql::Request = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "GraphQL request must be JSON {{\"query\": ..., \"variables\": ...}}: {e}"
        ))
    })?;
    let resp = SCHEMA.execute(req.data(snapshot(&s, &acct))).await;
    Ok(Json(resp))
}
