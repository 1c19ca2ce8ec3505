//! The Docker Registry HTTP API v2, anonymously: does a tag's manifest exist? `doctor` asks it
//! of the example images; the server of each image jobs name on RunPod (`image_checks`).

use anyhow::Context;

/// `(registry host, repository, reference)` of an image reference; the reference is the tag,
/// or the digest of `name@sha256:…`. Docker Hub's names all mean its registry's host.
pub fn parse(image: &str) -> (String, String, String) {
    let untagged = |n: &'_ str| -> Option<(String, String)> {
        n.rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
    };
    let (name, reference) = match image.split_once('@') {
        Some((n, digest)) => {
            (untagged(n).map_or_else(|| n.to_owned(), |(n, _)| n), digest.to_owned())
        }
        None => untagged(image).unwrap_or_else(|| (image.to_owned(), "latest".to_owned())),
    };
    let mut parts = name.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    let hub = "registry-1.docker.io";
    match parts.next() {
        Some(rest) if ["docker.io", "index.docker.io", hub].contains(&first) => {
            let repo = if rest.contains('/') { rest.to_owned() } else { format!("library/{rest}") };
            (hub.into(), repo, reference)
        }
        Some(rest) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_owned(), rest.to_owned(), reference)
        }
        Some(_) => (hub.into(), name.clone(), reference),
        None => (hub.into(), format!("library/{name}"), reference),
    }
}

/// Whether `host` (`name[:port]`) may be asked: a registry on the public internet. A name that
/// resolves to a loopback, private or link-local address is not asked (the image check must not
/// let a user probe the server's own network), unless `local_ok` (tests: a registry on this
/// machine).
pub async fn askable(host: &str, local_ok: bool) -> bool {
    if local_ok {
        return true;
    }
    let with_port = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host.to_owned()
    } else {
        format!("{host}:443")
    };
    match tokio::net::lookup_host(with_port).await {
        Ok(addrs) => {
            let addrs: Vec<std::net::SocketAddr> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| public(a.ip()))
        }
        Err(_) => false,
    }
}

pub(crate) fn public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v) => {
            let [a, b, ..] = v.octets();
            !(v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.is_documentation()
                || (a == 100 && (b & 0xc0) == 64))
        }
        std::net::IpAddr::V6(v) => {
            !(v.is_loopback()
                || v.is_unspecified()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
                || v.to_ipv4_mapped().is_some_and(|m| !public(m.into())))
        }
    }
}

/// HEAD of the manifest, after the anonymous bearer-token dance the registry asks for. Only a
/// public host is asked, and only a public https token realm followed, unless `local_ok`; give
/// it a client that follows no redirects.
pub async fn manifest_exists(
    http: &reqwest::Client,
    image: &str,
    local_ok: bool,
) -> anyhow::Result<bool> {
    let (host, repo, tag) = parse(image);
    if !askable(&host, local_ok).await {
        anyhow::bail!("{host} is not a registry on the public internet; not asked");
    }
    // A registry on this machine speaks plain HTTP, as Docker assumes of `localhost` ones.
    let loopback = ["localhost", "127.", "[::1]"].iter().any(|p| host.starts_with(p));
    let scheme = if loopback { "http" } else { "https" };
    let url = format!("{scheme}://{host}/v2/{repo}/manifests/{tag}");
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, \
                  application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let first = http
        .head(&url)
        .header("Accept", accept)
        .send()
        .await
        .with_context(|| format!("HEAD {url}"))?;
    let resp = if first.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = first
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let field = |k: &str| {
            challenge
                .split(',')
                .find_map(|p| {
                    p.trim().trim_start_matches("Bearer ").strip_prefix(&format!("{k}=\""))
                })
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        let realm = field("realm").context("the registry's challenge names no token realm")?;
        // The realm is the registry's word: only an https URL on a public host is followed.
        let realm_host = url::Url::parse(&realm)
            .ok()
            .filter(|u| u.scheme() == "https" || local_ok)
            .and_then(|u| {
                u.host_str().map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(443)))
            });
        match realm_host {
            Some(h) if askable(&h, local_ok).await => {}
            _ => anyhow::bail!("the registry's token realm {realm:?} is not a public https URL"),
        }
        let mut q = vec![("scope".to_owned(), format!("repository:{repo}:pull"))];
        if let Some(s) = field("service") {
            q.push(("service".into(), s));
        }
        let token: serde_json::Value = http
            .get(&realm)
            .query(&q)
            .send()
            .await
            .context("token request")?
            .json()
            .await
            .context("token")?;
        let token = token["token"]
            .as_str()
            .or(token["access_token"].as_str())
            .unwrap_or_default()
            .to_owned();
        http.head(&url)
            .header("Accept", accept)
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("HEAD {url}"))?
    } else {
        first
    };
    match resp.status().as_u16() {
        200 => Ok(true),
        401 | 403 | 404 => Ok(false),
        s => anyhow::bail!("the registry answered {s}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_references_split_into_registry_repository_and_tag() {
        let p = |s: &str| super::parse(s);
        assert_eq!(
            p("python:3.11-slim"),
            ("registry-1.docker.io".into(), "library/python".into(), "3.11-slim".into())
        );
        assert_eq!(
            p("runpod/pytorch:2.4"),
            ("registry-1.docker.io".into(), "runpod/pytorch".into(), "2.4".into())
        );
        assert_eq!(p("ghcr.io/a/b:0.1"), ("ghcr.io".into(), "a/b".into(), "0.1".into()));
        assert_eq!(p("localhost:5000/x"), ("localhost:5000".into(), "x".into(), "latest".into()));
    }
}
