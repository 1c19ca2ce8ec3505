from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="StrayView")


@_attrs_define
class StrayView:
    """A pod another podwarden install named (`GET /api/v1/strays`).

    Attributes:
        pod_id (str):
        name (str):
        install (str): The install prefix in its name (`pw-<install>-…`).
        running (bool): Booting or running (billing for compute).
        cost_per_hour_usd (float):
    """

    pod_id: str
    name: str
    install: str
    running: bool
    cost_per_hour_usd: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        pod_id = self.pod_id

        name = self.name

        install = self.install

        running = self.running

        cost_per_hour_usd = self.cost_per_hour_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "pod_id": pod_id,
                "name": name,
                "install": install,
                "running": running,
                "cost_per_hour_usd": cost_per_hour_usd,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        pod_id = d.pop("pod_id")

        name = d.pop("name")

        install = d.pop("install")

        running = d.pop("running")

        cost_per_hour_usd = d.pop("cost_per_hour_usd")

        stray_view = cls(
            pod_id=pod_id,
            name=name,
            install=install,
            running=running,
            cost_per_hour_usd=cost_per_hour_usd,
        )

        stray_view.additional_properties = d
        return stray_view

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
