from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Limits")


@_attrs_define
class Limits:
    """Limits enforced by the control plane (and again inside the pod).

    Attributes:
        budget_usd (float | None | Unset): Stop the job when spend reaches this (events at 80 % and 90 %).
        max_runtime (None | str | Unset): Wall-clock limit from the first launch. Example: 2h.
        boot_timeout (str | Unset): A pod that is not RUNNING after this is terminated (it bills while it hangs).
            Default: '10m'. Example: 10m.
        keep_alive (str | Unset): Keep the pod up this long after the command ends (e.g. to download outputs). Default:
            '0s'. Example: 0s.
    """

    budget_usd: float | None | Unset = UNSET
    max_runtime: None | str | Unset = UNSET
    boot_timeout: str | Unset = "10m"
    keep_alive: str | Unset = "0s"

    def to_dict(self) -> dict[str, Any]:
        budget_usd: float | None | Unset
        if isinstance(self.budget_usd, Unset):
            budget_usd = UNSET
        else:
            budget_usd = self.budget_usd

        max_runtime: None | str | Unset
        if isinstance(self.max_runtime, Unset):
            max_runtime = UNSET
        else:
            max_runtime = self.max_runtime

        boot_timeout = self.boot_timeout

        keep_alive = self.keep_alive

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if budget_usd is not UNSET:
            field_dict["budget_usd"] = budget_usd
        if max_runtime is not UNSET:
            field_dict["max_runtime"] = max_runtime
        if boot_timeout is not UNSET:
            field_dict["boot_timeout"] = boot_timeout
        if keep_alive is not UNSET:
            field_dict["keep_alive"] = keep_alive

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_budget_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        budget_usd = _parse_budget_usd(d.pop("budget_usd", UNSET))

        def _parse_max_runtime(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        max_runtime = _parse_max_runtime(d.pop("max_runtime", UNSET))

        boot_timeout = d.pop("boot_timeout", UNSET)

        keep_alive = d.pop("keep_alive", UNSET)

        limits = cls(
            budget_usd=budget_usd,
            max_runtime=max_runtime,
            boot_timeout=boot_timeout,
            keep_alive=keep_alive,
        )

        return limits
