"""Rust `worker` vs RunPod's Python worker runtime, no-op handler, against the emulator.

Run: `cargo build --release -p podwarden --bin podwarden && cargo build --release -p podwarden-worker --example scenarios
      && .venv/bin/python bench/worker_overhead.py` (after `./scripts/test` made `.venv`).

Measures, for each runtime in the same run:
- jobs/s at concurrency 1 and 8 (one worker, N queued jobs, until the last one completes);
- per-job time at concurrency 1 (the emulator's own round trip is in both, so the ratio
  understates the difference between the runtimes);
- time from process start to its first `job-take` (a local recorder stands in for RunPod);
- RSS of the worker process after the jobs ran.
"""
import http.server
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = os.environ.get("PODWARDEN_BIN", str(ROOT / "target" / "release" / "podwarden"))
RUST = os.environ.get("PODWARDEN_SCENARIOS", str(ROOT / "target" / "release" / "examples" / "scenarios"))
PY_WORKER = ROOT / "crates" / "runpod-emulator" / "tests" / "python" / "workers" / "noop.py"
KEY = "rpa_BENCHKEY000000000000000000000001"
# BENCH_SMOKE=1 (scripts/test): a few jobs and one start each, to show the benchmark still runs.
SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
N = int(os.environ.get("BENCH_JOBS", "5" if SMOKE else "400"))
STARTS = 1 if SMOKE else 5
# The image the emulator runs both workers in (docs/emulator.md: a container sees only its
# image): this Python with RunPod's runtime, the worker script, and the Rust worker as a tool.
IMAGE = "podwarden-bench/runtimes:1"


def command(runtime):
    """The worker's command on this machine (the startup measure runs it here)."""
    return f"{RUST} noop" if runtime == "rust" else f"{sys.executable} {PY_WORKER}"


def container_command(runtime):
    """The worker's command inside the emulator's container (its image has `python` on PATH
    and the Rust worker as the `scenarios` tool)."""
    return "scenarios noop" if runtime == "rust" else f"python {PY_WORKER}"


def start_emulator(tmp):
    cfg = tmp / "emulator.toml"
    dirs = sorted({sys.prefix, sys.base_prefix, str(PY_WORKER.parent)})
    cfg.write_text(
        "tick_ms = 20\n[serverless]\ntake_hold_ms = 1000\nworker_boot_secs = 0.0\nping_interval_ms = 10000\n"
        f'[images."{IMAGE}"]\n'
        f"dirs = {json.dumps(dirs)}\n"
        f"path = {json.dumps([os.path.join(sys.prefix, 'bin')])}\n"
        'tools = ["sh"]\n'
        f"host_tools = {{ scenarios = {json.dumps(RUST)} }}\n"
    )
    proc = subprocess.Popen([BIN, "emulator", "--port", "0", "--api-key", KEY, "--config", str(cfg)], stdout=subprocess.PIPE, text=True)
    base = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
    return proc, base


def throughput(base, runtime, concurrency):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {KEY}"
    name = f"{runtime}-c{concurrency}-{time.monotonic_ns()}"
    env = f"BENCH_CONCURRENCY={concurrency}"
    tpl = s.post(f"{base}/v2/templates", json={
        "name": name + "-tpl", "image": IMAGE, "serverless": True,
        "args": container_command(runtime) + (f" {concurrency}" if runtime == "rust" else ""),
        "env": {"BENCH_CONCURRENCY": str(concurrency)},
    }).json()
    ep = s.post(f"{base}/v2/serverless", json={
        "name": name, "type": "QUEUE", "templateId": tpl["id"], "scaling": {"type": "REQUEST_COUNT", "requestCount": 1000},
        "gpu": {"pools": ["ADA_24"]}, "workers": {"min": 0, "max": 1, "idleTimeout": 60},
    }).json()["id"]
    # Warm up: the worker is started and has served one job.
    first = s.post(f"{base}/v2/{ep}/run", json={"input": {}}).json()["id"]
    s.get(f"{base}/_emulator/jobs/{first}/wait?until=final&timeout_ms=60000")
    t = time.perf_counter()
    ids = [s.post(f"{base}/v2/{ep}/run", json={"input": {}}).json()["id"] for _ in range(N)]
    for i in ids[-1:]:
        r = s.get(f"{base}/_emulator/jobs/{i}/wait?until=final&timeout_ms=120000").json()
        assert r["status"] == "COMPLETED", r
    elapsed = time.perf_counter() - t
    done = sum(1 for i in ids if s.get(f"{base}/v2/{ep}/status/{i}").json()["status"] == "COMPLETED")
    return N / elapsed, elapsed / N * 1e3, done


class Recorder(http.server.BaseHTTPRequestHandler):
    first = None
    def do_GET(self):
        if Recorder.first is None and "/job-take/" in self.path:
            Recorder.first = time.perf_counter()
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass


def startup(runtime):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/v2/ep"
    # The environment a RunPod worker gets, and nothing of this shell's: no proxy settings
    # (the recorder is on loopback), a HOME of its own (the SDK writes its config there).
    with tempfile.TemporaryDirectory() as home, open(os.path.join(home, "worker.log"), "w+") as log:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "RUNPOD_WEBHOOK_GET_JOB": f"{url}/job-take/$ID?gpu=x", "RUNPOD_WEBHOOK_POST_OUTPUT": f"{url}/job-done/$RUNPOD_POD_ID/$ID?gpu=x",
               "RUNPOD_WEBHOOK_POST_STREAM": f"{url}/job-stream/$RUNPOD_POD_ID/$ID?gpu=x", "RUNPOD_WEBHOOK_PING": f"{url}/ping/$RUNPOD_POD_ID?gpu=x",
               "RUNPOD_POD_ID": "bench", "RUNPOD_AI_API_KEY": "k", "RUNPOD_ENDPOINT_ID": "ep"}
        Recorder.first = None
        t = time.perf_counter()
        p = subprocess.Popen(command(runtime).split(), env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
        while Recorder.first is None and p.poll() is None and time.perf_counter() - t < 120:
            time.sleep(0.001)
        if Recorder.first is None:
            p.kill()
            p.wait(timeout=30)
            log.seek(0)
            tail = log.read()[-4000:]
            raise SystemExit(f"the {runtime} worker asked for no job within 120 s (exit status {p.returncode}); its output:\n{tail}")
        took = (Recorder.first - t) * 1e3
        time.sleep(1.0)
        rss = next((int(l.split()[1]) / 1024 for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS:")), 0.0)
        p.terminate()
        p.wait(timeout=30)
    srv.shutdown()
    return took, rss


def main():
    tmp = pathlib.Path(tempfile.mkdtemp())
    proc, base = start_emulator(tmp)
    rows = {}
    try:
        for runtime in ("python", "rust"):
            c1 = throughput(base, runtime, 1)
            c8 = throughput(base, runtime, 8)
            st = [startup(runtime) for _ in range(STARTS)]
            rows[runtime] = (c1, c8, sorted(x[0] for x in st)[len(st) // 2], max(x[1] for x in st))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    py, rs = rows["python"], rows["rust"]
    print(f"| measure ({N} no-op jobs, one worker) | Python runtime 1.12 | Rust `worker` | ratio |")
    print("|---|---|---|---|")
    print(f"| jobs/s, concurrency 1 | {py[0][0]:.0f} | {rs[0][0]:.0f} | {rs[0][0] / py[0][0]:.1f}× |")
    print(f"| per job, concurrency 1 (incl. the emulator's round trip) | {py[0][1]:.2f} ms | {rs[0][1]:.2f} ms | {py[0][1] / rs[0][1]:.1f}× lower |")
    print(f"| jobs/s, concurrency 8 | {py[1][0]:.0f} | {rs[1][0]:.0f} | {rs[1][0] / py[1][0]:.1f}× |")
    print(f"| process start → first job-take (median of {STARTS}) | {py[2]:.0f} ms | {rs[2]:.1f} ms | {py[2] / rs[2]:.0f}× |")
    print(f"| RSS, idle after start (max of {STARTS}) | {py[3]:.1f} MB | {rs[3]:.1f} MB | {py[3] / rs[3]:.0f}× |")
    assert all(r[0][2] == N and r[1][2] == N for r in rows.values()), "every job completed"


if __name__ == "__main__":
    main()
