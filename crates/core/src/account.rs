//! The provider account a job, endpoint, volume or serverless job lives on, fixed when it is
//! made: on RunPod the operator's (`hosted`) or a user's own key (`byok:<user id>`); on AWS the
//! operator's credentials (`aws:hosted`) or a user's own key pair (`aws:byok:<user id>`). Rows
//! store the name (`Display`; RunPod's names predate AWS and stay as they were); each account
//! has its own engine, and an engine acts only on its account's rows.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The clouds podwarden runs work on. A job spec names one (`provider = "aws"`), or the
/// install's default applies.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// RunPod: pods, serverless endpoints, network volumes.
    #[default]
    #[serde(rename = "runpod")]
    RunPod,
    /// AWS: EC2 GPU instances, data in S3. No serverless, no network volumes.
    Aws,
}

impl ProviderKind {
    /// The name a spec and the CLI use (`runpod`, `aws`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunPod => "runpod",
            Self::Aws => "aws",
        }
    }

    /// How people write it (`RunPod`, `AWS`).
    pub fn title(self) -> &'static str {
        match self {
            Self::RunPod => "RunPod",
            Self::Aws => "AWS",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "runpod" => Ok(Self::RunPod),
            "aws" => Ok(Self::Aws),
            _ => Err(format!("unknown provider {s:?}: expected `runpod` or `aws`")),
        }
    }
}

/// Whose provider account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Account {
    /// The operator's RunPod key.
    Hosted,
    /// A user's own RunPod key (bring your own key), by user id.
    Byok(String),
    /// AWS: the operator's credentials (`user: None`) or a user's own key pair.
    Aws { user: Option<String> },
}

const HOSTED: &str = "hosted";
const BYOK: &str = "byok:";
const AWS: &str = "aws:";

impl Account {
    /// The operator's account on `provider`.
    pub fn hosted_on(provider: ProviderKind) -> Self {
        match provider {
            ProviderKind::RunPod => Self::Hosted,
            ProviderKind::Aws => Self::Aws { user: None },
        }
    }

    /// `user`'s own account on `provider`.
    pub fn byok_on(provider: ProviderKind, user: &str) -> Self {
        match provider {
            ProviderKind::RunPod => Self::Byok(user.to_owned()),
            ProviderKind::Aws => Self::Aws { user: Some(user.to_owned()) },
        }
    }

    /// The user whose own key it is (`None` for the operator's).
    pub fn byok_user(&self) -> Option<&str> {
        match self {
            Self::Hosted | Self::Aws { user: None } => None,
            Self::Byok(u) | Self::Aws { user: Some(u) } => Some(u),
        }
    }

    /// On the operator's credentials (and money), whichever provider.
    pub fn is_hosted(&self) -> bool {
        self.byok_user().is_none()
    }

    /// The cloud it is on.
    pub fn provider(&self) -> ProviderKind {
        match self {
            Self::Hosted | Self::Byok(_) => ProviderKind::RunPod,
            Self::Aws { .. } => ProviderKind::Aws,
        }
    }

    /// How the API and the CLI name where work runs: `hosted` and `runpod` (a user's own key)
    /// as before AWS, `aws` and `aws (own key)` on AWS.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Hosted => "hosted",
            Self::Byok(_) => "runpod",
            Self::Aws { user: None } => "aws",
            Self::Aws { user: Some(_) } => "aws (own key)",
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hosted => f.write_str(HOSTED),
            Self::Byok(u) => write!(f, "{BYOK}{u}"),
            Self::Aws { user: None } => write!(f, "{AWS}{HOSTED}"),
            Self::Aws { user: Some(u) } => write!(f, "{AWS}{BYOK}{u}"),
        }
    }
}

/// A stored account name that is none of `hosted`, `byok:<user>`, `aws:hosted`, `aws:byok:<user>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown account {0:?} (expected `hosted`, `byok:<user id>`, `aws:hosted` or `aws:byok:<user id>`)"
)]
pub struct UnknownAccount(pub String);

impl FromStr for Account {
    type Err = UnknownAccount;
    fn from_str(s: &str) -> Result<Self, UnknownAccount> {
        let (aws, rest) = match s.strip_prefix(AWS) {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let user = match rest.strip_prefix(BYOK) {
            Some(u) if !u.is_empty() => Some(u.to_owned()),
            None if rest == HOSTED => None,
            _ => return Err(UnknownAccount(s.to_owned())),
        };
        Ok(match (aws, user) {
            (true, user) => Self::Aws { user },
            (false, None) => Self::Hosted,
            (false, Some(u)) => Self::Byok(u),
        })
    }
}

impl TryFrom<String> for Account {
    type Error = UnknownAccount;
    fn try_from(s: String) -> Result<Self, UnknownAccount> {
        s.parse()
    }
}

impl From<Account> for String {
    fn from(a: Account) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        for a in [
            Account::Hosted,
            Account::Byok("u1".into()),
            Account::Byok("a:b".into()),
            Account::Aws { user: None },
            Account::Aws { user: Some("u1".into()) },
        ] {
            assert_eq!(a.to_string().parse::<Account>(), Ok(a.clone()));
        }
        assert_eq!(Account::Byok("u1".into()).to_string(), "byok:u1");
        assert_eq!(Account::Aws { user: Some("u1".into()) }.to_string(), "aws:byok:u1");
        assert_eq!(Account::Aws { user: None }.to_string(), "aws:hosted");
        for bad in ["", "Hosted", "byok:", "byok", "runpod", "aws:", "aws:byok:", "aws:aws:hosted"]
        {
            assert!(bad.parse::<Account>().is_err(), "{bad:?}");
        }
    }

    /// Whose money and which cloud: the operator's on either provider is hosted (spend caps
    /// count it), a user's own key pair on AWS is BYOK.
    #[test]
    fn an_account_knows_its_cloud_and_whose_it_is() {
        let aws = Account::hosted_on(ProviderKind::Aws);
        assert!(aws.is_hosted() && aws.provider() == ProviderKind::Aws);
        let mine = Account::byok_on(ProviderKind::Aws, "u1");
        assert_eq!((mine.byok_user(), mine.provider()), (Some("u1"), ProviderKind::Aws));
        assert_eq!(Account::byok_on(ProviderKind::RunPod, "u1"), Account::Byok("u1".into()));
        assert_eq!("aws".parse(), Ok(ProviderKind::Aws));
        assert!("AWS".parse::<ProviderKind>().is_err());
    }
}
