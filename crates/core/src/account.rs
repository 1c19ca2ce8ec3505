//! The provider account a job, endpoint, volume or serverless job lives on, fixed when it is
//! made: the operator's (`hosted`) or a user's own key (`byok:<user id>`). Rows store the name
//! (`Display`); each account has its own engine, and an engine acts only on its account's rows.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Whose provider account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Account {
    /// The operator's key.
    Hosted,
    /// A user's own key (bring your own key), by user id.
    Byok(String),
}

const HOSTED: &str = "hosted";
const BYOK: &str = "byok:";

impl Account {
    /// The user whose own key it is (`None` for hosted).
    pub fn byok_user(&self) -> Option<&str> {
        match self {
            Self::Hosted => None,
            Self::Byok(u) => Some(u),
        }
    }

    pub fn is_hosted(&self) -> bool {
        *self == Self::Hosted
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hosted => f.write_str(HOSTED),
            Self::Byok(u) => write!(f, "{BYOK}{u}"),
        }
    }
}

/// A stored account name that is neither `hosted` nor `byok:<user>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown account {0:?} (expected `hosted` or `byok:<user id>`)")]
pub struct UnknownAccount(pub String);

impl FromStr for Account {
    type Err = UnknownAccount;
    fn from_str(s: &str) -> Result<Self, UnknownAccount> {
        match s.strip_prefix(BYOK) {
            Some(u) if !u.is_empty() => Ok(Self::Byok(u.to_owned())),
            Some(_) => Err(UnknownAccount(s.to_owned())),
            None if s == HOSTED => Ok(Self::Hosted),
            None => Err(UnknownAccount(s.to_owned())),
        }
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
        for a in [Account::Hosted, Account::Byok("u1".into()), Account::Byok("a:b".into())] {
            assert_eq!(a.to_string().parse::<Account>(), Ok(a.clone()));
        }
        assert_eq!(Account::Byok("u1".into()).to_string(), "byok:u1");
        for bad in ["", "Hosted", "byok:", "byok", "runpod"] {
            assert!(bad.parse::<Account>().is_err(), "{bad:?}");
        }
    }
}
