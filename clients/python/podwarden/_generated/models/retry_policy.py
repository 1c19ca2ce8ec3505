from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RetryPolicy")


@_attrs_define
class RetryPolicy:
    """What to do when a pod is preempted or no capacity is found.

    Attributes:
        attempts (int | Unset): Attempts in total (first included). Default: 3.
        backoff (str | Unset): Wait between attempts (doubles each time, capped at 10 min). Default: '30s'. Example:
            30s.
        allow_other_gpu_types (bool | Unset): Fall through to other GPU types that satisfy the spec. Default: True.
        allow_other_data_centers (bool | Unset): Fall through to other data centers. Default: True.
    """

    attempts: int | Unset = 3
    backoff: str | Unset = "30s"
    allow_other_gpu_types: bool | Unset = True
    allow_other_data_centers: bool | Unset = True

    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        backoff = self.backoff

        allow_other_gpu_types = self.allow_other_gpu_types

        allow_other_data_centers = self.allow_other_data_centers

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if attempts is not UNSET:
            field_dict["attempts"] = attempts
        if backoff is not UNSET:
            field_dict["backoff"] = backoff
        if allow_other_gpu_types is not UNSET:
            field_dict["allow_other_gpu_types"] = allow_other_gpu_types
        if allow_other_data_centers is not UNSET:
            field_dict["allow_other_data_centers"] = allow_other_data_centers

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        attempts = d.pop("attempts", UNSET)

        backoff = d.pop("backoff", UNSET)

        allow_other_gpu_types = d.pop("allow_other_gpu_types", UNSET)

        allow_other_data_centers = d.pop("allow_other_data_centers", UNSET)

        retry_policy = cls(
            attempts=attempts,
            backoff=backoff,
            allow_other_gpu_types=allow_other_gpu_types,
            allow_other_data_centers=allow_other_data_centers,
        )

        return retry_policy
