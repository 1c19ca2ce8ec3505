//! Container images the emulator can "pull", and how a container's argv is formed from them.
//!
//! RunPod runs a Docker image: its `ENTRYPOINT` gets the pod's `args` as arguments, or, when the
//! image has no entrypoint, `args` replace its `CMD`. `args` is one string (REST v2
//! `BaseContainerConfig.args`: "Arguments passed to the container entrypoint"); RunPod does not
//! run it through a shell. The emulator takes the strict reading (`docs/emulator.md`): the string
//! is split into words like a shell would (quotes honoured), and the words are exec'd.
//!
//! The emulator has no image store, so an image is *declared*: its entrypoint, command, the
//! programs on its `PATH` (bound from the host, one by one) and any host directories it ships
//! (bound read-only at the same path: a Python venv the tests run RunPod's worker runtime from).
//! An image that is not declared does not exist: its pull fails, as on RunPod.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One image, as a Dockerfile would have made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    /// `ENTRYPOINT` (exec form); empty: none.
    pub entrypoint: Vec<String>,
    /// `CMD` (exec form), run when `args` is empty.
    pub cmd: Vec<String>,
    /// Programs on the image's `PATH`, taken from the host's system directories
    /// (`/usr/local/bin`, `/usr/bin`, `/bin`; never the user's `PATH`).
    pub tools: Vec<String>,
    /// Programs on the image's `PATH` taken from explicit host paths (`name = "/host/path"`).
    pub host_tools: BTreeMap<String, PathBuf>,
    /// Host directories the image contains, visible read-only at the same path.
    pub dirs: Vec<PathBuf>,
    /// Directories put in front of the standard `PATH` (e.g. a venv's `bin`).
    pub path: Vec<String>,
    /// `WORKDIR`; empty: `/`.
    pub workdir: String,
    /// `ENV` of the image (the pod's env wins).
    pub env: BTreeMap<String, String>,
    /// A private image: pulls need registry credentials (`registry`: a credential id).
    pub private: bool,
    /// Emulated seconds the pull takes (added to the pod's STARTING phase); `None`: the
    /// configured default.
    pub pull_secs: Option<f64>,
    /// Ships OpenSSH's server (`/usr/sbin/sshd`; `ssh-keygen` goes in `tools`), as RunPod's
    /// own images do. The emulator binds its stand-in there (`podwarden-emulator-sshd`,
    /// config `sshd_program`; why not OpenSSH: that crate's overview).
    pub sshd: bool,
}

/// The standard `PATH` of a Debian-based image.
pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Host directories tools are looked up in (system ones only: a developer's `PATH` may hold
/// shims or tools no image has).
pub const HOST_TOOL_DIRS: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

/// What a Debian-based image has in `/usr/bin` (coreutils and the other essentials).
const DEBIAN_BASE: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "cat",
    "echo",
    "ls",
    "mkdir",
    "rm",
    "rmdir",
    "cp",
    "mv",
    "ln",
    "sleep",
    "env",
    "head",
    "tail",
    "grep",
    "sed",
    "awk",
    "date",
    "touch",
    "test",
    "[",
    "true",
    "false",
    "printf",
    "wc",
    "sort",
    "uniq",
    "tr",
    "cut",
    "dirname",
    "basename",
    "chmod",
    "chown",
    "pwd",
    "id",
    "uname",
    "tee",
    "xargs",
    "find",
    "base64",
    "sha256sum",
    "md5sum",
    "stat",
    "readlink",
    "realpath",
    "mktemp",
    "seq",
    "yes",
    "timeout",
    "kill",
    "nproc",
    "du",
    "df",
    "tar",
    "gzip",
    "gunzip",
    "od",
    "expr",
    "hostname",
    "whoami",
    "nohup",
    "sync",
    "split",
    "paste",
    "comm",
    "diff",
    "cmp",
    "ps",
];

fn tools(extra: &[&str]) -> Vec<String> {
    DEBIAN_BASE.iter().chain(extra).map(|s| (*s).to_owned()).collect()
}

/// What `CMD ["/start.sh"]` of RunPod's images does that the emulator can (runpod/containers
/// `container-template/start.sh`, `setup_ssh`): with `PUBLIC_KEY`, the key appended to
/// `~/.ssh/authorized_keys`, host keys made and sshd started; then it sleeps forever. (Nginx
/// and Jupyter are not emulated.)
pub const RUNPOD_START_SH: &str = r#"if [ -n "${PUBLIC_KEY:-}" ]; then
  echo "Setting up SSH..."
  mkdir -p ~/.ssh && printf '%s
' "$PUBLIC_KEY" >> ~/.ssh/authorized_keys && chmod -R 700 ~/.ssh
  mkdir -p /etc/ssh /run/sshd && ssh-keygen -A >/dev/null 2>&1
  /usr/sbin/sshd
fi
echo "Start script(s) finished, Pod is ready to use."
exec sleep infinity"#;

/// Images every example and doc of podwarden uses, plus RunPod's common bases. Tests and users
/// add their own in the config's `[images."name:tag"]` tables (those win over these).
pub fn default_images() -> BTreeMap<String, ImageConfig> {
    let python = |cmd: &str| ImageConfig {
        cmd: vec![cmd.into()],
        // python:*-slim ships no curl or wget.
        tools: tools(&["python3", "python", "pip", "pip3"]),
        ..ImageConfig::default()
    };
    let pytorch = ImageConfig {
        // RunPod's images start /start.sh: sshd from PUBLIC_KEY, then sleep forever.
        cmd: vec!["sh".into(), "-c".into(), RUNPOD_START_SH.into()],
        tools: tools(&[
            "python3",
            "python",
            "pip",
            "pip3",
            "curl",
            "wget",
            "git",
            "nvidia-smi",
            "ssh-keygen",
        ]),
        sshd: true,
        ..ImageConfig::default()
    };
    let tabular = ImageConfig {
        // Dockerfile.tabular: debian slim + curl + the podwarden-tabular binary, plain CMD.
        cmd: vec!["podwarden-tabular".into(), "worker".into()],
        tools: tools(&["podwarden-tabular", "curl"]),
        env: [("PODWARDEN_STORE".to_owned(), "/runpod-volume".to_owned())].into(),
        ..ImageConfig::default()
    };
    let mut m = BTreeMap::new();
    for tag in ["python:3.10-slim", "python:3.11-slim", "python:3.12-slim"] {
        m.insert(tag.to_owned(), python("python3"));
    }
    for tag in ["python:3.10", "python:3.11", "python:3.12"] {
        let mut i = python("python3");
        i.tools.extend(["curl".into(), "wget".into(), "git".into()]);
        m.insert(tag.to_owned(), i);
    }
    m.insert("runpod/pytorch:*".into(), pytorch.clone());
    m.insert("runpod/base:*".into(), pytorch);
    m.insert(
        "ubuntu:22.04".into(),
        ImageConfig { cmd: vec!["bash".into()], tools: tools(&[]), ..ImageConfig::default() },
    );
    m.insert(
        "ubuntu:24.04".into(),
        ImageConfig { cmd: vec!["bash".into()], tools: tools(&[]), ..ImageConfig::default() },
    );
    m.insert("ghcr.io/podwarden/podwarden-tabular:*".into(), tabular);
    m.insert(
        "podwarden/echo-worker:demo".into(),
        ImageConfig {
            cmd: vec!["podwarden-echo-worker".into()],
            tools: tools(&["podwarden-echo-worker"]),
            ..ImageConfig::default()
        },
    );
    m
}

/// Finds `image` in `declared` (then the defaults): an exact `name:tag`, else `name:*`.
pub fn lookup<'a>(
    declared: &'a BTreeMap<String, ImageConfig>,
    defaults: &'a BTreeMap<String, ImageConfig>,
    image: &str,
) -> Option<&'a ImageConfig> {
    let wildcard = image
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map(|(name, _)| format!("{name}:*"));
    for map in [declared, defaults] {
        if let Some(i) = map.get(image) {
            return Some(i);
        }
        if let Some(i) = wildcard.as_ref().and_then(|w| map.get(w)) {
            return Some(i);
        }
    }
    None
}

/// Whether the image has the program a container execs first, looked up as runc does: a bare
/// name on the image's `PATH` (its `path` dirs, then its tools), a path in the standard bin
/// directories among the image's tools. Other paths (a script on a volume, say) are left to
/// the start itself.
pub fn has_program(image: &ImageConfig, exe: &str) -> bool {
    let tool =
        |name: &str| image.tools.iter().any(|t| t == name) || image.host_tools.contains_key(name);
    match exe.rsplit_once('/') {
        None => tool(exe) || image.path.iter().any(|d| Path::new(d).join(exe).is_file()),
        Some((dir, name)) => !STANDARD_PATH.split(':').any(|d| d == dir) || tool(name),
    }
}

/// Why a container could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgvError {
    #[error(
        "cannot parse the container's args ({0}): RunPod does not run args through a shell; quote them as a shell would"
    )]
    Unparsable(String),
    #[error("no command specified: the image has no ENTRYPOINT or CMD and the pod has no args")]
    Nothing,
}

/// The container's argv: `ENTRYPOINT + words(args)`, or `words(args)` replacing `CMD`.
pub fn argv(image: &ImageConfig, args: &str) -> Result<Vec<String>, ArgvError> {
    let words = shell_words::split(args).map_err(|e| ArgvError::Unparsable(e.to_string()))?;
    let argv = if !image.entrypoint.is_empty() {
        let tail = if words.is_empty() { image.cmd.clone() } else { words };
        image.entrypoint.iter().cloned().chain(tail).collect()
    } else if !words.is_empty() {
        words
    } else {
        image.cmd.clone()
    };
    if argv.is_empty() { Err(ArgvError::Nothing) } else { Ok(argv) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
        ImageConfig {
            entrypoint: entrypoint.iter().map(|s| (*s).to_owned()).collect(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            ..ImageConfig::default()
        }
    }

    #[test]
    fn args_are_words_not_a_script() {
        let i = img(&[], &["python3"]);
        assert_eq!(argv(&i, "echo hi; exit 3").expect("argv"), ["echo", "hi;", "exit", "3"]);
        assert_eq!(
            argv(&i, "sh -c 'echo \"a b\"; exit 3'").expect("argv"),
            ["sh", "-c", "echo \"a b\"; exit 3"]
        );
        assert_eq!(argv(&i, "").expect("cmd"), ["python3"]);
        assert_eq!(
            argv(&i, "sh -c 'line1\nline2 ünï'").expect("multi-line")[2],
            "line1\nline2 ünï"
        );
        assert!(matches!(argv(&i, "sh -c 'unterminated"), Err(ArgvError::Unparsable(_))));
        assert_eq!(argv(&img(&[], &[]), ""), Err(ArgvError::Nothing));
    }

    #[test]
    fn podwardens_own_images_are_known_and_start() {
        let (d, none) = (default_images(), BTreeMap::new());
        for (image, program) in [
            ("podwarden/echo-worker:demo", "podwarden-echo-worker"),
            ("ghcr.io/podwarden/podwarden-tabular:1", "podwarden-tabular"),
            ("python:3.11-slim", "sh"),
            ("runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04", "sh"),
        ] {
            let i = lookup(&none, &d, image).unwrap_or_else(|| panic!("{image}"));
            assert!(has_program(i, program), "{image} has {program}");
        }
    }

    #[test]
    fn the_first_program_must_be_in_the_image() {
        let distroless = ImageConfig { tools: vec!["python3".into()], ..ImageConfig::default() };
        assert!(has_program(&distroless, "python3"));
        assert!(!has_program(&distroless, "sh"), "no shell in a distroless image");
        assert!(!has_program(&distroless, "/bin/sh"));
        assert!(has_program(&distroless, "/usr/bin/python3"));
        assert!(has_program(&distroless, "/workspace/start.sh"), "left to the start itself");
        let mut worker = distroless.clone();
        worker.host_tools.insert("podwarden-worker".into(), "/x/podwarden-worker".into());
        assert!(has_program(&worker, "podwarden-worker"));
        assert!(has_program(&worker, "/usr/local/bin/podwarden-worker"));
    }

    #[test]
    fn an_entrypoint_gets_args_or_cmd() {
        let i = img(&["/entry.sh"], &["serve"]);
        assert_eq!(argv(&i, "train --x 1").expect("argv"), ["/entry.sh", "train", "--x", "1"]);
        assert_eq!(argv(&i, "").expect("argv"), ["/entry.sh", "serve"]);
    }

    #[test]
    fn lookup_prefers_declared_and_takes_tag_wildcards() {
        let defaults = default_images();
        let mut declared = BTreeMap::new();
        declared.insert("python:3.11-slim".to_owned(), img(&["/x"], &[]));
        assert_eq!(
            lookup(&declared, &defaults, "python:3.11-slim").map(|i| i.entrypoint.clone()),
            Some(vec!["/x".into()])
        );
        assert!(
            lookup(
                &declared,
                &defaults,
                "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"
            )
            .is_some()
        );
        assert!(lookup(&declared, &defaults, "ghcr.io/nobody/nothing:1").is_none());
        assert!(
            lookup(&declared, &defaults, "localhost:5000/img").is_none(),
            "a registry port is not a tag"
        );
    }

    #[test]
    fn slim_python_has_no_curl_or_wget() {
        let d = default_images();
        let slim = &d["python:3.11-slim"];
        assert!(!slim.tools.iter().any(|t| t == "curl" || t == "wget"));
        assert!(slim.tools.iter().any(|t| t == "python3"));
    }
}
