from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="VolumeView")


@_attrs_define
class VolumeView:
    """A network volume (`podwarden volume ls`).

    Attributes:
        name (str):
        data_center (str):
        size_gb (int):
        state (str): `creating`, `ready`.
        monthly_usd (float): RunPod's price for its size, USD a month.
        backend (str): `hosted` (the operator's RunPod account) or `runpod` (the user's own key).
        created_at (int):
        volume_id (None | str | Unset): RunPod's id (the S3 bucket); `null` while being created.
        s3_api (bool | Unset): Whether its data center serves RunPod's S3 API: without it, `cp`, the files routes
            and `[[inputs]]` cannot reach the volume from outside a pod.
    """

    name: str
    data_center: str
    size_gb: int
    state: str
    monthly_usd: float
    backend: str
    created_at: int
    volume_id: None | str | Unset = UNSET
    s3_api: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        data_center = self.data_center

        size_gb = self.size_gb

        state = self.state

        monthly_usd = self.monthly_usd

        backend = self.backend

        created_at = self.created_at

        volume_id: None | str | Unset
        if isinstance(self.volume_id, Unset):
            volume_id = UNSET
        else:
            volume_id = self.volume_id

        s3_api = self.s3_api

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "data_center": data_center,
                "size_gb": size_gb,
                "state": state,
                "monthly_usd": monthly_usd,
                "backend": backend,
                "created_at": created_at,
            }
        )
        if volume_id is not UNSET:
            field_dict["volume_id"] = volume_id
        if s3_api is not UNSET:
            field_dict["s3_api"] = s3_api

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        data_center = d.pop("data_center")

        size_gb = d.pop("size_gb")

        state = d.pop("state")

        monthly_usd = d.pop("monthly_usd")

        backend = d.pop("backend")

        created_at = d.pop("created_at")

        def _parse_volume_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        volume_id = _parse_volume_id(d.pop("volume_id", UNSET))

        s3_api = d.pop("s3_api", UNSET)

        volume_view = cls(
            name=name,
            data_center=data_center,
            size_gb=size_gb,
            state=state,
            monthly_usd=monthly_usd,
            backend=backend,
            created_at=created_at,
            volume_id=volume_id,
            s3_api=s3_api,
        )

        volume_view.additional_properties = d
        return volume_view

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
