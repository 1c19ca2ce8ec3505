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

/// `resolve` with the process environment.
pub fn resolve_env(image: &str) -> Result<String, String> {
    resolve(image, |v| std::env::var(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_from_configuration_and_others_pass_through() {
        assert_eq!(resolve("python:3.11-slim", |_| None), Ok("python:3.11-slim".into()));
        assert_eq!(resolve("@tabular", |_| None), Ok(format!("{TABULAR_REPO}:{}", env!("CARGO_PKG_VERSION"))));
        assert_eq!(
            resolve("@tabular", |v| (v == "PODWARDEN_IMAGE_TABULAR").then(|| "reg.example/t:9".into())),
            Ok("reg.example/t:9".into())
        );
        assert!(resolve("@nope", |_| None).is_err_and(|e| e.contains("@tabular")));
    }
}
