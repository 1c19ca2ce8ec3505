"""Starts `podwarden emulator` and points RunPod's unmodified Python SDK at it."""
import os
import pathlib
import subprocess
import sys

import pytest
import requests
import runpod

ROOT = pathlib.Path(__file__).resolve().parents[4]
BIN = os.environ.get("PODWARDEN_BIN", str(ROOT / "target" / "debug" / "podwarden"))
WORKERS = pathlib.Path(__file__).parent / "workers"
KEY = "rpa_PYTESTKEY00000000000000000000001"


class Emulator:
    def __init__(self, base):
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {KEY}"

    def rest(self, method, path, body=None, ok=(200, 201, 204)):
        r = self.http.request(method, self.base + path, json=body, timeout=30)
        assert r.status_code in ok, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json() if r.content else None

    def endpoint(self, name, worker, workers_max=1, command=None):
        """A serverless endpoint whose workers run `worker` under RunPod's Python runtime
        (or `command`, e.g. a Rust worker)."""
        tpl = self.rest("POST", "/v2/templates", {
            "name": f"{name}-tpl", "image": "runpod/base:test", "serverless": True,
            "args": command or f"{sys.executable} {WORKERS / worker}",
        })
        ep = self.rest("POST", "/v2/serverless", {
            "name": name, "type": "QUEUE", "templateId": tpl["id"],
            "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
            "gpu": {"pools": ["ADA_24"]}, "workers": {"min": 0, "max": workers_max, "idleTimeout": 60},
        })
        return ep["id"]

    def wait_job(self, job_id, until):
        """Long-polls the emulator until the job reaches `until` (no sleeping here)."""
        return self.rest("GET", f"/_emulator/jobs/{job_id}/wait?until={until}&timeout_ms=60000")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("emu") / "emulator.toml"
    cfg.write_text("tick_ms = 50\n[serverless]\ntake_hold_ms = 1000\nworker_boot_secs = 0.0\nping_interval_ms = 1000\n")
    proc = subprocess.Popen(
        [BIN, "emulator", "--port", "0", "--api-key", KEY, "--config", str(cfg)],
        stdout=subprocess.PIPE, text=True,
    )
    first = proc.stdout.readline().strip()
    assert first.startswith("podwarden emulator:"), f"unexpected first line: {first!r}"
    base = first.rsplit(" ", 1)[-1]
    os.environ["RUNPOD_API_BASE_URL"] = base  # GraphQL, read per call by the SDK
    runpod.api_key = KEY
    runpod.endpoint_url_base = f"{base}/v2"  # read when an Endpoint is constructed
    yield Emulator(base)
    proc.terminate()
    proc.wait(timeout=20)
    assert proc.returncode == 0, f"emulator exited with {proc.returncode}"
