//! Open string newtypes for RunPod identifiers.
//!
//! RunPod adds GPU types, pools and data centers without notice (the docs list ids that the spec's
//! own enum lacks), so none of these is a closed enum: any string is accepted, and the `KNOWN_*`
//! lists serve validation hints and the emulator's default catalog.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps any string; RunPod's id spaces are open.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(/// A pod id, e.g. `xedezhzb9la3ye`.
    PodId);
string_id!(/// A serverless endpoint id.
    EndpointId);
string_id!(/// A template id.
    TemplateId);
string_id!(/// A network volume id.
    NetworkVolumeId);
string_id!(/// A GPU type id, e.g. `NVIDIA GeForce RTX 4090` (spaces and all).
    GpuTypeId);
string_id!(/// A data center id, e.g. `US-TX-3`.
    DataCenterId);
string_id!(/// A serverless GPU pool id, e.g. `ADA_24`.
    GpuPoolId);
string_id!(/// A serverless job id.
    JobId);
string_id!(/// A serverless worker id (the worker's `RUNPOD_POD_ID`).
    WorkerId);

/// GPU type ids RunPod's spec and docs name (a subset is enough for hints; the set is open).
pub const KNOWN_GPU_TYPE_IDS: &[&str] = &[
    "NVIDIA GeForce RTX 4090",
    "NVIDIA A40",
    "NVIDIA RTX A5000",
    "NVIDIA GeForce RTX 5090",
    "NVIDIA H100 80GB HBM3",
    "NVIDIA GeForce RTX 3090",
    "NVIDIA RTX A4500",
    "NVIDIA L40S",
    "NVIDIA H200",
    "NVIDIA L4",
    "NVIDIA RTX 6000 Ada Generation",
    "NVIDIA A100-SXM4-80GB",
    "NVIDIA RTX 4000 Ada Generation",
    "NVIDIA RTX A6000",
    "NVIDIA A100 80GB PCIe",
    "NVIDIA RTX 2000 Ada Generation",
    "NVIDIA RTX A4000",
    "NVIDIA RTX PRO 6000 Blackwell Server Edition",
    "NVIDIA H100 PCIe",
    "NVIDIA H100 NVL",
    "NVIDIA L40",
    "NVIDIA B200",
    "AMD Instinct MI300X OAM",
    "Tesla V100-PCIE-16GB",
    "Tesla T4",
];

/// Data center ids from RunPod's spec.
pub const KNOWN_DATA_CENTER_IDS: &[&str] = &[
    "EU-RO-1", "CA-MTL-1", "EU-SE-1", "US-IL-1", "EUR-IS-1", "EU-CZ-1", "US-TX-3", "EUR-IS-2",
    "US-KS-2", "US-GA-2", "US-WA-1", "US-TX-1", "CA-MTL-3", "EU-NL-1", "US-TX-4", "US-CA-2",
    "US-NC-1", "OC-AU-1", "US-DE-1", "EUR-IS-3", "CA-MTL-2", "AP-JP-1", "EUR-NO-1", "EU-FR-1",
    "US-KS-3", "US-GA-1",
];

/// Serverless GPU pool ids from RunPod's docs.
pub const KNOWN_GPU_POOL_IDS: &[&str] = &[
    "AMPERE_16",
    "AMPERE_24",
    "ADA_24",
    "AMPERE_48",
    "ADA_48_PRO",
    "AMPERE_80",
    "ADA_80_PRO",
    "HOPPER_141",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_transparent_strings_on_the_wire() {
        let id: GpuTypeId =
            serde_json::from_str("\"NVIDIA  RTX A4500\"").expect("any string parses");
        assert_eq!(id.as_str(), "NVIDIA  RTX A4500");
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "\"NVIDIA  RTX A4500\"");
        assert_eq!(format!("{id:?}"), "GpuTypeId(\"NVIDIA  RTX A4500\")");
    }
}
