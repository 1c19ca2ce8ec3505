//! The Docker Registry HTTP API v2, anonymously: does a tag's manifest exist? `doctor` asks it
//! of the example images; the server of each image jobs name on RunPod (`image_checks`).

use anyhow::Context;

/// `(registry host, repository, tag)` of an image reference.
pub fn parse(image: &str) -> (String, String, String) {
    let (name, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((n, t)) => (n, t.to_owned()),
        None => (image, "latest".to_owned()),
    };
    let mut parts = name.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    match parts.next() {
        Some(rest) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_owned(), rest.to_owned(), tag)
        }
        Some(_) => ("registry-1.docker.io".into(), name.to_owned(), tag),
        None => ("registry-1.docker.io".into(), format!("library/{name}"), tag),
    }
}

/// HEAD of the manifest, after the anonymous bearer-token dance the registry asks for.
pub async fn manifest_exists(http: &reqwest::Client, image: &str) -> anyhow::Result<bool> {
    let (host, repo, tag) = parse(image);
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
