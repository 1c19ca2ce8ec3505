from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="GpuSpec")


@_attrs_define
class GpuSpec:
    """GPU selection: preferred types in order, or requirements (cheapest that fits wins).

    Attributes:
        types (list[str] | Unset): GPU type ids in order of preference, e.g. `["NVIDIA RTX A4000", "NVIDIA RTX A5000"]`.
        min_vram_gb (int | None | Unset): Minimum VRAM per GPU, GB.
        count (int | None | Unset): GPUs per pod (default 1).
        max_price_per_hour (float | None | Unset): Highest acceptable price per GPU-hour, USD.
    """

    types: list[str] | Unset = UNSET
    min_vram_gb: int | None | Unset = UNSET
    count: int | None | Unset = UNSET
    max_price_per_hour: float | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        types: list[str] | Unset = UNSET
        if not isinstance(self.types, Unset):
            types = self.types

        min_vram_gb: int | None | Unset
        if isinstance(self.min_vram_gb, Unset):
            min_vram_gb = UNSET
        else:
            min_vram_gb = self.min_vram_gb

        count: int | None | Unset
        if isinstance(self.count, Unset):
            count = UNSET
        else:
            count = self.count

        max_price_per_hour: float | None | Unset
        if isinstance(self.max_price_per_hour, Unset):
            max_price_per_hour = UNSET
        else:
            max_price_per_hour = self.max_price_per_hour

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if types is not UNSET:
            field_dict["types"] = types
        if min_vram_gb is not UNSET:
            field_dict["min_vram_gb"] = min_vram_gb
        if count is not UNSET:
            field_dict["count"] = count
        if max_price_per_hour is not UNSET:
            field_dict["max_price_per_hour"] = max_price_per_hour

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        types = cast(list[str], d.pop("types", UNSET))

        def _parse_min_vram_gb(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        min_vram_gb = _parse_min_vram_gb(d.pop("min_vram_gb", UNSET))

        def _parse_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        count = _parse_count(d.pop("count", UNSET))

        def _parse_max_price_per_hour(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_price_per_hour = _parse_max_price_per_hour(d.pop("max_price_per_hour", UNSET))

        gpu_spec = cls(
            types=types,
            min_vram_gb=min_vram_gb,
            count=count,
            max_price_per_hour=max_price_per_hour,
        )

        return gpu_spec
