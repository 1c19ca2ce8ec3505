"""The hand-written layer over the generated client (``podwarden._generated``, from
``docs/openapi.json``): the verbs an app needs, typed answers, typed errors.

Answers are the generated models (``JobDetail``, ``ServerlessJobView``, ``CostReport``, …).
Errors raise ``PodwardenError`` subclasses carrying the API's code, message and hint. Events
come over Server-Sent Events and resume after the last one seen (``Last-Event-ID``) when the
connection drops, so a follower never misses or repeats one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

import httpx
import httpx_sse

from . import errors
from ._generated import AuthenticatedClient
from ._generated.api.cost import cost as _cost
from ._generated.api.endpoints import remove_endpoint as _remove_endpoint
from ._generated.api.jobs import get_job as _get_job
from ._generated.api.jobs import job_ssh as _job_ssh
from ._generated.api.jobs import list_jobs as _list_jobs
from ._generated.api.jobs import stop_job as _stop_job
from ._generated.api.me import me as _me
from ._generated.api.requests import get_serverless_job as _get_request
from ._generated.api.requests import stop_serverless_job as _stop_request
from ._generated.api.settings import delete_key as _delete_key
from ._generated.api.settings import get_key as _get_key
from ._generated.api.settings import save_key as _save_key
from ._generated.models import (
    ComputeSettings,
    CostReport,
    DeployResult,
    EndpointView,
    JobDetail,
    JobSummary,
    KeyBody,
    ServerlessJobView,
    SshInfo,
    UserView,
)

#: A job's or request's states that are final.
FINAL = frozenset({"succeeded", "failed", "stopped", "cancelled", "timed_out", "lost"})


@dataclass(frozen=True)
class Event:
    """One event of a job or serverless request (state changes, budget alerts, metrics…)."""

    id: int
    kind: str
    message: str
    at: int
    data: Any = None


class Podwarden:
    """A podwarden server, called with one user's API token.

    >>> pw = Podwarden("http://127.0.0.1:8711", token)            # doctest: +SKIP
    >>> job = pw.submit_job({"name": "train", "image": "python:3.11", "command": "python train.py",
    ...                      "gpu": {"min_vram_gb": 24}, "limits": {"budget_usd": 2}})  # doctest: +SKIP
    >>> pw.wait(job.id).state                                        # doctest: +SKIP
    'succeeded'
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        httpx_args: dict[str, Any] | None = None,
    ):
        """``httpx_args`` go to the ``httpx.Client`` (a proxy, ``verify``, a transport)."""
        self.url = url.rstrip("/")
        self._api = AuthenticatedClient(
            base_url=self.url,
            token=token,
            timeout=httpx.Timeout(timeout),
            raise_on_unexpected_status=False,
            httpx_args=httpx_args or {},
        )

    def __repr__(self) -> str:
        # Never the token.
        return f"Podwarden({self.url!r})"

    def close(self) -> None:
        self._api.get_httpx_client().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ---

    @property
    def _http(self) -> httpx.Client:
        return self._api.get_httpx_client()

    def _unreachable(self, e: Exception) -> errors.Unavailable:
        return errors.Unavailable(
            0, "unreachable", f"cannot reach {self.url}: {e}", "is `podwarden serve` running there?"
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls a generated operation; its parsed answer, or the typed error."""
        try:
            r = fn.sync_detailed(*args, client=self._api, **kwargs)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        if r.status_code >= 400:
            raise errors.from_response(int(r.status_code), r.content, r.headers.get("retry-after"))
        return r.parsed

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request the generated layer cannot make as is (a spec sent exactly as given)."""
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        if r.status_code >= 400:
            raise errors.from_response(r.status_code, r.content, r.headers.get("retry-after"))
        return r

    # --- pod jobs ---

    def submit_job(self, spec: dict[str, Any], *, nodes: int | None = None) -> JobDetail:
        """Submits a job spec (docs/job-spec.md). The spec is sent as given, so the server's
        validation names any wrong field (``Invalid``). ``nodes``: run it on that many pods
        together (the spec's ``nodes``; each node's ``ssh_info(job, node=k)``, ``logs(job,
        node=k)``)."""
        if nodes is not None:
            spec = {**spec, "nodes": nodes}
        return JobDetail.from_dict(self._send("POST", "/api/v1/jobs", json=spec).json())

    def ssh_info(self, job_id: str, node: int = 0, timeout: float | None = 900) -> SshInfo:
        """Where to reach a job's pod over SSH (a job submitted with ``ssh``): ``host``,
        ``port``, ``user`` and the ``command``. Waits while the pod boots (the server answers
        ``not_ready``), up to ``timeout`` seconds (``TimeoutError``); the pod's sshd may still
        be starting when this returns, so retry a refused first connection."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self._call(_job_ssh, job_id, node=node)
            except errors.Conflict as e:
                if e.code != "not_ready":
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"{job_id}: {e.message}") from None
                time.sleep(1.0)

    def job(self, job_id: str) -> JobDetail:
        return self._call(_get_job, job_id)

    def jobs(self, limit: int = 50) -> list[JobSummary]:
        return self._call(_list_jobs, limit=limit)

    def stop(self, job_id: str) -> JobDetail | ServerlessJobView:
        """Stops a job (its pod is terminated) or cancels a serverless request."""
        if _kind(job_id) == "requests":
            return self._call(_stop_request, job_id)
        return self._call(_stop_job, job_id)

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """The job's metric points as stored: ``[{"at": ms, "point": {"step": 1, "loss": 2.3}}, …]``."""
        return self._send("GET", f"/api/v1/jobs/{job_id}/metrics").json()

    def losses(self, job_id: str, name: str = "loss") -> list[tuple[float, float]]:
        """``(step, value)`` of one metric, in order: what a loss chart plots."""
        out = []
        for i, p in enumerate(self.metrics(job_id)):
            point = p.get("point", {})
            if isinstance(point.get(name), int | float):
                out.append((float(point.get("step", i)), float(point[name])))
        return out

    def logs(self, job_id: str, node: int = 0) -> Iterator[str]:
        """The pod's log lines as they come (the stream ends when the job has no pod); ``node``:
        which pod of a multi-node job."""
        try:
            with httpx_sse.connect_sse(
                self._http,
                "GET",
                f"/api/v1/jobs/{job_id}/logs",
                params={"node": node},
                timeout=None,
            ) as es:
                if es.response.status_code >= 400:
                    es.response.read()
                    raise errors.from_response(es.response.status_code, es.response.content)
                for sse in es.iter_sse():
                    yield sse.data
        except httpx.TransportError as e:
            raise self._unreachable(e) from None

    # --- serverless requests ---

    def submit_request(
        self, endpoint: str, input: dict[str, Any], *, sync: bool = False, **extra: Any
    ) -> ServerlessJobView:
        """Sends ``input`` to one of the user's endpoints; with ``sync``, waits for the result."""
        body = {"endpoint": endpoint, "input": input, **extra}
        r = self._send("POST", "/api/v1/requests", params={"sync": str(sync).lower()}, json=body)
        return ServerlessJobView.from_dict(r.json())

    def request(self, request_id: str) -> ServerlessJobView:
        return self._call(_get_request, request_id)

    def deploy_endpoint(self, spec: dict[str, Any]) -> DeployResult:
        """Creates or updates a serverless endpoint (docs/job-spec.md, "Serverless")."""
        return DeployResult.from_dict(self._send("POST", "/api/v1/endpoints", json=spec).json())

    def remove_endpoint(self, name: str) -> EndpointView:
        """Removes an endpoint (its workers stop billing)."""
        return self._call(_remove_endpoint, name)

    # --- following ---

    def events(self, work_id: str, *, after: int = 0, stop_at_end: bool = True) -> Iterator[Event]:
        """A job's or request's events over SSE, from after event ``after``. When the connection
        drops it reconnects and resumes after the last event seen. With ``stop_at_end`` it ends
        once the work has ended (its events up to then all yielded)."""
        kind = _kind(work_id)
        last = after
        failures = 0
        while True:
            try:
                headers = {"Last-Event-ID": str(last)} if last else {}
                with httpx_sse.connect_sse(
                    self._http,
                    "GET",
                    f"/api/v1/{kind}/{work_id}/events",
                    headers=headers,
                    timeout=httpx.Timeout(30.0, read=None),
                ) as es:
                    if es.response.status_code >= 400:
                        es.response.read()
                        raise errors.from_response(es.response.status_code, es.response.content)
                    if stop_at_end and self._ended(work_id):
                        # Everything up to the end is stored: read it without waiting.
                        yield from self._stored_events(work_id, last)
                        return
                    for sse in es.iter_sse():
                        failures = 0
                        ev = _event(sse)
                        last = ev.id
                        yield ev
                        if stop_at_end and ev.kind == "state" and self._ended(work_id):
                            yield from self._stored_events(work_id, last)
                            return
            except httpx.TransportError as e:
                failures += 1
                if failures > 5:
                    raise self._unreachable(e) from None
                time.sleep(min(0.2 * 2**failures, 5.0))

    def _stored_events(self, work_id: str, after: int) -> Iterator[Event]:
        kind = _kind(work_id)
        while True:
            rows = self._send(
                "GET", f"/api/v1/{kind}/{work_id}/events", params={"after": after, "wait_ms": 0}
            ).json()
            if not rows:
                return
            for r in rows:
                after = r["id"]
                yield Event(r["id"], r["kind"], r["message"], r["at"])

    def _ended(self, work_id: str) -> bool:
        return isinstance(self._work(work_id).ended_at, int)

    def _work(self, work_id: str) -> JobDetail | ServerlessJobView:
        """A job or a serverless request (``req_…``), as it stands."""
        return self.request(work_id) if _kind(work_id) == "requests" else self.job(work_id)

    def wait(self, work_id: str, timeout: float | None = None) -> JobDetail | ServerlessJobView:
        """Waits for a job or request to end; it, as it ended. ``TimeoutError`` after
        ``timeout`` seconds (the work goes on; ``stop`` ends it). Long-polls the events, so a
        quiet job costs one request per 30 s and the timeout holds to the second."""
        kind = _kind(work_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        after = 0
        while True:
            w = self._work(work_id)
            if isinstance(w.ended_at, int):
                return w
            left = 30.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{work_id} did not end within {timeout} s")
            rows = self._send(
                "GET",
                f"/api/v1/{kind}/{work_id}/events",
                params={"after": after, "wait_ms": int(min(left, 30.0) * 1000)},
                timeout=httpx.Timeout(30.0, read=45.0),
            ).json()
            if rows:
                after = rows[-1]["id"]

    # --- money and keys ---

    def cost(self) -> CostReport:
        return self._call(_cost)

    def me(self) -> UserView:
        return self._call(_me)

    def runpod_key(self) -> ComputeSettings:
        """Which backend the user computes on (``hosted`` or their own ``runpod`` key; only the
        key's last 4 characters), their spend cap and commitments."""
        return self._call(_get_key)

    def set_runpod_key(self, api_key: str) -> ComputeSettings:
        """Saves the user's own RunPod key (checked against RunPod, stored sealed): their work
        then runs and bills on their account."""
        return self._call(_save_key, body=KeyBody(api_key=api_key))

    def delete_runpod_key(self) -> ComputeSettings:
        return self._call(_delete_key)


def _kind(work_id: str) -> str:
    """The API's collection for a work id: serverless requests are ``req_…``."""
    return "requests" if work_id.startswith("req_") else "jobs"


def _event(sse: httpx_sse.ServerSentEvent) -> Event:
    try:
        d = json.loads(sse.data)
    except ValueError:
        d = {"message": sse.data}
    return Event(
        id=int(sse.id or d.get("id") or 0),
        kind=sse.event or d.get("kind", "message"),
        message=d.get("message", ""),
        at=d.get("at", 0),
        data=d.get("data"),
    )
