#!/usr/bin/env python3
"""The server under abuse: memory under 8 concurrent 20 MiB JSON bodies, and the admin's latency
while 19,000 idle connections from another address hold on (issue 13's two attacks).

    bench/abuse.sh                          # builds the release binary, runs this
    python3 bench/abuse.py BIN [BASELINE_BIN]

With a second binary (e.g. a build from before the limits), both run in the same session and
the table shows them side by side. Stdlib only.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# BENCH_SMOKE=1 (scripts/test): tiny sizes, to show the benchmark still runs.
SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")
BODY_MIB = 1 if SMOKE else 20
ATTACKERS = 2 if SMOKE else 8
FLOOD = 50 if SMOKE else 19_000
SERVER_FDS = 4096


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start(binary, home):
    env = dict(os.environ, PODWARDEN_HOME=home, NO_COLOR="1")
    env.pop("RUNPOD_API_KEY", None)
    # The server gets 4,096 descriptors, so the flood below is more than it can hold (as
    # 20,400 connections were against the 20,000 of the machine the issue was found on).
    proc = subprocess.Popen(["prlimit", f"--nofile={SERVER_FDS}:{SERVER_FDS}", binary, "serve", "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # "podwarden server on http://127.0.0.1:PORT (...)"
    url = line.split(" on ", 1)[1].split()[0]
    token = open(os.path.join(home, "token")).read().strip()
    return proc, url, token


def get(url, token, timeout=30):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        r.read()
        return r.status


def post_big(url, token, body, codes):
    req = urllib.request.Request(url + "/api/v1/requests", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            codes.append(r.status)
    except urllib.error.HTTPError as e:
        codes.append(e.code)
    except Exception as e:  # noqa: BLE001 - a reset is an outcome too
        codes.append(type(e).__name__)


def payload(kind):
    """20 MiB of JSON: one long string (a base64 image), or ten million small numbers (what
    costs a parser most: 2 bytes of text, 32 bytes parsed)."""
    if kind == "string":
        return b'{"endpoint": "nope", "input": {"image": "' + b"A" * (BODY_MIB << 20) + b'"}}'
    return b'{"endpoint": "nope", "input": {"a": [' + b"0," * ((BODY_MIB << 20) // 2 - 1) + b'0]}}'


def memory_attack(pid, url, token, kind):
    """8 concurrent 20 MiB bodies: RSS growth over the bytes sent, and what is still held
    afterwards."""
    payload_ = payload(kind)
    get(url + "/api/v1/status", token)
    base = rss_kib(pid, "VmRSS")
    codes = []
    threads = [threading.Thread(target=post_big, args=(url, token, payload_, codes)) for _ in range(ATTACKERS)]
    peak = base
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_kib(pid, "VmRSS"))
        time.sleep(0.01)
    after = rss_kib(pid, "VmRSS")
    sent_kib = ATTACKERS * len(payload_) / 1024
    return {"base_mib": base / 1024, "peak_mib": peak / 1024, "after_mib": after / 1024,
            "amplification": (peak - base) / sent_kib, "codes": sorted(set(map(str, codes)))}


def flood_then_admin(url, token):
    """Idle connections from 127.0.0.2, then the admin's GET /api/v1/status from 127.0.0.1."""
    host, port = url.removeprefix("http://").split(":")
    held, refused = [], 0
    for _ in range(FLOOD):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind(("127.0.0.2", 0))
            s.connect_ex((host, int(port)))
            held.append(s)
        except OSError:
            refused += 1
            s.close()
    time.sleep(1)  # let the server accept (and close) what it will
    lat = []
    for _ in range(20):
        t = time.monotonic()
        try:
            get(url + "/api/v1/status", token, timeout=10)
            lat.append(time.monotonic() - t)
        except Exception:  # noqa: BLE001 - not answered within 10 s
            lat.append(float("inf"))
    open_now = 0
    for s in held:
        try:
            s.send(b"")
            open_now += 1
        except OSError:
            pass
        s.close()
    answered = [x for x in lat if x != float("inf")]
    return {"admin_median_ms": statistics.median(lat) * 1000 if answered else float("inf"),
            "admin_max_ms": max(lat) * 1000, "answered": f"{len(answered)}/{len(lat)}"}


def server_pid(pid):
    """prlimit execs the server in place: the same pid."""
    return pid


def run(binary):
    with tempfile.TemporaryDirectory() as home:
        proc, url, token = start(binary, home)
        try:
            mem = [(kind, memory_attack(server_pid(proc.pid), url, token, kind)) for kind in ("string", "numbers")]
            flood = flood_then_admin(url, token)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return mem, flood


def main():
    bins = sys.argv[1:]
    results = [(b, *run(b)) for b in bins]
    print(f"| build | body | RSS before | peak under {ATTACKERS} × {BODY_MIB} MiB | growth ÷ bytes sent | held after | answers |")
    print("|---|---|---|---|---|---|---|")
    for b, mems, _ in results:
        for kind, m in mems:
            print(f"| {b} | {kind} | {m['base_mib']:.0f} MiB | {m['peak_mib']:.0f} MiB | {m['amplification']:.2f}× | {m['after_mib']:.0f} MiB | {', '.join(m['codes'])} |")
    print()
    print(f"| build | admin's GET /api/v1/status during a {FLOOD:,}-connection flood (server: {SERVER_FDS} descriptors) |")
    print("|---|---|")
    for b, _, f in results:
        print(f"| {b} | median {f['admin_median_ms']:.1f} ms, max {f['admin_max_ms']:.1f} ms ({f['answered']} answered within 10 s) |")


if __name__ == "__main__":
    main()
