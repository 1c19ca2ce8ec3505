from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="GpuRow")


@_attrs_define
class GpuRow:
    """A GPU offer row of `podwarden gpus`.

    Attributes:
        gpu_type (str):
        name (str):
        vram_gb (int):
        cloud (str):
        price_per_hour_usd (float):
        data_centers (list[str]):
    """

    gpu_type: str
    name: str
    vram_gb: int
    cloud: str
    price_per_hour_usd: float
    data_centers: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        gpu_type = self.gpu_type

        name = self.name

        vram_gb = self.vram_gb

        cloud = self.cloud

        price_per_hour_usd = self.price_per_hour_usd

        data_centers = self.data_centers

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "gpu_type": gpu_type,
                "name": name,
                "vram_gb": vram_gb,
                "cloud": cloud,
                "price_per_hour_usd": price_per_hour_usd,
                "data_centers": data_centers,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        gpu_type = d.pop("gpu_type")

        name = d.pop("name")

        vram_gb = d.pop("vram_gb")

        cloud = d.pop("cloud")

        price_per_hour_usd = d.pop("price_per_hour_usd")

        data_centers = cast(list[str], d.pop("data_centers"))

        gpu_row = cls(
            gpu_type=gpu_type,
            name=name,
            vram_gb=vram_gb,
            cloud=cloud,
            price_per_hour_usd=price_per_hour_usd,
            data_centers=data_centers,
        )

        gpu_row.additional_properties = d
        return gpu_row

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
