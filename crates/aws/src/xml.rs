//! Reading AWS's XML: lists (`<xSet><item>…</item></xSet>`) and error answers, EC2's
//! (`<Response><Errors><Error>`) and STS's (`<ErrorResponse><Error>`).

use crate::{Error, Service};
use serde::Deserialize;

/// A list as EC2 writes it: `<item>` elements (none when the set is empty or absent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Items<T> {
    #[serde(rename = "item", default = "Vec::new")]
    pub item: Vec<T>,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Self { item: Vec::new() }
    }
}

/// Parses `text` as `T`, or says which answer could not be read.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    service: Service,
    action: &str,
    text: &str,
) -> crate::Result<T> {
    quick_xml::de::from_str(text).map_err(|e| Error::Undecodable {
        service: service.name(),
        action: action.to_owned(),
        detail: format!("{e}: {}", text.chars().take(300).collect::<String>()),
    })
}

#[derive(Deserialize)]
struct Ec2Errors {
    #[serde(rename = "Errors")]
    errors: Ec2ErrorList,
}

#[derive(Deserialize)]
struct Ec2ErrorList {
    #[serde(rename = "Error", default)]
    error: Vec<ErrorBody>,
}

#[derive(Deserialize)]
struct StsError {
    #[serde(rename = "Error")]
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

/// The error an unsuccessful Query answer carries (its first, when several).
pub(crate) fn api_error(service: Service, action: &str, status: u16, text: &str) -> Error {
    let body = quick_xml::de::from_str::<Ec2Errors>(text)
        .ok()
        .and_then(|e| e.errors.error.into_iter().next())
        .or_else(|| quick_xml::de::from_str::<StsError>(text).ok().map(|e| e.error));
    match body {
        Some(b) => Error::Api {
            service: service.name(),
            action: action.to_owned(),
            code: b.code,
            message: b.message,
            status,
        },
        None => Error::Api {
            service: service.name(),
            action: action.to_owned(),
            code: format!("Http{status}"),
            message: text.chars().take(300).collect(),
            status,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_and_sts_errors_are_read_by_their_code() {
        let ec2 = "<?xml version=\"1.0\"?><Response><Errors><Error><Code>InsufficientInstanceCapacity</Code>\
                   <Message>We currently do not have sufficient g5.xlarge capacity</Message></Error></Errors>\
                   <RequestID>r1</RequestID></Response>";
        let e = api_error(Service::Ec2, "RunInstances", 500, ec2);
        assert!(e.is_capacity(), "{e}");
        assert_eq!(e.code(), Some("InsufficientInstanceCapacity"));
        let sts = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                   <Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>\
                   </Error><RequestId>r2</RequestId></ErrorResponse>";
        let e = api_error(Service::Sts, "GetCallerIdentity", 403, sts);
        assert!(e.is_auth(), "{e}");
        let odd = api_error(Service::Ec2, "RunInstances", 502, "<html>bad gateway</html>");
        assert_eq!(odd.code(), Some("Http502"));
    }

    #[test]
    fn an_empty_set_is_no_items() {
        #[derive(Deserialize)]
        struct R {
            #[serde(rename = "instancesSet", default)]
            set: Items<String>,
        }
        let r: R = quick_xml::de::from_str("<R><instancesSet/></R>").expect("parses");
        assert!(r.set.item.is_empty());
        let r: R = quick_xml::de::from_str(
            "<R><instancesSet><item>a</item><item>b</item></instancesSet></R>",
        )
        .expect("parses");
        assert_eq!(r.set.item, ["a", "b"]);
    }
}
