//! `ssh`: the keys that may log in to a job's pod. Written `ssh = true` (the CLI then sends the
//! user's `~/.ssh/id_ed25519.pub` or `id_rsa.pub`) or `[ssh] public_keys = [...]`.
//!
//! The keys reach the pod as `PUBLIC_KEY` (newline-separated), the variable RunPod's images
//! read to fill `~/.ssh/authorized_keys` (runpod/containers `container-template/start.sh`,
//! `setup_ssh`), and podwarden's wrapper starts sshd from it as that script does. They are
//! the job's own: never the RunPod account's registered keys (REST v2 `startSsh` would inject
//! those, shared by every user of an operator's account), so podwarden never sets `startSsh`.

use serde::{Deserialize, Deserializer, Serialize};
use std::time::Duration;

/// SSH access to a job's pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SshSpec {
    /// `authorized_keys` lines (`ssh-ed25519 AAAA… comment`). Empty in a spec file: the CLI
    /// fills in your default public key; the API needs at least one.
    pub public_keys: Vec<String>,
}

/// A dev pod's `max_runtime` when its spec gives none: a forgotten one stops within a day.
pub const DEV_POD_MAX_RUNTIME: Duration = Duration::from_secs(8 * 3600);

/// What a dev pod runs: nothing, until it is stopped (`sleep` of any coreutils or busybox).
pub(crate) const DEV_POD_COMMAND: &str = "while :; do sleep 3600; done";

/// At most this many keys per job.
const MAX_KEYS: usize = 16;
/// One key line (an RSA 16384-bit key is under 3 KiB).
const MAX_KEY_LEN: usize = 8 * 1024;

impl SshSpec {
    /// Each key one `authorized_keys` line of a known type (RunPod's own pattern for account
    /// keys: `^(ssh|ecdsa|sk)-[^\s]+ [^\s]+([ \t][^\n\r]*)?$`), no options.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.public_keys.len() > MAX_KEYS {
            return Err((
                "ssh.public_keys".into(),
                format!("has {} keys; at most {MAX_KEYS} are allowed", self.public_keys.len()),
            ));
        }
        for (i, k) in self.public_keys.iter().enumerate() {
            let field = format!("ssh.public_keys[{i}]");
            if k.len() > MAX_KEY_LEN {
                return Err((
                    field,
                    format!("is {} bytes; a key is at most {MAX_KEY_LEN}", k.len()),
                ));
            }
            if let Err(why) = check_key(k) {
                return Err((field, why));
            }
        }
        Ok(())
    }

    /// `PUBLIC_KEY`: the keys, one per line.
    pub fn public_key_env(&self) -> String {
        self.public_keys.iter().map(|k| k.trim()).collect::<Vec<_>>().join("\n")
    }
}

fn check_key(k: &str) -> Result<(), String> {
    let shown = crate::limits::shown(k);
    if k.chars().any(|c| c == '\n' || c == '\r' || (c.is_control() && c != '\t')) {
        return Err(format!("{shown} is not one line"));
    }
    let mut words = k.trim().splitn(3, [' ', '\t']);
    let (kind, body) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let known =
        ["ssh-", "ecdsa-", "sk-"].iter().any(|p| kind.starts_with(p) && kind.len() > p.len());
    if !known {
        return Err(format!(
            "{shown} is not a public key line: it starts with the key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, sk-…)"
        ));
    }
    let base64 = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
    if !base64 {
        return Err(format!("{shown}: the key's second word must be its base64 body"));
    }
    Ok(())
}

/// `ssh = true | false` or a `[ssh]` table.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SshSpec>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<SshSpec>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("`true`, `false` or a table with `public_keys`")
        }
        fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(on.then(SshSpec::default))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SshSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use crate::spec::JobSpec;

    const BASE: &str = "name = \"dev\"\nimage = \"runpod/pytorch:2.4.0\"\n";
    const GPU: &str = "[gpu]\nmin_vram_gb = 16\n";
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILXGDN/SclOozk1xsDztpmhGiKkkrfQB9SKoO8dSIQQZ me@example.com";

    #[test]
    fn ssh_is_a_switch_or_a_table_and_without_a_command_a_dev_pod() {
        let on = JobSpec::from_toml("j.toml", &format!("{BASE}ssh = true\n{GPU}")).expect("on");
        assert!(on.ssh.as_ref().is_some_and(|s| s.public_keys.is_empty()));
        assert!(on.is_dev_pod() && on.kind() == "dev");
        assert_eq!(on.max_runtime(), Some(super::DEV_POD_MAX_RUNTIME));
        assert_eq!(on.exposed_ports(), vec!["22/tcp".to_owned()]);
        let stored = |s: &JobSpec| JobSpec::kind_of_json(&serde_json::to_string(s).expect("json"));
        assert_eq!(stored(&on), "dev");
        assert!(!on.shell_command().is_empty());
        let table =
            format!("{BASE}command = \"python t.py\"\n{GPU}[ssh]\npublic_keys = [\"{KEY}\"]\n");
        let t = JobSpec::from_toml("j.toml", &table).expect("table");
        assert_eq!(t.ssh.as_ref().map(|s| s.public_key_env()), Some(KEY.to_owned()));
        assert!(!t.is_dev_pod() && t.max_runtime().is_none());
        assert_eq!(stored(&t), "command");
        // The API form round-trips, `true` included.
        assert_eq!(JobSpec::from_json(serde_json::to_value(&t).expect("json")).expect("back"), t);
        let mut v = serde_json::to_value(&on).expect("json");
        v["ssh"] = serde_json::json!(true);
        assert_eq!(JobSpec::from_json(v).expect("true"), on);
        let off = JobSpec::from_toml("j.toml", &format!("{BASE}ssh = false\n{GPU}"));
        assert_eq!(off.expect_err("no command").field.as_deref(), Some("command"));
    }

    #[test]
    fn keys_must_be_public_key_lines_and_ssh_is_runpods() {
        let with = |keys: &str, extra: &str| {
            JobSpec::from_toml(
                "j.toml",
                &format!("{BASE}{extra}{GPU}[ssh]\npublic_keys = [{keys}]\n"),
            )
        };
        for bad in [
            "\"AAAAC3Nza me\"",
            "\"ssh-ed25519\"",
            "\"ssh-ed25519 not$base64\"",
            "\"ssh-ed25519 AAAA\\nssh-rsa BBBB\"",
            "\"-----BEGIN OPENSSH PRIVATE KEY-----\"",
        ] {
            let e = with(bad, "").expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("ssh.public_keys[0]"), "{bad}: {e}");
        }
        let e = with(&format!("\"{KEY}\""), "env = { PUBLIC_KEY = \"x\" }\n").expect_err("clash");
        assert_eq!(e.field.as_deref(), Some("env.PUBLIC_KEY"));
        let e = with(&format!("\"{KEY}\""), "cloud = \"community\"\n").expect_err("no public IP");
        assert_eq!(e.field.as_deref(), Some("cloud"));
        let e = with(&format!("\"{KEY}\""), "provider = \"aws\"\n").expect_err("aws");
        assert_eq!(e.field.as_deref(), Some("ssh"));
        let e =
            JobSpec::from_toml("j.toml", &format!("{BASE}ssh = \"yes\"\n{GPU}")).expect_err("str");
        assert!(e.message.contains("`true`, `false` or a table"), "{e}");
        let e = JobSpec::from_toml("j.toml", &format!("{BASE}{GPU}[ssh]\nkeys = []\n"))
            .expect_err("typo");
        assert!(e.message.contains("public_keys"), "{e}");
    }
}
