//! The error body every failed request answers with, and its machine-readable codes.

use super::*;

/// What went wrong, as a program decides on it (`ErrorBody::code`); the message says it to a
/// person. A code this client does not know reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadBody,
    BadNetworkVolume,
    BadPath,
    BadQuery,
    BadRange,
    BadWebhook,
    Busy,
    Conflict,
    DatabaseBusy,
    EndpointNotReady,
    EndpointsOnKey,
    Forbidden,
    ImageUnavailable,
    InsufficientBalance,
    Internal,
    InvalidAmount,
    InvalidApiKey,
    InvalidBody,
    InvalidDuration,
    InvalidInvite,
    InvalidKeyFormat,
    InvalidMetrics,
    InvalidName,
    InvalidNote,
    InvalidQuery,
    InvalidReport,
    InvalidSpec,
    JobsRunningOnKey,
    KeyUnreadable,
    MalformedJson,
    NoGpuFits,
    NoKey,
    NoOperatorKey,
    NoPod,
    NoProvider,
    NoS3Api,
    NoS3Key,
    NoSuchAttempt,
    NoSuchVolume,
    NotFound,
    NotReady,
    PayloadTooLarge,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    RateLimited,
    S3Error,
    SpendCapReached,
    TooDeep,
    TooLarge,
    TooManyPoints,
    TooManyValues,
    Unauthorized,
    UnknownGpuType,
    VolumeFull,
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadBody => "bad_body",
            Self::BadNetworkVolume => "bad_network_volume",
            Self::BadPath => "bad_path",
            Self::BadQuery => "bad_query",
            Self::BadRange => "bad_range",
            Self::BadWebhook => "bad_webhook",
            Self::Busy => "busy",
            Self::Conflict => "conflict",
            Self::DatabaseBusy => "database_busy",
            Self::EndpointNotReady => "endpoint_not_ready",
            Self::EndpointsOnKey => "endpoints_on_key",
            Self::Forbidden => "forbidden",
            Self::ImageUnavailable => "image_unavailable",
            Self::InsufficientBalance => "insufficient_balance",
            Self::Internal => "internal",
            Self::InvalidAmount => "invalid_amount",
            Self::InvalidApiKey => "invalid_api_key",
            Self::InvalidBody => "invalid_body",
            Self::InvalidDuration => "invalid_duration",
            Self::InvalidInvite => "invalid_invite",
            Self::InvalidKeyFormat => "invalid_key_format",
            Self::InvalidMetrics => "invalid_metrics",
            Self::InvalidName => "invalid_name",
            Self::InvalidNote => "invalid_note",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidReport => "invalid_report",
            Self::InvalidSpec => "invalid_spec",
            Self::JobsRunningOnKey => "jobs_running_on_key",
            Self::KeyUnreadable => "key_unreadable",
            Self::MalformedJson => "malformed_json",
            Self::NoGpuFits => "no_gpu_fits",
            Self::NoKey => "no_key",
            Self::NoOperatorKey => "no_operator_key",
            Self::NoPod => "no_pod",
            Self::NoProvider => "no_provider",
            Self::NoS3Api => "no_s3_api",
            Self::NoS3Key => "no_s3_key",
            Self::NoSuchAttempt => "no_such_attempt",
            Self::NoSuchVolume => "no_such_volume",
            Self::NotFound => "not_found",
            Self::NotReady => "not_ready",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ProviderError => "provider_error",
            Self::ProviderRateLimited => "provider_rate_limited",
            Self::ProviderRejected => "provider_rejected",
            Self::RateLimited => "rate_limited",
            Self::S3Error => "s3_error",
            Self::SpendCapReached => "spend_cap_reached",
            Self::TooDeep => "too_deep",
            Self::TooLarge => "too_large",
            Self::TooManyPoints => "too_many_points",
            Self::TooManyValues => "too_many_values",
            Self::Unauthorized => "unauthorized",
            Self::UnknownGpuType => "unknown_gpu_type",
            Self::VolumeFull => "volume_full",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}
