"""Starts `podwarden emulator` and points RunPod's unmodified Python SDK at it.

Workers run sandboxed (docs/emulator.md): a test shares files with them only through a network
volume (`Emulator.volume`), never through its own temporary directory."""
import json
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
RUST = os.environ.get("PODWARDEN_SCENARIOS", str(ROOT / "target" / "debug" / "examples" / "scenarios"))
# The image the workers run in: this venv (RunPod's unmodified SDK and worker runtime), the
# Python it was made from and the worker scripts, read-only at their host paths, plus the Rust
# scenarios binary. A container sees nothing else of this machine (docs/emulator.md).
IMAGE = "podwarden-test/runtimes:1"


class Emulator:
    def __init__(self, base, state_dir, s3, s3_key):
        self.base = base
        self.state_dir = state_dir
        # Data center id -> S3 endpoint URL; (access key id, secret) of the account's S3 key.
        self.s3 = s3
        self.s3_key = s3_key
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {KEY}"

    def rest(self, method, path, body=None, ok=(200, 201, 204)):
        r = self.http.request(method, self.base + path, json=body, timeout=30)
        assert r.status_code in ok, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json() if r.content else None

    def volume(self):
        """A network volume: (its id, the host directory of its files). Workers see it at
        /runpod-volume; it is the only thing a test shares with them."""
        v = self.rest("POST", "/v2/network-volumes", {"name": "gate", "size": 10, "dataCenter": "EU-RO-1"})
        d = self.state_dir / "volumes" / v["id"]
        d.mkdir(parents=True, exist_ok=True)
        return v["id"], d

    def endpoint(self, name, worker, workers_max=1, command=None, volume=None):
        """A serverless endpoint whose workers run `worker` under RunPod's Python runtime
        (or `command`, e.g. a Rust worker)."""
        tpl = self.rest("POST", "/v2/templates", {
            "name": f"{name}-tpl", "image": IMAGE, "serverless": True,
            "args": command or f"python {WORKERS / worker}",
        })
        ep = self.rest("POST", "/v2/serverless", {
            "name": name, "type": "QUEUE", "templateId": tpl["id"],
            "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
            "gpu": {"pools": ["ADA_24"]}, "workers": {"min": 0, "max": workers_max, "idleTimeout": 60},
            **({"networkVolumes": [volume]} if volume else {}),
        })
        return ep["id"]

    def wait_job(self, job_id, until):
        """Long-polls the emulator until the job reaches `until` (no sleeping here)."""
        return self.rest("GET", f"/_emulator/jobs/{job_id}/wait?until={until}&timeout_ms=60000")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("emu-state")
    cfg = tmp_path_factory.mktemp("emu") / "emulator.toml"
    dirs = sorted({sys.prefix, sys.base_prefix, str(WORKERS)})
    cfg.write_text(
        "tick_ms = 50\n[serverless]\ntake_hold_ms = 1000\nworker_boot_secs = 0.0\nping_interval_ms = 1000\n"
        f'[images."{IMAGE}"]\n'
        f"dirs = {json.dumps(dirs)}\n"
        f"path = {json.dumps([os.path.join(sys.prefix, 'bin')])}\n"
        'tools = ["sh"]\n'
        f"host_tools = {{ scenarios = {json.dumps(RUST)} }}\n"
    )
    proc = subprocess.Popen(
        [BIN, "emulator", "--port", "0", "--api-key", KEY, "--config", str(cfg), "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE, text=True,
    )
    first = proc.stdout.readline().strip()
    assert first.startswith("podwarden emulator:"), f"unexpected first line: {first!r}"
    base = first.rsplit(" ", 1)[-1]
    s3_line = proc.stdout.readline().split()
    assert s3_line[:2] == ["S3", "API:"], s3_line
    s3 = dict(x.split("=", 1) for x in s3_line[2:] if "=" in x)
    key_line = proc.stdout.readline().split()
    assert key_line[:2] == ["S3", "key:"], key_line
    s3_key = (key_line[2], key_line[3])
    os.environ["RUNPOD_API_BASE_URL"] = base  # GraphQL, read per call by the SDK
    runpod.api_key = KEY
    runpod.endpoint_url_base = f"{base}/v2"  # read when an Endpoint is constructed
    yield Emulator(base, state_dir, s3, s3_key)
    proc.terminate()
    proc.wait(timeout=20)
    assert proc.returncode == 0, f"emulator exited with {proc.returncode}"
