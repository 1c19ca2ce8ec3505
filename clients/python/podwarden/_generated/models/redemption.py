from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Redemption")


@_attrs_define
class Redemption:
    """`POST /api/v1/invites/redeem` (no token): the code and the new user's name.

    Attributes:
        code (str):
        name (str): 1–64 letters, digits, `- _ . @`.
    """

    code: str
    name: str

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        name = self.name

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "code": code,
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        code = d.pop("code")

        name = d.pop("name")

        redemption = cls(
            code=code,
            name=name,
        )

        return redemption
