from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="EndpointView")


@_attrs_define
class EndpointView:
    """A deployed serverless endpoint.

    Attributes:
        name (str):
        state (str): `intent` (being made to match its spec), `ready`, `deleting`, `deleted`.
        resource_name (str): Its name at the provider (`pw-<install>-ep-<id>`).
        image (str):
        gpu_pools (list[str]):
        workers_min (int):
        workers_max (int):
        execution_timeout_secs (int):
        created_at (int):
        updated_at (int):
        endpoint_id (None | str | Unset):
        template_id (None | str | Unset):
        reason (None | str | Unset):
    """

    name: str
    state: str
    resource_name: str
    image: str
    gpu_pools: list[str]
    workers_min: int
    workers_max: int
    execution_timeout_secs: int
    created_at: int
    updated_at: int
    endpoint_id: None | str | Unset = UNSET
    template_id: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        state = self.state

        resource_name = self.resource_name

        image = self.image

        gpu_pools = self.gpu_pools

        workers_min = self.workers_min

        workers_max = self.workers_max

        execution_timeout_secs = self.execution_timeout_secs

        created_at = self.created_at

        updated_at = self.updated_at

        endpoint_id: None | str | Unset
        if isinstance(self.endpoint_id, Unset):
            endpoint_id = UNSET
        else:
            endpoint_id = self.endpoint_id

        template_id: None | str | Unset
        if isinstance(self.template_id, Unset):
            template_id = UNSET
        else:
            template_id = self.template_id

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "state": state,
                "resource_name": resource_name,
                "image": image,
                "gpu_pools": gpu_pools,
                "workers_min": workers_min,
                "workers_max": workers_max,
                "execution_timeout_secs": execution_timeout_secs,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
        if endpoint_id is not UNSET:
            field_dict["endpoint_id"] = endpoint_id
        if template_id is not UNSET:
            field_dict["template_id"] = template_id
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        state = d.pop("state")

        resource_name = d.pop("resource_name")

        image = d.pop("image")

        gpu_pools = cast(list[str], d.pop("gpu_pools"))

        workers_min = d.pop("workers_min")

        workers_max = d.pop("workers_max")

        execution_timeout_secs = d.pop("execution_timeout_secs")

        created_at = d.pop("created_at")

        updated_at = d.pop("updated_at")

        def _parse_endpoint_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        endpoint_id = _parse_endpoint_id(d.pop("endpoint_id", UNSET))

        def _parse_template_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template_id = _parse_template_id(d.pop("template_id", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        endpoint_view = cls(
            name=name,
            state=state,
            resource_name=resource_name,
            image=image,
            gpu_pools=gpu_pools,
            workers_min=workers_min,
            workers_max=workers_max,
            execution_timeout_secs=execution_timeout_secs,
            created_at=created_at,
            updated_at=updated_at,
            endpoint_id=endpoint_id,
            template_id=template_id,
            reason=reason,
        )

        endpoint_view.additional_properties = d
        return endpoint_view

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
