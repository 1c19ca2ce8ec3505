"""One scenario suite, two worker runtimes: RunPod's unmodified Python runtime and podwarden's
Rust `worker` crate (its `scenarios` example). Clients must not be able to tell them apart."""
import json
import os
import pathlib
import sys

import pytest
import runpod

from conftest import ROOT, WORKERS

RUST = os.environ.get("PODWARDEN_SCENARIOS", str(ROOT / "target" / "debug" / "examples" / "scenarios"))


@pytest.fixture(params=["python", "rust"])
def runtime(request):
    return request.param


def endpoint(emulator, runtime, scenario, test=None, **kw):
    """An endpoint per test and runtime (names are unique per emulator)."""
    command = f"scenarios {scenario}" if runtime == "rust" else f"python {WORKERS / (scenario + '.py')}"
    return runpod.Endpoint(emulator.endpoint(f"{test or scenario}-{runtime}", None, command=command, **kw))


def error_message(final):
    """A raised/returned-Err failure carries a JSON string with the error's message."""
    return json.loads(final["error"])["error_message"]


def test_plain_output_and_run_sync(emulator, runtime):
    ep = endpoint(emulator, runtime, "plain")
    job = ep.run({"x": 1})
    assert job.output(timeout=60) == {"echo": {"x": 1}, "job_id": job.job_id}
    assert job.status() == "COMPLETED"
    assert ep.run_sync({"y": 3}, timeout=60)["echo"] == {"y": 3}


def test_errors_returned_raised_and_panics_fail_the_job_and_the_worker_survives(emulator, runtime):
    ep = endpoint(emulator, runtime, "plain", test="errors")
    returned = emulator.wait_job(ep.run({"error": "bad input: no target column"}).job_id, "final")
    assert (returned["status"], returned["error"]) == ("FAILED", "bad input: no target column")
    raised = emulator.wait_job(ep.run({"fail": True}).job_id, "final")
    assert raised["status"] == "FAILED" and error_message(raised) == "asked to fail"
    panicked = emulator.wait_job(ep.run({"panic": True}).job_id, "final")
    assert panicked["status"] == "FAILED" and error_message(panicked) == "asked to panic"
    assert ep.run_sync({"after": "panic"}, timeout=60)["echo"] == {"after": "panic"}, "the worker lives on"


def test_stream_chunks_once_and_the_aggregate(emulator, runtime):
    ep = endpoint(emulator, runtime, "generator")
    job = ep.run({"text": "to be or not"})
    chunks = list(job.stream())
    assert chunks == [{"word": w} for w in "to be or not".split()]
    assert job.output(timeout=60) == chunks
    assert list(job.stream()) == []


def test_progress_then_output(emulator, runtime):
    vol, host = emulator.volume()
    ep = endpoint(emulator, runtime, "progress", volume=vol)
    gate = host / "go"
    job = ep.run({"gate": "/runpod-volume/go"})
    state = emulator.wait_job(job.job_id, "progress")
    assert (state["status"], state["output"]) == ("IN_PROGRESS", {"step": 1, "of": 2})
    gate.write_text("go")
    assert job.output(timeout=60) == {"step": 2, "of": 2}


def test_cancel_mid_run_then_the_next_job_runs(emulator, runtime):
    ep = endpoint(emulator, runtime, "slow", workers_max=1)
    job = ep.run({})
    emulator.wait_job(job.job_id, "in_progress")
    assert job.cancel()["status"] == "CANCELLED"
    assert job.status() == "CANCELLED"
    assert ep.run_sync({"quick": True}, timeout=60) == {"quick": True}


def test_concurrency_four_runs_four_jobs_at_once_on_one_worker(emulator, runtime):
    vol, host = emulator.volume()
    ep = endpoint(emulator, runtime, "concurrency", workers_max=1, volume=vol)
    gate = host / "go"
    jobs = [ep.run({"i": i, "gate": "/runpod-volume/go"}) for i in range(4)]
    # All four are in progress before any may finish: one worker holds four at once.
    workers = {emulator.wait_job(j.job_id, "in_progress").get("workerId") for j in jobs}
    assert len(workers) == 1
    gate.write_text("go")
    assert [j.output(timeout=60) for j in jobs] == [{"i": i} for i in range(4)]


def test_refresh_worker_recycles_the_worker_after_each_job(emulator, runtime):
    ep = endpoint(emulator, runtime, "refresh", workers_max=1)
    first = ep.run({"n": 1})
    assert first.output(timeout=60) == {"ok": 1}
    second = ep.run({"n": 2})
    assert second.output(timeout=60) == {"ok": 2}
    a = emulator.wait_job(first.job_id, "final")["workerId"]
    b = emulator.wait_job(second.job_id, "final")["workerId"]
    assert a != b, "a refreshed worker is replaced"
