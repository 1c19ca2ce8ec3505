from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.endpoint_view import EndpointView


T = TypeVar("T", bound="DeployResult")


@_attrs_define
class DeployResult:
    """`POST /api/v1/endpoints`: the endpoint and what the deploy did (`created`, `updated`,
    `unchanged`).

        Attributes:
            endpoint (EndpointView): A deployed serverless endpoint.
            change (str):
    """

    endpoint: EndpointView
    change: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        endpoint = self.endpoint.to_dict()

        change = self.change

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "endpoint": endpoint,
                "change": change,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.endpoint_view import EndpointView

        d = dict(src_dict)
        endpoint = EndpointView.from_dict(d.pop("endpoint"))

        change = d.pop("change")

        deploy_result = cls(
            endpoint=endpoint,
            change=change,
        )

        deploy_result.additional_properties = d
        return deploy_result

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
