from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="UserUpdate")


@_attrs_define
class UserUpdate:
    """
    Attributes:
        spend_cap_usd (float | None | Unset): Cap on the user's hosted spend, USD (`null`: no cap).
    """

    spend_cap_usd: float | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        spend_cap_usd: float | None | Unset
        if isinstance(self.spend_cap_usd, Unset):
            spend_cap_usd = UNSET
        else:
            spend_cap_usd = self.spend_cap_usd

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if spend_cap_usd is not UNSET:
            field_dict["spend_cap_usd"] = spend_cap_usd

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_spend_cap_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spend_cap_usd = _parse_spend_cap_usd(d.pop("spend_cap_usd", UNSET))

        user_update = cls(
            spend_cap_usd=spend_cap_usd,
        )

        return user_update
