from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EndpointGpu")


@_attrs_define
class EndpointGpu:
    """GPU pools the workers may run on.

    Attributes:
        pools (list[str]): RunPod GPU pools in order of preference, e.g. `["ADA_24", "AMPERE_24"]`.
        count (int | Unset):
    """

    pools: list[str]
    count: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        pools = self.pools

        count = self.count

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "pools": pools,
            }
        )
        if count is not UNSET:
            field_dict["count"] = count

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        pools = cast(list[str], d.pop("pools"))

        count = d.pop("count", UNSET)

        endpoint_gpu = cls(
            pools=pools,
            count=count,
        )

        return endpoint_gpu
