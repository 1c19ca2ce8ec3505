"""A live `podwarden serve` on its embedded emulator for the client's tests (PODWARDEN_BIN,
default target/debug/podwarden), and a fresh user on it per test."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[3]
BIN = os.environ.get("PODWARDEN_BIN", str(ROOT / "target/debug/podwarden"))


class Server:
    def __init__(self, url: str, admin: str, runpod_key: str):
        self.url = url
        self.admin = admin
        self.runpod_key = runpod_key

    def new_user(self) -> str:
        """A new user's token."""
        r = httpx.post(
            f"{self.url}/api/v1/users",
            headers={"Authorization": f"Bearer {self.admin}"},
            json={"name": "app-" + secrets.token_hex(4)},
        )
        r.raise_for_status()
        return r.json()["token"]


@pytest.fixture(scope="session")
def server():
    home = tempfile.mkdtemp(prefix="pw-py-")
    admin = "pw_admin_" + secrets.token_hex(16)
    key = "rpa_TEST" + secrets.token_hex(12).upper()
    env = {
        **os.environ,
        "PODWARDEN_HOME": home,
        "PODWARDEN_ADMIN_TOKEN": admin,
        "PODWARDEN_EMULATOR_API_KEY": key,
        "RUNPOD_API_KEY": "",
    }
    p = subprocess.Popen(
        [BIN, "serve", "--port", "0", "--tick-ms", "100"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = p.stdout.readline()
    assert "podwarden server on http://" in line, f"podwarden serve printed {line!r}"
    url = line.split(" on ")[1].split()[0]
    yield Server(url, admin, key)
    p.terminate()
    p.wait(timeout=30)


@pytest.fixture
def pw(server):
    from podwarden import Podwarden

    with Podwarden(server.url, server.new_user()) as c:
        yield c
