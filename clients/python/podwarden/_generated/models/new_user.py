from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="NewUser")


@_attrs_define
class NewUser:
    """
    Attributes:
        name (str):
        admin (bool | Unset):
    """

    name: str
    admin: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        admin = self.admin

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if admin is not UNSET:
            field_dict["admin"] = admin

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        admin = d.pop("admin", UNSET)

        new_user = cls(
            name=name,
            admin=admin,
        )

        return new_user
