//! Serde types of RunPod's public contract.
//!
//! Responses are lenient (unknown fields ignored, nearly everything optional, enums with an
//! `Unknown` catch-all) because live RunPod returns fields its spec lacks. Request bodies are
//! strict (`deny_unknown_fields`) so the emulator can reject what RunPod rejects.

pub mod account;
pub mod billing;
pub mod catalog;
pub mod endpoints;
pub mod graphql;
pub mod logs;
pub mod network_volumes;
pub mod pagination;
pub mod pods;
pub mod problem;
pub mod queued_pods;
pub mod secrets;
pub mod serverless;
pub mod templates;
pub mod worker;

/// Declares a string enum with a lenient `Unknown` catch-all and its wire names.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant,)+
            /// A value this version does not know (RunPod adds values without notice).
            #[serde(other, rename = "UNKNOWN")]
            Unknown,
        }
        impl $name {
            /// Every value RunPod documents, in spec order.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown => "UNKNOWN",
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

/// `true` for `false`, for `skip_serializing_if`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
