//! The pod's start command: the user's command wrapped so that its exit status reaches the
//! control plane. RunPod restarts a container whose process exits, so "process ended" must be
//! reported, not inferred. Needs only `sh` and one of curl, wget or python3 in the image.
//!
//! - runs the command once; a marker on the volume stops a restarted container from rerunning
//!   a command that already finished (it re-reports the stored status instead);
//! - reports `{"exit_code": N}` to the job's callback with the job's bearer token, retrying;
//! - a watchdog stops its own pod (pod-scoped `RUNPOD_API_KEY`) at `max_runtime` plus grace,
//!   so a dead control plane still cannot leave it billing;
//! - then idles, so the container is not restarted, until the control plane terminates it.

/// Grace after `max_runtime` before the in-pod watchdog stops the pod itself.
pub const WATCHDOG_GRACE_SECS: u64 = 300;

fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The wrapped start command. `watchdog_secs`: `None` for no watchdog.
pub fn wrap(command: &str, watchdog_secs: Option<u64>) -> String {
    let watchdog = match watchdog_secs {
        Some(s) => format!(
            r#"( sleep {s}; echo "podwarden: max_runtime passed; stopping this pod" >&2; pw_post "${{RUNPOD_REST_URL:-https://rest.runpod.io}}/v2/pods/$RUNPOD_POD_ID/action" "$RUNPOD_API_KEY" '{{"action":"stop"}}' ) &
"#
        ),
        None => String::new(),
    };
    format!(
        r#"pw_post() {{
  if command -v curl >/dev/null 2>&1; then curl -fsS -m 20 -X POST -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3" "$1" >/dev/null
  elif command -v wget >/dev/null 2>&1; then wget -q -T 20 -O /dev/null --header="Authorization: Bearer $2" --header='Content-Type: application/json' --post-data="$3" "$1"
  else python3 -c 'import sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[3].encode(), headers={{"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"}}), timeout=20)' "$1" "$2" "$3"
  fi
}}
pw_report() {{
  for pw_i in 1 2 3 4 5 6 7 8 9 10; do
    pw_post "$PODWARDEN_CALLBACK_URL" "$PODWARDEN_JOB_TOKEN" "{{\"exit_code\": $1}}" && return 0
    sleep $((pw_i * 3))
  done
  echo "podwarden: could not report the exit status" >&2
}}
pw_dir="${{RUNPOD_WORKSPACE:-/workspace}}/.podwarden"
mkdir -p "$pw_dir"
pw_mark="$pw_dir/$PODWARDEN_JOB_ID.exit"
if [ -f "$pw_mark" ]; then
  echo "podwarden: the command already finished; not running it again" >&2
  pw_report "$(cat "$pw_mark")"
else
{watchdog}  sh -c {cmd}
  pw_code=$?
  echo "$pw_code" > "$pw_mark"
  echo "podwarden: the command exited with code $pw_code" >&2
  pw_report "$pw_code"
fi
while :; do sleep 3600; done
"#,
        cmd = sq(command),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_is_valid_sh_and_quotes_the_command() {
        let w = wrap("python -c 'print(1)'; echo \"$HOME\"", Some(3600));
        assert!(w.contains(r#"sh -c 'python -c '\''print(1)'\''; echo "$HOME"'"#), "{w}");
        let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(&w).output().expect("sh");
        assert!(out.status.success(), "sh -n: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!wrap("true", None).contains("sleep 3600; echo \"podwarden: max_runtime"));
    }

    #[test]
    fn the_wrapper_runs_once_reports_and_does_not_rerun_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("pw-wrap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("reports");
        // A fake `curl` records what would be posted.
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        std::fs::write(
            bin.join("curl"),
            format!("#!/bin/sh\nfor a; do last=$a; prev2=$prev; prev=$a; done\necho \"$prev2 $last\" >> {}\n", log.display()),
        )
        .expect("curl");
        std::process::Command::new("chmod").arg("+x").arg(bin.join("curl")).status().expect("chmod");
        let script = wrap("echo ran >> runs; exit 3", None).replace("while :; do sleep 3600; done", "");
        for _ in 0..2 {
            let st = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .current_dir(&dir)
                .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
                .env("RUNPOD_WORKSPACE", &dir)
                .env("PODWARDEN_JOB_ID", "job_x")
                .env("PODWARDEN_JOB_TOKEN", "tok")
                .env("PODWARDEN_CALLBACK_URL", "http://cb/exit")
                .status()
                .expect("run");
            assert!(st.success());
        }
        assert_eq!(std::fs::read_to_string(dir.join("runs")).expect("runs"), "ran\n", "ran once across two starts");
        let reports = std::fs::read_to_string(&log).expect("reports");
        assert_eq!(
            reports.lines().collect::<Vec<_>>(),
            [r#"{"exit_code": 3} http://cb/exit"#, r#"{"exit_code": 3} http://cb/exit"#],
            "reported both times"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
