from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Policy")


@_attrs_define
class Policy:
    """RunPod's per-job policy.

    Attributes:
        execution_timeout (None | str | Unset): Fail the job when it runs longer (default: the endpoint's
            `execution_timeout`). Example: 2h.
        ttl (None | str | Unset): Delete the job this long after submission, even while it runs (RunPod's default 24 h).
            Example: 2h.
        low_priority (bool | Unset): The job does not make the endpoint scale up.
    """

    execution_timeout: None | str | Unset = UNSET
    ttl: None | str | Unset = UNSET
    low_priority: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        execution_timeout: None | str | Unset
        if isinstance(self.execution_timeout, Unset):
            execution_timeout = UNSET
        else:
            execution_timeout = self.execution_timeout

        ttl: None | str | Unset
        if isinstance(self.ttl, Unset):
            ttl = UNSET
        else:
            ttl = self.ttl

        low_priority = self.low_priority

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if execution_timeout is not UNSET:
            field_dict["execution_timeout"] = execution_timeout
        if ttl is not UNSET:
            field_dict["ttl"] = ttl
        if low_priority is not UNSET:
            field_dict["low_priority"] = low_priority

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_execution_timeout(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        execution_timeout = _parse_execution_timeout(d.pop("execution_timeout", UNSET))

        def _parse_ttl(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ttl = _parse_ttl(d.pop("ttl", UNSET))

        low_priority = d.pop("low_priority", UNSET)

        policy = cls(
            execution_timeout=execution_timeout,
            ttl=ttl,
            low_priority=low_priority,
        )

        return policy
