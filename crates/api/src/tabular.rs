//! podwarden's own tabular workload as its clients (the quickstart, the bot) deploy it.

use crate::types::EndpointSpec;
use std::time::Duration;

/// The tabular worker's predict endpoint over network volume `volume` (the models and datasets
/// it reads, the predictions it writes): at most one worker on a 24 GB GPU, none while idle for
/// `idle`, each job's `user` set by podwarden to the caller so it serves them only their own
/// prefix.
pub fn predict_endpoint(name: &str, image: &str, volume: &str, idle: Duration) -> EndpointSpec {
    let mut spec = EndpointSpec::new(name, image);
    spec.command = Some("podwarden-tabular --store /runpod-volume worker".into());
    spec.user_field = Some("user".into());
    spec.network_volume = Some(volume.into());
    spec.gpu.pools = vec!["ADA_24".into(), "AMPERE_24".into()];
    spec.workers.max = 1;
    spec.workers.idle_timeout = idle;
    spec.execution_timeout = Duration::from_secs(600);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predict_endpoint_is_valid_and_serves_each_caller_their_own_prefix() {
        let spec = predict_endpoint("predict", "img:1", "vol_1", Duration::from_secs(60));
        spec.validate().expect("a valid endpoint spec");
        assert_eq!((spec.workers.min, spec.workers.max), (0, 1), "scale to zero, one at most");
        assert_eq!(spec.user_field.as_deref(), Some("user"));
        assert_eq!(spec.network_volume.as_deref(), Some("vol_1"));
    }
}
