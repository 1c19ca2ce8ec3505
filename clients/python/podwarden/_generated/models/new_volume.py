from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="NewVolume")


@_attrs_define
class NewVolume:
    """`POST /api/v1/volumes`.

    Attributes:
        name (str): 1–40 lowercase letters, digits and `-`; unique per user.
        size_gb (int): 10–4096 GB.
        data_center (str): A data center with network volumes (`podwarden gpus` lists where GPUs are).
    """

    name: str
    size_gb: int
    data_center: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        size_gb = self.size_gb

        data_center = self.data_center

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "size_gb": size_gb,
                "data_center": data_center,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        size_gb = d.pop("size_gb")

        data_center = d.pop("data_center")

        new_volume = cls(
            name=name,
            size_gb=size_gb,
            data_center=data_center,
        )

        return new_volume
