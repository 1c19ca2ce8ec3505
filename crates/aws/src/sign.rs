//! SigV4 signing by `aws-sigv4`: the headers (`authorization`, `x-amz-date`, and
//! `x-amz-security-token` for temporary credentials) that make a request AWS's.

use crate::{Credentials, Error, Result};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sigv4};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

/// The headers to add to a POST of `body` to `url` with `headers` (which are signed too).
pub(crate) fn sign(
    credentials: &Credentials,
    region: &str,
    service: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>> {
    let bad = |e: &dyn std::fmt::Display| Error::Config(format!("cannot sign an AWS request: {e}"));
    let identity: Identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        credentials.secret(),
        credentials.token().map(str::to_owned),
        None,
        "podwarden",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| bad(&e))?
        .into();
    let request = SignableRequest::new(
        "POST",
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| bad(&e))?;
    let (instructions, _signature) = sigv4(request, &params).map_err(|e| bad(&e))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_signed_for_its_service_and_region_with_its_headers() {
        let mut c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let headers = [("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
        let signed = sign(
            &c,
            "eu-west-1",
            "ec2",
            "https://ec2.eu-west-1.amazonaws.com/",
            &headers,
            b"Action=DescribeInstances",
        )
        .expect("signed");
        let get = |name: &str| signed.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let auth = get("authorization").expect("an authorization header");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{auth}");
        assert!(auth.contains("/eu-west-1/ec2/aws4_request"), "{auth}");
        assert!(
            auth.contains("content-type") && auth.contains("host") && auth.contains("x-amz-date"),
            "{auth}"
        );
        assert!(!auth.contains("wJalr"), "the secret signs, it is never sent");
        assert!(get("x-amz-date").is_some());
        assert_eq!(get("x-amz-security-token"), None);
        c.session_token = Some("FwoGZXIvYXdzEXAMPLE".to_owned().into());
        let signed =
            sign(&c, "eu-west-1", "sts", "https://sts.eu-west-1.amazonaws.com/", &headers, b"")
                .expect("signed");
        assert!(
            signed.iter().any(|(k, v)| k == "x-amz-security-token" && v == "FwoGZXIvYXdzEXAMPLE")
        );
    }
}
