from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Workers")


@_attrs_define
class Workers:
    """Worker scaling.

    Attributes:
        min_ (int | Unset):
        max_ (int | Unset):
        idle_timeout (str | Unset): How long an idle worker is kept (default 5 s, RunPod's default). Default: '5s'.
            Example: 5s.
    """

    min_: int | Unset = UNSET
    max_: int | Unset = UNSET
    idle_timeout: str | Unset = "5s"

    def to_dict(self) -> dict[str, Any]:
        min_ = self.min_

        max_ = self.max_

        idle_timeout = self.idle_timeout

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if min_ is not UNSET:
            field_dict["min"] = min_
        if max_ is not UNSET:
            field_dict["max"] = max_
        if idle_timeout is not UNSET:
            field_dict["idle_timeout"] = idle_timeout

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        min_ = d.pop("min", UNSET)

        max_ = d.pop("max", UNSET)

        idle_timeout = d.pop("idle_timeout", UNSET)

        workers = cls(
            min_=min_,
            max_=max_,
            idle_timeout=idle_timeout,
        )

        return workers
