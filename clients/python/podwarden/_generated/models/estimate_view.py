from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="EstimateView")


@_attrs_define
class EstimateView:
    """`POST /api/v1/estimate`: what a pod job would cost, from the offer the planner would try
    first at its live price.

        Attributes:
            gpu_type (str):
            name (str): The GPU's display name.
            count (int):
            cloud (str): `secure` or `community`.
            price_per_hour_usd (float): For all its GPUs.
            bound (str): What bounds it: `budget`, `max_runtime` or `none`.
            boot_s (int): The boot assumed (seconds), billed like the run.
            boot_cost_usd (float):
            simulated (bool): Provider prices are simulated (embedded emulator).
            max_cost_usd (float | None | Unset): The most the job can cost; absent when nothing bounds it (no budget, no
                `max_runtime`).
    """

    gpu_type: str
    name: str
    count: int
    cloud: str
    price_per_hour_usd: float
    bound: str
    boot_s: int
    boot_cost_usd: float
    simulated: bool
    max_cost_usd: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        gpu_type = self.gpu_type

        name = self.name

        count = self.count

        cloud = self.cloud

        price_per_hour_usd = self.price_per_hour_usd

        bound = self.bound

        boot_s = self.boot_s

        boot_cost_usd = self.boot_cost_usd

        simulated = self.simulated

        max_cost_usd: float | None | Unset
        if isinstance(self.max_cost_usd, Unset):
            max_cost_usd = UNSET
        else:
            max_cost_usd = self.max_cost_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "gpu_type": gpu_type,
                "name": name,
                "count": count,
                "cloud": cloud,
                "price_per_hour_usd": price_per_hour_usd,
                "bound": bound,
                "boot_s": boot_s,
                "boot_cost_usd": boot_cost_usd,
                "simulated": simulated,
            }
        )
        if max_cost_usd is not UNSET:
            field_dict["max_cost_usd"] = max_cost_usd

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        gpu_type = d.pop("gpu_type")

        name = d.pop("name")

        count = d.pop("count")

        cloud = d.pop("cloud")

        price_per_hour_usd = d.pop("price_per_hour_usd")

        bound = d.pop("bound")

        boot_s = d.pop("boot_s")

        boot_cost_usd = d.pop("boot_cost_usd")

        simulated = d.pop("simulated")

        def _parse_max_cost_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_cost_usd = _parse_max_cost_usd(d.pop("max_cost_usd", UNSET))

        estimate_view = cls(
            gpu_type=gpu_type,
            name=name,
            count=count,
            cloud=cloud,
            price_per_hour_usd=price_per_hour_usd,
            bound=bound,
            boot_s=boot_s,
            boot_cost_usd=boot_cost_usd,
            simulated=simulated,
            max_cost_usd=max_cost_usd,
        )

        estimate_view.additional_properties = d
        return estimate_view

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
