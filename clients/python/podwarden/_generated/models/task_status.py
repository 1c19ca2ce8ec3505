from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TaskStatus")


@_attrs_define
class TaskStatus:
    """The last activation of one task on one account.

    Attributes:
        task (str): A reconciler (`pods`, `endpoints`, `serverless_jobs`), `billing`, or `reconcile` (an
            account's pass that could not start, or panicked).
        account (str): `hosted`, or a user's own RunPod account.
        last_started_at (int): When the last activation started, ms since the epoch.
        last_duration_ms (int):
        ok (bool): The last activation ended without an error.
        actions (int): Actions the last activation took (pods launched, adopted, terminated, …; pods checked).
        errors (list[str]): The last activation's errors (at most 20).
        runs (int): Activations since the server started, and how many of them had errors.
        failures (int):
    """

    task: str
    account: str
    last_started_at: int
    last_duration_ms: int
    ok: bool
    actions: int
    errors: list[str]
    runs: int
    failures: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task = self.task

        account = self.account

        last_started_at = self.last_started_at

        last_duration_ms = self.last_duration_ms

        ok = self.ok

        actions = self.actions

        errors = self.errors

        runs = self.runs

        failures = self.failures

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "task": task,
                "account": account,
                "last_started_at": last_started_at,
                "last_duration_ms": last_duration_ms,
                "ok": ok,
                "actions": actions,
                "errors": errors,
                "runs": runs,
                "failures": failures,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        task = d.pop("task")

        account = d.pop("account")

        last_started_at = d.pop("last_started_at")

        last_duration_ms = d.pop("last_duration_ms")

        ok = d.pop("ok")

        actions = d.pop("actions")

        errors = cast(list[str], d.pop("errors"))

        runs = d.pop("runs")

        failures = d.pop("failures")

        task_status = cls(
            task=task,
            account=account,
            last_started_at=last_started_at,
            last_duration_ms=last_duration_ms,
            ok=ok,
            actions=actions,
            errors=errors,
            runs=runs,
            failures=failures,
        )

        task_status.additional_properties = d
        return task_status

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
