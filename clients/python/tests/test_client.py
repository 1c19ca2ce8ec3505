"""The Python client against a live `podwarden serve`: the seed apps' flows (a budgeted pod job
whose loss is charted; a serverless request on the user's own RunPod key), event following with
resume, and typed errors."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from podwarden import Conflict, Invalid, NotFound, Podwarden, Unauthorized, Unavailable

# The fine-tuning app's job: posts five falling losses to its metrics endpoint, then exits.
LOSS_JOB = {
    "name": "finetune-demo",
    "image": "python:3.11",
    "command": (
        "i=0; for l in 2.5 1.9 1.4 1.1 0.9; do i=$((i+1)); "
        'curl -fsS -X POST -H "Authorization: Bearer $PODWARDEN_JOB_TOKEN" '
        "-H 'Content-Type: application/json' "
        '-d "{\\"step\\": $i, \\"loss\\": $l}" "$PODWARDEN_METRICS_URL" >/dev/null; done; '
        "echo trained"
    ),
    "gpu": {"min_vram_gb": 16},
    "limits": {"budget_usd": 0.5, "max_runtime": "10m"},
}


def test_a_budgeted_pod_job_is_followed_to_the_end_and_its_loss_charted(pw: Podwarden):
    job = pw.submit_job(LOSS_JOB)
    assert job.budget_usd == 0.5
    seen = list(pw.events(job.id))
    assert seen, "events were streamed"
    assert [e.id for e in seen] == sorted({e.id for e in seen}), "in order, none twice"
    assert any(e.kind == "state" and e.message.startswith("succeeded") for e in seen), seen
    done = pw.wait(job.id, timeout=120)
    assert done.state == "succeeded", done.reason
    assert pw.losses(job.id) == [(1.0, 2.5), (2.0, 1.9), (3.0, 1.4), (4.0, 1.1), (5.0, 0.9)]
    # Resuming after an event yields exactly what came after it.
    k = seen[1].id
    assert [e.id for e in pw.events(job.id, after=k)] == [e.id for e in seen if e.id > k]
    assert 0 < done.spent_usd <= 0.5
    cost = pw.cost()
    assert any(row[0] == job.id for row in cost.by_job), cost.by_job
    assert cost.total_usd >= done.spent_usd


class DropsTheFirstEventStream(httpx.BaseTransport):
    """Cuts the first SSE response after its first event, as a flaky network would."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.dropped = 0
        self.resumed_from: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if (
            request.headers.get("accept") != "text/event-stream"
            or "/events" not in request.url.path
        ):
            return response
        if "last-event-id" in request.headers:
            self.resumed_from.append(request.headers["last-event-id"])
        if self.dropped:
            return response
        self.dropped += 1
        transport = self

        class Cut(httpx.SyncByteStream):
            def __iter__(self):
                buf = b""
                for chunk in response.stream:
                    buf += chunk
                    if b"\n\n" in buf:
                        yield buf[: buf.index(b"\n\n") + 2]
                        raise httpx.ReadError("connection reset (test)")
                transport.dropped = -1

            def close(self):
                response.close()

        return httpx.Response(response.status_code, headers=response.headers, stream=Cut())


def test_a_dropped_event_stream_resumes_after_the_last_event_seen(server):
    token = server.new_user()
    flaky = DropsTheFirstEventStream()
    with Podwarden(server.url, token, httpx_args={"transport": flaky}) as pw:
        job = pw.submit_job(LOSS_JOB)
        # Followed from the start, while it runs: the first stream is cut after one event.
        seen = [e.id for e in pw.events(job.id)]
    with Podwarden(server.url, token) as plain:
        everything = [e.id for e in plain.events(job.id)]
    assert flaky.dropped == 1 and flaky.resumed_from[:1] == [str(everything[0])], flaky.resumed_from
    assert seen == everything, "no event missed or repeated across the drop"


def test_a_finished_jobs_logs_are_read_back(pw: Podwarden):
    job = pw.submit_job(LOSS_JOB)
    pw.wait(job.id, timeout=120)
    lines = list(pw.logs(job.id))
    assert any("trained" in line for line in lines), lines


def test_a_serverless_request_runs_on_the_users_own_runpod_key(pw: Podwarden, server):
    assert pw.runpod_key().backend == "hosted"
    s = pw.set_runpod_key(server.runpod_key)
    assert s.backend == "runpod" and s.last4 == server.runpod_key[-4:]
    assert server.runpod_key not in repr(s.to_dict()), "only the last 4 characters come back"
    pw.deploy_endpoint(
        {
            "name": "influence-score",
            "image": "podwarden/echo-worker:demo",
            "gpu": {"pools": ["AMPERE_24"]},
            "workers": {"max": 1, "idle_timeout": "5s"},
        }
    )
    r = pw.submit_request("influence-score", {"handle": "@someone", "posts": 3})
    done = pw.wait(r.id, timeout=120)
    assert done.state == "succeeded", done.reason
    assert done.output["echo"] == {"handle": "@someone", "posts": 3}, done.output
    # The key cannot go while an endpoint lives on it (podwarden could no longer manage it).
    with pytest.raises(Conflict) as e:
        pw.delete_runpod_key()
    assert e.value.code == "endpoints_on_key" and "endpoint rm" in e.value.hint
    pw.remove_endpoint("influence-score")
    assert pw.delete_runpod_key().backend == "hosted"


def test_wait_gives_up_at_its_timeout_and_the_work_goes_on(pw: Podwarden):
    job = pw.submit_job({**LOSS_JOB, "name": "long", "command": "sleep 600"})
    with pytest.raises(TimeoutError):
        pw.wait(job.id, timeout=1)
    assert not isinstance(pw.job(job.id).ended_at, int), "the job went on"
    stopped = pw.stop(job.id)
    assert stopped.id == job.id
    assert pw.wait(job.id, timeout=120).state in {"cancelled", "stopped"}


def test_errors_are_typed_with_the_apis_code_message_and_hint(pw: Podwarden, server):
    with pytest.raises(Invalid) as e:
        pw.submit_job({**LOSS_JOB, "budgett": 1})
    assert e.value.status == 422 and "budgett" in e.value.message and e.value.hint
    with pytest.raises(NotFound) as e:
        pw.job("job_00000000000000000000000000000000")
    assert e.value.code == "not_found"
    bad = Podwarden(server.url, "pw_wrong")
    with pytest.raises(Unauthorized):
        bad.me()
    assert "pw_wrong" not in repr(bad)
    with pytest.raises(Unavailable) as e:
        Podwarden("http://127.0.0.1:9", "t").me()
    assert e.value.status == 0 and e.value.hint


def test_the_seeds_cluster_flow_provisions_nodes_runs_a_command_on_each_and_tears_down(
    pw: Podwarden, tmp_path
):
    """The multi-cloud seed's Skyward-style flow: provision N nodes with the app's key, wait
    for SSH on each, run a command on each over SSH, tear the cluster down."""
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = (tmp_path / "id.pub").read_text().strip()
    job = pw.submit_job(
        {
            "name": "cluster",
            "image": "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
            "ssh": {"public_keys": [public]},
            "gpu": {"min_vram_gb": 16},
            "limits": {"budget_usd": 1.0},
        },
        nodes=2,
    )
    ranks = []
    for node in range(2):
        info = pw.ssh_info(job.id, node=node, timeout=120)
        for line in pw.logs(job.id, node=node):
            if "sshd started" in line:
                break
        out = subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", str(key), "-p", str(info.port), "-o", "BatchMode=yes"]
            + ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
            + [f"{info.user}@{info.host}", "hostname"],
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        ranks.append((info.pod_id, out.stdout.strip()))
    assert all(pod == host for pod, host in ranks) and ranks[0][0] != ranks[1][0], ranks
    pods = {a.node: a.pod_id for a in pw.job(job.id).attempts}
    assert pods == {0: ranks[0][0], 1: ranks[1][0]}
    pw.stop(job.id)
    final = pw.wait(job.id, timeout=120)
    assert final.state.value == "cancelled"
    assert all(a.state.value == "terminated" for a in pw.job(job.id).attempts)


def test_a_dev_pod_is_reached_over_ssh_with_the_apps_own_key(pw: Podwarden, tmp_path):
    """The multi-cloud seed's flow on one pod: provision with the app's key, wait for SSH, run a
    command there with OpenSSH's client, tear down."""
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = (tmp_path / "id.pub").read_text().strip()
    job = pw.submit_job(
        {
            "name": "dev",
            "image": "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
            "ssh": {"public_keys": [public]},
            "gpu": {"min_vram_gb": 16},
            "limits": {"budget_usd": 0.5},
        }
    )
    assert job.kind == "dev"
    info = pw.ssh_info(job.id, timeout=120)
    assert (info.user, info.host) == ("root", "127.0.0.1") and info.command.startswith("ssh -p ")
    # The pod says when its sshd listens (the log streams live).
    for line in pw.logs(job.id):
        if "sshd started" in line:
            break
    out = subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(key), "-p", str(info.port), "-o", "BatchMode=yes"]
        + ["-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={tmp_path / 'kh'}"]
        + [f"{info.user}@{info.host}", "hostname"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == pw.job(job.id).attempts[0].pod_id
    pw.stop(job.id)
    with pytest.raises(Conflict) as e:
        pw.ssh_info(job.id)
    assert e.value.code == "no_pod"
