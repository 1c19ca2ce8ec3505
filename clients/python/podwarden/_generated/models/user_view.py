from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UserView")


@_attrs_define
class UserView:
    """A user.

    Attributes:
        id (str):
        name (str):
        is_admin (bool):
        created_at (int):
        spend_cap_usd (float | None | Unset): The operator's cap on this user's hosted spend (none: no cap).
    """

    id: str
    name: str
    is_admin: bool
    created_at: int
    spend_cap_usd: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        is_admin = self.is_admin

        created_at = self.created_at

        spend_cap_usd: float | None | Unset
        if isinstance(self.spend_cap_usd, Unset):
            spend_cap_usd = UNSET
        else:
            spend_cap_usd = self.spend_cap_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "is_admin": is_admin,
                "created_at": created_at,
            }
        )
        if spend_cap_usd is not UNSET:
            field_dict["spend_cap_usd"] = spend_cap_usd

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        is_admin = d.pop("is_admin")

        created_at = d.pop("created_at")

        def _parse_spend_cap_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spend_cap_usd = _parse_spend_cap_usd(d.pop("spend_cap_usd", UNSET))

        user_view = cls(
            id=id,
            name=name,
            is_admin=is_admin,
            created_at=created_at,
            spend_cap_usd=spend_cap_usd,
        )

        user_view.additional_properties = d
        return user_view

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
