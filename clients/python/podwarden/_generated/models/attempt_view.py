from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AttemptView")


@_attrs_define
class AttemptView:
    """One attempt (pod) of a job.

    Attributes:
        id (str):
        state (str):
        pod_name (str):
        gpu_type (str):
        gpu_count (int):
        cloud (str):
        price_per_hour_usd (float):
        cost_usd (float):
        pod_id (None | str | Unset):
        reason (None | str | Unset):
    """

    id: str
    state: str
    pod_name: str
    gpu_type: str
    gpu_count: int
    cloud: str
    price_per_hour_usd: float
    cost_usd: float
    pod_id: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        state = self.state

        pod_name = self.pod_name

        gpu_type = self.gpu_type

        gpu_count = self.gpu_count

        cloud = self.cloud

        price_per_hour_usd = self.price_per_hour_usd

        cost_usd = self.cost_usd

        pod_id: None | str | Unset
        if isinstance(self.pod_id, Unset):
            pod_id = UNSET
        else:
            pod_id = self.pod_id

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "state": state,
                "pod_name": pod_name,
                "gpu_type": gpu_type,
                "gpu_count": gpu_count,
                "cloud": cloud,
                "price_per_hour_usd": price_per_hour_usd,
                "cost_usd": cost_usd,
            }
        )
        if pod_id is not UNSET:
            field_dict["pod_id"] = pod_id
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        state = d.pop("state")

        pod_name = d.pop("pod_name")

        gpu_type = d.pop("gpu_type")

        gpu_count = d.pop("gpu_count")

        cloud = d.pop("cloud")

        price_per_hour_usd = d.pop("price_per_hour_usd")

        cost_usd = d.pop("cost_usd")

        def _parse_pod_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        pod_id = _parse_pod_id(d.pop("pod_id", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        attempt_view = cls(
            id=id,
            state=state,
            pod_name=pod_name,
            gpu_type=gpu_type,
            gpu_count=gpu_count,
            cloud=cloud,
            price_per_hour_usd=price_per_hour_usd,
            cost_usd=cost_usd,
            pod_id=pod_id,
            reason=reason,
        )

        attempt_view.additional_properties = d
        return attempt_view

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
