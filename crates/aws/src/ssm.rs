//! SSM's parameters: where AWS publishes the current id of its public AMIs (the Deep Learning
//! AMIs under `/aws/service/deeplearning/ami/…`).

use crate::{Client, Error, Result, Service};

impl Client {
    /// A parameter's value; `is_not_found()` when there is none of that name.
    pub async fn ssm_parameter(&self, name: &str) -> Result<String> {
        let v = self
            .json(Service::Ssm, "AmazonSSM.GetParameter", &serde_json::json!({ "Name": name }))
            .await?;
        v["Parameter"]["Value"].as_str().map(str::to_owned).ok_or_else(|| Error::Undecodable {
            service: "ssm",
            action: "GetParameter".into(),
            detail: format!("no Parameter.Value in {v}"),
        })
    }
}
