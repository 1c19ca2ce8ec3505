//! The pod's start command: the user's command wrapped so that its exit status reaches the
//! control plane. RunPod restarts a container whose process exits, so "process ended" must be
//! reported, not inferred. Needs only `sh` and one of curl, wget or python3 in the image.
//!
//! RunPod execs `args` as words passed to the image's entrypoint (or in place of its `CMD`),
//! never through a shell, so the wrapper travels base64-encoded on one line ([`start_args`]:
//! `sh -c 'eval "$(echo <b64> | base64 -d)"'`): it works for images without an entrypoint and
//! for entrypoints that exec their arguments.
//!
//! - prints `podwarden-start: job=<id>` first: the image's entrypoint ran podwarden's
//!   arguments (a container that prints other things and never this one has an entrypoint
//!   that ignores them: the pods reconciler gives such a job up);
//! - runs the command once; a marker on the volume stops a restarted container from rerunning
//!   a command that already finished (it re-reports the stored status instead);
//! - prints `podwarden-exit: job=<id> code=<N>` (the control plane reads it from the pod's logs
//!   when the callback cannot reach it) and reports `{"exit_code": N, "node": R, "attempt": ID}`
//!   (a multi-node job's node and attempt; `0` and `""` otherwise) to the job's callback
//!   with the job's bearer token, retrying;
//! - a watchdog stops its own pod (pod-scoped `RUNPOD_API_KEY`, REST v2 at
//!   `PODWARDEN_RUNPOD_REST_URL`) at its ceiling, so a dead control plane still cannot leave it
//!   billing;
//! - fetches URL inputs onto the volume first (once: an existing file is kept), and after a
//!   zero exit checks every declared output exists; a missing one turns the exit into
//!   [`OUTPUTS_MISSING_CODE`] with a log line naming it;
//! - where the host has work around the command (an EC2 instance: inputs from and outputs to
//!   S3, `aws_provider::user_data`), `PODWARDEN_FETCH_FAILED=1` says an input could not be
//!   fetched (the command is not run; exit 1) and `PODWARDEN_HOST_DONE` names a file the host
//!   writes its verdict to once the outputs are uploaded: the exit is reported after it;
//! - then idles, so the container is not restarted, until the control plane terminates it.

/// The exit code the wrapper reports when the command exited 0 but a declared output is missing.
pub const OUTPUTS_MISSING_CODE: i32 = 86;

/// Where the job's network volume is mounted in its pod.
pub const VOLUME_MOUNT: &str = podwarden_core::spec::NETWORK_VOLUME_MOUNT;

/// Files the wrapper handles around the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataPlan {
    /// `(URL, path on the volume)` fetched before the command when not there yet.
    pub fetch: Vec<(String, String)>,
    /// Paths on the volume that must exist after a zero exit.
    pub outputs: Vec<String>,
    /// Start sshd from `PUBLIC_KEY` first (the job has `ssh`).
    pub ssh: bool,
    /// The job's checkpoints, a path on the volume: the newest complete one is passed on.
    pub checkpoints: Option<String>,
    /// A node of a multi-node job: rank 0 learns its own address ([`NODE_SETUP`]).
    pub multi_node: bool,
}

/// Before a multi-node job's command: rank 0's pod was created before its id was known, so it
/// is told no `PODWARDEN_MASTER_ADDR`; it is its own, by the name RunPod's global network gives
/// it (`<pod id>.runpod.internal`), as the other nodes were told.
pub const NODE_SETUP: &str = r#"if [ -z "${PODWARDEN_MASTER_ADDR:-}" ]; then
  if [ -n "${RUNPOD_POD_ID:-}" ]; then PODWARDEN_MASTER_ADDR="$RUNPOD_POD_ID.runpod.internal"; else PODWARDEN_MASTER_ADDR=127.0.0.1; fi
  export PODWARDEN_MASTER_ADDR
fi
"#;

/// Before the command: `PODWARDEN_CHECKPOINT_DIR` (`/workspace/<dir>`, made if missing) and,
/// when it holds a complete checkpoint, `PODWARDEN_RESUME_FROM`: the newest one. A checkpoint
/// is a directory in it; complete once it holds `trainer_state.json` (HF Trainer writes it
/// after the weights and optimizer state) or a `.complete` file (other trainers write it last);
/// newest is the largest number its name ends in (`checkpoint-1500`), so a half-written one
/// (lost with its pod) is passed over for the one before it.
pub fn resume_setup(dir: &str) -> String {
    resume_setup_at(&format!("{VOLUME_MOUNT}/{dir}"))
}

fn resume_setup_at(at: &str) -> String {
    format!(
        r#"PODWARDEN_CHECKPOINT_DIR={at}; export PODWARDEN_CHECKPOINT_DIR
mkdir -p "$PODWARDEN_CHECKPOINT_DIR" 2>/dev/null
pw_best=; pw_best_n=-1
for pw_c in "$PODWARDEN_CHECKPOINT_DIR"/*; do
  [ -d "$pw_c" ] || continue
  [ -e "$pw_c/trainer_state.json" ] || [ -e "$pw_c/.complete" ] || continue
  pw_n=${{pw_c##*[!0-9]}}; pw_n=${{pw_n:-0}}
  if [ "${{#pw_n}}" -lt 18 ] && [ "$pw_n" -gt "$pw_best_n" ]; then pw_best=$pw_c; pw_best_n=$pw_n; fi
done
if [ -n "$pw_best" ]; then
  PODWARDEN_RESUME_FROM=$pw_best; export PODWARDEN_RESUME_FROM
  echo "podwarden: resuming from $pw_best" >&2
fi
"#,
        at = sq(at)
    )
}

/// Starts sshd from `PUBLIC_KEY` as RunPod's images' `/start.sh` does (`setup_ssh`), which a
/// pod with `args` never runs: the image's `CMD` is replaced. The keys replace
/// `~/.ssh/authorized_keys` (the pod is the job's), host keys are made where missing, and an
/// image without sshd says so in the log instead of failing the job.
pub const SSH_SETUP: &str = r#"pw_ssh() {
  [ -n "${PUBLIC_KEY:-}" ] || return 0
  echo "podwarden: setting up SSH" >&2
  mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" && printf '%s
' "$PUBLIC_KEY" > "$HOME/.ssh/authorized_keys" && chmod 600 "$HOME/.ssh/authorized_keys"
  pw_sshd=$(command -v sshd 2>/dev/null) || { [ -x /usr/sbin/sshd ] && pw_sshd=/usr/sbin/sshd; }
  if [ -z "$pw_sshd" ]; then
    echo "podwarden: this image has no sshd (openssh-server), so SSH is not available; use a runpod/* image or install openssh-server in yours" >&2
    return 0
  fi
  mkdir -p /etc/ssh /run/sshd 2>/dev/null
  command -v ssh-keygen >/dev/null 2>&1 && ssh-keygen -A >/dev/null 2>&1
  "$pw_sshd" && echo "podwarden: sshd started" >&2 || echo "podwarden: sshd did not start" >&2
}
pw_ssh
"#;

/// The exit the watchdog reports when its pod could not stop itself (`timeout`'s code).
pub const WATCHDOG_EXIT_CODE: i32 = 124;

/// Grace after `max_runtime` before the in-pod watchdog stops the pod itself.
pub const WATCHDOG_GRACE_SECS: u64 = 300;

/// The marker line the wrapper prints when the command has exited.
pub const EXIT_MARKER: &str = "podwarden-exit:";

/// The marker line the wrapper prints first, before anything else it does: the image's
/// entrypoint ran the arguments podwarden gave it.
pub const START_MARKER: &str = "podwarden-start:";

/// Whether `line` holds the wrapper's start line for `job`: `podwarden-start: job=<id>`,
/// anywhere in it (an entrypoint's banner without a newline, or colour codes, may come first).
pub fn is_start_line(line: &str, job: &str) -> bool {
    let needle = format!("{START_MARKER} job={job}");
    line.match_indices(&needle).any(|(i, _)| {
        line[i + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
    })
}

/// Parses the wrapper's exit line for `job`: `podwarden-exit: job=<id> code=<N>`.
pub fn parse_exit_line(line: &str, job: &str) -> Option<i32> {
    let rest = line.trim().strip_prefix(EXIT_MARKER)?.trim();
    let rest = rest.strip_prefix("job=")?.strip_prefix(job)?.trim_start();
    rest.strip_prefix("code=")?.trim().parse().ok()
}

/// A single-quoted shell word.
pub fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `args` that run `script` under `sh` on RunPod: one line, `sh -c 'eval "$(echo <base64> |
/// base64 -d)"'`, SkyPilot's way. RunPod's tokenizer of `args` is undocumented; this line has
/// no newline and one single-quoted word whose only quotes are plain double quotes, and the
/// script's own bytes (quotes, newlines, `$`) travel as base64 letters, so any shell-like
/// splitting gives the same three words. Needs `base64` (coreutils, busybox) in the image.
pub fn start_args(script: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD.encode(script);
    // `base64` (coreutils, busybox), else python3; an image with neither says so and exits
    // non-zero rather than running an empty script that looks like success.
    format!(
        "sh -c 'p={payload}; s=$(printf %s \"$p\" | base64 -d 2>/dev/null) || s=$(printf %s \"$p\" | python3 -c \"import base64,sys; sys.stdout.write(base64.b64decode(sys.stdin.read()).decode())\") || {{ echo \"podwarden: the image has neither base64 nor python3 to decode its start command\" >&2; exit 127; }}; eval \"$s\"'"
    )
}

/// The longest `args` podwarden sends: Linux refuses one argument over 128 KiB
/// (`MAX_ARG_STRLEN`), and the script is one argument of `sh -c`.
pub const MAX_START_ARGS: usize = 120 * 1024;

/// The wrapped start script. `watchdog_secs`: `None` for no watchdog.
pub fn wrap(command: &str, watchdog_secs: Option<u64>, data: &DataPlan) -> String {
    let mut fetch = String::new();
    for (url, path) in &data.fetch {
        let dest = sq(&format!("{VOLUME_MOUNT}/{path}"));
        fetch.push_str(&format!(
            "  if [ ! -e {dest} ]; then mkdir -p \"$(dirname {dest})\"; echo 'podwarden: fetching '{path} >&2; pw_get {url} {dest}.part && mv {dest}.part {dest} || {{ echo 'podwarden: could not fetch input '{path} >&2; pw_fetch_failed=1; }}; fi\n",
            url = sq(url),
            path = sq(path),
        ));
    }
    let mut check = String::new();
    for path in &data.outputs {
        let at = sq(&format!("{VOLUME_MOUNT}/{path}"));
        check.push_str(&format!(
            "  if [ \"$pw_code\" = 0 ] && [ ! -e {at} ]; then echo 'podwarden: declared output '{path}' was not written' >&2; pw_missing=1; fi\n",
            path = sq(path),
        ));
    }
    let watchdog = match watchdog_secs {
        Some(s) => format!(
            // The pod-scoped key's right to stop its own pod over REST v2 is unconfirmed
            // (API-NOTES): retry with backoff, and tell the control plane (an exit of
            // `WATCHDOG_EXIT_CODE`) so it terminates the pod if RunPod refuses.
            r#"( sleep {s}; echo "podwarden: the job's time ceiling passed; stopping this pod" >&2
  for pw_w in 1 2 3 4 5 6 7 8; do
    pw_post "${{PODWARDEN_RUNPOD_REST_URL:-https://api.runpod.io}}/v2/pods/$RUNPOD_POD_ID/action" "$RUNPOD_API_KEY" '{{"action":"stop"}}' 2>/dev/null && exit 0
    if [ "$pw_w" = 1 ]; then echo "podwarden: RunPod refused the pod's own stop; telling the control plane and trying again" >&2; pw_post "$PODWARDEN_CALLBACK_URL" "$PODWARDEN_JOB_TOKEN" "{{\"exit_code\": {timeout}, \"node\": ${{PODWARDEN_NODE_RANK:-0}}, \"attempt\": \"${{PODWARDEN_ATTEMPT_ID:-}}\"}}" 2>/dev/null; fi
    sleep $((pw_w * pw_w * 5))
  done
  echo "podwarden: the pod could not stop itself; only the control plane can end it now" >&2 ) &
"#,
            timeout = WATCHDOG_EXIT_CODE
        ),
        None => String::new(),
    };
    let ssh = if data.ssh { SSH_SETUP } else { "" };
    let node = if data.multi_node { NODE_SETUP } else { "" };
    let resume = data.checkpoints.as_deref().map(resume_setup).unwrap_or_default();
    format!(
        r#"echo "{start} job=$PODWARDEN_JOB_ID"
{node}{ssh}{resume}pw_post() {{
  if command -v curl >/dev/null 2>&1; then curl -fsS -m 20 -X POST -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3" "$1" >/dev/null
  elif command -v wget >/dev/null 2>&1; then wget -q -T 20 -O /dev/null --header="Authorization: Bearer $2" --header='Content-Type: application/json' --post-data="$3" "$1"
  else python3 -c 'import sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[3].encode(), headers={{"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"}}), timeout=20)' "$1" "$2" "$3"
  fi
}}
pw_get() {{
  if command -v curl >/dev/null 2>&1; then curl -fsSL -m 3600 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -T 3600 -O "$2" "$1"
  else python3 -c 'import sys,urllib.request as u,shutil; shutil.copyfileobj(u.urlopen(sys.argv[1], timeout=3600), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}}
pw_report() {{
  echo "{marker} job=$PODWARDEN_JOB_ID code=$1"
  for pw_i in 1 2 3 4 5 6 7 8 9 10; do
    pw_post "$PODWARDEN_CALLBACK_URL" "$PODWARDEN_JOB_TOKEN" "{{\"exit_code\": $1, \"node\": ${{PODWARDEN_NODE_RANK:-0}}, \"attempt\": \"${{PODWARDEN_ATTEMPT_ID:-}}\"}}" 2>/dev/null && return 0
    sleep $((pw_i * 3))
  done
  echo "podwarden: could not reach the control plane; it reads the exit from these logs" >&2
}}
pw_dir="${{PODWARDEN_STATE_DIR:-/workspace/.podwarden}}"
mkdir -p "$pw_dir" 2>/dev/null || {{ pw_dir=/tmp/.podwarden; mkdir -p "$pw_dir"; }}
pw_mark="$pw_dir/${{PODWARDEN_EXIT_MARK:-$PODWARDEN_JOB_ID}}.exit"
if [ -f "$pw_mark" ]; then
  echo "podwarden: the command already finished; not running it again" >&2
  pw_report "$(cat "$pw_mark")"
else
{watchdog}  pw_fetch_failed="${{PODWARDEN_FETCH_FAILED:-0}}"
{fetch}  if [ "$pw_fetch_failed" = 0 ]; then sh -c {cmd}; pw_code=$?; else pw_code=1; fi
  pw_missing=0
{check}  if [ "$pw_missing" = 1 ]; then pw_code={missing}; fi
  # Whole or not at all: a host reading the mark never sees it half written.
  echo "$pw_code" > "$pw_mark.tmp" && mv "$pw_mark.tmp" "$pw_mark"
  if [ -n "${{PODWARDEN_HOST_DONE:-}}" ]; then
    # The host has work after the command (an EC2 instance's outputs to S3): the exit is
    # reported once it is done, with the host's verdict.
    while [ ! -e "$PODWARDEN_HOST_DONE" ]; do sleep 1; done
    pw_code=$(cat "$PODWARDEN_HOST_DONE"); echo "$pw_code" > "$pw_mark.tmp" && mv "$pw_mark.tmp" "$pw_mark"
  fi
  pw_report "$pw_code"
fi
while :; do sleep 3600; done
"#,
        marker = EXIT_MARKER,
        start = START_MARKER,
        cmd = sq(command),
        missing = OUTPUTS_MISSING_CODE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `curl` in `bin` that runs `body` (its arguments in `$@`) instead of posting.
    /// `sh -c script` in `dir` as a pod runs the wrapper: `bin` first on `PATH` (a fake curl),
    /// the job's variables set.
    fn wrapped_sh(
        script: &str,
        dir: &std::path::Path,
        bin: &std::path::Path,
    ) -> std::process::Command {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("PODWARDEN_STATE_DIR", dir.join("state"))
            .env("PODWARDEN_JOB_ID", "job_x")
            .env("PODWARDEN_JOB_TOKEN", "tok")
            .env("PODWARDEN_CALLBACK_URL", "http://cb/exit");
        c
    }

    fn fake_curl(bin: &std::path::Path, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = bin.join("curl");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("curl");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// The newest complete checkpoint is passed on: not a half-written one, not a file, not
    /// the one with the larger name but a smaller number; none at all when there is none.
    #[test]
    fn the_newest_complete_checkpoint_is_resumed_from() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("check points");
        let resume_from = || {
            let script = format!(
                "{}printf '%s' \"${{PODWARDEN_RESUME_FROM:-none}}\"",
                resume_setup_at(&dir.display().to_string())
            );
            let out = std::process::Command::new("sh").arg("-c").arg(script).output().expect("sh");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert_eq!(resume_from(), "none", "nothing yet (and the directory is made)");
        assert!(dir.is_dir());
        let make = |name: &str, marker: Option<&str>| {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            if let Some(m) = marker {
                std::fs::write(d.join(m), "{}").expect("marker");
            }
        };
        make("checkpoint-2", Some(".complete"));
        make("checkpoint-10", Some("trainer_state.json"));
        make("checkpoint-9", Some("trainer_state.json"));
        make("checkpoint-12", None);
        std::fs::write(dir.join("checkpoint-99"), "a file").expect("file");
        assert_eq!(resume_from(), dir.join("checkpoint-10").display().to_string());
    }

    #[test]
    fn the_wrapper_is_valid_sh_and_quotes_the_command() {
        let data = DataPlan {
            fetch: vec![("https://example.com/a b?x=1&y='2'".into(), "in/data.csv".into())],
            outputs: vec!["out/model.json".into()],
            ssh: false,
            checkpoints: None,
            multi_node: false,
        };
        let w = wrap("python -c 'print(1)'; echo \"$HOME\"", Some(3600), &data);
        assert!(
            w.contains("'/workspace/out/model.json'")
                && w.contains(&format!("pw_code={OUTPUTS_MISSING_CODE}")),
            "{w}"
        );
        assert!(w.contains(r#"sh -c 'python -c '\''print(1)'\''; echo "$HOME"'"#), "{w}");
        let out =
            std::process::Command::new("sh").arg("-n").arg("-c").arg(&w).output().expect("sh");
        assert!(out.status.success(), "sh -n: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!wrap("true", None, &DataPlan::default()).contains("time ceiling passed"));
        assert!(
            w.contains("${PODWARDEN_RUNPOD_REST_URL:-https://api.runpod.io}/v2/pods/"),
            "REST v2's host, not v1's"
        );
    }

    /// A path reaches the script as data: quotes, `$(…)` and backticks in it are never run,
    /// and never break the script (issue 25).
    #[test]
    fn paths_are_data_never_code() {
        let dir = std::env::temp_dir().join(format!("pw-paths-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).expect("dir");
        // Downloads fail; the exit report goes through at once.
        fake_curl(&dir.join("bin"), "case \" $* \" in *\" -o \"*) exit 22;; esac; exit 0");
        let mark = dir.join("pwned");
        let evil = format!("out/$(touch {m})`touch {m}`\"x'y", m = mark.display());
        let data = DataPlan {
            fetch: vec![("https://e/x".into(), evil.clone())],
            outputs: vec![evil],
            ssh: false,
            checkpoints: None,
            multi_node: false,
        };
        let script = wrap("true", None, &data)
            .replace("while :; do sleep 3600; done", "")
            .replace(VOLUME_MOUNT, &dir.join("vol").display().to_string());
        let st = wrapped_sh(&script, &dir, &dir.join("bin")).output().expect("run");
        let err = String::from_utf8_lossy(&st.stderr);
        assert!(!mark.exists(), "a path ran as code:\n{err}");
        assert!(err.contains("could not fetch input out/$(touch"), "the path, as written:\n{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn start_args_survive_runpods_word_splitting() {
        // Quotes of every kind, newlines, unicode, `$(…)`, and as long as a command may be: the
        // encoded line still execs (under Linux's 128 KiB for one argument).
        let mut cmd =
            String::from("echo 'single' \"double\" `tick` $(x) \\ back\nline two: ünïcødé ✓\n");
        while cmd.len() < podwarden_core::limits::COMMAND - 40 {
            cmd.push_str("echo 'it''s' \"a \\\"b\\\"\" # padding\n");
        }
        let script = wrap(&cmd, Some(60), &DataPlan::default());
        let args = start_args(&script);
        assert!(!args.contains('\n') && args.matches('\'').count() == 2, "one line: {args:.200}");
        let words = shell_words::split(&args).expect("splits like a shell");
        assert_eq!(words.len(), 3);
        assert_eq!(words[..2], ["sh", "-c"]);
        // Splitting on blanks outside single quotes (a naive tokenizer) agrees too.
        let naive: Vec<&str> = args.splitn(3, ' ').collect();
        assert_eq!(naive[2].trim_matches('\''), words[2]);
        // And the word decodes the script byte for byte.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(words[2].replace("eval \"$s\"", "printf %s \"$s\""))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), script.trim_end());
        let ran = std::process::Command::new("sh")
            .args([
                "-c",
                &shell_words::split(&start_args("echo \"it's $((6*7))\"")).expect("words")[2],
            ])
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&ran.stdout), "it's 42\n");
    }

    #[test]
    fn a_watchdog_refused_by_runpod_retries_and_tells_the_control_plane_once() {
        let dir = std::env::temp_dir().join(format!("pw-watchdog-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let log = dir.join("posts");
        // A `curl` that records each URL and fails for the pod's own stop, as RunPod might.
        fake_curl(
            &bin,
            &format!(
                "for a; do last=$a; done\necho \"$last\" >> {}\ncase \"$last\" in *action) exit 22;; esac",
                log.display()
            ),
        );
        // No real sleeping: `sleep` is a no-op function; the script waits for its watchdog.
        let script = format!(
            "sleep() {{ :; }}\n{}\nwait\n",
            wrap("true", Some(1), &DataPlan::default()).replace("while :; do sleep 3600; done", "")
        );
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(&dir)
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("PODWARDEN_STATE_DIR", dir.join("state"))
            .env("PODWARDEN_JOB_ID", "job_w")
            .env("PODWARDEN_CALLBACK_URL", "http://cb/exit")
            .env("PODWARDEN_RUNPOD_REST_URL", "http://rest")
            .env("RUNPOD_POD_ID", "pod1")
            .status()
            .expect("run");
        assert!(st.success());
        let posts = std::fs::read_to_string(&log).expect("posts");
        let stops = posts.lines().filter(|l| *l == "http://rest/v2/pods/pod1/action").count();
        let told = posts.lines().filter(|l| *l == "http://cb/exit").count();
        assert_eq!(stops, 8, "retried: {posts}");
        assert_eq!(told, 2, "the command's own exit, and the watchdog's once: {posts}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_image_without_base64_decodes_with_python3_and_one_with_neither_says_so() {
        let dir = std::env::temp_dir().join(format!("pw-nob64-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let word =
            |script: &str| shell_words::split(&start_args(script)).expect("words")[2].clone();
        let run = |path: &std::path::Path| {
            std::process::Command::new("/bin/sh")
                .args(["-c", &word("echo \"decoded: $((6*7))\"")])
                .env("PATH", path)
                .output()
                .expect("sh")
        };
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("python3 on this machine");
        let with_python = dir.join("py");
        std::fs::create_dir_all(&with_python).expect("dir");
        let _ = std::os::unix::fs::symlink(python, with_python.join("python3"));
        let out = run(&with_python);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "decoded: 42\n", "{out:?}");
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).expect("dir");
        let out = run(&empty);
        assert_eq!(out.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&out.stderr).contains("neither base64 nor python3"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_exit_line_is_read_for_its_own_job_only() {
        assert!(is_start_line("podwarden-start: job=job_1", "job_1"));
        assert!(is_start_line(" podwarden-start: job=job_1 \n", "job_1"));
        assert!(!is_start_line("podwarden-start: job=job_12", "job_1"));
        assert!(is_start_line("\u{1b}[0m== CUDA ==podwarden-start: job=job_1", "job_1"));
        assert!(!is_start_line("podwarden-start: job=job_1x", "job_1"));
        assert_eq!(parse_exit_line("podwarden-exit: job=job_1 code=3", "job_1"), Some(3));
        assert_eq!(parse_exit_line("  podwarden-exit: job=job_1 code=-1 ", "job_1"), Some(-1));
        assert_eq!(parse_exit_line("podwarden-exit: job=job_12 code=0", "job_1"), None);
        assert_eq!(parse_exit_line("podwarden-exit: job=job_2 code=0", "job_1"), None);
        assert_eq!(parse_exit_line("echo podwarden-exit: job=job_1 code=0", "job_1"), None);
        assert_eq!(parse_exit_line("podwarden-exit: job=job_1 code=x", "job_1"), None);
    }

    #[test]
    fn the_wrapper_runs_once_reports_and_does_not_rerun_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("pw-wrap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("reports");
        // A fake `curl` records what would be posted.
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        fake_curl(
            &bin,
            &format!(
                "for a; do last=$a; prev2=$prev; prev=$a; done\necho \"$prev2 $last\" >> {}",
                log.display()
            ),
        );
        let script = wrap("echo ran >> runs; exit 3", None, &DataPlan::default())
            .replace("while :; do sleep 3600; done", "");
        for _ in 0..2 {
            let st = wrapped_sh(&script, &dir, &bin).status().expect("run");
            assert!(st.success());
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("runs")).expect("runs"),
            "ran\n",
            "ran once across two starts"
        );
        let reports = std::fs::read_to_string(&log).expect("reports");
        assert_eq!(
            reports.lines().collect::<Vec<_>>(),
            [
                r#"{"exit_code": 3, "node": 0, "attempt": ""} http://cb/exit"#,
                r#"{"exit_code": 3, "node": 0, "attempt": ""} http://cb/exit"#
            ],
            "reported both times"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
