"""RunPod's own Python SDK and worker runtime, unmodified, against the emulator."""
import pytest
import runpod


def test_run_status_output_with_a_plain_python_worker(emulator):
    ep = runpod.Endpoint(emulator.endpoint("plain", "plain.py"))
    job = ep.run({"x": 1})
    assert job.status() in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
    out = job.output(timeout=60)
    assert out == {"echo": {"x": 1}, "job_id": job.job_id}
    assert job.status() == "COMPLETED"
    health = ep.health()
    assert health["jobs"]["completed"] >= 1


def test_run_sync_returns_the_output(emulator):
    ep = runpod.Endpoint(emulator.endpoint("sync", "plain.py"))
    out = ep.run_sync({"y": 3}, timeout=60)
    assert out["echo"] == {"y": 3} and out["job_id"].startswith("sync-")


def test_handler_errors_fail_the_job(emulator):
    ep = runpod.Endpoint(emulator.endpoint("errors", "plain.py"))
    raised = ep.run({"fail": True})
    final = emulator.wait_job(raised.job_id, "final")
    assert final["status"] == "FAILED"
    assert "asked to fail" in final["error"]
    returned = ep.run({"error": "bad input: no target column"})
    assert emulator.wait_job(returned.job_id, "final")["error"] == "bad input: no target column"


def test_stream_yields_each_chunk_once_and_the_aggregate(emulator):
    ep = runpod.Endpoint(emulator.endpoint("gen", "generator.py"))
    job = ep.run({"text": "to be or not"})
    chunks = list(job.stream())
    assert chunks == [{"word": w} for w in "to be or not".split()]
    assert job.output(timeout=60) == chunks
    assert list(job.stream()) == [], "a second read yields nothing new"


def test_progress_updates_are_visible_while_running(emulator):
    vol, host = emulator.volume()
    ep = runpod.Endpoint(emulator.endpoint("progress", "progress.py", volume=vol))
    gate = host / "go"
    job = ep.run({"gate": "/runpod-volume/go"})
    state = emulator.wait_job(job.job_id, "progress")
    assert state["status"] == "IN_PROGRESS"
    assert state["output"] == {"step": 1, "of": 2}
    seen = emulator.rest("GET", f"/v2/{ep.endpoint_id}/status/{job.job_id}")
    assert seen["output"] == {"step": 1, "of": 2}
    gate.write_text("go")
    assert job.output(timeout=60) == {"step": 2, "of": 2}


def test_cancel_stops_the_running_handler(emulator):
    ep = runpod.Endpoint(emulator.endpoint("cancel", "slow.py", workers_max=1))
    job = ep.run({})
    emulator.wait_job(job.job_id, "in_progress")
    assert job.cancel()["status"] == "CANCELLED"
    assert job.status() == "CANCELLED"
    # One worker, concurrency 1: it only takes the next job once the cancelled one stopped.
    assert ep.run_sync({"quick": True}, timeout=60) == {"quick": True}


def test_purge_queue_and_a_wrong_key(emulator):
    ep = runpod.Endpoint(emulator.endpoint("purge", "plain.py", workers_max=0))
    for i in range(3):
        ep.run({"i": i})
    assert ep.purge_queue()["removed"] == 3
    with pytest.raises(RuntimeError, match="401 Unauthorized"):
        runpod.Endpoint(ep.endpoint_id, api_key="rpa_wrong").run({"x": 1})


def test_graphql_helpers_work_unchanged(emulator):
    gpus = runpod.get_gpus()
    assert any(g["id"] == "NVIDIA GeForce RTX 4090" and g["memoryInGb"] == 24 for g in gpus)
    one = runpod.get_gpu("NVIDIA GeForce RTX 4090")
    assert one["securePrice"] > 0 and one["lowestPrice"]["uninterruptablePrice"] > 0
    assert runpod.get_user()["id"].startswith("user_")
