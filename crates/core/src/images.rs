//! Image aliases: a spec may name podwarden's own images as `@name` instead of a registry
//! path, so examples and the quickstart do not hard-code where an operator publishes them.
//! `@tabular` is `PODWARDEN_IMAGE_TABULAR`, by default the image `.github/workflows/images.yml`
//! publishes for this version.

/// Where the images workflow publishes the tabular image (`Dockerfile.tabular`).
pub const TABULAR_REPO: &str = "ghcr.io/podwarden/podwarden-tabular";

/// The aliases and their environment variables.
pub const ALIASES: &[(&str, &str)] = &[("@tabular", "PODWARDEN_IMAGE_TABULAR")];

/// The default of an alias.
pub fn default_for(alias: &str) -> Option<String> {
    (alias == "@tabular").then(|| format!("{TABULAR_REPO}:{}", env!("CARGO_PKG_VERSION")))
}

/// `image` with an alias resolved (`env` reads a variable); other images as they are.
pub fn resolve(image: &str, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    if !image.starts_with('@') {
        return Ok(image.to_owned());
    }
    let Some((_, var)) = ALIASES.iter().find(|(a, _)| *a == image) else {
        let known: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
        return Err(format!("unknown image alias {image:?}; known: {}", known.join(", ")));
    };
    Ok(env(var).filter(|v| !v.trim().is_empty()).or_else(|| default_for(image)).unwrap_or_default())
}

/// What is wrong with an image reference (`[registry/]name[:tag][@digest]`, or an `@alias`),
/// checked as Docker's grammar allows: lowercase name components of letters, digits and
/// `._-` separated by `/` (a registry host may have a port and capitals), a tag of
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, a digest `algo:hex`. RunPod would refuse anything else
/// only after a pod was asked for.
pub fn problem(image: &str) -> Option<String> {
    if image.starts_with('@') {
        return None; // an alias: `resolve` checks it
    }
    let bad = |why: &str| {
        Some(format!("{} is not an image reference: {why}", crate::limits::shown(image)))
    };
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo.chars().all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return bad("the digest is not `sha256:<hex>`");
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a registry's port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return bad("the tag may have letters, digits, `_`, `.` and `-` (at most 128)");
        }
    }
    let parts: Vec<&str> = name.split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        let host =
            i == 0 && parts.len() > 1 && (p.contains('.') || p.contains(':') || *p == "localhost");
        let ok = if host {
            p.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c)) && !p.is_empty()
        } else {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && p.starts_with(|c: char| c.is_ascii_alphanumeric())
                && p.ends_with(|c: char| c.is_ascii_alphanumeric())
        };
        if !ok {
            return bad("name parts are lowercase letters, digits and `._-`, separated by `/`");
        }
    }
    None
}

/// `resolve` with the process environment.
pub fn resolve_env(image: &str) -> Result<String, String> {
    resolve(image, |v| std::env::var(v).ok())
}

/// The lowest host CUDA version an image needs, read from its tag as `major.minor`: RunPod's
/// and PyTorch's `cuda12.4.1`, `cu124`/`cu1281`, and `nvidia/cuda:12.4.1-…`. A host whose
/// driver supports less cannot run it, so a pod asks for at least this (`minCudaVersion`).
/// `None` when the tag does not say.
pub fn min_cuda(image: &str) -> Option<String> {
    // `major.minor` at the start of `s` (`12.4.1-devel` → `12.4`).
    fn dotted(s: &str) -> Option<String> {
        let major: String = s.chars().take_while(char::is_ascii_digit).collect();
        let rest = s[major.len()..].strip_prefix('.')?;
        let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(format!("{}.{}", major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
    }
    let (repo, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/'))?;
    let tag = tag.split('@').next().unwrap_or(tag).to_ascii_lowercase();
    if repo.ends_with("/cuda") {
        return dotted(&tag);
    }
    for (i, _) in tag.match_indices("cu") {
        let rest = &tag[i + 2..];
        if let Some(r) = rest.strip_prefix("da") {
            if let Some(v) = dotted(r.trim_start_matches(['-', '_'])) {
                return Some(v);
            }
            continue;
        }
        // `cu124` is 12.4, `cu1281` 12.8 (a last fourth digit is the patch).
        let d: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if (3..=4).contains(&d.len()) {
            return Some(format!("{}.{}", &d[..2], &d[2..3]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_from_configuration_and_others_pass_through() {
        assert_eq!(resolve("python:3.11-slim", |_| None), Ok("python:3.11-slim".into()));
        assert_eq!(
            resolve("@tabular", |_| None),
            Ok(format!("{TABULAR_REPO}:{}", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(
            resolve("@tabular", |v| (v == "PODWARDEN_IMAGE_TABULAR")
                .then(|| "reg.example/t:9".into())),
            Ok("reg.example/t:9".into())
        );
        assert!(resolve("@nope", |_| None).is_err_and(|e| e.contains("@tabular")));
    }

    #[test]
    fn image_references_follow_dockers_grammar() {
        for ok in [
            "python:3.11-slim",
            "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
            "ghcr.io/podwarden/podwarden-tabular:0.1.0",
            "localhost:5000/team/img",
            "registry.example.com:443/a/b/c:v_1.2",
            "ubuntu@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "@tabular",
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
        for bad in [
            "\u{fb}",
            "Python:3",
            "img:",
            "img:-x",
            "a//b",
            "img with space",
            "img@md5",
            "-img",
            "img:tag!",
            "",
        ] {
            assert!(problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn the_cuda_an_image_needs_is_read_from_its_tag() {
        for (image, want) in [
            ("runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04", Some("12.4")),
            ("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404", Some("12.8")),
            ("pytorch/pytorch:2.5.1-cuda12.1-cudnn9-runtime", Some("12.1")),
            ("ghcr.io/x/train:cu124", Some("12.4")),
            ("nvidia/cuda:12.6.3-base-ubuntu22.04", Some("12.6")),
            ("python:3.11-slim", None),
            ("ubuntu:22.04", None),
            ("localhost:5000/img", None),
            ("runpod/base:0.6.2-cpu", None),
        ] {
            assert_eq!(min_cuda(image).as_deref(), want, "{image}");
        }
    }
}
